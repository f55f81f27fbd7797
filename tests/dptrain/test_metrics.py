"""dptrain.metrics: results after several update_state calls (with sample weights) against float64
numpy references and scikit-learn, the state that data-parallel ranks add up, custom metrics,
lookups, and stateful metrics in fit / evaluate."""
import copy

import numpy as np
import pytest

import dptrain as dt
from dptrain import metrics as M


def _res(m):
    """A metric's result (or the value `metric(y_true, y_pred)` returned) as float64."""
    r = m if isinstance(m, dt.ag.Tensor) else m.result()
    return np.asarray(r.numpy(), np.float64)


def _ratio(a, b):
    return np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b != 0)    # Keras' divide_no_nan


def _batches(rng, n_batches=3, n=9, weighted=True):
    out = []
    for b in range(n_batches):
        t = (rng.random(n) > 0.5).astype(np.float32)
        p = rng.random(n).astype(np.float32)
        sw = rng.random(n).astype(np.float32) if weighted and b != 1 else None
        out.append((t, p, sw))
    return out


def _feed(m, batches):
    for t, p, sw in batches:
        m.update_state(t, p, sample_weight=sw)
    return m


def _concat(batches):
    t = np.concatenate([b[0] for b in batches])
    p = np.concatenate([b[1] for b in batches])
    w = np.concatenate([np.ones(len(b[0]), np.float32) if b[2] is None else b[2] for b in batches])
    return t, p, w.astype(np.float64)


# --- reductions and the accuracy family ----------------------------------------------------------------
def test_mean_and_sum_weight_values_within_and_across_samples(rng):
    m, s = M.Mean(), M.Sum()
    a, w = rng.standard_normal((4, 3)), np.array([1.0, 0.0, 2.0, 0.5])
    b = rng.standard_normal(5)
    for metric in (m, s):
        metric.update_state(a, sample_weight=w)
        metric.update_state(b)
        metric.update_state(3.0)
    assert _res(m) == pytest.approx((np.sum(a.mean(1) * w) + b.sum() + 3.0) / (w.sum() + 5 + 1))
    assert _res(s) == pytest.approx(np.sum(a.sum(1) * w) + b.sum() + 3.0)
    m.reset_state()
    assert _res(m) == 0.0            # divide-no-nan on an empty state


def test_accuracy_family_after_several_weighted_batches(rng):
    n, c = 8, 4
    batches = [(rng.integers(0, c, n), rng.random((n, c)).astype(np.float32), rng.random(n)) for _ in range(3)]
    labels = np.concatenate([b[0] for b in batches])
    p = np.concatenate([b[1] for b in batches])
    w = np.concatenate([b[2] for b in batches])
    onehot = np.eye(c, dtype=np.float32)

    def weighted(hit):
        return np.sum(hit * w) / w.sum()
    sparse, cat = M.SparseCategoricalAccuracy(), M.CategoricalAccuracy()
    top2, stop2 = M.TopKCategoricalAccuracy(k=2), M.SparseTopKCategoricalAccuracy(k=2)
    for lab, pp, ww in batches:
        sparse.update_state(lab.reshape(-1, 1), pp, ww)
        cat.update_state(onehot[lab], pp, ww)
        top2.update_state(onehot[lab], pp, ww)
        stop2.update_state(lab, pp, ww)
    assert _res(sparse) == pytest.approx(weighted(p.argmax(1) == labels))
    assert _res(cat) == pytest.approx(weighted(p.argmax(1) == labels))
    in_top2 = (np.argsort(-p, 1)[:, :2] == labels[:, None]).any(1)
    assert _res(top2) == pytest.approx(weighted(in_top2))
    assert _res(stop2) == pytest.approx(weighted(in_top2))
    with pytest.raises(ValueError, match="k=5 is larger than the 4 classes"):
        M.TopKCategoricalAccuracy().update_state(onehot[labels], p)


