"""The gradient-norm check of DistributedOptimizer: a finite gradient of any size has a finite
norm (no float32 or float64 square overflows), and a non-finite step names the ranks."""
import numpy as np
import pytest

from dptrain import ag
from dptrain.distributed.communicator import SingleProcessCommunicator
from dptrain.distributed.optimizer import DistributedOptimizer, NonFiniteGradientError


class TwoRanks:
    """Rank 0 of a 2-rank job whose peer contributes `peer_grad` (a stand-in communicator)."""

    world_size, rank = 2, 0

    def __init__(self, peer_grad):
        self.peer_grad = peer_grad

    def all_reduce(self, a, op="sum"):
        peer = np.asarray(self.peer_grad, a.dtype)
        with np.errstate(over="ignore"):
            return a + (np.concatenate([a[:1], peer]) if a.shape[0] == peer.shape[0] + 1 else peer)

    def all_gather(self, a):
        return [a, np.array([int(not np.isfinite(np.asarray(self.peer_grad, np.float64)).all())], np.int32)]


def _dopt(values, dtype, comm, **kw):
    p = ag.param(np.zeros(len(values), dtype), name="w")
    opt = DistributedOptimizer(ag.optim.SGD([p], lr=0.0), comm=comm, **kw)
    return opt, {"w": np.array(values, dtype)}


@pytest.mark.parametrize("values, dtype", [
    ([1e30, -2e30, 3.0], np.float32),      # squares overflow float32
    ([3e38, 3e38], np.float32),            # near float32's largest value
    ([1e200, 1e200, -1e200], np.float64),  # squares overflow float64
])
def test_finite_huge_gradients_have_a_finite_norm(values, dtype):
    opt, grads = _dopt(values, dtype, SingleProcessCommunicator())
    assert opt.reduce_gradients(grads) is True and opt.skipped == []
    v = np.array(values, np.float64)
    want = float(np.linalg.norm(v / np.abs(v).max())) * float(np.abs(v).max())  # a float64 reference
    assert opt.last_norm == pytest.approx(want, rel=1e-6)


def test_clipping_a_huge_gradient_gives_max_norm():
    opt, grads = _dopt([3e38, -3e38, 1.0], np.float32, SingleProcessCommunicator(), max_norm=1.0)
    assert opt.reduce_gradients(grads)
    assert np.isfinite(opt.last_norm)
    assert float(np.linalg.norm(opt.optimizer.flat_grads(np.float32).astype(np.float64))) == pytest.approx(1.0, rel=1e-4)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_gradient_is_still_caught(bad):
    opt, grads = _dopt([1.0, bad, 2.0], np.float32, SingleProcessCommunicator())
    assert opt.reduce_gradients(grads) is False and opt.skipped == [(0, [0])]


def test_the_ranks_with_non_finite_values_are_named():
    opt, grads = _dopt([1.0, 2.0], np.float32, TwoRanks([np.inf, 0.0]), on_nonfinite="raise")
    with pytest.raises(NonFiniteGradientError, match=r"non-finite gradient on rank\(s\) \[1\] at step 0"):
        opt.reduce_gradients(grads)


def test_a_sum_that_overflows_says_so():
    opt, grads = _dopt([3e38, 1.0], np.float32, TwoRanks([3e38, 1.0]))
    assert opt.reduce_gradients(grads) is False and opt.skipped == [(0, [])]
    opt.on_nonfinite = "raise"
    with pytest.raises(NonFiniteGradientError, match="finite on every rank but their sum over the 2 rank"):
        opt.reduce_gradients(grads)


def test_the_norm_of_ordinary_gradients_is_unchanged():
    rng = np.random.default_rng(0)
    g = rng.standard_normal(1000).astype(np.float32)
    opt, grads = _dopt(g, np.float32, TwoRanks(g))
    assert opt.reduce_gradients(grads, loss=0.5)
    assert opt.last_norm == pytest.approx(float(np.linalg.norm(g.astype(np.float64))), rel=1e-6)
    assert opt.last_loss == pytest.approx(0.5)
