"""Bidirectional and TimeDistributed: numerics against float64 numpy references (a SimpleRNN /
GRU forward and backward, Dense per time step), merge modes, return_state / initial_state,
masks, weights in Keras' order, the `weights=` argument, nested configs, save/load, gradients
and errors."""
import numpy as np
import pytest

import dptrain as dt
from dptrain import layers as L
from engine import gradcheck

MASK = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1], [1, 0, 0, 0, 0]], bool)


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def ref_simple(x, k, rk, b, backwards=False, mask=None, h0=None, zero_output=False):
    """Keras' SimpleRNN (tanh) loop in float64: (every step's output in processing order, last h)."""
    x = np.asarray(x, np.float64)
    n, t_len, _ = x.shape
    h = np.zeros((n, rk.shape[0])) if h0 is None else np.asarray(h0, np.float64)
    prev = np.zeros_like(h)
    outs = []
    for t in (range(t_len - 1, -1, -1) if backwards else range(t_len)):
        new = np.tanh(x[:, t] @ k + b + h @ rk)
        out = new
        if mask is not None:
            m = mask[:, t:t + 1]
            new = np.where(m, new, h)
            out = np.where(m, out, 0.0 if zero_output else prev)
        h, prev = new, out
        outs.append(out)
    return np.stack(outs, 1), h


def ref_gru(x, k, rk, b):
    """Keras' GRU (reset_after=True) forward loop in float64: every step's h."""
    x = np.asarray(x, np.float64)
    n, t_len, _ = x.shape
    u = rk.shape[0]
    h = np.zeros((n, u))
    outs = []
    for t in range(t_len):
        xz, hz = x[:, t] @ k + b[0], h @ rk + b[1]
        z, r = _sig(xz[:, :u] + hz[:, :u]), _sig(xz[:, u:2 * u] + hz[:, u:2 * u])
        hh = np.tanh(xz[:, 2 * u:] + r * hz[:, 2 * u:])
        h = z * h + (1 - z) * hh
        outs.append(h)
    return np.stack(outs, 1)


def _seeded(layer, x, rng, scale=0.5):
    layer(x)
    layer.set_weights([rng.standard_normal(w.shape).astype(np.float32) * scale for w in layer.get_weights()])
    return layer


