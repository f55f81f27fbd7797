"""dptrain.initializers: Keras 3's distributions (statistics, bounds, fans, truncation,
orthogonality), seeds, names, configs, and the initializer arguments of the layers."""
import math

import numpy as np
import pytest

import dptrain as dt
from dptrain import initializers as I
from dptrain import layers as L
from engine.modules import init as engine_init

TRUNC = 0.87962566103423978      # stddev of a unit normal truncated at +-2

DENSE = (600, 400)               # fan_in 600, fan_out 400
CONV = (3, 3, 64, 32)            # fan_in 3*3*64 = 576, fan_out 3*3*32 = 288


def _expected_std(name, shape):
    fan_in, fan_out = I.compute_fans(shape)
    scale, n = {"glorot_uniform": (1, (fan_in + fan_out) / 2), "glorot_normal": (1, (fan_in + fan_out) / 2),
                "lecun_uniform": (1, fan_in), "lecun_normal": (1, fan_in),
                "he_uniform": (2, fan_in), "he_normal": (2, fan_in)}[name]
    return math.sqrt(scale / n)


@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
@pytest.mark.parametrize("name", ["glorot_uniform", "lecun_uniform", "he_uniform"])
def test_uniform_variance_scaling_bounds_and_statistics(name, shape):
    w = I.get(name)(shape)
    std = _expected_std(name, shape)
    limit = math.sqrt(3) * std                    # e.g. glorot: sqrt(6 / (fan_in + fan_out))
    assert w.shape == shape and w.dtype == np.float32
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.999 * limit
    assert abs(w.mean()) < 0.01 * std
    assert w.std() == pytest.approx(std, rel=0.01)


@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
@pytest.mark.parametrize("name", ["glorot_normal", "lecun_normal", "he_normal"])
def test_truncated_normal_variance_scaling_statistics(name, shape):
    w = I.get(name)(shape).astype(np.float64)
    std = _expected_std(name, shape)
    cut = 2 * std / TRUNC                         # truncated at two stddevs of the underlying normal
    assert np.abs(w).max() <= cut * (1 + 1e-6) and np.abs(w).max() > 0.99 * cut
    assert abs(w.mean()) < 0.01 * std
    assert w.std() == pytest.approx(std, rel=0.01)   # the 0.8796 correction restores the stddev


def test_compute_fans_as_keras():
    assert I.compute_fans((5, 7)) == (5, 7)
    assert I.compute_fans((7,)) == (7, 7)
    assert I.compute_fans(()) == (1, 1)
    assert I.compute_fans((3, 4, 8)) == (12, 24)                 # Conv1D kernel [k, in, out]
    assert I.compute_fans((3, 3, 4, 8)) == (36, 72)              # Conv2D kernel [kh, kw, in, out]
    assert I.compute_fans((2, 3, 4), input_axes=[0, 1], output_axes=[2]) == (6, 4)


@pytest.mark.parametrize("mode,n", [("fan_in", 576), ("fan_out", 288), ("fan_avg", 432)])
@pytest.mark.parametrize("distribution", ["uniform", "truncated_normal", "untruncated_normal", "normal"])
def test_variance_scaling_modes_and_distributions(mode, n, distribution):
    init = I.VarianceScaling(scale=3.0, mode=mode, distribution=distribution)
    w = init(CONV).astype(np.float64)
    std = math.sqrt(3.0 / n)
    assert w.std() == pytest.approx(std, rel=0.015)
    if distribution == "uniform":
        assert np.abs(w).max() <= math.sqrt(3) * std
    elif distribution in ("truncated_normal", "normal"):
        assert init.distribution == "truncated_normal"
        assert np.abs(w).max() <= 2 * std / TRUNC * (1 + 1e-6)
    else:
        assert np.abs(w).max() > 2 * std / TRUNC          # untruncated: tails beyond the cut


def test_variance_scaling_argument_errors():
    with pytest.raises(ValueError, match="scale must be a positive"):
        I.VarianceScaling(scale=0.0)
    with pytest.raises(ValueError, match="mode must be"):
        I.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="distribution must be"):
        I.VarianceScaling(distribution="cauchy")
    with pytest.raises(ValueError, match="seed must be an integer"):
        I.GlorotUniform(seed="a")


