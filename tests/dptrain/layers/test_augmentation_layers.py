"""Image augmentation layers (RandomFlip, RandomRotation, RandomTranslation, RandomZoom, RandomCrop,
RandomContrast, RandomBrightness): the identity in inference; in training a valid transform of the
input (checked against numpy float64 references of the transform with known parameters), seeds,
shapes, configs, save/load, gradients and errors."""
import numpy as np
import pytest

import dptrain as dt
from dptrain import layers as L
from engine import gradcheck

from test_preprocessing_layers import affine_ref, resize_ref


def _images(rng, shape=(3, 5, 6, 2)):
    return rng.standard_normal(shape).astype(np.float32)


def _rotation(deg, h, w):
    a = np.deg2rad(deg)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    c, s = np.cos(a), np.sin(a)
    # output (y, x) reads the input at R (p - centre) + centre, R = [[c, -s], [s, c]] on (x, y)
    return [c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy]


ALL = [lambda: L.RandomFlip(), lambda: L.RandomRotation(0.2), lambda: L.RandomTranslation(0.2, 0.3),
       lambda: L.RandomZoom(0.2, 0.3), lambda: L.RandomContrast(0.3), lambda: L.RandomBrightness(0.2)]
IDS = ["flip", "rotation", "translation", "zoom", "contrast", "brightness"]


@pytest.mark.parametrize("make", ALL, ids=IDS)
def test_identity_at_inference_and_shapes(make, rng):
    x = _images(rng) * 50 + 100
    layer = make()
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)
    dt.ag.manual_seed(3)
    direct = layer(x).numpy()                  # as Keras, a direct call on data augments
    dt.ag.manual_seed(3)
    np.testing.assert_array_equal(direct, layer(x, training=True).numpy())
    assert layer(x, training=True).shape == x.shape
    assert layer(x[0], training=True).shape == x[0].shape
    assert layer(dt.Input((5, 6, 2))).shape == (None, 5, 6, 2)
    model = dt.Sequential([dt.Input((5, 6, 2)), make(), L.Flatten(), L.Dense(2)])
    w = model.predict(x, verbose=0)
    plain = dt.Sequential([dt.Input((5, 6, 2)), L.Flatten(), L.Dense(2)])
    plain.set_weights(model.get_weights())
    np.testing.assert_allclose(w, plain.predict(x, verbose=0), rtol=1e-6)
    u8 = rng.integers(0, 256, size=(2, 5, 6, 2)).astype(np.uint8)
    out = layer(u8, training=False).numpy()
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, u8.astype(np.float32))


@pytest.mark.parametrize("make", ALL, ids=IDS)
def test_seed_reproducible_and_changes_in_training(make, rng):
    x = _images(rng, (8, 5, 6, 2)) * 50 + 100
    cfg = make().get_config()
    a = type(make()).from_config({**cfg, "name": "a", "seed": 7})
    b = type(make()).from_config({**cfg, "name": "b", "seed": 7})
    ya, yb = a(x, training=True).numpy(), b(x, training=True).numpy()
    np.testing.assert_array_equal(ya, yb)
    assert not np.allclose(ya, x)
    dt.ag.manual_seed(3)
    c1 = make()(x, training=True).numpy()
    dt.ag.manual_seed(3)
    c2 = make()(x, training=True).numpy()
    np.testing.assert_array_equal(c1, c2)


@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
def test_flip_gives_one_of_the_flips(mode, rng):
    x = _images(rng, (16, 4, 5, 1))
    y = L.RandomFlip(mode, seed=1)(x, training=True).numpy()
    flipped = {"horizontal": x[:, :, ::-1], "vertical": x[:, ::-1], "horizontal_and_vertical": x[:, ::-1, ::-1]}[mode]
    same = [np.array_equal(y[i], x[i]) for i in range(16)]
    flip = [np.array_equal(y[i], flipped[i]) for i in range(16)]
    assert all(s or f for s, f in zip(same, flip))
    assert any(same) and any(flip)
    yf = L.RandomFlip(mode, seed=1, data_format="channels_first")(np.transpose(x, (0, 3, 1, 2)), training=True)
    np.testing.assert_array_equal(np.transpose(yf.numpy(), (0, 2, 3, 1)), y)


@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_rotation_by_a_known_angle(fill_mode, interpolation, rng):
    x = _images(rng)
    layer = L.RandomRotation((0.1, 0.1), fill_mode=fill_mode, interpolation=interpolation, fill_value=-1.0)
    got = layer(x, training=True).numpy()
    t = _rotation(36.0, 5, 6)
    for b in range(3):
        np.testing.assert_allclose(got[b], affine_ref(x[b], t, interpolation, fill_mode, -1.0), atol=1e-4)


