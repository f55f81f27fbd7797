"""Convolution variant layers (Conv1D/Conv2D with dilation_rate, groups, causal; Conv1DTranspose,
Conv2DTranspose; DepthwiseConv1D/2D; SeparableConv1D/2D): numpy float64 loop references, weight
shapes and names, output shapes, gradients, configs, save/load and errors."""
import numpy as np
import pytest

import dptrain as dt
from dptrain import layers as L


def conv_ref(x, k, strides, pads, dilation, groups=1):
    """Channels-last N-D (1 or 2) convolution by loops, in float64; pads [(lo, hi)] per axis."""
    x = np.pad(np.asarray(x, np.float64), [(0, 0)] + list(pads) + [(0, 0)])
    k = np.asarray(k, np.float64)
    rank = x.ndim - 2
    if rank == 1:
        return conv_ref(x[:, None], k[None], (1,) + tuple(strides), [(0, 0), (0, 0)], (1,) + tuple(dilation),
                        groups)[:, 0]
    kh, kw, cg, co = k.shape
    (sh, sw), (dh, dw) = strides, dilation
    ho = (x.shape[1] - (kh - 1) * dh - 1) // sh + 1
    wo = (x.shape[2] - (kw - 1) * dw - 1) // sw + 1
    y = np.zeros((x.shape[0], ho, wo, co))
    fg = co // groups
    for o in range(co):
        g = o // fg
        for i in range(kh):
            for j in range(kw):
                patch = x[:, i * dh:i * dh + sh * (ho - 1) + 1:sh, j * dw:j * dw + sw * (wo - 1) + 1:sw,
                          g * cg:(g + 1) * cg]
                y[..., o] += patch @ k[i, j, :, o]
    return y


