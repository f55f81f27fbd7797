"""dt.optimizers (Keras 3's optimisers) against their formulas written out in float64 numpy,
clipping, weight decay, EMA, the learning rate and schedules, configs and checkpoints; and
dt.optimizers.schedules against Keras' formulas."""
import json
import math

import numpy as np
import pytest

import dptrain as dt
from dptrain import ag
from dptrain import optimizers as O
from dptrain.optimizers import schedules as S
from engine import backend

SHAPES = [(3, 4), (4,)]


def _problem(seed=0, steps=4):
    rng = np.random.default_rng(seed)
    w0 = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(steps)]
    return w0, grads


def _run(opt, w0, grads):
    """Apply `grads` step by step through Keras' `apply(grads, variables)`; the float64 weights after."""
    params = [ag.param(w.copy(), name=f"w{i}") for i, w in enumerate(w0)]
    for g in grads:
        opt.apply([gi.copy() for gi in g], params)
    return [p.numpy() for p in params]


def _ref(update, w0, grads, state=None):
    """Keras' per-variable update_step, in float64: update(w, g, t, st) -> new w, with st a dict per variable."""
    ws = [w.copy() for w in w0]
    sts = [dict(state(w)) if state else {} for w in w0]
    for t, g in enumerate(grads, 1):
        ws = [update(w, gi, t, st) for w, gi, st in zip(ws, g, sts)]
    return ws


def _close(got, want, rtol=1e-12):
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)


# --- each optimiser against Keras' update_step ------------------------------------------------------
def test_adagrad():
    w0, grads = _problem()
    got = _run(O.Adagrad(learning_rate=0.1, initial_accumulator_value=0.2, epsilon=1e-3), w0, grads)

    def update(w, g, t, st):
        st["acc"] = st["acc"] + g * g
        return w - 0.1 * g / np.sqrt(st["acc"] + 1e-3)
    _close(got, _ref(update, w0, grads, lambda w: {"acc": np.full_like(w, 0.2)}))


def test_adadelta():
    w0, grads = _problem()
    got = _run(O.Adadelta(learning_rate=0.5, rho=0.9, epsilon=1e-4), w0, grads)

    def update(w, g, t, st):
        st["ag"] = 0.9 * st["ag"] + 0.1 * g * g
        d = -np.sqrt(st["ad"] + 1e-4) * g / np.sqrt(st["ag"] + 1e-4)
        st["ad"] = 0.9 * st["ad"] + 0.1 * d * d
        return w + 0.5 * d
    _close(got, _ref(update, w0, grads, lambda w: {"ag": 0 * w, "ad": 0 * w}))


def test_adamax():
    w0, grads = _problem()
    got = _run(O.Adamax(learning_rate=0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-3), w0, grads)

    def update(w, g, t, st):
        st["m"] = st["m"] + (g - st["m"]) * 0.2
        st["u"] = np.maximum(0.99 * st["u"], np.abs(g))
        return w - 0.02 * st["m"] / ((1 - 0.8 ** t) * (st["u"] + 1e-3))
    _close(got, _ref(update, w0, grads, lambda w: {"m": 0 * w, "u": 0 * w}))


def test_nadam():
    w0, grads = _problem(steps=5)
    got = _run(O.Nadam(learning_rate=0.02, beta_1=0.85, beta_2=0.99, epsilon=1e-5), w0, grads)
    prod = {"u": 1.0, "t": 0}

    def update(w, g, t, st):
        u_t = 0.85 * (1 - 0.5 * 0.96 ** t)
        u_t1 = 0.85 * (1 - 0.5 * 0.96 ** (t + 1))
        if prod["t"] != t:                      # Keras updates the product once per step
            prod["u"] *= u_t
            prod["t"] = t
        st["m"] = st["m"] + (g - st["m"]) * 0.15
        st["v"] = st["v"] + (g * g - st["v"]) * 0.01
        m_hat = u_t1 * st["m"] / (1 - prod["u"] * u_t1) + (1 - u_t) * g / (1 - prod["u"])
        return w - 0.02 * m_hat / (np.sqrt(st["v"] / (1 - 0.99 ** t)) + 1e-5)
    _close(got, _ref(update, w0, grads, lambda w: {"m": 0 * w, "v": 0 * w}), rtol=1e-11)


