"""fit / evaluate / predict arguments a Keras user leaves at their defaults or sets once
(batch sizes, validation_freq, validation_batch_size, sample weights in evaluate, callback
hooks and params), each checked by what the user observes; found untested by a mutation run."""
import numpy as np
import pytest

import dptrain as dt


class Counter(dt.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = {}
        self.eval_params = None

    def _count(self, name):
        self.calls[name] = self.calls.get(name, 0) + 1

    def on_train_batch_end(self, batch, logs=None):
        self._count("train_batch")

    def on_test_begin(self, logs=None):
        self.eval_params = dict(self.params)

    def on_test_batch_begin(self, batch, logs=None):
        self._count("test_batch_begin")

    def on_test_batch_end(self, batch, logs=None):
        self._count("test_batch")

    def on_predict_batch_end(self, batch, logs=None):
        self._count("predict_batch")


def _model():
    m = dt.Sequential([dt.Input((3,)), dt.layers.Dense(1, kernel_initializer="ones")])
    m.compile(optimizer=dt.optimizers.SGD(learning_rate=0.01), loss="mse")
    return m


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)).astype(np.float32), rng.standard_normal((n, 1)).astype(np.float32)


def test_fit_predict_and_evaluate_use_batches_of_32_by_default():
    x, y = _data(64)
    m, c = _model(), Counter()
    m.fit(x, y, epochs=1, verbose=0, shuffle=False, callbacks=[c])
    m.evaluate(x, y, verbose=0, callbacks=[c])
    m.predict(x, verbose=0, callbacks=[c])
    assert c.calls == {"train_batch": 2, "test_batch_begin": 2, "test_batch": 2, "predict_batch": 2}


def test_evaluate_tells_callbacks_its_number_of_steps():
    x, y = _data(70)
    m, c = _model(), Counter()
    m.evaluate(x, y, batch_size=32, verbose=0, callbacks=[c])
    assert c.eval_params["steps"] == 3


def test_validation_runs_every_validation_freq_epochs():
    x, y = _data(32)
    m = _model()
    h = m.fit(x, y, epochs=4, batch_size=16, validation_data=(x, y), validation_freq=2, verbose=0)
    assert len(h.history["loss"]) == 4 and len(h.history["val_loss"]) == 2
    np.testing.assert_allclose(h.history["val_loss"][-1], m.evaluate(x, y, verbose=0), rtol=1e-5)


def test_validation_batch_size_sets_the_validation_batches():
    x, y = _data(32)
    m, c = _model(), Counter()
    m.fit(x, y, epochs=1, batch_size=32, validation_data=_data(64, 1), validation_batch_size=16, verbose=0,
          callbacks=[c])
    assert c.calls["test_batch"] == 4
    c2 = Counter()
    m.fit(x, y, epochs=1, batch_size=32, validation_data=_data(64, 1), verbose=0, callbacks=[c2])
    assert c2.calls["test_batch"] == 2           # without it: the training batch size


def test_evaluate_weights_the_loss_by_sample_weight():
    x, y = _data(10)
    w = np.linspace(0.1, 2.0, 10).astype(np.float32)
    m = _model()
    pred = x.sum(1, keepdims=True)                # kernel of ones, bias zero
    err = ((pred - y) ** 2)[:, 0]
    # Keras' default reduction: sum(w * err) / number of samples
    np.testing.assert_allclose(m.evaluate(x, y, sample_weight=w, batch_size=10, verbose=0),
                               (w * err).sum() / 10, rtol=1e-5)


def test_metrics_names_follow_keras():
    m = _model()
    assert m.metrics_names == ["loss"]
    m2 = dt.Sequential([dt.Input((3,)), dt.layers.Dense(1)])
    m2.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    m2.evaluate(*_data(8), verbose=0)
    assert m2.metrics_names == ["loss", "compile_metrics"]


def test_evaluate_on_a_generator_without_batches_is_an_error():
    with pytest.raises(ValueError, match="yielded no batches"):
        _model().evaluate((b for b in []), verbose=0)


def test_predict_on_a_generator_with_verbose_zero_prints_nothing(capsys):
    x, _ = _data(20)
    out = _model().predict((x[i:i + 5] for i in range(0, 20, 5)), verbose=0)
    assert out.shape == (20, 1)
    assert capsys.readouterr().out == ""


class ValEpochs(dt.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        if "val_loss" in (logs or {}):
            self.epochs.append(epoch)


@pytest.mark.parametrize("source", ["arrays", "generator"])
def test_validation_freq_three_validates_after_the_third_and_sixth_epochs(source):
    x, y = _data(32)
    m, c = _model(), ValEpochs()
    if source == "arrays":
        m.fit(x, y, epochs=6, batch_size=16, validation_data=(x, y), validation_freq=3, verbose=0, callbacks=[c])
    else:
        class Batches(dt.utils.PyDataset):
            def __len__(self):
                return 2

            def __getitem__(self, i):
                return x[16 * i:16 * i + 16], y[16 * i:16 * i + 16]

        m.fit(Batches(), epochs=6, validation_data=(x, y), validation_freq=3, verbose=0, callbacks=[c])
    assert c.epochs == [2, 5]


def test_stop_training_in_a_batch_callback_ends_the_epoch_at_that_batch():
    class StopAfterTwo(Counter):
        def on_train_batch_end(self, batch, logs=None):
            super().on_train_batch_end(batch, logs)
            if batch == 1:
                self.model.stop_training = True

    x, y = _data(64)
    c = StopAfterTwo()
    _model().fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[c])
    assert c.calls["train_batch"] == 2


def test_train_and_test_on_batch_return_a_float_by_default_and_check_their_keywords():
    x, y = _data(8)
    m = _model()
    assert isinstance(m.train_on_batch(x, y), float)
    assert isinstance(m.test_on_batch(x, y), float)
    assert isinstance(m.train_on_batch(x, y, return_dict=True), dict)
    with pytest.raises(TypeError):
        m.train_on_batch(x, y, sample_weights=np.ones(8))
    with pytest.raises(TypeError):
        m.test_on_batch(x, y, batchsize=2)


def test_evaluate_on_a_generator_equals_evaluate_on_the_arrays():
    x, y = _data(21)
    m = _model()
    want = m.evaluate(x, y, batch_size=21, verbose=0)
    got = m.evaluate(((x[i:i + 5], y[i:i + 5]) for i in range(0, 21, 5)), verbose=0)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    one = m.evaluate(iter([(x[:1], y[:1])]), verbose=0)          # a single one-sample batch
    np.testing.assert_allclose(one, float(((x[:1].sum() - y[0, 0]) ** 2)), rtol=1e-5)