def same(n, k, s, d=1):
    k = (k - 1) * d + 1
    total = max((-(-n // s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def transpose_ref(x, k, strides, padding, output_padding=None, dilation=None):
    """Scatter each x[n, p, c] * kernel[i, f, c] to p*s + i*d, then crop as TensorFlow / JAX."""
    x, k = np.asarray(x, np.float64), np.asarray(k, np.float64)
    rank = x.ndim - 2
    dilation = dilation or (1,) * rank
    if rank == 1:
        return transpose_ref(x[:, None], k[None], (1,) + tuple(strides), padding,
                             None if output_padding is None else (0,) + tuple(output_padding),
                             (1,) + tuple(dilation))[:, 0]
    kh, kw, f, _ = k.shape
    full = np.zeros((x.shape[0], (x.shape[1] - 1) * strides[0] + (kh - 1) * dilation[0] + 1 + 8,
                     (x.shape[2] - 1) * strides[1] + (kw - 1) * dilation[1] + 1 + 8, f))
    for p in range(x.shape[1]):
        for q in range(x.shape[2]):
            for i in range(kh):
                for j in range(kw):
                    full[:, p * strides[0] + i * dilation[0], q * strides[1] + j * dilation[1]] += \
                        x[:, p, q] @ k[i, j].T
    sl = []
    for a in range(2):
        n, s, kk = x.shape[1 + a], strides[a], (k.shape[a] - 1) * dilation[a] + 1
        op = None if output_padding is None else output_padding[a]
        if padding == "valid":
            out = (n - 1) * s + kk + (max(kk, s) - kk if op is None else op)
            crop = 0
        else:
            pad_len = s + kk - 2 if op is None else kk + kk % 2 - 2 + op
            out = n * s if op is None else (n - 1) * s + kk % 2 + op
            crop = kk - 1 - min(pad_len // 2 + pad_len % 2, kk - 1)
        sl.append(slice(crop, crop + out))
    return full[:, sl[0], sl[1]]


def seeded(layer, shape, rng):
    layer(np.zeros((1,) + shape, np.float32))
    layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in layer.get_weights()])
    return layer


def weights64(layer):
    return [np.asarray(w, np.float64) for w in layer.get_weights()]


# --- Conv1D / Conv2D --------------------------------------------------------------------------
CONV = [
    # factory, input shape (no batch), reference pads
    (lambda: L.Conv2D(4, 3, dilation_rate=2), (8, 9, 3), [(0, 0), (0, 0)]),
    (lambda: L.Conv2D(4, (3, 2), dilation_rate=(2, 3), padding="same"), (7, 8, 2),
     [same(7, 3, 1, 2), same(8, 2, 1, 3)]),
    (lambda: L.Conv2D(6, 3, groups=3, strides=2, padding="same"), (7, 6, 3), [same(7, 3, 2), same(6, 3, 2)]),
    (lambda: L.Conv2D(4, 2, groups=2, dilation_rate=2, use_bias=False), (6, 6, 4), [(0, 0), (0, 0)]),
    (lambda: L.Conv1D(4, 3, padding="causal"), (7, 2), [(2, 0)]),
    (lambda: L.Conv1D(4, 3, padding="causal", dilation_rate=3, groups=2), (11, 2), [(6, 0)]),
    (lambda: L.Conv1D(6, 2, groups=3, strides=2, padding="same"), (9, 3), [same(9, 2, 2)]),
]


@pytest.mark.parametrize("i", range(len(CONV)))
def test_conv_dilation_groups_causal_forward(i, rng):
    factory, shape, pads = CONV[i]
    layer = seeded(factory(), shape, rng)
    x = rng.standard_normal((2,) + shape).astype(np.float32)
    w = weights64(layer)
    ref = conv_ref(x, w[0], layer.strides, pads, layer.dilation_rate, layer.groups)
    if layer.use_bias:
        ref = ref + w[1]
    assert layer.kernel.shape == layer.kernel_size + (shape[-1] // layer.groups, layer.filters)
    y = layer(x)
    assert y.shape == layer.compute_output_shape((2,) + shape) == ref.shape
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-5)
    assert dt.ag.gradcheck(lambda t: layer(t), [x.astype(np.float64)])


def test_causal_conv1d_sees_only_the_past(rng):
    layer = L.Conv1D(2, 3, padding="causal", dilation_rate=2)
    x = rng.standard_normal((1, 10, 2)).astype(np.float32)
    y0 = layer(x).numpy()
    x[:, 6:] += 5.0
    y1 = layer(x).numpy()
    np.testing.assert_array_equal(y0[:, :6], y1[:, :6])


# --- transposed -------------------------------------------------------------------------------
TRANSPOSE = [
    (lambda: L.Conv2DTranspose(3, 3, strides=2), (4, 5, 2)),
    (lambda: L.Conv2DTranspose(3, 3, strides=2, padding="same"), (4, 5, 2)),
    (lambda: L.Conv2DTranspose(3, (4, 3), strides=(2, 3), padding="same", activation="relu"), (3, 4, 2)),
    (lambda: L.Conv2DTranspose(3, 2, strides=3, output_padding=(1, 2)), (3, 4, 2)),
    (lambda: L.Conv2DTranspose(3, 3, strides=2, padding="same", output_padding=0, use_bias=False), (3, 4, 2)),
    (lambda: L.Conv2DTranspose(2, 3, padding="same", dilation_rate=2), (4, 5, 2)),
    (lambda: L.Conv1DTranspose(3, 3, strides=2), (5, 2)),
    (lambda: L.Conv1DTranspose(3, 4, strides=2, padding="same", output_padding=1), (5, 2)),
    (lambda: L.Conv1DTranspose(3, 3, dilation_rate=2), (5, 2)),
]


@pytest.mark.parametrize("i", range(len(TRANSPOSE)))
def test_conv_transpose_forward(i, rng):
    factory, shape = TRANSPOSE[i]
    layer = seeded(factory(), shape, rng)
    assert layer.kernel.shape == layer.kernel_size + (layer.filters, shape[-1])
    x = rng.standard_normal((2,) + shape).astype(np.float32)
    w = weights64(layer)
    ref = transpose_ref(x, w[0], layer.strides, layer.padding, layer.output_padding, layer.dilation_rate)
    if layer.use_bias:
        ref = ref + w[1]
    if layer.activation == "relu":
        ref = np.maximum(ref, 0)
    y = layer(x)
    assert y.shape == layer.compute_output_shape((2,) + shape) == ref.shape
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-5)
    if layer.activation != "relu":
        assert dt.ag.gradcheck(lambda t: layer(t), [x.astype(np.float64)])


def test_conv_transpose_unknown_spatial_sizes():
    layer = L.Conv2DTranspose(2, 3, strides=2)
    layer.build((None, None, 4, 3))
    assert layer.compute_output_shape((None, None, 4, 3)) == (None, None, 9, 2)


# --- depthwise and separable ------------------------------------------------------------------
def depthwise_ref(x, k, strides, pads, dilation):
    c, m = k.shape[-2:]
    return conv_ref(x, k.reshape(k.shape[:-2] + (1, c * m)), strides, pads, dilation, groups=c)


DEPTHWISE = [
    (lambda: L.DepthwiseConv2D(3, depth_multiplier=2, padding="same"), (6, 7, 3), [same(6, 3, 1), same(7, 3, 1)]),
    (lambda: L.DepthwiseConv2D((3, 2), strides=2, padding="same", use_bias=False), (7, 6, 2),
     [same(7, 3, 2), same(6, 2, 2)]),
    (lambda: L.DepthwiseConv2D(3, dilation_rate=2, activation="tanh"), (8, 8, 2), [(0, 0), (0, 0)]),
    (lambda: L.DepthwiseConv1D(3, depth_multiplier=3, padding="same"), (8, 2), [same(8, 3, 1)]),
    (lambda: L.DepthwiseConv1D(2, strides=2), (9, 3), [(0, 0)]),
]


@pytest.mark.parametrize("i", range(len(DEPTHWISE)))
def test_depthwise_forward(i, rng):
    factory, shape, pads = DEPTHWISE[i]
    layer = seeded(factory(), shape, rng)
    c, m = shape[-1], layer.depth_multiplier
    assert layer.kernel.shape == layer.kernel_size + (c, m)
    assert [w.name.split("/")[-1] for w in layer.weights] == ["kernel", "bias"][:1 + layer.use_bias]
    x = rng.standard_normal((2,) + shape).astype(np.float32)
    w = weights64(layer)
    ref = depthwise_ref(x, w[0], layer.strides, pads, layer.dilation_rate)
    # the c * M + m channel order: channel 1 * M + 0 only reads input channel 1
    np.testing.assert_allclose(ref[..., m], conv_ref(x[..., 1:2], w[0][..., 1:2, 0:1], layer.strides, pads,
                                                     layer.dilation_rate)[..., 0])
    if layer.use_bias:
        ref = ref + w[1]
    if layer.activation == "tanh":
        ref = np.tanh(ref)
    y = layer(x)
    assert y.shape == layer.compute_output_shape((2,) + shape) == ref.shape
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-5)
    assert dt.ag.gradcheck(lambda t: layer(t), [x.astype(np.float64)])


