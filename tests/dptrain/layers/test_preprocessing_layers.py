"""Preprocessing layers (Normalization, CategoryEncoding, Discretization, Resizing, CenterCrop) and
the image ops behind them (ops.image.resize / affine_transform / crop_images): numpy float64
references, adapt, configs, save/load, gradients and errors."""
import numpy as np
import pytest

import dptrain as dt
from dptrain import layers as L
from dptrain.ops import image as I
from engine import gradcheck


# --- references ---------------------------------------------------------------------------
def linear_matrix(n_in, n_out):
    """[n_out, n_in] weights of torch's bilinear interpolation along one axis (align_corners=False):
    source position (i + 0.5) * n_in / n_out - 0.5, clamped at 0, linear between its two neighbours."""
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        s = max((i + 0.5) * n_in / n_out - 0.5, 0.0)
        lo = min(int(np.floor(s)), n_in - 1)
        hi = min(lo + 1, n_in - 1)
        m[i, lo] += 1.0 - (s - lo)
        m[i, hi] += s - lo
    return m


def resize_ref(x, h, w):
    x = np.asarray(x, np.float64)
    return np.einsum("ai,bj,nijc->nabc", linear_matrix(x.shape[1], h), linear_matrix(x.shape[2], w), x)


def nearest_ref(x, h, w):
    rows = [min(int(np.floor((i + 0.5) * x.shape[1] / h)), x.shape[1] - 1) for i in range(h)]
    cols = [min(int(np.floor((j + 0.5) * x.shape[2] / w)), x.shape[2] - 1) for j in range(w)]
    return np.asarray(x, np.float64)[:, rows][:, :, cols]


def _inside(i, n, mode):
    """Index i mapped into [0, n) (None: outside, for 'constant')."""
    if 0 <= i < n:
        return i
    if mode == "constant":
        return None
    if mode == "nearest":
        return min(max(i, 0), n - 1)
    if mode == "wrap":
        return i % n
    if mode == "reflect":            # ... b a | a b c | c b ...
        i %= 2 * n
        return i if i < n else 2 * n - 1 - i
    if mode == "mirror":             # ... c b | a b c | b a ...
        if n == 1:
            return 0
        i %= 2 * n - 2
        return i if i < n else 2 * n - 2 - i
    raise ValueError(mode)


def affine_ref(img, t, interpolation="bilinear", fill_mode="constant", fill_value=0.0):
    """One image [H, W, C], transform [a0, a1, a2, b0, b1, b2, ...]: pixel by pixel, float64."""
    img = np.asarray(img, np.float64)
    h, w, c = img.shape
    out = np.zeros((h, w, c))
    for y in range(h):
        for x in range(w):
            xs = t[0] * x + t[1] * y + t[2]
            ys = t[3] * x + t[4] * y + t[5]
            if interpolation == "nearest":
                taps = [(int(np.round(ys)), int(np.round(xs)), 1.0)]
            else:
                y0, x0 = int(np.floor(ys)), int(np.floor(xs))
                fy, fx = ys - y0, xs - x0
                taps = [(y0, x0, (1 - fy) * (1 - fx)), (y0, x0 + 1, (1 - fy) * fx),
                        (y0 + 1, x0, fy * (1 - fx)), (y0 + 1, x0 + 1, fy * fx)]
            for yy, xx, wt in taps:
                a, b = _inside(yy, h, fill_mode), _inside(xx, w, fill_mode)
                out[y, x] += wt * (fill_value if a is None or b is None else img[a, b])
    return out


