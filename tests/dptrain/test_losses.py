"""dptrain.losses: every Keras 3 loss against a float64 numpy formula, reductions, sample weights,
ignore_class, gradients (in y_pred and in y_true), lookups and configs, and losses in fit."""
import numpy as np
import pytest

import dptrain as dt
from dptrain import losses as L
from engine.gradcheck import gradcheck
from engine.tensor import Tensor

EPS = 1e-7


def _np(v):
    return v.numpy() if isinstance(v, Tensor) else np.asarray(v)


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _log_softmax(z):
    return z - z.max(-1, keepdims=True) - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True))


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _softplus(x):
    return np.logaddexp(0, x)


@pytest.fixture
def reg(rng):
    t = rng.standard_normal((6, 4))
    t[0] = 0.0
    return t, rng.standard_normal((6, 4))


# --- per-sample values of every function -------------------------------------------------------------
def test_regression_functions_match_numpy(reg):
    t, p = reg
    pos_t, pos_p = np.abs(t) + 0.1, np.abs(p) + 0.1
    cases = {
        "mean_squared_error": (L.mean_squared_error(t, p), np.mean((t - p) ** 2, -1)),
        "mean_absolute_error": (L.mean_absolute_error(t, p), np.mean(np.abs(t - p), -1)),
        "mape": (L.mean_absolute_percentage_error(t, p),
                 100 * np.mean(np.abs(t - p) / np.maximum(np.abs(t), EPS), -1)),
        "msle": (L.mean_squared_logarithmic_error(t, p),
                 np.mean((np.log1p(np.maximum(p, EPS)) - np.log1p(np.maximum(t, EPS))) ** 2, -1)),
        "huber": (L.huber(t, p, delta=0.4),
                  np.mean(np.where(np.abs(p - t) <= 0.4, 0.5 * (p - t) ** 2, 0.4 * np.abs(p - t) - 0.08), -1)),
        "log_cosh": (L.log_cosh(t, 30 * p), np.mean(np.log(np.cosh(30 * p - t)), -1)),
        "poisson": (L.poisson(pos_t, pos_p), np.mean(pos_p - pos_t * np.log(pos_p + EPS), -1)),
        "cosine": (L.cosine_similarity(t, p), -np.sum(
            t / np.maximum(np.linalg.norm(t, axis=-1, keepdims=True), EPS) *
            p / np.linalg.norm(p, axis=-1, keepdims=True), -1)),
    }
    for name, (got, want) in cases.items():
        np.testing.assert_allclose(_np(got), want, rtol=2e-5, atol=1e-5, err_msg=name)


def test_probabilistic_and_hinge_functions_match_numpy(rng):
    pt, pp = _softmax(rng.standard_normal((5, 3))), _softmax(rng.standard_normal((5, 3)))
    kld = np.sum(np.clip(pt, EPS, 1) * np.log(np.clip(pt, EPS, 1) / np.clip(pp, EPS, 1)), -1)
    np.testing.assert_allclose(_np(L.kl_divergence(pt, pp)), kld, rtol=1e-5)
    p = rng.standard_normal((5, 3))
    y01 = (rng.random((5, 3)) > 0.5).astype(float)
    ypm = 2 * y01 - 1
    np.testing.assert_allclose(_np(L.hinge(y01, p)), np.mean(np.maximum(1 - ypm * p, 0), -1), rtol=1e-5)
    np.testing.assert_allclose(_np(L.hinge(ypm, p)), np.mean(np.maximum(1 - ypm * p, 0), -1), rtol=1e-5)
    np.testing.assert_allclose(_np(L.squared_hinge(y01, p)), np.mean(np.maximum(1 - ypm * p, 0) ** 2, -1),
                               rtol=1e-5)
    half = np.full((5, 3), 0.5)      # not all 0/1: kept as given
    np.testing.assert_allclose(_np(L.hinge(half, p)), np.mean(np.maximum(1 - half * p, 0), -1), rtol=1e-5)
    onehot = np.eye(3)[rng.integers(0, 3, 5)]
    want = np.maximum(np.max((1 - onehot) * p, -1) - np.sum(onehot * p, -1) + 1, 0)
    np.testing.assert_allclose(_np(L.categorical_hinge(onehot, p)), want, rtol=1e-5, atol=1e-6)


def _cce_probs(t, p):
    q = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -np.sum(t * np.log(q), -1)


