"""LSTM and GRU: shapes, initialisation, gradchecks, torch parity (including initial states)."""
import numpy as np
import pytest

from dptrain import ag
from module_gradcheck_helpers import module_gradcheck

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("cls", [ag.LSTM, ag.GRU])
def test_output_shapes(cls):
    x = RNG.standard_normal((2, 5, 3)).astype(np.float32)
    assert cls(3, 4)(x).shape == (2, 4)
    seq = cls(3, 4, return_sequences=True)
    out = seq(x)
    assert out.shape == (2, 5, 4) and out.dtype == np.float32
    last = cls(3, 4)
    last.load_state_dict(seq.state_dict())
    np.testing.assert_array_equal(out.numpy()[:, -1], last(x).numpy())


@pytest.mark.parametrize("cls,gates", [(ag.LSTM, 4), (ag.GRU, 3)])
def test_initialisation(cls, gates):
    ag.manual_seed(0)
    m = cls(6, 5)
    H = 5
    assert m.weight_ih.shape == (6, gates * H) and m.weight_hh.shape == (H, gates * H)
    w = m.weight_hh.numpy()
    for k in range(gates):                       # each gate's recurrent block is orthogonal
        blk = w[:, k * H:(k + 1) * H].astype(np.float64)
        np.testing.assert_allclose(blk @ blk.T, np.eye(H), atol=1e-5)
    assert np.abs(m.weight_ih.numpy()).max() <= np.sqrt(6 / (6 + gates * H))
    if cls is ag.LSTM:
        np.testing.assert_array_equal(m.bias.numpy(), np.r_[np.zeros(H), np.ones(H), np.zeros(2 * H)])


def test_lstm_gradcheck_sequences():
    m = ag.LSTM(3, 2, return_sequences=True, dtype=np.float64)
    m.load_state_dict({"bias": RNG.standard_normal(8)}, strict=False)
    assert module_gradcheck(m, [RNG.standard_normal((2, 3, 3))], m)


def test_lstm_gradcheck_initial_state():
    m = ag.LSTM(2, 2, dtype=np.float64)
    x = RNG.standard_normal((2, 2, 2))
    assert module_gradcheck(m, [x, RNG.standard_normal((2, 2)), RNG.standard_normal((2, 2))],
                            lambda x, h, c: m(x, initial_state=(h, c)))


def test_gru_gradcheck_sequences():
    m = ag.GRU(3, 2, return_sequences=True, dtype=np.float64)
    m.load_state_dict({"bias_ih": RNG.standard_normal(6), "bias_hh": RNG.standard_normal(6)}, strict=False)
    assert module_gradcheck(m, [RNG.standard_normal((2, 3, 3))], m)


def test_gru_gradcheck_initial_state():
    m = ag.GRU(2, 2, dtype=np.float64)
    x = RNG.standard_normal((2, 2, 2))
    assert module_gradcheck(m, [x, RNG.standard_normal((2, 2))], lambda x, h: m(x, initial_state=h))


def _copy_to_torch(m, t, torch):
    sd = m.state_dict()
    with torch.no_grad():
        t.weight_ih_l0.copy_(torch.from_numpy(sd["weight_ih"].T))
        t.weight_hh_l0.copy_(torch.from_numpy(sd["weight_hh"].T))
        if "bias" in sd:                      # LSTM: one bias; torch has two, so the second is zero
            t.bias_ih_l0.copy_(torch.from_numpy(sd["bias"]))
            t.bias_hh_l0.zero_()
        else:
            t.bias_ih_l0.copy_(torch.from_numpy(sd["bias_ih"]))
            t.bias_hh_l0.copy_(torch.from_numpy(sd["bias_hh"]))


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_matches_torch(kind):
    torch = pytest.importorskip("torch")
    F, H, B, T = 3, 4, 2, 6
    m = getattr(ag, kind)(F, H, return_sequences=True, dtype=np.float64)
    for n, p in m.parameters().items():
        if "bias" in n:
            m.load_state_dict({n: RNG.standard_normal(p.shape)}, strict=False)
    t = getattr(torch.nn, kind)(F, H, batch_first=True).double()
    _copy_to_torch(m, t, torch)
    x = RNG.standard_normal((B, T, F))
    h0, c0 = RNG.standard_normal((B, H)), RNG.standard_normal((B, H))
    xt = torch.from_numpy(x)
    if kind == "LSTM":
        ref, _ = t(xt, (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None]))
        state = (h0, c0)
        ref0, _ = t(xt)
    else:
        ref, _ = t(xt, torch.from_numpy(h0)[None])
        state = h0
        ref0, _ = t(xt)
    np.testing.assert_allclose(m(x, initial_state=state).numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(m(x).numpy(), ref0.detach().numpy(), rtol=1e-10, atol=1e-12)

    w = RNG.standard_normal((B, T, H))
    with ag.grad_tape():
        loss = ag.sum(m(x) * w)
    grads = ag.backward(loss)
    (ref0 * torch.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(grads[m.weight_ih.name], t.weight_ih_l0.grad.numpy().T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(grads[m.weight_hh.name], t.weight_hh_l0.grad.numpy().T, rtol=1e-9, atol=1e-12)


def test_learns_to_remember_the_first_token():
    """A sequence task a feed-forward model on the last step cannot solve: output x[:, 0]."""
    ag.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.choice([-1.0, 1.0], size=(64, 6, 1)).astype(np.float32)
    y = x[:, 0]
    for cls in (ag.LSTM, ag.GRU):
        model = ag.Sequential(cls(1, 8), ag.Linear(8, 1))
        opt = ag.optim.Adam(model.parameters(), lr=0.03)
        for _ in range(150):
            with ag.grad_tape():
                loss = ag.mse_loss(model(x), y)
            opt.step(ag.backward(loss))
        assert loss.item() < 0.05, (cls.__name__, loss.item())


def test_errors_name_the_module():
    m = ag.LSTM(3, 4)
    with pytest.raises(ValueError, match=r"LSTM 'lstm\d+': expected input \[batch, time, 3\], got shape \(2, 3\)"):
        m(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="initial h0 must have shape"):
        ag.GRU(3, 4)(np.zeros((2, 5, 3), np.float32), initial_state=np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"pair \(h0, c0\)"):
        m(np.zeros((2, 5, 3), np.float32), initial_state=np.zeros((2, 4)))
