"""LayerNormalization, GroupNormalization, UnitNormalization: float64 numpy references (Keras 3
formulas), shapes, configs, save/load, gradients, argument errors."""
import warnings

import numpy as np
import pytest

import dptrain as dt
from dptrain import ag
from dptrain.layers.normalization import GroupNormalization, LayerNormalization, UnitNormalization


# --- references (float64) ------------------------------------------------------------------
def layer_norm_ref(x, axes, gamma, beta, eps, rms=False):
    x = x.astype(np.float64)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    shape = [1] * x.ndim
    for a in axes:
        shape[a] = x.shape[a]
    y = (x if rms else x - mean) / np.sqrt(var + eps)
    if gamma is not None:
        y = y * gamma.reshape(shape)
    if beta is not None:
        y = y + beta.reshape(shape)
    return y


def group_norm_ref(x, groups, axis, gamma, beta, eps):
    x = np.moveaxis(x.astype(np.float64), axis, -1)
    c = x.shape[-1]
    g = x.reshape(x.shape[:-1] + (groups, c // groups))
    y = np.empty_like(g)
    for n in range(x.shape[0]):
        for k in range(groups):
            v = g[n, ..., k, :]
            y[n, ..., k, :] = (v - v.mean()) / np.sqrt(v.var() + eps)
    y = y.reshape(x.shape)
    if gamma is not None:
        y = y * gamma
    if beta is not None:
        y = y + beta
    return np.moveaxis(y, -1, axis)


def unit_norm_ref(x, axes):
    x = x.astype(np.float64)
    return x / np.maximum(np.sqrt((x * x).sum(axis=axes, keepdims=True)), 1e-12)


def _seeded(layer, x, rng):
    """Build on x, then give the layer random weights (so gamma/beta are not the trivial 1/0)."""
    layer(x)
    layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in layer.get_weights()])
    return layer.get_weights()


def _x(rng, *shape):
    return (rng.standard_normal(shape) * 2 + 0.5).astype(np.float32)


# --- LayerNormalization --------------------------------------------------------------------
LN_CASES = [({}, (4, 6), (1,)), ({}, (2, 3, 5), (2,)), ({"axis": [1, 2, 3]}, (2, 3, 4, 5), (1, 2, 3)),
            ({"axis": [2, -1]}, (2, 3, 4, 5), (2, 3)), ({"axis": [1, 3]}, (2, 3, 4, 5), (1, 3)),
            ({"axis": 1}, (2, 3, 4), (1,)), ({"axis": -2, "epsilon": 0.5}, (2, 3, 4), (1,)),
            ({"center": False}, (3, 5), (1,)), ({"scale": False}, (3, 5), (1,)),
            ({"center": False, "scale": False, "axis": [1, 2]}, (2, 3, 4), (1, 2)),
            ({"center": False, "scale": False, "axis": [1, 3]}, (2, 3, 4, 2), (1, 3))]


@pytest.mark.parametrize("kwargs,shape,axes", LN_CASES, ids=[str(c[0]) for c in LN_CASES])
def test_layer_norm_matches_numpy(rng, kwargs, shape, axes):
    layer = LayerNormalization(**kwargs)
    x = _x(rng, *shape)
    ws = _seeded(layer, x, rng)
    scale, center = kwargs.get("scale", True), kwargs.get("center", True)
    gamma = ws.pop(0) if scale else None
    beta = ws.pop(0) if center else None
    want = layer_norm_ref(x, axes, gamma, beta, kwargs.get("epsilon", 1e-3))
    np.testing.assert_allclose(layer(x).numpy(), want, rtol=1e-5, atol=1e-5)
    assert [tuple(w.shape) for w in layer.weights] == [tuple(shape[a] for a in axes)] * (scale + center)


