"""Activation functions by name (`activation="..."`) and the activation layers (Identity, ReLU,
LeakyReLU, PReLU, ELU, Softmax): float64 numpy references written from Keras 3's formulas,
symbolic and eager shapes, configs, save/load, gradients and argument errors."""
import math

import numpy as np
import pytest

import dptrain as dt
from dptrain import layers as L
from dptrain.layers import activations as A
from engine import gradcheck
from engine.tensor import as_tensor

SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
_erf = np.vectorize(math.erf)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _glu(x):
    n = x.shape[-1] // 2
    return x[..., :n] * _sigmoid(x[..., n:])


# Keras 3's definitions (keras/src/activations/activations.py), in float64.
REF = {
    "celu": lambda x: np.where(x >= 0, x, np.expm1(x)),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "exponential": np.exp,
    "gelu": lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))),
    "glu": _glu,
    "hard_shrink": lambda x: np.where(np.abs(x) > 0.5, x, 0.0),
    "hard_sigmoid": lambda x: np.where(x <= -3, 0.0, np.where(x >= 3, 1.0, x / 6 + 0.5)),
    "hard_silu": lambda x: np.where(x < -3, 0.0, np.where(x > 3, x, x * (x + 3) / 6)),
    "hard_swish": lambda x: np.where(x < -3, 0.0, np.where(x > 3, x, x * (x + 3) / 6)),
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    "linear": lambda x: x,
    "log_sigmoid": lambda x: -np.logaddexp(0, -x),
    "log_softmax": lambda x: np.log(_softmax(x)),
    "mish": lambda x: x * np.tanh(np.logaddexp(0, x)),
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
    "sigmoid": _sigmoid,
    "silu": lambda x: x * _sigmoid(x),
    "swish": lambda x: x * _sigmoid(x),
    "soft_shrink": lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0.0)),
    "softmax": _softmax,
    "softplus": lambda x: np.logaddexp(0, x),
    "softsign": lambda x: x / (np.abs(x) + 1),
    "sparse_plus": lambda x: np.where(x <= -1, 0.0, np.where(x < 1, (x + 1) ** 2 / 4, x)),
    "sparse_sigmoid": lambda x: np.where(x <= -1, 0.0, np.where(x >= 1, 1.0, 0.5 * (x + 1))),
    "squareplus": lambda x: (x + np.sqrt(x * x + 4)) / 2,
    "tanh": np.tanh,
    "tanh_shrink": lambda x: x - np.tanh(x),
}


def _x(rng, shape=(3, 4), scale=3.0):
    return rng.standard_normal(shape) * scale


def _call64(fn, x):
    return fn(as_tensor(np.asarray(x, np.float64))).numpy()


# --- activation functions by name ---------------------------------------------------------------
def test_every_name_has_a_reference():
    assert set(A.NAMES) == set(REF)
    for name in ("elu", "selu", "softplus", "softsign", "swish", "leaky_relu", "relu6", "hard_sigmoid",
                 "hard_silu", "hard_swish", "exponential", "log_softmax", "mish", "gelu", "linear"):
        assert name in A.NAMES


@pytest.mark.parametrize("name", sorted(REF))
def test_activation_forward_matches_keras_formula(rng, name):
    _, fn = A.get(name, "test")
    x = _x(rng, (4, 6))
    x[0, :] = [-7.0, -3.5, -0.75, 0.25, 2.5, 7.0]   # every piece of the piecewise ones
    got = x if fn is None else _call64(fn, x)
    np.testing.assert_allclose(got, REF[name](x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(n for n in REF if n != "linear"))
def test_activation_gradient_matches_finite_differences(rng, name):
    _, fn = A.get(name, "test")
    x = _x(rng, (2, 4), scale=2.0)
    assert gradcheck(fn, [x])


@pytest.mark.parametrize("name", ["softplus", "log_sigmoid", "mish", "elu", "selu", "celu", "softsign", "sigmoid"])
def test_activation_is_stable_at_large_magnitudes(name):
    _, fn = A.get(name, "test")
    x = np.array([-200.0, -80.0, -30.0, 30.0, 80.0, 200.0])
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-6)):
        got = fn(as_tensor(x.astype(dtype))).numpy()
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, REF[name](x), rtol=tol, atol=tol)


