"""Point-to-point messages between the ranks of one job, over ZeroMQ.

Each rank binds one PULL socket (its inbox) and connects one PUSH socket to
every peer's inbox; messages from one peer arrive in the order they were sent.
Every receive goes through a poller with a timeout; a monitor on each PUSH
socket reports a peer's connection going away (its process gone, or ZeroMQ
heartbeats lost), which turns a wait on that peer into `PeerLost` within
about a second instead of at the timeout. Messages without the job's token or
that cannot be parsed are dropped and counted. A rank that fails a collective
tells its peers ("abort"), so that every rank raises instead of waiting. With
`curve` keys, tcp endpoints use ZeroMQ CURVE (see curve.py): a peer without the
job's keys never completes a connection.
"""
from __future__ import annotations

import collections
import time
from typing import Dict, List, Optional, Sequence, Tuple

import zmq
from zmq.utils.monitor import recv_monitor_message

from . import endpoints, wire
from .curve import CURVE_OVERHEAD, CurveKeys
from .errors import CollectiveError, CollectiveTimeout, DesyncError, PeerLost, RendezvousTimeout

# Far above the number of messages the algorithms keep in flight to one peer
# (one ring step's pieces), so a healthy peer never blocks a send, while a
# flood on one connection is still bounded.
HWM = 1000
# Messages from a peer whose connection dropped may still be in our inbox;
# wait this long for them before declaring the peer lost.
LOST_GRACE_S = 0.5
# After timing out, listen this much longer for a peer's abort that names
# the rank really at fault (in a ring, the peer we wait on may itself be waiting).
ABORT_GRACE_S = 0.5
# How long one poll blocks before the loop re-checks deadlines and lost peers.
POLL_SLICE_MS = 100
# Most messages read from the inbox in one go (bounds the work a flood causes).
DRAIN_MAX = 256

_MONITOR_EVENTS = (zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED | zmq.EVENT_CLOSED
                   | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                   | zmq.EVENT_HANDSHAKE_FAILED_AUTH)

_ABORT_KINDS = {"desync": DesyncError, "timeout": CollectiveTimeout, "lost": PeerLost}


class Expect:
    """What the next message from one peer must be."""

    __slots__ = ("op", "seq", "step", "dtype", "shape", "chunk")

    def __init__(self, op: str, seq: int, step: int, dtype: str, shape: Sequence[int],
                 chunk: Sequence[int]):
        self.op, self.seq, self.step, self.dtype = op, seq, step, dtype
        self.shape, self.chunk = list(shape), list(chunk)

    def describe(self) -> str:
        return (f"{self.op} #{self.seq} step {self.step} {self.dtype or '-'} "
                f"shape {tuple(self.shape)} chunk {self.chunk}")


def _set_common(sock: zmq.Socket, linger_ms: int, hb_ivl_ms: int, hb_timeout_ms: int) -> None:
    sock.setsockopt(zmq.LINGER, linger_ms)
    sock.setsockopt(zmq.SNDHWM, HWM)
    sock.setsockopt(zmq.RCVHWM, HWM)
    sock.setsockopt(zmq.HEARTBEAT_IVL, hb_ivl_ms)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, hb_timeout_ms)
    sock.setsockopt(zmq.HEARTBEAT_TTL, hb_timeout_ms)
    sock.setsockopt(zmq.RECONNECT_IVL, 100)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)


