"""Shared-memory collectives for ranks on one host.

Rank 0 creates one segment (a file in /dev/shm, space reserved up front so a
full tmpfs is an error at set-up, never a SIGBUS later), sends its name to the
others over ZeroMQ, and unlinks it as soon as everyone has it mapped: nothing
is left behind even if every process is killed. Layout, with S = block bytes::

    in[parity][rank]   2 x N slots of S bytes     out   one slot of S bytes

Arrays travel in blocks of up to S bytes. Every phase ends with a ZeroMQ
"sync": a header-only message (job token, op, sequence number, step, dtype,
shape, block) to every peer and one from every peer, so timeouts, lost
peers, desync and forged traffic are handled exactly as on the socket path.

all_reduce of a block: every rank copies its block into its slot, syncs, and
then either reduces the whole block itself (world size 2 or small blocks: one
sync per block; consecutive blocks alternate parity so a slot is never
rewritten while a peer may still read it), or reduces only its 1/N share
into `out`, syncs, and copies `out` (less memory traffic for large blocks).
Contributions are always combined in rank order 0..N-1, so every rank gets
the same bits, the same as the socket path's direct exchange.
"""
from __future__ import annotations

import hashlib
import mmap
import os
import secrets
from typing import List, Optional

import numpy as np

from . import wire
from .communicator import finish_mean
from .mesh import Expect, Mesh

SHM_DIR = "/dev/shm"
BLOCK_BYTES = 4 << 20
# At or below this block size every rank reduces the whole block itself.
FULL_REDUCE_MAX = 256 << 10

_REDUCE = {"sum": np.add, "mean": np.add, "max": np.maximum}


class Segment:
    """A mapped shared-memory file."""

    def __init__(self, path: str, size: int, fd: int, owner: bool):
        self.path, self.size, self.owner = path, size, owner
        try:
            self._mm = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self.buf = np.frombuffer(self._mm, dtype=np.uint8)
        self._linked = owner

    @classmethod
    def create(cls, token: bytes, size: int) -> "Segment":
        if not os.path.isdir(SHM_DIR):
            raise OSError(f"{SHM_DIR} does not exist")
        tag = hashlib.sha256(token).hexdigest()[:8]
        path = os.path.join(SHM_DIR, f"dptrain-{tag}-{os.getpid()}-{secrets.token_hex(4)}")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.posix_fallocate(fd, 0, size)  # ENOSPC now rather than SIGBUS later
        except BaseException:
            os.close(fd)
            os.unlink(path)
            raise
        return cls(path, size, fd, owner=True)

    @classmethod
    def attach(cls, path: str, size: int) -> "Segment":
        if os.path.dirname(path) != SHM_DIR or not os.path.basename(path).startswith("dptrain-"):
            raise OSError(f"refusing to map {path!r}: not a dptrain segment")
        fd = os.open(path, os.O_RDWR)
        if os.fstat(fd).st_size != size:
            os.close(fd)
            raise OSError(f"{path} has the wrong size")
        return cls(path, size, fd, owner=False)

    def unlink(self) -> None:
        if self._linked:
            self._linked = False
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def close(self) -> None:
        self.unlink()
        self.buf = None
        try:
            self._mm.close()
        except BufferError:  # a view is still alive somewhere; the GC unmaps it later
            pass


