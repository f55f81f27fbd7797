"""dptrain.regularizers and dptrain.constraints (Keras 3's formulas, names, configs) and the layer
protocol the train step calls: `regularization_losses()` and `apply_constraints()`."""
import numpy as np
import pytest

import dptrain as dt
from dptrain import constraints as C
from dptrain import initializers as I
from dptrain import layers as L
from dptrain import regularizers as R
from engine import gradcheck
from engine.autograd import grad_tape, run_backward
from engine.tensor import Tensor, param

EPS = 1e-7   # keras.config.epsilon()


def _value(t):
    assert isinstance(t, Tensor) and t.shape == ()
    return float(t.item())


# --- regularizers -------------------------------------------------------------------------------
def test_regularizer_values_match_numpy(rng):
    x = rng.standard_normal((4, 5))
    t = param(x)
    assert _value(R.L1(0.3)(t)) == pytest.approx(np.float32(0.3) * np.abs(x).sum(), rel=1e-12)  # float32 l1
    assert _value(R.L2(0.3)(t)) == pytest.approx(0.3 * (x ** 2).sum(), rel=1e-12)     # no 1/2
    assert _value(R.L1L2(0.1, 0.2)(t)) == pytest.approx(0.1 * np.abs(x).sum() + 0.2 * (x ** 2).sum(), rel=1e-12)
    assert _value(R.L1L2(l2=0.2)(t)) == pytest.approx(0.2 * (x ** 2).sum(), rel=1e-12)
    assert _value(R.L1L2()(t)) == 0.0
    assert _value(R.L2(2.0)(np.ones((5, 5), np.float32))) == 50.0      # Keras' docstring example
    assert R.L2()(param(x.astype(np.float32))).dtype == np.float32


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_orthogonal_regularizer_matches_numpy(rng, mode):
    x = rng.standard_normal((4, 6))
    axis = 1 if mode == "rows" else 0
    xn = x / np.linalg.norm(x, axis=axis, keepdims=True)
    g = xn @ xn.T if mode == "rows" else xn.T @ xn
    n = g.shape[0]
    want = 0.05 * 0.5 * np.abs(g - np.diag(np.diag(g))).sum() / (n * (n - 1) / 2)
    assert _value(R.OrthogonalRegularizer(0.05, mode)(param(x))) == pytest.approx(want, rel=1e-6)
    with pytest.raises(ValueError, match="rank 2"):
        R.OrthogonalRegularizer()(param(np.ones((2, 2, 2))))


@pytest.mark.parametrize("reg", [R.L1(0.3), R.L2(0.7), R.L1L2(0.2, 0.4), R.OrthogonalRegularizer(0.5),
                                 R.OrthogonalRegularizer(0.5, "columns")], ids=lambda r: repr(r))
def test_regularizer_gradients_by_finite_differences(rng, reg):
    x = rng.standard_normal((3, 4))
    x[np.abs(x) < 0.05] = 0.3              # |x| has no derivative at 0
    assert gradcheck(reg, [x])


def test_regularizer_names_configs_and_errors():
    assert isinstance(R.get("l1"), R.L1) and R.get("l1").l1 == pytest.approx(0.01)
    assert isinstance(R.get("L2"), R.L2) and R.get("L2").l2 == 0.01
    assert R.get("l1_l2").get_config() == {"l1": 0.01, "l2": 0.01}     # as Keras documents the name
    assert R.get("l1l2").get_config() == {"l1": 0.0, "l2": 0.0}        # as keras.regularizers.get gives
    assert isinstance(R.get("orthogonal_regularizer"), R.OrthogonalRegularizer)
    assert R.get(None) is None
    r = R.L2(0.5)
    assert R.get(r) is r and isinstance(R.get(R.L1), R.L1)
    fn = lambda w: 0.0     # noqa: E731
    assert R.get(fn) is fn
    assert R.get({"class_name": "L1L2", "config": {"l1": 0.5, "l2": 0.25}}).get_config() == {"l1": 0.5, "l2": 0.25}
    assert R.L1(0.1).get_config() == {"l1": float(np.float32(0.1))}   # Keras keeps l1 as float32
    for reg in [R.L1(0.2), R.L2(0.3), R.L1L2(0.1, 0.2), R.OrthogonalRegularizer(0.1, "columns")]:
        clone = R.deserialize(R.serialize(reg))
        assert type(clone) is type(reg) and clone.get_config() == reg.get_config()
    assert R.serialize(R.L2(0.5)) == {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.5},
                                      "registered_name": None}
    assert R.l1 is R.L1 and R.l2 is R.L2 and R.l1_l2 is R.L1L2
    with pytest.raises(ValueError, match="l1 must be a non-negative float"):
        R.L1(-1.0)
    with pytest.raises(ValueError, match="l2 must be a non-negative float"):
        R.L1L2(l2=float("nan"))
    with pytest.raises(ValueError, match=r"unknown regularizer 'l3'"):
        R.get("l3")


