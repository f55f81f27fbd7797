"""clip_grad_norm: global norm against numpy, in-place scaling, non-finite handling."""
import numpy as np
import pytest

from dptrain import ag

RNG = np.random.default_rng(4)


def _setup(dtype=np.float64):
    params = {"a": ag.param(RNG.standard_normal((3, 4)).astype(dtype), name="pa"),
              "b": ag.param(RNG.standard_normal(5).astype(dtype), name="pb")}
    grads = {"pa": RNG.standard_normal((3, 4)).astype(dtype) * 3, "pb": RNG.standard_normal(5).astype(dtype) * 3}
    return params, grads


def test_norm_and_scaling_match_numpy():
    params, grads = _setup()
    orig = {k: v.copy() for k, v in grads.items()}
    ref = np.sqrt(sum((g ** 2).sum() for g in orig.values()))
    ids = {k: id(v) for k, v in grads.items()}
    norm = ag.clip_grad_norm(params, grads, max_norm=1.0)
    assert norm == pytest.approx(ref, rel=1e-14)
    for k in grads:
        assert id(grads[k]) == ids[k]                        # scaled in place
        np.testing.assert_allclose(grads[k], orig[k] / (ref + 1e-6), rtol=1e-14)
    new = np.sqrt(sum((g ** 2).sum() for g in grads.values()))
    assert new == pytest.approx(1.0, rel=1e-5)


def test_no_scaling_below_max_norm_and_float32():
    params, grads = _setup(np.float32)
    orig = {k: v.copy() for k, v in grads.items()}
    ref = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in orig.values()))
    norm = ag.clip_grad_norm(params, grads, max_norm=1e6)
    assert norm == pytest.approx(ref, rel=1e-6)
    for k in grads:
        np.testing.assert_array_equal(grads[k], orig[k])


def test_uses_dot_grad_when_grads_is_none():
    m = ag.Linear(3, 2, dtype=np.float64)
    with ag.grad_tape():
        loss = ag.sum(m(np.full((4, 3), 10.0)))
    ag.backward(loss)
    ref = np.sqrt(sum((p.grad ** 2).sum() for p in m.parameters().values()))
    assert ag.clip_grad_norm(m.parameters(), None, max_norm=0.5) == pytest.approx(ref)
    assert np.sqrt(sum((p.grad ** 2).sum() for p in m.parameters().values())) == pytest.approx(0.5, rel=1e-5)


def test_clips_the_optimiser_flat_buffer_in_place():
    m = ag.Linear(3, 2, dtype=np.float64)
    opt = ag.optim.SGD(m.parameters(), lr=1.0)
    with ag.grad_tape():
        loss = ag.sum(m(np.full((4, 3), 10.0)))
    grads = ag.backward(loss)
    ag.clip_grad_norm(m.parameters(), grads, max_norm=2.0)
    assert np.linalg.norm(opt.flat_grads()) == pytest.approx(2.0, rel=1e-5)


def test_matches_torch():
    torch = pytest.importorskip("torch")
    params, grads = _setup()
    tps = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads.values()]
    for t, g in zip(tps, grads.values()):
        t.grad = torch.from_numpy(g.copy())
    tnorm = torch.nn.utils.clip_grad_norm_(tps, 2.0)
    norm = ag.clip_grad_norm(params, grads, 2.0)
    assert norm == pytest.approx(tnorm.item(), rel=1e-14)
    for t, g in zip(tps, grads.values()):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-14)


def test_non_finite_gradients_are_reported_and_never_applied():
    params, grads = _setup()
    grads["pb"][2] = np.nan
    with pytest.raises(FloatingPointError, match=r"non-finite gradients in \['b'\]"):
        ag.clip_grad_norm(params, grads, 1.0)
    orig = {k: v.copy() for k, v in grads.items()}
    norm = ag.clip_grad_norm(params, grads, 1.0, error_if_nonfinite=False)
    assert np.isnan(norm)
    for k in grads:
        np.testing.assert_array_equal(grads[k], orig[k])
    grads["pb"][2] = np.inf
    assert ag.clip_grad_norm(params, grads, 1.0, error_if_nonfinite=False) == np.inf


def test_argument_errors():
    params, grads = _setup()
    with pytest.raises(ValueError, match="max_norm"):
        ag.clip_grad_norm(params, grads, 0)
    with pytest.raises(TypeError, match="grads must be a dict"):
        ag.clip_grad_norm(params, [1, 2], 1.0)