# --- Normalization --------------------------------------------------------------------------
@pytest.mark.parametrize("axis,shape", [(-1, (6, 3)), (None, (6, 3)), ((1, 2), (5, 3, 4)), (1, (5, 3, 4))])
def test_normalization_adapt_matches_numpy(axis, shape, rng):
    data = rng.standard_normal(shape) * 3 + 1
    layer = L.Normalization(axis=axis)
    layer.adapt(data.astype(np.float32))
    keep = () if axis is None else tuple(a % len(shape) for a in np.atleast_1d(axis))
    red = tuple(d for d in range(len(shape)) if d not in keep)
    mean, var = data.mean(axis=red, keepdims=True), data.var(axis=red, keepdims=True)
    w = layer.get_weights()
    np.testing.assert_allclose(w[0], np.squeeze(mean, red), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(w[1], np.squeeze(var, red), rtol=1e-5)
    assert w[2].dtype == np.int32 and w[2].shape == () and [a.dtype for a in w[:2]] == [np.float32] * 2
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(layer(x).numpy(), (x - mean) / np.sqrt(var), rtol=1e-4, atol=1e-5)


def test_normalization_adapt_on_batches_equals_whole_array(rng):
    data = (rng.standard_normal((50, 4)) * [1, 2, 3, 4] + [0, 1, -1, 5]).astype(np.float32)
    whole, batched, pairs = L.Normalization(), L.Normalization(), L.Normalization()
    whole.adapt(data)
    batched.adapt([data[i:i + 16] for i in range(0, 50, 16)])
    pairs.adapt((data[i:i + 7], np.zeros(7)) for i in range(0, 50, 7))
    for other in (batched, pairs):
        for a, b in zip(other.get_weights(), whole.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_normalization_given_mean_variance_invert_and_unadapted(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    given = L.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25])
    want = (x - [1, 2, 3]) / np.sqrt([4.0, 1.0, 0.25])
    np.testing.assert_allclose(given(x).numpy(), want, rtol=1e-6)
    assert given.weights == []
    inv = L.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25], invert=True)
    np.testing.assert_allclose(inv(given(x)).numpy(), x, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(L.Normalization(mean=2.0, variance=4.0)(x).numpy(), (x - 2) / 2, rtol=1e-6)
    # never adapted, nothing given: mean 0 and variance 1, as Keras
    np.testing.assert_allclose(L.Normalization()(x).numpy(), x)
    zero_var = L.Normalization(mean=0.0, variance=0.0)       # sqrt(var) is floored at 1e-7
    np.testing.assert_allclose(zero_var(np.array([[1e-7]], np.float32)).numpy(), [[1.0]], rtol=1e-5)


def test_normalization_in_a_model_trains_saves_and_loads(tmp_path, rng):
    data = (rng.standard_normal((20, 3)) * 5 + 2).astype(np.float32)
    norm = L.Normalization()
    norm.adapt(data)
    model = dt.Sequential([dt.Input((3,)), norm, L.Dense(2)])
    assert model.count_params() == 3 + 3 + 1 + 8 and len(model.trainable_weights) == 2
    before = norm.get_weights()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(data, rng.standard_normal((20, 2)).astype(np.float32), epochs=1, verbose=0)
    for a, b in zip(norm.get_weights(), before):       # not trainable: fit leaves them alone
        np.testing.assert_array_equal(a, b)
    model.save(tmp_path / "m.dpt")
    loaded = dt.load_model(tmp_path / "m.dpt")
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict(data, verbose=0), model.predict(data, verbose=0))
    cfg = L.Normalization(axis=(1, 2), mean=1.0, variance=2.0, invert=True).get_config()
    assert (cfg["axis"], cfg["mean"], cfg["variance"], cfg["invert"]) == ((1, 2), 1.0, 2.0, True)
    assert L.Normalization.from_config(cfg).get_config() == cfg


def test_normalization_errors():
    with pytest.raises(ValueError, match="Normalization.*mean and variance must be given together"):
        L.Normalization(mean=1.0)
    with pytest.raises(ValueError, match="same shape"):
        L.Normalization(mean=[1.0, 2.0], variance=[1.0])
    with pytest.raises(ValueError, match="rank of mean"):
        L.Normalization(axis=-1, mean=np.ones((2, 2)), variance=np.ones((2, 2)))
    with pytest.raises(ValueError, match="axis .* out of range"):
        L.Normalization(axis=3).adapt(np.ones((4, 3)))
    layer = L.Normalization()
    layer.adapt(np.ones((4, 3)))
    with pytest.raises(ValueError, match="built for input shape"):
        layer.adapt(np.ones((4, 5)))
    with pytest.raises(ValueError, match="empty iterable"):
        L.Normalization().adapt([])
    with pytest.raises(ValueError, match="adapt.* cannot change"):
        given = L.Normalization(mean=1.0, variance=1.0)
        given(np.ones((2, 3)))
        given.adapt(np.ones((2, 3)))