def test_relu_function_arguments_match_keras_formula(rng):
    x = _x(rng, (5, 8))
    x[0] = [0.0, 0.5, -0.5, 1.5, 6.0, -6.0, 1e-40, -1e-40]   # on the threshold, subnormals
    for slope in (0.0, 0.1):
        for max_value in (None, 6.0, 2.5):
            for threshold in (0.0, 0.5, 1.5):
                got = _call64(lambda t: A.relu(t, slope, max_value, threshold), x)
                keep = np.minimum(x, max_value) if max_value is not None else x
                want = np.where(x > threshold, keep, slope * (x - threshold))
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)
                assert gradcheck(lambda t: A.relu(t, slope, max_value, threshold), [x[1:]])


def test_greater_mask_is_exact_for_subnormals_and_zero():
    for dtype in (np.float32, np.float64):
        tiny = np.finfo(dtype).smallest_subnormal
        x = np.array([-1.0, -tiny, 0.0, tiny, 1e-30, 1.0, 3e38], dtype)
        np.testing.assert_array_equal(A.greater_mask(as_tensor(x)).numpy(), (x > 0).astype(dtype))
        np.testing.assert_array_equal(A.greater_mask(as_tensor(x), 1.0).numpy(), (x > 1).astype(dtype))


def test_softmax_function_over_several_axes(rng):
    x = _x(rng, (2, 3, 4))
    got = _call64(lambda t: A.softmax(t, axis=[1, 2]), x)
    e = np.exp(x - x.max(axis=(1, 2), keepdims=True))
    np.testing.assert_allclose(got, e / e.sum(axis=(1, 2), keepdims=True), rtol=1e-12)
    assert gradcheck(lambda t: A.softmax(t, axis=(1, 2)), [x])


def test_get_canonical_names_aliases_and_functions():
    assert A.get("swish", "t")[0] == "silu"          # Keras serialises the function's own name
    assert A.get("hard_swish", "t")[0] == "hard_silu"
    assert A.get("ELU", "t")[0] == "elu"
    assert A.get(None, "t") == ("linear", None)
    assert A.get("linear", "t") == ("linear", None)
    assert A.get(A.elu, "t") == ("elu", A.elu)
    assert A.get(A.linear, "t") == ("linear", None)
    assert A.get(A.swish, "t")[0] == "silu"


def test_get_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"Dense layer 'd'.*unknown activation 'relu7'.*relu6"):
        L.Dense(2, activation="relu7", name="d")
    with pytest.raises(NotImplementedError, match=r"Dense layer 'd2'.*sparsemax"):
        L.Dense(2, activation="sparsemax", name="d2")
    with pytest.raises(TypeError, match=r"Dense layer 'd3'.*activation must be a name"):
        L.Dense(2, activation=lambda x: x, name="d3")


@pytest.mark.parametrize("name", ["elu", "selu", "softplus", "softsign", "swish", "leaky_relu", "relu6",
                                  "hard_sigmoid", "hard_silu", "exponential", "log_softmax", "mish", "gelu"])
def test_dense_activation_by_name_eager_symbolic_and_saved(rng, tmp_path, name):
    model = dt.Sequential([dt.Input((3,)), L.Dense(4, activation=name)])
    x = rng.standard_normal((5, 3)).astype(np.float32)
    k, b = model.get_weights()
    b = rng.standard_normal(4).astype(np.float32)
    model.set_weights([k, b])
    y = model.predict(x, verbose=0)
    np.testing.assert_allclose(y, REF[name](x.astype(np.float64) @ k + b), rtol=2e-5, atol=2e-6)
    assert model.output_shape == (None, 4)
    assert model.layers[-1].get_config()["activation"] == A.get(name, "t")[0]
    model.save(tmp_path / "m.dpt")
    np.testing.assert_array_equal(dt.load_model(tmp_path / "m.dpt").predict(x, verbose=0), y)


# --- the layers ---------------------------------------------------------------------------------
def _relu_ref(x, max_value=None, negative_slope=0.0, threshold=0.0):
    keep = x if max_value is None else np.minimum(x, max_value)
    return np.where(x > threshold, keep, negative_slope * (x - threshold))


def _prelu_ref(x, alpha):
    return np.where(x > 0, x, alpha * x)


