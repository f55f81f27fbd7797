"""Parity cases: losses (values, reductions, from_logits, training), metrics (states after several
update_state calls with sample weights, fit/evaluate logs), add_loss and layer.losses."""
import numpy as np

from keras_parity.harness import case, data, observe_error, seed_weights, to_numpy


def _f(v):
    return float(to_numpy(v))


def _probs(n, c, seed=0):
    z = data(n, c, seed=seed) * 2
    e = np.exp(z - z.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


def _sigmoid(z):
    return (1 / (1 + np.exp(-z))).astype(np.float32)


# --- losses: values ------------------------------------------------------------------------------------
@case()
def case_loss_regression_values(K):
    L = K.losses
    t = data(6, 4, seed=1)
    t[0] = 0.0                      # MAPE's max(|y_true|, eps), cosine of a zero vector
    p = data(6, 4, seed=2)
    pos_t, pos_p = np.abs(t) + 0.1, np.abs(p) + 0.1
    labels01 = (data(6, 4, seed=3) > 0).astype(np.float32)
    labels_pm = labels01 * 2 - 1
    onehot = np.eye(4, dtype=np.float32)[data(6, low=0, high=4, seed=4)]
    return [_f(L.MeanSquaredError()(t, p)), _f(L.MeanAbsoluteError()(t, p)),
            _f(L.MeanAbsolutePercentageError()(t, p)), _f(L.MeanSquaredLogarithmicError()(t, p)),
            _f(L.Huber()(t, p)), _f(L.Huber(delta=0.3)(t, p)), _f(L.LogCosh()(t, p * 10)),
            _f(L.CosineSimilarity()(t, p)), _f(L.CosineSimilarity(axis=0)(t, p)),
            _f(L.Poisson()(pos_t, pos_p)), _f(L.KLDivergence()(_probs(6, 4, 5), _probs(6, 4, 6))),
            _f(L.Hinge()(labels01, p)), _f(L.Hinge()(labels_pm, p)), _f(L.SquaredHinge()(labels01, p)),
            _f(L.CategoricalHinge()(onehot, p))]


@case()
def case_loss_crossentropy_on_probabilities(K):
    L = K.losses
    onehot = np.eye(3, dtype=np.float32)[[0, 1, 2, 1, 0]]
    p = _probs(5, 3)
    p_edge = np.array([[1, 0, 0], [0, 1, 0], [0.5, 0.5, 0], [0.2, 0.2, 0.6], [0, 0, 1]], np.float32)
    p_unnormalised = p * np.array([[2.0], [0.5], [1.0], [3.0], [1.0]], np.float32)
    bin_t = (data(5, 2, seed=7) > 0).astype(np.float32)
    bin_p = _sigmoid(data(5, 2, seed=8) * 3)
    bin_edge = np.array([[0, 1], [1, 0], [0.5, 1], [0, 0], [1, 1]], np.float32)
    labels = np.array([0, 1, 2, 1, 0])
    return [_f(L.CategoricalCrossentropy()(onehot, p)), _f(L.CategoricalCrossentropy()(onehot, p_edge)),
            _f(L.CategoricalCrossentropy()(onehot, p_unnormalised)),
            _f(L.CategoricalCrossentropy(label_smoothing=0.2)(onehot, p)),
            _f(L.SparseCategoricalCrossentropy()(labels, p)), _f(L.SparseCategoricalCrossentropy()(labels, p_edge)),
            _f(L.SparseCategoricalCrossentropy()(labels.reshape(5, 1), p)),
            _f(L.BinaryCrossentropy()(bin_t, bin_p)), _f(L.BinaryCrossentropy()(bin_t, bin_edge)),
            _f(L.BinaryCrossentropy(label_smoothing=0.1)(bin_t, bin_p)),
            _f(L.BinaryFocalCrossentropy()(bin_t, bin_p)),
            _f(L.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.4, gamma=1.5)(bin_t, bin_p)),
            _f(L.CategoricalFocalCrossentropy()(onehot, p))]