# --- CategoryEncoding -------------------------------------------------------------------------
def test_category_encoding_modes():
    ids = np.array([[0, 1, 1], [3, 3, 3]])
    eye = np.eye(4, dtype=np.float32)
    np.testing.assert_array_equal(L.CategoryEncoding(4, output_mode="one_hot")(ids).numpy(), eye[ids])
    np.testing.assert_array_equal(L.CategoryEncoding(4, output_mode="one_hot")(ids[:, :1]).numpy(), eye[ids[:, 0]])
    np.testing.assert_array_equal(L.CategoryEncoding(4)(ids).numpy(), [[1, 1, 0, 0], [0, 0, 0, 1]])
    np.testing.assert_array_equal(L.CategoryEncoding(4, output_mode="count")(ids).numpy(), [[1, 2, 0, 0], [0, 0, 0, 3]])
    np.testing.assert_array_equal(L.CategoryEncoding(4, output_mode="count")(np.array([2, 2, 0])).numpy(), [1, 0, 2, 0])
    w = np.array([[0.5, 1.0, 2.0], [1.0, 1.0, -1.0]], np.float32)
    got = L.CategoryEncoding(4, output_mode="count")(ids, count_weights=w).numpy()
    np.testing.assert_allclose(got, [[0.5, 3.0, 0, 0], [0, 0, 0, 1.0]])
    assert L.CategoryEncoding(4, output_mode="binary").output_mode == "multi_hot"
    out = L.CategoryEncoding(5, output_mode="one_hot")(dt.Input((3,), dtype="int32"))
    assert out.shape == (None, 3, 5)
    assert L.CategoryEncoding(5)(dt.Input((3,), dtype="int32")).shape == (None, 5)


def test_category_encoding_errors_and_config(tmp_path):
    with pytest.raises(ValueError, match=r"CategoryEncoding layer .*token 7 is out of range.*num_tokens=4"):
        L.CategoryEncoding(4)(np.array([[0, 7]]))
    with pytest.raises(ValueError, match="token -1"):
        L.CategoryEncoding(4, output_mode="one_hot")(np.array([-1, 0]))
    with pytest.raises(NotImplementedError, match="CategoryEncoding.*sparse"):
        L.CategoryEncoding(4, sparse=True)
    with pytest.raises(ValueError, match="output_mode"):
        L.CategoryEncoding(4, output_mode="tf_idf")
    with pytest.raises(ValueError, match="num_tokens"):
        L.CategoryEncoding()
    with pytest.raises(ValueError, match="num_tokens"):
        L.CategoryEncoding(0)
    with pytest.raises(ValueError, match="count_weights"):
        L.CategoryEncoding(4)(np.array([[0, 1]]), count_weights=np.ones((1, 2)))
    cfg = L.CategoryEncoding(6, output_mode="count").get_config()
    assert (cfg["num_tokens"], cfg["output_mode"]) == (6, "count")
    model = dt.Sequential([dt.Input((3,), dtype="int32"), L.CategoryEncoding(6, output_mode="count"), L.Dense(2)])
    x = np.array([[0, 5, 5], [1, 2, 3]])
    model.save(tmp_path / "m.dpt")
    loaded = dt.load_model(tmp_path / "m.dpt")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# --- Discretization ---------------------------------------------------------------------------
def test_discretization_given_boundaries_and_modes():
    x = np.array([[-1.5, 0.0, 0.5], [1.0, 2.5, 0.99]], np.float32)
    layer = L.Discretization(bin_boundaries=[0.0, 1.0, 2.0])
    got = layer(x).numpy()
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, np.digitize(x, [0.0, 1.0, 2.0]))
    np.testing.assert_array_equal(got, [[0, 1, 1], [2, 3, 1]])
    eye = np.eye(4, dtype=np.float32)
    np.testing.assert_array_equal(L.Discretization([0.0, 1.0, 2.0], output_mode="one_hot")(x).numpy(), eye[got])
    np.testing.assert_array_equal(L.Discretization([0.0, 1.0, 2.0], output_mode="multi_hot")(x).numpy(),
                                  [[1, 1, 0, 0], [0, 1, 1, 1]])
    np.testing.assert_array_equal(L.Discretization([0.0, 1.0, 2.0], output_mode="count")(x).numpy(),
                                  [[1, 2, 0, 0], [0, 1, 1, 1]])
    sym = L.Discretization([0.0, 1.0])(dt.Input((3,)))
    assert sym.shape == (None, 3) and sym.dtype == "int32"


