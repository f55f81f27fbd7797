"""SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout, AlphaDropout, ActivityRegularization:
inference is the identity; in training the output statistics follow Keras 3's formulas, whole
channels drop together, gradients flow through the kept entries with the right scale; seeds,
shapes, configs, save/load, argument errors."""
import math

import numpy as np
import pytest

import dptrain as dt
from dptrain import ag
from dptrain.layers.regularization import (ActivityRegularization, AlphaDropout, GaussianDropout, GaussianNoise,
                                           SpatialDropout1D, SpatialDropout2D, SpatialDropout3D)

ALPHA_P = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946


def alpha_affine(rate):
    a = ((1 - rate) * (1 + rate * ALPHA_P ** 2)) ** -0.5
    return a, -a * ALPHA_P * rate


def _x(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _train_with_grad(layer, x, w):
    """y = layer(x, training=True) and d sum(w * y) / dx, in float64."""
    p = ag.param(x.astype(np.float64))
    with ag.grad_tape():
        y = layer(p, training=True)
        loss = ag.sum(ag.mul(y, w))
    loss.backward()
    return y.numpy(), np.asarray(p.grad)


def _close_to(got, want, sd, n_sd=5):
    """|got - want| within n_sd standard errors."""
    assert abs(got - want) <= n_sd * sd, f"{got} is not within {n_sd} x {sd:.3g} of {want}"


ALL = [lambda: SpatialDropout1D(0.4), lambda: SpatialDropout2D(0.4), lambda: SpatialDropout2D(0.3, "channels_first"),
       lambda: SpatialDropout3D(0.4, seed=3), lambda: GaussianNoise(0.5), lambda: GaussianDropout(0.3, seed=1),
       lambda: AlphaDropout(0.2), lambda: AlphaDropout(0.2, noise_shape=(None, 1, 4)), lambda: ActivityRegularization()]
IDS = ["sd1", "sd2", "sd2_first", "sd3", "gnoise", "gdrop", "alpha", "alpha_noise_shape", "activity"]
SHAPES = {"sd1": (3, 4), "sd2": (3, 5, 4), "sd2_first": (3, 5, 4), "sd3": (2, 3, 5, 4)}


def _shape(i):
    return SHAPES.get(IDS[i], (3, 4))


# --- inference is the identity ----------------------------------------------------------------
@pytest.mark.parametrize("i", range(len(ALL)), ids=IDS)
def test_inference_is_the_identity(rng, i):
    layer = ALL[i]()
    x = _x(rng, 6, *_shape(i))
    np.testing.assert_array_equal(layer(x).numpy(), x)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)
    model = dt.Sequential([dt.Input(_shape(i)), layer])
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


@pytest.mark.parametrize("make", [lambda: SpatialDropout1D(0.0), lambda: SpatialDropout2D(0), lambda: GaussianNoise(0),
                                  lambda: GaussianDropout(0.0), lambda: AlphaDropout(0.0),
                                  lambda: ActivityRegularization(0.0, 0)],
                         ids=["sd1", "sd2", "gnoise", "gdrop", "alpha", "activity"])
def test_zero_rate_is_the_identity_in_training(rng, make):
    layer = make()
    x = _x(rng, 2, 3, 4, 5)[..., 0] if isinstance(layer, SpatialDropout1D) else _x(rng, 2, 3, 4, 5)
    np.testing.assert_array_equal(layer(x, training=True).numpy(), x)


# --- spatial dropout ------------------------------------------------------------------------------
@pytest.mark.parametrize("make,shape,channel_axis", [
    (lambda r: SpatialDropout1D(r), (400, 6, 16), 2),
    (lambda r: SpatialDropout2D(r), (200, 3, 4, 16), 3),
    (lambda r: SpatialDropout2D(r, data_format="channels_first"), (200, 16, 3, 4), 1),
    (lambda r: SpatialDropout3D(r), (200, 2, 3, 2, 16), 4),
    (lambda r: SpatialDropout3D(r, data_format="channels_first"), (200, 16, 2, 3, 2), 1)],
    ids=["1d", "2d", "2d_first", "3d", "3d_first"])