def test_rotation_quarter_turn_of_a_square_is_rot90(rng):
    x = _images(rng, (2, 5, 5, 1))
    got = L.RandomRotation((0.25, 0.25), interpolation="nearest")(x, training=True).numpy()
    # output (y, x) = input at (cy + (x - cx), cx - (y - cy)) = input[x, 4 - y]: numpy's rot90 (k=1)
    np.testing.assert_allclose(got, np.rot90(x, k=1, axes=(1, 2)), atol=1e-6)


@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
def test_translation_by_known_shift(fill_mode, rng):
    x = _images(rng)
    got = L.RandomTranslation((0.2, 0.2), (-0.25, -0.25), fill_mode=fill_mode)(x, training=True).numpy()
    dy, dx = 0.2 * 5, -0.25 * 6
    for b in range(3):
        np.testing.assert_allclose(got[b], affine_ref(x[b], [1, 0, -dx, 0, 1, -dy], "bilinear", fill_mode),
                                   atol=1e-5)
    whole = L.RandomTranslation((0.4, 0.4), 0.0, fill_mode="constant")(x, training=True).numpy()
    np.testing.assert_allclose(whole[:, 2:], x[:, :3], atol=1e-6)        # 2 rows down, zeros above
    np.testing.assert_array_equal(whole[:, :2], 0.0)


@pytest.mark.parametrize("fill_mode", ["reflect", "constant"])
def test_zoom_by_known_factor(fill_mode, rng):
    x = _images(rng)
    got = L.RandomZoom((0.5, 0.5), (-0.2, -0.2), fill_mode=fill_mode)(x, training=True).numpy()
    zy, zx = 1.5, 0.8
    t = [zx, 0, 2.5 * (1 - zx), 0, zy, 2.0 * (1 - zy)]
    for b in range(3):
        np.testing.assert_allclose(got[b], affine_ref(x[b], t, "bilinear", fill_mode), atol=1e-5)
    same = L.RandomZoom((0.3, 0.3))(x, training=True).numpy()        # width_factor None: zx = zy
    t = [1.3, 0, 2.5 * -0.3, 0, 1.3, 2.0 * -0.3]
    np.testing.assert_allclose(same[0], affine_ref(x[0], t, "bilinear", "reflect"), atol=1e-5)


def test_contrast_and_brightness_formulas(rng):
    x = rng.uniform(0, 255, size=(4, 5, 6, 3)).astype(np.float32)
    y = L.RandomContrast((0.5, 0.5), seed=2)(x, training=True).numpy().astype(np.float64)
    m = x.astype(np.float64).mean(axis=(1, 2), keepdims=True)
    for b in range(4):      # y = clip((x - m) c + m, 0, 255) for one c per image in [0.5, 1.5]
        inside = (y[b] > 0) & (y[b] < 255)
        c = np.median(((y[b] - m[b]) / (x[b] - m[b]))[inside])
        assert 0.5 <= c <= 1.5
        np.testing.assert_allclose(y[b], np.clip((x[b] - m[b]) * c + m[b], 0, 255), atol=2e-3)
    assert L.RandomContrast(0.3).factor == (0.0, 0.3)          # Keras: a number f gives [1, 1 + f]
    z = L.RandomBrightness((0.1, 0.1), value_range=(0, 100))(x / 2.55, training=True).numpy()
    np.testing.assert_allclose(z, np.clip(x / 2.55 + 10.0, 0, 100), rtol=1e-5, atol=1e-4)
    d = L.RandomBrightness(0.3, seed=1)(x, training=True).numpy() - x
    for b in range(4):
        free = (x[b] + d[b] > 1e-3) & (x[b] + d[b] < 255 - 1e-3)
        delta = np.median(d[b][free])
        assert abs(delta) <= 0.3 * 255 and np.allclose(d[b][free], delta, atol=1e-3)