def _keras_quantiles(values, num_bins, epsilon):
    """The boundaries Keras' algorithm gives for one batch, written out in float64: the summary
    keeps every step-th sorted value (step = n * epsilon), then the num_bins - 1 inner quantiles are
    read off its cumulative weights by linear interpolation."""
    v = np.sort(np.ravel(values).astype(np.float32)).astype(np.float64)
    step = max(len(v) * epsilon, 1)
    picked = v[int(step) - 1::int(step)]
    cum = np.cumsum(np.full(len(picked), step))
    if len(picked) * epsilon >= 1:        # the first compression onto 1 / epsilon points
        q = epsilon + np.arange(0.0, 1.0, epsilon)
        picked, cum = np.interp(q, cum / cum[-1], picked), np.interp(q, cum / cum[-1], cum)
    q = 1.0 / num_bins + np.arange(0.0, 1.0, 1.0 / num_bins)
    return np.interp(q, cum / cum[-1], picked)[:-1]


@pytest.mark.parametrize("n,num_bins,eps", [(1000, 4, 0.01), (37, 3, 0.01), (500, 5, 0.1)])
def test_discretization_adapt_quantiles(n, num_bins, eps, rng):
    data = rng.standard_normal(n).astype(np.float32)
    layer = L.Discretization(num_bins=num_bins, epsilon=eps)
    layer.adapt(data)
    assert len(layer.bin_boundaries) == num_bins - 1
    np.testing.assert_allclose(layer.bin_boundaries, _keras_quantiles(data, num_bins, eps), rtol=1e-5, atol=1e-6)
    # close to the true quantiles
    np.testing.assert_allclose(layer.bin_boundaries, np.quantile(data, np.arange(1, num_bins) / num_bins),
                               atol=0.15)
    counts = np.bincount(layer(data).numpy(), minlength=num_bins)
    assert counts.min() > 0.6 * n / num_bins


def test_discretization_adapt_batches_config_and_errors(tmp_path, rng):
    data = rng.uniform(0, 10, size=(400, 1)).astype(np.float32)
    layer = L.Discretization(num_bins=4)
    layer.adapt([data[i:i + 100] for i in range(0, 400, 100)])
    np.testing.assert_allclose(layer.bin_boundaries, [2.5, 5.0, 7.5], atol=0.6)
    first_two = L.Discretization(num_bins=4)
    first_two.adapt(iter([data[:100], data[100:200], data[200:]]), steps=2)
    again = L.Discretization(num_bins=4)
    again.adapt([data[:100], data[100:200]])
    assert first_two.bin_boundaries == again.bin_boundaries
    by_hand = L.Discretization(num_bins=4)          # what adapt runs: Keras' state methods
    by_hand.update_state(data[:100])
    by_hand.update_state(data[100:200])
    by_hand.finalize_state()
    assert by_hand.bin_boundaries == again.bin_boundaries
    by_hand.reset_state()
    by_hand.update_state(data)
    by_hand.finalize_state()
    whole = L.Discretization(num_bins=4)
    whole.adapt(data)
    assert by_hand.bin_boundaries == whole.bin_boundaries != again.bin_boundaries
    cfg = layer.get_config()
    assert cfg["num_bins"] == 4 and cfg["bin_boundaries"] == layer.bin_boundaries
    assert L.Discretization.from_config(cfg).bin_boundaries == layer.bin_boundaries
    model = dt.Sequential([dt.Input((1,)), L.Discretization(bin_boundaries=[1.0, 5.0], output_mode="one_hot"),
                           L.Flatten(), L.Dense(2)])
    model.save(tmp_path / "m.dpt")
    np.testing.assert_array_equal(dt.load_model(tmp_path / "m.dpt").predict(data[:5], verbose=0),
                                  model.predict(data[:5], verbose=0))
    with pytest.raises(ValueError, match="Discretization.*either num_bins or bin_boundaries"):
        L.Discretization()
    with pytest.raises(ValueError, match="not both"):
        L.Discretization(bin_boundaries=[1.0], num_bins=2)
    with pytest.raises(ValueError, match="adapt.*num_bins"):
        L.Discretization(bin_boundaries=[1.0]).adapt(data)
    with pytest.raises(ValueError, match="no bin boundaries yet"):
        L.Discretization(num_bins=3)(data)
    with pytest.raises(NotImplementedError, match="sparse"):
        L.Discretization(num_bins=3, output_mode="one_hot", sparse=True)
    with pytest.raises(ValueError, match="output_mode"):
        L.Discretization(num_bins=3, output_mode="bins")