def test_layer_norm_defaults_are_keras(rng):
    layer = LayerNormalization()
    assert (layer.axis, layer.epsilon, layer.center, layer.scale, layer.rms_scaling) == (-1, 1e-3, True, True, False)
    x = _x(rng, 3, 4)
    layer(x)
    gamma, beta = layer.get_weights()
    np.testing.assert_array_equal(gamma, np.ones(4))
    np.testing.assert_array_equal(beta, np.zeros(4))
    # epsilon 1e-3 (not torch's 1e-5) is what the output shows on a low-variance row
    x = np.array([[0.0, 0.02, 0.04, 0.06]], np.float32)
    np.testing.assert_allclose(layer(x).numpy(), layer_norm_ref(x, (1,), None, None, 1e-3), rtol=1e-5)


def test_layer_norm_rms_scaling_as_keras(rng):
    with pytest.warns(UserWarning, match="deprecated"):
        layer = LayerNormalization(rms_scaling=True, center=True)
    x = _x(rng, 3, 6)
    (gamma,) = _seeded(layer, x, rng)   # gamma only: Keras has no beta with rms_scaling
    np.testing.assert_allclose(layer(x).numpy(), layer_norm_ref(x, (1,), gamma, None, 1e-3, rms=True),
                               rtol=1e-5, atol=1e-5)