@case()
def case_loss_crossentropy_on_logits(K):
    L = K.losses
    z = data(5, 3, seed=3) * 4
    z[0] = [60.0, -60.0, 0.0]                 # far beyond float32 exp range: the stable forms
    onehot = np.eye(3, dtype=np.float32)[[0, 1, 2, 1, 0]]
    labels = np.array([1, 1, 2, 0, 0])
    bz = data(5, 2, seed=4) * 5
    bz[0] = [80.0, -80.0]
    bt = (data(5, 2, seed=5) > 0).astype(np.float32)
    return [_f(L.CategoricalCrossentropy(from_logits=True)(onehot, z)),
            _f(L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(onehot, z)),
            _f(L.SparseCategoricalCrossentropy(from_logits=True)(labels, z)),
            _f(L.BinaryCrossentropy(from_logits=True)(bt, bz)),
            _f(L.BinaryCrossentropy(from_logits=True, label_smoothing=0.2)(bt, bz)),
            _f(L.BinaryFocalCrossentropy(from_logits=True, gamma=3.0)(bt, bz))]


@case()
def case_loss_reductions_and_sample_weight(K):
    L = K.losses
    t, p = data(4, 3, seed=1), data(4, 3, seed=2)
    sw = np.array([0.5, 2.0, 0.0, 1.0], np.float32)
    return {"sum": _f(L.MeanSquaredError(reduction="sum")(t, p)),
            "none": to_numpy(L.MeanSquaredError(reduction="none")(t, p)),
            "mean_weighted": _f(L.MeanAbsoluteError()(t, p, sample_weight=sw)),
            "sum_weighted": _f(L.Huber(reduction="sum")(t, p, sample_weight=sw)),
            "mean_with_sample_weight": _f(L.LogCosh(reduction="mean_with_sample_weight")(t, p, sample_weight=sw)),
            "none_weighted": to_numpy(L.MeanSquaredError(reduction="none")(t, p, sample_weight=sw)),
            "bad": observe_error(lambda: L.MeanSquaredError(reduction="average"))}


@case()
def case_loss_sparse_ignore_class(K):
    L = K.losses
    z = data(6, 4, seed=2)
    labels = np.array([0, 3, -1, 2, -1, 1])
    sw = np.linspace(0.5, 1.5, 6).astype(np.float32)
    loss = L.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    summed = L.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1, reduction="sum")
    return [_f(loss(labels, z)), _f(loss(labels, z, sample_weight=sw)), _f(summed(labels, z)),
            _f(L.SparseCategoricalCrossentropy(ignore_class=0)(np.array([0, 1, 2, 0, 3, 1]), _probs(6, 4)))]


@case()
def case_loss_functions_give_per_sample_values(K):
    L = K.losses
    t, p = data(2, 3, 4, seed=1), data(2, 3, 4, seed=2)
    onehot = np.eye(4, dtype=np.float32)[data(2, 3, low=0, high=4, seed=3)]
    return {"mse": to_numpy(L.mean_squared_error(t, p)), "mae": to_numpy(L.mean_absolute_error(t, p)),
            "huber": to_numpy(L.huber(t, p, delta=0.5)), "log_cosh": to_numpy(L.log_cosh(t, p)),
            "cce": to_numpy(L.categorical_crossentropy(onehot, _probs(6, 4).reshape(2, 3, 4))),
            "cce_logits": to_numpy(L.categorical_crossentropy(onehot, p, from_logits=True)),
            "scce": to_numpy(L.sparse_categorical_crossentropy(np.array([[0, 1, 3], [2, 2, 0]]), p,
                                                               from_logits=True)),
            "bce": to_numpy(L.binary_crossentropy((t > 0).astype(np.float32), _sigmoid(p))),
            "kld": to_numpy(L.kl_divergence(np.abs(t), np.abs(p))),
            "cosine": to_numpy(L.cosine_similarity(t, p)),
            "rank_matched": to_numpy(L.mean_squared_error(np.array([1.0, 2.0]), np.array([[0.5], [2.5]])))}


@case()
def case_loss_get_and_configs(K):
    L = K.losses
    cce = L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, name="cce")
    rebuilt = L.CategoricalCrossentropy.from_config(cce.get_config())
    scce = L.SparseCategoricalCrossentropy(from_logits=True, ignore_class=3)
    return {"cce": cce.get_config(), "scce": scce.get_config(), "bce": L.BinaryCrossentropy().get_config(),
            "rebuilt": [rebuilt.name, rebuilt.from_logits, rebuilt.label_smoothing],
            "names": [L.MeanSquaredError().name, L.Huber().name, L.LogCosh().name, L.KLDivergence().name,
                      L.BinaryFocalCrossentropy().name, L.MeanAbsolutePercentageError().name],
            "unknown": observe_error(lambda: L.get("no_such_loss"))}


