"""Rendezvous: every rank learns every other rank's data endpoints.

Rank 0 serves a ROUTER socket on MASTER_ADDR:MASTER_PORT. Every other rank
connects a DEALER (ZeroMQ keeps retrying the connect while rank 0 is not up
yet), says "hello" with its endpoints, and gets back the table of all ranks.
Both sides give up after the timeout, naming what never arrived; rank 0 tells
the ranks that did arrive which ranks were missing. With `curve` keys both
sockets use ZeroMQ CURVE.
"""
from __future__ import annotations

import os
import time
from typing import List, Optional, Tuple

import zmq

from launcher.env import RDZV_PORT

from . import endpoints, wire
from .curve import CurveKeys
from .errors import CollectiveError, RendezvousTimeout

HELLO, WELCOME, TABLE, FAILED = "hello", "welcome", "table", "rendezvous_failed"
RESEND_S = 1.0
TABLE_MAX_BYTES = 64 << 20  # the table grows with the world size; hellos stay small


def _socket(ctx: zmq.Context, kind: int) -> zmq.Socket:
    s = ctx.socket(kind)
    s.setsockopt(zmq.LINGER, 1000)  # enough to flush the table; close never hangs
    s.setsockopt(zmq.SNDHWM, 1000)
    s.setsockopt(zmq.RCVHWM, 1000)
    s.setsockopt(zmq.HEARTBEAT_IVL, 1000)
    s.setsockopt(zmq.HEARTBEAT_TIMEOUT, 5000)
    s.setsockopt(zmq.RECONNECT_IVL, 100)
    s.setsockopt(zmq.RECONNECT_IVL_MAX, 500)
    return s


class Counter:
    """Counts dropped rendezvous messages (shared with the communicator)."""

    def __init__(self):
        self.dropped = 0


def _check_info(info, rank: int, me: int) -> dict:
    if (type(info) is not dict or type(info.get("host")) is not str
            or type(info.get("ipc")) is not str or type(info.get("tcp")) is not str):
        raise CollectiveError(f"rank {rank} sent a malformed endpoint record", rank=me,
                              peer=rank, op="rendezvous")
    record = {"host": info["host"], "ipc": info["ipc"], "tcp": info["tcp"]}
    if type(info.get("backend")) is str:   # the engine backend the rank computes on
        record["backend"] = info["backend"]
    return record


def serve(ctx: zmq.Context, *, world_size: int, token: bytes, master_addr: str, master_port: int,
          info: dict, timeout: float, counter: Counter,
          curve: Optional[CurveKeys] = None) -> Tuple[List[dict], zmq.Socket]:
    """Rank 0: collect every rank's endpoints and hand out the table. Returns the
    table and the still-open socket (close it once the data plane is up)."""
    url = endpoints.rendezvous_bind_url(master_addr, master_port)
    sock = _socket(ctx, zmq.ROUTER)
    sock.setsockopt(zmq.MAXMSGSIZE, wire.MAX_HEADER_BYTES)  # hellos are small
    # IPv6 only for an IPv6 MASTER_ADDR (then "*" also covers IPv4)
    sock.setsockopt(zmq.IPV6, int(":" in endpoints.resolve(master_addr)))
    if curve is not None:
        curve.serve(sock)
    try:
        sock.bind(url)
    except zmq.ZMQError as e:
        sock.close(0)
        raise CollectiveError(f"cannot serve rendezvous on {url}: {e} (is the port in use? "
                              f"set {RDZV_PORT} to choose dptrain's rendezvous port)",
                              rank=0, op="rendezvous") from None
    table: List[Optional[dict]] = [None] * world_size
    table[0] = dict(info)
    who: dict = {}  # rank -> (routing id, pid, host)
    offender = []  # routing id of a hello that makes the rendezvous fail
    welcome = wire.encode_control(token, WELCOME, 0)
    deadline = time.monotonic() + timeout
    try:
        while len(who) < world_size - 1:
            left = deadline - time.monotonic()
            if left <= 0:
                missing = [r for r in range(1, world_size) if r not in who]
                raise RendezvousTimeout(
                    f"ranks {', '.join(map(str, missing))} never reported to the rendezvous on "
                    f"{url} within {timeout:g} s", rank=0, peer=missing, op="rendezvous")
            if not sock.poll(min(100, int(left * 1000) + 1), zmq.POLLIN):
                continue
            frames = sock.recv_multipart(zmq.NOBLOCK)
            h = wire.decode_control(frames[1], token) if len(frames) == 2 else None
            if h is None or h["op"] != HELLO:
                counter.dropped += 1
                continue
            r = h["src"]
            offender = [frames[0]]
            if h.get("world") != world_size:
                raise CollectiveError(f"rank {r} was started with world size {h.get('world')!r}, "
                                      f"rank 0 with {world_size}", rank=0, peer=r, op="rendezvous")
            if not 0 < r < world_size:
                raise CollectiveError(f"a process claims rank {r!r}, outside world size "
                                      f"{world_size}", rank=0, peer=r, op="rendezvous")
            rec = _check_info(h.get("info"), r, 0)
            pid = h.get("pid")
            if r in who and (who[r][1], who[r][2]) != (pid, rec["host"]):
                raise CollectiveError(f"two processes claim rank {r}: pid {who[r][1]} and pid {pid}",
                                      rank=0, peer=r, op="rendezvous")
            who[r] = (frames[0], pid, rec["host"])
            table[r] = rec
            offender = []
            sock.send_multipart([frames[0], welcome], zmq.NOBLOCK)
        msg = wire.encode_control(token, TABLE, 0, world=world_size, table=table)
        for ident, _, _ in who.values():
            sock.send_multipart([ident, msg])
    except BaseException as e:
        # Tell the ranks that did arrive why there will be no table.
        missing = e.peer if isinstance(e, RendezvousTimeout) else []
        msg = wire.encode_control(token, FAILED, 0, missing=missing, why=str(e)[:4000])
        for ident in [w[0] for w in who.values()] + offender:
            try:
                sock.send_multipart([ident, msg], zmq.NOBLOCK)
            except zmq.ZMQError:
                pass
        sock.close()  # LINGER lets those notes go out
        raise
    return table, sock