def test_random_normal_uniform_truncated_normal_statistics():
    w = I.RandomNormal(mean=1.0, stddev=0.5)((400, 300)).astype(np.float64)
    assert w.mean() == pytest.approx(1.0, abs=0.005) and w.std() == pytest.approx(0.5, rel=0.01)
    u = I.RandomUniform(minval=-0.3, maxval=0.7)((400, 300)).astype(np.float64)
    assert u.min() >= -0.3 and u.max() < 0.7 and u.min() < -0.299 and u.max() > 0.699
    assert u.mean() == pytest.approx(0.2, abs=0.005) and u.std() == pytest.approx(1 / math.sqrt(12), rel=0.01)
    t = I.TruncatedNormal(mean=1.0, stddev=0.5)((400, 300)).astype(np.float64)
    assert t.min() >= 1.0 - 2 * 0.5 - 1e-6 and t.max() <= 1.0 + 2 * 0.5 + 1e-6
    assert t.max() > 1.99 and t.min() < 0.01
    assert t.mean() == pytest.approx(1.0, abs=0.005)
    assert t.std() == pytest.approx(0.5 * TRUNC, rel=0.01)      # no correction: truncation shrinks it
    d = I.RandomNormal()((400, 300))
    assert d.std() == pytest.approx(0.05, rel=0.01)             # Keras' defaults
    assert np.abs(I.RandomUniform()((100, 10))).max() <= 0.05
    assert np.abs(I.TruncatedNormal()((100, 10))).max() <= 0.1 + 1e-7


@pytest.mark.parametrize("shape", [(5, 8), (8, 5), (6, 6), (3, 3, 4, 8), (2, 3, 40)])
def test_orthogonal(shape):
    w = I.Orthogonal(gain=1.5)(shape).astype(np.float64)
    assert w.shape == shape
    m = w.reshape(-1, shape[-1])
    rows, cols = m.shape
    gram = m @ m.T if rows < cols else m.T @ m                # orthonormal rows or columns, whichever fewer
    np.testing.assert_allclose(gram, 1.5 ** 2 * np.eye(min(rows, cols)), atol=1e-5)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        I.Orthogonal()((4,))


