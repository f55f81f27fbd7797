"""Shared-memory collectives for ranks on one host.

Rank 0 creates one segment (a file in /dev/shm, space reserved up front so a
full tmpfs is an error at set-up, never a SIGBUS later), sends its name to the
others over ZeroMQ, and unlinks it as soon as everyone has it mapped: nothing
is left behind even if every process is killed. Layout, with S = chunk bytes
(cache-sized) and D = DEPTH chunk slots per rank::

    control[rank]        1 KiB per rank: progress counters, a wake-up word, descriptors
    in[rank][slot]       N x D slots of S bytes     out[slot]   D slots of S bytes

Arrays travel in chunks of up to S bytes; chunk number t (counted over the
communicator's life, the same on every rank) uses slot t % D, so up to D
chunks are in flight. Ranks tell each other where they are through three
counters in their control record, written after the data they announce
(x86-64 keeps stores in order, which is why this path needs it):

    posted   my input chunk t is in in[me][t % D]
    reduced  my 1/N share of chunk t is reduced into out[t % D]
    done     I no longer read anything of chunk t (its slots may be rewritten)

all_reduce of chunk t: wait until every peer is done with chunk t - D, copy
my chunk in, post; wait for every peer's post; then either reduce the whole
chunk myself straight into the result (world size 2 or small chunks: one
wait per chunk), or reduce only my 1/N share into out (reduce-scatter), wait
for every share and copy out (all-gather). Contributions are always combined
in rank order 0..N-1, so every rank gets the same bits, the same as the
socket path's direct exchange.

A waiting rank spins a few microseconds, then sleeps on a futex in its own
control record, which a peer rings only when the waiter says it sleeps. Every
millisecond or so it also looks at the ZeroMQ mesh, so timeouts, lost peers
and aborts from peers are handled exactly as on the socket path. Each posted
chunk carries a descriptor (the collective's sequence number and a hash of
its op, dtype and shape): ranks out of step raise DesyncError.
"""
from __future__ import annotations

import ctypes
import hashlib
import mmap
import os
import platform
import secrets
import sys
import time
import zlib
from typing import List, Optional

import numpy as np

from .communicator import finish_mean
from .errors import DesyncError, PeerLost
from .mesh import LOST_GRACE_S, Mesh

SHM_DIR = "/dev/shm"
# Chunk size: one chunk's working set (this rank's slot, a peer's, the result)
# stays in the last-level cache, and the per-chunk Python overhead (~10 us) is
# small next to moving it; measured best at 1 MiB for 2 and 4 ranks (256 KiB:
# 5-15% slower; 4 ranks on 2 cores want large chunks, each wait may cost a
# context switch).
BLOCK_BYTES = 1 << 20
DEPTH = 4
# Up to this chunk size every rank reduces the whole chunk itself (one wait per
# chunk); above, reduce-scatter + all-gather (less memory traffic for N > 2).
FULL_REDUCE_MAX = 32 << 10
SPIN_S = 200e-6          # busy-wait (yielding the CPU) this long before sleeping
SLEEP_NS = 1_000_000     # a sleeper re-checks at least this often (a missed wake-up costs no more)
CHECK_S = 0.005          # how often a sleeper looks at the mesh (aborts, lost peers, timeout)
PUMP_S = 0.01            # and how often any collective does (unread messages are counted, not piled up)

REUSE_MIN = 1 << 20     # results this large are recycled once the caller dropped them

_yield = os.sched_yield
_REDUCE = {"sum": np.add, "mean": np.add, "max": np.maximum}

# control record: REC int64 words per rank
REC = 192
POSTED, REDUCED, DONE, WAITING, BELL = 0, 8, 16, 24, 32   # separate cache lines
DESC = 40               # 3 words per slot: chunk number, sequence number, signature
EXTRA, EXTRA_MAX = 56, 8  # per slot: a few float64 values gathered along with an all-reduce
TEXT_LEN, TEXT = 95, 96  # the current collective's description, for error messages
TEXT_MAX = (REC - TEXT) * 8
assert DESC + 3 * DEPTH <= EXTRA and EXTRA + EXTRA_MAX * DEPTH <= TEXT_LEN

_FUTEX_NR = {"x86_64": 202, "amd64": 202}


