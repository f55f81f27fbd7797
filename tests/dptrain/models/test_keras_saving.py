"""model.save / dt.load_model: identical predictions, resumed training, data-only files, clear errors."""
import json

import numpy as np
import pytest

import dptrain as dt
from dptrain import layers as L


def _models():
    seq = dt.Sequential([L.Conv2D(3, 3, padding="same", activation="relu", input_shape=(6, 6, 1)),
                         L.BatchNormalization(), L.MaxPooling2D(), L.Flatten(), L.Dropout(0.1),
                         L.Dense(4, activation="softmax")], name="cnn")
    tok = dt.Input((5,), dtype="int32", name="tok")
    e = L.Embedding(7, 3)(tok)
    seqfeat = L.Concatenate()([L.GRU(4)(e), L.LSTM(2)(e), L.Flatten()(L.Conv1D(2, 2)(e))])
    num = dt.Input((3,), name="num")
    shared = L.Dense(4, activation="tanh", name="shared")
    inner = dt.Sequential([L.Dense(3, input_shape=(4,)), L.Activation("gelu")], name="inner")
    merged = L.Add()([shared(L.Dense(4)(seqfeat)), shared(L.Dense(4)(num))])
    out1 = L.Dense(2, activation="softmax", name="cls")(inner(merged))
    out2 = L.Dense(1, name="reg")(merged)
    fun = dt.Model([tok, num], [out1, out2], name="fun")
    return seq, fun


def _data(model, rng, n=10):
    if model.name == "cnn":
        return rng.standard_normal((n, 6, 6, 1)).astype(np.float32), rng.integers(0, 4, n)
    return ([rng.integers(0, 7, (n, 5)), rng.standard_normal((n, 3))],
            [rng.integers(0, 2, n), rng.standard_normal((n, 1))])


@pytest.mark.parametrize("which", [0, 1], ids=["sequential", "functional"])
def test_round_trip_gives_identical_predictions_and_config(tmp_path, rng, which):
    model = _models()[which]
    x, y = _data(model, rng)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy" if which == 0
                  else ["sparse_categorical_crossentropy", "mse"], metrics=["accuracy"] if which == 0 else None)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    path = tmp_path / "model.dpt"
    model.save(path)
    loaded = dt.load_model(path)
    assert type(loaded) is type(model) and loaded.name == model.name
    assert loaded.get_config() == model.get_config()
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    p1, p2 = model.predict(x), loaded.predict(x)
    for a, b in zip(p1 if which else [p1], p2 if which else [p2]):
        np.testing.assert_array_equal(a, b)
    assert loaded.compiled and loaded.optimizer.iterations == model.optimizer.iterations


