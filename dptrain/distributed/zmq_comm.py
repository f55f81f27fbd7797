"""The ZeroMQ communicator: collectives over the mesh of PUSH/PULL sockets.

all_reduce: up to `direct_max_bytes` (256 KiB) every rank sends its array to every
other rank and sums the contributions in rank order 0..N-1; above it, a ring
(reduce-scatter, then all-gather of the reduced chunks), with each chunk cut
into pieces so that reducing overlaps the transfer. Either way every rank
ends with the same bits, and a run repeats bit-for-bit for a given world size.
Payloads of `zero_copy_min` bytes and more are sent zero-copy; the buffer is
not touched (nor handed back to the caller) until ZeroMQ has released it.
"""
from __future__ import annotations

import os
import time
from typing import List, Optional

import numpy as np

from . import rendezvous, shm, wire
from .curve import CurveKeys, keys_for as curve_keys_for, rendezvous_keys as curve_rendezvous_keys
from .communicator import Communicator, check_array, check_op, finish_mean
from .errors import CollectiveError, DesyncError
from .mesh import Expect, Mesh

SHM_VAR = "DPTRAIN_SHM"  # "0" turns the shared-memory path off
SHM_BLOCK_VAR = "DPTRAIN_SHM_BLOCK_KB"  # block size of the shared-memory path (rank 0's counts)
DIRECT_MAX_BYTES = 256 * 1024
ZERO_COPY_MIN = 64 * 1024
PIECE_BYTES = 1 << 20

_REDUCE = {"sum": np.add, "mean": np.add, "max": np.maximum}


