"""World size 1: SingleProcessCommunicator and the module-level functions
without a launcher. No sockets are involved."""
import numpy as np
import pytest

import dptrain.distributed as dist
from dptrain.distributed import (CollectiveTimeout, Communicator, DesyncError,
                                 SingleProcessCommunicator)
from dptrain.distributed.context import Context


@pytest.fixture
def comm():
    c = SingleProcessCommunicator()
    yield c
    c.close()


@pytest.fixture(autouse=True)
def _fresh_context():
    dist.shutdown()
    yield
    dist.shutdown()


@pytest.mark.timeout(10)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("shape", [(), (1,), (5,), (2, 3, 4), (0,)])
def test_all_reduce_returns_a_copy(comm, dtype, shape):
    x = (np.arange(int(np.prod(shape))) * 3 - 4).astype(dtype).reshape(shape)
    keep = x.copy()
    for op in ("sum", "mean", "max"):
        y = comm.all_reduce(x, op=op)
        assert y.dtype == x.dtype and y.shape == x.shape
        assert y.tobytes() == x.tobytes()  # one rank: sum = mean = max = the input
        assert not np.shares_memory(y, x)
        y[...] = 7
        assert np.array_equal(x, keep)


@pytest.mark.timeout(10)
def test_broadcast_all_gather_barrier(comm):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = comm.broadcast(x, root=0)
    assert np.array_equal(b, x) and not np.shares_memory(b, x) and b.shape == (2, 3)
    g = comm.all_gather(x)
    assert isinstance(g, list) and len(g) == 1 and np.array_equal(g[0], x)
    assert not np.shares_memory(g[0], x)
    comm.barrier()
    assert comm.rank == 0 and comm.world_size == 1 and comm.dropped == 0
    assert isinstance(comm, Communicator)


@pytest.mark.timeout(10)
def test_input_checks(comm):
    with pytest.raises(ValueError, match="unknown op 'min'"):
        comm.all_reduce(np.ones(3), op="min")
    with pytest.raises(TypeError, match="float16"):
        comm.all_reduce(np.ones(3, dtype=np.float16))
    with pytest.raises(TypeError, match="complex128"):
        comm.all_gather(np.ones(3, dtype=np.complex128))
    with pytest.raises(ValueError, match="root 1"):
        comm.broadcast(np.ones(3), root=1)


@pytest.mark.timeout(10)
def test_closed_communicator_refuses(comm):
    comm.close()
    comm.close()  # twice is fine
    with pytest.raises(RuntimeError, match="closed"):
        comm.all_reduce(np.ones(2))
    with pytest.raises(RuntimeError, match="closed"):
        comm.barrier()


@pytest.mark.timeout(10)
def test_module_level_functions_use_a_lazy_single_context(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS", "OMPI_COMM_WORLD_RANK",
                 "OMPI_COMM_WORLD_SIZE", "DPTRAIN_DEVICE"):
        monkeypatch.delenv(name, raising=False)
    y = dist.all_reduce(np.array([1.5, 2.5]), op="mean")
    assert y.tolist() == [1.5, 2.5]
    ctx = dist.get_context()
    assert (ctx.rank, ctx.world_size, ctx.local_rank, ctx.local_world_size) == (0, 1, 0, 1)
    assert ctx.device == "cpu"
    assert dist.broadcast(np.array(3)).shape == ()
    assert [a.tolist() for a in dist.all_gather(np.array([1, 2]))] == [[1, 2]]
    dist.barrier()
    # init() after lazy use replaces the lazy context with the real one
    ctx2 = dist.init(env={"RANK": "0", "WORLD_SIZE": "1", "DPTRAIN_DEVICE": "vulkan:1"})
    assert isinstance(ctx2, Context) and ctx2.device == "vulkan:1" and ctx2.world_size == 1
    assert dist.get_context() is ctx2 and dist.init() is ctx2  # init again: the same context
    dist.shutdown()
    assert dist.get_context() is not ctx2


@pytest.mark.timeout(10)
def test_lazy_context_refuses_inside_a_multi_process_job(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    with pytest.raises(RuntimeError, match=r"rank 1 of a 4-process job.*init\(\)"):
        dist.all_reduce(np.ones(2))


@pytest.mark.timeout(10)
def test_error_classes_name_rank_op_and_sequence():
    e = CollectiveTimeout("no message from rank 2", rank=0, peer=2, op="all_reduce(sum)", seq=7)
    assert isinstance(e, RuntimeError) and issubclass(DesyncError, RuntimeError)
    assert str(e) == "rank 0, all_reduce(sum) #7: no message from rank 2"
    assert (e.rank, e.peer, e.op, e.seq) == (0, 2, "all_reduce(sum)", 7)
    assert not issubclass(DesyncError, CollectiveTimeout)
    assert issubclass(dist.PeerLost, CollectiveTimeout)