def test_constant_initializers():
    np.testing.assert_array_equal(I.Zeros()((2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(I.Ones()((4,)), np.ones(4))
    np.testing.assert_array_equal(I.Constant(2.5)((2, 2)), np.full((2, 2), 2.5))
    np.testing.assert_array_equal(I.Identity(gain=2.0)((3, 4)), 2 * np.eye(3, 4))
    assert I.Constant()((3,)).dtype == np.float32 and not I.Constant()((3,)).any()
    with pytest.raises(ValueError, match="2-D"):
        I.Identity()((2, 2, 2))


def test_dtype_argument():
    assert I.GlorotUniform()((3, 4), dtype="float64").dtype == np.float64
    assert I.Orthogonal()((3, 4), dtype=np.float64).dtype == np.float64
    assert I.Zeros()((2,), dtype="int32").dtype == np.int32
    assert I.HeNormal()((3, 4)).dtype == np.float32          # dtype=None: floatx


def test_manual_seed_reproduces_and_seed_gives_a_fixed_draw():
    dt.ag.manual_seed(3)
    a = [I.GlorotUniform()((4, 5)), I.HeNormal()((4, 5)), I.Orthogonal()((4, 5))]
    dt.ag.manual_seed(3)
    b = [I.GlorotUniform()((4, 5)), I.HeNormal()((4, 5)), I.Orthogonal()((4, 5))]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    unseeded = I.RandomNormal()
    assert not np.array_equal(unseeded((4, 5)), unseeded((4, 5)))   # the engine generator moves on
    seeded = I.RandomNormal(seed=7)
    first = seeded((4, 5))
    dt.ag.manual_seed(99)
    np.testing.assert_array_equal(seeded((4, 5)), first)              # whatever the engine seed
    np.testing.assert_array_equal(I.TruncatedNormal(seed=7)((4, 5)), I.TruncatedNormal(seed=7)((4, 5)))
    assert not np.array_equal(I.RandomNormal(seed=8)((4, 5)), first)


def test_default_numerics_are_the_engine_initialisers():
    for ours, engine in [(I.GlorotUniform(), engine_init.glorot_uniform), (I.Orthogonal(), engine_init.orthogonal),
                         (I.RandomUniform(), lambda s: engine_init.uniform(s, 0.05))]:
        dt.ag.manual_seed(5)
        a = ours((7, 9))
        dt.ag.manual_seed(5)
        np.testing.assert_allclose(a, engine((7, 9)), rtol=1e-6)


KERAS_NAMES = ["Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Identity",
               "IdentityInitializer", "LecunNormal", "LecunUniform", "Ones", "Orthogonal", "OrthogonalInitializer",
               "RandomNormal", "RandomUniform", "TruncatedNormal", "VarianceScaling", "Zeros", "constant",
               "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "identity", "lecun_normal",
               "lecun_uniform", "normal", "one", "ones", "orthogonal", "random_normal", "random_uniform",
               "truncated_normal", "uniform", "variance_scaling", "zero", "zeros"]


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_get_by_every_keras_name_and_config_round_trip(name):
    init = I.get(name)
    assert isinstance(init, I.Initializer)
    config = init.get_config()
    clone = type(init).from_config(config)
    assert type(clone) is type(init) and clone.get_config() == config
    again = I.get(I.serialize(init))
    assert type(again) is type(init) and again.get_config() == config


def test_get_identifiers():
    assert I.get(None) is None
    g = I.GlorotNormal(seed=3)
    assert I.get(g) is g
    assert isinstance(I.get(I.HeUniform), I.HeUniform)
    fn = lambda shape, dtype=None: np.full(shape, 7.0, dtype)   # noqa: E731
    assert I.get(fn) is fn
    c = I.get({"class_name": "RandomNormal", "config": {"mean": 1.0, "stddev": 2.0, "seed": 4}})
    assert (type(c), c.mean, c.stddev, c.seed) == (I.RandomNormal, 1.0, 2.0, 4)
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(I.get(a)((2, 3)), a)
    with pytest.raises(ValueError, match="expected shape"):
        I.get(a)((3, 2))
    with pytest.raises(ValueError, match=r"unknown initializer 'glorot_unifrom'.*Did you mean 'glorot_uniform'"):
        I.get("glorot_unifrom")
    with pytest.raises(ValueError, match="unknown initializer class 'Nope'"):
        I.get({"class_name": "Nope", "config": {}})
    with pytest.raises(ValueError, match="could not interpret"):
        I.get(3)
    assert I.glorot_uniform is I.GlorotUniform and I.zeros is I.Zeros      # Keras' lower-case names


def test_serialize_is_keras_format():
    assert I.serialize(I.Orthogonal(gain=2.0)) == {
        "module": "keras.initializers", "class_name": "Orthogonal", "config": {"seed": None, "gain": 2.0},
        "registered_name": None}
    assert I.serialize(I.GlorotUniform())["config"] == {"seed": None, "input_axes": None, "output_axes": None}
    assert I.serialize(I.VarianceScaling(2.0, "fan_out", "uniform", seed=1))["config"] == {
        "seed": 1, "scale": 2.0, "mode": "fan_out", "distribution": "uniform", "input_axes": None,
        "output_axes": None}

    class MyInit(I.Initializer):
        def __init__(self, v=1.0):
            self.v = v

        def __call__(self, shape, dtype=None):
            return np.full(shape, self.v, dtype or np.float32)

        def get_config(self):
            return {"v": self.v}
    s = I.serialize(MyInit(3.0))
    assert s["class_name"] == "MyInit" and s["registered_name"] == "MyInit"
    assert I.deserialize(s, custom_objects={"MyInit": MyInit}).v == 3.0
    with pytest.raises(TypeError, match="cannot serialise"):
        I.serialize(lambda shape, dtype=None: None)


# --- the initializer arguments of the layers ---------------------------------------------------
def _built(layer, shape, dtype=np.float32):
    layer(np.zeros((1,) + shape, dtype))
    return layer


def test_layer_defaults_keep_keras_initialisation():
    k, b = _built(L.Dense(50), (30,)).get_weights()
    limit = math.sqrt(6 / (30 + 50))
    assert np.abs(k).max() <= limit and np.abs(k).max() > 0.8 * limit and not b.any()
    k, b = _built(L.Conv2D(16, 3), (8, 8, 4)).get_weights()
    limit = math.sqrt(6 / (9 * 4 + 9 * 16))                   # fans times the receptive field
    assert np.abs(k).max() <= limit and np.abs(k).max() > 0.8 * limit and not b.any()
    k, _ = _built(L.Conv1D(8, 5), (10, 3)).get_weights()
    assert np.abs(k).max() <= math.sqrt(6 / (5 * 3 + 5 * 8))
    e = _built(L.Embedding(100, 8), (1,), np.int32).get_weights()[0]
    assert np.abs(e).max() <= 0.05 and np.abs(e).max() > 0.045
    for cls, g in [(L.LSTM, 4), (L.GRU, 3)]:
        k, rk, bias = _built(cls(6), (2, 3)).get_weights()
        np.testing.assert_allclose(rk @ rk.T, np.eye(6), atol=1e-5)          # orthogonal rows
        assert np.abs(k).max() <= math.sqrt(6 / (3 + g * 6))
    np.testing.assert_array_equal(bias, np.zeros((2, 18)))
    _, _, lstm_bias = _built(L.LSTM(4), (2, 3)).get_weights()
    np.testing.assert_array_equal(lstm_bias, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])


def test_layer_initializer_arguments():
    k, b = _built(L.Dense(3, kernel_initializer="ones", bias_initializer=I.Constant(0.5)), (2,)).get_weights()
    np.testing.assert_array_equal(k, np.ones((2, 3)))
    np.testing.assert_array_equal(b, np.full(3, 0.5))
    k, _ = _built(L.Conv2D(4, 2, kernel_initializer=I.RandomNormal(stddev=1.0, seed=3)), (5, 5, 2)).get_weights()
    np.testing.assert_array_equal(k, I.RandomNormal(stddev=1.0, seed=3)((2, 2, 2, 4)))
    k, _ = _built(L.Conv1D(4, 2, kernel_initializer={"class_name": "Zeros", "config": {}}), (5, 2)).get_weights()
    assert not k.any()
    e = _built(L.Embedding(5, 2, embeddings_initializer="identity"), (1,), np.int32).get_weights()[0]
    np.testing.assert_array_equal(e, np.eye(5, 2))
    k, rk, b = _built(L.GRU(2, kernel_initializer="zeros", recurrent_initializer="identity",
                            bias_initializer="ones"), (3, 4)).get_weights()
    assert not k.any() and (b == 1).all()
    np.testing.assert_array_equal(rk, np.eye(2, 6))
    fn = lambda shape, dtype=None: np.full(shape, 0.25, dtype)   # noqa: E731
    np.testing.assert_array_equal(_built(L.Dense(2, kernel_initializer=fn), (3,)).get_weights()[0],
                                  np.full((3, 2), 0.25))


def test_lstm_unit_forget_bias_with_a_bias_initializer():
    _, _, b = _built(L.LSTM(3, bias_initializer=I.Constant(0.5)), (2, 4)).get_weights()
    np.testing.assert_array_equal(b, np.r_[np.full(3, 0.5), np.ones(3), np.full(6, 0.5)])
    _, _, b = _built(L.LSTM(3, bias_initializer=I.Constant(0.5), unit_forget_bias=False), (2, 4)).get_weights()
    np.testing.assert_array_equal(b, np.full(12, 0.5))
    layer = L.LSTM(3, unit_forget_bias=False)
    assert L.LSTM.from_config(layer.get_config()).unit_forget_bias is False


def test_bad_initializer_names_the_layer():
    with pytest.raises(ValueError, match=r"Dense layer 'd'.*kernel_initializer.*Did you mean 'glorot_uniform'"):
        L.Dense(3, kernel_initializer="glorot_unifrom", name="d")
    with pytest.raises(ValueError, match=r"LSTM layer 'r'.*recurrent_initializer"):
        L.LSTM(3, recurrent_initializer="orthogonall", name="r")