# --- constraints --------------------------------------------------------------------------------
def _norms(w, axis):
    return np.sqrt((w.astype(np.float64) ** 2).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("axis", [0, 1, [0, 1, 2]])
def test_constraint_formulas(rng, axis):
    w = (rng.standard_normal((3, 3, 4, 5)) * 2).astype(np.float32)
    w[..., 0] = 0.0                                      # a zero filter: epsilon keeps it finite (0)
    ax = tuple(axis) if isinstance(axis, list) else axis
    n = _norms(w, ax)
    cases = [(C.MaxNorm(1.5, axis), w * np.clip(n, 0, 1.5) / (EPS + n)),
             (C.UnitNorm(axis), w / (EPS + n)),
             (C.MinMaxNorm(0.5, 1.5, 0.3, axis), w * (0.3 * np.clip(n, 0.5, 1.5) + 0.7 * n) / (EPS + n)),
             (C.NonNeg(), np.maximum(w, 0))]
    for con, want in cases:
        got = con(w)
        assert got.shape == w.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, err_msg=repr(con))
    assert np.all(_norms(C.MaxNorm(1.5, axis)(w), ax) <= 1.5 * (1 + 1e-6))
    small = w * 1e-3                                     # under max_value: unchanged but for epsilon
    np.testing.assert_allclose(C.MaxNorm(2.0, axis)(small), small, rtol=1e-3)


def test_constraint_names_configs_and_errors():
    for name, cls in [("max_norm", C.MaxNorm), ("MaxNorm", C.MaxNorm), ("non_neg", C.NonNeg),
                      ("unit_norm", C.UnitNorm), ("min_max_norm", C.MinMaxNorm), ("MinMaxNorm", C.MinMaxNorm)]:
        assert type(C.get(name)) is cls
    assert C.MaxNorm().get_config() == {"max_value": 2, "axis": 0}
    assert C.MinMaxNorm().get_config() == {"min_value": 0.0, "max_value": 1.0, "rate": 1.0, "axis": 0}
    assert C.UnitNorm().get_config() == {"axis": 0} and C.NonNeg().get_config() == {}
    for con in [C.MaxNorm(3, [0, 1]), C.NonNeg(), C.UnitNorm(1), C.MinMaxNorm(0.1, 0.9, 0.5, 1)]:
        clone = C.deserialize(C.serialize(con))
        assert type(clone) is type(con) and clone.get_config() == con.get_config()
    assert C.serialize(C.NonNeg()) == {"module": "keras.constraints", "class_name": "NonNeg", "config": {},
                                       "registered_name": None}
    assert C.get(None) is None and isinstance(C.get(C.NonNeg), C.NonNeg)
    with pytest.raises(ValueError, match=r"unknown constraint 'maxnorm'.*Did you mean '(max_norm|MaxNorm)'"):
        C.get("maxnorm")


# --- the layer protocol ---------------------------------------------------------------------------
def test_keras_docstring_example():
    layer = L.Dense(5, kernel_initializer="ones", kernel_regularizer=R.L1(0.01),
                    activity_regularizer=R.L2(0.01))
    layer(np.ones((5, 5), np.float32) * 2.0)
    # Keras' order: activity 0.01 * sum(10^2 over 25) / batch 5 = 5.0, then kernel 0.01 * 25 = 0.25
    assert [_value(p) for p in layer.regularization_losses()] == pytest.approx([5.0, 0.25], rel=1e-6)
    assert [_value(p) for p in layer.losses] == [_value(p) for p in layer.regularization_losses()]


