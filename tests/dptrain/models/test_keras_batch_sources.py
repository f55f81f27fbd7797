"""fit/evaluate/predict on sources of batches: lists, generators, indexed datasets."""
import numpy as np
import pytest

import dptrain as dt
from dptrain import layers as L


def _model():
    m = dt.Sequential([dt.Input((3,)), L.Dense(1)])
    m.set_weights([np.array([[0.5], [-0.25], [1.0]], np.float32), np.zeros(1, np.float32)])
    m.compile(optimizer=dt.optimizers.SGD(learning_rate=0.1), loss="mse")
    return m


def _data(rng, n=12):
    x = rng.standard_normal((n, 3)).astype(np.float32)
    return x, (x @ np.array([[1.0], [2.0], [-1.0]])).astype(np.float32)


def test_a_list_of_batches_equals_arrays_without_shuffle(rng):
    x, y = _data(rng)
    a, b = _model(), _model()
    a.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0)
    hist = b.fit([(x[i:i + 4], y[i:i + 4]) for i in range(0, 12, 4)], epochs=3, verbose=0)
    assert len(hist.history["loss"]) == 3          # the list is read again every epoch
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)


class Indexed:
    """A PyDataset-like source: __len__ batches, __getitem__, on_epoch_end."""

    def __init__(self, x, y):
        self.x, self.y, self.ends = x, y, 0

    def __len__(self):
        return 3

    def __getitem__(self, i):
        return self.x[4 * i:4 * i + 4], self.y[4 * i:4 * i + 4]

    def on_epoch_end(self):
        self.ends += 1


def test_an_indexed_dataset_and_its_epoch_hook(rng):
    x, y = _data(rng)
    ds = Indexed(x, y)
    seen = []

    class Count(dt.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)
    _model().fit(ds, epochs=2, verbose=0, callbacks=[Count()])
    assert seen == [0, 1, 2, 0, 1, 2] and ds.ends == 2


def test_a_generator_that_runs_out_stops_training_with_a_warning(rng):
    x, y = _data(rng)

    def once():
        for i in range(0, 12, 4):
            yield x[i:i + 4], y[i:i + 4]
    with pytest.warns(RuntimeWarning, match="ran out of data after 1 of 2 steps"):
        hist = _model().fit(once(), steps_per_epoch=2, epochs=5, verbose=0)
    assert len(hist.history["loss"]) == 2     # the short epoch still ends; no third one starts


def test_bad_sources_are_refused(rng):
    x, y = _data(rng)
    m = _model()
    with pytest.raises(ValueError, match="validation_split is not supported"):
        m.fit(iter([(x, y)]), validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="no y"):
        m.fit([(x,)], verbose=0)
    with pytest.raises(ValueError, match="yielded no batches"):
        m.fit(iter([]), verbose=0)
    preds = m.predict((b for b in [x[:5], x[5:]]), verbose=0)
    np.testing.assert_allclose(preds, m.predict(x, verbose=0), rtol=1e-6)