# --- image ops -------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(3, 4), (9, 11), (5, 12), (2, 2)])
def test_resize_bilinear_and_nearest_vs_reference(size, rng):
    x = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)
    np.testing.assert_allclose(L.Resizing(*size)(x).numpy(), resize_ref(x, *size), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(L.Resizing(*size, interpolation="nearest")(x).numpy(), nearest_ref(x, *size))
    xf = np.transpose(x, (0, 3, 1, 2))
    got = L.Resizing(*size, data_format="channels_first")(xf).numpy()
    np.testing.assert_allclose(got, np.transpose(resize_ref(x, *size), (0, 3, 1, 2)), rtol=1e-5, atol=1e-5)


def test_resize_gradcheck_float64(rng):
    x = rng.standard_normal((1, 4, 5, 2))
    for size in ((3, 7), (6, 3)):
        assert gradcheck(lambda t, s=size: I.resize(t, s), [x])
        assert gradcheck(lambda t, s=size: I.resize(t, s, crop_to_aspect_ratio=True), [x])


FILL = ["constant", "nearest", "wrap", "mirror", "reflect"]


@pytest.mark.parametrize("fill_mode", FILL)
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_affine_transform_vs_pixel_loop(fill_mode, interpolation, rng):
    x = rng.standard_normal((2, 5, 6, 2))
    th = np.deg2rad(30)
    t = np.array([[np.cos(th), -np.sin(th), 1.3, np.sin(th), np.cos(th), -0.7, 0, 0],
                  [1.4, 0.2, -2.1, -0.1, 0.8, 1.6, 0, 0]])
    got = I.affine_transform(x, t, interpolation=interpolation, fill_mode=fill_mode, fill_value=0.5).numpy()
    assert got.dtype == np.float64
    for b in range(2):
        np.testing.assert_allclose(got[b], affine_ref(x[b], t[b], interpolation, fill_mode, 0.5), atol=1e-12)


def test_affine_transform_gradcheck_and_crop_images(rng):
    x = rng.standard_normal((2, 4, 5, 2))
    t = np.array([0.9, -0.3, 0.7, 0.3, 0.9, -0.4, 0, 0])
    for mode in ("constant", "reflect"):
        assert gradcheck(lambda a, m=mode: I.affine_transform(a, t, fill_mode=m, fill_value=1.0), [x])
    np.testing.assert_array_equal(I.crop_images(x, 1, 2, None, None, 2, 3).numpy(), x[:, 1:3, 2:5])
    np.testing.assert_array_equal(I.crop_images(x, None, 1, 1, 0, 2, None).numpy(), x[:, 1:3, 1:5])
    with pytest.raises(ValueError, match="exactly two"):
        I.crop_images(x, 1, 1, 1, None, 2, None)
    with pytest.raises(ValueError, match="does not fit"):
        I.crop_images(x, 3, 0, None, None, 2, 5)


# --- Resizing / CenterCrop layers --------------------------------------------------------------
def test_resizing_options_integer_images_and_errors(rng):
    x = rng.standard_normal((2, 4, 8, 1)).astype(np.float32)
    crop = L.Resizing(3, 3, crop_to_aspect_ratio=True)(x).numpy()
    np.testing.assert_allclose(crop, resize_ref(x[:, :, 2:6], 3, 3), rtol=1e-5, atol=1e-5)
    pad = L.Resizing(4, 4, pad_to_aspect_ratio=True, fill_value=1.0)(x).numpy()
    padded = np.pad(x, ((0, 0), (2, 2), (0, 0), (0, 0)), constant_values=1.0)
    np.testing.assert_allclose(pad, resize_ref(padded, 4, 4), rtol=1e-5, atol=1e-5)
    u8 = rng.integers(0, 256, size=(1, 4, 4, 3)).astype(np.uint8)
    out = L.Resizing(3, 5)(u8).numpy()
    assert out.dtype == np.uint8
    # rounded (float32 sums may land on the other side of .5 than float64 ones)
    assert np.abs(out.astype(int) - np.round(resize_ref(u8, 3, 5))).max() <= 1
    np.testing.assert_allclose(out, resize_ref(u8, 3, 5), atol=0.5 + 1e-4)
    assert L.Resizing(3, 5)(rng.standard_normal((4, 4, 3)).astype(np.float32)).shape == (3, 5, 3)
    with pytest.raises(NotImplementedError, match="Resizing.*bicubic"):
        L.Resizing(3, 3, interpolation="bicubic")
    with pytest.raises(ValueError, match="only one of"):
        L.Resizing(3, 3, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True)
    with pytest.raises(ValueError, match="Resizing.*height"):
        L.Resizing(0, 3)
    with pytest.raises(NotImplementedError, match="antialias"):
        L.Resizing(2, 2, antialias=True)(x)
    with pytest.raises(ValueError, match="incompatible input shape"):
        L.Resizing(2, 2)(dt.Input((4,)))


def test_center_crop(rng):
    x = rng.standard_normal((2, 5, 7, 3)).astype(np.float32)
    np.testing.assert_array_equal(L.CenterCrop(3, 4)(x).numpy(), x[:, 1:4, 1:5])
    np.testing.assert_array_equal(L.CenterCrop(2, 2)(x).numpy(), x[:, 1:3, 2:4])
    np.testing.assert_array_equal(L.CenterCrop(5, 7)(x).numpy(), x)
    # taller than the image: the largest centred window of aspect 10:3 (5 x 1, column 3), resized
    np.testing.assert_allclose(L.CenterCrop(10, 3)(x).numpy(), resize_ref(x[:, :, 3:4], 10, 3), rtol=1e-5, atol=1e-5)
    u8 = rng.integers(0, 256, size=(1, 4, 4, 1)).astype(np.uint8)
    assert L.CenterCrop(2, 2)(u8).numpy().dtype == np.float32
    xf = np.transpose(x, (0, 3, 1, 2))
    np.testing.assert_array_equal(L.CenterCrop(3, 4, data_format="channels_first")(xf).numpy(),
                                  np.transpose(x[:, 1:4, 1:5], (0, 3, 1, 2)))
    assert L.CenterCrop(3, 4)(dt.Input((5, 7, 3))).shape == (None, 3, 4, 3)


def test_image_layers_in_a_model_train_save_and_load(tmp_path, rng):
    x = rng.standard_normal((4, 6, 6, 2)).astype(np.float32)
    model = dt.Sequential([dt.Input((6, 6, 2)), L.Resizing(8, 8), L.Conv2D(2, 3), L.CenterCrop(4, 4),
                           L.Flatten(), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, rng.standard_normal((4, 1)).astype(np.float32), epochs=1, verbose=0)
    model.save(tmp_path / "m.dpt")
    loaded = dt.load_model(tmp_path / "m.dpt")
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    cfg = L.Resizing(3, 4, interpolation="nearest", pad_to_aspect_ratio=True, fill_value=2.0).get_config()
    assert L.Resizing.from_config(cfg).get_config() == cfg


def test_gradient_flows_through_resizing_and_center_crop(rng):
    """Resizing / CenterCrop inside a differentiable graph: d sum(w * f(x)) / dx = f^T w."""
    x = dt.ag.param(rng.standard_normal((1, 4, 5, 1)).astype(np.float32), name="x")
    w = rng.standard_normal((1, 3, 3, 1)).astype(np.float32)
    with dt.ag.grad_tape():
        loss = dt.ag.sum(L.CenterCrop(3, 3)(L.Resizing(6, 7)(x)) * w)
    grads = dt.ag.backward(loss)
    m_h, m_w = linear_matrix(4, 6)[1:4], linear_matrix(5, 7)[2:5]
    np.testing.assert_allclose(grads["x"][0, :, :, 0], m_h.T @ w[0, :, :, 0] @ m_w, rtol=1e-5, atol=1e-6)


def test_exported_from_dt_layers():
    from dptrain.layers import augmentation, preprocessing
    for name in preprocessing.__all__ + augmentation.__all__:
        assert getattr(dt.layers, name) is getattr(preprocessing, name, None) or \
            getattr(dt.layers, name) is getattr(augmentation, name)
