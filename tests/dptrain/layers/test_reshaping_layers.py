"""Reshaping layers (Reshape, Permute, RepeatVector, Cropping1D/2D/3D, ZeroPadding1D/2D/3D,
UpSampling1D/2D/3D): float64 numpy references, symbolic and eager shapes, configs, save/load,
gradients and argument errors."""
import numpy as np
import pytest

import dptrain as dt
from dptrain import layers as L
from engine import gradcheck
from engine.tensor import as_tensor


def _bilinear_ref(x, sh, sw):
    """Resize [N, H, W, C] by integer factors with half-pixel centres (align_corners=False),
    one output pixel at a time."""
    n, h, w, c = x.shape
    out = np.zeros((n, h * sh, w * sw, c))

    def source(i, scale, size):
        s = max((i + 0.5) / scale - 0.5, 0.0)
        i0 = min(int(np.floor(s)), size - 1)
        return i0, min(i0 + 1, size - 1), s - i0
    for i in range(h * sh):
        r0, r1, fr = source(i, sh, h)
        for j in range(w * sw):
            c0, c1, fc = source(j, sw, w)
            out[:, i, j] = ((1 - fr) * ((1 - fc) * x[:, r0, c0] + fc * x[:, r0, c1])
                            + fr * ((1 - fc) * x[:, r1, c0] + fc * x[:, r1, c1]))
    return out


# (make the layer, input shape without the batch, numpy reference)
CASES = {
    "reshape": (lambda: L.Reshape((3, 4)), (12,), lambda x: x.reshape(-1, 3, 4)),
    "reshape_infer": (lambda: L.Reshape((-1, 2)), (3, 4), lambda x: x.reshape(-1, 6, 2)),
    "reshape_rank3": (lambda: L.Reshape((2, 1, 6)), (4, 3), lambda x: x.reshape(-1, 2, 1, 6)),
    "permute": (lambda: L.Permute((2, 1)), (3, 4), lambda x: x.transpose(0, 2, 1)),
    "permute3": (lambda: L.Permute((3, 1, 2)), (2, 3, 4), lambda x: x.transpose(0, 3, 1, 2)),
    "repeat_vector": (lambda: L.RepeatVector(3), (4,), lambda x: np.repeat(x[:, None], 3, axis=1)),
    "cropping1d": (lambda: L.Cropping1D((1, 2)), (6, 3), lambda x: x[:, 1:4]),
    "cropping1d_default": (lambda: L.Cropping1D(), (5, 2), lambda x: x[:, 1:4]),
    "cropping2d": (lambda: L.Cropping2D(((1, 0), (2, 1))), (5, 6, 2), lambda x: x[:, 1:, 2:5]),
    "cropping2d_sym": (lambda: L.Cropping2D((1, 2)), (5, 6, 2), lambda x: x[:, 1:4, 2:4]),
    "cropping2d_int": (lambda: L.Cropping2D(1), (4, 4, 1), lambda x: x[:, 1:3, 1:3]),
    "cropping3d": (lambda: L.Cropping3D(((1, 0), (0, 1), (1, 1))), (3, 3, 4, 2), lambda x: x[:, 1:, :2, 1:3]),
    "zero_padding1d": (lambda: L.ZeroPadding1D((1, 2)), (4, 3), lambda x: np.pad(x, ((0, 0), (1, 2), (0, 0)))),
    "zero_padding1d_default": (lambda: L.ZeroPadding1D(), (2, 3), lambda x: np.pad(x, ((0, 0), (1, 1), (0, 0)))),
    "zero_padding2d": (lambda: L.ZeroPadding2D(((1, 0), (2, 3))), (3, 4, 2),
                       lambda x: np.pad(x, ((0, 0), (1, 0), (2, 3), (0, 0)))),
    "zero_padding2d_default": (lambda: L.ZeroPadding2D(), (2, 2, 1),
                               lambda x: np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))),
    "zero_padding3d": (lambda: L.ZeroPadding3D((1, 0, 2)), (2, 3, 2, 1),
                       lambda x: np.pad(x, ((0, 0), (1, 1), (0, 0), (2, 2), (0, 0)))),
    "up_sampling1d": (lambda: L.UpSampling1D(3), (4, 2), lambda x: np.repeat(x, 3, axis=1)),
    "up_sampling2d": (lambda: L.UpSampling2D((2, 3)), (3, 4, 2),
                      lambda x: np.repeat(np.repeat(x, 2, axis=1), 3, axis=2)),
    "up_sampling2d_bilinear": (lambda: L.UpSampling2D((2, 3), interpolation="bilinear"), (3, 4, 2),
                               lambda x: _bilinear_ref(x, 2, 3)),
    "up_sampling2d_bilinear_4": (lambda: L.UpSampling2D(4, interpolation="Bilinear"), (2, 3, 1),
                                 lambda x: _bilinear_ref(x, 4, 4)),
    "up_sampling3d": (lambda: L.UpSampling3D((1, 2, 3)), (2, 3, 2, 1),
                      lambda x: np.repeat(np.repeat(x, 2, axis=2), 3, axis=3)),
}
NAMES = sorted(CASES)