class ZmqCommunicator(Communicator):
    """Collectives among `world_size` processes (normally made by `context.init`).

    timeout: the longest wait for any one message from a peer (and for the
      rendezvous); then `CollectiveTimeout` naming the peer, the op and its number.
    heartbeat_timeout: ZeroMQ heartbeats (every second) declare a connection dead
      after this long; default min(max(timeout, 3), 10) s. A killed process is
      noticed at once (its sockets close) and raises `PeerLost` within about a second.
    transport: "auto" (ipc:// on one host, tcp across hosts), "ipc" or "tcp".
    shared_memory: None reads DPTRAIN_SHM (default on); used only when every rank
      is on this host (x86-64 Linux). shm_block_bytes: None reads DPTRAIN_SHM_BLOCK_KB
      (default 256 KiB: the chunk size, cache-sized).
    backend: this rank's engine backend ("cpu" / "vulkan"), shared at the rendezvous so every
      rank can see each one's in `endpoints[r]["backend"]`.
    curve: ZeroMQ CURVE on the tcp sockets, keys derived from the token; None reads
      DPTRAIN_CURVE (default: on when MASTER_ADDR is not loopback, and on the rendezvous
      socket always), see curve.py.
    direct_max_bytes, piece_bytes, zero_copy_min: the socket path's algorithm knobs.
    """

    def __init__(self, rank: int, world_size: int, *, token: str | bytes, master_addr: str,
                 master_port: int, timeout: float = 60.0, transport: str = "auto",
                 direct_max_bytes: int = DIRECT_MAX_BYTES, zero_copy_min: int = ZERO_COPY_MIN,
                 piece_bytes: int = PIECE_BYTES, heartbeat_timeout: Optional[float] = None,
                 shared_memory: Optional[bool] = None, shm_block_bytes: Optional[int] = None,
                 backend: Optional[str] = None, curve: Optional[bool] = None):
        if world_size < 2 or not 0 <= rank < world_size:
            raise ValueError(f"ZmqCommunicator needs world_size >= 2 and 0 <= rank < world_size "
                             f"(got rank {rank}, world size {world_size})")
        self.rank, self.world_size = rank, world_size
        self.timeout = float(timeout)
        self.direct_max_bytes = int(direct_max_bytes)
        self.zero_copy_min = int(zero_copy_min)
        self.piece_bytes = max(8, int(piece_bytes))
        self._token = token.encode() if isinstance(token, str) else bytes(token)
        if not self._token:
            raise ValueError("ZmqCommunicator needs the job's secret token: an empty one would "
                             "let anyone who can reach the sockets into the job")
        self._seq = 0
        self._broken: Optional[BaseException] = None
        self._closed = False
        self._rdv = rendezvous.Counter()
        self._shm: Optional[shm.ShmCollectives] = None
        if shared_memory is None:
            shared_memory = os.environ.get(SHM_VAR, "1") != "0"
        if shm_block_bytes is None:
            kb = os.environ.get(SHM_BLOCK_VAR, "")
            shm_block_bytes = int(kb) << 10 if kb else shm.BLOCK_BYTES
        if curve is None:
            keys = curve_keys_for(self._token, master_addr)
            rdv_keys = curve_rendezvous_keys(self._token, master_addr)  # CURVE on one host too
        else:
            keys = rdv_keys = CurveKeys.from_token(self._token) if curve else None
        self.mesh = Mesh(rank, world_size, self._token, timeout=timeout, master_addr=master_addr,
                         master_port=master_port, transport=transport,
                         heartbeat_timeout=heartbeat_timeout,
                         max_message_bytes=max(self.piece_bytes, self.direct_max_bytes), curve=keys)
        server = None
        try:
            deadline = time.monotonic() + self.timeout
            kw = dict(world_size=world_size, token=self._token, master_addr=master_addr,
                      master_port=master_port, timeout=self.timeout,
                      info=dict(self.mesh.info(), **({"backend": backend} if backend else {})),
                      counter=self._rdv, curve=rdv_keys)
            if rank == 0:
                table, server = rendezvous.serve(self.mesh.ctx, **kw)
            else:
                table = rendezvous.join(self.mesh.ctx, rank=rank, **kw)
            self.endpoints = table
            self.mesh.connect(table, deadline)
            self.barrier()
            if shared_memory and shm.available() and all(rec["host"] == table[0]["host"] for rec in table):
                self._setup_shm(int(shm_block_bytes))
            # Set-up is complete on every rank and all its messages are consumed:
            # the caller's first collective is #0 in every message.
            self._seq = 0
        except BaseException:
            if server is not None:
                server.close(0)
            self.mesh.close(linger=0)
            self._closed = True
            raise
        if server is not None:
            server.close()

    def _setup_shm(self, block_bytes: int) -> None:
        """Rank 0 creates the segment; everyone maps it; rank 0 unlinks it. Any
        failure anywhere leaves every rank on the socket path."""
        mine = np.array([max(4096, block_bytes) // 4096 * 4096], dtype=np.int64)
        block_bytes = int(self._run("shm_setup", self._broadcast, mine, 0, "shm_setup")[0])
        size = shm.ShmCollectives.segment_bytes(self.world_size, block_bytes)
        seg = None
        if self.rank == 0:
            try:
                seg = shm.Segment.create(self._token, size)
            except OSError:
                seg = None
        try:
            name = shm.setup_name(seg)
            path = shm.parse_name(self._run("shm_setup", self._broadcast, name, 0, "shm_setup"))
            if path and self.rank != 0:
                try:
                    seg = shm.Segment.attach(path, size)
                except OSError:
                    seg = None
            mine = np.array([seg is not None], dtype=np.int32)
            ok = all(int(x[0]) for x in self._run("shm_setup", self._all_gather, mine))
        except BaseException:
            if seg is not None:
                seg.close()  # unlinks it too, on rank 0
            raise
        if seg is not None:
            seg.unlink()  # everyone has it mapped (or gave up): no name left behind
            if not ok:
                seg.close()
        if ok:
            self._shm = shm.ShmCollectives(self.mesh, self._token, seg, block_bytes)

    @property
    def uses_shm(self) -> bool:
        return self._shm is not None

    @property
    def uses_curve(self) -> bool:
        """Whether the tcp sockets (rendezvous, data across hosts) use ZeroMQ CURVE."""
        return self.mesh.curve is not None

    # ----------------------------------------------------------- bookkeeping
    @property
    def dropped(self) -> int:
        return self.mesh.dropped + self._rdv.dropped

    @property
    def endpoint(self) -> str:
        """This rank's data endpoint as its peers reach it."""
        return self.mesh.ipc_url or self.mesh.tcp_url

    def _begin(self, what: str) -> int:
        if self._closed:
            raise RuntimeError(f"rank {self.rank}: {what}: the communicator is closed")
        if self._broken is not None:
            b = self._broken
            cls = type(b) if isinstance(b, CollectiveError) else CollectiveError
            raise cls(f"communicator unusable after an earlier failure ({b})", rank=self.rank,
                      op=what, seq=self._seq)
        seq = self._seq
        self._seq += 1
        return seq

    def _run(self, what: str, fn, *args):
        seq = self._begin(what)
        try:
            self.mesh.check_aborts(what, seq)
            return fn(seq, *args)
        except BaseException as e:
            self._broken = e
            if isinstance(e, CollectiveError):
                self.mesh.abort(e, what, seq)
            raise

    def _send(self, dst, hdr, arr, pending, op, seq):
        copy = arr.nbytes < self.zero_copy_min
        t = self.mesh.send(dst, hdr, arr, copy, op, seq)
        if t is not None:
            pending.append((dst, t))

    def _payload(self, h: wire.Header, dtype: np.dtype, count: int, op: str, seq: int) -> np.ndarray:
        x = np.frombuffer(h.payload.buffer, dtype=dtype)
        if x.size != count:
            raise DesyncError(f"rank {h.src} sent {len(h.payload.buffer)} payload bytes for "
                              f"{count} elements of {dtype}", rank=self.rank, peer=h.src, op=op,
                              seq=seq)
        return x

    def _order(self):
        """Peers starting after this rank, so that not everyone sends to rank 0 first."""
        n, r = self.world_size, self.rank
        return [(r + i) % n for i in range(1, n)]

    # ----------------------------------------------------------- collectives
    def all_reduce(self, a, op="sum"):
        check_op(op)
        a = check_array(a, "all_reduce")
        name = f"all_reduce({op})"
        return self._run(name, self._all_reduce, a, op, name)

    def all_reduce_inplace(self, a, op="sum", extra=None):
        """all_reduce written back into `a` (a C-contiguous, writable array), which is returned:
        no result array is allocated, and on the shared-memory path nothing is copied twice.

        extra: a few float64 values (at most shm.EXTRA_MAX) gathered from every rank along with
        the reduction (on the shared-memory path at no extra round trip); then (a, an array of
        shape (world_size, len(extra)): every rank's values in rank order) is returned.
        """
        check_op(op)
        a = check_array(a, "all_reduce_inplace")
        if not (a.flags.c_contiguous and a.flags.writeable):
            raise ValueError("all_reduce_inplace: the array must be C-contiguous and writable")
        if extra is not None:
            extra = np.ascontiguousarray(extra, dtype=np.float64).reshape(-1)
            if extra.size > shm.EXTRA_MAX:
                raise ValueError(f"all_reduce_inplace: at most {shm.EXTRA_MAX} extra values, got {extra.size}")
            if self._shm is None:   # the socket path: one small exchange first
                got = np.stack(self.all_gather(extra))
                return self.all_reduce_inplace(a, op), got
        name = f"all_reduce({op})"
        total = self._run(name, self._all_reduce, a, op, name, a.reshape(-1), extra)
        return a if extra is None else (a, total)

    def _all_reduce(self, seq, a, op, name, out=None, extra=None):
        if self._shm is not None:
            res = self._shm.all_reduce(seq, a, op, name, out, extra)
            return res if extra is None else self._shm.extras
        if a.nbytes <= self.direct_max_bytes or a.size < self.world_size:
            res = self._direct_all_reduce(seq, a, op, name)
            if out is None:
                return res
            out[...] = res.reshape(-1)
            return out
        if out is None:
            work = np.array(a, order="C", copy=True).reshape(-1)
        else:
            work = out
            if not np.shares_memory(out, a):
                out[...] = a.reshape(-1)
        self._ring_all_reduce(seq, work, op, name, a.shape)
        return work.reshape(a.shape) if out is None else out

    def _direct_all_reduce(self, seq, a, op, name):
        mine = np.ascontiguousarray(a).reshape(-1)
        n, dt = mine.size, mine.dtype
        hdr = wire.encode(self._token, name, seq, 0, self.rank, dt.name, a.shape, (0, n))
        pending: list = []
        for p in self._order():
            self._send(p, hdr, mine, pending, name, seq)
        parts: List[Optional[np.ndarray]] = [None] * self.world_size
        parts[self.rank] = mine
        ex = Expect(name, seq, 0, dt.name, a.shape, (0, n))
        for p in self.mesh.peers:
            parts[p] = self._payload(self.mesh.recv(p, ex), dt, n, name, seq)
        out = np.empty(n, dtype=dt)
        f = _REDUCE[op]
        f(parts[0], parts[1], out=out)
        for x in parts[2:]:
            f(out, x, out=out)
        if op == "mean":
            finish_mean(out, self.world_size)
        self.mesh.wait_sent(pending, name, seq)
        return out.reshape(a.shape)

    def _pieces(self, lo: int, hi: int, itemsize: int):
        """[lo, hi) cut into messages of at most `piece_bytes` (one, even when empty)."""
        step = max(1, self.piece_bytes // itemsize)
        return [(i, min(i + step, hi)) for i in range(lo, hi, step)] or [(lo, hi)]

    def _ring_all_reduce(self, seq, work, op, name, shape):
        N, r = self.world_size, self.rank
        n, dt = work.size, work.dtype
        bounds = [c * n // N for c in range(N + 1)]
        right, left = (r + 1) % N, (r - 1) % N
        f = _REDUCE[op]
        pend: List[list] = [[] for _ in range(N)]  # zero-copy sends still reading chunk c
        enc = wire.encode
        tok, me, dname = self._token, self.rank, dt.name
        # reduce-scatter: after step k, chunk (r-k-1) holds k+2 contributions
        for k in range(N - 1):
            sc, rc = (r - k) % N, (r - k - 1) % N
            for s, e in self._pieces(bounds[sc], bounds[sc + 1], dt.itemsize):
                self._send(right, enc(tok, name, seq, k, me, dname, shape, (s, e)), work[s:e],
                           pend[sc], name, seq)
            for s, e in self._pieces(bounds[rc], bounds[rc + 1], dt.itemsize):
                h = self.mesh.recv(left, Expect(name, seq, k, dname, shape, (s, e)))
                seg = work[s:e]
                f(seg, self._payload(h, dt, e - s, name, seq), out=seg)
        own = (r + 1) % N
        if op == "mean":
            finish_mean(work[bounds[own]:bounds[own + 1]], N)
        # all-gather: pass the reduced chunks around the ring
        for k in range(N - 1):
            sc, rc = (r + 1 - k) % N, (r - k) % N
            step = N - 1 + k
            for s, e in self._pieces(bounds[sc], bounds[sc + 1], dt.itemsize):
                self._send(right, enc(tok, name, seq, step, me, dname, shape, (s, e)), work[s:e],
                           pend[sc], name, seq)
            self.mesh.wait_sent(pend[rc], name, seq)  # chunk rc is about to be overwritten
            for s, e in self._pieces(bounds[rc], bounds[rc + 1], dt.itemsize):
                h = self.mesh.recv(left, Expect(name, seq, step, dname, shape, (s, e)))
                work[s:e] = self._payload(h, dt, e - s, name, seq)
        for p in pend:
            self.mesh.wait_sent(p, name, seq)

    def broadcast(self, a, root=0):
        root = self.check_root(root)
        a = check_array(a, "broadcast")
        name = f"broadcast(root={root})"
        return self._run(name, self._broadcast, a, root, name)

    def _broadcast(self, seq, a, root, name):
        if self._shm is not None:
            return self._shm.broadcast(seq, a, root, name)
        mine = np.ascontiguousarray(a).reshape(-1)
        n, dt = mine.size, mine.dtype
        pieces = self._pieces(0, n, dt.itemsize)
        ack_ex = Expect(name, seq, 1, dt.name, a.shape, (0, 0))
        if self.rank == root:
            hdrs = [wire.encode(self._token, name, seq, 0, self.rank, dt.name, a.shape, (s, e))
                    for s, e in pieces]
            pending: list = []
            for p in self._order():
                for hdr, (s, e) in zip(hdrs, pieces):
                    self._send(p, hdr, mine[s:e], pending, name, seq)
            for p in self.mesh.peers:  # acks: every rank took part in this broadcast
                self._payload(self.mesh.recv(p, ack_ex), dt, 0, name, seq)
            self.mesh.wait_sent(pending, name, seq)
            return np.array(a, order="C", copy=True)
        out = np.empty(n, dtype=dt)
        for s, e in pieces:
            h = self.mesh.recv(root, Expect(name, seq, 0, dt.name, a.shape, (s, e)))
            out[s:e] = self._payload(h, dt, e - s, name, seq)
        ack = wire.encode(self._token, name, seq, 1, self.rank, dt.name, a.shape, (0, 0))
        self.mesh.send(root, ack, b"", True, name, seq)
        return out.reshape(a.shape)

    def all_gather(self, a):
        a = check_array(a, "all_gather")
        return self._run("all_gather", self._all_gather, a)

    def _all_gather(self, seq, a):
        name = "all_gather"
        if self._shm is not None:
            return self._shm.all_gather(seq, a, name)
        mine = np.ascontiguousarray(a).reshape(-1)
        n, dt = mine.size, mine.dtype
        pieces = self._pieces(0, n, dt.itemsize)
        hdrs = [wire.encode(self._token, name, seq, 0, self.rank, dt.name, a.shape, (s, e))
                for s, e in pieces]
        pending: list = []
        for p in self._order():
            for hdr, (s, e) in zip(hdrs, pieces):
                self._send(p, hdr, mine[s:e], pending, name, seq)
        out: List[Optional[np.ndarray]] = [None] * self.world_size
        for p in self.mesh.peers:
            got = np.empty(n, dtype=dt)
            for s, e in pieces:
                h = self.mesh.recv(p, Expect(name, seq, 0, dt.name, a.shape, (s, e)))
                got[s:e] = self._payload(h, dt, e - s, name, seq)
            out[p] = got.reshape(a.shape)
        out[self.rank] = np.array(a, order="C", copy=True)
        self.mesh.wait_sent(pending, name, seq)
        return out

    def barrier(self):
        self._run("barrier", self._barrier)

    def _barrier(self, seq):
        hdr = wire.encode(self._token, "barrier", seq, 0, self.rank, "", (), (0, 0))
        for p in self._order():
            self.mesh.send(p, hdr, b"", True, "barrier", seq)
        ex = Expect("barrier", seq, 0, "", (), (0, 0))
        for p in self.mesh.peers:
            self.mesh.recv(p, ex)

    def close(self):
        if self._closed:
            return
        self._closed = True
        if self._shm is not None:
            self._shm.close()
        self.mesh.close(linger=0 if self._broken is not None else None)