def test_binary_accuracy_threshold_and_exact_accuracy(rng):
    t = np.array([[1], [0], [1], [0]], np.float32)
    p = np.array([[0.7], [0.7], [0.3], [0.2]], np.float32)
    assert _res(M.BinaryAccuracy()(t, p)) == pytest.approx(0.5)
    assert _res(M.BinaryAccuracy(threshold=0.75)(t, p)) == pytest.approx(0.5)
    assert _res(M.BinaryAccuracy(threshold=0.25)(t, p)) == pytest.approx(0.75)
    assert _res(M.BinaryAccuracy()(t[:, 0], p)) == pytest.approx(0.5)   # (N,) targets against (N, 1)
    acc = M.Accuracy()
    acc.update_state([1, 2, 3, 4], [1, 2, 0, 4], sample_weight=[1, 1, 2, 0])
    assert _res(acc) == pytest.approx(2 / 4)


# --- confusion-matrix metrics ------------------------------------------------------------------------------
def _counts(t, p, w, thresholds):
    pos, thr = t > 0, np.asarray(thresholds, np.float32)[:, None]
    pred = p[None] > thr
    return {"tp": (w * (pos & pred)).sum(1), "fp": (w * (~pos & pred)).sum(1),
            "tn": (w * (~pos & ~pred)).sum(1), "fn": (w * (pos & ~pred)).sum(1)}


@pytest.mark.parametrize("thresholds", [None, [0.2, 0.5, 0.8], [0.0, 0.25, 0.5, 0.75, 1.0]])
def test_confusion_counts_precision_and_recall(rng, thresholds):
    batches = _batches(rng)
    t, p, w = _concat(batches)
    want = _counts(t, p, w, [0.5] if thresholds is None else thresholds)
    for cls, key in [(M.TruePositives, "tp"), (M.FalsePositives, "fp"), (M.TrueNegatives, "tn"),
                     (M.FalseNegatives, "fn")]:
        got = _res(_feed(cls(thresholds=thresholds), batches))
        np.testing.assert_allclose(np.atleast_1d(got), want[key], rtol=1e-6, err_msg=cls.__name__)
    prec = _res(_feed(M.Precision(thresholds=thresholds), batches))
    rec = _res(_feed(M.Recall(thresholds=thresholds), batches))
    np.testing.assert_allclose(np.atleast_1d(prec), _ratio(want["tp"], want["tp"] + want["fp"]), rtol=1e-6)
    np.testing.assert_allclose(np.atleast_1d(rec), _ratio(want["tp"], want["tp"] + want["fn"]), rtol=1e-6)


def test_precision_recall_top_k_and_class_id(rng):
    n, c = 12, 4
    onehot = np.eye(c)[rng.integers(0, c, n)]
    p = rng.random((n, c)).astype(np.float32)
    w = rng.random(n)
    top2 = np.zeros((n, c), bool)
    np.put_along_axis(top2, np.argsort(-p, 1)[:, :2], True, 1)
    pos = onehot > 0
    ww = np.broadcast_to(w[:, None], (n, c))
    tp, fp, fn = (ww * (pos & top2)).sum(), (ww * (~pos & top2)).sum(), (ww * (pos & ~top2)).sum()
    assert _res(M.Precision(top_k=2)(onehot, p, w)) == pytest.approx(tp / (tp + fp))
    assert _res(M.Recall(top_k=2)(onehot, p, w)) == pytest.approx(tp / (tp + fn))
    col = 2
    pred = p[:, col] > 0.5
    tp, fp = (w * (pos[:, col] & pred)).sum(), (w * (~pos[:, col] & pred)).sum()
    assert _res(M.Precision(class_id=col)(onehot, p, w)) == pytest.approx(tp / (tp + fp))


def test_precision_with_no_positive_prediction_is_zero():
    assert _res(M.Precision()(np.array([1.0, 0.0]), np.array([0.1, 0.2]))) == 0.0