@pytest.mark.parametrize("rate", [0.25, 0.6])
def test_spatial_dropout_drops_whole_channels(rng, make, shape, channel_axis, rate):
    x = _x(rng, *shape)
    w = rng.standard_normal(shape)
    y, g = _train_with_grad(make(rate), x, w)
    scale = y / x.astype(np.float64)
    # one factor per (sample, channel): the same along every other axis
    per_channel = np.moveaxis(scale, channel_axis, 1).reshape(shape[0], shape[channel_axis], -1)
    np.testing.assert_allclose(per_channel, per_channel[..., :1] * np.ones_like(per_channel), rtol=1e-6, atol=0)
    factors = per_channel[..., 0]
    kept = factors > 0
    np.testing.assert_allclose(factors[kept], 1 / (1 - rate), rtol=1e-6)
    m = factors.size
    _close_to(1 - kept.mean(), rate, math.sqrt(rate * (1 - rate) / m))
    # the gradient: w scaled by 1 / (1 - rate) where kept, 0 where dropped
    np.testing.assert_allclose(g, w * scale, rtol=1e-6, atol=1e-12)
    # different samples draw different masks
    assert not np.all(kept == kept[:1])


def test_spatial_dropout_rate_one_gives_zeros_and_zero_gradient(rng):
    x = _x(rng, 4, 3, 5)
    y, g = _train_with_grad(SpatialDropout1D(1.0), x, np.ones(x.shape))
    np.testing.assert_array_equal(y, 0.0)
    np.testing.assert_array_equal(g, 0.0)


def test_spatial_dropout_output_mean_is_the_input_mean(rng):
    x = np.full((500, 4, 40), 2.0, np.float32)
    y = SpatialDropout1D(0.5)(x, training=True).numpy()
    _close_to(y.mean(), 2.0, 2.0 * math.sqrt(1 / (500 * 40)))   # per-channel factor: mean 1, variance 1


# --- Gaussian noise / dropout ------------------------------------------------------------------
@pytest.mark.parametrize("stddev", [0.1, 0.7])
def test_gaussian_noise_statistics_and_gradient(rng, stddev):
    x = _x(rng, 400, 250)
    w = rng.standard_normal(x.shape)
    y, g = _train_with_grad(GaussianNoise(stddev), x, w)
    noise = y - x
    n = noise.size
    _close_to(noise.mean(), 0.0, stddev / math.sqrt(n))
    _close_to(noise.var(), stddev ** 2, stddev ** 2 * math.sqrt(2 / n))
    assert abs(np.corrcoef(noise.ravel(), x.ravel())[0, 1]) < 5 / math.sqrt(n)   # independent of x
    np.testing.assert_allclose(g, w, rtol=1e-12)   # additive noise: the gradient passes unchanged


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_gaussian_dropout_statistics_and_gradient(rng, rate):
    x = _x(rng, 400, 250)
    w = rng.standard_normal(x.shape)
    y, g = _train_with_grad(GaussianDropout(rate), x, w)
    noise = y / x.astype(np.float64)
    n, var = noise.size, rate / (1 - rate)
    _close_to(noise.mean(), 1.0, math.sqrt(var / n))
    _close_to(noise.var(), var, var * math.sqrt(2 / n))
    np.testing.assert_allclose(g, w * noise, rtol=1e-6)   # d(x * n)/dx = n


def test_noise_is_fresh_per_call(rng):
    x = _x(rng, 4, 5)
    for layer in (GaussianNoise(0.3), GaussianDropout(0.3), AlphaDropout(0.3), SpatialDropout1D(0.5)):
        xx = x[:, :, None] * np.ones(6, np.float32) if isinstance(layer, SpatialDropout1D) else x
        assert not np.array_equal(layer(xx, training=True).numpy(), layer(xx, training=True).numpy())


