"""SimpleRNN, LSTM and GRU with Keras 3's call semantics: return_state, go_backwards, initial_state,
mask (states carried over masked steps, outputs as Keras' backend.rnn), zero_output_for_mask,
dropout / recurrent_dropout (training only; Keras' masks), GRU reset_after=False; against a
float64 numpy reference of Keras' cell equations, plus gradients, the fused fast path, configs,
save/load and errors."""
import numpy as np
import pytest

import dptrain as dt
from dptrain import layers as L
from engine import gradcheck, ops
from engine.tensor import as_tensor

MASK = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1], [1, 0, 0, 0, 0]], bool)


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def _relu(z):
    return np.maximum(z, 0.0)


def ref_rnn(kind, x, weights, *, activation=np.tanh, go_backwards=False, mask=None, initial=None,
            zero_output_for_mask=False, reset_after=True, return_sequences=False, in_masks=None, rec_masks=None):
    """Keras' RNN loop over its cells in float64: (output, [states]). `in_masks` / `rec_masks`: one
    dropout mask (or one per gate) for the inputs / the recurrent state."""
    x = np.asarray(x, np.float64)
    k, rk = (np.asarray(w, np.float64) for w in weights[:2])
    b = np.asarray(weights[2], np.float64) if len(weights) > 2 else None
    n, t_len, _ = x.shape
    u = rk.shape[0]
    g = k.shape[1] // u
    states = [np.zeros((n, u)) for _ in range(2 if kind == "lstm" else 1)] if initial is None else \
        [np.asarray(s, np.float64) for s in initial]

    def gates_in(xt):
        ms = in_masks or [np.ones_like(xt)]
        ms = ms if len(ms) == g else ms * g
        z = np.concatenate([(xt * ms[j]) @ k[:, j * u:(j + 1) * u] for j in range(g)], axis=1)
        if b is not None:
            z = z + (b[0] if b.ndim == 2 else b)
        return z

    def rec(h, j0, j1):
        ms = rec_masks or [np.ones_like(h)]
        ms = ms if len(ms) == g else ms * g
        return np.concatenate([(h * ms[j]) @ rk[:, j * u:(j + 1) * u] for j in range(j0, j1)], axis=1)

    order = range(t_len - 1, -1, -1) if go_backwards else range(t_len)
    outs, prev = [], np.zeros((n, u))
    for t in order:
        zx = gates_in(x[:, t])
        if kind == "simple":
            h = activation(zx + rec(states[0], 0, 1))
            new = [h]
        elif kind == "lstm":
            h, c = states
            z = zx + rec(h, 0, 4)
            i, f, o = _sig(z[:, :u]), _sig(z[:, u:2 * u]), _sig(z[:, 3 * u:])
            c = f * c + i * activation(z[:, 2 * u:3 * u])
            h = o * activation(c)
            new = [h, c]
        else:
            h = states[0]
            if reset_after:
                inner = rec(h, 0, 3) + (b[1] if b is not None else 0.0)
                z = _sig(zx[:, :u] + inner[:, :u])
                r = _sig(zx[:, u:2 * u] + inner[:, u:2 * u])
                hh = activation(zx[:, 2 * u:] + r * inner[:, 2 * u:])
            else:
                inner = rec(h, 0, 2)
                z = _sig(zx[:, :u] + inner[:, :u])
                r = _sig(zx[:, u:2 * u] + inner[:, u:2 * u])
                hm = h * (rec_masks[2] if rec_masks else 1.0)
                hh = activation(zx[:, 2 * u:] + (r * hm) @ rk[:, 2 * u:])
            h = z * h + (1 - z) * hh
            new = [h]
        out = new[0]
        if mask is not None:
            m = mask[:, t:t + 1]
            new = [np.where(m, s, s_old) for s, s_old in zip(new, states)]
            out = np.where(m, out, 0.0 if zero_output_for_mask else prev)
        states, prev = new, out
        outs.append(out)
    return (np.stack(outs, 1) if return_sequences else prev), states


CLASSES = {"simple": L.SimpleRNN, "lstm": L.LSTM, "gru": L.GRU}


def _layer(kind, rng, x, units=4, **kw):
    layer = CLASSES[kind](units, **kw)
    layer(x)
    layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in layer.get_weights()])
    return layer


def _initial(kind, rng, n, u):
    return [rng.standard_normal((n, u)).astype(np.float32) for _ in range(2 if kind == "lstm" else 1)]