def _auc_reference(t, p, w, n_thr=200, curve="ROC"):
    """Keras' bucketed AUC written out: counts above each threshold, then trapezoids / interpolation."""
    thr = np.array([-1e-7] + [(i + 1) / (n_thr - 1) for i in range(n_thr - 2)] + [1 + 1e-7])
    c = _counts(t, p, w, thr)
    tp, fp, tn, fn = (c[k].astype(np.float64) for k in ("tp", "fp", "tn", "fn"))
    if curve == "ROC":
        x = np.divide(fp, fp + tn, out=np.zeros_like(fp), where=fp + tn > 0)
        y = np.divide(tp, tp + fn, out=np.zeros_like(tp), where=tp + fn > 0)
        return np.sum((x[:-1] - x[1:]) * (y[:-1] + y[1:]) / 2)
    dtp, pp = tp[:-1] - tp[1:], tp + fp        # Davis & Goadrich interpolation, as Keras
    dp = pp[:-1] - pp[1:]
    slope = np.divide(dtp, dp, out=np.zeros_like(dtp), where=dp > 0)
    intercept = tp[1:] - slope * pp[1:]
    ratio = np.where((pp[:-1] > 0) & (pp[1:] > 0), pp[:-1] / np.where(pp[1:] > 0, pp[1:], 1), 1.0)
    den = tp[1:] + fn[1:]
    inc = slope * (dtp + intercept * np.log(ratio))
    return np.sum(np.divide(inc, den, out=np.zeros_like(inc), where=den > 0))


def test_auc_roc_and_pr_against_the_bucketed_reference_and_sklearn(rng):
    batches = _batches(rng, n_batches=4, n=40)
    t, p, w = _concat(batches)
    roc = _res(_feed(M.AUC(), batches))
    assert roc == pytest.approx(_auc_reference(t, p, w), rel=1e-6)
    assert _res(_feed(M.AUC(curve="PR"), batches)) == pytest.approx(_auc_reference(t, p, w, curve="PR"), rel=1e-6)
    sklearn = pytest.importorskip("sklearn.metrics")
    fine = _res(_feed(M.AUC(num_thresholds=4001), batches))
    assert fine == pytest.approx(sklearn.roc_auc_score(t, p, sample_weight=w), abs=2e-3)


def test_auc_summation_methods_logits_and_multi_label(rng):
    batches = _batches(rng, n=30)
    t, p, w = _concat(batches)
    logit_batches = [(tt, np.log(pp / (1 - pp)).astype(np.float32), sw) for tt, pp, sw in batches]
    assert _res(_feed(M.AUC(from_logits=True), logit_batches)) == pytest.approx(_res(_feed(M.AUC(), batches)),
                                                                                rel=1e-5)
    c = _counts(t, p, w, np.array([-1e-7, 0.25, 0.5, 0.75, 1 + 1e-7]))
    x = c["fp"] / (c["fp"] + c["tn"])
    y = np.divide(c["tp"], c["tp"] + c["fn"])
    assert _res(_feed(M.AUC(num_thresholds=5, summation_method="minoring"), batches)) == \
        pytest.approx(np.sum((x[:-1] - x[1:]) * np.minimum(y[:-1], y[1:])), rel=1e-6)
    assert _res(_feed(M.AUC(num_thresholds=5, summation_method="majoring"), batches)) == \
        pytest.approx(np.sum((x[:-1] - x[1:]) * np.maximum(y[:-1], y[1:])), rel=1e-6)
    t2 = (rng.random((20, 3)) > 0.5).astype(np.float32)
    p2 = rng.random((20, 3)).astype(np.float32)
    per_label = [_auc_reference(t2[:, j], p2[:, j], np.ones(20)) for j in range(3)]
    assert _res(M.AUC(multi_label=True)(t2, p2)) == pytest.approx(np.mean(per_label), rel=1e-6)
    assert _res(M.AUC(multi_label=True, label_weights=[1, 0, 3])(t2, p2)) == \
        pytest.approx((per_label[0] + 3 * per_label[2]) / 4, rel=1e-6)


def test_f1_and_fbeta_against_sklearn(rng):
    sk = pytest.importorskip("sklearn.metrics")
    n, c = 30, 3
    labels = rng.integers(0, c, n)
    p = rng.random((n, c)).astype(np.float32)
    onehot = np.eye(c, dtype=np.float32)[labels]
    pred = p.argmax(1)
    for average in (None, "micro", "macro", "weighted"):
        m = M.F1Score(average=average)
        m.update_state(onehot[:13], p[:13])
        m.update_state(onehot[13:], p[13:])
        want = sk.f1_score(labels, pred, average=average, labels=list(range(c)))
        np.testing.assert_allclose(_res(m), want, rtol=1e-5, err_msg=str(average))
    want = sk.fbeta_score(labels, pred, beta=2.0, average="macro")
    assert _res(M.FBetaScore(beta=2.0, average="macro")(onehot, p)) == pytest.approx(want, rel=1e-5)
    thr = M.F1Score(threshold=0.6, average="micro")(onehot, p)
    multi = (p > 0.6).astype(int)
    assert _res(thr) == pytest.approx(sk.f1_score(onehot.astype(int), multi, average="micro"), rel=1e-5)