def test_training_resumes_with_the_optimizer_state(tmp_path, rng):
    model = _models()[0]
    x, y = _data(model, rng, 16)
    model.compile(optimizer=dt.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    model.save(tmp_path / "m.dpt")
    loaded = dt.load_model(tmp_path / "m.dpt")
    assert loaded.optimizer.learning_rate == 0.01
    dt.ag.manual_seed(9)
    h1 = model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    dt.ag.manual_seed(9)
    h2 = loaded.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert h1.history == h2.history
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    fresh = dt.load_model(tmp_path / "m.dpt", compile=False)
    assert not fresh.compiled
    fresh.compile(optimizer=dt.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy")
    dt.ag.manual_seed(9)
    fresh.fit(x, y, epochs=1, batch_size=4, verbose=0)     # fresh Adam moments: a different step
    assert not np.array_equal(fresh.get_weights()[0], model.get_weights()[0])


def test_uncompiled_and_unbuilt_models_round_trip(tmp_path, rng):
    model = dt.Sequential([L.Dense(3, input_shape=(2,))])
    model.save(tmp_path / "a.dpt")
    loaded = dt.load_model(tmp_path / "a.dpt")
    assert not loaded.compiled
    np.testing.assert_array_equal(loaded.predict(np.ones((1, 2))), model.predict(np.ones((1, 2))))
    lazy = dt.Sequential([L.Dense(3), L.Dense(1)])
    lazy.save(tmp_path / "b.dpt")
    again = dt.load_model(tmp_path / "b.dpt")
    assert again.weights == [] and len(again.layers) == 2


def test_callable_loss_saves_with_a_warning_and_loads_uncompiled(tmp_path):
    model = dt.Sequential([L.Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss=lambda t, p: dt.ag.mean((p - t) * (p - t)))
    with pytest.warns(UserWarning, match="callable loss or metric"):
        model.save(tmp_path / "c.dpt")
    assert not dt.load_model(tmp_path / "c.dpt").compiled


def _tamper(path, out, **changes):
    state = dt.ag.load(path)
    config = json.loads(state["config"])
    for k, v in changes.items():
        if k == "layer_class":
            config["layers"][-1]["class_name"] = v
        else:
            state[k] = v
    state["config"] = json.dumps(config)
    dt.ag.save(state, out)


def test_unknown_class_names_are_errors_not_imports(tmp_path):
    model = dt.Sequential([L.Dense(1, input_shape=(2,))])
    model.save(tmp_path / "ok.dpt")
    _tamper(tmp_path / "ok.dpt", tmp_path / "bad_layer.dpt", layer_class="os.system")
    with pytest.raises(ValueError, match="unknown layer class 'os.system'"):
        dt.load_model(tmp_path / "bad_layer.dpt")
    _tamper(tmp_path / "ok.dpt", tmp_path / "bad_model.dpt", class_name="Dense")
    with pytest.raises(ValueError, match="'Dense' is not a model class"):
        dt.load_model(tmp_path / "bad_model.dpt")


def test_corrupt_and_foreign_files(tmp_path):
    model = dt.Sequential([L.Dense(1, input_shape=(2,))])
    path = tmp_path / "m.dpt"
    model.save(path)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    (tmp_path / "corrupt.dpt").write_bytes(bytes(raw))
    with pytest.raises(dt.ag.CorruptFileError, match=r"^load_model: .*corrupt.dpt.*checksum"):
        dt.load_model(tmp_path / "corrupt.dpt")
    dt.ag.save({"weights": [np.zeros(3)]}, tmp_path / "plain.dpt")
    with pytest.raises(ValueError, match="not a 'dptrain.model' file"):
        dt.load_model(tmp_path / "plain.dpt")
    model.save_weights(tmp_path / "w.dpt")
    with pytest.raises(ValueError, match="it is a 'dptrain.weights' file"):
        dt.load_model(tmp_path / "w.dpt")
    with pytest.raises(FileNotFoundError, match="load_model: no such file"):
        dt.load_model(tmp_path / "missing.dpt")


def test_weights_files_must_fit_the_model(tmp_path):
    a = dt.Sequential([L.Dense(2, input_shape=(3,))])
    a.save_weights(tmp_path / "w.dpt")
    b = dt.Sequential([L.Dense(2, input_shape=(4,))])
    with pytest.raises(ValueError, match=r"load_weights: .*do not fit the model.*\(3, 2\)"):
        b.load_weights(tmp_path / "w.dpt")


def test_model_get_set_weights_keras_order(rng):
    model = dt.Sequential([L.Dense(3, input_shape=(2,)), L.BatchNormalization(), L.Dense(1)])
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(2, 3), (3,), (3,), (3,), (3,), (3,), (3, 1), (1,)]
    new = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    model.set_weights(new)
    for a, b in zip(model.get_weights(), new):
        np.testing.assert_array_equal(a, b)
    assert model.layers[1].get_weights()[2] is not new[4]        # copies, not views
    with pytest.raises(ValueError, match="got 2 arrays"):
        model.set_weights(new[:2])


@dt.layers.register
class Scale(L.Layer):
    """A user layer: y = x * factor (registered, so load_model can rebuild it)."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x, training=False):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def test_registered_custom_layer_round_trip(tmp_path):
    model = dt.Sequential([L.Dense(2, input_shape=(2,)), Scale(3.0)])
    model.save(tmp_path / "s.dpt")
    loaded = dt.load_model(tmp_path / "s.dpt")
    assert isinstance(loaded.layers[1], Scale) and loaded.layers[1].factor == 3.0
    np.testing.assert_array_equal(loaded.predict(np.ones((1, 2))), model.predict(np.ones((1, 2))))
