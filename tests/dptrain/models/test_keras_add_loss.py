"""Layer.add_loss / layer.losses, the regularization_losses() / apply_constraints() protocol the train
step calls (the loss logged is the total, as in Keras), and stateful metrics across ranks."""
from types import SimpleNamespace

import numpy as np
import pytest

import dptrain as dt
from dptrain import metrics as M
from dptrain.layers import Layer
from dptrain.models.strategy import SingleProcessStrategy, set_strategy
from engine import backend


class Penalty(Layer):
    """Passes x through and adds c * sum(x^2) as a loss (an activity penalty written by hand)."""

    def __init__(self, c=0.1, **kwargs):
        super().__init__(**kwargs)
        self.c = c

    def call(self, x):
        self.add_loss(self.c * (x * x).sum())
        return x

    def compute_output_shape(self, input_shape):
        return input_shape


class Scale(Layer):
    """y = x * w (one weight per feature); penalties and constraints through the step's protocol."""

    def __init__(self, l2=0.0, clip=None, decay=0.0, **kwargs):
        super().__init__(**kwargs)
        self.l2, self.clip, self.decay = l2, clip, decay
        self.constrained = 0

    def build(self, input_shape):
        self.w = self.add_weight("w", (input_shape[-1],), "ones")
        if self.decay:
            self.add_loss(lambda: self.decay * (self.w * self.w).sum())    # evaluated at every step

    def call(self, x):
        return x * self.w

    def compute_output_shape(self, input_shape):
        return input_shape

    def regularization_losses(self):
        return [self.l2 * (self.w * self.w).sum()] if self.l2 else []

    def apply_constraints(self):
        self.constrained += 1
        if self.clip is not None:
            K = backend.current
            K.copy_into(self.w.data, K.asarray(np.clip(self.w.numpy(), -self.clip, self.clip)))


def _set_dense(layer, rng):
    n_in, n_out = layer.kernel.shape
    layer.set_weights([rng.standard_normal((n_in, n_out)).astype(np.float32) * 0.5,
                       rng.standard_normal(n_out).astype(np.float32) * 0.1])
    return [a.astype(np.float64) for a in layer.get_weights()]


