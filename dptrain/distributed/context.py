"""This process's place in the job, and module-level collectives on it.

    ctx = init()            # reads RANK, WORLD_SIZE, ... via launcher.env
    total = all_reduce(grad, op="mean")
    shutdown()

Without `init()`, the module-level collectives act on a world-size-1
context created on first use, unless the environment describes a
multi-process job: then they raise, because silently training each replica
alone would be wrong.

Environment knobs (all optional):
    DPTRAIN_SHM=0            no shared memory between ranks of one host
    DPTRAIN_SHM_BLOCK_KB=N   shared-memory block size (default 4096; rank 0's wins)
    DPTRAIN_TRANSPORT=tcp    sockets over tcp even on one host (default: ipc
                             there, tcp across hosts); "ipc" forces ipc
    DPTRAIN_CURVE=0|1        ZeroMQ CURVE on the tcp sockets (default: on when
                             MASTER_ADDR is not loopback); see curve.py
    DPTRAIN_MASTER_PORT=P    rank 0's rendezvous port (default MASTER_PORT, and
                             MASTER_PORT + 1 under torchrun)
"""
from __future__ import annotations

import atexit
import os
import threading
from dataclasses import dataclass, field
from typing import List, Mapping, Optional

import numpy as np

from launcher.env import ALLOW_MIXED_DEVICES, read_worker_env
from launcher.secret import job_secret

from .communicator import Communicator, SingleProcessCommunicator

TRANSPORT_VAR = "DPTRAIN_TRANSPORT"  # auto (default) | ipc | tcp


@dataclass
class Context:
    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    device: str
    communicator: Communicator = field(repr=False)
    source: str = "single"

    @property
    def comm(self) -> Communicator:
        return self.communicator


_lock = threading.RLock()
_current: Optional[Context] = None
_lazy = False


def init(timeout: float = 60.0, env: Optional[Mapping[str, str]] = None) -> Context:
    """Join the job described by the environment (or `env`) and return its context.

    World size 1 needs no sockets. Otherwise rank 0 serves the rendezvous on
    MASTER_ADDR:MASTER_PORT (MASTER_PORT + 1 under torchrun, whose agent holds
    MASTER_PORT; DPTRAIN_MASTER_PORT overrides both) and every rank connects to
    every other; `timeout` bounds the rendezvous and every later wait for a peer.
    The job secret comes from `launcher.secret.job_secret`. Calling init again
    returns the existing context.
    """
    global _current, _lazy
    with _lock:
        if _current is not None and not _lazy:
            return _current
        w = read_worker_env(env)
        environ = os.environ if env is None else env
        _use_device(w.device or "cpu")
        if w.world_size == 1:
            comm: Communicator = SingleProcessCommunicator()
        else:
            from .zmq_comm import ZmqCommunicator
            secret = job_secret(w, timeout)  # never empty; the error says how to give one
            try:
                comm = ZmqCommunicator(w.rank, w.world_size, token=secret.token,
                                       master_addr=w.master_addr, master_port=w.master_port,
                                       timeout=timeout,
                                       transport=environ.get(TRANSPORT_VAR, "") or "auto",
                                       backend=_backend_kind())
            finally:
                secret.release()  # every rank has joined (or none will): the file may go
        ctx = Context(w.rank, w.world_size, w.local_rank, w.local_world_size, w.device or "cpu", comm, w.source)
        _check_one_backend(ctx, environ)
        if _current is not None:
            _current.communicator.close()
        _current, _lazy = ctx, False
        _register_fit_strategy(_current)
        return _current


def _use_device(spec: str) -> None:
    """Run this worker's ops on the device the launcher gave it (DPTRAIN_DEVICE)."""
    if spec.startswith("vulkan"):
        from engine.device import device
        device(spec)


def _backend_kind() -> str:
    from engine.device import current_device
    return current_device().kind


def _check_one_backend(ctx, environ) -> None:
    """Every rank must compute on the same backend: Vulkan and numpy round differently, so a
    mixed job's weights drift apart. A rank whose GPU failed to open (and fell back to the CPU)
    is caught here, at start-up, rather than as a weight mismatch hundreds of steps later."""
    if ctx.world_size == 1 or environ.get(ALLOW_MIXED_DEVICES, "") == "1":
        return
    kinds = [rec.get("backend", "unknown") for rec in ctx.communicator.endpoints]
    if len(set(kinds)) > 1:
        by_rank = ", ".join(f"rank {r}: {k}" for r, k in enumerate(kinds))
        ctx.communicator.close()
        raise RuntimeError(
            f"dptrain.distributed.init: the ranks of this job run on different backends ({by_rank}); "
            f"their numerics differ and the replicas would drift apart. Give every rank a GPU "
            f"(ranks may share one), run all on the CPU (--devices cpu), or allow it explicitly with "
            f"dptrain-launch --allow-mixed-devices ({ALLOW_MIXED_DEVICES}=1)")


def _register_fit_strategy(ctx) -> None:
    """Keras fit/evaluate shard the data and average gradients when the world has several ranks."""
    from ..models.strategy import set_strategy
    if ctx.world_size > 1:
        from .keras_strategy import DataParallelStrategy
        set_strategy(DataParallelStrategy(ctx))
    else:
        set_strategy(None)


def get_context() -> Context:
    """The current context; a world-size-1 one when `init` was never called."""
    global _current, _lazy
    with _lock:
        if _current is None:
            w = read_worker_env()
            if w.world_size > 1:
                raise RuntimeError(
                    f"this process is rank {w.rank} of a {w.world_size}-process job "
                    f"({w.source}); call dptrain.distributed.init() before any collective")
            _current = Context(0, 1, 0, 1, w.device or "cpu", SingleProcessCommunicator(), w.source)
            _lazy = True
        return _current


def shutdown() -> None:
    """Close the current context's communicator; the next use starts afresh."""
    global _current, _lazy
    with _lock:
        ctx, _current, _lazy = _current, None, False
    if ctx is not None:
        from ..models.strategy import set_strategy
        set_strategy(None)
        ctx.communicator.close()


atexit.register(shutdown)


def all_reduce(a: np.ndarray, op: str = "sum") -> np.ndarray:
    """The elementwise sum / mean / max of `a` over every rank (identical bits on every rank)."""
    return get_context().communicator.all_reduce(a, op=op)


def broadcast(a: np.ndarray, root: int = 0) -> np.ndarray:
    """`root`'s `a` on every rank (every rank passes an array of the same shape and dtype)."""
    return get_context().communicator.broadcast(a, root=root)


def all_gather(a: np.ndarray) -> List[np.ndarray]:
    """Every rank's `a`, as a list in rank order."""
    return get_context().communicator.all_gather(a)


def barrier() -> None:
    """Wait until every rank has reached this point (or raise after the timeout, naming the missing)."""
    get_context().communicator.barrier()