class ShmCollectives:
    """all_reduce / broadcast / all_gather through one Segment, synced over the mesh."""

    def __init__(self, mesh: Mesh, token: bytes, seg: Segment, block_bytes: int):
        self.mesh, self.token, self.seg = mesh, token, seg
        self.rank, self.N = mesh.rank, mesh.world_size
        self.S = block_bytes
        self.round = 0
        self._order = [(self.rank + i) % self.N for i in range(1, self.N)]

    @staticmethod
    def segment_bytes(world_size: int, block_bytes: int) -> int:
        return (2 * world_size + 1) * block_bytes

    def _slot(self, parity: int, rank: int, dt: np.dtype, count: int) -> np.ndarray:
        off = (parity * self.N + rank) * self.S
        return self.seg.buf[off:off + count * dt.itemsize].view(dt)

    def _out(self, dt: np.dtype, count: int) -> np.ndarray:
        off = 2 * self.N * self.S
        return self.seg.buf[off:off + count * dt.itemsize].view(dt)

    def _sync(self, name: str, seq: int, step: int, dname: str, shape, chunk) -> None:
        hdr = wire.encode(self.token, name, seq, step, self.rank, dname, shape, chunk)
        for p in self._order:
            self.mesh.send(p, hdr, b"", True, name, seq)
        ex = Expect(name, seq, step, dname, shape, chunk)
        for p in self.mesh.peers:
            self.mesh.recv(p, ex)

    def _blocks(self, n: int, itemsize: int):
        per = max(1, self.S // itemsize)
        return [(lo, min(n, lo + per)) for lo in range(0, n, per)] or [(0, 0)]

    def _next_parity(self) -> int:
        p = self.round & 1
        self.round += 1
        return p

    def all_reduce(self, seq: int, a: np.ndarray, op: str, name: str) -> np.ndarray:
        x = np.ascontiguousarray(a).reshape(-1)
        n, dt, N, r = x.size, x.dtype, self.N, self.rank
        out = np.empty(n, dtype=dt)
        f = _REDUCE[op]
        step = 0
        for lo, hi in self._blocks(n, dt.itemsize):
            k = hi - lo
            par = self._next_parity()
            self._slot(par, r, dt, k)[...] = x[lo:hi]
            self._sync(name, seq, step, dt.name, a.shape, (lo, hi))
            step += 1
            ins = [self._slot(par, p, dt, k) for p in range(N)]
            if N == 2 or k * dt.itemsize <= FULL_REDUCE_MAX:
                dst = out[lo:hi]
                f(ins[0], ins[1], out=dst)
                for y in ins[2:]:
                    f(dst, y, out=dst)
                if op == "mean":
                    finish_mean(dst, N)
            else:
                s, e = k * r // N, k * (r + 1) // N
                dst = self._out(dt, k)[s:e]
                f(ins[0][s:e], ins[1][s:e], out=dst)
                for y in ins[2:]:
                    f(dst, y[s:e], out=dst)
                if op == "mean":
                    finish_mean(dst, N)
                self._sync(name, seq, step, dt.name, a.shape, (lo, hi))
                step += 1
                out[lo:hi] = self._out(dt, k)
        return out.reshape(a.shape)

    def broadcast(self, seq: int, a: np.ndarray, root: int, name: str) -> np.ndarray:
        x = np.ascontiguousarray(a).reshape(-1)
        n, dt = x.size, x.dtype
        if self.rank == root:
            out = np.array(x, copy=True)
        else:
            out = np.empty(n, dtype=dt)
        for step, (lo, hi) in enumerate(self._blocks(n, dt.itemsize)):
            par = self._next_parity()
            slot = self._slot(par, root, dt, hi - lo)
            if self.rank == root:
                slot[...] = x[lo:hi]
            self._sync(name, seq, step, dt.name, a.shape, (lo, hi))
            if self.rank != root:
                out[lo:hi] = slot
        return out.reshape(a.shape)

    def all_gather(self, seq: int, a: np.ndarray, name: str) -> List[np.ndarray]:
        x = np.ascontiguousarray(a).reshape(-1)
        n, dt = x.size, x.dtype
        outs = [np.empty(n, dtype=dt) for _ in range(self.N)]
        for step, (lo, hi) in enumerate(self._blocks(n, dt.itemsize)):
            par = self._next_parity()
            self._slot(par, self.rank, dt, hi - lo)[...] = x[lo:hi]
            self._sync(name, seq, step, dt.name, a.shape, (lo, hi))
            for p in range(self.N):
                outs[p][lo:hi] = self._slot(par, p, dt, hi - lo)
        return [o.reshape(a.shape) for o in outs]

    def close(self) -> None:
        self.seg.close()


def setup_name(seg: Optional[Segment]) -> np.ndarray:
    """The segment's path as a fixed-size uint8 array (all zeros: no segment)."""
    buf = np.zeros(256, dtype=np.uint8)
    if seg is not None:
        raw = seg.path.encode()
        buf[:len(raw)] = np.frombuffer(raw, dtype=np.uint8)
    return buf


def parse_name(buf: np.ndarray) -> str:
    return bytes(buf).rstrip(b"\0").decode(errors="replace")