CONFIGS = [
    ({}, {}),
    ({"return_sequences": True}, {}),
    ({"go_backwards": True, "return_sequences": True}, {}),
    ({"go_backwards": True}, {"mask": True}),
    ({"return_sequences": True}, {"mask": True}),
    ({"return_sequences": True}, {"mask": True, "initial": True}),
    ({"return_sequences": True, "zero_output_for_mask": True}, {"mask": True, "initial": True}),
    ({"return_sequences": True, "go_backwards": True}, {"initial": True}),
    ({"activation": "relu", "return_sequences": True}, {"initial": True}),
    ({"use_bias": False}, {"mask": True}),
    ({"unroll": True, "return_sequences": True}, {}),
]


@pytest.mark.parametrize("kind", sorted(CLASSES))
@pytest.mark.parametrize("kw,call", CONFIGS, ids=[f"{sorted(a)}-{sorted(b)}" for a, b in CONFIGS])
def test_forward_matches_keras_equations(rng, kind, kw, call):
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    layer = _layer(kind, rng, x, return_state=True, **kw)
    init = _initial(kind, rng, 3, 4) if call.get("initial") else None
    args = {}
    if call.get("mask"):
        args["mask"] = MASK
    if init is not None:
        args["initial_state"] = init
    got = layer(x, **args)
    assert isinstance(got, tuple) and len(got) == (3 if kind == "lstm" else 2)
    act = _relu if kw.get("activation") == "relu" else np.tanh
    want, states = ref_rnn(kind, x, layer.get_weights(), activation=act, go_backwards=kw.get("go_backwards", False),
                           mask=MASK if call.get("mask") else None, initial=init,
                           zero_output_for_mask=kw.get("zero_output_for_mask", False),
                           return_sequences=kw.get("return_sequences", False))
    for g, w in zip(got, [want] + states):
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("call", [{}, {"mask": True}, {"initial": True, "backwards": True}])
def test_gru_reset_after_false_matches_the_classic_equations(rng, call):
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    layer = _layer("gru", rng, x, reset_after=False, return_sequences=True, return_state=True,
                   go_backwards=bool(call.get("backwards")))
    assert [w.shape for w in layer.get_weights()] == [(2, 12), (4, 12), (12,)]
    init = _initial("gru", rng, 3, 4) if call.get("initial") else None
    out, h = layer(x, mask=MASK if call.get("mask") else None, initial_state=init)
    want, states = ref_rnn("gru", x, layer.get_weights(), reset_after=False, mask=MASK if call.get("mask") else None,
                           initial=init, go_backwards=bool(call.get("backwards")), return_sequences=True)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h.numpy(), states[0], rtol=1e-5, atol=1e-5)


def test_simple_rnn_weights_in_keras_order():
    layer = L.SimpleRNN(3)
    layer(np.zeros((1, 2, 5), np.float32))
    assert [w.name.split("/")[-1] for w in layer.weights] == ["kernel", "recurrent_kernel", "bias"]
    assert [w.shape for w in layer.get_weights()] == [(5, 3), (3, 3), (3,)]
    k, rk, b = layer.get_weights()
    np.testing.assert_allclose(rk @ rk.T, np.eye(3), atol=1e-5)      # orthogonal
    assert not b.any()
    assert layer.count_params() == 15 + 9 + 3


def test_a_mask_of_only_real_steps_equals_no_mask(rng):
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    for kind in CLASSES:
        layer = _layer(kind, rng, x, return_sequences=True)
        np.testing.assert_array_equal(layer(x, mask=np.ones((3, 5), bool)).numpy(), layer(x).numpy())
        full = layer(x).numpy()
        masked = layer(x, mask=MASK).numpy()
        assert np.abs(full - masked).max() > 1e-3


def test_mask_as_a_tensor_and_with_a_trailing_axis(rng):
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    layer = _layer("lstm", rng, x, return_sequences=True)
    want = layer(x, mask=MASK).numpy()
    np.testing.assert_array_equal(layer(x, mask=as_tensor(MASK.astype(np.float32))).numpy(), want)
    np.testing.assert_array_equal(layer(x, mask=MASK[..., None]).numpy(), want)


# --- the fused fast path -------------------------------------------------------------------------------
@pytest.fixture
def spy(monkeypatch):
    calls = []
    for name in ("lstm", "gru"):
        real = getattr(ops, name)

        def wrapper(*a, _real=real, _name=name, **k):
            calls.append(_name)
            return _real(*a, **k)
        monkeypatch.setattr(ops, name, wrapper)
    return calls


