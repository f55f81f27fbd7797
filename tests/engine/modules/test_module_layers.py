"""Linear, Dropout and Embedding: values against numpy, initialisation, errors."""
import math

import numpy as np
import pytest

from dptrain import ag

RNG = np.random.default_rng(0)


# --- Linear -----------------------------------------------------------------------
def test_linear_forward_matches_numpy():
    m = ag.Linear(5, 3, activation="relu")
    x = RNG.standard_normal((4, 5)).astype(np.float32)
    m.load_state_dict({"weight": RNG.standard_normal((5, 3)), "bias": RNG.standard_normal(3)})
    expected = np.maximum(x @ m.weight.numpy() + m.bias.numpy(), 0)
    np.testing.assert_allclose(m(x).numpy(), expected, rtol=1e-6, atol=1e-6)
    assert m.weight.shape == (5, 3) and m(x).dtype == np.float32


def test_linear_batched_3d_input_and_no_bias():
    m = ag.Linear(4, 2, bias=False)
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    assert list(m.parameters()) == ["weight"]
    np.testing.assert_allclose(m(x).numpy(), x @ m.weight.numpy(), rtol=1e-6)


def test_linear_gradients_match_numpy():
    m = ag.Linear(3, 2, activation="tanh", dtype=np.float64)
    x = RNG.standard_normal((6, 3))
    with ag.grad_tape():
        y = m(x)
        loss = ag.sum(y * y)
    grads = ag.backward(loss)
    yv = np.tanh(x @ m.weight.numpy() + m.bias.numpy())
    gz = 2 * yv * (1 - yv ** 2)
    np.testing.assert_allclose(grads[m.weight.name], x.T @ gz, rtol=1e-10)
    np.testing.assert_allclose(grads[m.bias.name], gz.sum(0), rtol=1e-10)


def test_linear_gradcheck():
    m = ag.Linear(3, 2, activation="sigmoid", dtype=np.float64)

    def fn(x, w, b):
        m.weight, m.bias = w, b
        return m(x)

    assert ag.gradcheck(fn, [RNG.standard_normal((4, 3)), RNG.standard_normal((3, 2)), RNG.standard_normal(2)])


def test_linear_glorot_uniform_init():
    ag.manual_seed(0)
    m = ag.Linear(300, 200)
    w = m.weight.numpy()
    limit = math.sqrt(6 / 500)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    assert abs(w.std() - limit / math.sqrt(3)) < 0.01 * limit
    assert abs(w.mean()) < 0.01 * limit
    assert not m.bias.numpy().any()


def test_linear_keeps_float64():
    m = ag.Linear(2, 2, dtype=np.float64)
    assert m.weight.dtype == np.float64 and m(np.ones((1, 2))).dtype == np.float64


def test_linear_errors_name_the_module():
    m = ag.Linear(3, 2)
    with pytest.raises(ValueError, match=r"Linear 'linear\d+'.*3 features.*\(4, 5\)"):
        m(np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match="unknown activation 'relux'"):
        ag.Linear(3, 2, activation="relux")
    with pytest.raises(ValueError, match="out_features must be a positive integer"):
        ag.Linear(3, 0)


def test_linear_callable_activation():
    m = ag.Linear(2, 2, activation=lambda t: t * 2.0)
    x = np.ones((1, 2), np.float32)
    np.testing.assert_allclose(m(x).numpy(), 2 * (x @ m.weight.numpy()), rtol=1e-6)


def test_linear_matches_torch():
    torch = pytest.importorskip("torch")
    m = ag.Linear(5, 4, activation="gelu", dtype=np.float64)
    t = torch.nn.Linear(5, 4).double()
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(m.weight.numpy().T))
        t.bias.copy_(torch.from_numpy(RNG.standard_normal(4)))
    m.load_state_dict({"weight": m.weight.numpy(), "bias": t.bias.detach().numpy()})
    x = RNG.standard_normal((3, 5))
    ref = torch.nn.functional.gelu(t(torch.from_numpy(x)), approximate="tanh")
    np.testing.assert_allclose(m(x).numpy(), ref.detach().numpy(), rtol=1e-12)


# --- Dropout ----------------------------------------------------------------------
def test_dropout_statistics_and_scale():
    ag.manual_seed(0)
    d = ag.Dropout(0.3)
    x = np.ones(200_000, np.float32)
    y = d(x).numpy()
    zero_frac = float((y == 0).mean())
    assert abs(zero_frac - 0.3) < 0.005          # binomial std is 0.001
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.01             # inverted dropout keeps the mean


def test_dropout_fresh_mask_per_call_and_identity_in_eval():
    d = ag.Dropout(0.5)
    x = np.ones((64, 64), np.float32)
    a, b = d(x).numpy(), d(x).numpy()
    assert not np.array_equal(a, b)
    d.eval()
    np.testing.assert_array_equal(d(x).numpy(), x)


def test_dropout_gradient_uses_the_mask():
    d = ag.Dropout(0.25)
    w = ag.param(np.ones((50, 40)))
    with ag.grad_tape():
        y = d(w)
        loss = ag.sum(y)
    g = ag.backward(loss)[w.name]
    np.testing.assert_allclose(g, y.numpy(), rtol=1e-12)   # d(sum(mask * w))/dw = mask = y for w = 1


def test_dropout_reproducible_and_validated():
    ag.manual_seed(3)
    a = ag.Dropout(0.5)(np.ones(100, np.float32)).numpy()
    ag.manual_seed(3)
    b = ag.Dropout(0.5)(np.ones(100, np.float32)).numpy()
    np.testing.assert_array_equal(a, b)
    for p in (1.0, -0.1, "0.5"):
        with pytest.raises(ValueError, match="Dropout: p must be"):
            ag.Dropout(p)


# --- Embedding --------------------------------------------------------------------
def test_embedding_lookup_and_init():
    ag.manual_seed(0)
    e = ag.Embedding(10, 4)
    w = e.weight.numpy()
    assert w.shape == (10, 4) and np.abs(w).max() <= 0.05
    idx = np.array([[1, 2, 9], [0, 0, 3]])
    out = e(idx)
    assert out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out.numpy(), w[idx])


def test_embedding_gradient_accumulates_repeated_tokens():
    e = ag.Embedding(5, 3, dtype=np.float64)
    idx = np.array([1, 1, 4, 1])
    with ag.grad_tape():
        loss = ag.sum(e(idx))
    g = ag.backward(loss)[e.weight.name]
    np.testing.assert_array_equal(g[:, 0], [0, 3, 0, 0, 1])


def test_embedding_out_of_range_names_module_and_index():
    e = ag.Embedding(5, 3)
    with pytest.raises(ValueError, match=r"Embedding 'embedding\d+'.*index 7.*5 embeddings"):
        e(np.array([0, 7, 2]))
    with pytest.raises(ValueError, match="index -1"):
        e(np.array([-1]))
    with pytest.raises(TypeError, match="integers"):
        e(np.array([0.5]))