LAYERS = [
    (lambda: L.Identity(), lambda x: x),
    (lambda: L.ReLU(), lambda x: _relu_ref(x)),
    (lambda: L.ReLU(max_value=6.0), lambda x: _relu_ref(x, 6.0)),
    (lambda: L.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.5), lambda x: _relu_ref(x, 1.0, 0.1, 0.5)),
    (lambda: L.ReLU(negative_slope=0.25), lambda x: _relu_ref(x, None, 0.25)),
    (lambda: L.LeakyReLU(), lambda x: np.where(x > 0, x, 0.3 * x)),
    (lambda: L.LeakyReLU(negative_slope=0.05), lambda x: np.where(x > 0, x, 0.05 * x)),
    (lambda: L.ELU(), lambda x: np.where(x > 0, x, np.expm1(x))),
    (lambda: L.ELU(alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    (lambda: L.Softmax(), lambda x: _softmax(x, -1)),
    (lambda: L.Softmax(axis=1), lambda x: _softmax(x, 1)),
    (lambda: L.Softmax(axis=[1, 2]), lambda x: _softmax(x, (1, 2))),
    (lambda: L.PReLU(alpha_initializer=dt.initializers.Constant(0.25)), lambda x: _prelu_ref(x, 0.25)),
]
IDS = ["identity", "relu", "relu6", "relu_all", "relu_slope", "leaky", "leaky_005", "elu", "elu_05",
       "softmax", "softmax_axis1", "softmax_axes", "prelu"]


@pytest.mark.parametrize("make,ref", LAYERS, ids=IDS)
def test_layer_forward_float64_and_shapes(rng, make, ref):
    x = _x(rng, (2, 3, 4))
    layer = make()
    y = layer(as_tensor(x))
    np.testing.assert_allclose(y.numpy(), ref(x), rtol=1e-12, atol=1e-12)
    assert tuple(layer(x.astype(np.float32)).shape) == (2, 3, 4)
    sym = make()(dt.Input((3, 4)))
    assert sym.shape == (None, 3, 4)


@pytest.mark.parametrize("make,ref", LAYERS, ids=IDS)
def test_layer_config_round_trip(make, ref):
    layer = make()
    layer(np.zeros((1, 3, 4), np.float32))
    config = layer.get_config()
    again = type(layer).from_config(config)
    assert again.get_config() == config
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    again(x)
    again.set_weights(layer.get_weights())
    np.testing.assert_array_equal(again(x).numpy(), layer(x).numpy())


@pytest.mark.parametrize("make,ref", LAYERS, ids=IDS)
def test_layer_gradient(rng, make, ref):
    layer = make()
    x = _x(rng, (2, 3, 4), scale=2.0)
    assert gradcheck(lambda t: layer(t), [x])


@pytest.mark.parametrize("make,ref", LAYERS, ids=IDS)
def test_layer_save_load_round_trip(rng, tmp_path, make, ref):
    inp = dt.Input((3, 4))
    out = L.Dense(2)(make()(L.Dense(4)(inp)))
    model = dt.Model(inp, out)
    weights = [rng.standard_normal(w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(weights)
    x = rng.standard_normal((5, 3, 4)).astype(np.float32)
    y = model.predict(x, verbose=0)
    model.save(tmp_path / "m.dpt")
    loaded = dt.load_model(tmp_path / "m.dpt")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), y)
    assert [type(la).__name__ for la in loaded.layers] == [type(la).__name__ for la in model.layers]


def test_layer_defaults_match_keras():
    assert (L.ReLU().max_value, L.ReLU().negative_slope, L.ReLU().threshold) == (None, 0.0, 0.0)
    assert L.LeakyReLU().negative_slope == 0.3
    assert L.ELU().alpha == 1.0
    assert L.Softmax().axis == -1
    prelu = L.PReLU()
    assert prelu.shared_axes is None
    assert prelu.get_config()["alpha_initializer"]["class_name"] == "Zeros"
    assert L.PReLU().name.startswith("p_re_lu")      # Keras' default name


# --- PReLU's weight ---------------------------------------------------------------------------
def test_prelu_alpha_shape_shared_axes_and_forward(rng):
    layer = L.PReLU(shared_axes=[1, 2])
    out = layer(dt.Input((5, 6, 3)))
    assert out.shape == (None, 5, 6, 3)
    assert layer.alpha.shape == (1, 1, 3) and layer.count_params() == 3
    alpha = rng.standard_normal((1, 1, 3)).astype(np.float32)
    layer.set_weights([alpha])
    x = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)
    np.testing.assert_allclose(layer(x).numpy(), _prelu_ref(x, alpha), rtol=1e-6)
    assert L.PReLU(shared_axes=1)(dt.Input((4, 2))).node.layer.alpha.shape == (1, 2)
    full = L.PReLU()
    full(dt.Input((4, 2)))
    assert full.alpha.shape == (4, 2) and np.all(full.get_weights()[0] == 0)
    assert full.trainable_weights == [full.alpha]