def test_layer_norm_initializer_names(rng):
    layer = LayerNormalization(beta_initializer="Ones", gamma_initializer="zeros")
    layer(_x(rng, 2, 3))
    gamma, beta = layer.get_weights()
    np.testing.assert_array_equal(gamma, np.zeros(3))
    np.testing.assert_array_equal(beta, np.ones(3))
    keras_style = {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": None}
    assert LayerNormalization(beta_initializer=keras_style).beta_initializer == "zeros"


# --- GroupNormalization --------------------------------------------------------------------
GN_CASES = [({"groups": 2}, (2, 6), -1), ({"groups": 4}, (2, 3, 8), -1), ({"groups": 2}, (2, 3, 4, 6), -1),
            ({"groups": -1}, (2, 3, 4, 6), -1), ({"groups": 1}, (2, 5, 4), -1),
            ({"groups": 3, "axis": 1}, (2, 6, 4, 2), 1), ({"groups": 2, "axis": -2}, (2, 3, 4, 5), 2),
            ({"groups": 2, "center": False}, (2, 3, 4), -1), ({"groups": 2, "scale": False, "epsilon": 0.1},
                                                               (2, 3, 4), -1)]


@pytest.mark.parametrize("kwargs,shape,axis", GN_CASES, ids=[str(c[0]) for c in GN_CASES])
def test_group_norm_matches_numpy(rng, kwargs, shape, axis):
    layer = GroupNormalization(**kwargs)
    x = _x(rng, *shape)
    ws = _seeded(layer, x, rng)
    scale, center = kwargs.get("scale", True), kwargs.get("center", True)
    gamma = ws.pop(0) if scale else None
    beta = ws.pop(0) if center else None
    groups = shape[axis] if kwargs["groups"] == -1 else kwargs["groups"]
    want = group_norm_ref(x, groups, axis, gamma, beta, kwargs.get("epsilon", 1e-3))
    np.testing.assert_allclose(layer(x).numpy(), want, rtol=1e-5, atol=1e-5)
    assert [tuple(w.shape) for w in layer.weights] == [(shape[axis],)] * (scale + center)


def test_group_norm_one_group_of_one_channel_each_is_instance_norm(rng):
    x = _x(rng, 2, 5, 3)
    y = GroupNormalization(groups=-1, center=False, scale=False)(x).numpy()
    want = (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


# --- UnitNormalization ---------------------------------------------------------------------
@pytest.mark.parametrize("axis,shape,axes", [(-1, (4, 5), (1,)), (1, (2, 3, 4), (1,)), ([1, 2], (2, 3, 4), (1, 2)),
                                             (0, (3, 2), (0,))])
def test_unit_norm_matches_numpy(rng, axis, shape, axes):
    x = _x(rng, *shape)
    y = UnitNormalization(axis=axis)(x).numpy()
    np.testing.assert_allclose(y, unit_norm_ref(x, axes), rtol=1e-5, atol=1e-6)


def test_unit_norm_of_zero_is_zero_and_of_tiny_is_capped():
    x = np.array([[0.0, 0.0], [3e-14, 4e-14]], np.float32)
    y = UnitNormalization()(x).numpy()
    np.testing.assert_array_equal(y[0], [0.0, 0.0])
    np.testing.assert_allclose(y[1], [3e-2, 4e-2], rtol=1e-5)   # / max(norm 5e-14, 1e-12)
    assert UnitNormalization().weights == []


# --- shapes, configs, save/load --------------------------------------------------------------
ALL = [lambda: LayerNormalization(), lambda: LayerNormalization(axis=[1, 2], epsilon=0.01, center=False),
       lambda: LayerNormalization(axis=[1, 3], scale=False, gamma_initializer="zeros"),
       lambda: GroupNormalization(groups=2), lambda: GroupNormalization(groups=-1, axis=1, scale=False),
       lambda: UnitNormalization(), lambda: UnitNormalization(axis=[1, 2])]
IDS = ["ln", "ln_axes", "ln_gap", "gn", "gn_instance_axis1", "unit", "unit_axes"]


@pytest.mark.parametrize("make", ALL, ids=IDS)
def test_output_shapes_symbolic_and_eager(rng, make):
    inp = dt.Input((3, 4, 6))
    out = make()(inp)
    assert tuple(out.shape) == (None, 3, 4, 6)
    assert make()(_x(rng, 2, 3, 4, 6)).numpy().shape == (2, 3, 4, 6)


@pytest.mark.parametrize("make", ALL, ids=IDS)
def test_config_round_trip(rng, make):
    layer = make()
    x = _x(rng, 2, 3, 4, 6)
    ws = _seeded(layer, x, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        twin = type(layer).from_config(layer.get_config())
    assert twin.get_config() == layer.get_config()
    twin(x)
    twin.set_weights(ws)
    np.testing.assert_array_equal(twin(x).numpy(), layer(x).numpy())


@pytest.mark.parametrize("make", ALL, ids=IDS)
def test_save_load_round_trip(tmp_path, rng, make):
    model = dt.Sequential([dt.Input((3, 4, 6)), dt.layers.Dense(6), make(), dt.layers.Flatten(),
                           dt.layers.Dense(2)])
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in model.get_weights()])
    x = _x(rng, 5, 3, 4, 6)
    model.save(tmp_path / "m.dpt")
    loaded = dt.load_model(tmp_path / "m.dpt")
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_exported_from_dt_layers():
    for name in ("BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization"):
        assert getattr(dt.layers, name) is getattr(dt.layers.normalization, name)


# --- gradients (float64 finite differences) ------------------------------------------------
def _affine_gradcheck(layer, x):
    names = [n for n in ("gamma", "beta") if getattr(layer, n) is not None]

    def fn(x, *ws):
        for n, w in zip(names, ws):
            setattr(layer, n, w)
        return layer.call(x)
    return ag.gradcheck(fn, [x.astype(np.float64)] + [getattr(layer, n).numpy().astype(np.float64) for n in names])


@pytest.mark.parametrize("kwargs", [{}, {"axis": [1, 2]}, {"axis": [1, 3]}, {"axis": 1, "center": False},
                                    {"rms_scaling": True}], ids=str)
def test_layer_norm_gradcheck(rng, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layer = LayerNormalization(**kwargs)
    x = _x(rng, 2, 3, 4, 2)
    _seeded(layer, x, rng)
    assert _affine_gradcheck(layer, x)


@pytest.mark.parametrize("kwargs", [{"groups": 2}, {"groups": -1, "scale": False}, {"groups": 3, "axis": 1}], ids=str)
def test_group_norm_gradcheck(rng, kwargs):
    layer = GroupNormalization(**kwargs)
    x = _x(rng, 2, 3, 2, 4)
    _seeded(layer, x, rng)
    assert _affine_gradcheck(layer, x)


@pytest.mark.parametrize("axis", [-1, [1, 2]], ids=str)
def test_unit_norm_gradcheck(rng, axis):
    layer = UnitNormalization(axis=axis)
    assert ag.gradcheck(lambda x: layer.call(x), [_x(rng, 2, 3, 4).astype(np.float64)])


def test_layer_norm_trains_in_a_model(rng):
    model = dt.Sequential([dt.Input((4, 6)), LayerNormalization(), dt.layers.Flatten(), dt.layers.Dense(1)])
    model.compile(optimizer=dt.optimizers.SGD(learning_rate=0.1), loss="mse")
    before = model.get_weights()
    model.fit(_x(rng, 8, 4, 6), rng.standard_normal((8, 1)), epochs=1, batch_size=8, verbose=0)
    after = model.get_weights()
    assert all(not np.array_equal(a, b) for a, b in zip(before, after))   # gamma and beta got gradients


# --- argument and shape errors -----------------------------------------------------------------
@pytest.mark.parametrize("make,exc,match", [
    (lambda: LayerNormalization(beta_initializer="random_normal"), NotImplementedError, "beta_initializer"),
    (lambda: LayerNormalization(gamma_initializer=dt.layers.Dense), NotImplementedError, "gamma_initializer"),
    (lambda: LayerNormalization(gamma_regularizer="l2"), NotImplementedError, "gamma_regularizer"),
    (lambda: LayerNormalization(beta_constraint="non_neg"), NotImplementedError, "beta_constraint"),
    (lambda: GroupNormalization(gamma_constraint="max_norm"), NotImplementedError, "gamma_constraint"),
    (lambda: GroupNormalization(beta_initializer="glorot_uniform"), NotImplementedError, "beta_initializer"),
    (lambda: LayerNormalization(axis="last"), TypeError, "axis"),
    (lambda: LayerNormalization(axis=1.0), TypeError, "axis"),
    (lambda: GroupNormalization(axis=[1, 2]), TypeError, "axis"),
    (lambda: UnitNormalization(axis=None), TypeError, "axis"),
    (lambda: LayerNormalization(epsilon=-1), ValueError, "epsilon"),
    (lambda: GroupNormalization(groups=0), ValueError, "groups"),
    (lambda: GroupNormalization(groups=2.0), ValueError, "groups"),
    (lambda: LayerNormalization(bogus=1), TypeError, "bogus"),
])
def test_argument_errors_name_the_layer(make, exc, match):
    with pytest.raises(exc, match=match) as e:
        make()
    assert "layer" in str(e.value) or exc is TypeError


@pytest.mark.parametrize("make,shape,match", [
    (lambda: LayerNormalization(axis=3), (4, 5), "out of bounds"),
    (lambda: LayerNormalization(axis=0), (4, 5), "batch axis"),
    (lambda: LayerNormalization(axis=[1, -2]), (4, 5), "same axis twice"),
    (lambda: LayerNormalization(axis=1), (None, 5), "known sizes"),
    (lambda: GroupNormalization(groups=4), (3, 6), "multiple"),
    (lambda: GroupNormalization(groups=8), (3, 6), "more than"),
    (lambda: GroupNormalization(groups=2, axis=1), (None, 6), "known channel count"),
    (lambda: UnitNormalization(axis=2), (5,), "out of bounds"),
])
def test_shape_errors_name_the_layer(make, shape, match):
    layer = make()
    with pytest.raises(ValueError, match=match) as e:
        layer(dt.Input(shape))
    assert layer.name in str(e.value)


@pytest.mark.parametrize("make", [lambda: LayerNormalization(), lambda: GroupNormalization(groups=2)], ids=["ln", "gn"])
def test_built_layer_rejects_another_input_shape(make):
    layer = make()
    layer(dt.Input((3, 4)))
    for shape in [(3, 6), (4,), (2, 3, 4)]:
        with pytest.raises(ValueError, match="built for"):
            layer(dt.Input(shape))