# --- losses in training -----------------------------------------------------------------------------------
def _linear_model(K, n_out=3, activation=None):
    m = K.Sequential([K.Input((4,)), K.layers.Dense(5, activation="tanh"),
                      K.layers.Dense(n_out, activation=activation)])
    return seed_weights(m)


def _fit(K, m, loss, y, x=None, metrics=(), epochs=2, batch_size=4, sample_weight=None, lr=0.1):
    m.compile(optimizer=K.optimizers.SGD(learning_rate=lr), loss=loss, metrics=list(metrics))
    x = data(len(y), 4) if x is None else x
    h = m.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0, sample_weight=sample_weight)
    return {"history": h.history, "weights": m.get_weights()}


@case()
def case_fit_sparse_crossentropy_from_logits(K):
    m = _linear_model(K)
    return _fit(K, m, K.losses.SparseCategoricalCrossentropy(from_logits=True), data(10, low=0, high=3))


@case()
def case_fit_categorical_label_smoothing_softmax_output(K):
    m = _linear_model(K, activation="softmax")
    y = np.eye(3, dtype=np.float32)[data(10, low=0, high=3)]
    return _fit(K, m, K.losses.CategoricalCrossentropy(label_smoothing=0.2), y)


@case()
def case_fit_binary_from_logits_with_sample_weight(K):
    m = _linear_model(K, n_out=1)
    y = data(10, low=0, high=2).astype(np.float32).reshape(10, 1)
    return _fit(K, m, K.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1), y,
                sample_weight=np.linspace(0.2, 1.8, 10).astype(np.float32))


@case()
def case_fit_focal_on_sigmoid_output(K):
    m = _linear_model(K, n_out=2, activation="sigmoid")
    y = (data(10, 2, seed=5) > 0).astype(np.float32)
    return _fit(K, m, K.losses.BinaryFocalCrossentropy(gamma=2.0, apply_class_balancing=True), y)


@case()
def case_fit_huber_sum_reduction(K):
    m = _linear_model(K, n_out=2)
    return _fit(K, m, K.losses.Huber(delta=0.5, reduction="sum"), data(10, 2, seed=3), lr=0.02)


