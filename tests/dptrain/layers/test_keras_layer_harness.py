"""One harness run for every layer: symbolic and eager output shapes, weight counts,
config round trip, trainable=False, and one training step that lowers the loss."""
import numpy as np
import pytest

import dptrain as dt
from dptrain import layers as L

# id, factory, input shape(s) without batch (a list for merge layers), input dtype,
# expected output shape, number of weight arrays, number of params
SPECS = [
    ("dense", lambda **k: L.Dense(5, activation="relu", **k), (7,), "float32", (None, 5), 2, 40),
    ("dense_3d_nobias", lambda **k: L.Dense(3, use_bias=False, **k), (4, 6), "float32", (None, 4, 3), 1, 18),
    ("activation", lambda **k: L.Activation("tanh", **k), (6,), "float32", (None, 6), 0, 0),
    ("flatten", lambda **k: L.Flatten(**k), (3, 4, 2), "float32", (None, 24), 0, 0),
    ("dropout", lambda **k: L.Dropout(0.5, **k), (6,), "float32", (None, 6), 0, 0),
    ("conv2d_valid", lambda **k: L.Conv2D(4, 3, activation="relu", **k), (8, 8, 2), "float32",
     (None, 6, 6, 4), 2, 76),
    ("conv2d_same_strided", lambda **k: L.Conv2D(4, (3, 2), strides=2, padding="same", **k), (7, 7, 2),
     "float32", (None, 4, 4, 4), 2, 52),
    ("conv1d_same", lambda **k: L.Conv1D(3, 3, padding="same", activation="tanh", **k), (10, 4), "float32",
     (None, 10, 3), 2, 39),
    ("conv1d_strided", lambda **k: L.Conv1D(3, 2, strides=2, **k), (9, 4), "float32", (None, 4, 3), 2, 27),
    ("maxpool", lambda **k: L.MaxPooling2D(**k), (6, 6, 3), "float32", (None, 3, 3, 3), 0, 0),
    ("maxpool_same", lambda **k: L.MaxPooling2D(pool_size=3, strides=2, padding="same", **k), (7, 7, 2),
     "float32", (None, 4, 4, 2), 0, 0),
    ("gap", lambda **k: L.GlobalAveragePooling2D(**k), (5, 5, 3), "float32", (None, 3), 0, 0),
    ("batchnorm", lambda **k: L.BatchNormalization(**k), (6,), "float32", (None, 6), 4, 24),
    ("batchnorm_4d", lambda **k: L.BatchNormalization(**k), (4, 4, 3), "float32", (None, 4, 4, 3), 4, 12),
    ("embedding", lambda **k: L.Embedding(10, 4, **k), (5,), "int32", (None, 5, 4), 1, 40),
    ("lstm", lambda **k: L.LSTM(6, **k), (5, 3), "float32", (None, 6), 3, 240),
    ("lstm_seq", lambda **k: L.LSTM(6, return_sequences=True, **k), (5, 3), "float32", (None, 5, 6), 3, 240),
    ("gru", lambda **k: L.GRU(6, **k), (5, 3), "float32", (None, 6), 3, 198),
    ("gru_seq", lambda **k: L.GRU(4, return_sequences=True, **k), (5, 3), "float32", (None, 5, 4), 3, 108),
    ("add", lambda **k: L.Add(**k), [(6,), (6,)], "float32", (None, 6), 0, 0),
    ("concatenate", lambda **k: L.Concatenate(**k), [(3,), (5,)], "float32", (None, 8), 0, 0),
    ("concatenate_axis1", lambda **k: L.Concatenate(axis=1, **k), [(2, 3), (4, 3)], "float32", (None, 6, 3), 0, 0),
]
IDS = [s[0] for s in SPECS]


def _data(shape, dtype, n, rng):
    if dtype.startswith("int"):
        return rng.integers(0, 10, size=(n,) + shape).astype(dtype)
    return rng.standard_normal((n,) + shape).astype(np.float32)


def _inputs(spec, rng, n=8):
    _, _, shapes, dtype, *_ = spec
    multi = isinstance(shapes, list)
    shapes = shapes if multi else [shapes]
    kts = [dt.Input(s, dtype=dtype) for s in shapes]
    arrays = [_data(s, dtype, n, rng) for s in shapes]
    return (kts if multi else kts[0]), (arrays if multi else arrays[0])


def _model_around(layer, kts):
    out = layer(kts)
    if len(out.shape) > 2:
        out = L.Flatten()(out)
    out = L.Dense(1)(out)
    return dt.Model(kts, out)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_shapes_and_weight_counts(spec, rng):
    name, factory, _, _, out_shape, n_weights, n_params = spec
    layer = factory(name=f"my_{name}")
    assert layer.name == f"my_{name}" and not layer.built
    kts, arrays = _inputs(spec, rng)
    out = layer(kts)
    assert out.shape == out_shape
    assert layer.built
    assert len(layer.weights) == n_weights
    assert len(layer.get_weights()) == n_weights
    assert layer.count_params() == n_params
    y = layer(arrays).numpy()                         # eager call on data
    assert y.shape == (8,) + out_shape[1:]
    assert np.all(np.isfinite(y))


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_config_round_trip(spec, rng):
    _, factory, *_ = spec
    layer = factory()
    kts, arrays = _inputs(spec, rng)
    layer(kts)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    kts2, _ = _inputs(spec, rng)
    clone(kts2)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(arrays).numpy(), layer(arrays).numpy())


def _train_mode_loss(model, x, y):
    dt.ag.manual_seed(7)            # the same dropout mask before and after the step
    pred = model(x, training=True).numpy()
    return float(np.mean((pred - y) ** 2))


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_one_training_step_lowers_the_loss(spec, rng):
    _, factory, *_ = spec
    layer = factory()
    kts, x = _inputs(spec, rng, n=16)
    model = _model_around(layer, kts)
    y = rng.standard_normal((16, 1)).astype(np.float32)
    model.compile(optimizer=dt.optimizers.SGD(learning_rate=0.01), loss="mse")
    before_weights = layer.get_weights()
    before = _train_mode_loss(model, x, y)
    dt.ag.manual_seed(7)
    model.train_on_batch(x, y)
    after = _train_mode_loss(model, x, y)
    assert after < before
    trainable = {id(w) for w in layer.trainable_weights}
    for w, old in zip(layer.weights, before_weights):
        if id(w) in trainable:
            assert not np.array_equal(w.numpy(), old), w.name   # the layer's own weights moved


@pytest.mark.parametrize("spec", [s for s in SPECS if s[5]], ids=[s[0] for s in SPECS if s[5]])
def test_frozen_layer_keeps_its_weights(spec, rng):
    _, factory, *_ = spec
    layer = factory(trainable=False)
    kts, x = _inputs(spec, rng, n=16)
    model = _model_around(layer, kts)
    assert layer.trainable_weights == []
    assert len(layer.non_trainable_weights) == len(layer.weights)
    before = layer.get_weights()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, rng.standard_normal((16, 1)), epochs=2, batch_size=8, verbose=0)
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_unknown_keyword_names_the_layer():
    with pytest.raises(TypeError, match="Dense.*unexpected keyword.*units_"):
        L.Dense(3, units_=4)
