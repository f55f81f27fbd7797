"""BatchNorm and LayerNorm: numpy references, running statistics, gradchecks, torch parity."""
import numpy as np
import pytest

from dptrain import ag

RNG = np.random.default_rng(1)


def test_batchnorm_training_uses_batch_statistics():
    bn = ag.BatchNorm(3, dtype=np.float64)
    bn.load_state_dict({"weight": [1.0, 2.0, 0.5], "bias": [0.0, -1.0, 3.0]}, strict=False)
    x = RNG.standard_normal((16, 3)) * [1, 5, 0.1] + [0, 2, -3]
    mu, var = x.mean(0), x.var(0)
    expected = (x - mu) / np.sqrt(var + 1e-5) * [1, 2, 0.5] + [0, -1, 3]
    np.testing.assert_allclose(bn(x).numpy(), expected, rtol=1e-10)
    # running = 0.9 * initial + 0.1 * batch, with the unbiased variance (PyTorch)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * mu, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * x.var(0, ddof=1), rtol=1e-12)


def test_batchnorm_eval_uses_running_statistics():
    bn = ag.BatchNorm(2, momentum=0.5, dtype=np.float64)
    x = RNG.standard_normal((8, 2))
    bn(x)
    rm, rv = bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()
    bn.eval()
    y = RNG.standard_normal((3, 2))
    np.testing.assert_allclose(bn(y).numpy(), (y - rm) / np.sqrt(rv + 1e-5), rtol=1e-10)
    np.testing.assert_array_equal(bn.running_mean.numpy(), rm)   # eval does not update


def test_batchnorm_channels_last_images():
    bn = ag.BatchNorm(4, dtype=np.float64)
    x = RNG.standard_normal((2, 3, 3, 4))
    y = bn(x).numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 1, 2)), 1, rtol=1e-3)


@pytest.mark.parametrize("shape", [(6, 3), (2, 2, 2, 3)])
def test_batchnorm_gradcheck_x_gamma_beta(shape):
    bn = ag.BatchNorm(3, dtype=np.float64)

    def fn(x, gamma, beta):
        bn.weight, bn.bias = gamma, beta
        return bn(x)

    x = RNG.standard_normal(shape)
    assert ag.gradcheck(fn, [x, RNG.standard_normal(3) + 1.0, RNG.standard_normal(3)])


def test_batchnorm_errors():
    bn = ag.BatchNorm(3)
    with pytest.raises(ValueError, match=r"BatchNorm 'batchnorm\d+'.*3 channels.*\(4, 2\)"):
        bn(np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match="momentum"):
        ag.BatchNorm(3, momentum=1.5)


def test_batchnorm_matches_torch_over_steps():
    torch = pytest.importorskip("torch")
    bn = ag.BatchNorm(4, dtype=np.float64)
    tb = torch.nn.BatchNorm1d(4).double()
    for _ in range(3):
        x = RNG.standard_normal((10, 4)) * 3 + 1
        w = RNG.standard_normal((10, 4))
        with ag.grad_tape():
            loss = ag.sum(bn(x) * w)
        grads = ag.backward(loss)
        xt = torch.from_numpy(x)
        tb.zero_grad()
        (tb(xt) * torch.from_numpy(w)).sum().backward()
        np.testing.assert_allclose(grads[bn.weight.name], tb.weight.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(grads[bn.bias.name], tb.bias.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(bn.running_mean.numpy(), tb.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), tb.running_var.numpy(), rtol=1e-12)
    bn.eval(), tb.eval()
    x = RNG.standard_normal((5, 4))
    np.testing.assert_allclose(bn(x).numpy(), tb(torch.from_numpy(x)).detach().numpy(), rtol=1e-10)


def test_layernorm_matches_numpy_and_gradchecks():
    ln = ag.LayerNorm(5, dtype=np.float64)
    x = RNG.standard_normal((2, 3, 5)) * 4 + 2
    mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    np.testing.assert_allclose(ln(x).numpy(), (x - mu) / np.sqrt(var + 1e-5), rtol=1e-10)

    def fn(x, gamma, beta):
        ln.weight, ln.bias = gamma, beta
        return ln(x)

    assert ag.gradcheck(fn, [RNG.standard_normal((3, 5)), RNG.standard_normal(5), RNG.standard_normal(5)])


def test_layernorm_matches_torch():
    torch = pytest.importorskip("torch")
    ln = ag.LayerNorm(6, dtype=np.float64)
    g, b = RNG.standard_normal(6), RNG.standard_normal(6)
    ln.load_state_dict({"weight": g, "bias": b})
    tl = torch.nn.LayerNorm(6).double()
    with torch.no_grad():
        tl.weight.copy_(torch.from_numpy(g))
        tl.bias.copy_(torch.from_numpy(b))
    x = RNG.standard_normal((4, 6))
    np.testing.assert_allclose(ln(x).numpy(), tl(torch.from_numpy(x)).detach().numpy(), rtol=1e-10, atol=1e-12)