@pytest.mark.parametrize("kind,kw,call,fused", [
    ("lstm", {}, {}, True),
    ("lstm", {"go_backwards": True, "return_sequences": True}, {"initial": True}, True),
    ("lstm", {"dropout": 0.5}, {"training": True}, True),          # input dropout: applied to x, then fused
    ("lstm", {"return_state": True}, {}, False),                   # the fused op has no final cell state
    ("lstm", {}, {"mask": True}, False),
    ("lstm", {"recurrent_dropout": 0.5}, {"training": True}, False),
    ("lstm", {"recurrent_dropout": 0.5}, {}, True),                # inference: no dropout at all
    ("lstm", {"activation": "relu"}, {}, False),
    ("gru", {"return_state": True, "go_backwards": True}, {"initial": True}, True),
    ("gru", {"reset_after": False}, {}, False),
    ("gru", {}, {"mask": True}, False),
])
def test_the_plain_case_runs_one_fused_op(rng, spy, kind, kw, call, fused):
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    layer = _layer(kind, rng, x, **kw)
    spy.clear()
    args = {"training": call.get("training", False)}
    if call.get("mask"):
        args["mask"] = MASK
    if call.get("initial"):
        args["initial_state"] = _initial(kind, rng, 3, 4)
    layer(x, **args)
    assert spy == ([kind] if fused else [])


def test_fused_and_loop_paths_agree(rng):
    """LSTM without return_state is fused; with it, the loop: the same output."""
    x = rng.standard_normal((3, 6, 2)).astype(np.float32)
    init = _initial("lstm", rng, 3, 4)
    for kw in ({}, {"return_sequences": True, "go_backwards": True}):
        a = _layer("lstm", np.random.default_rng(5), x, **kw)
        b = _layer("lstm", np.random.default_rng(5), x, return_state=True, **kw)
        np.testing.assert_allclose(a(x, initial_state=init).numpy(), b(x, initial_state=init)[0].numpy(),
                                   rtol=1e-5, atol=1e-6)


# --- gradients (float64) ----------------------------------------------------------------------------------
def _with_weights(layer, arrays):
    """Make `layer` compute with the given (float64 param) weights, bypassing attribute tracking."""
    for name, a in zip(("kernel", "recurrent_kernel", "bias"), arrays):
        object.__setattr__(layer, name, a)


GRAD_CASES = [
    ("simple", {"return_sequences": True}, {"mask": True}),
    ("simple", {"go_backwards": True}, {"initial": True}),
    ("lstm", {"return_state": True, "return_sequences": True}, {"mask": True, "initial": True}),
    ("lstm", {"go_backwards": True, "return_sequences": True}, {"initial": True}),       # fused, reversed
    ("gru", {"go_backwards": True}, {"mask": True}),
    ("gru", {"return_sequences": True}, {"initial": True}),                              # fused
    ("gru", {"reset_after": False, "return_sequences": True}, {"mask": True, "initial": True}),
]


@pytest.mark.parametrize("kind,kw,call", GRAD_CASES, ids=[f"{k}-{sorted(a)}-{sorted(b)}" for k, a, b in GRAD_CASES])
def test_gradients_match_finite_differences(rng, kind, kw, call):
    x = rng.standard_normal((3, 5, 2))
    layer = _layer(kind, rng, x.astype(np.float32), units=3, **kw)
    weights = [w.astype(np.float64) for w in layer.get_weights()]
    init = [s.astype(np.float64) for s in _initial(kind, rng, 3, 3)] if call.get("initial") else []
    mask = MASK if call.get("mask") else None

    def fn(xt, *rest):
        _with_weights(layer, rest[:3])
        out = layer.call(xt, initial_state=list(rest[3:]) or None, mask=mask)
        if isinstance(out, tuple):
            out = ops.concat([ops.reshape(o, (3, -1)) for o in out], axis=1)
        return out
    assert gradcheck(fn, [x] + weights + init)


def test_gradients_with_recurrent_dropout_masks(rng):
    """Training with dropout: the gradient is that of the masked network (masks fixed by the seed)."""
    x = rng.standard_normal((2, 4, 3))
    for kind in CLASSES:
        layer = _layer(kind, rng, x.astype(np.float32), units=3, dropout=0.3, recurrent_dropout=0.4, seed=7)
        weights = [w.astype(np.float64) for w in layer.get_weights()]

        def fn(xt, *ws):
            _with_weights(layer, ws)
            layer._own_rng = np.random.default_rng(7)         # the same masks at every evaluation
            return layer.call(xt, training=True)
        assert gradcheck(fn, [x] + weights)