SEPARABLE = [
    (lambda: L.SeparableConv2D(4, 3, depth_multiplier=2, strides=2, padding="same"), (7, 7, 3),
     [same(7, 3, 2), same(7, 3, 2)]),
    (lambda: L.SeparableConv2D(3, 3, dilation_rate=2, use_bias=False), (8, 8, 2), [(0, 0), (0, 0)]),
    (lambda: L.SeparableConv1D(4, 3, padding="same", depth_multiplier=2), (9, 3), [same(9, 3, 1)]),
]


@pytest.mark.parametrize("i", range(len(SEPARABLE)))
def test_separable_forward(i, rng):
    factory, shape, pads = SEPARABLE[i]
    layer = seeded(factory(), shape, rng)
    c, m, rank = shape[-1], layer.depth_multiplier, len(shape) - 1
    names = [w.name.split("/")[-1] for w in layer.weights]
    assert names == ["depthwise_kernel", "pointwise_kernel", "bias"][:2 + layer.use_bias]
    assert layer.pointwise_kernel.shape == (1,) * rank + (c * m, layer.filters)
    x = rng.standard_normal((2,) + shape).astype(np.float32)
    w = weights64(layer)
    ref = depthwise_ref(x, w[0], layer.strides, pads, layer.dilation_rate) @ w[1].reshape(c * m, layer.filters)
    if layer.use_bias:
        ref = ref + w[2]
    y = layer(x)
    assert y.shape == layer.compute_output_shape((2,) + shape) == ref.shape
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-5)
    assert dt.ag.gradcheck(lambda t: layer(t), [x.astype(np.float64)])


# --- training, config, save/load --------------------------------------------------------------
FACTORIES = {
    "conv2d_dilated_groups": (lambda: L.Conv2D(4, 3, dilation_rate=2, groups=2, padding="same"), (6, 6, 2)),
    "conv1d_causal": (lambda: L.Conv1D(3, 2, padding="causal", kernel_regularizer="l2"), (6, 2)),
    "conv2d_transpose": (lambda: L.Conv2DTranspose(3, 3, strides=2, output_padding=1, activation="relu"), (3, 3, 2)),
    "conv1d_transpose": (lambda: L.Conv1DTranspose(3, 2, strides=2, padding="same"), (4, 2)),
    "depthwise2d": (lambda: L.DepthwiseConv2D(3, depth_multiplier=2, depthwise_constraint="non_neg"), (5, 5, 2)),
    "depthwise1d": (lambda: L.DepthwiseConv1D(3, padding="same", depthwise_initializer="he_normal"), (6, 2)),
    "separable2d": (lambda: L.SeparableConv2D(3, 3, pointwise_regularizer="l1", padding="same"), (5, 5, 2)),
    "separable1d": (lambda: L.SeparableConv1D(3, 2, depth_multiplier=2, bias_initializer="ones"), (6, 2)),
}