def test_prelu_gradient_with_respect_to_input_and_alpha(rng):
    layer = L.PReLU(shared_axes=[1])
    layer(dt.Input((3, 4)))
    x = _x(rng, (2, 3, 4))
    alpha = rng.standard_normal((1, 4))

    def fn(t, a):
        object.__setattr__(layer, "alpha", a)     # a float64 alpha for the check, untracked
        return layer(t)
    saved = layer.alpha
    try:
        assert gradcheck(fn, [x, alpha])
    finally:
        object.__setattr__(layer, "alpha", saved)


def test_prelu_trains_its_alpha(rng):
    model = dt.Sequential([dt.Input((4,)), L.PReLU(alpha_initializer="ones")])
    model.compile(optimizer=dt.optimizers.SGD(learning_rate=0.5), loss="mse")
    x = -np.abs(rng.standard_normal((8, 4))).astype(np.float32)
    model.fit(x, 0.5 * x, epochs=1, batch_size=8, verbose=0)
    # d/d alpha of mean((alpha x - x/2)^2) = 2 mean_batch((alpha - 1/2) x^2) / 4 per feature
    want = 1.0 - 0.5 * 2 * np.mean(0.5 * x.astype(np.float64) ** 2, axis=0) / 4
    np.testing.assert_allclose(model.get_weights()[0], want, rtol=1e-5)


# --- argument and shape errors ------------------------------------------------------------------
@pytest.mark.parametrize("make,match", [
    (lambda: L.ReLU(max_value=-1.0, name="r"), r"ReLU layer 'r'.*max_value"),
    (lambda: L.ReLU(negative_slope=None, name="r"), r"ReLU layer 'r'.*negative_slope"),
    (lambda: L.ReLU(negative_slope=-0.1, name="r"), r"ReLU layer 'r'.*negative_slope"),
    (lambda: L.ReLU(threshold=-1.0, name="r"), r"ReLU layer 'r'.*threshold"),
    (lambda: L.LeakyReLU(negative_slope=-0.3, name="l"), r"LeakyReLU layer 'l'.*negative_slope"),
    (lambda: L.ELU(alpha="big", name="e"), r"ELU layer 'e'.*alpha"),
    (lambda: L.Softmax(axis="last", name="s"), r"Softmax layer 's'.*axis"),
    (lambda: L.PReLU(shared_axes=[0], name="p"), r"PReLU layer 'p'.*shared_axes"),
    (lambda: L.PReLU(alpha_initializer="no_such_init", name="p"), r"no_such_init"),
])
def test_argument_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_prelu_regularizer_and_constraint_are_not_implemented():
    with pytest.raises(NotImplementedError, match=r"PReLU layer 'p'.*alpha_regularizer"):
        L.PReLU(alpha_regularizer="l2", name="p")
    with pytest.raises(NotImplementedError, match=r"PReLU layer 'q'.*alpha_constraint"):
        L.PReLU(alpha_constraint="non_neg", name="q")


def test_prelu_shape_errors():
    with pytest.raises(ValueError, match=r"PReLU layer 'p'.*\(None, None, 3\)"):
        L.PReLU(name="p")(dt.Input((None, 3)))
    assert L.PReLU(shared_axes=[1])(dt.Input((None, 3))).shape == (None, None, 3)
    layer = L.PReLU(name="p2")
    layer(dt.Input((3, 4)))
    with pytest.raises(ValueError, match=r"PReLU layer 'p2'.*\(None, 3, 5\)"):
        layer(dt.Input((3, 5)))
    with pytest.raises(ValueError, match=r"PReLU layer 'p3'.*shared_axes"):
        L.PReLU(shared_axes=[3], name="p3")(dt.Input((3, 4)))


def test_softmax_mask_and_axis_are_checked():       # the mask's numbers: test_masking.py
    x = np.zeros((2, 3), np.float32)
    np.testing.assert_allclose(L.Softmax(name="s")(x, mask=np.array([[1, 1, 0], [1, 1, 1]], bool)).numpy(),
                               [[0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-7)
    with pytest.raises(ValueError, match=r"Softmax layer 's2'"):
        L.Softmax(axis=2, name="s2")(dt.Input((3,)))


def test_layer_keyword_typo_suggests_the_argument():
    with pytest.raises(TypeError, match="negative_slope"):
        L.LeakyReLU(negative_slop=0.1)