def join(ctx: zmq.Context, *, rank: int, world_size: int, token: bytes, master_addr: str,
         master_port: int, info: dict, timeout: float, counter: Counter,
         curve: Optional[CurveKeys] = None) -> List[dict]:
    """Ranks 1..N-1: report endpoints to rank 0 and receive the table."""
    url = endpoints.tcp_url(endpoints.resolve(master_addr), master_port)
    hello = wire.encode_control(token, HELLO, rank, world=world_size, info=info, pid=os.getpid())
    deadline = time.monotonic() + timeout
    reached = False  # rank 0 has answered
    sock = None
    try:
        while True:
            if sock is None:
                # No ZMQ_IMMEDIATE here: with it, a disconnect discards messages that
                # arrived but were not read yet (rank 0's last word before it closes).
                sock = _socket(ctx, zmq.DEALER)
                sock.setsockopt(zmq.MAXMSGSIZE, TABLE_MAX_BYTES)
                sock.setsockopt(zmq.IPV6, endpoints.is_ipv6_url(url))
                if curve is not None:
                    curve.client(sock)
                sock.connect(url)
                next_hello = 0.0
            now = time.monotonic()
            if now >= deadline:
                if not reached:
                    raise RendezvousTimeout(
                        f"rank 0 at {url} did not answer within {timeout:g} s (not started, "
                        f"wrong MASTER_ADDR/MASTER_PORT/{RDZV_PORT}, a different DPTRAIN_JOB_TOKEN, "
                        "or a different DPTRAIN_CURVE)",
                        rank=rank, peer=0, op="rendezvous")
                raise RendezvousTimeout(f"no table from rank 0 at {url} within {timeout:g} s of "
                                        "its answer", rank=rank, peer=0, op="rendezvous")
            if now >= next_hello and not reached:
                # Queued until connected, repeated in case it went to a stale listener.
                try:
                    sock.send(hello, zmq.NOBLOCK)
                except zmq.Again:
                    pass
                next_hello = now + RESEND_S
            if not sock.poll(50, zmq.POLLIN):
                continue
            frames = sock.recv_multipart(zmq.NOBLOCK)
            h = (wire.decode_control(frames[0], token, max_bytes=TABLE_MAX_BYTES)
                 if len(frames) == 1 else None)
            if h is not None and h["op"] == HELLO and h["src"] == rank:
                # Our own hello came back: while rank 0 was not up yet, the kernel gave
                # the connect the very port it targets (TCP self-connect). Start over.
                sock.close(0)
                sock, reached = None, False
                continue
            if h is None or h["src"] != 0 or h["op"] not in (WELCOME, TABLE, FAILED):
                counter.dropped += 1
                continue
            if h["op"] == WELCOME:
                if not reached:
                    # Rank 0 was serving before it answered, so it gives up before this
                    # deadline, and its note saying who is missing arrives first.
                    reached = True
                    deadline = max(deadline, time.monotonic() + timeout + 1.0)
                continue
            if h["op"] == FAILED:
                missing = h.get("missing")
                if missing:
                    raise RendezvousTimeout(f"rank 0 gave up: ranks {missing} never reported to "
                                            f"the rendezvous on {url}", rank=rank, peer=missing,
                                            op="rendezvous")
                raise CollectiveError(f"rank 0 gave up: {h.get('why')}", rank=rank, peer=0,
                                      op="rendezvous")
            table = h.get("table")
            if h.get("world") != world_size or type(table) is not list or len(table) != world_size:
                raise CollectiveError(f"rank 0 sent a table for world size {h.get('world')!r}, "
                                      f"this rank has {world_size}", rank=rank, peer=0,
                                      op="rendezvous")
            return [_check_info(rec, r, rank) for r, rec in enumerate(table)]
    finally:
        if sock is not None:
            sock.close(0)