# --- AlphaDropout ------------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [0.1, 0.4])
def test_alpha_dropout_keeps_zero_mean_unit_variance(rng, rate):
    x = _x(rng, 400, 250)
    w = rng.standard_normal(x.shape)
    y, g = _train_with_grad(AlphaDropout(rate), x, w)
    a, b = alpha_affine(rate)
    dropped = np.isclose(y, a * ALPHA_P + b, rtol=0, atol=1e-5)
    n = y.size
    _close_to(dropped.mean(), rate, math.sqrt(rate * (1 - rate) / n))
    np.testing.assert_allclose(y[~dropped], a * x[~dropped] + b, rtol=1e-5, atol=1e-5)
    _close_to(y.mean(), 0.0, 5 / math.sqrt(n))
    _close_to(y.var(), 1.0, 5 * math.sqrt(2 / n))
    np.testing.assert_allclose(g, w * a * ~dropped, rtol=1e-6, atol=1e-12)


def test_alpha_dropout_noise_shape_shares_the_mask(rng):
    x = _x(rng, 50, 6, 8)
    y = AlphaDropout(0.5, noise_shape=(None, 1, 8))(x, training=True).numpy()
    a, b = alpha_affine(0.5)
    dropped = np.isclose(y, a * ALPHA_P + b, rtol=0, atol=1e-5)
    assert np.all(dropped == dropped[:, :1, :]) and 0 < dropped.mean() < 1
    with pytest.raises(ValueError, match="does not broadcast"):
        AlphaDropout(0.5, noise_shape=(None, 2, 8))(x, training=True)
    with pytest.raises(ValueError, match="does not broadcast"):
        AlphaDropout(0.5, noise_shape=(None, 8))(x, training=True)


# --- reproducibility -------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda **k: SpatialDropout2D(0.5, **k), lambda **k: GaussianNoise(0.5, **k),
                                  lambda **k: GaussianDropout(0.5, **k), lambda **k: AlphaDropout(0.5, **k)],
                         ids=["sd2", "gnoise", "gdrop", "alpha"])
def test_manual_seed_and_seed_argument_make_runs_reproducible(rng, make):
    x = _x(rng, 4, 3, 3, 5)

    def run(engine_seed, **kw):
        ag.manual_seed(engine_seed)
        layer = make(**kw)
        return [layer(x, training=True).numpy() for _ in range(2)]
    np.testing.assert_array_equal(run(7), run(7))
    assert not np.array_equal(run(7)[0], run(8)[0])
    # seed=: the layer's own generator, whatever the engine seed
    np.testing.assert_array_equal(run(1, seed=42), run(2, seed=42))
    assert not np.array_equal(run(1, seed=42)[0], run(1, seed=43)[0])


# --- in a model: fit trains through them -------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda: SpatialDropout1D(0.3), lambda: GaussianNoise(0.2),
                                  lambda: GaussianDropout(0.2), lambda: AlphaDropout(0.2),
                                  lambda: ActivityRegularization()],
                         ids=["sd1", "gnoise", "gdrop", "alpha", "activity"])
def test_fit_trains_through_the_layer(rng, make):
    model = dt.Sequential([dt.Input((5, 4)), dt.layers.Dense(4), make(), dt.layers.Flatten(), dt.layers.Dense(1)])
    model.compile(optimizer=dt.optimizers.SGD(learning_rate=0.05), loss="mse")
    x, y = _x(rng, 16, 5, 4), rng.standard_normal((16, 1))
    before = model.get_weights()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


# --- shapes, configs, save/load ------------------------------------------------------------------------
@pytest.mark.parametrize("i", range(len(ALL)), ids=IDS)
def test_output_shapes_symbolic_and_eager(rng, i):
    shape = _shape(i)
    assert tuple(ALL[i]()(dt.Input(shape)).shape) == (None,) + shape
    assert ALL[i]()(_x(rng, 2, *shape), training=True).numpy().shape == (2,) + shape


@pytest.mark.parametrize("i", range(len(ALL)), ids=IDS)
def test_config_round_trip(i):
    layer = ALL[i]()
    twin = type(layer).from_config(layer.get_config())
    assert twin.get_config() == layer.get_config()