def test_crossentropies_on_probabilities_clip_as_keras(rng):
    onehot = np.eye(3)[[0, 1, 2, 1]]
    p = np.array([[1, 0, 0], [0, 1, 0], [0.2, 0.3, 0.1], [0.1, 0.1, 0.8]])   # exact 0/1, unnormalised row
    np.testing.assert_allclose(_np(L.categorical_crossentropy(onehot, p)), _cce_probs(onehot, p), rtol=1e-5, atol=1e-6)
    smooth = onehot * 0.8 + 0.2 / 3
    np.testing.assert_allclose(_np(L.categorical_crossentropy(onehot, p, label_smoothing=0.2)),
                               _cce_probs(smooth, p), rtol=1e-5, atol=1e-6)
    labels = np.array([0, 1, 2, 1])
    np.testing.assert_allclose(_np(L.sparse_categorical_crossentropy(labels, p)), _cce_probs(onehot, p), rtol=1e-5, atol=1e-6)
    bt = np.array([[0, 1], [1, 0], [1, 1], [0, 0]], float)
    bp = np.array([[0, 1], [1, 0], [0.3, 0.9], [0.5, 0.2]])
    # clipped in float32, as Keras (and torch) do: 1 - (1 - 1e-7) is 1.19e-7 there
    q32 = np.clip(bp.astype(np.float32), np.float32(EPS), np.float32(1 - EPS))
    q, one_minus_q = q32.astype(np.float64), (np.float32(1) - q32).astype(np.float64)
    bce = -np.mean(bt * np.log(q) + (1 - bt) * np.log(one_minus_q), -1)
    np.testing.assert_allclose(_np(L.binary_crossentropy(bt, bp)), bce, rtol=1e-5, atol=1e-6)
    st = bt * 0.9 + 0.05
    np.testing.assert_allclose(_np(L.binary_crossentropy(bt, bp, label_smoothing=0.1)),
                               -np.mean(st * np.log(q) + (1 - st) * np.log(one_minus_q), -1), rtol=1e-5, atol=1e-6)


def test_crossentropies_on_logits_are_stable(rng):
    z = rng.standard_normal((4, 3)) * 3
    z[0] = [80.0, -80.0, 0.0]
    onehot = np.eye(3)[[0, 2, 1, 1]]
    want = -np.sum(onehot * _log_softmax(z), -1)
    np.testing.assert_allclose(_np(L.categorical_crossentropy(onehot, z, from_logits=True)), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(L.sparse_categorical_crossentropy([0, 2, 1, 1], z, from_logits=True)), want,
                               rtol=1e-5, atol=1e-6)
    bz = np.array([[90.0, -90.0], [0.3, -2.0]])
    bt = np.array([[0.0, 1.0], [1.0, 0.0]])
    want = np.mean(np.maximum(bz, 0) - bz * bt + np.log1p(np.exp(-np.abs(bz))), -1)
    got = _np(L.binary_crossentropy(bt, bz, from_logits=True))
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_focal_crossentropies_match_numpy(rng):
    t = (rng.random((5, 2)) > 0.5).astype(float)
    z = rng.standard_normal((5, 2))
    p = _sigmoid(z)
    q = np.clip(p, EPS, 1 - EPS)
    bce = -(t * np.log(q) + (1 - t) * np.log(1 - q))
    pt = t * p + (1 - t) * (1 - p)
    focal = (1 - pt) ** 2.0 * bce
    np.testing.assert_allclose(_np(L.binary_focal_crossentropy(t, p)), focal.mean(-1), rtol=1e-5)
    np.testing.assert_allclose(_np(L.binary_focal_crossentropy(t, z, from_logits=True)), focal.mean(-1), rtol=1e-5)
    weighted = (t * 0.3 + (1 - t) * 0.7) * (1 - pt) ** 1.5 * bce
    np.testing.assert_allclose(_np(L.binary_focal_crossentropy(t, p, apply_class_balancing=True, alpha=0.3, gamma=1.5)),
                               weighted.mean(-1), rtol=1e-5)
    onehot = np.eye(3)[[0, 1, 2, 0, 1]]
    cp = _softmax(rng.standard_normal((5, 3)))
    cq = np.clip(cp, EPS, 1 - EPS)
    want = np.sum(0.25 * (1 - cq) ** 2 * -onehot * np.log(cq), -1)
    np.testing.assert_allclose(_np(L.categorical_focal_crossentropy(onehot, cp)), want, rtol=1e-5)