@case()
def case_fit_regression_losses_by_name(K):
    out = {}
    for name in ["mape", "msle", "kld", "huber", "log_cosh", "poisson", "cosine_similarity",
                 "mean_absolute_error", "squared_hinge"]:
        m = _linear_model(K, n_out=2, activation="softplus" if name in ("kld", "poisson", "msle") else None)
        y = np.abs(data(8, 2, seed=3)) + 0.1 if name in ("kld", "poisson", "msle", "mape") else data(8, 2, seed=3)
        m.compile(optimizer=K.optimizers.SGD(learning_rate=0.01), loss=name)
        m.fit(data(8, 4), y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        out[name] = [m.evaluate(data(8, 4), y, verbose=0), m.get_weights()[-1]]
    return out


@case()
def case_fit_custom_loss_subclass(K):
    class ScaledSquare(K.losses.Loss):
        def __init__(self, scale=2.0, name="scaled_square"):
            super().__init__(name=name)
            self.scale = scale

        def call(self, y_true, y_pred):
            return ((y_pred - y_true) ** 2).mean(axis=-1) * self.scale
    m = _linear_model(K, n_out=2)
    return _fit(K, m, ScaledSquare(), data(10, 2, seed=3), lr=0.05)


@case()
def case_fit_custom_loss_function(K):
    def my_loss(y_true, y_pred):
        d = y_pred - y_true
        return (d * d).mean(axis=-1) + 0.5 * (d ** 4).mean(axis=-1)
    m = _linear_model(K, n_out=2)
    return _fit(K, m, my_loss, data(10, 2, seed=3), sample_weight=np.linspace(0.5, 1.5, 10).astype(np.float32))


@case()
def case_compile_loss_none_reduction_fails(K):
    m = _linear_model(K, n_out=2)

    def fit():      # Keras fails in fit, dptrain already in compile
        m.compile(optimizer="sgd", loss=K.losses.MeanSquaredError(reduction="none"))
        m.fit(data(4, 4), data(4, 2), verbose=0)
    return observe_error(fit) != "no error"


# --- metrics: states after several update_state calls --------------------------------------------------------
def _run(metric, batches):
    """The results after each update_state (with sample weights), after reset, and the config name."""
    out = []
    for b in batches:
        metric.update_state(*b)
        out.append(np.array(to_numpy(metric.result()), copy=True))   # Keras' result may alias its state
    metric.reset_state()
    out.append(np.array(to_numpy(metric.result()), copy=True))
    return out


def _binary_batches():
    out = []
    for s in range(3):
        t = (data(7, seed=10 + s) > 0).astype(np.float32)
        p = _sigmoid(data(7, seed=20 + s) * 2)
        p[0], p[1] = 0.5, 0.0                     # exactly on thresholds
        sw = np.abs(data(7, seed=30 + s)) if s != 1 else None
        out.append((t, p) if sw is None else (t, p, sw))
    return out


def _multiclass_batches(labels=False):
    out = []
    for s in range(3):
        lab = data(6, low=0, high=4, seed=40 + s)
        t = lab if labels else np.eye(4, dtype=np.float32)[lab]
        p = _probs(6, 4, seed=50 + s)
        out.append((t, p) if s == 1 else (t, p, np.abs(data(6, seed=60 + s))))
    return out


@case()
def case_metric_accuracy_family(K):
    M = K.metrics
    bt = [(t.reshape(-1, 1), p.reshape(-1, 1), *rest) for t, p, *rest in _binary_batches()]
    eq = [(np.array([1, 2, 3, 4]), np.array([1, 2, 0, 4]), np.array([1, 1, 0.5, 2])), (np.array([1, 1]), [1, 0])]
    return {"accuracy": _run(M.Accuracy(), eq), "binary": _run(M.BinaryAccuracy(), bt),
            "binary_0.3": _run(M.BinaryAccuracy(threshold=0.3), bt),
            "categorical": _run(M.CategoricalAccuracy(), _multiclass_batches()),
            "sparse": _run(M.SparseCategoricalAccuracy(), _multiclass_batches(labels=True)),
            "sparse_column": _run(M.SparseCategoricalAccuracy(),
                                  [(t.reshape(-1, 1), p, *r) for t, p, *r in _multiclass_batches(labels=True)]),
            "top2": _run(M.TopKCategoricalAccuracy(k=2), _multiclass_batches()),
            "sparse_top2": _run(M.SparseTopKCategoricalAccuracy(k=2), _multiclass_batches(labels=True))}


@case()
def case_metric_confusion_counts_and_thresholds(K):
    M = K.metrics
    out = {}
    for cls in ("TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives"):
        out[cls] = [_run(getattr(M, cls)(), _binary_batches()),
                    _run(getattr(M, cls)(thresholds=[0.2, 0.5, 0.8]), _binary_batches()),
                    _run(getattr(M, cls)(thresholds=[0.0, 0.5, 1.0]), _binary_batches())]   # evenly spread
    return out


@case()
def case_metric_precision_recall_variants(K):
    M = K.metrics
    out = {}
    for cls in ("Precision", "Recall"):
        c = getattr(M, cls)
        out[cls] = [_run(c(), _binary_batches()), _run(c(thresholds=[0.1, 0.5, 0.9]), _binary_batches()),
                    _run(c(thresholds=[0.0, 0.25, 0.5, 0.75, 1.0]), _binary_batches()),
                    _run(c(top_k=2), _multiclass_batches()), _run(c(class_id=1), _multiclass_batches()),
                    _run(c(top_k=1, class_id=2), _multiclass_batches()),
                    _run(c(thresholds=0.3, class_id=0), _multiclass_batches())]
    return out


@case()
def case_metric_auc_variants(K):
    M = K.metrics
    multi = [(t, p, *r) for t, p, *r in _multiclass_batches()]
    logits = [(t, (np.log(p / (1 - p + 1e-6) + 1e-6)).astype(np.float32), *r) for t, p, *r in _binary_batches()]
    return {"roc": _run(M.AUC(), _binary_batches()), "pr": _run(M.AUC(curve="PR"), _binary_batches()),
            "prgain": _run(M.AUC(curve="PRGAIN"), _binary_batches()),
            "minoring": _run(M.AUC(num_thresholds=5, summation_method="minoring"), _binary_batches()),
            "majoring": _run(M.AUC(num_thresholds=7, curve="PR", summation_method="majoring"), _binary_batches()),
            "thresholds": _run(M.AUC(thresholds=[0.3, 0.6]), _binary_batches()),
            "from_logits": _run(M.AUC(from_logits=True), logits),
            "multi_label": _run(M.AUC(multi_label=True), multi),
            "multi_label_pr": _run(M.AUC(multi_label=True, curve="PR", label_weights=[1, 2, 0, 1]), multi),
            "multi_class_flat": _run(M.AUC(num_thresholds=50), multi)}


@case()
def case_metric_f1_and_fbeta(K):
    M = K.metrics
    b = _multiclass_batches()
    return {"none": _run(M.F1Score(), b), "micro": _run(M.F1Score(average="micro"), b),
            "macro": _run(M.F1Score(average="macro", threshold=0.3), b),
            "weighted": _run(M.F1Score(average="weighted"), b),
            "fbeta2": _run(M.FBetaScore(beta=2.0, average="macro"), b)}


@case()
def case_metric_mean_iou(K):
    M = K.metrics
    ids = [(data(8, low=0, high=3, seed=s), data(8, low=0, high=3, seed=s + 5)) for s in range(3)]
    ids[1] = ids[1] + (np.array([1, 1, 2, 1, 1, 3, 1, 1]),)
    onehot = [(np.eye(3, dtype=np.float32)[t], _probs(8, 3, seed=9)) for t, *_ in ids]
    return {"plain": _run(M.MeanIoU(num_classes=3), ids), "ignore": _run(M.MeanIoU(3, ignore_class=0), ids),
            "dense": _run(M.MeanIoU(3, sparse_y_true=False, sparse_y_pred=False), onehot),
            "iou": _run(M.IoU(3, target_class_ids=[0, 2]), ids),
            "binary_iou": _run(M.BinaryIoU(), [(t.reshape(-1), p.reshape(-1)) for t, p, *_ in _binary_batches()])}


@case()
def case_metric_regression(K):
    M = K.metrics
    b = [(data(5, 3, seed=s), data(5, 3, seed=s + 10), np.abs(data(5, seed=s + 20))) for s in range(2)]
    b.insert(1, (data(4, 3, seed=7), data(4, 3, seed=8)))
    pos = [(np.abs(t) + 0.1, np.abs(p) + 0.1, *r) for t, p, *r in b]
    return {"mse": _run(M.MeanSquaredError(), b), "rmse": _run(M.RootMeanSquaredError(), b),
            "mae": _run(M.MeanAbsoluteError(), b), "mape": _run(M.MeanAbsolutePercentageError(), pos),
            "msle": _run(M.MeanSquaredLogarithmicError(), pos), "cosine": _run(M.CosineSimilarity(), b),
            "logcosh": _run(M.LogCoshError(), b), "r2": _run(M.R2Score(), b)[:-1],
            "r2_weighted": _run(M.R2Score(class_aggregation="variance_weighted_average"), b)[:-1],
            "r2_raw": _run(M.R2Score(class_aggregation=None), b)[:-1],
            "r2_adjusted": _run(M.R2Score(num_regressors=2), b)[:-1]}


@case()
def case_metric_probabilistic_and_hinge(K):
    M = K.metrics
    bb = [(t.reshape(-1, 1), p.reshape(-1, 1), *r) for t, p, *r in _binary_batches()]
    mc, lab = _multiclass_batches(), _multiclass_batches(labels=True)
    return {"bce": _run(M.BinaryCrossentropy(), bb), "bce_smooth": _run(M.BinaryCrossentropy(label_smoothing=0.1), bb),
            "cce": _run(M.CategoricalCrossentropy(), mc), "scce": _run(M.SparseCategoricalCrossentropy(), lab),
            "kld": _run(M.KLDivergence(), mc), "poisson": _run(M.Poisson(), mc),
            "hinge": _run(M.Hinge(), bb), "squared_hinge": _run(M.SquaredHinge(), bb),
            "categorical_hinge": _run(M.CategoricalHinge(), mc)}


@case()
def case_metric_mean_and_sum(K):
    M = K.metrics
    b = [(data(4, 3, seed=1), np.array([1.0, 0.0, 2.0, 0.5], np.float32)), (data(2, 3, seed=2),),
         (np.float32(3.0),), (data(3, seed=3), data(3, seed=4))]
    return {"mean": _run(M.Mean(), b), "sum": _run(M.Sum(), b), "names": [M.Mean().name, M.Sum(name="s").name]}


@case()
def case_metric_names_and_configs(K):
    M = K.metrics
    return {"names": [m.name for m in (M.Precision(), M.Recall(), M.AUC(), M.F1Score(), M.TruePositives(),
                                       M.MeanIoU(num_classes=2), M.RootMeanSquaredError(), M.R2Score(),
                                       M.TopKCategoricalAccuracy(), M.BinaryAccuracy(name="acc"))],
            "precision": M.Precision(thresholds=[0.3, 0.7], top_k=None, class_id=1, name="p").get_config(),
            "auc": M.AUC(num_thresholds=50, curve="PR", name="pr_auc").get_config(),
            "f1": M.F1Score(average="macro").get_config(),
            "bad_threshold": observe_error(lambda: M.Precision(thresholds=1.5)),
            "bad_curve": observe_error(lambda: M.AUC(curve="XY"))}


@case()
def case_metric_custom_subclass(K):
    class BinaryTruePositives(K.metrics.Metric):
        def __init__(self, name="binary_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), initializer="zeros", name="tp")
            self.seen = self.add_weight(shape=(), initializer="zeros", name="seen")

        def update_state(self, y_true, y_pred, sample_weight=None):
            hits = ((y_true > 0.5) & (y_pred > 0.5)).sum()
            self.true_positives.assign_add(float(hits))
            self.seen.assign(self.seen + float(len(y_true)))

        def result(self):
            return self.true_positives / (self.seen + 1.0)
    m = BinaryTruePositives()
    out = _run(m, [(t, p) for t, p, *_ in _binary_batches()])
    return {"results": out, "n_variables": len(m.variables), "name": m.name}


# --- metrics in fit / evaluate -------------------------------------------------------------------------------
def _binary_classifier(K):
    m = K.Sequential([K.Input((4,)), K.layers.Dense(6, activation="relu"), K.layers.Dense(1, activation="sigmoid")])
    return seed_weights(m)


def _binary_data(n=14, seed=0):
    x = data(n, 4, seed=seed)
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.float32).reshape(n, 1)


@case()
def case_fit_history_with_ratio_metrics(K):
    m = _binary_classifier(K)
    M = K.metrics
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="binary_crossentropy",
              metrics=["accuracy", M.Precision(), M.Recall(thresholds=0.4), M.AUC(), M.AUC(curve="PR", name="pr"),
                       M.TruePositives(), M.F1Score(threshold=0.5)])
    x, y = _binary_data()
    h = m.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0, validation_data=_binary_data(6, seed=3))
    return {"history": h.history, "weights": m.get_weights()}