def test_lion():
    w0, grads = _problem()
    got = _run(O.Lion(learning_rate=0.01, beta_1=0.8, beta_2=0.95, weight_decay=0.3), w0, grads)

    def update(w, g, t, st):
        w = w - w * 0.3 * 0.01
        w = w - 0.01 * np.sign(0.8 * st["m"] + 0.2 * g)
        st["m"] = 0.95 * st["m"] + 0.05 * g
        return w
    _close(got, _ref(update, w0, grads, lambda w: {"m": 0 * w}))


def test_adam_keras_epsilon_placement():
    w0, grads = _problem()
    got = _run(O.Adam(learning_rate=0.05, epsilon=0.1), w0, grads)     # a large epsilon shows where it sits

    def update(w, g, t, st):
        st["m"] = st["m"] + (g - st["m"]) * 0.1
        st["v"] = st["v"] + (g * g - st["v"]) * 0.001
        alpha = 0.05 * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        return w - alpha * st["m"] / (np.sqrt(st["v"]) + 0.1)
    _close(got, _ref(update, w0, grads, lambda w: {"m": 0 * w, "v": 0 * w}))


@pytest.mark.parametrize("cls", [O.Adagrad, O.Adadelta, O.Adamax, O.Nadam, O.SGD, O.RMSprop])
def test_weight_decay_is_decoupled_before_the_step(cls):
    w0, grads = _problem(steps=1)
    plain = _run(cls(learning_rate=0.1), [w * (1 - 0.1 * 0.5) for w in w0], grads)
    got = _run(cls(learning_rate=0.1, weight_decay=0.5), w0, grads)
    _close(got, plain)


# --- SGD momentum when the learning rate changes -------------------------------------------------
@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_follows_keras_when_the_lr_changes(nesterov):
    w0, grads = _problem(steps=6)
    lrs = [0.1, 0.1, 0.05, 0.0, 0.2, 0.2]
    opt = O.SGD(learning_rate=lrs[0], momentum=0.9, nesterov=nesterov)
    params = [ag.param(w.copy(), name=f"w{i}") for i, w in enumerate(w0)]
    for lr, g in zip(lrs, grads):
        opt.learning_rate = lr
        opt.apply(g, params)
    ws, ms = [w.copy() for w in w0], [0 * w for w in w0]
    for lr, g in zip(lrs, grads):
        for i, gi in enumerate(g):
            ms[i] = 0.9 * ms[i] - lr * gi
            ws[i] = ws[i] + (0.9 * ms[i] - lr * gi if nesterov else ms[i])
    _close([p.numpy() for p in params], ws)
    assert opt.learning_rate == 0.2


# --- clipping -----------------------------------------------------------------------------------------
def test_clipnorm_clips_each_weight():
    w0, grads = _problem(steps=1)
    got = _run(O.SGD(learning_rate=1.0, clipnorm=0.5), w0, grads)
    want = [w - g * 0.5 / max(np.linalg.norm(g), 0.5) for w, g in zip(w0, grads[0])]
    _close(got, want)


def test_global_clipnorm_clips_all_together():
    w0, grads = _problem(steps=1)
    got = _run(O.SGD(learning_rate=1.0, global_clipnorm=0.5), w0, grads)
    norm = math.sqrt(sum(float((g * g).sum()) for g in grads[0]))
    _close(got, [w - g * 0.5 / norm for w, g in zip(w0, grads[0])])
    small = [[g * 1e-3 for g in grads[0]]]
    _close(_run(O.SGD(learning_rate=1.0, global_clipnorm=0.5), w0, small), [w - g for w, g in zip(w0, small[0])])


