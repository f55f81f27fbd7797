"""Failures: a stopped peer, a killed peer, ranks out of step, forged traffic,
and a rendezvous that never completes. Every rank must raise a clear error
(naming the peer, the operation and its sequence number), never hang."""
import pytest

from dptrain_dist_harness import Job, run


def _assert_names(res, peer, op="all_reduce(sum)"):
    assert f"rank {peer}" in res["msg"], res["msg"]
    assert op in res["msg"] and "#" in res["msg"], res["msg"]


@pytest.mark.timeout(40)
@pytest.mark.parametrize("shm", ["1", "0"])
def test_stopped_peer_times_out(shm):
    timeout, victim = 3.0, 2
    with Job("stop", 3, args=[str(timeout), str(victim)], env={"DPTRAIN_SHM": shm}) as job:
        res = job.results(timeout=30, ranks=[0, 1])
    for r, out in res.items():
        assert "CollectiveTimeout" in out["classes"], out
        assert out["elapsed"] <= timeout + 5, out
        _assert_names(out, victim)


@pytest.mark.timeout(40)
@pytest.mark.parametrize("shm", ["1", "0"])
def test_killed_peer_detected_within_seconds(shm):
    timeout, victim = 60.0, 1
    with Job("kill", 3, args=[str(timeout), str(victim)], env={"DPTRAIN_SHM": shm}) as job:
        res = job.results(timeout=30, ranks=[0, 2])
    for r, out in res.items():
        assert "CollectiveTimeout" in out["classes"], out
        assert out["elapsed"] < 15, out
        _assert_names(out, victim)


@pytest.mark.timeout(40)
@pytest.mark.parametrize("kind,world_size,shm", [
    ("op", 3, "1"), ("op", 3, "0"), ("shape", 2, "0"), ("shape", 3, "1"),
    ("dtype", 3, "1"), ("reduce_op", 2, "0"),
])
def test_desync_raises_on_every_rank(kind, world_size, shm):
    results = run("desync", world_size, timeout=30, args=[kind], env={"DPTRAIN_SHM": shm})
    for out in results:
        assert out["exc"] == "DesyncError", out
        assert "#1" in out["msg"], out  # the caller's second collective is the bad one


@pytest.mark.timeout(60)
@pytest.mark.parametrize("shm", ["1", "0"])
def test_forged_traffic_is_dropped_and_counted(shm):
    results = run("forge", 2, timeout=55, env={"DPTRAIN_SHM": shm})
    for out in results:
        assert out["forger_done"], out
        assert out["dropped"] == out["expected"] == 5000, out


@pytest.mark.timeout(30)
def test_rendezvous_names_missing_rank():
    # 4 s: time enough for rank 1 to start and report even on a busy machine
    with Job("rendezvous", 3, ranks=[0, 1], args=["4"]) as job:
        res = job.results(timeout=20)
    for r, out in res.items():
        assert out["exc"] == "RendezvousTimeout", out
        assert "ranks 2 never reported" in out["msg"] or "ranks [2] never reported" in out["msg"], out
        assert out["peer"] == [2], out


@pytest.mark.timeout(30)
def test_rendezvous_waits_for_late_rank0():
    with Job("rendezvous", 3, args=["20"], delays={1: 0.0, 2: 0.0, 0: 1.5}) as job:
        res = job.results(timeout=25)
    assert all(out["exc"] is None and out["sum"] == 3.0 for out in res.values()), res


@pytest.mark.timeout(30)
def test_rendezvous_wrong_token_never_joins():
    """A process with another job's token is not let in: rank 0 drops its hello
    (counted) and reports rank 1 missing; rank 1 never gets an answer."""
    with Job("rendezvous", 2, args=["2"], rank_env={1: {"DPTRAIN_JOB_TOKEN": "other-job"}}) as job:
        res = job.results(timeout=20)
    assert res[0]["exc"] == "RendezvousTimeout" and "ranks 1 never reported" in res[0]["msg"], res
    assert res[1]["exc"] == "RendezvousTimeout" and "rank 0 at tcp://" in res[1]["msg"], res
    assert "did not answer" in res[1]["msg"] and "DPTRAIN_JOB_TOKEN" in res[1]["msg"], res


@pytest.mark.timeout(30)
def test_rendezvous_world_size_mismatch_fails_fast_on_both_sides():
    with Job("rendezvous", 2, args=["20"], rank_env={1: {"WORLD_SIZE": "3"}}) as job:
        res = job.results(timeout=20)
    for out in res.values():
        assert out["exc"] == "CollectiveError" and out["elapsed"] < 10, out
        assert "rank 1 was started with world size 3, rank 0 with 2" in out["msg"], out
    assert "rank 0 gave up" in res[1]["msg"], res[1]


_VULKAN_RANK0 = {0: {"DPTRAIN_BACKEND": "vulkan", "DPTRAIN_DEVICE": "vulkan:0"}, 1: {"DPTRAIN_DEVICE": "cpu"}}


@pytest.mark.timeout(60)
def test_ranks_on_different_backends_fail_at_init_naming_each_rank():
    from engine.device import vulkan_available
    if not vulkan_available():
        pytest.skip("needs a Vulkan device (lavapipe will do) for one rank")
    with Job("rendezvous", 2, args=["30"], rank_env=_VULKAN_RANK0) as job:
        res = job.results(timeout=50)
    for out in res.values():
        assert out["exc"] == "RuntimeError", out
        assert "rank 0: vulkan, rank 1: cpu" in out["msg"] and "--allow-mixed-devices" in out["msg"], out
    allowed = {r: dict(e, DPTRAIN_ALLOW_MIXED_DEVICES="1") for r, e in _VULKAN_RANK0.items()}
    with Job("rendezvous", 2, args=["30"], rank_env=allowed) as job:
        res = job.results(timeout=50)
    assert all(out["exc"] is None and out["sum"] == 2.0 for out in res.values()), res