def _x(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# --- Bidirectional ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("seq", [False, True])
def test_bidirectional_merge_modes_match_numpy(rng, mode, seq):
    x = _x(rng, 3, 5, 2)
    bi = _seeded(L.Bidirectional(L.SimpleRNN(4, return_sequences=seq), merge_mode=mode), x, rng)
    w = bi.get_weights()
    assert [a.shape for a in w] == [(2, 4), (4, 4), (4,)] * 2           # forward's, then backward's
    fwd, _ = ref_simple(x, *w[:3])
    bwd, _ = ref_simple(x, *w[3:], backwards=True)
    y, y_rev = (fwd, bwd[:, ::-1]) if seq else (fwd[:, -1], bwd[:, -1])   # the backward sequence back in time order
    want = {"concat": lambda: np.concatenate([y, y_rev], -1), "sum": lambda: y + y_rev, "mul": lambda: y * y_rev,
            "ave": lambda: (y + y_rev) / 2, None: lambda: (y, y_rev)}[mode]()
    got = bi(x)
    if mode is None:
        assert isinstance(got, tuple) and len(got) == 2
        for g, wv in zip(got, want):
            np.testing.assert_allclose(g.numpy(), wv, rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)
    shape = bi.compute_output_shape((None, 5, 2))
    want_shapes = [tuple(a.shape) for a in (want if mode is None else [want])]
    assert [s[1:] for s in (shape if mode is None else [shape])] == [s[1:] for s in want_shapes]


def test_bidirectional_return_state_and_initial_state(rng):
    x = _x(rng, 3, 5, 2)
    bi = _seeded(L.Bidirectional(L.SimpleRNN(4, return_sequences=True, return_state=True)), x, rng)
    w = bi.get_weights()
    h0 = [_x(rng, 3, 4), _x(rng, 3, 4)]
    out, h_f, h_b = bi(x, initial_state=h0)
    fwd, hf = ref_simple(x, *w[:3], h0=h0[0])
    bwd, hb = ref_simple(x, *w[3:], backwards=True, h0=h0[1])
    np.testing.assert_allclose(out.numpy(), np.concatenate([fwd, bwd[:, ::-1]], -1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h_f.numpy(), hf, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(h_b.numpy(), hb, rtol=1e-5, atol=1e-5)
    assert bi.compute_output_shape((None, 5, 2)) == [(None, 5, 8), (None, 4), (None, 4)]
    lstm = L.Bidirectional(L.LSTM(3, return_state=True), merge_mode=None)
    outs = lstm(x)
    assert len(outs) == 6 and [tuple(o.shape) for o in outs] == [(3, 3)] * 6
    assert lstm.compute_output_shape((None, 5, 2)) == [(None, 3)] * 6


def test_bidirectional_mask_zeroes_masked_sequence_steps(rng):
    x = _x(rng, 3, 5, 2)
    bi = _seeded(L.Bidirectional(L.SimpleRNN(3, return_sequences=True)), x, rng)
    w = bi.get_weights()
    assert bi.forward_layer.zero_output_for_mask and bi.backward_layer.zero_output_for_mask
    fwd, _ = ref_simple(x, *w[:3], mask=MASK, zero_output=True)
    bwd, _ = ref_simple(x, *w[3:], backwards=True, mask=MASK, zero_output=True)
    got = bi(x, mask=MASK).numpy()
    np.testing.assert_allclose(got, np.concatenate([fwd, bwd[:, ::-1]], -1), rtol=1e-5, atol=1e-5)
    assert not got[~MASK].any()
    assert bi.compute_mask(x, MASK) is MASK
    last = _seeded(L.Bidirectional(L.SimpleRNN(3)), x, rng)
    assert not last.forward_layer.zero_output_for_mask
    w = last.get_weights()
    fwd, _ = ref_simple(x, *w[:3], mask=MASK)
    bwd, _ = ref_simple(x, *w[3:], backwards=True, mask=MASK)
    np.testing.assert_allclose(last(x, mask=MASK).numpy(), np.concatenate([fwd[:, -1], bwd[:, -1]], -1),
                               rtol=1e-5, atol=1e-5)
    assert last.compute_mask(x, MASK) is None


def test_bidirectional_copies_the_layer_and_names_both_directions(rng):
    inner = L.GRU(3, name="enc")
    bi = L.Bidirectional(inner)
    assert bi.forward_layer is not inner and bi.backward_layer is not inner
    assert (bi.forward_layer.name, bi.backward_layer.name) == ("forward_enc", "backward_enc")
    assert (bi.forward_layer.go_backwards, bi.backward_layer.go_backwards) == (False, True)
    x = _x(rng, 2, 4, 5)
    _seeded(bi, x, rng)
    want = np.concatenate([ref_gru(x, *bi.get_weights()[:3])[:, -1],
                           ref_gru(x[:, ::-1], *bi.get_weights()[3:])[:, -1]], -1)
    np.testing.assert_allclose(bi(x).numpy(), want, rtol=1e-5, atol=1e-5)
    assert bi.count_params() == 2 * (5 * 9 + 3 * 9 + 2 * 9)


def test_bidirectional_given_backward_layer_and_weights_argument(rng):
    x = _x(rng, 2, 4, 3)
    back = L.SimpleRNN(2, go_backwards=True, name="back")
    bi = L.Bidirectional(L.LSTM(2), backward_layer=back)
    assert bi.backward_layer is back
    bi(x)
    assert [w.shape for w in bi.get_weights()] == [(3, 8), (2, 8), (8,), (3, 2), (2, 2), (2,)]
    weights = [rng.standard_normal(w.shape).astype(np.float32) for w in bi.get_weights()]
    again = L.Bidirectional(L.LSTM(2), backward_layer=L.SimpleRNN(2, go_backwards=True), weights=weights)
    again(x)
    for a, b in zip(again.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


def test_bidirectional_gradient(rng):
    x = rng.standard_normal((2, 4, 3))
    bi = _seeded(L.Bidirectional(L.GRU(2, return_sequences=True), merge_mode="mul"), x.astype(np.float32), rng)
    assert gradcheck(lambda t: bi(t), [x])


def test_bidirectional_config_round_trip_and_save_load(rng, tmp_path):
    bi = L.Bidirectional(L.LSTM(3, return_sequences=True, dropout=0.1), merge_mode="ave",
                         backward_layer=L.GRU(3, return_sequences=True, go_backwards=True, reset_after=False))
    config = bi.get_config()
    assert config["layer"]["class_name"] == "LSTM" and config["backward_layer"]["class_name"] == "GRU"
    assert config["merge_mode"] == "ave"
    again = L.Bidirectional.from_config(config)
    assert again.get_config() == config
    inp = dt.Input((4, 2))
    model = dt.Model(inp, L.Dense(1)(L.Bidirectional(L.SimpleRNN(2))(bi(inp))))
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in model.get_weights()])
    x = _x(rng, 3, 4, 2)
    path = str(tmp_path / "bi.dpt")
    dt.models.save_model(model, path)
    loaded = dt.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_bidirectional_trains_in_a_sequential_model(rng):
    m = dt.Sequential([dt.Input((5, 3)), L.Bidirectional(L.LSTM(3, return_sequences=True)),
                       L.Bidirectional(L.GRU(2), merge_mode="sum"), L.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    x, y = _x(rng, 8, 5, 3), _x(rng, 8, 1)
    before = m.get_weights()
    m.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert all((a != b).any() for a, b in zip(before, m.get_weights()))


def test_bidirectional_errors():
    with pytest.raises(ValueError, match=r"Bidirectional layer 'b'.*merge_mode"):
        L.Bidirectional(L.LSTM(2), merge_mode="max", name="b")
    with pytest.raises(ValueError, match=r"Bidirectional.*go_backwards"):
        L.Bidirectional(L.LSTM(2), backward_layer=L.LSTM(2))
    with pytest.raises(ValueError, match=r"Bidirectional.*return_sequences"):
        L.Bidirectional(L.LSTM(2), backward_layer=L.LSTM(2, go_backwards=True, return_sequences=True))
    with pytest.raises(ValueError, match=r"Bidirectional.*layer instance"):
        L.Bidirectional("lstm")
    with pytest.raises(ValueError, match=r"Bidirectional.*no 'go_backwards'"):
        L.Bidirectional(L.Dense(2))
    bi = L.Bidirectional(L.GRU(2))
    with pytest.raises(ValueError, match=r"Bidirectional.*even count"):
        bi(np.zeros((1, 3, 2), np.float32), initial_state=[np.zeros((1, 2), np.float32)])
    with pytest.raises(NotImplementedError, match="stateful"):
        L.Bidirectional(L.LSTM(2, stateful=True))


# --- TimeDistributed -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 5, 4), (2, 3, 4, 5)])
def test_time_distributed_dense_matches_numpy(rng, shape):
    x = _x(rng, *shape)
    td = _seeded(L.TimeDistributed(L.Dense(2, activation="tanh")), x, rng)
    k, b = td.get_weights()
    assert k.shape == (shape[-1], 2)
    np.testing.assert_allclose(td(x).numpy(), np.tanh(x.astype(np.float64) @ k + b), rtol=1e-5, atol=1e-6)
    assert td.compute_output_shape((None,) + shape[1:]) == (None,) + shape[1:-1] + (2,)


def test_time_distributed_sequence_layer_and_mask(rng):
    x = _x(rng, 2, 3, 5, 4)                    # [batch, time, inner time, features]
    td = _seeded(L.TimeDistributed(L.SimpleRNN(3)), x, rng)
    w = td.get_weights()
    want = np.stack([ref_simple(x[:, t], *w)[1] for t in range(3)], 1)
    np.testing.assert_allclose(td(x).numpy(), want, rtol=1e-5, atol=1e-5)
    mask = rng.random((2, 3, 5)) > 0.4
    mask[..., 0] = True
    want = np.stack([ref_simple(x[:, t], *w, mask=mask[:, t])[0][:, -1] for t in range(3)], 1)
    np.testing.assert_allclose(td(x, mask=mask).numpy(), want, rtol=1e-5, atol=1e-5)
    assert td.compute_mask(x, mask) is mask
    assert td.compute_output_shape((None, 3, 5, 4)) == (None, 3, 3)


def test_time_distributed_passes_training_to_its_layer(rng):
    x = np.ones((4, 6, 50), np.float32)
    td = L.TimeDistributed(L.Dropout(0.5))
    np.testing.assert_array_equal(td(x).numpy(), x)
    y = td(x, training=True).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and (y == 0).any()


def test_time_distributed_gradient(rng):
    x = rng.standard_normal((2, 3, 4))
    td = _seeded(L.TimeDistributed(L.Dense(3, activation="tanh")), x.astype(np.float32), rng)
    assert gradcheck(lambda t: td(t), [x])


def test_time_distributed_config_save_load_and_training(rng, tmp_path):
    td = L.TimeDistributed(L.Dense(3, activation="relu", name="inner"), name="td")
    config = td.get_config()
    assert config["layer"] == {"class_name": "Dense", "config": td.layer.get_config()}
    assert L.TimeDistributed.from_config(config).get_config() == config
    m = dt.Sequential([dt.Input((5, 4)), td, L.LSTM(2), L.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    x, y = _x(rng, 6, 5, 4), _x(rng, 6, 1)
    m.fit(x, y, epochs=1, verbose=0)
    path = str(tmp_path / "td.dpt")
    m.save(path)
    np.testing.assert_array_equal(dt.load_model(path).predict(x, verbose=0), m.predict(x, verbose=0))


def test_time_distributed_errors():
    with pytest.raises(ValueError, match=r"TimeDistributed layer 'td'.*layer instance"):
        L.TimeDistributed("dense", name="td")
    with pytest.raises(ValueError, match=r"TimeDistributed layer 'td'.*at least 3 axes"):
        L.TimeDistributed(L.Dense(2), name="td")(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"TimeDistributed.*mask must start with"):
        L.TimeDistributed(L.SimpleRNN(2))(np.zeros((2, 3, 4, 5), np.float32), mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match=r"TimeDistributed layer 'td'.*at least 3 axes"):
        L.TimeDistributed(L.Dense(2), name="td")(dt.Input((3,)))


def test_wrappers_are_public():
    assert dt.layers.Bidirectional is L.Bidirectional and dt.layers.TimeDistributed is L.TimeDistributed
    assert "SimpleRNN" in dt.layers.__all__ and "Bidirectional" in dt.layers.__all__