def test_mean_iou_with_ignore_class_and_weights(rng):
    t, p = rng.integers(0, 3, 20), rng.integers(0, 3, 20)
    w = rng.integers(0, 3, 20)
    cm = np.zeros((3, 3))
    np.add.at(cm, (t, p), w)
    tp = np.diag(cm)
    den = cm.sum(0) + cm.sum(1) - tp
    want = np.mean(tp[den > 0] / den[den > 0])
    m = M.MeanIoU(num_classes=3)
    m.update_state(t[:7], p[:7], w[:7])
    m.update_state(t[7:], p[7:], w[7:])
    assert _res(m) == pytest.approx(want, rel=1e-5)
    keep = t != 1
    cm = np.zeros((3, 3))
    np.add.at(cm, (t[keep], p[keep]), 1)
    tp = np.diag(cm)
    den = cm.sum(0) + cm.sum(1) - tp
    assert _res(M.MeanIoU(3, ignore_class=1)(t, p)) == pytest.approx(np.mean(tp[den > 0] / den[den > 0]), rel=1e-5)
    scores = np.eye(3, dtype=np.float32)[p] * 0.8 + 0.05
    dense = M.MeanIoU(3, sparse_y_true=False, sparse_y_pred=False)(np.eye(3)[t], scores)
    assert _res(dense) == pytest.approx(_res(M.MeanIoU(3)(t, p)), rel=1e-6)


def test_regression_metrics_and_r2_against_sklearn(rng):
    sk = pytest.importorskip("sklearn.metrics")
    t, p, w = rng.standard_normal((20, 3)), rng.standard_normal((20, 3)), rng.random(20)
    feeds = [(t[:8], p[:8], w[:8]), (t[8:], p[8:], w[8:])]

    def fed(m):
        for a, b, ww in feeds:
            m.update_state(a, b, sample_weight=ww)
        return _res(m)
    assert fed(M.MeanSquaredError()) == pytest.approx(np.sum(np.mean((t - p) ** 2, 1) * w) / w.sum())
    assert fed(M.RootMeanSquaredError()) == pytest.approx(np.sqrt(np.sum(np.mean((t - p) ** 2, 1) * w) / w.sum()))
    assert fed(M.MeanAbsoluteError()) == pytest.approx(np.sum(np.mean(np.abs(t - p), 1) * w) / w.sum())
    for agg, mo in [("uniform_average", "uniform_average"), ("variance_weighted_average", "variance_weighted"),
                    (None, "raw_values")]:
        got = fed(M.R2Score(class_aggregation=agg))
        np.testing.assert_allclose(got, sk.r2_score(t, p, sample_weight=w, multioutput=mo), rtol=1e-6)
    r2 = sk.r2_score(t, p, sample_weight=w)
    n = t.size
    assert fed(M.R2Score(num_regressors=3)) == pytest.approx(1 - (1 - r2) * (n - 1) / (n - 3 - 1), rel=1e-6)


def test_loss_metrics_equal_the_loss_functions(rng):
    t = (rng.random((6, 2)) > 0.5).astype(np.float32)
    p = rng.random((6, 2)).astype(np.float32)
    for metric, fn in [(M.BinaryCrossentropy(), dt.losses.binary_crossentropy), (M.Hinge(), dt.losses.hinge),
                       (M.KLDivergence(), dt.losses.kl_divergence), (M.Poisson(), dt.losses.poisson),
                       (M.MeanSquaredLogarithmicError(), dt.losses.mean_squared_logarithmic_error)]:
        assert _res(metric(t, p)) == pytest.approx(float(np.mean(fn(t, p).numpy())), rel=1e-5), metric.name


