"""DistributedOptimizer's arithmetic in one process: a scripted peer plays rank 1 (its gradients,
loss, compute time and weight digest are given), so the mean, the loss average, accumulation,
weight checks, broadcasts, stragglers and the norm are checked exactly, with numpy references."""
import types
import warnings

import numpy as np
import pytest

import engine as ag
from dptrain.distributed import optimizer as dopt_mod
from dptrain.distributed.optimizer import DistributedOptimizer, StragglerWarning, WeightDesyncError


class PeerComm:
    """Rank 0 of 2; rank 1 contributes `peer_grad` (a flat float array), `peer_loss`, `peer_compute_s`,
    parameters of 7.0 (in broadcasts from root 1) and `peer_digest_delta` (0: in sync)."""

    def __init__(self, peer_grad, peer_loss=0.0, peer_compute_s=0.0, inplace=True):
        self.rank, self.world_size = 0, 2
        self.peer_grad, self.peer_loss, self.peer_compute_s = np.asarray(peer_grad), peer_loss, peer_compute_s
        self.peer_digest_delta = 0
        self.broadcast_roots = []
        if not inplace:
            self.all_reduce_inplace = None
            del self.all_reduce_inplace

    def all_reduce(self, send, op="sum"):
        assert op == "sum"
        other = np.concatenate([[self.peer_loss], self.peer_grad]) if send.shape[0] == self.peer_grad.shape[0] + 1 \
            else self.peer_grad
        return send + other.astype(send.dtype)

    def all_reduce_inplace(self, host, op="mean", extra=None):
        assert op == "mean"
        host += self.peer_grad.astype(host.dtype)
        host *= host.dtype.type(0.5)
        got = None
        if extra is not None:
            got = np.stack([extra, np.array([self.peer_loss, 1.0, self.peer_compute_s])])
        return host, got

    def all_gather(self, a):
        return [a, a + self.peer_digest_delta]

    def broadcast(self, a, root=0):
        if root not in (0, 1):
            raise ValueError(f"broadcast: no rank {root}")
        self.broadcast_roots.append(root)
        a = np.asarray(a)
        if root == 1 and a.dtype.kind == "f" and a.shape == self.peer_grad.shape:   # rank 1's parameters
            return np.full_like(a, 7.0)
        return a                                     # everything else is the same on both ranks


def _setup(lr=0.1, **kw):
    w = ag.param(np.array([1.0, 2.0, -1.0]), name="w")
    opt = ag.optim.SGD([w], lr=lr)
    return w, opt


@pytest.mark.parametrize("inplace", [True, False])
def test_the_update_uses_the_mean_of_both_ranks_and_the_mean_loss(inplace):
    w, opt = _setup()
    comm = PeerComm([3.0, -1.0, 0.5], peer_loss=5.0, inplace=inplace)
    d = DistributedOptimizer(opt, comm=comm, check_every=0, straggler_threshold=None)
    g = np.array([1.0, 1.0, 1.5])
    assert d.step({"w": g}, loss=1.0) is True
    np.testing.assert_allclose(w.numpy(), np.array([1.0, 2.0, -1.0]) - 0.1 * (g + comm.peer_grad) / 2, rtol=1e-12)
    assert d.last_loss == pytest.approx(3.0)
    assert d.steps == 1
    assert d.last_norm == pytest.approx(np.linalg.norm((g + comm.peer_grad) / 2))


def test_accumulated_micro_batches_average_their_gradients_and_losses():
    w, opt = _setup()
    comm = PeerComm([0.0, 0.0, 0.0], peer_loss=2.0)
    d = DistributedOptimizer(opt, comm=comm, check_every=0, accumulate_steps=2, straggler_threshold=None)
    assert d.step({"w": np.array([1.0, 0.0, 0.0])}, loss=1.0) is None
    assert d.pending_micro_steps == 1
    assert d.step({"w": np.array([3.0, 2.0, 0.0])}, loss=3.0) is True
    local = np.array([2.0, 1.0, 0.0])                # the mean of the two micro-batches
    np.testing.assert_allclose(w.numpy(), np.array([1.0, 2.0, -1.0]) - 0.1 * local / 2, rtol=1e-12)
    assert d.last_loss == pytest.approx((2.0 + 2.0) / 2)     # local mean 2.0, peer 2.0


def test_weights_are_compared_every_check_every_steps():
    w, opt = _setup()
    comm = PeerComm([0.0, 0.0, 0.0])
    d = DistributedOptimizer(opt, comm=comm, check_every=2, straggler_threshold=None)
    comm.peer_digest_delta = 1                     # rank 1's weights differ
    d.step({"w": np.zeros(3)})                     # step 1: no check
    with pytest.raises(WeightDesyncError, match=r"rank\(s\) \[1\] after step 2"):
        d.step({"w": np.zeros(3)})
    comm.peer_digest_delta = 0                     # in sync again: step 4 checks and passes
    d.step({"w": np.zeros(3)})
    d.step({"w": np.zeros(3)})
    comm.peer_digest_delta = 1
    d.step({"w": np.zeros(3)})                     # step 5: no check
    with pytest.raises(WeightDesyncError, match="after step 6"):
        d.step({"w": np.zeros(3)})