def test_functions_keep_the_extra_axes_and_match_ranks(rng):
    t, p = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    assert _np(L.mean_squared_error(t, p)).shape == (2, 3)
    assert _np(L.categorical_crossentropy(np.eye(4)[rng.integers(0, 4, (2, 3))], p, from_logits=True)).shape == (2, 3)
    # (N,) targets against (N, 1) predictions: expanded, as Keras' squeeze_or_expand_to_same_rank
    np.testing.assert_allclose(_np(L.mean_squared_error(np.array([1.0, 2.0]), np.array([[0.5], [2.5]]))),
                               [0.25, 0.25])
    with pytest.raises(ValueError, match="labels need shape"):
        L.sparse_categorical_crossentropy(np.zeros((3, 2)), rng.standard_normal((3, 4)))


# --- Loss objects: reductions, sample weights, ignore_class ----------------------------------------------
def test_reductions_and_sample_weight(rng):
    t, p = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    per = np.mean((t - p) ** 2, -1)
    sw = np.array([0.5, 2.0, 0.0, 1.0])
    assert L.MeanSquaredError()(t, p).item() == pytest.approx(per.mean(), rel=1e-5)
    assert L.MeanSquaredError(reduction="sum")(t, p).item() == pytest.approx(per.sum(), rel=1e-5)
    np.testing.assert_allclose(_np(L.MeanSquaredError(reduction="none")(t, p)), per, rtol=1e-5)
    np.testing.assert_allclose(_np(L.MeanSquaredError(reduction="none")(t, p, sample_weight=sw)), per * sw, rtol=1e-5)
    assert L.MeanSquaredError()(t, p, sample_weight=sw).item() == pytest.approx((per * sw).sum() / 4, rel=1e-5)
    assert L.MeanSquaredError(reduction="mean_with_sample_weight")(t, p, sample_weight=sw).item() == \
        pytest.approx((per * sw).sum() / sw.sum(), rel=1e-5)
    with pytest.raises(ValueError, match="invalid reduction"):
        L.MeanSquaredError(reduction="average")
    with pytest.raises(NotImplementedError, match="dtype"):
        L.MeanSquaredError(dtype="float16")


def test_sparse_ignore_class_is_left_out_of_the_mean(rng):
    z = rng.standard_normal((6, 4))
    labels = np.array([0, 3, -1, 2, -1, 1])
    keep = labels != -1
    per = -_log_softmax(z)[np.arange(6), np.where(keep, labels, 0)] * keep
    loss = L.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
    assert loss(labels, z).item() == pytest.approx(per.sum() / keep.sum(), rel=1e-5)
    sw = np.linspace(0.5, 1.5, 6)
    assert loss(labels, z, sample_weight=sw).item() == pytest.approx((per * sw).sum() / keep.sum(), rel=1e-5)
    summed = L.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1, reduction="sum")
    assert summed(labels, z).item() == pytest.approx(per.sum(), rel=1e-5)
    # fit's target check lets the ignored label through, and still refuses other out-of-range labels
    assert loss.check_targets(labels, (None, 4), "y").tolist() == labels.tolist()
    with pytest.raises(ValueError, match="label 7 is out of range"):
        loss.check_targets(np.array([0, 7, -1]), (None, 4), "y")


def test_losses_are_differentiable_in_predictions_and_targets(rng):
    t = rng.random((3, 4)) + 0.1
    p = rng.random((3, 4)) + 0.1
    for fn in (L.mean_squared_error, L.mean_absolute_error, L.huber, L.log_cosh, L.cosine_similarity, L.poisson,
               L.mean_squared_logarithmic_error):
        assert gradcheck(lambda a, b: fn(a, b), [t, p]), fn.__name__
    q = _softmax(rng.standard_normal((3, 4)))
    assert gradcheck(lambda a, b: L.categorical_crossentropy(a, b, from_logits=True, label_smoothing=0.1),
                     [q, rng.standard_normal((3, 4))])       # a distillation loss: soft targets train too
    assert gradcheck(lambda b: L.categorical_crossentropy(np.eye(4)[[0, 1, 2]], b), [q])
    assert gradcheck(lambda b: L.sparse_categorical_crossentropy(np.array([0, 3, 1]), b, from_logits=True),
                     [rng.standard_normal((3, 4))])
    assert gradcheck(lambda a, b: L.binary_crossentropy(a, b, from_logits=True), [rng.random((3, 2)),
                                                                                  rng.standard_normal((3, 2))])
    assert gradcheck(lambda b: L.binary_focal_crossentropy(np.array([[0.0, 1.0]] * 3), b, from_logits=True),
                     [rng.standard_normal((3, 2))])
    assert gradcheck(lambda b: L.Huber(delta=0.3, reduction="sum")(t, b, sample_weight=np.array([1.0, 0.5, 2.0])),
                     [p])