@case()
def case_fit_history_multiclass_metrics(K):
    M = K.metrics
    m = _linear_model(K, n_out=4, activation="softmax")
    lab = data(14, low=0, high=4)
    y = np.eye(4, dtype=np.float32)[lab]
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.2), loss="categorical_crossentropy",
              metrics=["accuracy", M.TopKCategoricalAccuracy(k=2), M.F1Score(average="macro"), M.Precision(class_id=1),
                       M.AUC(multi_label=True), M.CategoricalCrossentropy()])
    h = m.fit(data(14, 4), y, batch_size=5, epochs=2, shuffle=False, verbose=0)
    return h.history


@case()
def case_evaluate_metrics_by_string(K):
    m = _binary_classifier(K)
    m.compile(optimizer="sgd", loss="binary_crossentropy",
              metrics=["precision", "recall", "auc", "mse", "mae", "binary_accuracy", "acc", "f1_score"])
    x, y = _binary_data(11)
    return m.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)


@case()
def case_evaluate_sparse_labels_metrics(K):
    M = K.metrics
    m = _linear_model(K, n_out=4, activation="softmax")
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
              metrics=["accuracy", M.SparseTopKCategoricalAccuracy(k=2),
                       M.SparseCategoricalCrossentropy(), M.MeanIoU(num_classes=4, sparse_y_pred=False)])
    return m.evaluate(data(11, 4), data(11, low=0, high=4), batch_size=4, verbose=0, return_dict=True)