@pytest.mark.parametrize("name", NAMES)
def test_forward_float64_matches_numpy(rng, name):
    make, shape, ref = CASES[name]
    x = rng.standard_normal((2,) + shape)
    y = make()(as_tensor(x))
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), ref(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_symbolic_and_eager_shapes_agree(rng, name):
    make, shape, ref = CASES[name]
    want = ref(np.zeros((2,) + shape)).shape
    assert make()(dt.Input(shape)).shape == (None,) + want[1:]
    assert tuple(make()(rng.standard_normal((2,) + shape).astype(np.float32)).shape) == want
    model = dt.Sequential([dt.Input(shape), make()])
    assert model.output_shape == (None,) + want[1:]
    assert model.count_params() == 0


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trip(rng, name):
    make, shape, _ = CASES[name]
    layer = make()
    config = layer.get_config()
    again = type(layer).from_config(config)
    assert again.get_config() == config
    x = rng.standard_normal((2,) + shape).astype(np.float32)
    np.testing.assert_array_equal(again(x).numpy(), layer(x).numpy())


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_finite_differences(rng, name):
    make, shape, _ = CASES[name]
    layer = make()
    assert gradcheck(lambda t: layer(t), [rng.standard_normal((2,) + shape)])


def test_unknown_sizes_stay_unknown():
    assert L.Cropping1D((1, 1))(dt.Input((None, 3))).shape == (None, None, 3)
    assert L.ZeroPadding2D(1)(dt.Input((None, 4, 2))).shape == (None, None, 6, 2)
    assert L.UpSampling1D(2)(dt.Input((None, 3))).shape == (None, None, 3)
    assert L.UpSampling2D((2, 3))(dt.Input((None, 4, 2))).shape == (None, None, 12, 2)
    assert L.Reshape((-1, 3))(dt.Input((None, 3))).shape == (None, None, 3)
    assert L.Permute((2, 1))(dt.Input((None, 3))).shape == (None, 3, None)
    x = np.arange(2 * 7 * 3, dtype=np.float32).reshape(2, 7, 3)
    np.testing.assert_array_equal(L.Reshape((-1, 3))(x).numpy(), x)


def test_bilinear_upsampling_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 5, 2))
    for size in ((2, 2), (3, 2), (1, 4)):
        want = torch.nn.functional.interpolate(torch.tensor(x).permute(0, 3, 1, 2), scale_factor=size,
                                               mode="bilinear", align_corners=False).permute(0, 2, 3, 1)
        got = L.UpSampling2D(size, interpolation="bilinear")(as_tensor(x)).numpy()
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-12, atol=1e-12)