# --- lookups, configs, custom losses -------------------------------------------------------------------------
def test_get_accepts_keras_names_classes_functions_and_configs():
    assert isinstance(L.get("mse"), L.MeanSquaredError) and L.get("mse").name == "mse"
    for name, cls in [("mae", L.MeanAbsoluteError), ("mape", L.MeanAbsolutePercentageError),
                      ("msle", L.MeanSquaredLogarithmicError), ("kld", L.KLDivergence), ("huber", L.Huber),
                      ("log_cosh", L.LogCosh), ("bce", L.BinaryCrossentropy), ("Huber", L.Huber),
                      ("binary_focal_crossentropy", L.BinaryFocalCrossentropy), ("poisson", L.Poisson),
                      ("categorical_hinge", L.CategoricalHinge), ("cosine_similarity", L.CosineSimilarity)]:
        assert type(L.get(name)) is cls, name
    assert type(L.get(L.huber)) is L.Huber          # the function itself: the class' fast path
    assert type(L.get(L.Poisson)) is L.Poisson
    cfg = L.serialize(L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1, name="c"))
    assert cfg == {"class_name": "CategoricalCrossentropy",
                   "config": {"name": "c", "reduction": "sum_over_batch_size", "from_logits": True,
                              "label_smoothing": 0.1, "axis": -1}}
    back = L.get(cfg)
    assert (type(back), back.from_logits, back.label_smoothing, back.name) == (L.CategoricalCrossentropy, True, 0.1, "c")
    h = L.Huber.from_config(L.Huber(delta=2.5, reduction="sum").get_config())
    assert (h.delta, h.reduction) == (2.5, "sum")
    with pytest.raises(ValueError, match="unknown loss 'hubber'. Did you mean 'huber'"):
        L.get("hubber")
    with pytest.raises(NotImplementedError, match="crossentropy"):
        L.get("crossentropy")


def test_fuses_only_without_from_logits():
    assert L.CategoricalCrossentropy().fuses == "softmax"
    assert L.CategoricalCrossentropy(from_logits=True).fuses is None
    assert L.SparseCategoricalCrossentropy(from_logits=True).fuses is None
    assert L.BinaryCrossentropy().fuses == "sigmoid" and L.BinaryFocalCrossentropy().fuses is None


def test_custom_loss_subclass_and_function(rng):
    class Scaled(L.Loss):
        def call(self, y_true, y_pred):
            return ((y_pred - y_true) ** 2).mean(axis=-1) * 3.0
    t, p = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    per = 3 * np.mean((p - t) ** 2, -1)
    assert Scaled()(t, p).item() == pytest.approx(per.mean(), rel=1e-5)
    assert Scaled(reduction="sum")(t, p, sample_weight=np.arange(4.0)).item() == \
        pytest.approx((per * np.arange(4)).sum(), rel=1e-5)
    assert Scaled().name == "scaled"
    w = L.LossFunctionWrapper(L.huber, delta=0.2, name="h")
    assert w(t, p).item() == pytest.approx(_np(L.huber(t, p, delta=0.2)).mean(), rel=1e-5)

    class NoTensor(L.Loss):
        def call(self, y_true, y_pred):
            return 1.0
    with pytest.raises(TypeError, match="must return a Tensor"):
        NoTensor().batch_loss(dt.ag.tensor(p.astype(np.float32)), t)


# --- losses in fit ----------------------------------------------------------------------------------------------
def _linear(n_in=3, n_out=2, activation=None):
    m = dt.Sequential([dt.Input((n_in,)), dt.layers.Dense(n_out, activation=activation)])
    m.set_weights([np.linspace(-0.5, 0.5, n_in * n_out).reshape(n_in, n_out).astype(np.float32),
                   np.zeros(n_out, np.float32)])
    return m