# --- the state that ranks add up -----------------------------------------------------------------------------
def _every_metric():
    return [M.Mean(), M.Sum(), M.BinaryAccuracy(), M.Precision(), M.Recall(thresholds=[0.3, 0.7]), M.AUC(),
            M.AUC(curve="PR"), M.TruePositives(), M.FalseNegatives(thresholds=[0.0, 0.5, 1.0]),
            M.F1Score(average="macro"), M.R2Score(), M.MeanIoU(num_classes=2), M.RootMeanSquaredError(),
            M.MeanSquaredError(), M.MeanAbsoluteError(), M.BinaryCrossentropy()]


def _update(m, t, p, w):
    if isinstance(m, (M.Mean, M.Sum)) and not isinstance(m, M.MeanMetricWrapper) and \
            type(m) is not M.RootMeanSquaredError:
        m.update_state(p, sample_weight=w)
    elif isinstance(m, (M.F1Score, M.R2Score)):
        m.update_state(np.stack([t, 1 - t], 1), np.stack([p, 1 - p], 1), w)
    elif isinstance(m, M.MeanIoU):
        m.update_state(t.astype(int), (p > 0.5).astype(int), None)
    elif isinstance(m, (M.MeanMetricWrapper, M.RootMeanSquaredError)):   # per-sample values: an (N, 1) output
        m.update_state(t[:, None], p[:, None], w)
    else:
        m.update_state(t, p, w)


def test_summed_states_of_two_halves_give_the_whole_result(rng):
    """What data-parallel fit relies on: each rank's metric state is a sum, so adding the states
    of two shards and reading result() equals one metric fed everything."""
    t = (rng.random(40) > 0.5).astype(np.float32)
    p = rng.random(40).astype(np.float32)
    w = rng.random(40).astype(np.float32)
    for whole, left, right in zip(_every_metric(), _every_metric(), _every_metric()):
        _update(whole, t, p, w)
        _update(left, t[:17], p[:17], w[:17])
        _update(right, t[17:], p[17:], w[17:])
        left._load_state(left._state() + right._state())
        np.testing.assert_allclose(_res(left), _res(whole), rtol=1e-9, atol=1e-12, err_msg=whole.name)


def test_state_buffer_views_and_mean_aggregation():
    class Avg(M.Metric):
        def __init__(self):
            super().__init__(name="avg")
            self.total = self.add_variable((), "zeros", name="total")
            self.level = self.add_variable((2,), "ones", aggregation="mean", name="level")

        def update_state(self, v):
            self.total.assign_add(v)

        def result(self):
            return self.total + self.level[0]
    m = Avg()
    m.update_state(2.0)
    assert m._state().tolist() == [2.0, 1.0, 1.0]
    m._load_state(np.array([6.0, 4.0, 4.0]), world_size=2)       # 'mean' variables: averaged over ranks
    assert m.total.numpy() == 6.0 and m.level.numpy().tolist() == [2.0, 2.0]
    assert m._log_value() == 8.0
    with pytest.raises(ValueError, match="does not fit"):
        m._load_state(np.zeros(5))


