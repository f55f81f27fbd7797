"""The new callbacks (LambdaCallback, TerminateOnNaN, ProgbarLogger, ModelCheckpoint(save_freq=N),
the unsupported ones), dt.utils (normalize, pad_sequences, split_dataset, PyDataset, plot_model),
dt.config, dt.saving (register_keras_serializable), dt.models (clone_model, save_model) and
dt.datasets."""
import os
import sys

import numpy as np
import pytest

import dptrain as dt
from dptrain import ag
from dptrain import callbacks as C
from dptrain import layers as L
from dptrain import utils as U


def _model(lr=0.05):
    m = dt.Sequential([dt.Input((4,)), L.Dense(6, activation="relu"), L.Dense(2, activation="softmax")])
    m.compile(optimizer=dt.optimizers.SGD(learning_rate=lr), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


@pytest.fixture
def xy(rng):
    x = rng.standard_normal((12, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(int)


# --- callbacks -----------------------------------------------------------------------------------
def test_lambda_callback_calls_each_function(xy):
    seen = []
    cb = C.LambdaCallback(on_train_begin=lambda logs: seen.append("train_begin"),
                          on_epoch_begin=lambda e, logs: seen.append(f"epoch_begin {e}"),
                          on_train_batch_begin=lambda b, logs: seen.append(f"batch_begin {b}"),
                          on_train_batch_end=lambda b, logs: seen.append(f"batch_end {b} {sorted(logs)}"),
                          on_epoch_end=lambda e, logs: seen.append(f"epoch_end {e}"),
                          on_train_end=lambda logs: seen.append("train_end"),
                          on_test_end=lambda logs: seen.append(f"test_end {sorted(logs)}"))
    _model().fit(*xy, batch_size=6, epochs=2, validation_data=xy, callbacks=[cb], verbose=0)
    one = ["batch_begin 0", "batch_end 0 ['accuracy', 'loss']", "batch_begin 1", "batch_end 1 ['accuracy', 'loss']",
           "test_end ['accuracy', 'loss']"]
    assert seen == ["train_begin", "epoch_begin 0", *one, "epoch_end 0", "epoch_begin 1", *one, "epoch_end 1",
                    "train_end"]


def test_lambda_callback_without_functions_and_batch_alias(xy):
    ends = []
    _model().fit(*xy, batch_size=6, epochs=1, verbose=0,
                 callbacks=[C.LambdaCallback(), C.LambdaCallback(on_batch_end=lambda b, logs: ends.append(b))])
    assert ends == [0, 1]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")     # the overflow is the point
def test_terminate_on_nan(xy, capsys):
    x, _ = xy
    y = np.full((12, 3), 1e30, np.float32)
    m = dt.Sequential([dt.Input((4,)), L.Dense(3)])
    m.compile(optimizer=dt.optimizers.SGD(learning_rate=1e30), loss="mse")
    hist = m.fit(x, y, batch_size=4, epochs=5, callbacks=[C.TerminateOnNaN()], verbose=0)
    assert len(hist.history["loss"]) == 1 and not np.isfinite(hist.history["loss"][0])
    assert "Invalid loss, terminating training" in capsys.readouterr().out
    m2 = dt.Sequential([dt.Input((4,)), L.Dense(3)])
    m2.compile(optimizer=dt.optimizers.SGD(learning_rate=1e30), loss="mse")
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch"):
        m2.fit(x, y, batch_size=4, epochs=5, callbacks=[C.TerminateOnNaN(raise_error=True)], verbose=0)


def test_progbar_logger_prints_with_the_calls_verbosity(xy, capsys):
    _model().fit(*xy, batch_size=6, epochs=2, callbacks=[C.ProgbarLogger()], verbose=0)
    assert capsys.readouterr().out == ""                      # verbose=0: silent
    model = _model()
    model.fit(*xy, batch_size=6, epochs=2, callbacks=[C.ProgbarLogger()], verbose=0)
    logger = C.ProgbarLogger()
    logger.set_model(model)
    logger.set_params({"epochs": 2, "steps": 2, "verbose": 2})
    for epoch in range(2):
        logger.on_epoch_begin(epoch)
        logger.on_epoch_end(epoch, {"loss": 0.5})
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and out.count("2/2 - ") == 2 and "loss: 0.5000" in out


def test_model_checkpoint_every_n_batches(tmp_path, xy):
    path = str(tmp_path / "ck-{epoch}-{batch}.dpt")
    model = _model()
    # 3 batches per epoch, 2 epochs: batches 1..6 overall, a save after every 2nd one
    model.fit(*xy, batch_size=4, epochs=2, verbose=0, callbacks=[C.ModelCheckpoint(path, save_freq=2)])
    assert sorted(os.listdir(tmp_path)) == ["ck-1-2.dpt", "ck-2-1.dpt", "ck-2-3.dpt"]
    loaded = dt.load_model(tmp_path / "ck-2-3.dpt")
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_batch_best_only_and_errors(tmp_path, xy):
    path = str(tmp_path / "best.dpt")
    cb = C.ModelCheckpoint(path, monitor="loss", save_best_only=True, save_freq=1)
    _model().fit(*xy, batch_size=4, epochs=2, verbose=0, callbacks=[cb])
    assert os.path.exists(path) and np.isfinite(cb.best)
    for bad in ("batch", 0, 1.5, True):
        with pytest.raises(ValueError, match="Unrecognized save_freq"):
            C.ModelCheckpoint(path, save_freq=bad)
    with pytest.warns(RuntimeWarning, match="Can save best model only with val_nope"):
        _model().fit(*xy, epochs=1, verbose=0,
                     callbacks=[C.ModelCheckpoint(str(tmp_path / "x.dpt"), monitor="val_nope", save_best_only=True)])
    assert os.path.exists(tmp_path / "x.dpt")          # as Keras: saved anyway


def test_unsupported_callbacks_name_themselves():
    with pytest.raises(NotImplementedError, match="RemoteMonitor"):
        C.RemoteMonitor(root="http://localhost:9000")
    with pytest.raises(NotImplementedError, match="TensorBoard"):
        C.TensorBoard(log_dir="logs")


def test_history_is_exported(xy):
    hist = _model().fit(*xy, epochs=2, verbose=0)
    assert isinstance(hist, C.History) and hist.epoch == [0, 1]


# --- utils ---------------------------------------------------------------------------------------
def test_normalize_numpy(rng):
    x = rng.standard_normal((4, 3))
    x[2] = 0
    got = U.normalize(x)
    want = x / np.where(np.linalg.norm(x, axis=-1, keepdims=True) == 0, 1, np.linalg.norm(x, axis=-1, keepdims=True))
    np.testing.assert_allclose(got, want, rtol=1e-15)
    np.testing.assert_allclose(U.normalize(x, axis=0, order=1), x / np.abs(x).sum(0, keepdims=True), rtol=1e-15)
    assert U.normalize(np.array([3.0, 4.0])).tolist() == [[0.6, 0.8]]     # Keras' shape for a 1-D array


def test_normalize_tensor_has_gradients(rng):
    x = ag.param(rng.standard_normal((3, 4)), name="x")
    with ag.grad_tape():
        y = U.normalize(x)
        loss = ag.sum(y * np.arange(12.0).reshape(3, 4))
    g = ag.backward(loss)["x"]
    np.testing.assert_allclose(y.numpy(), U.normalize(x.numpy()), rtol=1e-14)
    eps, x0 = 1e-6, x.numpy().copy()
    w = np.arange(12.0).reshape(3, 4)
    num = np.zeros_like(x0)
    for i in np.ndindex(x0.shape):
        d = np.zeros_like(x0)
        d[i] = eps
        num[i] = ((U.normalize(x0 + d) * w).sum() - (U.normalize(x0 - d) * w).sum()) / (2 * eps)
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)
    with pytest.raises(NotImplementedError, match="order=3"):
        U.normalize(x, order=3)


def test_pad_sequences():
    seqs = [[1, 2, 3, 4, 5], [6], [], [7, 8]]
    np.testing.assert_array_equal(U.pad_sequences(seqs), [[1, 2, 3, 4, 5], [0, 0, 0, 0, 6], [0] * 5, [0, 0, 0, 7, 8]])
    np.testing.assert_array_equal(U.pad_sequences(seqs, maxlen=3), [[3, 4, 5], [0, 0, 6], [0, 0, 0], [0, 7, 8]])
    np.testing.assert_array_equal(U.pad_sequences(seqs, maxlen=3, padding="post", truncating="post", value=-1),
                                  [[1, 2, 3], [6, -1, -1], [-1, -1, -1], [7, 8, -1]])
    out = U.pad_sequences([[0.5, 1.5], [2.5]], dtype="float32", padding="post")
    assert out.dtype == np.float32 and out.tolist() == [[0.5, 1.5], [2.5, 0.0]]
    assert U.pad_sequences([[1, 2]]).dtype == np.int32
    np.testing.assert_array_equal(U.pad_sequences([[[1, 2]], [[3, 4], [5, 6]]]), [[[0, 0], [1, 2]], [[3, 4], [5, 6]]])
    np.testing.assert_array_equal(U.pad_sequences([["a", "b"], ["c"]], dtype=object, value="<pad>"),
                                  np.array([["a", "b"], ["<pad>", "c"]], dtype=object))
    assert U.pad_sequences(seqs, maxlen=0).shape == (4, 0)


def test_pad_sequences_errors():
    with pytest.raises(ValueError, match='Padding type "middle"'):
        U.pad_sequences([[1]], padding="middle")
    with pytest.raises(ValueError, match='Truncating type "x"'):
        U.pad_sequences([[1]], truncating="x")
    with pytest.raises(ValueError, match="non-iterable"):
        U.pad_sequences([[1], 2])
    with pytest.raises(ValueError, match="not compatible with `value`"):
        U.pad_sequences([[1]], value="x")
    with pytest.raises(ValueError, match="Shape of sample"):
        U.pad_sequences([[[1, 2]], [[1, 2, 3]]])


def test_split_dataset():
    x, y = np.arange(10), np.arange(10) * 2
    left, right = U.split_dataset(x, left_size=0.7)
    assert left.tolist() == list(range(7)) and right.tolist() == [7, 8, 9]
    (lx, ly), (rx, ry) = U.split_dataset((x, y), right_size=3)
    assert lx.tolist() == list(range(7)) and ly.tolist() == [2 * i for i in range(7)] and ry.tolist() == [14, 16, 18]
    left, right = U.split_dataset({"a": x, "b": y}, left_size=2, right_size=5)
    assert left["a"].tolist() == [0, 1] and len(right["b"]) == 5
    a, _ = U.split_dataset(x, left_size=5, shuffle=True, seed=3)
    b, _ = U.split_dataset(x, left_size=5, shuffle=True, seed=3)
    assert a.tolist() == b.tolist() and a.tolist() != [0, 1, 2, 3, 4]
    assert isinstance(U.split_dataset([x, y], left_size=0.5)[0], list)


def test_split_dataset_errors():
    x = np.arange(10)
    for kw, pattern in [({}, "At least one of"), ({"left_size": 1.5}, "`left_size` should be"),
                        ({"left_size": 10}, "`left_size` should be"), ({"right_size": 0.0}, "`right_size` should be"),
                        ({"left_size": 6, "right_size": 6}, "The sum of"), ({"left_size": 0.01}, "would be empty")]:
        with pytest.raises(ValueError, match=pattern):
            U.split_dataset(x, **kw)
    with pytest.raises(TypeError, match="Invalid `left_size` Type"):
        U.split_dataset(x, left_size="half")
    with pytest.raises(ValueError, match="different lengths"):
        U.split_dataset((x, x[:5]), left_size=0.5)


class Batches(U.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.epochs_ended = 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[s], self.y[s]

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_pydataset_protocol(xy):
    ds = Batches(*xy, batch_size=5, workers=2, use_multiprocessing=False, max_queue_size=4)
    assert len(ds) == ds.num_batches == 3 and (ds.workers, ds.use_multiprocessing, ds.max_queue_size) == (2, False, 4)
    batches = list(ds)
    assert [len(b[0]) for b in batches] == [5, 5, 2]
    np.testing.assert_array_equal(batches[1][0], xy[0][5:10])
    assert U.Sequence is U.PyDataset

    class NoSuper(U.PyDataset):
        def __init__(self):
            pass
    with pytest.warns(UserWarning, match="should call `super\\(\\).__init__"):
        assert NoSuper().workers == 1
    with pytest.raises(NotImplementedError, match="__getitem__"):
        U.PyDataset()[0]
    assert U.PyDataset().num_batches is None


def test_fit_on_a_pydataset_equals_fit_on_arrays(xy):
    ds = Batches(*xy, batch_size=4)
    a, b = _model(), _model()
    b.set_weights(a.get_weights())
    ha = a.fit(ds, epochs=2, shuffle=False, verbose=0)
    hb = b.fit(*xy, batch_size=4, epochs=2, shuffle=False, verbose=0)
    for p, q in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(p, q, rtol=1e-6, atol=1e-7)
    assert ha.history["loss"] == pytest.approx(hb.history["loss"], rel=1e-6) and ds.epochs_ended == 2


def _functional():
    inp = dt.Input((6,), name="x")
    a = L.Dense(4, activation="tanh")(inp)
    b = L.Dense(4)(inp)
    return dt.Model(inp, L.Dense(2)(L.Concatenate()([a, b])))


def test_plot_model_draws_a_png(tmp_path):
    path = tmp_path / "model.png"
    U.plot_model(_functional(), to_file=str(path), show_shapes=True, show_dtype=True, show_layer_activations=True,
                 show_trainable=True, dpi=60)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    names, labels, edges = U._layer_graph(_functional(), True, False, True, False, False)
    assert len(edges) == 5 and [len(r) for r in U._depths(names, edges)] == [1, 2, 1, 1]
    seq = dt.Sequential([dt.Input((3,)), L.Dense(2), L.Dense(1)])
    U.plot_model(seq, to_file=str(tmp_path / "seq.svg"), rankdir="LR")
    assert b"<svg" in (tmp_path / "seq.svg").read_bytes()[:400]
    with pytest.raises(ValueError, match="not yet been built"):
        U.plot_model(dt.Sequential([L.Dense(2)]), to_file=str(tmp_path / "x.png"))
    with pytest.raises(ValueError, match="rankdir"):
        U.plot_model(seq, to_file=str(tmp_path / "x.png"), rankdir="BT")


def test_plot_model_without_matplotlib_says_what_to_install(tmp_path, monkeypatch):
    for mod in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        U.plot_model(_functional(), to_file=str(tmp_path / "m.png"))


# --- config, saving, models, datasets -----------------------------------------------------------------
def test_config():
    cfg = dt.config
    assert (cfg.floatx(), cfg.image_data_format(), cfg.epsilon()) == ("float32", "channels_last", 1e-7)
    cfg.set_floatx("float32")
    cfg.set_image_data_format("channels_last")
    cfg.set_epsilon(1e-7)
    with pytest.raises(NotImplementedError, match="set_floatx\\('float16'\\)"):
        cfg.set_floatx("float16")
    with pytest.raises(ValueError, match="Unknown `floatx`"):
        cfg.set_floatx("int8")
    with pytest.raises(NotImplementedError, match="channels_first"):
        cfg.set_image_data_format("channels_first")
    with pytest.raises(ValueError, match="data_format"):
        cfg.set_image_data_format("nhwc")
    with pytest.raises(NotImplementedError, match="set_epsilon"):
        cfg.set_epsilon(1e-3)
    assert cfg.floatx() == "float32"


def test_register_keras_serializable_makes_load_model_find_the_class(tmp_path, rng):
    @dt.saving.register_keras_serializable(package="Tests")
    class TimesFactor(L.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    m = dt.Sequential([dt.Input((3,)), L.Dense(2), TimesFactor(3.0)])
    x = rng.standard_normal((4, 3)).astype(np.float32)
    path = tmp_path / "m.keras"
    dt.saving.save_model(m, path)
    for load in (dt.saving.load_model, dt.models.load_model, dt.load_model):
        loaded = load(path)
        assert type(loaded.layers[-1]) is TimesFactor and loaded.layers[-1].factor == 3.0
        np.testing.assert_allclose(loaded.predict(x, verbose=0), m.predict(x, verbose=0), rtol=1e-6)
    assert dt.saving.get_registered_name(TimesFactor) == "Tests>TimesFactor"
    assert dt.saving.get_registered_object("Tests>TimesFactor") is TimesFactor and dt.saving.get_custom_objects()["Tests>TimesFactor"]
    with pytest.raises(FileExistsError, match="overwrite=False"):
        dt.saving.save_model(m, path, overwrite=False)

    @dt.saving.register_keras_serializable(package="Tests")
    class TimesFactor(L.Layer):                        # noqa: F811 - a re-run cell replaces the class
        def call(self, x):
            return x
    assert dt.saving.get_registered_object("TimesFactor") is TimesFactor
    with pytest.raises(ValueError, match="dptrain's"):
        dt.saving.register_keras_serializable()(type("Dense", (L.Layer,), {}))
    assert dt.saving.get_registered_object("Custom>Dense") is None     # the refused class left no trace


def test_custom_object_scope(tmp_path):
    class PlusOneUnregistered(L.Layer):
        def call(self, x):
            return x + 1.0

    dt.layers.register(PlusOneUnregistered)
    m = dt.Sequential([dt.Input((2,)), PlusOneUnregistered()])
    m.save(tmp_path / "m.keras")
    with dt.saving.custom_object_scope({"PlusOneUnregistered": PlusOneUnregistered}):
        assert dt.saving.get_registered_object("PlusOneUnregistered") is PlusOneUnregistered
        loaded = dt.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.layers[0]) is PlusOneUnregistered
    with pytest.raises(TypeError, match="dict"):
        with dt.saving.custom_object_scope([PlusOneUnregistered]):
            pass


def test_models_namespace_and_clone_model(tmp_path, rng):
    assert dt.models.Sequential is dt.Sequential and dt.models.Model is dt.Model
    m = _functional()
    clone = dt.models.clone_model(m)
    assert clone is not m and [type(x) for x in clone.layers] == [type(x) for x in m.layers]
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in m.get_weights()]
    assert not np.array_equal(clone.get_weights()[1 - 1], m.get_weights()[0])      # fresh weights
    clone.set_weights(m.get_weights())
    x = rng.standard_normal((3, 6)).astype(np.float32)
    np.testing.assert_allclose(clone.predict(x, verbose=0), m.predict(x, verbose=0), rtol=1e-6)
    seq = dt.Sequential([dt.Input((3,)), L.Dense(2)])
    assert len(dt.models.clone_model(seq).layers) == 1
    with pytest.raises(NotImplementedError, match="clone_function"):
        dt.models.clone_model(m, clone_function=lambda layer: layer)
    dt.models.save_model(seq, tmp_path / "s.keras")
    assert dt.models.load_model(tmp_path / "s.keras").count_params() == seq.count_params()


@pytest.mark.parametrize("name,fn", [("mnist", "load_data"), ("cifar10", "load_data"), ("imdb", "get_word_index"),
                                     ("fashion_mnist", "load_data"), ("boston_housing", "load_data")])
def test_datasets_say_there_is_no_network(name, fn):
    with pytest.raises(NotImplementedError, match="no network access.*sklearn|no network access.*pad_sequences"):
        getattr(getattr(dt.datasets, name), fn)()
