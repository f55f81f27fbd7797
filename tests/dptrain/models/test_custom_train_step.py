"""Keras 3's "customizing what happens in fit": train_step / test_step / predict_step overrides,
compute_loss, self.metrics, zero_grad + loss.backward() + optimizer.apply, under fit/evaluate/predict."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import dptrain as keras
from dptrain import layers
from dptrain.models.strategy import SingleProcessStrategy, set_strategy
from engine import backend


def _data(n=96, d=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x @ rng.normal(size=(d, 1)) + 0.1 * rng.normal(size=(n, 1))).astype(np.float32)
    return x, y


class GuideModel(keras.Model):
    """The guide's first train_step, as written for the torch backend (torch.no_grad -> ag.no_grad)."""

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        with keras.ag.no_grad():
            self.optimizer.apply(gradients, trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


class LowLevelModel(keras.Model):
    """The guide's lower-level variant: own loss function and trackers, compile(optimizer) only."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
        self.loss_fn = keras.losses.MeanSquaredError()

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.loss_fn(y, y_pred)
        loss.backward()
        weights = self.trainable_weights
        self.optimizer.apply_gradients(zip([v.grad for v in weights], weights))
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


def _functional(cls, seed=0, d=8):
    keras.ag.manual_seed(seed)
    inputs = keras.Input(shape=(d,))
    h = layers.Dense(16, activation="relu")(inputs)
    return cls(inputs, layers.Dense(1)(h))


def _fit(model, x, y, **kw):
    keras.ag.manual_seed(123)          # the same shuffles for every model
    return model.fit(x, y, epochs=3, batch_size=16, verbose=0, **kw)


def test_guide_train_step_gives_the_builtin_fit_weights_and_logs():
    x, y = _data()
    ref = _functional(keras.Model)
    ref.compile(optimizer="adam", loss="mse", metrics=["mae"])
    h_ref = _fit(ref, x, y)
    custom = _functional(GuideModel)
    custom.compile(optimizer="adam", loss="mse", metrics=["mae"])
    h = _fit(custom, x, y)
    for a, b in zip(ref.get_weights(), custom.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # the step returned {"loss", "compile_metrics": {...}}: flattened, as Keras' logs
    assert set(h.history) == {"loss", "mae"}
    np.testing.assert_allclose(h.history["mae"], h_ref.history["mae"], rtol=1e-4)
    np.testing.assert_allclose(h.history["loss"], h_ref.history["loss"], rtol=1e-4)
    assert [m.name for m in custom.metrics] == ["loss", "compile_metrics"]


def test_low_level_train_step_without_compiled_loss_matches_builtin_mse():
    x, y = _data()
    ref = _functional(keras.Model)
    ref.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
    _fit(ref, x, y)
    model = _functional(LowLevelModel)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05))
    h = _fit(model, x, y)
    for a, b in zip(ref.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert list(h.history) == ["loss", "mae"] and len(h.history["loss"]) == 3
    assert model.metrics_names == ["loss", "mae"]
    assert h.history["loss"][-1] < h.history["loss"][0]
    # metrics are reset at each epoch: the epoch's log is that epoch's mean, not a running one
    assert model.loss_tracker.count.numpy() == len(x) // 16 * 1.0
    assert model.optimizer.iterations == 3 * len(x) // 16


def test_super_train_step_and_compute_loss_override():
    class Doubled(keras.Model):
        calls = 0

        def train_step(self, data):
            Doubled.calls += 1
            return super().train_step(data)

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return super().compute_loss(x, y, y_pred, sample_weight) * 2.0

    x, y = _data()
    model = _functional(Doubled)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse", metrics=["mae"])
    h = _fit(model, x, y, validation_split=0.25)
    assert Doubled.calls == 3 * (72 // 16 + 1)
    assert set(h.history) == {"loss", "mae", "val_loss", "val_mae"}
    # twice the loss at half the learning rate is the same SGD step (on the 72 training samples)
    ref2 = _functional(keras.Model)
    ref2.compile(optimizer=keras.optimizers.SGD(learning_rate=0.02), loss="mse", metrics=["mae"])
    _fit(ref2, x, y, validation_split=0.25)
    for a, b in zip(ref2.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_test_step_and_predict_step_overrides_are_called():
    class Custom(keras.Model):
        seen = {"test": 0, "predict": 0}

        def test_step(self, data):
            Custom.seen["test"] += 1
            x, y = data
            y_pred = self(x, training=False)
            self.compute_loss(y=y, y_pred=y_pred)
            self._loss_tracker.update_state(keras.ops.mean((y_pred - y) ** 2))
            return {"loss": self._loss_tracker.result(), "answer": 42.0}

        def predict_step(self, data):
            Custom.seen["predict"] += 1
            return {"twice": self(data, training=False) * 2.0, "raw": self(data, training=False)}

    x, y = _data(n=48)            # three equal batches: the tracker's mean of batch means is the mean
    model = _functional(Custom)
    model.compile(optimizer="adam", loss="mse")
    out = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    assert Custom.seen["test"] == 3 and out["answer"] == 42.0
    mse = float(np.mean((model.predict(x, verbose=0)["raw"] - y) ** 2))
    assert out["loss"] == pytest.approx(mse, rel=1e-5)
    assert model.evaluate(x, y, batch_size=16, verbose=0) == [pytest.approx(mse, rel=1e-5), 42.0]
    pred = model.predict(x, batch_size=16, verbose=0)
    assert set(pred) == {"twice", "raw"} and pred["twice"].shape == (48, 1)
    np.testing.assert_allclose(pred["twice"], 2 * pred["raw"], rtol=1e-6)
    assert Custom.seen["predict"] == 2 + 3        # the earlier predict call (batches of 32) too
    h = model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_data=(x, y))
    assert h.history["val_answer"] == [42.0, 42.0]


def test_subclassed_model_train_step_with_sample_weight_and_callbacks(tmp_path):
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(16, activation="relu")
            self.out = layers.Dense(3, activation="softmax")
            self.acc = keras.metrics.SparseCategoricalAccuracy(name="acc")
            self.loss_tracker = keras.metrics.Mean(name="loss")

        def call(self, x, training=False):
            return self.out(self.hidden(x))

        def train_step(self, data):
            x, y, sw = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sw)
            loss.backward()
            self.optimizer.apply([v.grad for v in self.trainable_weights], self.trainable_weights)
            self.loss_tracker.update_state(loss)
            self.acc.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

        @property
        def metrics(self):
            return [self.loss_tracker, self.acc]

    rng = np.random.default_rng(1)
    x = rng.normal(size=(150, 4)).astype(np.float32)
    y = np.argmax(x[:, :3], axis=1)
    keras.ag.manual_seed(0)
    model = Net()
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    stop = keras.callbacks.EarlyStopping(monitor="acc", mode="max", patience=0, baseline=0.999)
    seen = []
    log = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(dict(logs)))
    h = model.fit(x, y, sample_weight=np.ones(150), epochs=30, batch_size=32, verbose=0, callbacks=[stop, log])
    assert seen[-1]["acc"] == h.history["acc"][-1] and set(seen[-1]) == {"loss", "acc"}
    assert len(h.history["acc"]) < 30          # EarlyStopping saw the custom metric
    assert max(h.history["acc"]) > 0.9
    # a zero sample weight on every sample: a zero loss
    logs = model.train_on_batch(x, y, sample_weight=np.zeros(150), return_dict=True)
    assert logs["loss"] == 0.0 and set(logs) == {"loss", "acc"}


class GAN(keras.Model):
    """The guide's GAN: two optimizers, each applied to its own network's gradients."""

    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.rng = np.random.default_rng(1337)
        self.built = True

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def train_step(self, real):
        if isinstance(real, (tuple, list)):
            real = real[0]
        n = real.shape[0]
        z = self.rng.normal(size=(n, self.latent_dim)).astype(np.float32)
        fake = self.generator(z)
        combined = keras.ops.concatenate([fake, real], axis=0)
        labels = np.concatenate([np.ones((n, 1)), np.zeros((n, 1))]).astype(np.float32)
        labels += 0.05 * self.rng.uniform(size=labels.shape).astype(np.float32)
        self.zero_grad()
        d_loss = self.loss_fn(labels, self.discriminator(combined))
        d_loss.backward()
        grads = [v.value.grad for v in self.discriminator.trainable_weights]
        self.d_optimizer.apply(grads, self.discriminator.trainable_weights)

        z = self.rng.normal(size=(n, self.latent_dim)).astype(np.float32)
        misleading = np.zeros((n, 1), np.float32)
        self.zero_grad()
        g_loss = self.loss_fn(misleading, self.discriminator(self.generator(z)))
        g_loss.backward()
        grads = [v.value.grad for v in self.generator.trainable_weights]
        self.g_optimizer.apply(grads, self.generator.trainable_weights)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def test_gan_two_optimizers_each_update_only_their_network():
    keras.ag.manual_seed(0)
    disc = keras.Sequential([keras.Input((2,)), layers.Dense(16, activation="relu"), layers.Dense(1, activation="sigmoid")])
    gen = keras.Sequential([keras.Input((3,)), layers.Dense(16, activation="relu"), layers.Dense(2)])
    gan = GAN(disc, gen, latent_dim=3)
    gan.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2), keras.losses.BinaryCrossentropy())
    real = np.random.default_rng(0).normal(loc=(3.0, -2.0), scale=0.3, size=(256, 2)).astype(np.float32)
    d0, g0 = disc.get_weights(), gen.get_weights()
    h = gan.fit(real, epochs=4, batch_size=32, verbose=0)
    assert set(h.history) == {"d_loss", "g_loss"} and len(h.history["d_loss"]) == 4
    assert gan.d_optimizer.iterations == gan.g_optimizer.iterations == 4 * 8
    assert not gan.optimizer.built          # compile()'s default optimizer was never used
    assert all(np.abs(a - b).max() > 0 for a, b in zip(d0, disc.get_weights()))
    assert all(np.abs(a - b).max() > 0 for a, b in zip(g0, gen.get_weights()))
    # the generator moved its samples towards the real cloud (it starts near the origin)
    fake = gen.predict(np.random.default_rng(2).normal(size=(200, 3)).astype(np.float32), verbose=0)
    assert np.linalg.norm(fake.mean(0) - np.array([3.0, -2.0])) < np.linalg.norm(np.array([3.0, -2.0])) - 0.5


class _Recording(SingleProcessStrategy):
    def __init__(self, keep=True):
        self.rank, self.world_size, self.is_chief, self.keep = 0, 2, True, keep
        self.reduced, self.metric_calls = 0, 0

    def shard(self, indices, pad=True):
        return indices[0::2]

    def reduce_gradients(self, optimizer):      # an all-reduce that made every gradient zero
        self.reduced += 1
        for dt in optimizer.dtypes:
            buf = optimizer.flat_grads(dt)
            backend.current.copy_into(buf, backend.current.zeros(buf.shape, buf.dtype))
        return self.keep

    def reduce_metrics(self, sums, count):
        self.metric_calls += 1
        return {k: np.asarray(v) * 2 for k, v in sums.items()}, count * 2


@pytest.mark.parametrize("keep", [True, False])
def test_custom_step_gradients_go_through_the_data_parallel_strategy(keep):
    x, y = _data(n=64)
    model = _functional(LowLevelModel)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1))
    before = model.get_weights()
    s = _Recording(keep)
    set_strategy(s)
    try:
        h = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    finally:
        set_strategy(None)
    assert s.reduced == 2 * 4 and s.metric_calls == 2        # half the samples per rank, batches of 8
    assert model.optimizer.iterations == (8 if keep else 0)
    for a, b in zip(before, model.get_weights()):            # zero (all-reduced) gradients: no change
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(h.history["loss"]).all()
    assert keras.optimizers._gradient_hook is None          # restored after fit


def test_compile_without_loss_is_only_for_custom_steps():
    model = _functional(keras.Model)
    with pytest.raises(ValueError, match="loss is required"):
        model.compile(optimizer="adam")

    class OwnStep(keras.Model):
        def train_step(self, data):
            return super().train_step(data)

    m = _functional(OwnStep)
    m.compile(optimizer="adam")
    x, y = _data(n=16)
    with pytest.raises(ValueError, match="No loss to compute"):
        m.fit(x, y, verbose=0)


def test_train_on_batch_and_metrics_list():
    x, y = _data(n=32)
    model = _functional(GuideModel)
    model.compile(optimizer="sgd", loss="mse", metrics=["mae", "mse"])
    logs = model.train_on_batch(x, y, return_dict=True)
    assert set(logs) == {"loss", "mae", "mse"}
    assert model.compute_metrics(x, y, model(x))["mae"] is not None
    assert [m.name for m in model._compile_metrics.metrics] == ["mae", "mse"]


_WORKER = textwrap.dedent('''
    import json, sys
    import numpy as np
    import dptrain as keras
    from dptrain import layers

    class Custom(keras.Model):
        def train_step(self, data):
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            loss.backward()
            self.optimizer.apply([v.value.grad for v in self.trainable_weights], self.trainable_weights)
            self._loss_tracker.update_state(loss)
            return {"loss": self._loss_tracker.result()}

    def make(cls):
        keras.ag.manual_seed(0)
        inp = keras.Input((6,))
        return cls(inp, layers.Dense(1)(layers.Dense(8, activation="tanh")(inp)))

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype(np.float32)
    y = x[:, :1] * 2 - x[:, 1:2]
    out = {}
    for name, cls in (("builtin", keras.Model), ("custom", Custom)):
        m = make(cls)
        m.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
        keras.ag.manual_seed(7)
        h = m.fit(x, y, epochs=3, batch_size=8, verbose=0)
        out[name] = {"weights": [w.ravel().tolist() for w in m.get_weights()], "loss": h.history["loss"]}
    print("RESULT " + json.dumps(out), flush=True)
''')


@pytest.mark.timeout(200)
def test_custom_train_step_under_two_launched_workers_matches_the_builtin_step(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "launcher", "--nproc-per-node", "2", "--timeout", "150",
                        str(script)], capture_output=True, text=True, timeout=190, cwd=root, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    results = [json.loads(ln.split("RESULT ", 1)[1]) for ln in r.stdout.splitlines() if "RESULT " in ln]
    assert len(results) == 2, r.stdout
    assert results[0] == results[1], "both ranks end with the same weights and logs"
    built, custom = results[0]["builtin"], results[0]["custom"]
    for a, b in zip(built["weights"], custom["weights"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(built["loss"], custom["loss"], rtol=1e-4)


def test_apply_takes_gradients_left_in_place_by_backward():
    """loss.backward() writes into each weight's .grad, a view of the built optimiser's flat buffer;
    apply([v.grad ...]) must use them (not clear them first), and a None gradient counts as zero."""
    model = _functional(keras.Model, d=3)
    opt = keras.optimizers.SGD(learning_rate=0.5)
    weights = model.trainable_weights
    opt.build(weights)
    x = np.ones((4, 3), np.float32)
    before = model.get_weights()
    with keras.ag.grad_tape():
        loss = keras.ops.mean(model(x) ** 2)
    loss.backward()
    grads = [np.array(v.grad, copy=True) for v in weights]
    opt.apply([v.grad for v in weights[:-1]] + [None], weights)
    after = model.get_weights()
    for b, a, g in zip(before[:-1], after[:-1], grads[:-1]):
        np.testing.assert_allclose(a, b - 0.5 * g, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(after[-1], before[-1])


def test_weights_assign_in_place_as_keras_variables():
    layer = layers.Dense(2)
    layer.build((None, 3))
    kernel = layer.kernel
    data = kernel.data
    kernel.assign(np.ones((3, 2)))
    kernel.assign_add(np.full((3, 2), 2.0))
    kernel.assign_sub(0.5)                       # a scalar broadcasts
    assert kernel.data is data and kernel.value is kernel
    np.testing.assert_array_equal(kernel.numpy(), np.full((3, 2), 2.5, np.float32))
    with pytest.raises(ValueError, match=r"shape \(4,\) does not fit a tensor of shape \(3, 2\)"):
        kernel.assign(np.zeros(4))


def test_custom_train_step_on_a_generator_and_validation_batches():
    x, y = _data(n=64)
    batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]

    def gen():
        while True:
            yield from batches

    ref = _functional(keras.Model)
    ref.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
    ref.fit(batches, epochs=2, verbose=0)
    model = _functional(GuideModel)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
    seen = []
    h = model.fit(gen(), steps_per_epoch=4, epochs=2, verbose=0, validation_data=batches[:2],
                  callbacks=[keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))])
    assert seen == [0, 1, 2, 3] * 2 and model.optimizer.iterations == 8
    for a, b in zip(ref.get_weights(), model.get_weights()):   # the same batches in the same order
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # validation on a list of batches runs the default test_step
    want = ref.evaluate(np.concatenate([b[0] for b in batches[:2]]), np.concatenate([b[1] for b in batches[:2]]),
                        verbose=0)
    assert h.history["val_loss"][-1] == pytest.approx(want, rel=1e-4)


def test_guide_train_step_on_vulkan_matches_numpy():
    from engine.device import vulkan_unavailable_reason
    reason = vulkan_unavailable_reason()
    if reason:
        if os.environ.get("DPTRAIN_REQUIRE_VULKAN", "") == "1":
            pytest.fail(f"Vulkan unavailable: {reason} (DPTRAIN_REQUIRE_VULKAN=1)", pytrace=False)
        pytest.skip(f"Vulkan unavailable: {reason}")
    from engine.backend.vulkan import open_backend
    vk = open_backend(int(os.environ.get("DPTRAIN_TEST_VULKAN_DEVICE", "0")))
    x, y = _data(n=48)
    results = []
    for K in (backend.numpy_backend, vk):
        previous = backend.current
        backend.set_current(K)
        try:
            model = _functional(GuideModel)
            model.compile(optimizer="adam", loss="mse", metrics=["mae"])
            h = _fit(model, x, y)
            kernel = model.trainable_weights[0]
            kernel.assign_add(1.0)
            kernel.assign_sub(np.ones(kernel.shape, np.float32))
            results.append((h.history, model.get_weights()))
        finally:
            backend.set_current(previous)
    (h_np, w_np), (h_vk, w_vk) = results
    for a, b in zip(w_np, w_vk):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(h_vk["loss"], h_np["loss"], rtol=1e-4)