# --- custom metrics, lookups ------------------------------------------------------------------------------------
def test_custom_metric_subclass_keras_style(rng):
    class BinaryTruePositives(M.Metric):
        def __init__(self, name="binary_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_weight(shape=(), initializer="zeros", name="tp")

        def update_state(self, y_true, y_pred, sample_weight=None):
            values = ((y_true > 0.5) & (y_pred > 0.5)).astype(np.float32)
            if sample_weight is not None:
                values = values * sample_weight
            self.true_positives.assign(self.true_positives + values.sum())

        def result(self):
            return self.true_positives
    m = BinaryTruePositives()
    m.update_state(np.array([1, 1, 0]), np.array([0.9, 0.2, 0.8]))
    m.update_state(np.array([1, 1]), np.array([0.9, 0.8]), sample_weight=np.array([0.5, 2.0]))
    assert float(m.result()) == 3.5 and len(m.variables) == 1
    m.reset_state()
    assert float(m.result()) == 0.0

    class Forgot(M.Metric):
        def __init__(self):
            self.v = self.add_variable((), "zeros")
    with pytest.raises(RuntimeError, match="super"):
        Forgot()


def test_variable_behaves_like_an_array():
    m = M.Mean()
    m.update_state([1.0, 3.0])
    v = m.total
    assert float(v + 1) == 5.0 and float(np.sum(v)) == 4.0 and (v * 2).tolist() == 8.0
    v.assign_sub(1.0)
    assert v.numpy() == 3.0 and m.result().item() == 1.5


def test_get_names_metrics_as_written():
    assert M.get("mse").name == "mse" and type(M.get("mse")) is M.MeanSquaredError
    assert type(M.get("precision")) is M.Precision and type(M.get("auc")) is M.AUC
    assert type(M.get("AUC")) is M.AUC and type(M.get("f1_score")) is M.F1Score
    assert isinstance(M.get("accuracy"), M._AutoAccuracy) and isinstance(M.get("acc"), M._AutoAccuracy)
    assert type(M.get("Accuracy")) is M._AutoAccuracy    # compile's "accuracy" rule is case-insensitive in Keras
    cfg = M.serialize(M.Precision(thresholds=[0.2], name="p"))
    back = M.get(cfg)
    assert type(back) is M.Precision and back.name == "p" and back.thresholds == [0.2]

    def my_metric(y_true, y_pred):
        return y_pred
    assert M.get(my_metric).name == "my_metric"
    assert M.get(dt.losses.Huber()).name == "huber_loss"       # a Loss used as a metric keeps its name
    with pytest.raises(ValueError, match="needs arguments"):
        M.get("mean_io_u")
    with pytest.raises(ValueError, match="unknown metric 'precison'. Did you mean 'precision'"):
        M.get("precison")


# --- in fit and evaluate ----------------------------------------------------------------------------------------
def _binary_model():
    m = dt.Sequential([dt.Input((3,)), dt.layers.Dense(1, activation="sigmoid")])
    m.set_weights([np.array([[1.0], [-0.5], [0.3]], np.float32), np.array([0.1], np.float32)])
    return m


def test_epoch_logs_are_ratio_metrics_over_all_samples_not_batch_means(rng):
    x = rng.standard_normal((23, 3)).astype(np.float32)
    y = (rng.random((23, 1)) > 0.5).astype(np.float32)
    m = _binary_model()
    m.compile(optimizer=dt.optimizers.SGD(learning_rate=0.0), loss="binary_crossentropy",
              metrics=[M.Precision(), M.Recall(), M.AUC(), "accuracy"])
    p = m.predict(x, verbose=0)[:, 0]
    h = m.fit(x, y, batch_size=5, epochs=2, shuffle=True, verbose=0)
    pred, pos = p > 0.5, y[:, 0] > 0.5
    assert h.history["precision"] == pytest.approx([np.sum(pred & pos) / np.sum(pred)] * 2)
    assert h.history["recall"] == pytest.approx([np.sum(pred & pos) / np.sum(pos)] * 2)
    assert h.history["auc"] == pytest.approx([_auc_reference(y[:, 0], p, np.ones(23))] * 2, rel=1e-5)
    assert h.history["accuracy"] == pytest.approx([np.mean(pred == pos)] * 2)
    logs = m.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    assert logs["precision"] == pytest.approx(h.history["precision"][0])


def test_metrics_see_probabilities_of_a_fused_softmax_output(rng):
    x = rng.standard_normal((12, 3)).astype(np.float32)
    labels = rng.integers(0, 3, 12)
    m = dt.Sequential([dt.Input((3,)), dt.layers.Dense(3, activation="softmax")])
    seen = []

    def spy(y_true, y_pred):
        seen.append(np.array(y_pred))
        return np.zeros(len(y_pred))
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
              metrics=[spy, M.SparseTopKCategoricalAccuracy(k=2), M.SparseCategoricalCrossentropy()])
    logs = m.evaluate(x, labels, batch_size=12, verbose=0, return_dict=True)
    p = m.predict(x, verbose=0)
    np.testing.assert_allclose(seen[0], p, rtol=1e-5, atol=1e-6)
    assert logs["sparse_categorical_crossentropy"] == pytest.approx(logs["loss"], rel=1e-5)
    assert logs["sparse_top_k_categorical_accuracy"] == pytest.approx(
        np.mean((np.argsort(-p, 1)[:, :2] == labels[:, None]).any(1)))


