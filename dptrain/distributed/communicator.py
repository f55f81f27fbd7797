"""The collective-communication interface and its world-size-1 implementation.

All collectives take and return numpy arrays. Results are new arrays of the
input's shape and dtype; the caller's input is never modified. Supported
dtypes: float32, float64, int32, int64. Reduction ops: "sum", "mean" (the sum
divided by the world size; for integer dtypes the floor of that quotient, as
numpy's `//`) and "max" (elementwise).
"""
from __future__ import annotations

import abc
from typing import List

import numpy as np

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64),
                    np.dtype(np.int32), np.dtype(np.int64))
REDUCE_OPS = ("sum", "mean", "max")


def check_array(a, what: str) -> np.ndarray:
    """`a` as a numpy array of a supported dtype (no copy when it already is one)."""
    if not isinstance(a, np.ndarray):
        a = np.asarray(a)
    if a.dtype not in SUPPORTED_DTYPES:
        names = ", ".join(d.name for d in SUPPORTED_DTYPES)
        raise TypeError(f"{what}: dtype {a.dtype} is not supported (use one of {names})")
    return a


def check_op(op: str) -> str:
    if op not in REDUCE_OPS:
        raise ValueError(f"all_reduce: unknown op {op!r} (use one of {', '.join(REDUCE_OPS)})")
    return op


def finish_mean(total: np.ndarray, world_size: int) -> np.ndarray:
    """Sum -> mean, in place, identically on every rank."""
    if total.dtype.kind == "f":
        np.divide(total, total.dtype.type(world_size), out=total)
    else:
        np.floor_divide(total, total.dtype.type(world_size), out=total)
    return total


class Communicator(abc.ABC):
    """A group of `world_size` processes; this one is `rank`.

    Every rank must call the same collectives in the same order with arrays of
    the same shape and dtype (broadcast: any array of that shape/dtype on the
    non-root ranks). `dropped` counts incoming messages that were rejected
    (wrong job token or unparseable) and never applied.
    """

    rank: int
    world_size: int

    @property
    def dropped(self) -> int:
        return 0

    @abc.abstractmethod
    def all_reduce(self, a: np.ndarray, op: str = "sum") -> np.ndarray:
        """Elementwise reduction over all ranks; the same bits on every rank."""

    @abc.abstractmethod
    def broadcast(self, a: np.ndarray, root: int = 0) -> np.ndarray:
        """Root's array on every rank (a copy, also on the root)."""

    @abc.abstractmethod
    def all_gather(self, a: np.ndarray) -> List[np.ndarray]:
        """Every rank's array, in rank order."""

    @abc.abstractmethod
    def barrier(self) -> None:
        """Return once every rank has entered the barrier."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release sockets and other resources; safe to call twice."""

    def check_root(self, root: int) -> int:
        if not isinstance(root, (int, np.integer)) or not 0 <= int(root) < self.world_size:
            raise ValueError(f"broadcast: root {root!r} is not a rank of a world of size {self.world_size}")
        return int(root)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SingleProcessCommunicator(Communicator):
    """World size 1: every collective returns a copy of its input; no sockets."""

    def __init__(self):
        self.rank = 0
        self.world_size = 1
        self._closed = False

    def _check_open(self, what: str):
        if self._closed:
            raise RuntimeError(f"{what}: the communicator is closed")

    def all_reduce(self, a, op="sum"):
        check_op(op)
        a = check_array(a, "all_reduce")
        self._check_open("all_reduce")
        out = np.array(a, copy=True, order="C")
        if op == "mean":
            finish_mean(out, 1)
        return out

    def broadcast(self, a, root=0):
        self.check_root(root)
        a = check_array(a, "broadcast")
        self._check_open("broadcast")
        return np.array(a, copy=True, order="C")

    def all_gather(self, a):
        a = check_array(a, "all_gather")
        self._check_open("all_gather")
        return [np.array(a, copy=True, order="C")]

    def barrier(self):
        self._check_open("barrier")

    def close(self):
        self._closed = True