def test_no_weight_check_when_check_every_is_zero():
    w, opt = _setup()
    comm = PeerComm([0.0, 0.0, 0.0])
    comm.peer_digest_delta = 1
    d = DistributedOptimizer(opt, comm=comm, check_every=0, straggler_threshold=None)
    for _ in range(3):
        d.step({"w": np.zeros(3)})
    assert d.steps == 3


def test_broadcast_state_takes_the_roots_parameters():
    w, opt = _setup()
    comm = PeerComm([0.0, 0.0, 0.0])
    d = DistributedOptimizer(opt, comm=comm, check_every=0)
    d.broadcast_state(root=1)
    np.testing.assert_array_equal(w.numpy(), np.full(3, 7.0))


def test_broadcast_parameters_and_module_default_to_rank_zero(monkeypatch):
    comm = PeerComm([0.0, 0.0])
    monkeypatch.setattr(dopt_mod, "_comm", lambda: comm)
    p = ag.param(np.array([1.0, 2.0]), name="p")
    dopt_mod.broadcast_parameters({"p": p})
    dopt_mod.broadcast_module(types.SimpleNamespace(parameters=lambda: {"p": p}))
    assert comm.broadcast_roots == [0, 0]
    dopt_mod.broadcast_parameters([p], root=1)
    np.testing.assert_array_equal(p.numpy(), [7.0, 7.0])


def test_the_learning_rate_is_read_and_set_through_the_wrapper():
    w, opt = _setup(lr=0.1)
    d = DistributedOptimizer(opt, comm=PeerComm([0.0, 0.0, 0.0]), check_every=0)
    d.lr = 0.5
    assert opt.lr == 0.5 and d.lr == 0.5


def test_the_norm_of_tiny_float32_gradients_is_exact():
    """Squares of 1e-22 underflow float32: the norm must come from the careful (scaled) path."""
    w = ag.param(np.ones(4, np.float32), name="w")
    opt = ag.optim.SGD([w], lr=0.1)
    g = np.array([1e-22, -2e-22, 3e-22, 0.0], np.float32)
    d = DistributedOptimizer(opt, comm=PeerComm(g), check_every=0, straggler_threshold=None)
    d.step({"w": g})
    assert d.last_norm == pytest.approx(float(np.linalg.norm(g.astype(np.float64))), rel=1e-6)


class FakeClock:
    def __init__(self, *times):
        self.times = list(times)

    def perf_counter(self):
        return self.times.pop(0)

    def monotonic(self):
        return 1000.0


def test_waits_comm_time_and_the_straggler_report(monkeypatch):
    w, opt = _setup()
    comm = PeerComm([0.0, 0.0, 0.0], peer_compute_s=0.0)
    d = DistributedOptimizer(opt, comm=comm, check_every=0, straggler_threshold=None)
    # perf_counter: arrived, left the collective; per step
    monkeypatch.setattr(dopt_mod, "time", FakeClock(10.0, 10.25, 12.25, 12.5))
    d.step({"w": np.zeros(3)})
    assert d.last_comm_s == 0.25 and d.last_wait is None        # first step: nothing to measure from
    comm.peer_compute_s = 0.5
    d.step({"w": np.zeros(3)})                                  # this rank computed 12.25 - 10.25 = 2.0 s
    assert d.last_comm_s == 0.25
    np.testing.assert_allclose(d.last_wait, [0.0, 1.5])
    assert d.slowest == 0
    assert d.straggler_report() == ("wait per rank (s, total over 1 recent steps' log): rank 0: 0.000, "
                                    "rank 1: 1.500; slowest last step: rank 0")


def test_other_ranks_do_not_warn(monkeypatch):
    w, opt = _setup()
    comm = PeerComm([0.0, 0.0, 0.0])
    comm.rank = 1
    d = DistributedOptimizer(opt, comm=comm, check_every=0, straggler_threshold=0.5)
    monkeypatch.setattr(dopt_mod, "time", types.SimpleNamespace(monotonic=lambda: 1000.0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d._record_waits([1.0, 3.0])
    assert not caught and d.last_wait[0] == 2.0


def test_rank_zero_warns_above_the_threshold_only_and_at_most_once_a_minute(monkeypatch):
    w, opt = _setup()
    d = DistributedOptimizer(opt, comm=PeerComm([0.0, 0.0, 0.0]), check_every=0, straggler_threshold=0.5)
    now = [1000.0]
    monkeypatch.setattr(dopt_mod, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d._record_waits([1.0, 1.5])          # rank 0 waited exactly the threshold: no warning
        assert not caught
        d._record_waits([1.0, 1.6])          # 0.6 s > 0.5 s
        assert len(caught) == 1 and issubclass(caught[0].category, StragglerWarning)
        assert "rank 1 is the slowest: rank 0 waited 0.600 s" in str(caught[0].message)
        now[0] += 30.0
        d._record_waits([1.0, 2.0])          # within a minute of the last warning
        assert len(caught) == 1
        now[0] += 30.0                       # exactly a minute after the last warning
        d._record_waits([1.0, 2.0])
        assert len(caught) == 2
    np.testing.assert_allclose(d.wait_total, [0.5 + 0.6 + 1.0 + 1.0, 0.0])   # summed over the steps
