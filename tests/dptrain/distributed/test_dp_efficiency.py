"""Data-parallel efficiency features of DistributedOptimizer: gradient accumulation without
communication (accumulate_steps, no_sync), the in-place all-reduce with gathered extras, and
straggler visibility (per-step waits per rank, a warning naming the slowest rank)."""
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from dptrain import ag
from dptrain.distributed.communicator import SingleProcessCommunicator
from dptrain.distributed.optimizer import DistributedOptimizer, StragglerWarning

SCRIPT = os.path.join(os.path.dirname(__file__), "scripts", "efficiency_worker.py")


def launch(mode, n=2, env=None):
    r = subprocess.run([sys.executable, "-m", "launcher", "--nproc-per-node", str(n), "--timeout", "100",
                        SCRIPT, mode], capture_output=True, text=True, timeout=150,
                       env=dict(os.environ, **(env or {})))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    res = [json.loads(ln.split("RESULT ", 1)[1]) for ln in r.stdout.splitlines() if "RESULT " in ln]
    assert len(res) == n, out
    return sorted(res, key=lambda x: x["rank"])


# ---------------------------------------------------------------- one process
def _data(i, n=8):
    rng = np.random.default_rng(i)
    x = rng.standard_normal((n, 5)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def _model():
    ag.manual_seed(1)
    return ag.Sequential(ag.Linear(5, 8, activation="tanh"), ag.Linear(8, 2))


def _micro_steps(dopt, model, batches, use_no_sync=False):
    out = []
    for j, (x, y) in enumerate(batches):
        with ag.grad_tape():
            loss = ag.softmax_cross_entropy_loss(model(x), y)
        ag.backward(loss)
        if use_no_sync and j < len(batches) - 1:
            with dopt.no_sync():
                out.append(dopt.step(loss=loss.item()))
        else:
            out.append(dopt.step(loss=loss.item()))
    return out


@pytest.mark.parametrize("how", ["accumulate_steps", "no_sync"])
@pytest.mark.parametrize("opt_cls", [ag.optim.SGD, ag.optim.Adam])
def test_accumulated_micro_batches_equal_one_step_on_the_joint_batch(how, opt_cls):
    k, updates = 4, 3
    model = _model()
    kw = {"accumulate_steps": k} if how == "accumulate_steps" else {}
    dopt = DistributedOptimizer(opt_cls(model.parameters(), lr=0.1), comm=SingleProcessCommunicator(), **kw)
    ref = _model()
    ref_opt = opt_cls(ref.parameters(), lr=0.1)
    for u in range(updates):
        batches = [_data(u * k + j) for j in range(k)]
        got = _micro_steps(dopt, model, batches, use_no_sync=how == "no_sync")
        assert got == [None] * (k - 1) + [True]
        assert dopt.pending_micro_steps == 0
        x = np.concatenate([b[0] for b in batches])
        y = np.concatenate([b[1] for b in batches])
        with ag.grad_tape():
            loss = ag.softmax_cross_entropy_loss(ref(x), y)
        ref_opt.step(ag.backward(loss))
        assert dopt.last_loss == pytest.approx(loss.item(), rel=1e-5)
    assert dopt.steps == updates
    np.testing.assert_allclose(dopt.optimizer.flat_params(), ref_opt.flat_params(), rtol=1e-5, atol=1e-6)


def test_no_sync_and_accumulate_steps_combine_and_the_update_uses_the_mean():
    p = ag.param(np.zeros(3, np.float32), name="w")
    dopt = DistributedOptimizer(ag.optim.SGD([p], lr=1.0), comm=SingleProcessCommunicator(), accumulate_steps=2)
    with dopt.no_sync():   # inside no_sync nothing syncs, whatever accumulate_steps says
        assert dopt.step({"w": np.array([1, 2, 3], np.float32)}) is None
        assert dopt.step({"w": np.array([3, 2, 1], np.float32)}) is None
    assert dopt.pending_micro_steps == 2
    assert dopt.step({"w": np.array([2, 2, 2], np.float32)}) is True
    np.testing.assert_allclose(p.data, [-2, -2, -2])          # minus the mean of the three
    assert dopt.step({"w": np.array([1, 1, 1], np.float32)}) is None   # 1 of 2
    assert dopt.step({"w": np.array([3, 3, 3], np.float32)}) is True
    np.testing.assert_allclose(p.data, [-4, -4, -4])


def test_bad_accumulation_and_straggler_arguments():
    p = ag.param(np.zeros(2, np.float32), name="w")
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="accumulate_steps must be an integer >= 1"):
            DistributedOptimizer(ag.optim.SGD([p], lr=0.1), accumulate_steps=bad)
    with pytest.raises(ValueError, match="straggler_threshold"):
        DistributedOptimizer(ag.optim.SGD([p], lr=0.1), straggler_threshold=-1)