def _layers(rng):
    """(layer, input, {weight name: regularizer}) for every layer with weights."""
    r1, r2, r12 = R.L1(0.02), R.L2(0.03), R.L1L2(0.01, 0.04)
    return [
        (L.Dense(4, activation="tanh", kernel_regularizer=r1, bias_regularizer=r2, activity_regularizer=r12),
         rng.standard_normal((6, 3)), {"kernel": r1, "bias": r2}),
        (L.Conv2D(3, 2, activation="relu", kernel_regularizer=r12, bias_regularizer=r1, activity_regularizer=r2),
         rng.standard_normal((2, 5, 4, 2)), {"kernel": r12, "bias": r1}),
        (L.Conv1D(3, 2, kernel_regularizer=r2, activity_regularizer=r1), rng.standard_normal((3, 6, 2)),
         {"kernel": r2}),
        (L.Embedding(7, 3, embeddings_regularizer=r2, activity_regularizer=r2), rng.integers(0, 7, (4, 5)),
         {"embeddings": r2}),
        (L.LSTM(3, kernel_regularizer=r1, recurrent_regularizer=r2, bias_regularizer=r12, activity_regularizer=r2),
         rng.standard_normal((2, 4, 3)), {"kernel": r1, "recurrent_kernel": r2, "bias": r12}),
        (L.GRU(3, return_sequences=True, kernel_regularizer=r12, recurrent_regularizer=r1, bias_regularizer=r2,
               activity_regularizer=r1), rng.standard_normal((2, 4, 3)),
         {"kernel": r12, "recurrent_kernel": r1, "bias": r2}),
    ]


def _np_penalty(reg, w):
    w = w.astype(np.float64)
    l1 = getattr(reg, "l1", 0.0)
    l2 = getattr(reg, "l2", 0.0)
    return l1 * np.abs(w).sum() + l2 * (w ** 2).sum()


@pytest.mark.parametrize("index", range(6), ids=["Dense", "Conv2D", "Conv1D", "Embedding", "LSTM", "GRU"])
def test_regularization_losses_match_numpy(rng, index):
    layer, x, regs = _layers(rng)[index]
    x = x if x.dtype.kind == "i" else x.astype(np.float32)
    layer(x)
    layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in layer.get_weights()])
    y = layer(x).numpy()
    weights = {w.name.split("/")[-1]: a for w, a in zip(layer.weights, layer.get_weights())}
    want = [_np_penalty(layer.activity_regularizer, y) / y.shape[0]]      # Keras divides by the batch
    want += [_np_penalty(reg, weights[name]) for name, reg in regs.items()]
    got = [_value(p) for p in layer.regularization_losses()]
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize("index", range(6), ids=["Dense", "Conv2D", "Conv1D", "Embedding", "LSTM", "GRU"])
def test_penalty_gradient_reaches_the_weights(rng, index):
    layer, x, regs = _layers(rng)[index]
    x = x if x.dtype.kind == "i" else x.astype(np.float32)
    layer(x)
    with grad_tape():
        losses = layer.regularization_losses()[1:]        # the weight penalties (the activity one first)
        total = losses[0]
        for p in losses[1:]:
            total = total + p
    run_backward(total)
    for w in layer.weights:
        name = w.name.split("/")[-1]
        a = w.numpy().astype(np.float64)
        reg = regs.get(name)
        if reg is None:                                   # not regularised: no gradient from the penalty
            assert w.grad is None or not np.asarray(w.grad).any()
            continue
        want = getattr(reg, "l1", 0.0) * np.sign(a) + 2 * getattr(reg, "l2", 0.0) * a
        np.testing.assert_allclose(np.asarray(w.grad), want, rtol=1e-5, atol=1e-7, err_msg=name)