@pytest.mark.parametrize("key", sorted(FACTORIES))
def test_config_round_trip_save_load_and_training(key, rng, tmp_path):
    factory, shape = FACTORIES[key]
    layer = factory()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    model = dt.Sequential([dt.Input(shape), layer, L.Flatten(), L.Dense(1)])
    x = rng.standard_normal((4,) + shape).astype(np.float32)
    before = [w.copy() for w in layer.get_weights()]
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, rng.standard_normal((4, 1)).astype(np.float32), epochs=1, verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(before, layer.get_weights()))
    model.save(tmp_path / "m.dpt")
    loaded = dt.load_model(tmp_path / "m.dpt")
    assert type(loaded.layers[0]) is type(layer) and loaded.layers[0].get_config() == config
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_defaults_and_config_follow_keras():
    cfg = L.Conv2DTranspose(2, 3).get_config()
    assert (cfg["strides"], cfg["padding"], cfg["output_padding"], cfg["dilation_rate"]) == ([1, 1], "valid", None,
                                                                                            [1, 1])
    cfg = L.SeparableConv1D(2, 3).get_config()
    assert cfg["depth_multiplier"] == 1 and cfg["pointwise_initializer"]["class_name"] == "GlorotUniform"
    assert L.DepthwiseConv2D(3).get_config()["depthwise_initializer"]["class_name"] == "GlorotUniform"
    assert L.Conv1D(2, 3, padding="CAUSAL").padding == "causal"
    for name in ("Conv1DTranspose", "Conv2DTranspose", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D",
                 "SeparableConv2D"):
        assert getattr(dt.layers, name).__doc__


@pytest.mark.parametrize("call,exc,match", [
    (lambda: L.Conv2D(4, 3, groups=3, name="c"), ValueError, r"Conv2D layer 'c'.*filters \(4\).*groups \(3\)"),
    (lambda: L.Conv2D(4, 3, groups=2, name="c")(np.zeros((1, 5, 5, 3), np.float32)), ValueError,
     r"Conv2D layer 'c'.*input channels \(3.*groups \(2\)"),
    (lambda: L.Conv1D(4, 3, groups=0, name="c"), ValueError, r"Conv1D layer 'c'.*groups"),
    (lambda: L.Conv2D(4, 3, strides=2, dilation_rate=2, name="c"), ValueError, r"Conv2D layer 'c'.*dilation_rate"),
    (lambda: L.Conv2D(4, 3, dilation_rate=3, name="c")(np.zeros((1, 5, 5, 1), np.float32)), ValueError,
     r"Conv2D layer 'c'.*does not fit"),
    (lambda: L.Conv2D(2, 3, padding="causal", name="c"), ValueError, r"Conv2D layer 'c'.*padding"),
    (lambda: L.Conv2DTranspose(2, 3, strides=2, output_padding=2, name="t"), ValueError,
     r"Conv2DTranspose layer 't'.*output_padding"),
    (lambda: L.Conv2DTranspose(2, 3, output_padding=(1, 2, 3), name="t"), ValueError,
     r"Conv2DTranspose layer 't'.*output_padding"),
    (lambda: L.Conv1DTranspose(2, 3, strides=2, dilation_rate=2, name="t"), ValueError,
     r"Conv1DTranspose layer 't'.*dilation_rate"),
    (lambda: L.Conv2DTranspose(2, 3, padding="causal", name="t"), ValueError, r"Conv2DTranspose layer 't'.*padding"),
    (lambda: L.Conv2DTranspose(0, 3, name="t"), ValueError, r"Conv2DTranspose layer 't'.*filters"),
    (lambda: L.DepthwiseConv2D(3, depth_multiplier=0, name="d"), ValueError, r"DepthwiseConv2D layer 'd'.*depth_mult"),
    (lambda: L.DepthwiseConv1D(3, padding="causal", name="d"), ValueError, r"DepthwiseConv1D layer 'd'.*padding"),
    (lambda: L.DepthwiseConv2D(3, name="d")(np.zeros((1, 5, 5), np.float32)), ValueError,
     r"DepthwiseConv2D layer 'd'.*rank 4"),
    (lambda: L.SeparableConv2D(2, 3, name="s")(np.zeros((1, 2, 2, 1), np.float32)), ValueError,
     r"SeparableConv2D layer 's'.*does not fit"),
    (lambda: L.SeparableConv1D(2, 0, name="s"), ValueError, r"SeparableConv1D layer 's'.*kernel_size"),
    (lambda: L.SeparableConv2D(2, 3, data_format="channels_first", name="s"), NotImplementedError,
     r"SeparableConv2D layer 's'.*channels_first"),
    (lambda: L.Conv2DTranspose(2, 3, data_format="channels_first", name="t"), NotImplementedError,
     r"Conv2DTranspose layer 't'.*channels_first"),
    (lambda: L.DepthwiseConv1D(3, data_format="channels_first", name="d"), NotImplementedError,
     r"DepthwiseConv1D layer 'd'.*channels_first"),
])
def test_errors_name_the_layer(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