def test_clipvalue():
    w0, grads = _problem(steps=1)
    got = _run(O.SGD(learning_rate=1.0, clipvalue=0.3), w0, grads)
    _close(got, [w - np.clip(g, -0.3, 0.3) for w, g in zip(w0, grads[0])])


def test_clip_argument_errors():
    with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue` and `global_clipnorm`"):
        O.Adam(clipnorm=1.0, global_clipnorm=1.0)
    with pytest.raises(ValueError, match="clipnorm must be a number > 0"):
        O.SGD(clipnorm=0.0)


def test_clipping_in_fit_matches_apply(rng):
    x = rng.standard_normal((8, 3)).astype(np.float32)
    y = rng.standard_normal((8, 2)).astype(np.float32)
    m = dt.Sequential([dt.Input((3,)), dt.layers.Dense(2)])
    w0 = m.get_weights()
    m.compile(optimizer=O.SGD(learning_rate=0.5, clipnorm=0.01), loss="mse")
    m.train_on_batch(x, y)
    moved = [np.linalg.norm(a - b) for a, b in zip(m.get_weights(), w0)]
    assert all(d <= 0.5 * 0.01 + 1e-6 for d in moved) and all(d > 0.5 * 0.01 * 0.99 for d in moved)


# --- EMA ------------------------------------------------------------------------------------------------
def test_ema_average_overwrite_and_finalize():
    w0, grads = _problem(steps=4)
    opt = O.SGD(learning_rate=0.1, use_ema=True, ema_momentum=0.6)
    params = [ag.param(w.copy(), name=f"w{i}") for i, w in enumerate(w0)]
    ws, avg = [w.copy() for w in w0], None
    for t, g in enumerate(grads):
        opt.apply(g, params)
        ws = [w - 0.1 * gi for w, gi in zip(ws, g)]
        avg = [w.copy() for w in ws] if t == 0 else [0.6 * a + 0.4 * w for a, w in zip(avg, ws)]
    _close([p.numpy() for p in params], ws)          # the weights themselves are not averaged
    opt.finalize_variable_values()
    _close([p.numpy() for p in params], avg)

    opt = O.SGD(learning_rate=0.1, use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=2)
    params = [ag.param(w.copy(), name=f"w{i}") for i, w in enumerate(w0)]
    ws, avg = [w.copy() for w in w0], None
    for t, g in enumerate(grads):
        opt.apply(g, params)
        ws = [w - 0.1 * gi for w, gi in zip(ws, g)]
        avg = [w.copy() for w in ws] if t == 0 else [0.5 * a + 0.5 * w for a, w in zip(avg, ws)]
        if (t + 1) % 2 == 0:
            ws = [a.copy() for a in avg]
    _close([p.numpy() for p in params], ws)


def test_ema_and_optimizer_state_survive_a_checkpoint():
    w0, grads = _problem(steps=6)
    for make in (lambda: O.Adam(learning_rate=0.05, use_ema=True, ema_momentum=0.7),
                 lambda: O.SGD(learning_rate=S.ExponentialDecay(0.1, 1, 0.5), momentum=0.9)):
        a, b = make(), make()
        pa = [ag.param(w.copy(), name=f"w{i}") for i, w in enumerate(w0)]
        for g in grads[:3]:
            a.apply(g, pa)
        state = a.state_dict()
        pb = [ag.param(p.numpy().copy(), name=f"w{i}") for i, p in enumerate(pa)]
        b.build(pb)
        b.load_state_dict(state)
        assert b.iterations == 3 and b.learning_rate == a.learning_rate
        for g in grads[3:]:
            a.apply(g, pa)
            b.apply(g, pb)
        _close([p.numpy() for p in pb], [p.numpy() for p in pa], rtol=0)
        a.finalize_variable_values()
        b.finalize_variable_values()
        _close([p.numpy() for p in pb], [p.numpy() for p in pa], rtol=0)


# --- the learning rate and schedules inside the optimiser --------------------------------------------------
def test_schedule_is_evaluated_at_the_iteration_count():
    sched = S.PiecewiseConstantDecay([0, 2], [1.0, 0.5, 0.25])
    opt = O.SGD(learning_rate=sched)
    p = ag.param(np.zeros(1), name="p")
    seen = []
    for _ in range(5):
        seen.append(opt.learning_rate)
        opt.apply([np.ones(1)], [p])
    assert seen == [1.0, 0.5, 0.5, 0.25, 0.25] and opt.iterations == 5
    np.testing.assert_allclose(p.numpy(), [-sum(seen)])
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.1
    opt.learning_rate = S.ExponentialDecay(1.0, 1, 0.5)         # a new schedule may replace it
    assert opt.learning_rate == 0.5 ** 5


def test_callable_learning_rate_and_model_optimizer_lr(rng):
    opt = O.Adam(learning_rate=lambda: 0.125)
    assert opt.learning_rate == 0.125
    m = dt.Sequential([dt.Input((3,)), dt.layers.Dense(2)])
    m.compile(optimizer=O.Adagrad(learning_rate=0.2), loss="mse")
    assert m.optimizer.learning_rate == 0.2
    m.optimizer.learning_rate = 0.05
    m.fit(rng.standard_normal((4, 3)), rng.standard_normal((4, 2)), verbose=0)
    assert m.optimizer.learning_rate == 0.05 and m.optimizer.engine.lr == 0.05 and m.optimizer.iterations == 1


def test_fit_with_a_schedule_matches_apply(rng):
    x = rng.standard_normal((12, 3)).astype(np.float32)
    y = rng.standard_normal((12, 2)).astype(np.float32)
    sched = S.CosineDecay(0.0, 4, warmup_target=0.2, warmup_steps=2)
    m = dt.Sequential([dt.Input((3,)), dt.layers.Dense(2)])
    w0 = m.get_weights()
    m.compile(optimizer=O.SGD(learning_rate=sched), loss="mse")
    m.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    w = [a.astype(np.float64) for a in w0]
    for step in range(6):
        xb, yb = x[4 * (step % 3):4 * (step % 3) + 4].astype(np.float64), y[4 * (step % 3):4 * (step % 3) + 4]
        d = 2 * (xb @ w[0] + w[1] - yb) / yb.size
        lr = sched(step)
        w = [w[0] - lr * xb.T @ d, w[1] - lr * d.sum(0)]
    _close(m.get_weights(), w, rtol=1e-5)


# --- configs, names, checkpoints ---------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [O.SGD, O.Adam, O.AdamW, O.RMSprop, O.Adagrad, O.Adadelta, O.Adamax, O.Nadam, O.Lion])
def test_config_round_trip(cls):
    opt = cls(learning_rate=S.InverseTimeDecay(0.1, 2, 0.5), clipvalue=0.5, use_ema=True)
    cfg = json.loads(json.dumps(opt.get_config()))
    again = cls.from_config(cfg)
    assert again.get_config() == opt.get_config()
    assert isinstance(again._schedule, S.InverseTimeDecay) and again.learning_rate == 0.1
    assert list(cfg)[:11] == ["name", "learning_rate", "weight_decay", "clipnorm", "global_clipnorm", "clipvalue",
                              "use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                              "gradient_accumulation_steps"]
    assert type(O.deserialize(O.serialize(opt))) is cls


def test_names_get_and_errors():
    for name, cls in [("adagrad", O.Adagrad), ("Adadelta", O.Adadelta), ("adamax", O.Adamax), ("nadam", O.Nadam),
                      ("lion", O.Lion)]:
        assert type(O.get(name)) is cls
    assert O.Nadam().name == "nadam" and O.AdamW().name == "adam_w" and O.SGD(name="mine").name == "mine"
    with pytest.raises(ValueError, match="Did you mean 'adam'"):
        O.get("adma")
    with pytest.raises(ValueError, match="Argument\\(s\\) not recognized"):
        O.Lion(momentum=0.9)
    with pytest.raises(ValueError, match="beta_1"):
        O.Lion(beta_1=0.0)
    with pytest.raises(NotImplementedError, match="amsgrad"):
        O.Adam(amsgrad=True)
    with pytest.raises(NotImplementedError, match="gradient_accumulation_steps"):
        O.SGD(gradient_accumulation_steps=2)
    with pytest.raises(NotImplementedError, match="loss_scale_factor"):
        O.SGD(loss_scale_factor=128.0)
    with pytest.warns(UserWarning, match="decay"):
        O.SGD(decay=0.1)


def test_apply_gradients_and_errors():
    p, q = ag.param(np.ones(2), name="p"), ag.param(np.ones(3), name="q")
    opt = O.SGD(learning_rate=0.5)
    assert opt.apply_gradients(zip([np.ones(2), None], [p, q])) == 1      # a None gradient leaves q as it is
    np.testing.assert_allclose(p.numpy(), [0.5, 0.5])
    np.testing.assert_allclose(q.numpy(), [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="Unknown variable"):
        opt.apply([np.ones(2)], [ag.param(np.ones(2), name="other")])
    with pytest.raises(ValueError, match="No gradients provided"):
        opt.apply([None, None], [p, q])
    with pytest.raises(ValueError, match="must already be built"):
        O.SGD().apply([np.ones(2)])


def test_model_with_a_schedule_and_new_optimizer_saves_and_resumes(tmp_path, rng):
    x = rng.standard_normal((16, 3)).astype(np.float32)
    y = rng.integers(0, 2, 16)

    def make():
        m = dt.Sequential([dt.Input((3,)), dt.layers.Dense(4, activation="relu"),
                           dt.layers.Dense(2, activation="softmax")])
        m.compile(optimizer=O.Nadam(learning_rate=S.ExponentialDecay(0.05, 2, 0.7)),
                  loss="sparse_categorical_crossentropy")
        return m
    m = make()
    m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    m.save(tmp_path / "m.keras")
    loaded = dt.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer, O.Nadam) and loaded.optimizer.iterations == 4
    assert loaded.optimizer.learning_rate == pytest.approx(0.05 * 0.7 ** 2)
    m.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    loaded.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    _close(loaded.get_weights(), m.get_weights(), rtol=1e-6)


def _vulkan():
    import os
    from engine.device import vulkan_unavailable_reason
    reason = vulkan_unavailable_reason()
    if reason is None:
        from engine.backend.vulkan import VulkanUnavailable, open_backend
        try:
            return open_backend(int(os.environ.get("DPTRAIN_TEST_VULKAN_DEVICE", "0")))
        except VulkanUnavailable as e:
            reason = str(e)
    if os.environ.get("DPTRAIN_REQUIRE_VULKAN", "") == "1":
        pytest.fail(f"Vulkan unavailable: {reason} (DPTRAIN_REQUIRE_VULKAN=1)", pytrace=False)
    pytest.skip(f"Vulkan unavailable: {reason}")


def test_keras_optimizers_on_vulkan_match_numpy():
    vk = _vulkan()
    rng = np.random.default_rng(4)
    w0 = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(3)]
    for make in (lambda: O.Adagrad(0.1), lambda: O.Adadelta(1.0), lambda: O.Adamax(0.01), lambda: O.Nadam(0.01),
                 lambda: O.Lion(0.01, weight_decay=0.1), lambda: O.Adam(0.01, global_clipnorm=0.5, use_ema=True)):
        out = []
        for K in (backend.numpy_backend, vk):
            prev = backend.current
            backend.set_current(K)
            try:
                out.append(_run(make(), w0, grads))
            finally:
                backend.set_current(prev)
        _close(out[1], out[0], rtol=2e-5)


# --- schedules -------------------------------------------------------------------------------------------------
def _keras_exponential(step, lr0, steps, rate, staircase):
    p = step / steps
    return lr0 * rate ** (math.floor(p) if staircase else p)


def test_exponential_and_inverse_time_decay():
    for staircase in (False, True):
        s = S.ExponentialDecay(0.1, 3, 0.5, staircase=staircase)
        inv = S.InverseTimeDecay(0.1, 3, 0.5, staircase=staircase)
        for t in range(10):
            assert s(t) == pytest.approx(_keras_exponential(t, 0.1, 3, 0.5, staircase), rel=1e-15)
            p = math.floor(t / 3) if staircase else t / 3
            assert inv(t) == pytest.approx(0.1 / (1 + 0.5 * p), rel=1e-15)


def test_piecewise_constant_boundaries_belong_to_the_left():
    s = S.PiecewiseConstantDecay([2, 5], [1.0, 0.5, 0.1])
    assert [s(t) for t in range(8)] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.1, 0.1]
    with pytest.raises(ValueError, match="1 less than the length of values"):
        S.PiecewiseConstantDecay([1, 2], [0.1, 0.2])


def test_polynomial_decay_with_and_without_cycle():
    s = S.PolynomialDecay(0.1, 4, end_learning_rate=0.01, power=2.0)
    assert [round(s(t), 12) for t in (0, 2, 4, 9)] == [0.1, round(0.09 * 0.25 + 0.01, 12), 0.01, 0.01]
    c = S.PolynomialDecay(0.1, 4, end_learning_rate=0.0, cycle=True)
    assert c(0) == 0.1 and c(4) == pytest.approx(0.0) and c(6) == pytest.approx(0.1 * (1 - 6 / 8))


def test_cosine_decay_and_warmup():
    s = S.CosineDecay(0.1, 10, alpha=0.2)
    for t in (0, 3, 10, 15):
        frac = min(t, 10) / 10
        assert s(t) == pytest.approx(0.1 * (0.8 * 0.5 * (1 + math.cos(math.pi * frac)) + 0.2), rel=1e-14)
    w = S.CosineDecay(0.0, 4, warmup_target=0.2, warmup_steps=2)
    assert [w(t) for t in (0, 1)] == [0.0, 0.1] and w(2) == pytest.approx(0.2)
    assert w(4) == pytest.approx(0.1) and w(100) == pytest.approx(0.0, abs=1e-15)


def test_cosine_decay_restarts():
    s = S.CosineDecayRestarts(1.0, 2, t_mul=2.0, m_mul=0.5)
    # periods: [0, 2), [2, 6), [6, 14): each restart at half the previous peak
    assert s(0) == pytest.approx(1.0) and s(2) == pytest.approx(0.5) and s(6) == pytest.approx(0.25)
    assert s(4) == pytest.approx(0.5 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    flat = S.CosineDecayRestarts(1.0, 2, t_mul=1.0)
    assert flat(2) == pytest.approx(1.0) and flat(3) == pytest.approx(0.5)


@pytest.mark.parametrize("sched", [S.ExponentialDecay(0.1, 3, 0.5, staircase=True), S.PiecewiseConstantDecay([1], [1, 2]),
                                   S.PolynomialDecay(0.1, 5, cycle=True), S.InverseTimeDecay(0.1, 2, 0.3),
                                   S.CosineDecay(0.1, 5, warmup_target=0.2, warmup_steps=3),
                                   S.CosineDecayRestarts(0.1, 3, m_mul=0.8)])
def test_schedule_config_round_trip(sched):
    cfg = json.loads(json.dumps(S.serialize(sched)))
    again = S.deserialize(cfg)
    assert type(again) is type(sched) and again.get_config() == sched.get_config()
    assert [again(t) for t in range(9)] == [sched(t) for t in range(9)]
    assert sched(np.int64(3)) == sched(3)


def test_schedule_errors():
    with pytest.raises(ValueError, match="decay_steps` must be > 0"):
        S.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="first_decay_steps` must be > 0"):
        S.CosineDecayRestarts(0.1, -1)
    with pytest.raises(ValueError, match="unknown schedule"):
        S.deserialize({"class_name": "Nope", "config": {}})
    with pytest.raises(NotImplementedError, match="must override"):
        S.LearningRateSchedule()(0)