def test_save_load_round_trip_image_model(rng, tmp_path):
    inp = dt.Input((6, 5, 2))
    h = L.ZeroPadding2D(((1, 0), (0, 2)))(inp)
    h = L.Conv2D(3, 3)(h)
    h = L.Cropping2D(((0, 1), (1, 0)))(h)
    h = L.UpSampling2D((2, 1), interpolation="bilinear")(h)
    h = L.UpSampling2D(2)(h)
    h = L.Permute((2, 1, 3))(h)
    h = L.Reshape((-1, 3))(h)
    out = L.Dense(2)(L.Flatten()(h))
    model = dt.Model(inp, out)
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.3 for w in model.get_weights()])
    x = rng.standard_normal((3, 6, 5, 2)).astype(np.float32)
    y = model.predict(x, verbose=0)
    model.save(tmp_path / "m.dpt")
    loaded = dt.load_model(tmp_path / "m.dpt")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), y)
    assert [la.get_config() for la in loaded.layers] == [la.get_config() for la in model.layers]


def test_save_load_round_trip_sequence_model(rng, tmp_path):
    model = dt.Sequential([
        dt.Input((5,)), L.RepeatVector(4), L.ZeroPadding1D((2, 1)), L.Conv1D(3, 2), L.Cropping1D((1, 0)),
        L.UpSampling1D(2), L.Dense(2), L.Reshape((-1,)), L.Dense(1)])
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.3 for w in model.get_weights()])
    x = rng.standard_normal((4, 5)).astype(np.float32)
    y = model.predict(x, verbose=0)
    model.save(tmp_path / "s.dpt")
    np.testing.assert_array_equal(dt.load_model(tmp_path / "s.dpt").predict(x, verbose=0), y)