def test_random_crop_training_window_and_inference_center(rng):
    x = _images(rng, (2, 6, 8, 1))
    layer = L.RandomCrop(3, 4, seed=5)
    windows = {(i, j): x[:, i:i + 3, j:j + 4] for i in range(4) for j in range(5)}
    seen = set()
    for _ in range(12):
        y = layer(x, training=True).numpy()
        hits = [k for k, v in windows.items() if np.array_equal(y, v)]
        assert len(hits) == 1
        seen.add(hits[0])
    assert len(seen) > 2
    # inference (Keras' documented behaviour): the centred 6 x 8 window of aspect 3:4, resized
    np.testing.assert_allclose(layer(x, training=False).numpy(), resize_ref(x, 3, 4), rtol=1e-5, atol=1e-5)
    tall = L.RandomCrop(4, 2)(x, training=False).numpy()         # aspect 2:1 -> the centred 6 x 3 window, resized
    np.testing.assert_allclose(tall, resize_ref(x[:, :, 2:5], 4, 2), rtol=1e-5, atol=1e-5)
    small = L.RandomCrop(6, 4, seed=1)(x, training=True).numpy()  # not larger in height: centred + resized
    np.testing.assert_allclose(small, resize_ref(x[:, :, 2:6], 6, 4), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(L.RandomCrop(6, 8)(x, training=True).numpy(), x)
    assert L.RandomCrop(3, 4)(dt.Input((6, 8, 1))).shape == (None, 3, 4, 1)
    model = dt.Sequential([dt.Input((6, 8, 1)), L.RandomCrop(3, 4), L.Flatten(), L.Dense(1)])
    assert model.predict(x, verbose=0).shape == (2, 1)


def test_augmented_model_trains_saves_and_loads(tmp_path, rng):
    x = _images(rng, (6, 6, 6, 2))
    model = dt.Sequential([dt.Input((6, 6, 2)), L.RandomFlip(seed=1), L.RandomRotation(0.1, seed=2),
                           L.RandomTranslation(0.1, 0.1), L.RandomZoom(0.1), L.RandomCrop(4, 4),
                           L.RandomContrast(0.1), L.RandomBrightness(0.1, value_range=(-5, 5)),
                           L.Conv2D(2, 3), L.Flatten(), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    hist = model.fit(x, rng.standard_normal((6, 1)).astype(np.float32), epochs=2, batch_size=3, verbose=0)
    assert np.all(np.isfinite(hist.history["loss"]))
    model.save(tmp_path / "m.dpt")
    loaded = dt.load_model(tmp_path / "m.dpt")
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_gradient_through_rotation(rng):
    """The augmentation differentiates with respect to the images (float64 through the image op
    the layers use, and a float32 layer's gradient against its float64 linear map)."""
    x = rng.standard_normal((1, 4, 5, 1))
    from dptrain.ops import image as I
    t = np.asarray(_rotation(20.0, 4, 5) + [0, 0])
    assert gradcheck(lambda a: I.affine_transform(a, t, fill_mode="reflect"), [x])
    p = dt.ag.param(x.astype(np.float32), name="img")
    w = rng.standard_normal((1, 4, 5, 1)).astype(np.float32)
    with dt.ag.grad_tape():
        loss = dt.ag.sum(L.RandomRotation((20 / 360, 20 / 360), fill_mode="constant")(p, training=True) * w)
    g = dt.ag.backward(loss)["img"]
    basis = np.eye(20).reshape(20, 4, 5, 1)
    jac = np.stack([affine_ref(e, t, "bilinear", "constant").ravel() for e in basis], axis=1)   # [out, in]
    np.testing.assert_allclose(g.ravel(), jac.T @ w.ravel(), rtol=1e-4, atol=1e-5)


def test_configs_round_trip():
    layers = [L.RandomFlip("vertical", seed=3), L.RandomRotation((-0.1, 0.3), fill_mode="constant", fill_value=2.0),
              L.RandomTranslation((-0.1, 0.2), 0.3, interpolation="nearest"), L.RandomZoom(0.2, (-0.1, 0.1)),
              L.RandomCrop(3, 4, seed=1), L.RandomContrast((0.1, 0.4), value_range=(0, 1)),
              L.RandomBrightness(0.2, value_range=(-1, 1))]
    for layer in layers:
        cfg = layer.get_config()
        assert type(layer).from_config(cfg).get_config() == cfg
    assert layers[1].get_config()["factor"] == (-0.1, 0.3)
    assert layers[1].get_config()["fill_mode"] == "constant"


def test_errors():
    with pytest.raises(ValueError, match="RandomFlip.*mode"):
        L.RandomFlip("diagonal")
    with pytest.raises(ValueError, match="RandomRotation.*factor"):
        L.RandomRotation(1.5)
    with pytest.raises(ValueError, match="factor"):
        L.RandomRotation((0.1, 0.2, 0.3))
    with pytest.raises(NotImplementedError, match="RandomRotation.*fill_mode='mirror'"):
        L.RandomRotation(0.1, fill_mode="mirror")
    with pytest.raises(NotImplementedError, match="interpolation"):
        L.RandomTranslation(0.1, 0.1, interpolation="bicubic")
    with pytest.raises(ValueError, match="RandomZoom.*height_factor"):
        L.RandomZoom(-1.0)
    with pytest.raises(ValueError, match="RandomTranslation.*width_factor"):
        L.RandomTranslation(0.1, 2.0)
    with pytest.raises(ValueError, match="RandomContrast.*factor"):
        L.RandomContrast(-0.2)
    with pytest.raises(ValueError, match="value_range"):
        L.RandomBrightness(0.1, value_range=5)
    with pytest.raises(ValueError, match="RandomCrop.*height"):
        L.RandomCrop(0, 2)
    with pytest.raises(ValueError, match="seed"):
        L.RandomFlip(seed=-1)
    with pytest.raises(ValueError, match="incompatible input shape"):
        L.RandomFlip()(dt.Input((4,)))
    for layer in (L.RandomFlip(), L.RandomCrop(2, 2), L.Resizing(2, 2), L.CenterCrop(2, 2)):
        with pytest.raises(NotImplementedError, match="dict inputs"):
            layer({"images": np.ones((1, 4, 4, 1), np.float32)}, training=True)