def available() -> bool:
    """Whether this host can use the shared-memory path (x86-64 Linux: ordered stores, futexes)."""
    return platform.machine().lower() in _FUTEX_NR and os.path.isdir(SHM_DIR)


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Futex:
    """FUTEX_WAIT / FUTEX_WAKE on a shared mapping (ctypes releases the GIL during the call)."""

    def __init__(self):
        self._nr = _FUTEX_NR[platform.machine().lower()]
        self._call = ctypes.CDLL(None, use_errno=True).syscall
        self._ts = ctypes.byref(_Timespec(0, SLEEP_NS))

    def wait(self, addr: int, value: int) -> None:
        self._call(self._nr, ctypes.c_void_p(addr), 0, ctypes.c_int(value), self._ts, None, 0)

    def wake(self, addr: int) -> None:
        self._call(self._nr, ctypes.c_void_p(addr), 1, ctypes.c_int(1 << 30), None, None, 0)


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
            os.posix_fallocate(fd, 0, size)  # ENOSPC now rather than SIGBUS later (and zeros)
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


def _ctl_bytes(world_size: int) -> int:
    return -(-world_size * REC * 8 // 4096) * 4096


class ShmCollectives:
    """all_reduce / broadcast / all_gather through one Segment; the mesh only for failures."""

    def __init__(self, mesh: Mesh, token: bytes, seg: Segment, block_bytes: int):
        self.mesh, self.token, self.seg = mesh, token, seg
        self.rank, self.N = mesh.rank, mesh.world_size
        self.S = block_bytes
        self.chunks = 0                     # chunks so far (the same count on every rank)
        self.peers = [(self.rank + i) % self.N for i in range(1, self.N)]
        nctl = _ctl_bytes(self.N)
        self._ctl = seg.buf[:nctl].view(np.int64)
        self._bells = seg.buf[:nctl].view(np.int32)
        self._in0 = nctl
        self._out0 = nctl + self.N * DEPTH * self.S
        base = seg.buf.ctypes.data
        self._bell_addr = [base + (p * REC + BELL) * 8 for p in range(self.N)]
        self._futex = _Futex()
        self.spin_s = SPIN_S
        self.wait_s = 0.0                   # time spent waiting for peers, in total
        self._pumped = time.monotonic()
        self._last: Optional[np.ndarray] = None

    @staticmethod
    def segment_bytes(world_size: int, block_bytes: int) -> int:
        return _ctl_bytes(world_size) + (world_size + 1) * DEPTH * block_bytes

    # ------------------------------------------------------------ slots
    def _slot(self, slot: int, rank: int, dt: np.dtype, count: int) -> np.ndarray:
        off = self._in0 + (rank * DEPTH + slot) * self.S
        return self.seg.buf[off:off + count * dt.itemsize].view(dt)

    def _out(self, slot: int, dt: np.dtype, count: int) -> np.ndarray:
        off = self._out0 + slot * self.S
        return self.seg.buf[off:off + count * dt.itemsize].view(dt)

    def _result(self, n: int, dt: np.dtype) -> np.ndarray:
        """A new result array; for large ones, the previous one when nothing else refers to it
        any more (the caller dropped it): fresh pages would cost a page fault and a zeroing
        pass each, as much as the reduction itself."""
        old = self._last
        if old is not None and old.size == n and old.dtype == dt and sys.getrefcount(old) == 3:
            return old   # the references: self._last, `old`, getrefcount's argument
        res = np.empty(n, dtype=dt)
        self._last = res if res.nbytes >= REUSE_MIN else None
        return res

    def _chunks(self, n: int, itemsize: int):
        per = max(1, self.S // itemsize)
        return [(lo, min(n, lo + per)) for lo in range(0, n, per)] or [(0, 0)]

    # ------------------------------------------------------------ signalling
    def _set(self, field: int, t: int) -> None:
        """Announce progress `t` in `field`; ring the peers that sleep."""
        ctl = self._ctl
        ctl[self.rank * REC + field] = t
        for p in self.peers:
            if ctl[p * REC + WAITING]:
                self._bells[(p * REC + BELL) * 2] += 1
                self._futex.wake(self._bell_addr[p])

    def _wait(self, field: int, t: int, peers, name: str, seq: int) -> None:
        """Return once every rank in `peers` has announced at least `t` in `field`."""
        ctl = self._ctl
        pend = [p for p in peers if ctl[p * REC + field] < t]
        if not pend:
            return
        t0 = time.perf_counter()
        spin_end = t0 + self.spin_s
        spins = 0
        while True:
            pend = [p for p in pend if ctl[p * REC + field] < t]
            if not pend:
                self.wait_s += time.perf_counter() - t0
                return
            spins += 1
            if spins & 7 == 0:
                if time.perf_counter() > spin_end:
                    break
                _yield()   # a peer (or anything else) waiting for this CPU gets it
        mesh, me = self.mesh, self.rank
        bell_i, bell_addr = (me * REC + BELL) * 2, self._bell_addr[me]
        deadline = time.monotonic() + mesh.timeout
        checked = time.monotonic()
        try:
            while True:
                ctl[me * REC + WAITING] = 1
                bell = int(self._bells[bell_i])
                pend = [p for p in pend if ctl[p * REC + field] < t]
                if not pend:
                    return
                self._futex.wait(bell_addr, bell)
                now = time.monotonic()
                if now - checked >= CHECK_S:
                    checked = now
                    self._check(pend, name, seq, now, deadline)
        finally:
            ctl[me * REC + WAITING] = 0
            self.wait_s += time.perf_counter() - t0

    def _check(self, pend, name: str, seq: int, now: float, deadline: float) -> None:
        """While waiting: raise for a peer's abort, a lost peer, or the timeout."""
        mesh = self.mesh
        mesh._pump(0)
        if mesh._aborts:
            raise mesh._explain(name, seq, pend[0])
        for p in pend:
            lost_at = mesh._lost.get(p)
            if lost_at is not None and now - lost_at > LOST_GRACE_S:
                raise PeerLost(f"connection to rank {p} was lost (process gone or heartbeats "
                               "stopped) while waiting for it in shared memory",
                               rank=self.rank, peer=p, op=name, seq=seq)
        if now >= deadline:
            raise mesh._timed_out(pend[0], name, seq,
                                  f"no progress from rank {pend[0]} within {mesh.timeout:g} s "
                                  f"(waiting in shared memory for {name} #{seq})")

    # ------------------------------------------------------------ descriptors
    def _begin(self, name: str, seq: int, dt: np.dtype, shape) -> int:
        """Describe the collective this rank enters; returns its signature (op, dtype, shape)."""
        now = time.monotonic()
        if now - self._pumped > PUMP_S:
            self._pumped = now
            self.mesh._pump(0)
        what = f"{name} {dt.name} shape {tuple(shape)}"
        text = f"{name} #{seq} {dt.name} shape {tuple(shape)}".encode()[:TEXT_MAX]
        base = self.rank * REC
        off = (base + TEXT) * 8
        self.seg.buf[off:off + len(text)] = np.frombuffer(text, np.uint8)
        self._ctl[base + TEXT_LEN] = len(text)
        return zlib.crc32(what.encode())

    def _post(self, t: int, seq: int, sig: int) -> None:
        i = self.rank * REC + DESC + 3 * (t % DEPTH)
        self._ctl[i:i + 3] = (t, seq, sig)
        self._set(POSTED, t)

    def _verify(self, p: int, t: int, seq: int, sig: int, name: str) -> None:
        i = p * REC + DESC + 3 * (t % DEPTH)
        pt, pseq, psig = (int(v) for v in self._ctl[i:i + 3])
        if pt == t and pseq == seq and psig == sig:
            return
        n = int(self._ctl[p * REC + TEXT_LEN])
        off = (p * REC + TEXT) * 8
        theirs = bytes(self.seg.buf[off:off + n]).decode(errors="replace")
        n = int(self._ctl[self.rank * REC + TEXT_LEN])
        off = (self.rank * REC + TEXT) * 8
        mine = bytes(self.seg.buf[off:off + n]).decode(errors="replace")
        raise DesyncError(f"rank {p} is in {theirs} (chunk {pt}) but this rank is in {mine} "
                          f"(chunk {t})", rank=self.rank, peer=p, op=name, seq=seq)

    def _next(self) -> int:
        self.chunks += 1
        return self.chunks

    # ------------------------------------------------------------ collectives
    def all_reduce(self, seq: int, a: np.ndarray, op: str, name: str,
                   out: Optional[np.ndarray] = None, extra: Optional[np.ndarray] = None) -> np.ndarray:
        """The reduction of `a` over the ranks; into `out` (1-D, may be `a` itself) when given.
        `extra`: up to EXTRA_MAX float64 values, posted with the first chunk; every rank's are
        left in `self.extras` (an array, one row per rank): a gather at no extra round trip."""
        x = np.ascontiguousarray(a).reshape(-1)
        n, dt, N, r = x.size, x.dtype, self.N, self.rank
        res = self._result(n, dt) if out is None else out
        f = _REDUCE[op]
        sig = self._begin(name, seq, dt, a.shape)
        everyone = self.peers
        ne = 0 if extra is None else extra.size
        first = True
        for lo, hi in self._chunks(n, dt.itemsize):
            k = hi - lo
            t = self._next()
            slot = t % DEPTH
            if t > DEPTH:
                self._wait(DONE, t - DEPTH, everyone, name, seq)
            self._slot(slot, r, dt, k)[...] = x[lo:hi]
            ex = EXTRA + EXTRA_MAX * slot   # the extras travel with the first chunk, in its slot
            if first and ne:
                self._ctl[r * REC + ex:r * REC + ex + ne] = extra.view(np.int64)
            self._post(t, seq, sig)
            self._wait(POSTED, t, everyone, name, seq)
            for p in everyone:
                self._verify(p, t, seq, sig, name)
            if first and extra is not None:   # (N, 0) for no values, never a stale result
                self.extras = np.stack([self._ctl[p * REC + ex:p * REC + ex + ne].view(np.float64)
                                        for p in range(N)])
            first = False
            ins = [self._slot(slot, p, dt, k) for p in range(N)]
            if N == 2 or k * dt.itemsize <= FULL_REDUCE_MAX:
                dst = res[lo:hi]
                f(ins[0], ins[1], out=dst)
                for y in ins[2:]:
                    f(dst, y, out=dst)
                if op == "mean":
                    finish_mean(dst, N)
            else:
                s, e = k * r // N, k * (r + 1) // N
                share = self._out(slot, dt, k)[s:e]
                f(ins[0][s:e], ins[1][s:e], out=share)
                for y in ins[2:]:
                    f(share, y[s:e], out=share)
                if op == "mean":
                    finish_mean(share, N)
                self._set(REDUCED, t)
                self._wait(REDUCED, t, everyone, name, seq)
                res[lo:hi] = self._out(slot, dt, k)
            self._set(DONE, t)
        return res.reshape(a.shape) if out is None else out

    def broadcast(self, seq: int, a: np.ndarray, root: int, name: str) -> np.ndarray:
        x = np.ascontiguousarray(a).reshape(-1)
        n, dt = x.size, x.dtype
        out = np.array(x, copy=True) if self.rank == root else np.empty(n, dtype=dt)
        sig = self._begin(name, seq, dt, a.shape)
        for lo, hi in self._chunks(n, dt.itemsize):
            t = self._next()
            slot = t % DEPTH
            if self.rank == root:
                if t > DEPTH:
                    self._wait(DONE, t - DEPTH, self.peers, name, seq)
                self._slot(slot, root, dt, hi - lo)[...] = x[lo:hi]
                self._post(t, seq, sig)
            else:
                self._wait(POSTED, t, [root], name, seq)
                self._verify(root, t, seq, sig, name)
                out[lo:hi] = self._slot(slot, root, dt, hi - lo)
            self._set(DONE, t)
        return out.reshape(a.shape)

    def all_gather(self, seq: int, a: np.ndarray, name: str) -> List[np.ndarray]:
        x = np.ascontiguousarray(a).reshape(-1)
        n, dt = x.size, x.dtype
        outs = [np.empty(n, dtype=dt) for _ in range(self.N)]
        sig = self._begin(name, seq, dt, a.shape)
        for lo, hi in self._chunks(n, dt.itemsize):
            t = self._next()
            slot = t % DEPTH
            if t > DEPTH:
                self._wait(DONE, t - DEPTH, self.peers, name, seq)
            self._slot(slot, self.rank, dt, hi - lo)[...] = x[lo:hi]
            self._post(t, seq, sig)
            self._wait(POSTED, t, self.peers, name, seq)
            for p in self.peers:
                self._verify(p, t, seq, sig, name)
            for p in range(self.N):
                outs[p][lo:hi] = self._slot(slot, p, dt, hi - lo)
            self._set(DONE, t)
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