def test_configs_hold_keras_arguments():
    assert SpatialDropout2D(0.5).get_config()["data_format"] == "channels_last"
    assert SpatialDropout2D(0.5, data_format="Channels_First").data_format == "channels_first"
    cfg = AlphaDropout(0.1, noise_shape=[None, 1, 3], seed=5).get_config()
    assert (cfg["rate"], cfg["noise_shape"], cfg["seed"]) == (0.1, (None, 1, 3), 5)
    assert GaussianNoise(0.2).get_config()["stddev"] == 0.2
    assert ActivityRegularization().get_config()["l1"] == 0.0


@pytest.mark.parametrize("i", range(len(ALL)), ids=IDS)
def test_save_load_round_trip(tmp_path, rng, i):
    shape = _shape(i)
    model = dt.Sequential([dt.Input(shape), dt.layers.Dense(4), ALL[i](), dt.layers.Dense(2)])
    x = _x(rng, 5, *shape)
    model.save(tmp_path / "m.dpt")
    loaded = dt.load_model(tmp_path / "m.dpt")
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_exported_from_dt_layers():
    from dptrain.layers import regularization
    for name in regularization.__all__:
        assert getattr(dt.layers, name) is getattr(regularization, name)


# --- errors ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make,exc,match", [
    (lambda: ActivityRegularization(l1=-1.0), ValueError, "l1"),
    (lambda: ActivityRegularization(l2="big"), ValueError, "l2"),
    (lambda: SpatialDropout1D(1.5), ValueError, "rate"),
    (lambda: SpatialDropout2D(-0.1), ValueError, "rate"),
    (lambda: SpatialDropout2D(0.5, data_format="nhwc"), ValueError, "data_format"),
    (lambda: SpatialDropout1D(0.5, data_format="channels_last"), TypeError, "data_format"),
    (lambda: GaussianNoise(1.5), ValueError, "stddev"),
    (lambda: GaussianNoise(None), ValueError, "stddev"),
    (lambda: GaussianDropout(1.0), ValueError, "rate"),
    (lambda: AlphaDropout(1.0), ValueError, "rate"),
    (lambda: AlphaDropout(0.5, noise_shape=(None, 0)), ValueError, "noise_shape"),
    (lambda: AlphaDropout(0.5, noise_shape="3"), ValueError, "noise_shape"),
    (lambda: GaussianNoise(0.1, seed=-1), ValueError, "seed"),
    (lambda: GaussianDropout(0.1, seed=1.5), ValueError, "seed"),
])
def test_argument_errors_name_the_layer(make, exc, match):
    with pytest.raises(exc, match=match) as e:
        make()
    assert "layer" in str(e.value) or exc is TypeError


@pytest.mark.parametrize("make,shape,rank", [(lambda: SpatialDropout1D(0.5), (4,), 3),
                                             (lambda: SpatialDropout1D(0.5), (2, 3, 4), 3),
                                             (lambda: SpatialDropout2D(0.5), (3, 4), 4),
                                             (lambda: SpatialDropout3D(0.5), (2, 3, 4), 5)])
def test_spatial_dropout_rejects_the_wrong_rank(make, shape, rank):
    layer = make()
    with pytest.raises(ValueError, match=f"rank-{rank}") as e:
        layer(dt.Input(shape))
    assert layer.name in str(e.value)


def test_activity_regularization_adds_its_penalty_to_the_loss():
    import dptrain as dt
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    m = dt.Sequential([dt.Input((3,)), ActivityRegularization(l1=0.1, l2=0.5)])
    m.compile(optimizer="sgd", loss="mse")
    got = m.evaluate(x, np.zeros((4, 3), np.float32), verbose=0)
    want = np.mean(x.astype(np.float64) ** 2) + (0.1 * np.abs(x).sum() + 0.5 * (x.astype(np.float64) ** 2).sum()) / 4
    assert got == pytest.approx(want, rel=1e-5)