# --- dropout --------------------------------------------------------------------------------------------
def _linear_simple_rnn(units, **kw):
    """SimpleRNN with a linear activation, identity kernel and zero recurrent kernel (or the reverse)."""
    return L.SimpleRNN(units, activation=None, use_bias=False, **kw)


def test_input_dropout_mask_is_one_per_sequence(rng):
    layer = _linear_simple_rnn(6, dropout=0.5, return_sequences=True)
    x = np.ones((40, 5, 6), np.float32)
    layer(x)
    layer.set_weights([np.eye(6, dtype=np.float32), np.zeros((6, 6), np.float32)])
    y = layer(x, training=True).numpy()                       # y_t = x_t * mask
    assert set(np.unique(y)) <= {0.0, 2.0}
    np.testing.assert_array_equal(y, np.broadcast_to(y[:, :1], y.shape))      # the same mask at every step
    assert 0.3 < (y == 0).mean() < 0.7
    y2 = layer(x, training=True).numpy()
    assert (y2 != y).any()                                     # a fresh mask at every call
    np.testing.assert_array_equal(layer(x).numpy(), x)         # inference: no dropout
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)


def test_recurrent_dropout_mask_is_one_per_sequence(rng):
    layer = _linear_simple_rnn(6, recurrent_dropout=0.5, return_sequences=True)
    x = np.zeros((40, 4, 6), np.float32)
    layer(x)
    layer.set_weights([np.zeros((6, 6), np.float32), np.eye(6, dtype=np.float32)])
    h0 = np.ones((40, 6), np.float32)
    y = layer(x, training=True, initial_state=h0).numpy()     # h_t = h_{t-1} * mask = mask ** t
    m = y[:, 0]
    assert set(np.unique(m)) <= {0.0, 2.0}
    for t in range(4):
        np.testing.assert_allclose(y[:, t], m ** (t + 1))


def test_dropout_expectation_is_the_inference_output(rng):
    """Inverted dropout: averaged over many masks, a linear RNN's output is its inference output."""
    layer = L.SimpleRNN(3, activation=None, dropout=0.3, return_sequences=True)
    x = rng.standard_normal((1, 4, 5)).astype(np.float32)
    layer(x)
    xs = np.repeat(x, 4000, axis=0)
    mean = layer(xs, training=True).numpy().mean(axis=0)
    np.testing.assert_allclose(mean, layer(x).numpy()[0], rtol=0.05, atol=0.05)


def test_dropout_per_gate_masks_with_recurrent_dropout(rng):
    """Keras' implementation 1: with recurrent_dropout, one input and one state mask per gate."""
    counts = []
    for kind, gates in (("lstm", 4), ("gru", 3), ("simple", 1)):
        layer = _layer(kind, rng, np.zeros((2, 3, 5), np.float32), units=2, dropout=0.2, recurrent_dropout=0.2)
        real = layer._dropout_masks

        def record(rate, shape, count, like, _real=real):
            counts.append((tuple(shape), count))
            return _real(rate, shape, count, like)
        object.__setattr__(layer, "_dropout_masks", record)
        counts.clear()
        layer(np.zeros((2, 3, 5), np.float32), training=True)
        assert counts == [((2, 5), gates), ((2, 2), gates)]
    layer = _layer("lstm", rng, np.zeros((2, 3, 5), np.float32), units=2, dropout=0.2)
    real = layer._dropout_masks
    object.__setattr__(layer, "_dropout_masks", lambda *a: counts.append(a[1:3]) or real(*a))
    counts.clear()
    layer(np.zeros((2, 3, 5), np.float32), training=True)
    assert counts == [((2, 5), 1)]                  # implementation 2: one mask for every gate


def test_seeded_dropout_is_reproducible(rng):
    x = rng.standard_normal((4, 5, 3)).astype(np.float32)
    a = _layer("gru", np.random.default_rng(1), x, dropout=0.5, recurrent_dropout=0.5, seed=3)
    b = _layer("gru", np.random.default_rng(1), x, dropout=0.5, recurrent_dropout=0.5, seed=3)
    np.testing.assert_array_equal(a(x, training=True).numpy(), b(x, training=True).numpy())