def test_weight_penalty_gradient_by_finite_differences(rng):
    layer = L.Dense(3, kernel_regularizer=R.L2(0.2), bias_regularizer=R.L2(0.5))
    layer(np.zeros((1, 4), np.float32))
    k, b = layer.get_weights()
    with grad_tape():
        p = layer.regularization_losses()
        total = p[0] + p[1]
    run_backward(total)
    analytic = np.asarray(layer.kernel.grad).copy()
    numeric = np.zeros_like(k, dtype=np.float64)
    h = 1e-2                                               # exact for a quadratic, up to rounding
    for idx in np.ndindex(k.shape):
        vals = []
        for s in (h, -h):
            kk = k.copy()
            kk[idx] += s
            layer.set_weights([kk, b])
            vals.append(sum(_value(q) for q in layer.regularization_losses()))
        numeric[idx] = (vals[0] - vals[1]) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("act", ["tanh", "softmax", None])
def test_activity_penalty_gradient_by_finite_differences(rng, act):
    layer = L.Dense(3, activation=act, activity_regularizer=R.L1L2(0.1, 0.2))
    x = rng.standard_normal((4, 5))
    layer(x.astype(np.float32))

    def penalty(x):
        layer(x, training=True)
        return layer.regularization_losses()[0]
    assert gradcheck(penalty, [x])


def test_activity_penalty_is_taken_after_the_activation_also_from_pre_activation(rng):
    # the train step may call pre_activation alone (softmax fused with its crossentropy)
    layer = L.Dense(3, activation="softmax", activity_regularizer=R.L2(1.0))
    x = rng.standard_normal((4, 5)).astype(np.float32)
    y = layer(x).numpy()
    want = (y.astype(np.float64) ** 2).sum() / 4
    assert _value(layer.regularization_losses()[0]) == pytest.approx(want, rel=1e-5)
    layer(x * 0)                                           # another call replaces the penalty
    logits = layer.pre_activation(dt.ag.as_tensor(x))
    assert logits.shape == (4, 3)
    assert _value(layer.regularization_losses()[0]) == pytest.approx(want, rel=1e-5)


def test_the_activity_penalty_is_not_tracked_as_a_weight(rng):
    layer = L.Dense(3, activity_regularizer="l2", kernel_regularizer="l1")
    model = dt.Sequential([dt.Input((4,)), layer])
    with grad_tape():
        model(rng.standard_normal((2, 4)).astype(np.float32), training=True)
    assert layer.regularization_losses()[0].requires_grad
    assert [w.name for w in layer.weights] == [layer.name + "/kernel", layer.name + "/bias"]
    assert len(model.get_weights()) == 2 and model.count_params() == 15


def test_frozen_layer_has_no_weight_penalty_and_keeps_its_weights(rng):
    layer = L.Dense(3, kernel_regularizer="l2", kernel_constraint=C.MaxNorm(1e-3), trainable=False)
    layer(np.ones((2, 4), np.float32))
    before = layer.get_weights()
    assert layer.regularization_losses() == []            # Keras: trainable weights only
    layer.apply_constraints()
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)
    layer.trainable = True
    assert len(layer.regularization_losses()) == 1


def test_no_regularizers_no_losses():
    layer = L.Dense(2)
    layer(np.ones((1, 2), np.float32))
    assert layer.regularization_losses() == [] and layer.losses == []
    layer.apply_constraints()          # nothing to do


def test_custom_callable_regularizer_and_constraint(rng):
    layer = L.Dense(2, kernel_regularizer=lambda w: dt.ag.sum(dt.ag.mul(w, w)),
                    kernel_constraint=lambda w: np.clip(w, -0.1, 0.1))
    layer(np.ones((1, 3), np.float32))
    k = layer.get_weights()[0]
    assert _value(layer.regularization_losses()[0]) == pytest.approx((k.astype(np.float64) ** 2).sum(), rel=1e-5)
    layer.apply_constraints()
    np.testing.assert_array_equal(layer.get_weights()[0], np.clip(k, -0.1, 0.1))
    with pytest.raises(TypeError, match="cannot serialise"):
        layer.get_config()


