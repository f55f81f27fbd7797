"""Rendezvous: every rank learns every other rank's data endpoints.

Rank 0 serves a ROUTER socket on MASTER_ADDR:MASTER_PORT. Every other rank
connects a DEALER (ZeroMQ keeps retrying the connect while rank 0 is not up
yet), says "hello" with its endpoints, and gets back the table of all ranks.
Both sides give up after the timeout, naming what never arrived; rank 0 tells
the ranks that did arrive which ranks were missing.
"""
from __future__ import annotations

import os
import time
from typing import List, Optional, Tuple

import zmq

from . import endpoints, wire
from .errors import CollectiveError, RendezvousTimeout

HELLO, TABLE, FAILED = "hello", "table", "rendezvous_failed"
RESEND_S = 1.0


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


def _check_info(info, rank: int) -> dict:
    if (type(info) is not dict or type(info.get("host")) is not str
            or type(info.get("ipc")) is not str or type(info.get("tcp")) is not str):
        raise CollectiveError(f"rank {rank} sent a malformed endpoint record", rank=rank,
                              op="rendezvous")
    return {"host": info["host"], "ipc": info["ipc"], "tcp": info["tcp"]}


def serve(ctx: zmq.Context, *, world_size: int, token: bytes, master_addr: str, master_port: int,
          info: dict, timeout: float, counter: Counter) -> Tuple[List[dict], zmq.Socket]:
    """Rank 0: collect every rank's endpoints and hand out the table. Returns the
    table and the still-open socket (close it once the data plane is up)."""
    url = endpoints.rendezvous_bind_url(master_addr, master_port)
    sock = _socket(ctx, zmq.ROUTER)
    try:
        sock.bind(url)
    except zmq.ZMQError as e:
        sock.close(0)
        raise CollectiveError(f"cannot serve rendezvous on {url}: {e} (is MASTER_PORT in use?)",
                              rank=0, op="rendezvous") from None
    table: List[Optional[dict]] = [None] * world_size
    table[0] = dict(info)
    who: dict = {}  # rank -> (routing id, pid, host)
    deadline = time.monotonic() + timeout
    try:
        while len(who) < world_size - 1:
            left = deadline - time.monotonic()
            if left <= 0:
                missing = [r for r in range(1, world_size) if r not in who]
                msg = wire.encode_control(token, FAILED, 0, missing=missing)
                for ident, _, _ in who.values():
                    try:
                        sock.send_multipart([ident, msg], zmq.NOBLOCK)
                    except zmq.ZMQError:
                        pass
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
            if h.get("world") != world_size:
                raise CollectiveError(f"rank {r} was started with world size {h.get('world')!r}, "
                                      f"rank 0 with {world_size}", rank=0, peer=r, op="rendezvous")
            if not 0 < r < world_size:
                raise CollectiveError(f"a process claims rank {r!r}, outside world size "
                                      f"{world_size}", rank=0, peer=r, op="rendezvous")
            rec = _check_info(h.get("info"), r)
            pid = h.get("pid")
            if r in who and (who[r][1], who[r][2]) != (pid, rec["host"]):
                raise CollectiveError(f"two processes claim rank {r}: pid {who[r][1]} and pid {pid}",
                                      rank=0, peer=r, op="rendezvous")
            who[r] = (frames[0], pid, rec["host"])
            table[r] = rec
        msg = wire.encode_control(token, TABLE, 0, world=world_size, table=table)
        for ident, _, _ in who.values():
            sock.send_multipart([ident, msg])
    except BaseException:
        sock.close()  # LINGER lets the "who is missing" notes go out
        raise
    return table, sock


def join(ctx: zmq.Context, *, rank: int, world_size: int, token: bytes, master_addr: str,
         master_port: int, info: dict, timeout: float, counter: Counter) -> List[dict]:
    """Ranks 1..N-1: report endpoints to rank 0 and receive the table."""
    url = endpoints.tcp_url(endpoints.resolve(master_addr), master_port)
    sock = _socket(ctx, zmq.DEALER)
    sock.setsockopt(zmq.IMMEDIATE, 1)  # queue hellos only on a live connection
    hello = wire.encode_control(token, HELLO, rank, world=world_size, info=info, pid=os.getpid())
    # A little longer than rank 0 waits, so that its "who is missing" arrives first.
    deadline = time.monotonic() + timeout + 2.0
    next_hello = 0.0
    try:
        sock.connect(url)
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise RendezvousTimeout(
                    f"no table from rank 0 at {url} within {timeout:g} s (rank 0 never "
                    "answered: not started, wrong MASTER_ADDR/MASTER_PORT or DPTRAIN_JOB_TOKEN)",
                    rank=rank, peer=0, op="rendezvous")
            if now >= next_hello:
                try:
                    sock.send(hello, zmq.NOBLOCK)
                    next_hello = now + RESEND_S
                except zmq.Again:  # not connected yet; ZeroMQ keeps retrying the connect
                    next_hello = now + 0.05
            if not sock.poll(50, zmq.POLLIN):
                continue
            frames = sock.recv_multipart(zmq.NOBLOCK)
            h = wire.decode_control(frames[0], token) if len(frames) == 1 else None
            if h is None or h["src"] != 0 or h["op"] not in (TABLE, FAILED):
                counter.dropped += 1
                continue
            if h["op"] == FAILED:
                missing = h.get("missing")
                raise RendezvousTimeout(f"rank 0 gave up: ranks {missing} never reported to the "
                                        f"rendezvous on {url}", rank=rank, peer=missing,
                                        op="rendezvous")
            table = h.get("table")
            if h.get("world") != world_size or type(table) is not list or len(table) != world_size:
                raise CollectiveError(f"rank 0 sent a table for world size {h.get('world')!r}, "
                                      f"this rank has {world_size}", rank=rank, peer=0,
                                      op="rendezvous")
            return [_check_info(rec, r) for r, rec in enumerate(table)]
    finally:
        sock.close(0)