def test_dropout_trains_in_fit(rng):
    m = dt.Sequential([dt.Input((5, 3)), L.LSTM(4, dropout=0.3, recurrent_dropout=0.3), L.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    x, y = rng.standard_normal((8, 5, 3)).astype(np.float32), rng.standard_normal((8, 1)).astype(np.float32)
    before = m.get_weights()
    m.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert all(np.isfinite(w).all() for w in m.get_weights())
    assert any((a != b).any() for a, b in zip(before, m.get_weights()))


# --- shapes, masks out, configs, saving ---------------------------------------------------------------------
def test_symbolic_shapes_and_compute_mask():
    inp = dt.Input((None, 3))
    o, h, c = L.LSTM(4, return_state=True, return_sequences=True)(inp)
    assert (o.shape, h.shape, c.shape) == ((None, None, 4), (None, 4), (None, 4))
    o, h = L.GRU(2, return_state=True)(inp)
    assert (o.shape, h.shape) == ((None, 2), (None, 2))
    assert L.SimpleRNN(5)(inp).shape == (None, 5)
    layer = L.SimpleRNN(2, return_sequences=True)
    layer(np.zeros((3, 5, 3), np.float32))
    assert layer.compute_mask(None, MASK) is MASK
    assert layer.compute_mask(None, None) is None
    layer = L.LSTM(2, return_state=True)
    layer(np.zeros((3, 5, 3), np.float32))
    assert layer.compute_mask(None, MASK) == [None, None, None]


@pytest.mark.parametrize("make", [
    lambda: L.SimpleRNN(3, activation="relu", dropout=0.25, recurrent_dropout=0.5, return_state=True,
                        go_backwards=True, unroll=True, seed=4),
    lambda: L.LSTM(3, unit_forget_bias=False, return_sequences=True, dropout=0.1, use_cudnn=False),
    lambda: L.GRU(3, reset_after=False, use_bias=False, zero_output_for_mask=True, recurrent_dropout=0.2),
], ids=["simple_rnn", "lstm", "gru"])
def test_config_round_trip(make):
    layer = make()
    config = layer.get_config()
    again = type(layer).from_config(config)
    assert again.get_config() == config
    for key in ("return_state", "go_backwards", "stateful", "unroll", "zero_output_for_mask", "dropout",
                "recurrent_dropout", "seed"):
        assert key in config


def test_keras_config_keys_are_accepted():
    cfg = {"name": "g", "trainable": True, "return_sequences": False, "return_state": False, "go_backwards": False,
           "stateful": False, "unroll": False, "zero_output_for_mask": False, "units": 3, "activation": "tanh",
           "recurrent_activation": "sigmoid", "use_bias": True, "dropout": 0.0, "recurrent_dropout": 0.0,
           "reset_after": True, "seed": None}
    assert L.GRU.from_config(cfg).units == 3


@pytest.mark.parametrize("make", [
    lambda: L.SimpleRNN(3, return_sequences=True, go_backwards=True),
    lambda: L.LSTM(3, return_sequences=True, dropout=0.2, recurrent_dropout=0.2),
    lambda: L.GRU(3, reset_after=False, return_sequences=True),
], ids=["simple_rnn", "lstm", "gru_classic"])
def test_save_load_round_trip(rng, tmp_path, make):
    inp = dt.Input((5, 2))
    model = dt.Model(inp, L.Dense(1)(L.Flatten()(make()(inp))))
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in model.get_weights()])
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    path = str(tmp_path / "m.dpt")
    dt.models.save_model(model, path)
    again = dt.models.load_model(path)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_functional_return_state_trains_and_saves(rng, tmp_path):
    inp = dt.Input((5, 2))
    out, h, c = L.LSTM(3, return_state=True)(inp)
    model = dt.Model(inp, L.Dense(1)(L.Concatenate()([out, h, c])))
    model.compile(optimizer="sgd", loss="mse")
    x, y = rng.standard_normal((6, 5, 2)).astype(np.float32), rng.standard_normal((6, 1)).astype(np.float32)
    model.fit(x, y, epochs=1, verbose=0)
    path = str(tmp_path / "m.dpt")
    model.save(path)
    np.testing.assert_array_equal(dt.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0))


# --- errors ------------------------------------------------------------------------------------------------
def test_stateful_raises_not_implemented_naming_it():
    for cls in CLASSES.values():
        with pytest.raises(NotImplementedError, match=r"layer 'r'.*stateful=True"):
            cls(2, stateful=True, name="r")
    with pytest.raises(NotImplementedError, match="time_major"):
        L.LSTM(2, time_major=True)