def test_one_metric_object_given_for_two_outputs_keeps_two_states(rng):
    inp = dt.Input((3,))
    a = dt.layers.Dense(1, activation="sigmoid", name="a")(inp)
    b = dt.layers.Dense(1, activation="sigmoid", name="b")(inp)
    m = dt.Model(inp, [a, b])
    prec = M.Precision()
    m.compile(optimizer="sgd", loss="binary_crossentropy", metrics=[prec])
    x = rng.standard_normal((16, 3)).astype(np.float32)
    ya, yb = (rng.random((16, 1)) > 0.5).astype(np.float32), (rng.random((16, 1)) > 0.5).astype(np.float32)
    logs = m.evaluate(x, [ya, yb], verbose=0, return_dict=True)
    pa, pb = m.predict(x, verbose=0)
    for key, p, y in (("a_precision", pa, ya), ("b_precision", pb, yb)):
        pred = p[:, 0] > 0.5
        assert logs[key] == pytest.approx(np.sum(pred & (y[:, 0] > 0.5)) / max(np.sum(pred), 1))


def test_deepcopy_of_a_metric_keeps_its_own_buffer():
    m = M.Precision()
    m.update_state([1.0, 0.0], [0.9, 0.8])
    c = copy.deepcopy(m)
    c.update_state([1.0], [0.9])
    assert _res(c) == pytest.approx(2 / 3) and _res(m) == 0.5
    assert c._state().tolist() == [2.0, 1.0] and m._state().tolist() == [1.0, 1.0]   # variables view the buffer
    c.reset_state()
    assert _res(c) == 0.0 and c.true_positives.numpy() == 0.0 and _res(m) == 0.5


def test_weighted_metrics_get_the_sample_weights(rng):
    """compile(weighted_metrics=...): same-named metrics are logged as weighted_<name>."""
    x = rng.standard_normal((10, 3)).astype(np.float32)
    y = (rng.random((10, 1)) > 0.5).astype(np.float32)
    sw = rng.random(10).astype(np.float32)
    m = _binary_model()
    m.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"],
              weighted_metrics=["accuracy", M.Precision()])
    logs = m.evaluate(x, y, sample_weight=sw, batch_size=4, verbose=0, return_dict=True)
    assert sorted(logs) == ["accuracy", "loss", "precision", "weighted_accuracy"]
    p = m.predict(x, verbose=0)[:, 0]
    hit = (p > 0.5) == (y[:, 0] > 0.5)
    assert logs["accuracy"] == pytest.approx(np.mean(hit))
    assert logs["weighted_accuracy"] == pytest.approx(np.sum(hit * sw) / sw.sum())
    pred, pos = p > 0.5, y[:, 0] > 0.5
    assert logs["precision"] == pytest.approx(np.sum(sw * (pred & pos)) / np.sum(sw * pred))


def test_loss_and_metric_objects_survive_save_and_load(rng, tmp_path):
    m = dt.Sequential([dt.Input((3,)), dt.layers.Dense(2, activation="sigmoid")])
    m.compile(optimizer="sgd", loss=dt.losses.BinaryCrossentropy(label_smoothing=0.2),
              metrics=[M.Precision(thresholds=0.4, name="p"), M.AUC(curve="PR"), "mae"])
    path = str(tmp_path / "m.keras")
    m.save(path)
    loaded = dt.load_model(path)
    x = rng.standard_normal((9, 3)).astype(np.float32)
    y = (rng.random((9, 2)) > 0.5).astype(np.float32)
    assert loaded.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx(
        m.evaluate(x, y, verbose=0, return_dict=True))


def test_a_metric_made_of_metrics_carries_their_state():
    class MeanAndSum(M.Metric):
        def __init__(self):
            super().__init__(name="mean_and_sum")
            self.mean = M.Mean()
            self.total = M.Sum()

        def update_state(self, values):
            self.mean.update_state(values)
            self.total.update_state(values)

        def result(self):
            return self.mean.result() + self.total.result()
    a, b, whole = MeanAndSum(), MeanAndSum(), MeanAndSum()
    a.update_state([1.0, 2.0])
    b.update_state([6.0])
    whole.update_state([1.0, 2.0, 6.0])
    assert len(a.variables) == 3
    a._load_state(a._state() + b._state())
    assert a._log_value() == pytest.approx(whole._log_value()) == pytest.approx(3.0 + 9.0)
    a.reset_state()
    assert a._log_value() == 0.0
