"""The data-parallel seam: fit and evaluate talk to the registered strategy only."""
import os

import numpy as np
import pytest

import dptrain as dt
from engine import backend
from dptrain import layers as L
from dptrain.callbacks import BackupAndRestore, CSVLogger, ModelCheckpoint
from dptrain.models.strategy import SingleProcessStrategy, current_strategy, set_strategy


class Recording(SingleProcessStrategy):
    def __init__(self, rank=0, world_size=1, keep_step=True, zero_grads=False):
        self.rank, self.world_size, self.is_chief = rank, world_size, rank == 0
        self.keep_step, self.zero_grads = keep_step, zero_grads
        self.calls = []

    def shard(self, indices, pad=True):
        self.calls.append(("shard", np.array(indices)))
        return indices[self.rank::self.world_size]

    def sync_seed(self, seed):
        self.calls.append(("seed", seed))
        return 42

    def start(self, model, optimizer):
        self.calls.append(("start", model, optimizer))

    def reduce_gradients(self, optimizer):
        buf = optimizer.flat_grads()
        self.calls.append(("grads", buf.shape))
        if self.zero_grads:        # in place, as an all-reduce does
            K = backend.current
            K.copy_into(buf, K.zeros(buf.shape, buf.dtype))
        return self.keep_step

    def reduce_metrics(self, sums, count):
        self.calls.append(("metrics", dict(sums), count))
        return sums, count


@pytest.fixture
def strategy():
    made = []

    def use(**kwargs):
        s = Recording(**kwargs)
        set_strategy(s)
        made.append(s)
        return s
    yield use
    set_strategy(None)
    assert isinstance(current_strategy(), SingleProcessStrategy) and type(current_strategy()) is SingleProcessStrategy


def _model():
    m = dt.Sequential([L.Dense(4, activation="relu", input_shape=(3,)), L.Dense(2, activation="softmax")])
    m.compile(optimizer=dt.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


@pytest.fixture
def data(rng):
    x = rng.standard_normal((20, 3)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(int)


def test_fit_goes_through_the_strategy(strategy, data):
    s = strategy()
    model = _model()
    model.fit(*data, epochs=2, batch_size=8, validation_split=0.2, verbose=0)
    kinds = [c[0] for c in s.calls]
    assert kinds.count("start") == 1 and kinds.count("seed") == 1
    start = next(c for c in s.calls if c[0] == "start")
    assert start[1] is model and start[2] is model.optimizer
    assert kinds.count("grads") == 2 * 2       # 16 training samples, batches of 8, 2 epochs
    n_params = sum(w.size for w in model.trainable_weights)
    assert all(c[1] == (n_params,) for c in s.calls if c[0] == "grads")     # one flat buffer
    epoch_orders = [c[1] for c in s.calls if c[0] == "shard" and len(c[1]) == 16]
    assert len(epoch_orders) == 3      # steps count + 2 epochs
    np.testing.assert_array_equal(epoch_orders[1], np.random.default_rng([42, 0]).permutation(16))
    np.testing.assert_array_equal(epoch_orders[2], np.random.default_rng([42, 1]).permutation(16))
    metrics = [c for c in s.calls if c[0] == "metrics"]
    assert len(metrics) == 4 and metrics[0][2] == 16 and metrics[1][2] == 4    # train then validation
    assert set(metrics[0][1]) == {"loss", "accuracy"}


def test_skipped_steps_and_reduced_gradients_drive_the_update(strategy, data):
    strategy(keep_step=False)
    model = _model()
    w = model.get_weights()
    model.fit(*data, epochs=2, verbose=0)
    for a, b in zip(w, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    strategy(zero_grads=True)
    model = _model()
    w = model.get_weights()
    model.fit(*data, epochs=2, verbose=0)          # the update reads the buffer the strategy reduced
    for a, b in zip(w, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_each_rank_trains_on_its_shard(strategy, data):
    s = strategy(rank=1, world_size=2)
    model = _model()
    model.fit(*data, epochs=1, batch_size=4, verbose=0)
    assert [c[0] for c in s.calls].count("grads") == 3       # 10 of 20 samples, batches of 4
    train_metrics = [c for c in s.calls if c[0] == "metrics"][0]
    assert train_metrics[2] == 10
    s.calls.clear()
    model.evaluate(*data, return_dict=True)
    assert [c for c in s.calls if c[0] == "metrics"][0][2] == 10
    np.testing.assert_array_equal([c for c in s.calls if c[0] == "shard"][0][1], np.arange(20))


def test_only_the_chief_writes_files_and_prints(strategy, data, tmp_path, capsys):
    strategy(rank=1, world_size=2)
    model = _model()
    model.fit(*data, epochs=2, verbose=1, callbacks=[
        ModelCheckpoint(str(tmp_path / "m.dpt"), monitor="loss"), CSVLogger(tmp_path / "log.csv"),
        BackupAndRestore(tmp_path / "backup", delete_checkpoint=False)])
    assert os.listdir(tmp_path) == [] and capsys.readouterr().out == ""
