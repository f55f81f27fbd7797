"""compile/fit/evaluate/predict: numbers against hand-written references."""
import math
import re

import numpy as np
import pytest

import dptrain as dt
from dptrain import ag
from dptrain import layers as L


def _classifier(n_in=5, n_out=3, out_act="softmax"):
    return dt.Sequential([L.Dense(8, activation="relu", input_shape=(n_in,)), L.Dense(n_out, activation=out_act)])


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_fit_step_matches_a_hand_written_ag_step(rng):
    model = _classifier()
    x = rng.standard_normal((16, 5)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 16)]
    w0 = model.get_weights()
    model.compile(optimizer=dt.optimizers.Adam(learning_rate=0.01), loss="categorical_crossentropy")
    for _ in range(3):
        model.train_on_batch(x, y)

    # the reference: the forward, the gradient and Keras' Adam written out in float64 numpy
    w = [a.astype(np.float64) for a in w0]
    m, v = [np.zeros_like(a) for a in w], [np.zeros_like(a) for a in w]
    x64 = x.astype(np.float64)
    for t in range(1, 4):
        pre = x64 @ w[0] + w[1]
        h = np.maximum(pre, 0)
        z = h @ w[2] + w[3]
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        dz = (p - y) / len(x)
        dh = dz @ w[2].T * (pre > 0)
        grads = [x64.T @ dh, dh.sum(0), h.T @ dz, dz.sum(0)]
        for i, g in enumerate(grads):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            lr_t = 0.01 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
            w[i] = w[i] - lr_t * m[i] / (np.sqrt(v[i]) + 1e-7)       # Keras 3: epsilon not bias-corrected
    for got, want in zip(model.get_weights(), w):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_fit_one_epoch_equals_the_same_steps_by_hand(rng):
    """fit = shuffled batches (seeded from the engine generator) through train steps."""
    model = _classifier()
    x = rng.standard_normal((20, 5)).astype(np.float32)
    y = rng.integers(0, 3, 20)
    w0 = model.get_weights()
    model.compile(optimizer=dt.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    ag.manual_seed(11)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    from engine import random as _random
    ag.manual_seed(11)
    seed = int(_random.generator().integers(0, 2 ** 63 - 1))     # what fit draws at its start
    order = np.random.default_rng([seed, 0]).permutation(20)
    ref = _classifier()
    ref.set_weights(w0)
    ref.compile(optimizer=dt.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    for i in range(0, 20, 8):
        ref.train_on_batch(x[order[i:i + 8]], y[order[i:i + 8]])
    for a, b in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("loss,out_act,make_y,ref", [
    ("categorical_crossentropy", "softmax", lambda r: np.eye(3)[r.integers(0, 3, 12)],
     lambda p, y: -np.mean(np.sum(y * np.log(p), -1))),
    ("sparse_categorical_crossentropy", "softmax", lambda r: r.integers(0, 3, 12),
     lambda p, y: -np.mean(np.log(p[np.arange(len(y)), y]))),
    ("binary_crossentropy", "sigmoid", lambda r: r.integers(0, 2, (12, 3)).astype(float),
     lambda p, y: -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
    ("mse", None, lambda r: r.standard_normal((12, 3)), lambda p, y: np.mean((p - y) ** 2)),
    ("mae", None, lambda r: r.standard_normal((12, 3)), lambda p, y: np.mean(np.abs(p - y))),
    ("categorical_crossentropy", None, lambda r: np.eye(3)[r.integers(0, 3, 12)],   # Keras: renormalised, clipped
     lambda p, y: -np.mean(np.sum(y * np.log(np.clip(p / p.sum(-1, keepdims=True), 1e-7, 1 - 1e-7)), -1))),
])
def test_losses_match_numpy(rng, loss, out_act, make_y, ref):
    model = _classifier(out_act=out_act)
    x = rng.standard_normal((12, 5)).astype(np.float32)
    y = make_y(rng)
    model.compile(optimizer="sgd", loss=loss)
    p = model.predict(x).astype(np.float64)
    got = model.evaluate(x, y, batch_size=5, return_dict=True)["loss"]
    assert got == pytest.approx(ref(p, y), rel=1e-4, abs=1e-6)


def test_fused_softmax_crossentropy_is_used_and_stable(rng):
    model = _classifier()
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    k, b = model.layers[-1].get_weights()
    model.layers[-1].set_weights([k * 1e4, b])       # saturated softmax: probabilities of exactly 0
    x = rng.standard_normal((8, 5)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]
    loss = model.evaluate(x, y, return_dict=True)["loss"]
    h = np.maximum(x @ model.layers[0].get_weights()[0] + model.layers[0].get_weights()[1], 0)
    z = h @ (k * 1e4) + b
    logp = z - z.max(-1, keepdims=True) - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True))
    assert math.isfinite(loss)
    assert loss == pytest.approx(-np.mean(np.sum(y * logp, -1)), rel=1e-3)


def test_custom_callable_loss(rng):
    def half_sq(y_true, y_pred):
        d = y_pred - y_true
        return ag.mean(d * d) * 0.5
    model = _classifier(out_act=None)
    model.compile(optimizer="sgd", loss=half_sq, metrics=["mae"])
    x = rng.standard_normal((10, 5)).astype(np.float32)
    y = rng.standard_normal((10, 3)).astype(np.float32)
    p = model.predict(x)
    logs = model.evaluate(x, y, return_dict=True)
    assert logs["loss"] == pytest.approx(0.5 * np.mean((p - y) ** 2), rel=1e-5)
    assert logs["mae"] == pytest.approx(np.mean(np.abs(p - y)), rel=1e-5)
    before = model.evaluate(x, y, return_dict=True)["loss"]
    model.fit(x, y, epochs=5, verbose=0)
    assert model.evaluate(x, y, return_dict=True)["loss"] < before


def test_accuracy_picks_the_variant_from_the_loss(rng):
    x = rng.standard_normal((30, 5)).astype(np.float32)
    labels = rng.integers(0, 3, 30)
    m = _classifier()
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    p = m.predict(x)
    logs = m.evaluate(x, labels, batch_size=7, return_dict=True)
    assert logs["accuracy"] == pytest.approx(np.mean(p.argmax(1) == labels))
    m.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    assert m.evaluate(x, np.eye(3)[labels], return_dict=True)["accuracy"] == pytest.approx(np.mean(p.argmax(1) == labels))
    b = _classifier(n_out=1, out_act="sigmoid")
    yb = rng.integers(0, 2, 30).astype(np.float32)
    b.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy", "mae"])
    pb = b.predict(x)[:, 0]
    logs = b.evaluate(x, yb, return_dict=True)
    assert logs["accuracy"] == pytest.approx(np.mean((pb > 0.5) == (yb > 0.5)))
    assert logs["mae"] == pytest.approx(np.mean(np.abs(pb - yb)), rel=1e-5)


def test_sample_weight_and_class_weight(rng):
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = rng.standard_normal((10, 5)).astype(np.float32)
    y = rng.integers(0, 3, 10)
    sw = rng.random(10).astype(np.float32)
    p = model.predict(x).astype(np.float64)
    per = -np.log(p[np.arange(10), y])
    got = model.evaluate(x, y, batch_size=10, sample_weight=sw, return_dict=True)["loss"]
    assert got == pytest.approx(np.sum(per * sw) / 10, rel=1e-5)     # Keras: sum(w * loss) / batch size
    cw = {0: 0.5, 1: 2.0, 2: 1.0}
    w0 = model.get_weights()
    model.fit(x, y, epochs=2, batch_size=4, class_weight=cw, shuffle=False, verbose=0)
    w_class = model.get_weights()
    model.set_weights(w0)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=4, sample_weight=np.array([cw[k] for k in y]), shuffle=False, verbose=0)
    for a, b in zip(w_class, model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_multi_output_loss_weights(rng):
    inp = dt.Input((4,))
    h = L.Dense(6, activation="relu")(inp)
    m = dt.Model(inp, [L.Dense(2, activation="softmax", name="cls")(h), L.Dense(1, name="reg")(h)])
    m.compile(optimizer="adam", loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[0.3, 2.0],
              metrics={"cls": "accuracy", "reg": ["mae"]})
    x = rng.standard_normal((20, 4)).astype(np.float32)
    yc, yr = rng.integers(0, 2, 20), rng.standard_normal((20, 1))
    logs = m.evaluate(x, [yc, yr], return_dict=True)
    assert set(logs) == {"loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mae"}
    assert logs["loss"] == pytest.approx(0.3 * logs["cls_loss"] + 2.0 * logs["reg_loss"], rel=1e-5)
    hist = m.fit(x, {"cls": yc, "reg": yr}, epochs=3, verbose=0, validation_split=0.25)
    assert set(hist.history) == set(logs) | {f"val_{k}" for k in logs}
    preds = m.predict(x)
    assert isinstance(preds, list) and preds[0].shape == (20, 2) and preds[1].shape == (20, 1)


def test_output_without_a_loss_is_not_trained(rng):
    inp = dt.Input((3,))
    side = L.Dense(2, name="side")
    m = dt.Model(inp, [L.Dense(1, name="main")(inp), side(inp)])
    m.compile(optimizer="sgd", loss={"main": "mse"})
    before = side.get_weights()
    m.fit(rng.standard_normal((8, 3)), [rng.standard_normal((8, 1)), np.zeros((8, 2))], epochs=2, verbose=0)
    for a, b in zip(before, side.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_validation_split_holds_out_the_last_samples(rng):
    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = rng.standard_normal((40, 5)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    hist = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0)
    assert list(hist.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]   # Keras 3 sorts the logs
    assert all(len(v) == 3 for v in hist.history.values())
    final = model.evaluate(x[30:], y[30:], return_dict=True)
    assert hist.history["val_loss"][-1] == pytest.approx(final["loss"], rel=1e-6)
    assert hist.history["val_accuracy"][-1] == pytest.approx(final["accuracy"])
    hist2 = model.fit(x[:30], y[:30], epochs=1, validation_data=(x[30:], y[30:]), verbose=0)
    assert "val_loss" in hist2.history


def test_fit_is_reproducible_under_manual_seed_and_shuffles(rng):
    x = rng.standard_normal((32, 5)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    results = []
    for seed, shuffle in ((5, True), (5, True), (6, True), (5, False)):
        ag.manual_seed(0)
        m = dt.Sequential([L.Dense(8, activation="relu", input_shape=(5,)), L.Dropout(0.5), L.Dense(3)])
        m.compile(optimizer="sgd", loss="mse")
        ag.manual_seed(seed)
        m.fit(x, np.eye(3)[y], epochs=2, batch_size=8, shuffle=shuffle, verbose=0)
        results.append(m.get_weights()[0])
    np.testing.assert_array_equal(results[0], results[1])
    assert not np.array_equal(results[0], results[2])
    assert not np.array_equal(results[0], results[3])


@pytest.mark.parametrize("opt", ["sgd", "adam", "adamw", "rmsprop", dt.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                                 dt.optimizers.RMSprop(learning_rate=0.01), dt.optimizers.AdamW(learning_rate=0.01)])
def test_every_optimizer_trains(rng, opt):
    x = rng.standard_normal((64, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    model = _classifier(n_out=2)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    before = model.evaluate(x, y, return_dict=True)["loss"]
    model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert model.evaluate(x, y, return_dict=True)["loss"] < before


def test_optimizer_learning_rate_and_config():
    opt = dt.optimizers.Adam(learning_rate=1e-3, beta_1=0.8)
    assert opt.learning_rate == 1e-3
    opt.learning_rate = 5e-4
    assert opt.get_config()["learning_rate"] == 5e-4 and opt.get_config()["beta_1"] == 0.8
    assert dt.optimizers.Adam.from_config(opt.get_config()).beta_1 == 0.8
    with pytest.raises(ValueError, match="learning_rate"):
        dt.optimizers.SGD(learning_rate=-1)
    with pytest.raises(ValueError, match="momentum"):
        dt.optimizers.RMSprop(momentum=1.5)
    assert dt.optimizers.RMSprop(momentum=0.9, centered=True).get_config()["centered"] is True


def test_weight_decay_is_decoupled(rng):
    """Keras 3: p -= lr * wd * p, independent of the gradient; with zero gradients only the decay acts."""
    inp = dt.Input((2,))
    m = dt.Model(inp, L.Dense(1, use_bias=False)(inp))
    m.compile(optimizer=dt.optimizers.SGD(learning_rate=0.1, weight_decay=0.5), loss="mse")
    w = m.get_weights()[0]
    m.train_on_batch(np.zeros((4, 2)), np.zeros((4, 1)))
    np.testing.assert_allclose(m.get_weights()[0], w * (1 - 0.1 * 0.5), rtol=1e-6)


def test_freezing_after_compile_takes_effect_at_the_next_fit(rng):
    model = _classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = rng.standard_normal((16, 5)), rng.integers(0, 3, 16)
    model.fit(x, y, verbose=0)
    model.layers[0].trainable = False
    frozen = model.layers[0].get_weights()
    last = model.layers[1].get_weights()
    model.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(frozen, model.layers[0].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(last[0], model.layers[1].get_weights()[0])


def test_batchnorm_statistics_in_fit_and_predict(rng):
    model = dt.Sequential([L.BatchNormalization(input_shape=(3,)), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = (rng.standard_normal((64, 3)) * 3 + 5).astype(np.float32)
    model.fit(x, np.zeros((64, 1)), epochs=20, batch_size=64, verbose=0)
    _, _, mm, mv = model.layers[0].get_weights()
    expected = (1 - 0.99 ** 20) * x.mean(0)      # 20 updates from 0 towards the (fixed) batch mean
    np.testing.assert_allclose(mm, expected, rtol=1e-4)
    out = model.layers[0](x).numpy()              # inference uses the moving statistics
    g, b, mm, mv = model.layers[0].get_weights()
    np.testing.assert_allclose(out, (x - mm) / np.sqrt(mv + 1e-3) * g + b, rtol=1e-4, atol=1e-4)


def test_predict_in_batches_and_empty_input(rng):
    model = _classifier()
    x = rng.standard_normal((23, 5)).astype(np.float32)
    full = model.predict(x, batch_size=100)
    np.testing.assert_allclose(model.predict(x, batch_size=4), full, rtol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x), full, rtol=1e-6)
    assert isinstance(full, np.ndarray) and full.shape == (23, 3)
    assert model.predict(x[:0]).shape == (0, 3)
    flat = dt.Sequential([L.Flatten(input_shape=(2, 2))])
    data = rng.standard_normal((10, 2, 2)).astype(np.float32)
    np.testing.assert_array_equal(flat.predict(data, batch_size=3), data.reshape(10, 4))


def test_verbose_modes_print_what_keras_3_prints(rng, capsys):
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = rng.standard_normal((20, 5)), rng.integers(0, 3, 20)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(x, y, epochs=2, batch_size=8, verbose=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2", lines
    assert re.fullmatch(r"3/3 - \d+s - \d+(us|ms|s)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}", lines[1]), lines
    model.fit(x, y, epochs=1, batch_size=8, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch" not in out, "Keras prints no epoch header for a single epoch"
    assert re.search(r"\r3/3 ━{20} \d+s \d+(us|ms|s)/step - accuracy: .* - loss: ", out), repr(out)
    assert "\x1b[" not in out, "no colour codes when the output is not a terminal"


def test_progress_bar_live_updates_and_colours_on_a_terminal():
    import io

    from dptrain.models.progress import ProgressBar

    class Terminal(io.StringIO):
        def isatty(self):
            return True
    for stream, colour in ((io.StringIO(), False), (Terminal(), True)):
        bar = ProgressBar(1, stream)
        bar.set_params({"epochs": 1, "steps": 10})
        bar.on_epoch_begin(0)
        bar._last_draw = -1e9
        bar.on_train_batch_end(3, {"loss": 0.5})
        bar.on_epoch_end(0, {"loss": 0.25, "val_loss": 0.0001})
        text = stream.getvalue()
        assert text.endswith("val_loss: 1.0000e-04\n"), repr(text)
        if colour:
            assert "\x1b[1m 4/10\x1b[0m \x1b[32m━━━━━━━━\x1b[0m\x1b[37m━━━━━━━━━━━━\x1b[0m" in text, repr(text)
        else:
            assert "\r 4/10 ━━━━━━━━━━━━━━━━━━━━ 0s " in text and "loss: 0.5000" in text, repr(text)
            assert "\r10/10 ━━━━━━━━━━━━━━━━━━━━ 0s " in text


def test_history_plot(tmp_path, rng):
    pytest.importorskip("matplotlib")
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(rng.standard_normal((20, 5)), rng.integers(0, 3, 20), epochs=3, validation_split=0.2,
                     verbose=0)
    assert model.history is hist and hist.epoch == [0, 1, 2]
    fig = hist.plot(tmp_path / "h.png")
    assert (tmp_path / "h.png").stat().st_size > 1000
    assert len(fig.axes) == 2


def test_history_plot_without_matplotlib(monkeypatch):
    import builtins
    real = builtins.__import__

    def fake(name, *a, **k):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib")
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", fake)
    h = dt.callbacks.History()
    h.history = {"loss": [1.0]}
    with pytest.raises(ImportError, match="pip install matplotlib"):
        h.plot()


def test_sequence_model_with_embedding_and_recurrent_layers(rng):
    tokens = dt.Input((6,), dtype="int32")
    e = L.Embedding(8, 4)(tokens)
    out = L.Dense(2, activation="softmax")(L.Concatenate()([L.LSTM(5)(e), L.GRU(3)(e)]))
    m = dt.Model(tokens, out)
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = rng.integers(0, 8, (40, 6))
    y = (x[:, 0] > 3).astype(int)
    before = m.evaluate(x, y, return_dict=True)["loss"]
    m.fit(x, y, epochs=4, batch_size=10, verbose=0)
    assert m.evaluate(x, y, return_dict=True)["loss"] < before


def test_fused_output_that_another_layer_also_consumes(rng):
    inp = dt.Input((4,))
    probs = L.Dense(3, activation="softmax", name="probs")(inp)
    second = L.Dense(1, name="second")(probs)          # consumes the probabilities
    m = dt.Model(inp, [probs, second])
    m.compile(optimizer="sgd", loss=["categorical_crossentropy", "mse"])
    assert m._heads[0].fused == "softmax"
    x = rng.standard_normal((6, 4)).astype(np.float32)
    y1, y2 = np.eye(3)[rng.integers(0, 3, 6)], rng.standard_normal((6, 1))
    p1, p2 = m.predict(x)
    logs = m.evaluate(x, [y1, y2], return_dict=True)
    assert logs["probs_loss"] == pytest.approx(-np.mean(np.sum(y1 * np.log(p1), -1)), rel=1e-5)
    assert logs["second_loss"] == pytest.approx(np.mean((p2 - y2) ** 2), rel=1e-5)
    act = dt.Model(inp, L.Activation("softmax")(L.Dense(3)(inp)))
    act.compile(optimizer="sgd", loss="categorical_crossentropy")
    assert act._heads[0].fused == "softmax"
    assert act.evaluate(x, y1, return_dict=True)["loss"] == pytest.approx(
        -np.mean(np.sum(y1 * np.log(act.predict(x)), -1)), rel=1e-5)


def test_evaluate_returns_what_keras_3_returns(rng):
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = rng.standard_normal((20, 5)), rng.integers(0, 3, 20)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    loss, acc = model.evaluate(x, y, verbose=0)   # a list, loss first: unpacks values, not keys
    assert (loss, acc) == (logs["loss"], logs["accuracy"])
    plain = _classifier()
    plain.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert isinstance(plain.evaluate(x, y, verbose=0), float)


def test_fit_takes_keras_positional_order_and_validation_freq(rng):
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = rng.standard_normal((20, 5)), rng.integers(0, 3, 20)
    seen = []

    class Count(dt.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)
    hist = model.fit(x, y, 10, 3, 0, [Count()], validation_data=(x, y), validation_freq=2)  # batch_size, epochs
    assert len(hist.history["loss"]) == 3 and len(seen) == 6
    assert len(hist.history["val_loss"]) == 1, "validated after epoch 2 only"


@pytest.mark.parametrize("call, feature", [
    (lambda m, x, y: m.fit(x, y, steps_per_epoch=2, verbose=0), "steps_per_epoch"),
    (lambda m, x, y: m.fit(x, y, validation_steps=2, verbose=0), "validation_steps"),
    (lambda m, x, y: m.evaluate(x, y, steps=1), "steps"),
    (lambda m, x, y: m.predict(x, steps=1), "steps"),
])
def test_keras_arguments_dptrain_lacks_raise_naming_them(rng, call, feature):
    model = _classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(NotImplementedError, match=feature):
        call(model, rng.standard_normal((20, 5)), rng.integers(0, 3, 20))


def test_misspelt_keywords_suggest_the_right_one(rng):
    model = _classifier()
    with pytest.raises(TypeError, match="unexpected keyword argument 'metric'. Did you mean 'metrics'"):
        model.compile(optimizer="sgd", loss="mse", metric=["mae"])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(TypeError, match="'epoch'. Did you mean 'epochs'"):
        model.fit(rng.standard_normal((4, 5)), rng.integers(0, 3, 4), epoch=2)
    with pytest.raises(ValueError, match="unknown loss 'mean_squared_eror'. Did you mean 'mean_squared_error'"):
        model.compile(optimizer="sgd", loss="mean_squared_eror")
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'. Did you mean 'adam'"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="unknown metric 'acuracy'. Did you mean 'accuracy'"):
        model.compile(optimizer="sgd", loss="mse", metrics=["acuracy"])
    with pytest.raises(ValueError, match="unknown activation 'rellu'. Did you mean 'relu'"):
        L.Dense(3, activation="rellu")
    with pytest.raises(TypeError, match="activaton. Did you mean 'activation'"):
        L.Dense(3, activaton="relu")
