"""Each callback's effect on fit."""
import csv
import os

import numpy as np
import pytest

import dptrain as dt
from dptrain import layers as L
from dptrain.callbacks import (BackupAndRestore, Callback, CSVLogger, EarlyStopping, LearningRateScheduler,
                               ModelCheckpoint, ReduceLROnPlateau)


def _model(dropout=0.0, lr=0.05):
    m = dt.Sequential([L.Dense(8, activation="relu", input_shape=(4,)), L.Dropout(dropout),
                       L.Dense(2, activation="softmax")])
    m.compile(optimizer=dt.optimizers.Adam(learning_rate=lr), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


@pytest.fixture
def data(rng):
    x = rng.standard_normal((32, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(int)


class Inject(Callback):
    """Puts scripted values into the epoch logs (runs before the callback under test)."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class Record(Callback):
    def __init__(self):
        super().__init__()
        self.weights, self.lrs, self.batches = [], [], []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())
        self.lrs.append(self.model.optimizer.learning_rate)

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append((batch, dict(logs)))


def test_batch_hooks_get_running_logs(data):
    rec = Record()
    _model().fit(*data, epochs=1, batch_size=10, callbacks=[rec], verbose=0)
    assert [b for b, _ in rec.batches] == [0, 1, 2, 3]
    assert set(rec.batches[-1][1]) == {"loss", "accuracy"}


def test_early_stopping_stops_and_restores_best_weights(data):
    rec = Record()
    es = EarlyStopping(monitor="val_score", patience=2, restore_best_weights=True)
    hist = _model().fit(*data, epochs=10, callbacks=[Inject("val_score", [3, 1, 2, 2, 2, 0, 0, 0, 0, 0]), rec, es],
                        verbose=0)
    assert hist.epoch == [0, 1, 2, 3] and es.stopped_epoch == 3 and es.best_epoch == 1
    model = es.model
    for a, b in zip(model.get_weights(), rec.weights[1]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_min_delta_and_max_mode(data):
    es = EarlyStopping(monitor="accuracy_x", patience=1, min_delta=0.05)
    assert es.mode == "max"
    scores = [0.5, 0.52, 0.53, 0.9, 1, 1, 1, 1, 1, 1]
    hist = _model().fit(*data, epochs=10, callbacks=[Inject("accuracy_x", scores), es], verbose=0)
    assert hist.epoch == [0, 1]     # +0.02 is not an improvement with min_delta=0.05


def test_early_stopping_warns_on_a_missing_metric(data):
    with pytest.warns(RuntimeWarning, match="'val_nope' is not in the logs"):
        hist = _model().fit(*data, epochs=2, callbacks=[EarlyStopping(monitor="val_nope")], verbose=0)
    assert hist.epoch == [0, 1]


def test_model_checkpoint_save_best_only(tmp_path, data):
    rec = Record()
    path = str(tmp_path / "ckpt-{epoch:02d}.dpt")
    _model().fit(*data, epochs=5, callbacks=[Inject("val_loss", [5, 3, 4, 2, 2.5]), rec,
                                             ModelCheckpoint(path, monitor="val_loss", save_best_only=True)],
                 verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["ckpt-01.dpt", "ckpt-02.dpt", "ckpt-04.dpt"]
    loaded = dt.load_model(tmp_path / "ckpt-04.dpt")
    for a, b in zip(loaded.get_weights(), rec.weights[3]):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_every_epoch_and_weights_only(tmp_path, data):
    model = _model()
    model.fit(*data, epochs=2, verbose=0,
              callbacks=[ModelCheckpoint(str(tmp_path / "w-{epoch}-{loss:.3f}.dpt"), save_weights_only=True)])
    files = sorted(os.listdir(tmp_path))
    assert len(files) == 2 and files[0].startswith("w-1-")
    other = _model()
    other.load_weights(tmp_path / files[1])
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_learning_rate_scheduler_sets_the_rate_each_epoch(data):
    rec = Record()
    model = _model(lr=0.1)
    hist = model.fit(*data, epochs=3, verbose=0,
                     callbacks=[LearningRateScheduler(lambda epoch, lr: lr * 0.5), rec])
    assert rec.lrs == pytest.approx([0.05, 0.025, 0.0125])
    assert hist.history["learning_rate"] == pytest.approx([0.05, 0.025, 0.0125])
    assert model.optimizer.engine.lr == pytest.approx(0.0125)
    frozen = _model()
    w = frozen.get_weights()
    frozen.fit(*data, epochs=2, verbose=0, callbacks=[LearningRateScheduler(lambda epoch: 0.0)])   # 1-arg form
    for a, b in zip(w, frozen.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="returned 'x'"):
        _model().fit(*data, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: "x")])


def test_reduce_lr_on_plateau(data):
    rec = Record()
    model = _model(lr=0.1)
    model.fit(*data, epochs=8, verbose=0,
              callbacks=[Inject("val_loss", [1.0] * 8), ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1,
                                                                         min_lr=0.02), rec])
    # Keras' rule: epoch 0 sets best; 2 flat epochs -> halve at 2; the cooldown epoch resets the wait and
    # already counts, so the next cut comes at 4, then at 6 (clamped to min_lr)
    assert rec.lrs == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02])
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.5)


def test_csv_logger(tmp_path, data):
    path = tmp_path / "log.csv"
    _model().fit(*data, epochs=2, validation_split=0.25, callbacks=[CSVLogger(path)], verbose=0)
    rows = list(csv.reader(open(path)))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1"] and all(float(v) >= 0 for v in rows[2][1:])
    _model().fit(*data, epochs=1, callbacks=[CSVLogger(path, append=True)], verbose=0)
    rows = list(csv.reader(open(path)))
    assert len(rows) == 4 and rows[3][0] == "0"


class Interrupt(Callback):
    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt("simulated crash")


def test_backup_and_restore_resumes_exactly(tmp_path, data):
    def fresh():
        dt.ag.manual_seed(0)
        return _model(dropout=0.3)

    reference = fresh()
    dt.ag.manual_seed(5)
    ref_hist = reference.fit(*data, epochs=5, batch_size=8, verbose=0)

    backup = tmp_path / "backup"
    crashed = fresh()
    dt.ag.manual_seed(5)
    with pytest.raises(KeyboardInterrupt):
        crashed.fit(*data, epochs=5, batch_size=8, verbose=0,
                    callbacks=[BackupAndRestore(backup), Interrupt(at=2)])
    assert os.path.exists(backup / "backup.dpt")

    resumed = _model(dropout=0.3)        # different initial weights and random state
    dt.ag.manual_seed(123)
    hist = resumed.fit(*data, epochs=5, batch_size=8, verbose=0, callbacks=[BackupAndRestore(backup)])
    assert hist.epoch == [3, 4]
    assert hist.history["loss"] == ref_hist.history["loss"][3:]
    for a, b in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed.optimizer.iterations == reference.optimizer.iterations
    assert not os.path.exists(backup / "backup.dpt")     # removed after a completed fit


def test_callbacks_argument_is_checked(data):
    with pytest.raises(TypeError, match="dt.callbacks.Callback"):
        _model().fit(*data, callbacks=[print], verbose=0)