def test_add_loss_in_call_counts_in_the_step_and_in_the_logged_loss(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    y = rng.standard_normal((4, 2)).astype(np.float32)
    dense = dt.layers.Dense(2)
    m = dt.Sequential([dt.Input((3,)), dense, Penalty(0.1)])
    w, b = _set_dense(dense, rng)
    m.compile(optimizer=dt.optimizers.SGD(learning_rate=0.1), loss="mse")
    h = m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    out = x @ w + b
    assert h.history["loss"][0] == pytest.approx(np.mean((out - y) ** 2) + 0.1 * np.sum(out ** 2), rel=1e-5)
    g = 2 * (out - y) / out.size + 0.2 * out
    w1, b1 = w - 0.1 * x.T @ g, b - 0.1 * g.sum(0)
    np.testing.assert_allclose(m.get_weights()[0], w1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m.get_weights()[1], b1, rtol=1e-5, atol=1e-6)
    out1 = x @ w1 + b1         # evaluate counts the losses of its own forward passes (Keras' test step too)
    want = np.mean([np.mean((out1[i:i + 2] - y[i:i + 2]) ** 2) + 0.1 * np.sum(out1[i:i + 2] ** 2) for i in (0, 2)])
    assert m.evaluate(x, y, batch_size=2, verbose=0) == pytest.approx(want, rel=1e-5)


def test_layer_losses_gathered_from_sublayers(rng):
    x = rng.standard_normal((3, 2)).astype(np.float32)
    inner = dt.Sequential([dt.Input((2,)), Penalty(0.5, name="p_in")])
    inp = dt.Input((2,))
    scale = Scale(decay=0.25, name="scale")
    m = dt.Model(inp, Penalty(2.0, name="p_out")(scale(inner(inp))))
    m(x)
    values = sorted(float(v) for v in m.losses)
    want = sorted([0.5 * np.sum(x ** 2), 2.0 * np.sum(x ** 2), 0.25 * 2.0])
    np.testing.assert_allclose(values, want, rtol=1e-5)
    assert [float(v) for v in scale.losses] == [0.5]
    assert len(inner.losses) == 1


def test_add_loss_callable_and_regularization_losses_train_and_constraints_apply_after_each_step(rng):
    x = rng.standard_normal((6, 3)).astype(np.float32)
    y = rng.standard_normal((6, 3)).astype(np.float32)
    scale = Scale(l2=0.3, clip=1.1, decay=0.2)
    m = dt.Sequential([dt.Input((3,)), scale])
    m.compile(optimizer=dt.optimizers.SGD(learning_rate=0.2), loss="mse")
    h = m.fit(x, y, batch_size=3, epochs=2, shuffle=False, verbose=0)
    w, logged = np.ones(3), []
    for _ in range(2):
        epoch = []
        for i in (0, 3):
            xb, yb = x[i:i + 3].astype(np.float64), y[i:i + 3].astype(np.float64)
            d = xb * w - yb
            epoch.append(np.mean(d ** 2) + 0.5 * np.sum(w ** 2))      # (0.3 + 0.2) * sum(w^2)
            w = np.clip(w - 0.2 * (np.sum(2 * d * xb, 0) / d.size + 2 * 0.5 * w), -1.1, 1.1)
        logged.append(np.mean(epoch))
    np.testing.assert_allclose(m.get_weights()[0], w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h.history["loss"], logged, rtol=1e-5)
    assert scale.constrained == 4          # once per optimizer step
    d = x * w - y
    assert m.evaluate(x, y, batch_size=6, verbose=0) == pytest.approx(np.mean(d ** 2) + 0.5 * np.sum(w ** 2),
                                                                       rel=1e-5)


def test_add_loss_in_a_subclassed_model(rng):
    class Net(dt.Model):
        def __init__(self):
            super().__init__()
            self.dense = dt.layers.Dense(2)

        def call(self, x):
            out = self.dense(x)
            self.add_loss(0.05 * (out * out).mean())
            return out
    x = rng.standard_normal((5, 3)).astype(np.float32)
    y = rng.standard_normal((5, 2)).astype(np.float32)
    net = Net()
    net(x)
    net.compile(optimizer=dt.optimizers.SGD(learning_rate=0.0), loss="mae")
    p = net.predict(x, verbose=0).astype(np.float64)
    h = net.fit(x, y, batch_size=5, epochs=1, verbose=0)
    assert h.history["loss"][0] == pytest.approx(np.mean(np.abs(p - y)) + 0.05 * np.mean(p ** 2), rel=1e-5)


def test_add_loss_refuses_what_is_not_a_scalar_tensor():
    layer = Penalty()
    with pytest.raises(ValueError, match="scalar"):
        layer.add_loss(dt.ag.tensor(np.ones(3, np.float32)))
    with pytest.raises(ValueError, match="inside build"):
        layer.add_loss(1.5)
    inp = dt.Input((2,))
    with pytest.raises(NotImplementedError, match="symbolic"):
        dt.Model(inp, dt.layers.Dense(1)(inp)).add_loss(inp)


def test_a_loss_tensor_is_not_tracked_as_a_weight(rng):
    layer = Scale()
    layer(np.ones((2, 3), np.float32))
    layer.add_loss((layer.w * 2.0).sum())        # depends on a weight, so it requires grad
    assert len(layer.weights) == 1 and len(layer.losses) == 1


# --- stateful metrics across ranks ------------------------------------------------------------------------
class _OtherRank(SingleProcessStrategy):
    """Pretends a second rank saw (x2, y2): its metric states and loss sums are added in."""

    def __init__(self, other):
        self.other = other

    def reduce_metrics(self, sums, count):
        extra, n = self.other()
        out = {}
        for k, v in sums.items():
            out[k] = v + extra[k]
        return out, count + n


def test_ratio_metrics_combine_through_the_strategy_state(rng):
    x = rng.standard_normal((20, 3)).astype(np.float32)
    y = (rng.random((20, 1)) > 0.5).astype(np.float32)
    model = dt.Sequential([dt.Input((3,)), dt.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=dt.optimizers.SGD(learning_rate=0.0), loss="binary_crossentropy",
                  metrics=[M.Precision(), M.AUC(), "accuracy"])
    p = model.predict(x, verbose=0)

    def other_rank():             # the second half, as another rank's step would have summed it
        prec, auc, acc = M.Precision(), M.AUC(), M.BinaryAccuracy()
        for metric in (prec, auc, acc):
            metric.update_state(y[10:], p[10:])
        q = np.clip(p[10:, 0].astype(np.float64), 1e-7, 1 - 1e-7)
        bce = -np.mean(y[10:, 0] * np.log(q) + (1 - y[10:, 0]) * np.log(1 - q))
        return {"loss": bce * 10, "precision": prec._state(), "auc": auc._state(), "accuracy": acc._state()}, 10
    set_strategy(_OtherRank(other_rank))
    try:
        logs = model.evaluate(x[:10], y[:10], batch_size=4, verbose=0, return_dict=True)
    finally:
        set_strategy(None)
    whole = {name: M.get(name) for name in ("precision", "auc")}
    for metric in whole.values():
        metric.update_state(y, p)
    assert logs["precision"] == pytest.approx(float(whole["precision"].result()))
    assert logs["auc"] == pytest.approx(float(whole["auc"].result()))
    assert logs["accuracy"] == pytest.approx(np.mean((p > 0.5) == (y > 0.5)))
    q = np.clip(p[:, 0].astype(np.float64), 1e-7, 1 - 1e-7)
    assert logs["loss"] == pytest.approx(-np.mean(y[:, 0] * np.log(q) + (1 - y[:, 0]) * np.log(1 - q)), rel=1e-5)


def test_data_parallel_strategy_sums_metric_state_arrays():
    from dptrain.distributed.keras_strategy import DataParallelStrategy

    class TwoRanks:
        world_size = 2

        def all_reduce(self, a, op="sum"):
            return a * 2
    strategy = DataParallelStrategy(SimpleNamespace(rank=0, world_size=2, communicator=TwoRanks()))
    sums = {"loss": 1.5, "precision": np.array([1.0, 3.0]), "auc": np.arange(8.0).reshape(4, 2)}
    out, count = strategy.reduce_metrics(sums, 4)
    assert count == 8 and out["loss"] == 3.0 and isinstance(out["loss"], float)
    assert out["precision"].tolist() == [2.0, 6.0] and out["auc"].shape == (4, 2)
    assert out["precision"] is not sums["precision"]      # a new array: the step loads it into the metric


_RATIO_WORKER = '''
import json, os, sys
import numpy as np
import dptrain as dt
world = int(os.environ.get("WORLD_SIZE", "1"))
rng = np.random.default_rng(0)
x = rng.standard_normal((48, 4)).astype(np.float32)
y = (x[:, 0] + 0.3 * rng.standard_normal(48) > 0).astype(np.float32).reshape(-1, 1)
xe = rng.standard_normal((29, 4)).astype(np.float32)
ye = (xe[:, 0] > 0).astype(np.float32).reshape(-1, 1)
model = dt.Sequential([dt.Input((4,)), dt.layers.Dense(1, activation="sigmoid")])
model.set_weights([np.array([[0.8], [-0.4], [0.2], [0.1]], np.float32), np.array([0.05], np.float32)])
M = dt.metrics
model.compile(optimizer=dt.optimizers.SGD(learning_rate=0.1), loss="binary_crossentropy",
              metrics=[M.Precision(), M.Recall(thresholds=[0.3, 0.6]), M.AUC(), M.F1Score(threshold=0.5)])
hist = model.fit(x, y, batch_size=8 // world, epochs=2, shuffle=False, validation_data=(xe, ye), verbose=0)
logs = model.evaluate(xe, ye, batch_size=5, return_dict=True, verbose=0)
clean = lambda d: {k: np.asarray(v).tolist() for k, v in d.items()}
print("RESULT " + json.dumps({"history": clean(hist.history), "evaluate": clean(logs)}), flush=True)
'''


@pytest.mark.timeout(200)
def test_ratio_metrics_under_the_launcher_equal_one_process(tmp_path):
    import json
    import subprocess
    import sys
    script = tmp_path / "ratio_worker.py"
    script.write_text(_RATIO_WORKER)

    def results(cmd):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=150)
        assert r.returncode == 0, r.stdout + r.stderr
        return [json.loads(ln.split("RESULT ", 1)[1]) for ln in r.stdout.splitlines() if "RESULT " in ln]
    (single,) = results([sys.executable, str(script)])
    multi = results([sys.executable, "-m", "launcher", "--nproc-per-node", "2", "--timeout", "120", str(script)])
    assert len(multi) == 2 and "val_auc" in single["history"]
    for got in multi:
        assert list(got["history"]) == list(single["history"])
        for key, values in single["history"].items():
            np.testing.assert_allclose(got["history"][key], values, rtol=2e-5, atol=1e-6, err_msg=key)
        for key, value in single["evaluate"].items():
            np.testing.assert_allclose(got["evaluate"][key], value, rtol=2e-5, atol=1e-6, err_msg=key)
