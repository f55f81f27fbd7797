"""Pooling layers (MaxPooling1D, AveragePooling1D/2D, GlobalAveragePooling1D, GlobalMaxPooling1D/2D
and the Keras aliases): numpy float64 references with Keras-on-torch 'same' semantics, shapes,
configs, save/load, gradients and errors."""
import itertools
import math

import numpy as np
import pytest

import dptrain as dt
from dptrain import layers as L
from dptrain.layers import pooling


def _same_pads(n, k, s):
    total = max((math.ceil(n / s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def pool_ref(x, pool, strides, padding, mode):
    """Channels-last pooling over the spatial axes of x [N, *spatial, C], in float64.
    'same' max pads with -inf. 'same' average follows Keras 3 on torch: with every axis split
    evenly the padded cells are left out of the mean; otherwise every axis is padded by
    repeating its edge and the copies are counted."""
    x = np.asarray(x, np.float64)
    spatial = x.shape[1:-1]
    pads = [_same_pads(n, k, s) if padding == "same" else (0, 0) for n, k, s in zip(spatial, pool, strides)]
    width = [(0, 0)] + pads + [(0, 0)]
    valid = np.ones(x.shape)
    if mode == "max":
        x = np.pad(x, width, constant_values=-np.inf)
    elif any(lo != hi for lo, hi in pads):
        x = np.pad(x, width, mode="edge")
        valid = np.ones(x.shape)
    else:
        x, valid = np.pad(x, width), np.pad(valid, width)
    out_sizes = [(n - k) // s + 1 for n, k, s in zip(x.shape[1:-1], pool, strides)]
    out = np.zeros((x.shape[0],) + tuple(out_sizes) + (x.shape[-1],))
    for pos in itertools.product(*(range(o) for o in out_sizes)):
        win = (slice(None),) + tuple(slice(p * s, p * s + k) for p, s, k in zip(pos, strides, pool))
        axes = tuple(range(1, 1 + len(pool)))
        if mode == "max":
            val = x[win].max(axis=axes)
        else:
            val = x[win].sum(axis=axes) / valid[win].sum(axis=axes)
        out[(slice(None),) + pos] = val
    return out


# cls, pool, strides, padding, spatial input shape
WINDOWED = [
    (L.MaxPooling1D, 2, None, "valid", (7,)),
    (L.MaxPooling1D, 3, 2, "valid", (8,)),
    (L.MaxPooling1D, 3, 1, "same", (7,)),
    (L.MaxPooling1D, 4, 1, "same", (7,)),
    (L.MaxPooling1D, 2, 3, "same", (8,)),
    (L.AveragePooling1D, 2, None, "valid", (7,)),
    (L.AveragePooling1D, 3, 1, "same", (7,)),      # even split: padded zeros left out
    (L.AveragePooling1D, 4, 1, "same", (7,)),      # odd split: edge copies counted (torch)
    (L.AveragePooling1D, 3, 2, "same", (8,)),
    (L.AveragePooling2D, (2, 2), None, "valid", (5, 6)),
    (L.AveragePooling2D, (3, 3), 1, "same", (5, 6)),
    (L.AveragePooling2D, (3, 2), 1, "same", (5, 6)),
    (L.AveragePooling2D, (3, 4), (2, 1), "same", (5, 6)),
    (L.AveragePooling2D, 2, 2, "same", (5, 5)),
]
IDS = [f"{c.__name__}-{p}-{s}-{pad}-{shape}" for c, p, s, pad, shape in WINDOWED]


def _tuple(v, n):
    return (v,) * n if isinstance(v, int) else tuple(v)


@pytest.mark.parametrize("cls,pool,strides,padding,spatial", WINDOWED, ids=IDS)
def test_windowed_forward_and_shapes(cls, pool, strides, padding, spatial, rng):
    layer = cls(pool, strides=strides, padding=padding)
    n = len(spatial)
    p, s = _tuple(pool, n), _tuple(strides if strides is not None else pool, n)
    want_spatial = tuple(math.ceil(d / st) if padding == "same" else (d - k) // st + 1
                         for d, k, st in zip(spatial, p, s))
    assert layer(dt.Input(spatial + (3,))).shape == (None,) + want_spatial + (3,)     # symbolic
    x = rng.standard_normal((2,) + spatial + (3,)).astype(np.float32)
    y = layer(x).numpy()                                                              # eager
    assert y.shape == (2,) + want_spatial + (3,)
    np.testing.assert_allclose(y, pool_ref(x, p, s, padding, cls.mode), rtol=1e-6, atol=1e-6)


def test_average_same_matches_keras_on_torch_by_hand():
    x = np.arange(1, 6, dtype=np.float32).reshape(1, 5, 1)
    # pool 4, stride 1: pads (1, 2) are uneven, so torch repeats the edges: [1,1,2,3], ..., [4,5,5,5]
    got = L.AveragePooling1D(4, strides=1, padding="same")(x).numpy().ravel()
    np.testing.assert_allclose(got, [1.75, 2.5, 3.5, 4.25, 4.75])
    # pool 3, stride 1: pads (1, 1) are even, so the padded cells are not counted
    got = L.AveragePooling1D(3, strides=1, padding="same")(x).numpy().ravel()
    np.testing.assert_allclose(got, [1.5, 2.0, 3.0, 4.0, 4.5])


@pytest.mark.parametrize("cls,shape", [(L.MaxPooling1D, (7, 3)), (L.AveragePooling1D, (7, 3)),
                                       (L.AveragePooling2D, (5, 6, 3))])
def test_channels_first(cls, shape, rng):
    x = rng.standard_normal((2,) + shape).astype(np.float32)
    rank = len(shape) - 1
    last = cls(3, strides=2, padding="same")
    first = cls(3, strides=2, padding="same", data_format="channels_first")
    to_first = (0, rank + 1) + tuple(range(1, rank + 1))
    xf = np.transpose(x, to_first)
    assert first(dt.Input(xf.shape[1:])).shape == (None,) + np.transpose(last(x).numpy(), to_first).shape[1:]
    np.testing.assert_allclose(first(xf).numpy(), np.transpose(last(x).numpy(), to_first), rtol=1e-6)


GLOBAL = [(L.GlobalAveragePooling1D, np.mean, (5, 3)), (L.GlobalMaxPooling1D, np.max, (5, 3)),
          (L.GlobalMaxPooling2D, np.max, (4, 5, 3))]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("cls,reduce,shape", GLOBAL, ids=[g[0].__name__ for g in GLOBAL])
def test_global_forward_and_shapes(cls, reduce, shape, keepdims, data_format, rng):
    layer = cls(keepdims=keepdims, data_format=data_format)
    rank = len(shape) - 1
    axes = tuple(range(1, rank + 1)) if data_format == "channels_last" else tuple(range(2, rank + 2))
    x = rng.standard_normal((2,) + shape).astype(np.float32)
    want = reduce(x.astype(np.float64), axis=axes, keepdims=keepdims)
    assert layer(dt.Input(shape)).shape == (None,) + want.shape[1:]
    y = layer(x).numpy()
    assert y.shape == want.shape
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)


FACTORIES = {
    "max1d": (lambda: L.MaxPooling1D(3, strides=2, padding="same"), (7, 2)),
    "avg1d": (lambda: L.AveragePooling1D(4, strides=1, padding="same"), (6, 2)),
    "avg1d_valid": (lambda: L.AveragePooling1D(2), (6, 2)),
    "avg2d": (lambda: L.AveragePooling2D((3, 2), strides=1, padding="same"), (4, 3, 2)),
    "avg2d_even": (lambda: L.AveragePooling2D(3, strides=1, padding="same"), (4, 3, 2)),
    "gap1d": (lambda: L.GlobalAveragePooling1D(), (5, 2)),
    "gmp1d": (lambda: L.GlobalMaxPooling1D(keepdims=True), (5, 2)),
    "gmp2d": (lambda: L.GlobalMaxPooling2D(data_format="channels_first"), (2, 4, 3)),
}


@pytest.mark.parametrize("key", sorted(FACTORIES))
def test_gradcheck(key, rng):
    factory, shape = FACTORIES[key]
    layer = factory()
    x = rng.standard_normal((2,) + shape)      # float64, distinct values: no ties in the maxima
    assert dt.ag.gradcheck(lambda t: layer(t), [x])


@pytest.mark.parametrize("key", sorted(FACTORIES))
def test_config_round_trip_and_save_load(key, rng, tmp_path):
    factory, shape = FACTORIES[key]
    layer = factory()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    model = dt.Sequential([dt.Input(shape), layer, L.Flatten(), L.Dense(2)])
    x = rng.standard_normal((4,) + shape).astype(np.float32)
    model.save(tmp_path / "m.dpt")
    loaded = dt.load_model(tmp_path / "m.dpt")
    assert type(loaded.layers[0]) is type(layer) and loaded.layers[0].get_config() == config
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_keras_aliases_and_exports():
    pairs = {"MaxPool1D": "MaxPooling1D", "MaxPool2D": "MaxPooling2D", "AvgPool1D": "AveragePooling1D",
             "AvgPool2D": "AveragePooling2D", "GlobalAvgPool1D": "GlobalAveragePooling1D",
             "GlobalAvgPool2D": "GlobalAveragePooling2D", "GlobalMaxPool1D": "GlobalMaxPooling1D",
             "GlobalMaxPool2D": "GlobalMaxPooling2D"}
    for alias, name in pairs.items():
        assert getattr(L, alias) is getattr(L, name)
    for name in pooling.__all__:
        assert getattr(L, name) is getattr(pooling, name)


def test_defaults_follow_keras():
    m = L.MaxPooling1D()
    assert (m.pool_size, m.strides, m.padding, m.data_format) == ((2,), (2,), "valid", "channels_last")
    assert L.GlobalMaxPooling2D().keepdims is False
    with pytest.raises(TypeError):
        L.AveragePooling1D()      # Keras 3 has no default pool_size for average pooling
    with pytest.raises(TypeError):
        L.AveragePooling2D()


@pytest.mark.parametrize("call,match", [
    (lambda: L.MaxPooling1D(padding="causal", name="p"), r"MaxPooling1D layer 'p'.*padding"),
    (lambda: L.AveragePooling2D(2, padding="SAME", name="p"), r"AveragePooling2D layer 'p'.*padding"),
    (lambda: L.MaxPooling1D(pool_size=(2, 2), name="p"), r"MaxPooling1D layer 'p'.*pool_size"),
    (lambda: L.AveragePooling1D(2, strides=0, name="p"), r"AveragePooling1D layer 'p'.*strides"),
    (lambda: L.MaxPooling1D(data_format="nhwc", name="p"), r"MaxPooling1D layer 'p'.*data_format"),
    (lambda: L.GlobalMaxPooling1D(data_format="x", name="g"), r"GlobalMaxPooling1D layer 'g'.*data_format"),
    (lambda: L.MaxPooling1D(name="p")(dt.Input((5, 4, 3))), r"MaxPooling1D layer 'p'.*\(None, 5, 4, 3\)"),
    (lambda: L.AveragePooling2D(7, name="p")(dt.Input((5, 5, 1))), r"AveragePooling2D layer 'p'.*does not fit"),
    (lambda: L.AveragePooling1D(3, name="p")(np.zeros((1, 2, 1))), r"AveragePooling1D layer 'p'.*does not fit"),
    (lambda: L.GlobalAveragePooling1D(name="g")(dt.Input((5,))), r"GlobalAveragePooling1D layer 'g'"),
    (lambda: L.GlobalMaxPooling2D(name="g")(dt.Input((5, 3))), r"GlobalMaxPooling2D layer 'g'.*rank 4"),
])
def test_errors_name_the_layer(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_global_average_mask_is_the_mean_over_unmasked_steps():     # more in test_masking.py
    layer = L.GlobalAveragePooling1D(name="g")
    x = np.arange(6, dtype=np.float32).reshape(1, 3, 2)
    np.testing.assert_allclose(layer.call(dt.ag.tensor(x), mask=np.array([[1, 1, 0]], bool)).numpy(), [[1.0, 2.0]])