@case()
def case_fit_custom_metric_function_and_subclass(K):
    def mean_gap(y_true, y_pred):
        return abs(y_true - y_pred).mean(axis=-1)

    class Hits(K.metrics.Metric):
        def __init__(self, name="hits", **kwargs):
            super().__init__(name=name, **kwargs)
            self.hits = self.add_variable(shape=(), initializer="zeros", name="hits")
            self.total = self.add_variable(shape=(), initializer="zeros", name="total")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.hits.assign_add(float(((y_pred > 0.5) == (y_true > 0.5)).sum()))
            self.total.assign_add(float(y_true.shape[0]))

        def result(self):
            return self.hits / self.total
    m = _binary_classifier(K)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="binary_crossentropy", metrics=[mean_gap, Hits()])
    x, y = _binary_data(13)
    h = m.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    return {"history": h.history, "evaluate": m.evaluate(x, y, batch_size=5, verbose=0, return_dict=True)}


@case()
def case_duplicate_metric_names_are_numbered(K):
    m = _binary_classifier(K)
    M = K.metrics
    m.compile(optimizer="sgd", loss="binary_crossentropy", metrics=[M.Precision(), M.Precision(thresholds=0.3)])
    x, y = _binary_data(8)
    return m.evaluate(x, y, verbose=0, return_dict=True)


