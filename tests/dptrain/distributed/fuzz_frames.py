"""Hostile traffic for a running job's sockets (used by test_fuzz.py).

Two levels:
- ZeroMQ messages through a real ZeroMQ socket (they pass libzmq and reach dptrain's Python,
  which must drop and count every one): random frames, wrong or missing tokens, the job's token
  with malformed headers, huge declared lengths and shapes, wrong dtypes, 1 MiB frames.
- The wire below ZeroMQ (ZMTP over a plain tcp or Unix socket): random bytes, greetings with an
  unknown version or mechanism, a socket type a PULL does not take, frames declaring 2^62 bytes
  or one byte more than the socket's limit, truncated frames, partial frames held open. libzmq
  must refuse these without handing anything to Python, and without allocating what they declare.

Nothing here knows dptrain's internals beyond the wire format (dptrain/distributed/wire.py).
"""
from __future__ import annotations

import socket
import struct
import time
from collections import Counter
from typing import Iterator, List, Optional, Tuple

import msgpack
import numpy as np
import zmq

MAX_FRAME = 1 << 20   # the data sockets' ZMQ_MAXMSGSIZE (mesh.py: max(piece_bytes, direct_max_bytes))


# ------------------------------------------------------------------ ZeroMQ-level messages
def _good(src: int) -> dict:
    return {"v": 1, "op": "all_reduce(mean)", "seq": 3, "step": 0, "src": src, "dtype": "float32",
            "shape": [1000], "chunk": [0, 1000]}


