"""Errors raised by the collectives.

Every error names the rank that raised it, the peer it concerns, the
collective operation and that operation's sequence number, so that a log line
from any rank of a failed job says what went wrong where.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

Peer = Union[int, Sequence[int], None]


def _describe(rank: Optional[int], op: Optional[str], seq: Optional[int]) -> str:
    where = f"rank {rank}" if rank is not None else "this rank"
    if op is None:
        return where
    if seq is None:
        return f"{where}, {op}"
    return f"{where}, {op} #{seq}"


class CollectiveError(RuntimeError):
    """Base class: carries `rank`, `peer`, `op` and `seq` as attributes."""

    def __init__(self, detail: str, *, rank: Optional[int] = None, peer: Peer = None,
                 op: Optional[str] = None, seq: Optional[int] = None):
        self.rank = rank
        self.peer = peer
        self.op = op
        self.seq = seq
        self.detail = detail
        super().__init__(f"{_describe(rank, op, seq)}: {detail}")

    def __reduce__(self):  # keep the keyword arguments across copy/multiprocessing
        return (_rebuild, (type(self), self.detail, self.rank, self.peer, self.op, self.seq))


def _rebuild(cls, detail, rank, peer, op, seq):
    return cls(detail, rank=rank, peer=peer, op=op, seq=seq)


class CollectiveTimeout(CollectiveError):
    """A peer did not send what this rank was waiting for within the timeout."""


class PeerLost(CollectiveTimeout):
    """A peer's connection went away (process killed, host gone, heartbeats lost)."""


class RendezvousTimeout(CollectiveTimeout):
    """Rendezvous did not complete: `peer` lists the ranks that never arrived."""


class DesyncError(CollectiveError):
    """Ranks are out of step: a peer sent a different operation, sequence
    number, dtype, shape or chunk than this rank expected."""