@pytest.mark.parametrize("kw,match", [
    ({"dropout": 1.5}, r"GRU layer 'g'.*dropout"),
    ({"recurrent_dropout": -0.1}, r"GRU layer 'g'.*recurrent_dropout"),
    ({"seed": -1}, r"GRU layer 'g'.*seed"),
    ({"use_cudnn": "yes"}, r"GRU layer 'g'.*use_cudnn"),
    ({"implementation": 3}, r"GRU layer 'g'.*implementation"),
])
def test_argument_errors_name_the_layer(kw, match):
    with pytest.raises(ValueError, match=match):
        L.GRU(2, name="g", **kw)


def test_call_errors_name_the_layer(rng):
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    lstm = _layer("lstm", rng, x, units=4)
    with pytest.raises(ValueError, match=r"LSTM layer.*initial_state must be \[h, c\]"):
        lstm(x, initial_state=[np.zeros((3, 4), np.float32)])
    with pytest.raises(ValueError, match=r"LSTM layer.*initial state has shape \(3, 5\)"):
        lstm(x, initial_state=[np.zeros((3, 5), np.float32)] * 2)
    with pytest.raises(ValueError, match=r"LSTM layer.*mask must have shape \(batch, time\) = \(3, 5\)"):
        lstm(x, mask=np.ones((3, 4), bool))
    with pytest.raises(TypeError, match="unexpected keyword"):
        L.SimpleRNN(2, recurrent_activation="sigmoid")


# --- the Vulkan backend --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vulkan():
    import os
    from engine.device import vulkan_unavailable_reason
    reason = vulkan_unavailable_reason()
    if reason:
        if os.environ.get("DPTRAIN_REQUIRE_VULKAN") == "1":
            pytest.fail(f"Vulkan unavailable: {reason} (DPTRAIN_REQUIRE_VULKAN=1)")
        pytest.skip(f"Vulkan unavailable: {reason}")
    from engine.backend.vulkan import open_backend
    return open_backend(int(os.environ.get("DPTRAIN_TEST_VULKAN_DEVICE", "0")))


@pytest.mark.parametrize("make,call", [
    (lambda: L.LSTM(3, return_sequences=True, go_backwards=True), {"initial": True}),     # fused, reversed
    (lambda: L.LSTM(3, return_state=True, return_sequences=True), {"mask": True}),
    (lambda: L.GRU(3, reset_after=False, return_sequences=True), {"mask": True}),
    (lambda: L.SimpleRNN(3, return_sequences=True, go_backwards=True), {"mask": True}),
], ids=["lstm_fused_backwards", "lstm_state_mask", "gru_classic_mask", "simple_rnn_mask"])
def test_vulkan_matches_numpy_forward_and_backward(rng, vulkan, make, call):
    from engine import backend
    from engine.autograd import backward, grad_tape
    x = rng.standard_normal((3, 5, 2)).astype(np.float32)
    init = [rng.standard_normal((3, 3)).astype(np.float32) for _ in range(2)] if call.get("initial") else None
    results = []
    for be in (None, vulkan):
        prev = backend.current
        if be is not None:
            backend.set_current(be)
        try:
            layer = make()
            layer(x)
            layer.set_weights([np.random.default_rng(1).standard_normal(w.shape).astype(np.float32) * 0.5
                               for w in layer.get_weights()])
            with grad_tape():
                out = layer(x, mask=MASK if call.get("mask") else None, initial_state=init)
                out = out[0] if isinstance(out, tuple) else out
                loss = ops.sum(ops.mul(out, out))
            grads = backward(loss)                   # {weight name: numpy array}
            results.append([out.numpy()] + [np.asarray(grads[w.name]) for w in layer.weights])
        finally:
            backend.set_current(prev)
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def test_activity_regularizer_with_return_state_penalises_every_output(rng):
    x = rng.standard_normal((3, 4, 2)).astype(np.float32)
    layer = _layer("lstm", rng, x, units=3, return_state=True, return_sequences=True,
                   activity_regularizer=dt.regularizers.L2(0.1))
    outs = layer(x)
    got = [float(p.numpy()) for p in layer.regularization_losses()]
    want = [0.1 * (o.numpy().astype(np.float64) ** 2).sum() / 3 for o in outs]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    plain = _layer("gru", rng, x, units=3, activity_regularizer=dt.regularizers.L2(0.1))
    y = plain(x).numpy().astype(np.float64)
    np.testing.assert_allclose([float(p.numpy()) for p in plain.regularization_losses()],
                               [0.1 * (y ** 2).sum() / 3], rtol=1e-5)