class Mesh:
    def __init__(self, rank: int, world_size: int, token: bytes, *, timeout: float,
                 master_addr: str, master_port: int, transport: str = "auto",
                 heartbeat_ivl: float = 1.0, heartbeat_timeout: Optional[float] = None,
                 linger: float = 2.0, max_message_bytes: int = 1 << 20,
                 curve: Optional[CurveKeys] = None):
        if transport not in ("auto", "ipc", "tcp"):
            raise ValueError(f"transport must be 'auto', 'ipc' or 'tcp', not {transport!r}")
        self.rank, self.world_size, self.token = rank, world_size, token
        self.timeout = float(timeout)
        self.transport = transport
        self.curve = curve  # CURVE on the tcp endpoints (ipc keeps its file permissions)
        hb_timeout = heartbeat_timeout if heartbeat_timeout is not None else min(max(self.timeout, 3.0), 10.0)
        self._hb = (int(heartbeat_ivl * 1000), int(hb_timeout * 1000))
        self._linger_ms = int(linger * 1000)
        self.dropped = 0
        self.host = endpoints.host_id()
        self.peers = [p for p in range(world_size) if p != rank]
        self.push: Dict[int, zmq.Socket] = {}
        self._mon: Dict[zmq.Socket, int] = {}
        self._up: Dict[int, bool] = {}
        self._lost: Dict[int, float] = {}
        self._aborts: List[wire.Header] = []  # peers that gave up, as they told us
        self._sent_abort = False
        self._inbox: Dict[int, collections.deque] = {p: collections.deque() for p in self.peers}
        self.peer_urls: Dict[int, str] = {}
        self.ipc_url = self.tcp_url = ""
        self._closed = False
        self.ctx = zmq.Context(io_threads=1)
        self.pull = self.ctx.socket(zmq.PULL)
        _set_common(self.pull, 0, *self._hb)
        # No frame of ours is larger (payloads are cut into pieces, headers are small):
        # a connection announcing more is dropped by ZeroMQ before it allocates it. Under
        # CURVE the limit applies to the encrypted frame, a few bytes longer.
        limit = max(int(max_message_bytes), wire.MAX_HEADER_BYTES)
        self.pull.setsockopt(zmq.MAXMSGSIZE, limit + (CURVE_OVERHEAD if curve is not None else 0))
        self.poller = zmq.Poller()
        self.poller.register(self.pull, zmq.POLLIN)
        try:
            loopback = endpoints.is_loopback(master_addr)
            if transport in ("auto", "ipc"):
                self.ipc_url = "ipc://" + endpoints.ipc_path(token, rank)
                self.pull.bind(self.ipc_url)
            if transport == "tcp" or (transport == "auto" and not loopback):
                ip = endpoints.route_address(master_addr, master_port)
                url = endpoints.tcp_url(ip, "*")
                self.pull.setsockopt(zmq.IPV6, endpoints.is_ipv6_url(url))
                if curve is not None:  # after the ipc bind: only the tcp listener is a CURVE server
                    curve.serve(self.pull)
                self.pull.bind(url)
                self.tcp_url = self.pull.getsockopt_string(zmq.LAST_ENDPOINT)
        except Exception:
            self.close(linger=0)
            raise

    # ----------------------------------------------------------- set-up
    def info(self) -> dict:
        """What this rank reports at rendezvous."""
        return {"host": self.host, "ipc": self.ipc_url, "tcp": self.tcp_url}

    def _choose_url(self, peer: int, info: dict) -> str:
        same_host = info.get("host") == self.host
        if self.transport == "tcp" or (self.transport == "auto" and not same_host):
            if not info.get("tcp"):
                raise CollectiveError(f"rank {peer} offers no tcp endpoint (it is on host "
                                      f"{info.get('host')!r}, this rank on {self.host!r})",
                                      rank=self.rank, peer=peer, op="rendezvous")
            return info["tcp"]
        if not same_host or not info.get("ipc"):
            raise CollectiveError(f"rank {peer} is on another host ({info.get('host')!r}); "
                                  "ipc transport needs all ranks on one host",
                                  rank=self.rank, peer=peer, op="rendezvous")
        return info["ipc"]

    def connect(self, table: List[dict], deadline: float) -> None:
        """Connect to every peer's inbox and wait until each connection is up."""
        for p in self.peers:
            url = self._choose_url(p, table[p])
            s = self.ctx.socket(zmq.PUSH)
            _set_common(s, self._linger_ms, *self._hb)
            mon = s.get_monitor_socket(_MONITOR_EVENTS)
            self.push[p], self._mon[mon], self._up[p] = s, p, False
            self.poller.register(mon, zmq.POLLIN)
            s.setsockopt(zmq.IPV6, endpoints.is_ipv6_url(url))
            if self.curve is not None and url.startswith("tcp://"):
                self.curve.client(s)
            s.connect(url)
            self.peer_urls[p] = url
        while not all(self._up.values()):
            left = deadline - time.monotonic()
            if left <= 0:
                missing = [p for p, up in self._up.items() if not up]
                raise RendezvousTimeout(
                    "data connections to ranks " + ", ".join(map(str, missing)) +
                    " were never established (" +
                    ", ".join(self.peer_urls[p] for p in missing) + ")",
                    rank=self.rank, peer=missing, op="rendezvous")
            self._pump(min(POLL_SLICE_MS, int(left * 1000) + 1), drain=False)

    # ----------------------------------------------------------- events
    def _on_monitor(self, mon: zmq.Socket) -> None:
        p = self._mon[mon]
        while True:
            try:
                ev = recv_monitor_message(mon, zmq.NOBLOCK)
            except zmq.Again:
                return
            kind = ev["event"]
            if kind == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self._up[p] = True
            elif kind in (zmq.EVENT_DISCONNECTED, zmq.EVENT_CLOSED) and self._up.get(p):
                self._lost.setdefault(p, time.monotonic())

    def _route(self, frames) -> None:
        h = wire.decode(frames, self.token, self.world_size)
        if h is None or h.src == self.rank:
            self.dropped += 1
            return
        if h.op == wire.ABORT:
            self._aborts.append(h)
            return
        self._inbox[h.src].append(h)

    def _wait(self, timeout_ms: int, op: str, seq: int, peer: Optional[int] = None) -> None:
        """`_pump`, then raise if a peer has given up on the job."""
        self._pump(timeout_ms)
        if self._aborts:
            raise self._explain(op, seq, peer)

    def check_aborts(self, op: str, seq: int) -> None:
        """Raise if a peer gave up on this collective or an earlier one."""
        if any(a.seq <= seq for a in self._aborts):
            raise self._explain(op, seq)

    def _explain(self, op: str, seq: int, waiting_for: Optional[int] = None,
                 detail: Optional[str] = None) -> CollectiveError:
        """The error for this rank once peers have given up (their aborts are in
        `_aborts`), or once it timed out itself (`detail`). A desync or a lost peer
        explains everything; otherwise follow who waited for whom, starting from the
        rank this one waits for, to the silent rank at the end of the chain."""
        hard = [a for a in self._aborts if a.kind != "timeout"]
        if hard:
            h = hard[0]
            peer = h.peer if 0 <= h.peer < self.world_size else h.src
            return _ABORT_KINDS.get(h.kind, CollectiveError)(
                f"rank {h.src} gave up: {h.why}", rank=self.rank, peer=peer, op=op, seq=seq)
        waits = {a.src: a.peer for a in self._aborts if 0 <= a.peer < self.world_size}
        if waiting_for is not None:
            waits[self.rank] = waiting_for
            start = waiting_for
        else:
            start = self._aborts[0].peer if self._aborts else -1
        chain, seen = [start], {start}
        while chain[-1] in waits and waits[chain[-1]] not in seen:
            chain.append(waits[chain[-1]])
            seen.add(chain[-1])
        culprit = chain[-1] if 0 <= chain[-1] < self.world_size else None
        parts = [detail] if detail else []
        if self._aborts and not detail:
            h = self._aborts[0]
            if waiting_for is not None:
                parts.append(f"gave up waiting for rank {waiting_for}")
            parts.append(f"rank {h.src} gave up: {h.why}")
        parts += [f"rank {a} was itself waiting for rank {b}" for a, b in zip(chain, chain[1:])]
        return CollectiveTimeout("; ".join(parts), rank=self.rank, peer=culprit, op=op, seq=seq)

    def _timed_out(self, src: int, op: str, seq: int, detail: str) -> CollectiveError:
        """This rank waited `timeout` for `src`. Tell the peers at once, listen a
        moment for theirs, and name the rank at the end of the waiting chain."""
        self.abort(CollectiveTimeout(detail, rank=self.rank, peer=src, op=op, seq=seq), op, seq)
        end = time.monotonic() + ABORT_GRACE_S
        while time.monotonic() < end:
            self._pump(50)
        return self._explain(op, seq, src, detail)

    def _pump(self, timeout_ms: int, drain: bool = True) -> None:
        """Wait up to `timeout_ms` for traffic; route what arrived."""
        for sock, _ in self.poller.poll(timeout_ms):
            if sock is self.pull:
                if not drain:
                    continue
                for _ in range(DRAIN_MAX):
                    try:
                        frames = self.pull.recv_multipart(zmq.NOBLOCK, copy=False)
                    except zmq.Again:
                        break
                    self._route(frames)
            else:
                self._on_monitor(sock)

    # ----------------------------------------------------------- receive
    def recv(self, src: int, ex: Expect) -> wire.Header:
        """The next message from `src`, which must match `ex`."""
        q = self._inbox[src]
        if not q:
            start = time.monotonic()
            deadline = start + self.timeout
            while not q:
                if self._aborts:  # we would have to wait, and a peer has given up
                    raise self._explain(ex.op, ex.seq, src)
                now = time.monotonic()
                lost_at = self._lost.get(src)
                if lost_at is not None and now - lost_at > LOST_GRACE_S:
                    raise PeerLost(f"connection to rank {src} was lost (process gone or "
                                   "heartbeats stopped) while waiting for its message",
                                   rank=self.rank, peer=src, op=ex.op, seq=ex.seq)
                if now >= deadline:
                    raise self._timed_out(src, ex.op, ex.seq,
                                          f"no message from rank {src} within {self.timeout:g} s "
                                          f"(waiting for {ex.describe()})")
                # what arrived is used before any abort that came with it: a peer may
                # have given up on a later collective that this rank has not reached
                self._pump(max(1, min(POLL_SLICE_MS, int((deadline - now) * 1000) + 1)))
        h = q.popleft()
        if (h.op != ex.op or h.seq != ex.seq or h.step != ex.step or h.dtype != ex.dtype
                or h.shape != ex.shape or h.chunk != ex.chunk):
            raise DesyncError(f"rank {src} sent {h.describe()} but this rank expected "
                              f"{ex.describe()}", rank=self.rank, peer=src, op=ex.op, seq=ex.seq)
        return h

    # ----------------------------------------------------------- send
    def send(self, dst: int, header: bytes, payload, copy: bool, op: str, seq: int):
        """Queue [header, payload] for `dst`. With copy=False the payload is sent
        from its own memory and the returned tracker says when it may change."""
        s = self.push[dst]
        deadline = None
        while True:
            try:
                s.send(header, zmq.SNDMORE | zmq.NOBLOCK)
                break
            except zmq.Again:
                pass
            now = time.monotonic()
            deadline = deadline or now + self.timeout
            self._check_alive(dst, op, seq, now)
            if now >= deadline:
                raise self._timed_out(dst, op, seq, f"rank {dst} did not take messages for "
                                      f"{self.timeout:g} s (send queue full)")
            self._wait(10, op, seq, dst)
        if copy:
            s.send(payload, 0, copy=True)
            return None
        return s.send(payload, 0, copy=False, track=True)

    def _check_alive(self, peer: int, op: str, seq: int, now: float) -> None:
        lost_at = self._lost.get(peer)
        if lost_at is not None and now - lost_at > LOST_GRACE_S:
            raise PeerLost(f"connection to rank {peer} was lost (process gone or heartbeats "
                           "stopped)", rank=self.rank, peer=peer, op=op, seq=seq)

    def wait_sent(self, pending: List[Tuple[int, "zmq.MessageTracker"]], op: str, seq: int) -> None:
        """Wait until ZeroMQ has released every zero-copy payload in `pending`."""
        for dst, tracker in pending:
            if tracker.done:
                continue
            deadline = time.monotonic() + self.timeout
            while True:
                try:
                    tracker.wait(0.02)
                    break
                except zmq.NotDone:
                    pass
                now = time.monotonic()
                self._check_alive(dst, op, seq, now)
                if now >= deadline:
                    raise self._timed_out(dst, op, seq, f"rank {dst} did not take delivery "
                                          f"within {self.timeout:g} s")
                self._wait(0, op, seq, dst)
        pending.clear()

    def abort(self, exc: CollectiveError, op: str, seq: int) -> None:
        """Best effort, once: tell every reachable peer that this rank gave up."""
        if self._sent_abort:
            return
        self._sent_abort = True
        kind = "desync" if isinstance(exc, DesyncError) else (
            "lost" if isinstance(exc, PeerLost) else "timeout")
        peer = exc.peer if isinstance(exc.peer, int) else -1
        hdr = wire.encode_abort(self.token, seq, self.rank, kind, peer, str(exc)[:4000])
        for p, s in self.push.items():
            if p in self._lost:
                continue
            try:
                s.send_multipart([hdr, b""], zmq.NOBLOCK)
            except zmq.ZMQError:
                pass

    # ----------------------------------------------------------- close
    def close(self, linger: Optional[float] = None) -> None:
        if self._closed:
            return
        self._closed = True
        linger_ms = self._linger_ms if linger is None else int(linger * 1000)
        for s in list(self.push.values()):
            try:
                s.disable_monitor()
            except zmq.ZMQError:
                pass
        for mon in list(self._mon):
            mon.close(0)
        for s in self.push.values():
            s.close(linger_ms)
        self.pull.close(0)
        self.ctx.term()
        endpoints.remove_ipc(self.ipc_url)