def test_gradient_reaches_the_weights_before_the_layer(rng):
    """One SGD step through ZeroPadding -> Cropping -> UpSampling: a padded zero gets no gradient,
    an upsampled value gets the sum of its copies' gradients."""
    model = dt.Sequential([dt.Input((3,)), L.Dense(2, use_bias=False), L.Reshape((2, 1)), L.ZeroPadding1D(1),
                           L.Cropping1D((1, 0)), L.UpSampling1D(2), L.Flatten()])
    k = rng.standard_normal((3, 2)).astype(np.float32)
    model.set_weights([k])
    model.compile(optimizer=dt.optimizers.SGD(learning_rate=0.1), loss="mse")
    x = rng.standard_normal((4, 3)).astype(np.float32)
    y = rng.standard_normal((4, 6)).astype(np.float32)
    model.fit(x, y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    h = x.astype(np.float64) @ k
    pred = np.repeat(np.concatenate([h, np.zeros((4, 1))], axis=1), 2, axis=1)
    g_pred = 2 * (pred - y) / pred.size
    g_h = g_pred.reshape(4, 3, 2).sum(axis=2)[:, :2]
    np.testing.assert_allclose(model.get_weights()[0], k - 0.1 * x.T @ g_h, rtol=1e-5, atol=1e-6)


# --- argument and shape errors ------------------------------------------------------------------
@pytest.mark.parametrize("make,exc,match", [
    (lambda: L.Reshape((2, -1, -1), name="r"), ValueError, r"Reshape layer 'r'.*target_shape"),
    (lambda: L.Reshape((2, 0), name="r"), ValueError, r"Reshape layer 'r'.*target_shape"),
    (lambda: L.Reshape("abc", name="r"), ValueError, r"Reshape layer 'r'.*target_shape"),
    (lambda: L.Permute((1, 1), name="p"), ValueError, r"Permute layer 'p'.*dims"),
    (lambda: L.Permute((0, 1), name="p"), ValueError, r"Permute layer 'p'.*dims"),
    (lambda: L.RepeatVector(0, name="v"), ValueError, r"RepeatVector layer 'v'.*n"),
    (lambda: L.RepeatVector(2.0, name="v"), TypeError, r"RepeatVector layer 'v'.*n"),
    (lambda: L.Cropping1D(-1, name="c"), ValueError, r"Cropping1D layer 'c'.*cropping"),
    (lambda: L.Cropping1D((1, 2, 3), name="c"), ValueError, r"Cropping1D layer 'c'.*cropping"),
    (lambda: L.Cropping2D(((1, 1), (1,)), name="c"), ValueError, r"Cropping2D layer 'c'.*2nd entry of cropping"),
    (lambda: L.Cropping2D((1, 1, 1), name="c"), ValueError, r"Cropping2D layer 'c'.*cropping"),
    (lambda: L.Cropping2D(-1, name="c"), ValueError, r"Cropping2D layer 'c'.*cropping"),
    (lambda: L.ZeroPadding2D("x", name="z"), ValueError, r"ZeroPadding2D layer 'z'.*padding"),
    (lambda: L.ZeroPadding1D((1, -1), name="z"), ValueError, r"ZeroPadding1D layer 'z'.*padding"),
    (lambda: L.UpSampling1D(1.5, name="u"), TypeError, r"UpSampling1D layer 'u'.*size"),
    (lambda: L.UpSampling1D(0, name="u"), ValueError, r"UpSampling1D layer 'u'.*size"),
    (lambda: L.UpSampling2D((2, 0), name="u"), ValueError, r"UpSampling2D layer 'u'.*size"),
    (lambda: L.UpSampling2D(interpolation="cubic", name="u"), ValueError, r"UpSampling2D layer 'u'.*interpolation"),
    (lambda: L.UpSampling2D(interpolation="bicubic", name="u"), NotImplementedError,
     r"UpSampling2D layer 'u'.*interpolation='bicubic'"),
    (lambda: L.ZeroPadding2D(data_format="channels_first", name="z"), NotImplementedError,
     r"ZeroPadding2D layer 'z'.*channels_first"),
    (lambda: L.Cropping2D(data_format="channels_first", name="c"), NotImplementedError,
     r"Cropping2D layer 'c'.*channels_first"),
    (lambda: L.UpSampling2D(data_format="channels_first", name="u"), NotImplementedError,
     r"UpSampling2D layer 'u'.*channels_first"),
    (lambda: L.UpSampling3D(data_format="nchw", name="u"), ValueError, r"UpSampling3D layer 'u'.*data_format"),
])
def test_argument_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_cropping1d_takes_no_data_format():
    with pytest.raises(TypeError):
        L.Cropping1D(1, data_format="channels_last")


@pytest.mark.parametrize("make,shape,match", [
    (lambda: L.Reshape((5,), name="r"), (12,), r"Reshape layer 'r'.*\(None, 12\)"),
    (lambda: L.Reshape((5, -1), name="r"), (12,), r"Reshape layer 'r'.*divisible by 5"),
    (lambda: L.Permute((2, 1), name="p"), (2, 3, 4), r"Permute layer 'p'.*\(None, 2, 3, 4\)"),
    (lambda: L.RepeatVector(2, name="v"), (2, 3), r"RepeatVector layer 'v'.*\[batch, features\]"),
    (lambda: L.Cropping1D((2, 2), name="c"), (4, 3), r"Cropping1D layer 'c'.*cropping \(2, 2\)"),
    (lambda: L.Cropping2D(((0, 0), (3, 3)), name="c"), (8, 6, 1), r"Cropping2D layer 'c'"),
    (lambda: L.Cropping2D(1, name="c"), (4, 4), r"Cropping2D layer 'c'.*\[batch, rows, cols, channels\]"),
    (lambda: L.ZeroPadding1D(1, name="z"), (4,), r"ZeroPadding1D layer 'z'.*\[batch, steps, channels\]"),
    (lambda: L.UpSampling2D(name="u"), (4, 4), r"UpSampling2D layer 'u'"),
    (lambda: L.UpSampling3D(name="u"), (4, 4, 4), r"UpSampling3D layer 'u'"),
])
def test_shape_errors_name_the_layer_symbolic_and_eager(make, shape, match):
    with pytest.raises(ValueError, match=match):
        make()(dt.Input(shape))
    with pytest.raises(ValueError, match=match.split(".*")[0]):
        make()(np.zeros((2,) + shape, np.float32))
