"""all_reduce / broadcast / all_gather / barrier across real processes on
loopback, checked against numpy inside each worker and bit-for-bit across ranks."""
import pytest

from dptrain_dist_harness import run


def _same_bits_everywhere(results):
    first = results[0]["hashes"]
    assert len(first) > 100
    for res in results[1:]:
        assert res["hashes"] == first, f"rank {res['rank']} disagrees with rank 0"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("world_size", [2, 3, 4])
def test_collectives_shared_memory(world_size):
    args = ["big"] if world_size != 3 else []
    results = run("collectives", world_size, timeout=55, args=args)
    assert all(r["shm"] for r in results)
    assert all(r["endpoint"].startswith("ipc://") for r in results)
    assert all(r["dropped"] == 0 for r in results)
    _same_bits_everywhere(results)


@pytest.mark.timeout(60)
def test_collectives_sockets_ring_ipc():
    """DPTRAIN_SHM=0: direct exchange below 64 KiB, the ring above, over ipc://."""
    results = run("collectives", 3, timeout=55, args=["big"], env={"DPTRAIN_SHM": "0"})
    assert not any(r["shm"] for r in results)
    _same_bits_everywhere(results)


@pytest.mark.timeout(60)
def test_collectives_sockets_tcp():
    results = run("collectives", 2, timeout=55,
                  env={"DPTRAIN_SHM": "0", "DPTRAIN_TRANSPORT": "tcp"})
    assert all(r["endpoint"].startswith("tcp://127.0.0.1:") for r in results)
    assert not any(r["shm"] for r in results)
    _same_bits_everywhere(results)