@case()
def case_fit_weighted_metrics(K):
    m = _binary_classifier(K)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="binary_crossentropy", metrics=["accuracy"],
              weighted_metrics=["accuracy", K.metrics.Precision()])
    x, y = _binary_data(12)
    h = m.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0,
              sample_weight=np.linspace(0.1, 2.0, 12).astype(np.float32))
    return h.history


# --- add_loss and layer.losses ------------------------------------------------------------------------------
def _penalty_layer(K, scale=0.01):
    class ActivityPenalty(K.layers.Layer):
        def call(self, x):
            self.add_loss(scale * (x * x).sum())
            return x
    return ActivityPenalty


@case()
def case_add_loss_in_call_trains(K):
    Penalty = _penalty_layer(K)
    inp = K.Input((4,))
    h = Penalty()(K.layers.Dense(5, activation="tanh")(inp))
    m = seed_weights(K.Model(inp, K.layers.Dense(3, activation="softmax")(h)))
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    x, y = data(10, 4), data(10, low=0, high=3)
    h = m.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    return {"history": h.history, "weights": m.get_weights(), "evaluate": m.evaluate(x, y, verbose=0)}


@case()
def case_layer_losses_after_eager_call(K):
    Penalty = _penalty_layer(K, scale=0.5)
    layer = Penalty()
    layer(data(3, 2))
    first = [_f(v) for v in layer.losses]
    return {"first": first, "n": len(layer.losses)}


@case()
def case_add_loss_in_subclassed_model(K):
    Penalty = _penalty_layer(K, scale=0.05)

    class Net(K.Model):
        def __init__(self):
            super().__init__()
            self.hidden = K.layers.Dense(4, activation="relu")
            self.penalty = Penalty()
            self.out = K.layers.Dense(2)

        def call(self, x):
            return self.out(self.penalty(self.hidden(x)))
    m = Net()
    m(data(2, 3))
    seed_weights(m)
    m.compile(optimizer=K.optimizers.SGD(learning_rate=0.05), loss="mse")
    x, y = data(8, 3), data(8, 2, seed=4)
    h = m.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    return {"history": h.history, "weights": m.get_weights()}


@case()
def case_add_loss_rejects_symbolic_tensors(K):
    inp = K.Input((3,))
    out = K.layers.Dense(2)(inp)
    m = K.Model(inp, out)
    return observe_error(lambda: m.add_loss(out.sum() if hasattr(out, "sum") else out))


@case()
def case_layer_losses_are_those_of_the_last_eager_call(K):
    Penalty = _penalty_layer(K, scale=0.5)
    layer = Penalty()
    layer(data(3, 2))
    layer(data(2, 2, seed=1))
    return [_f(v) for v in layer.losses]