def test_one_sgd_step_with_huber_sum_matches_numpy(rng):
    x = rng.standard_normal((6, 3)).astype(np.float32)
    y = rng.standard_normal((6, 2)).astype(np.float32)
    sw = np.linspace(0.5, 1.5, 6).astype(np.float32)
    m = _linear()
    w, b = [a.astype(np.float64) for a in m.get_weights()]
    m.compile(optimizer=dt.optimizers.SGD(learning_rate=0.1), loss=L.Huber(delta=0.5, reduction="sum"))
    h = m.fit(x, y, sample_weight=sw, batch_size=6, epochs=1, shuffle=False, verbose=0)
    e = x @ w + b - y
    per = np.mean(np.where(np.abs(e) <= 0.5, 0.5 * e ** 2, 0.5 * np.abs(e) - 0.125), -1)
    assert h.history["loss"][0] == pytest.approx(np.sum(per * sw), rel=1e-5)
    de = np.clip(e, -0.5, 0.5) / 2 * sw[:, None]        # d sum_i sw_i mean_j huber(e_ij) / d e
    np.testing.assert_allclose(m.get_weights()[0], w - 0.1 * x.T @ de, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m.get_weights()[1], b - 0.1 * de.sum(0), rtol=1e-5, atol=1e-6)


def test_from_logits_on_a_softmax_output_is_not_fused(rng):
    """Keras applies log_softmax to whatever the output is: a softmax output with from_logits=True
    gets a second softmax, it is not silently taken as logits."""
    x = rng.standard_normal((5, 3)).astype(np.float32)
    y = rng.integers(0, 2, 5)
    m = _linear(activation="softmax")
    m.compile(optimizer="sgd", loss=L.SparseCategoricalCrossentropy(from_logits=True))
    p = m.predict(x, verbose=0).astype(np.float64)
    want = -np.mean(_log_softmax(p)[np.arange(5), y])
    assert m.evaluate(x, y, verbose=0) == pytest.approx(want, rel=1e-5)


def test_label_smoothing_on_the_fused_softmax_equals_the_probability_form(rng):
    x = rng.standard_normal((8, 3)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, 8)]
    m = _linear(activation="softmax")
    m.compile(optimizer="sgd", loss=L.CategoricalCrossentropy(label_smoothing=0.3))
    p = m.predict(x, verbose=0).astype(np.float64)
    want = np.mean(_cce_probs(y * 0.7 + 0.15, p))
    assert m.evaluate(x, y, batch_size=3, verbose=0) == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("name,make_y,act", [
    ("mape", lambda r: np.abs(r.standard_normal((9, 2))) + 0.5, None),
    ("msle", lambda r: np.abs(r.standard_normal((9, 2))), "softplus"),
    ("kld", lambda r: _softmax(r.standard_normal((9, 2))), "softmax"),
    ("poisson", lambda r: np.abs(r.standard_normal((9, 2))), "softplus"),
    ("log_cosh", lambda r: r.standard_normal((9, 2)), None),
    ("squared_hinge", lambda r: (r.random((9, 2)) > 0.5).astype(float), "tanh"),
    ("categorical_hinge", lambda r: np.eye(2)[r.integers(0, 2, 9)], None),
    ("binary_focal_crossentropy", lambda r: (r.random((9, 2)) > 0.5).astype(float), "sigmoid"),
])
def test_evaluate_by_name_equals_the_function_mean(rng, name, make_y, act):
    x = rng.standard_normal((9, 3)).astype(np.float32)
    y = make_y(rng).astype(np.float32)
    m = _linear(activation=act)
    m.compile(optimizer="sgd", loss=name)
    p = m.predict(x, verbose=0)
    fn = L.get(name)
    want = float(np.mean(_np(type(fn).fn(y, p))))
    assert m.evaluate(x, y, batch_size=4, verbose=0) == pytest.approx(want, rel=1e-4, abs=1e-6)


def test_a_per_sample_loss_cannot_be_compiled():
    m = _linear()
    with pytest.raises(ValueError, match="reduction='none'"):
        m.compile(optimizer="sgd", loss=L.MeanSquaredError(reduction="none"))
        m.fit(np.zeros((2, 3), np.float32), np.zeros((2, 2), np.float32), verbose=0)