class _SlowPeer:
    """Rank 0 of two; rank 1 has the same gradients and always computes `lag` seconds longer."""
    world_size, rank = 2, 0

    def __init__(self, lag):
        self.lag = lag

    def all_reduce_inplace(self, a, op="sum", extra=None):
        if op == "sum":
            a *= 2
        if extra is None:
            return a
        peer = extra.copy()
        peer[2] = extra[2] + self.lag if extra[2] else 0.0
        return a, np.stack([extra, peer])


def _steps(dopt, p, n):
    for _ in range(n):
        dopt.step({"w": np.ones(4, np.float32)}, loss=1.0)


def test_waits_are_recorded_per_rank_and_the_slowest_rank_is_named():
    p = ag.param(np.zeros(4, np.float32), name="w")
    dopt = DistributedOptimizer(ag.optim.SGD([p], lr=0.1), comm=_SlowPeer(0.2), straggler_threshold=0.1)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        _steps(dopt, p, 4)
    assert dopt.last_wait.tolist() == pytest.approx([0.2, 0.0])
    assert dopt.slowest == 1 and len(dopt.wait_log) == 3     # the first step has nothing to compare
    assert dopt.wait_total.tolist() == pytest.approx([0.6, 0.0])
    msgs = [str(w.message) for w in got if issubclass(w.category, StragglerWarning)]
    assert len(msgs) == 1, msgs                               # at most one a minute
    assert "rank 1 is the slowest" in msgs[0] and "rank 0 waited 0.2" in msgs[0], msgs
    assert dopt.last_loss == pytest.approx(1.0)
    np.testing.assert_allclose(p.data, -0.4)                  # the mean gradient, four steps
    assert "rank 0: 0.600" in dopt.straggler_report()


def test_a_small_wait_is_recorded_but_not_warned_about():
    p = ag.param(np.zeros(4, np.float32), name="w")
    for threshold in (1.0, None):
        dopt = DistributedOptimizer(ag.optim.SGD([p], lr=0.1), comm=_SlowPeer(0.01), straggler_threshold=threshold)
        with warnings.catch_warnings():
            warnings.simplefilter("error", StragglerWarning)
            _steps(dopt, p, 3)
        assert dopt.last_wait[0] == pytest.approx(0.01) and dopt.slowest == 1


# ---------------------------------------------------------------- real processes
@pytest.mark.timeout(150)
@pytest.mark.parametrize("how", ["accumulate_steps", "no_sync"])
def test_accumulation_across_ranks_equals_one_process_on_the_joint_batch(how):
    res = launch(how, n=2)
    for r in res:
        assert r["returned"] == ([None, None, True] * 5), r
        assert r["steps"] == 5 and r["identical"] and r["shm"], r
        assert r["max_diff"] <= 1e-5 * max(1.0, r["scale"]), r
    assert res[0]["digest"] == res[1]["digest"]


@pytest.mark.timeout(150)
def test_accumulation_on_the_socket_path_gives_the_same_weights_as_shared_memory():
    shm = launch("accumulate_steps", n=2)
    sock = launch("accumulate_steps", n=2, env={"DPTRAIN_SHM": "0"})
    assert not sock[0]["shm"] and sock[0]["identical"]
    assert sock[0]["max_diff"] <= 1e-5 * max(1.0, sock[0]["scale"])
    # below 256 KiB both paths sum in rank order: the same bits
    assert sock[0]["digest"] == shm[0]["digest"]


@pytest.mark.timeout(150)
def test_an_artificially_slowed_rank_is_named_in_a_warning_on_rank_0():
    res = launch("straggler", n=3)
    r0 = res[0]
    assert len(r0["warnings"]) == 1, r0
    assert "rank 2 is the slowest" in r0["warnings"][0], r0
    assert all(not r["warnings"] for r in res[1:]), res     # one line for the job, not one per rank
    for r in res:                                           # every rank knows every rank's wait
        assert r["slowest"] == 2 and r["log"] == 5, r
        assert r["last_wait"][2] < 0.05 and min(r["last_wait"][:2]) > 0.1, r
        assert r["wait_total"] == pytest.approx(res[0]["wait_total"])


@pytest.mark.timeout(150)
@pytest.mark.parametrize("shm", ["1", "0"])
def test_all_reduce_inplace_matches_all_reduce_bit_for_bit(shm):
    res = launch("inplace", n=3, env={"DPTRAIN_SHM": shm})
    for r in res:
        assert r["ok"] and r["n"] == 7 * 2 * 3 * 2 and r["shm"] == (shm == "1"), r