def messages(rng: np.random.Generator, token: bytes, world: int, dst: int, count: int
             ) -> Iterator[Tuple[str, List[bytes]]]:
    """`count` (category, frames) messages for rank `dst`'s inbox, none of which may be accepted.

    Messages with the job's token are malformed, or claim to come from `dst` itself (a rank drops
    what claims to be its own): a well-formed one from a real peer would be that peer speaking,
    and a wrong one rightly ends the job (DesyncError).
    """
    pk = lambda h: msgpack.packb(h, use_bin_type=True)  # noqa: E731
    peer = (dst + 1) % world
    payload = np.ones(1000, np.float32).tobytes()
    wrong = [rng.bytes(len(token)), token[:-1], token + b"x", b"", token.decode("latin-1")]
    malformed = [  # the job's token, fields that fail validation
        dict(v=2), dict(v="1"), dict(op=7), dict(op=None), dict(seq=1.5), dict(seq=True),
        dict(seq="3"), dict(step=[0]), dict(src=-1), dict(src=world), dict(src=str(peer)),
        dict(src=True), dict(src=1 << 62), dict(dtype=5), dict(shape=[-1]), dict(shape="1000"),
        dict(shape=[[1000]]), dict(shape=[1.0]), dict(chunk=[0]), dict(chunk=[0, 1, 2]),
        dict(chunk=[0.0, 1000]), dict(chunk="0:1000"), dict(kind=3), dict(why=b"x"), dict(peer="0"),
        dict(tok=None), dict(tok=[1, 2]),
    ]
    huge = [  # wrong token: declared sizes far beyond the frames
        dict(shape=[1 << 62], chunk=[0, 1 << 62]), dict(shape=[1 << 31, 1 << 31]),
        dict(shape=[(1 << 64) - 1]), dict(chunk=[-(1 << 63), (1 << 64) - 1]), dict(shape=[1] * 300),
    ]
    dtypes = ["object", "O", "|O", "<U8", "V8", "datetime64[s]", "float128", "int8", ">f4", "", "x" * 5000]
    k = 0
    while k < count:
        kind = k % 12
        if kind == 0:
            yield "random bytes", [rng.bytes(int(rng.integers(0, 300))) for _ in range(int(rng.integers(1, 5)))]
        elif kind == 1:
            yield "wrong token", [pk(dict(_good(peer), tok=wrong[k % len(wrong)], seq=int(rng.integers(0, 99)))), payload]
        elif kind == 2:
            yield "no token", [pk(_good(peer)), payload]
        elif kind == 3:
            h = dict(_good(peer), tok=token)
            h.update(malformed[(k // 12) % len(malformed)])
            yield "job token, malformed header", [pk(h), payload]
        elif kind == 4:
            h = dict(_good(dst), tok=token, seq=int(rng.integers(0, 99)), dtype=dtypes[(k // 12) % len(dtypes)],
                     shape=[int(rng.integers(0, 1 << 40))], chunk=[0, int(rng.integers(0, 1 << 40))])
            yield "job token, wrong dtype/shape (as the receiver itself)", [pk(h), rng.bytes(int(rng.integers(0, 64)))]
        elif kind == 5:
            h = dict(_good(peer), tok=rng.bytes(16), dtype=dtypes[(k // 12) % len(dtypes)])
            h.update(huge[(k // 12) % len(huge)])
            yield "wrong token, huge declared shape / wrong dtype", [pk(h), rng.bytes(16)]
        elif kind == 6:  # the right header in the wrong number of frames
            h = pk(dict(_good(dst), tok=token))
            yield "job token, wrong frame count", [h] if k % 24 == 6 else [h, payload, payload]
        elif kind == 7:  # msgpack that declares more than it holds
            bombs = [b"\xdd\xff\xff\xff\xff", b"\xdf\xff\xff\xff\xff", b"\xc6\xff\xff\xff\xff\x00",
                     b"\xdb\x7f\xff\xff\xff", b"\xc9\xff\xff\xff\xff\x01", b"\x91" * 60_000, b"\xc1"]
            yield "msgpack declaring huge lengths", [bombs[(k // 12) % len(bombs)], b""]
        elif kind == 8:  # a header past dptrain's 64 KiB limit (still under the socket's)
            h = pk(dict(_good(peer), tok=token, why="x" * (70_000 + int(rng.integers(0, 1000)))))
            yield "job token, oversized header", [h, b""]
        elif kind == 9:  # an abort in the receiver's name: dropped before it is read as one
            h = pk({"v": 1, "tok": token, "op": "abort", "seq": 0, "step": 0, "src": dst, "dtype": "",
                    "shape": [], "chunk": [0, 0], "kind": "desync", "peer": peer, "why": "forged"})
            yield "job token, abort claiming the receiver's rank", [h, b""]
        elif kind == 10:  # non-map headers, and map keys msgpack refuses under strict_map_key
            yield "non-map header", [[pk([1, 2, 3]), pk(None), pk(token), b"\x81\x01\x02",
                                      b"\x81\x91\x01\x02"][(k // 12) % 5], payload]
        else:
            yield "wrong token, payload of another size", [pk(dict(_good(peer), tok=b"other-job")),
                                                          rng.bytes(int(rng.integers(0, 9000)))]
        k += 1


def big_messages(rng: np.random.Generator, count: int) -> Iterator[Tuple[str, List[bytes]]]:
    """Frames of exactly the socket's limit: accepted by libzmq, refused by the token check."""
    for _ in range(count):
        yield "1 MiB frames", [rng.bytes(MAX_FRAME), rng.bytes(MAX_FRAME)]


def send_messages(ctx: zmq.Context, url: str, msgs, curve_client=None, timeout_s: float = 10.0) -> Counter:
    """Sends through one PUSH socket; returns the count per category that ZeroMQ took (and will
    deliver: the socket lingers on close until the peer has them)."""
    sent: Counter = Counter()
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.LINGER, int(timeout_s * 1000))
    s.setsockopt(zmq.SNDTIMEO, 2000)
    s.setsockopt(zmq.SNDHWM, 100_000)
    if curve_client is not None:
        curve_client(s)
    s.connect(url)
    deadline = time.monotonic() + timeout_s
    try:
        for cat, frames in msgs:
            if time.monotonic() > deadline:
                break
            try:
                s.send_multipart(frames)
            except zmq.Again:  # never connected (e.g. refused by CURVE): stop trying this one
                break
            sent[cat] += 1
    finally:
        s.close()
    return sent


# ------------------------------------------------------------------ below ZeroMQ: ZMTP by hand
def greeting(major: int = 3, minor: int = 0, mechanism: bytes = b"NULL") -> bytes:
    return b"\xff" + b"\0" * 8 + b"\x7f" + bytes([major, minor]) + mechanism.ljust(20, b"\0") + b"\0" * 32


def command(name: bytes, body: bytes = b"") -> bytes:
    data = bytes([len(name)]) + name + body
    if len(data) < 256:
        return b"\x04" + bytes([len(data)]) + data
    return b"\x06" + struct.pack(">Q", len(data)) + data


def ready(socket_type: bytes = b"PUSH", extra: bytes = b"") -> bytes:
    prop = bytes([11]) + b"Socket-Type" + struct.pack(">I", len(socket_type)) + socket_type
    return command(b"READY", prop + extra)


def frame(data: bytes, more: bool = False) -> bytes:
    if len(data) < 256:
        return bytes([int(more), len(data)]) + data
    return bytes([int(more) | 2]) + struct.pack(">Q", len(data)) + data


def long_frame_header(declared: int, more: bool = False) -> bytes:
    return bytes([int(more) | 2]) + struct.pack(">Q", declared)


def _connect(url: str, timeout: float = 5.0) -> socket.socket:
    if url.startswith("ipc://"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(url[len("ipc://"):])
        return s
    host, port = url[len("tcp://"):].rsplit(":", 1)
    return socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)


def _recv_exact(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def closed_by_peer(s: socket.socket, within: float) -> bool:
    """Whether the other side closes the connection within `within` seconds (what it sends, e.g.
    its greeting or heartbeats, is read and ignored)."""
    end = time.monotonic() + within
    try:
        while time.monotonic() < end:
            s.settimeout(max(0.01, end - time.monotonic()))
            try:
                if not s.recv(65536):
                    return True
            except socket.timeout:
                return False
    except (ConnectionResetError, BrokenPipeError):
        return True
    return False


def _read_command(s: socket.socket) -> bytes:
    head = _recv_exact(s, 2)
    if len(head) < 2:
        return b""
    if head[0] & 2:
        size = struct.unpack(">Q", head[1:] + _recv_exact(s, 7))[0]
    else:
        size = head[1]
    return _recv_exact(s, size)


def _handshake(s: socket.socket, how: str, greet: bytes, as_type: bytes = b"PUSH") -> bool:
    """"greeting": send `greet` and read the peer's; "ready": also complete the NULL handshake as
    `as_type` (READY both ways), as a ZeroMQ peer does before its first message. False when the
    peer hung up instead."""
    try:
        s.sendall(greet)
        if len(_recv_exact(s, 64)) < 64:
            return False
        if how == "ready":
            s.sendall(ready(as_type))
            if not _read_command(s).startswith(b"\x05READY"):
                return False
        return True
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        return False


# Each attack: (category, must the peer hang up?, handshake, the bytes after it). handshake:
# None (raw bytes only), "greeting" (a valid ZMTP 3 greeting exchanged first) or "ready" (the
# whole NULL handshake done, as a socket of type `as_type`: PUSH for a PULL, DEALER for a ROUTER).
REFUSED_TYPES = {b"PUSH": (b"PUB", b"REQ", b"PULL", b"ROUTER", b"XYZ"),
                 b"DEALER": (b"PUB", b"PUSH", b"PULL", b"SUB", b"XYZ")}


def wire_attacks(rng: np.random.Generator, token: bytes, limit: int = MAX_FRAME, as_type: bytes = b"PUSH"):
    wrong_header = msgpack.packb(dict(_good(0), tok=b"not-the-token"), use_bin_type=True)
    payload = np.ones(10, np.float32).tobytes()
    for i in range(8):  # libzmq may read these as ZMTP 1.0 messages: they reach Python, dropped there
        yield "raw random bytes", False, None, rng.bytes(int(rng.integers(1, 8192)))
    yield "raw bytes, mangled signature", True, None, b"\xff" + rng.bytes(8) + b"\x7f\x03\x01" + rng.bytes(2000)
    yield "unknown mechanism", True, None, greeting(mechanism=b"EVIL")
    yield "PLAIN mechanism to a NULL socket", True, None, greeting(mechanism=b"PLAIN")
    yield "CURVE mechanism to a NULL socket", True, None, greeting(mechanism=b"CURVE")
    yield "ZMTP version 99, then silence", False, None, greeting(99, 0)
    for st in REFUSED_TYPES[as_type]:
        yield "a socket type the peer refuses", True, "greeting", ready(st)
    yield "READY with a property declaring 4 GiB", True, "greeting", command(
        b"READY", bytes([11]) + b"Socket-Type" + struct.pack(">I", 0xFFFFFFFF) + b"PUSH")
    yield "command declaring 2^62 bytes", True, "greeting", b"\x06" + struct.pack(">Q", 1 << 62) + b"\x05READY"
    yield "unknown command", True, "greeting", command(b"EVIL", b"\0" * 100)
    yield "message before READY", True, "greeting", frame(wrong_header)
    for declared in ((1 << 62), (1 << 64) - 1, limit + 1, 1 << 40):
        yield "frame declaring a huge length", True, "ready", long_frame_header(declared) + rng.bytes(100)
    yield "frame declaring a huge length (ZMTP 2.0)", True, None, \
        greeting(1, 0)[:11] + b"\x08\x00\x00" + long_frame_header(1 << 62) + rng.bytes(100)
    for _ in range(6):  # a frame cut short, then the connection closed by the sender
        declared = int(rng.integers(300, limit))
        yield "truncated frame", False, "ready", long_frame_header(declared) + rng.bytes(int(rng.integers(0, 290)))
    yield "truncated message (MORE, then nothing)", False, "ready", frame(wrong_header, more=True)
    yield "truncated greeting", False, None, greeting()[:int(rng.integers(1, 63))]
    # a complete message with a wrong token, by hand: reaches Python, dropped there
    yield "hand-made message, wrong token", False, "ready", frame(wrong_header, True) + frame(payload)


def run_wire_attacks(url: str, token: bytes, rng: np.random.Generator, limit: int = MAX_FRAME,
                     close_within: float = 3.0, curve: bool = False, as_type: bytes = b"PUSH"
                     ) -> Tuple[Counter, Counter, List[str], int]:
    """(tried, refused, problems, raw bytes sent without a handshake) per category. Refused: the peer hung up (the attacks that must
    make it), or the attack ended with the sender hanging up mid-message (nothing to deliver).
    An attack that should have made the peer hang up and did not is a problem. With `curve`
    (the peer is a CURVE server) every NULL handshake must be refused at the greeting."""
    tried, refused, problems, raw = Counter(), Counter(), [], 0
    for cat, must_close, how, rest in wire_attacks(rng, token, limit, as_type):
        tried[cat] += 1
        raw += len(rest) if how is None else 0
        if curve and cat.startswith("CURVE mechanism"):
            must_close = False  # the server waits for a CURVE HELLO that never comes
        try:
            s = _connect(url)
        except OSError as e:
            problems.append(f"{cat}: cannot connect to {url}: {e}")
            continue
        with s:
            try:
                if how is not None and not _handshake(s, how, greeting(), as_type):
                    if curve:
                        refused[cat] += 1
                    else:
                        problems.append(f"{cat}: {url} refused a valid handshake")
                    continue
                if curve and how is not None:
                    problems.append(f"{cat}: {url}, a CURVE server, completed a NULL handshake")
                    continue
                s.sendall(rest)
            except (ConnectionResetError, BrokenPipeError):
                refused[cat] += 1
                continue
            if must_close:
                if closed_by_peer(s, close_within):
                    refused[cat] += 1
                else:
                    problems.append(f"{cat}: {url} kept the connection open")
            elif cat != "hand-made message, wrong token" and not cat.startswith("raw random"):
                refused[cat] += 1  # we hang up mid-message: nothing is delivered
    return tried, refused, problems, raw


def hold_partial_frames(url: str, count: int, declared: int = MAX_FRAME) -> List[socket.socket]:
    """`count` connections, each in the middle of a frame that declares `declared` bytes; the
    caller closes them. A receiver that allocated what they declare would show it in its RSS."""
    held = []
    for _ in range(count):
        s = _connect(url)
        if _handshake(s, "ready", greeting()):
            s.sendall(long_frame_header(declared) + b"\0" * 512)
            held.append(s)
        else:
            s.close()
    return held


def endless_message(url: str, mib: int, as_type: bytes = b"PUSH", frame_bytes: int = MAX_FRAME
                    ) -> Tuple[bool, int]:
    """Completes a NULL handshake, then streams `mib` MiB in frames of `frame_bytes` (at most the
    socket's limit) with MORE set: a message that never ends. ZMQ_MAXMSGSIZE bounds each frame,
    not the message, so a receiver that accepts the handshake buffers all of it.
    Returns (handshake accepted, MiB the peer took before hanging up)."""
    s = _connect(url)
    with s:
        if not _handshake(s, "ready", greeting(), as_type):
            return False, 0
        part = frame(b"\0" * frame_bytes, more=True)
        total = 0
        try:
            while total < mib << 20:
                s.sendall(part)
                total += frame_bytes
        except (ConnectionResetError, BrokenPipeError):
            pass
        time.sleep(0.5)
        return True, total >> 20