def _constrained_layers():
    return [
        (L.Dense(4, kernel_constraint=C.MaxNorm(0.5), bias_constraint=C.NonNeg()), (3,)),
        (L.Conv2D(3, 2, kernel_constraint=C.MaxNorm(0.5, axis=[0, 1, 2]), bias_constraint="non_neg"), (5, 5, 2)),
        (L.Conv1D(3, 2, kernel_constraint=C.UnitNorm(axis=[0, 1])), (6, 2)),
        (L.Embedding(6, 3, embeddings_constraint=C.UnitNorm(axis=1)), (2,)),
        (L.LSTM(2, kernel_constraint=C.MinMaxNorm(0.5, 1.0), recurrent_constraint=C.MaxNorm(0.3),
                bias_constraint=C.NonNeg()), (3, 2)),
        (L.GRU(2, kernel_constraint="unit_norm", recurrent_constraint=C.NonNeg(), bias_constraint=C.MaxNorm(0.1)),
         (3, 2)),
    ]


@pytest.mark.parametrize("index", range(6), ids=["Dense", "Conv2D", "Conv1D", "Embedding", "LSTM", "GRU"])
def test_apply_constraints_projects_in_place_as_numpy(rng, index):
    layer, shape = _constrained_layers()[index]
    dtype = np.int32 if isinstance(layer, L.Embedding) else np.float32
    layer(np.zeros((1,) + shape, dtype))
    values = [(rng.standard_normal(w.shape) * 2).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(values)
    tensors = [w.data for w in layer.weights]
    layer.apply_constraints()
    names = [w.name.split("/")[-1] for w in layer.weights]
    for name, w, before, after in zip(names, layer.weights, values, layer.get_weights()):
        con = getattr(layer, ("recurrent" if name == "recurrent_kernel" else name) + "_constraint")
        want = before if con is None else con(before)
        np.testing.assert_allclose(after, want, rtol=1e-6, err_msg=name)
    assert all(w.data is t for w, t in zip(layer.weights, tensors))      # the same buffers, written into


def test_layer_configs_round_trip_and_are_keras_style():
    layer = L.Dense(3, kernel_initializer=I.HeNormal(seed=2), bias_initializer=I.Constant(0.1),
                    kernel_regularizer="l2", bias_regularizer=R.L1(0.5), activity_regularizer=R.L1L2(0.1, 0.2),
                    kernel_constraint="max_norm", bias_constraint=C.NonNeg())
    cfg = layer.get_config()
    assert cfg["kernel_initializer"] == {"module": "keras.initializers", "class_name": "HeNormal",
                                         "config": {"seed": 2, "input_axes": None, "output_axes": None},
                                         "registered_name": None}
    assert cfg["kernel_regularizer"]["class_name"] == "L2" and cfg["kernel_regularizer"]["config"] == {"l2": 0.01}
    assert cfg["kernel_constraint"]["config"] == {"max_value": 2, "axis": 0}
    assert cfg["activity_regularizer"]["config"] == {"l1": 0.1, "l2": 0.2}
    clone = L.Dense.from_config(cfg)
    assert clone.get_config() == {**cfg, "name": cfg["name"]}
    assert isinstance(clone.kernel_initializer, I.HeNormal) and clone.kernel_initializer.seed == 2
    assert isinstance(clone.bias_constraint, C.NonNeg) and clone.bias_regularizer.l1 == layer.bias_regularizer.l1
    plain = L.Dense(3).get_config()
    assert plain["kernel_initializer"]["class_name"] == "GlorotUniform"
    assert plain["bias_initializer"]["class_name"] == "Zeros"
    assert [plain[k] for k in ("kernel_regularizer", "bias_regularizer", "kernel_constraint",
                               "bias_constraint")] == [None] * 4
    assert "activity_regularizer" not in plain            # as Keras' Dense: listed only when set
    assert "activity_regularizer" in L.Conv2D(2, 3).get_config()


@pytest.mark.parametrize("make", [
    lambda: L.Conv2D(2, 3, kernel_regularizer="l1", bias_constraint="non_neg", kernel_initializer="he_uniform"),
    lambda: L.Conv1D(2, 3, activity_regularizer="l2", kernel_constraint=C.MaxNorm(1.0, [0, 1])),
    lambda: L.Embedding(5, 2, embeddings_initializer="glorot_normal", embeddings_regularizer="l2",
                        embeddings_constraint="unit_norm", activity_regularizer="l1"),
    lambda: L.LSTM(2, recurrent_initializer="glorot_uniform", bias_initializer="ones", unit_forget_bias=False,
                   recurrent_regularizer="l2", recurrent_constraint="max_norm", use_bias=True),
    lambda: L.GRU(2, kernel_initializer=I.Orthogonal(gain=0.5), bias_regularizer=R.L1L2(0.1), use_bias=False),
], ids=["Conv2D", "Conv1D", "Embedding", "LSTM", "GRU"])
def test_other_layers_config_round_trip(make):
    layer = make()
    cfg = layer.get_config()
    assert type(layer).from_config(cfg).get_config() == cfg


def test_save_load_round_trip_keeps_weight_arguments(tmp_path, rng):
    model = dt.Sequential([
        dt.Input((6, 3)),
        L.Conv1D(4, 2, kernel_initializer=I.LecunNormal(seed=1), kernel_regularizer=R.L2(0.1),
                 kernel_constraint=C.MaxNorm(1.5, [0, 1])),
        L.LSTM(3, return_sequences=True, recurrent_regularizer="l1", bias_constraint="non_neg"),
        L.GRU(2, activity_regularizer=R.L1L2(0.1, 0.1)),
        L.Dense(2, activation="softmax", kernel_regularizer="l2", bias_initializer=I.Constant(0.2)),
    ])
    x = rng.standard_normal((5, 6, 3)).astype(np.float32)
    path = tmp_path / "m.dpt"
    model.save(path)
    loaded = dt.load_model(path)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    conv, lstm, gru, dense = loaded.layers
    assert isinstance(conv.kernel_initializer, I.LecunNormal) and conv.kernel_regularizer.l2 == 0.1
    assert conv.kernel_constraint.get_config() == {"max_value": 1.5, "axis": [0, 1]}
    assert isinstance(lstm.bias_constraint, C.NonNeg) and isinstance(gru.activity_regularizer, R.L1L2)
    loaded(x)
    model(x)
    np.testing.assert_allclose([_value(p) for layer in loaded.layers for p in layer.regularization_losses()],
                               [_value(p) for layer in model.layers for p in layer.regularization_losses()],
                               rtol=1e-6)


def test_use_bias_false_recurrent_equals_zero_bias(rng):
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    for cls in (L.LSTM, L.GRU):
        nob = cls(3, use_bias=False, return_sequences=True)
        nob(x)
        assert len(nob.get_weights()) == 2 and nob.bias is None
        ref = cls(3, bias_initializer="zeros", unit_forget_bias=False, return_sequences=True) if cls is L.LSTM \
            else cls(3, return_sequences=True)
        ref(x)
        ref.set_weights(nob.get_weights() + [np.zeros_like(ref.get_weights()[2])])
        np.testing.assert_allclose(nob(x).numpy(), ref(x).numpy(), rtol=1e-6, atol=1e-7)


def test_conv_unimplemented_arguments_raise_naming_the_layer():
    with pytest.raises(NotImplementedError, match=r"Conv2D layer 'c'.*channels_first"):
        L.Conv2D(2, 3, data_format="channels_first", name="c")
    # dilation_rate, groups and Conv1D's padding="causal" are implemented: test_conv_variant_layers.py
    with pytest.raises(ValueError, match=r"Conv2D layer.*padding must be 'valid' or 'same'"):
        L.Conv2D(2, 3, padding="causal")
    cfg = L.Conv2D(2, 3).get_config()
    assert (cfg["data_format"], cfg["dilation_rate"], cfg["groups"]) == ("channels_last", [1, 1], 1)


def test_bad_regularizer_and_constraint_names_the_layer():
    with pytest.raises(ValueError, match=r"Embedding layer 'e'.*embeddings_regularizer.*unknown regularizer"):
        L.Embedding(3, 2, embeddings_regularizer="l3", name="e")
    with pytest.raises(ValueError, match=r"GRU layer 'g'.*bias_constraint.*unknown constraint"):
        L.GRU(2, bias_constraint="positive", name="g")
