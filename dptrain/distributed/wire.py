"""Message framing: a msgpack header frame followed by the raw payload frame.

Header (a msgpack map with short keys)::

    tok    job token (bytes)        op     operation, e.g. "all_reduce(sum)"
    seq    collective sequence no.  step   algorithm step within the collective
    src    sender rank              dtype  numpy dtype name ("" for control)
    shape  the collective's shape   chunk  [start, stop) flat element range

Abort messages (op "abort") add ``kind`` ("timeout", "lost", "desync"),
``peer`` (the rank the sender blames) and ``why`` (its error message). A message that does not
carry the job's token, or that cannot be parsed, decodes to None: the caller
drops it and counts it. Only msgpack is parsed; nothing is ever unpickled.
"""
from __future__ import annotations

import hmac
from typing import Optional, Sequence

import msgpack

VERSION = 1
ABORT = "abort"
# Headers are a few hundred bytes; anything far larger is not ours.
MAX_HEADER_BYTES = 64 * 1024



class Header:
    """A decoded, validated header (the payload frame rides along)."""

    __slots__ = ("op", "seq", "step", "src", "dtype", "shape", "chunk", "kind", "why", "peer",
                 "payload")

    def __init__(self, op, seq, step, src, dtype, shape, chunk, kind="", why="", peer=-1,
                 payload=None):
        self.op = op
        self.seq = seq
        self.step = step
        self.src = src
        self.dtype = dtype
        self.shape = shape
        self.chunk = chunk
        self.kind = kind
        self.why = why
        self.peer = peer
        self.payload = payload

    def describe(self) -> str:
        return (f"{self.op} #{self.seq} step {self.step} {self.dtype or '-'} "
                f"shape {tuple(self.shape)} chunk {list(self.chunk)}")


def encode(token: bytes, op: str, seq: int, step: int, src: int, dtype: str,
           shape: Sequence[int], chunk: Sequence[int]) -> bytes:
    h = {"v": VERSION, "tok": token, "op": op, "seq": seq, "step": step, "src": src,
         "dtype": dtype, "shape": list(shape), "chunk": list(chunk)}
    return msgpack.packb(h, use_bin_type=True)


def encode_abort(token: bytes, seq: int, src: int, kind: str, peer: int, why: str) -> bytes:
    h = {"v": VERSION, "tok": token, "op": ABORT, "seq": seq, "step": 0, "src": src,
         "dtype": "", "shape": [], "chunk": [0, 0], "kind": kind, "peer": peer, "why": why}
    return msgpack.packb(h, use_bin_type=True)


def _is_int(x) -> bool:
    return type(x) is int


def decode(frames, token: bytes, world_size: int) -> Optional[Header]:
    """Header of a received [header, payload] message, or None to drop it.

    `frames` are zmq Frames (or bytes). Dropped: wrong frame count, a header
    that is not a msgpack map, a missing or wrong token, or malformed fields.
    """
    if len(frames) != 2:
        return None
    raw = frames[0]
    raw = raw.bytes if hasattr(raw, "bytes") else raw
    if len(raw) > MAX_HEADER_BYTES:
        return None
    try:
        h = msgpack.unpackb(raw, raw=False, use_list=True, strict_map_key=True)
    except Exception:  # any malformed input: msgpack raises several types
        return None
    if type(h) is not dict:
        return None
    tok = h.get("tok")
    if type(tok) is not bytes or not hmac.compare_digest(tok, token):
        return None
    op, seq, step, src = h.get("op"), h.get("seq"), h.get("step"), h.get("src")
    dtype, shape, chunk = h.get("dtype"), h.get("shape"), h.get("chunk")
    if h.get("v") != VERSION or type(op) is not str or type(dtype) is not str:
        return None
    if not (_is_int(seq) and _is_int(step) and _is_int(src)) or not 0 <= src < world_size:
        return None
    if type(shape) is not list or not all(_is_int(d) and d >= 0 for d in shape):
        return None
    if type(chunk) is not list or len(chunk) != 2 or not all(_is_int(c) for c in chunk):
        return None
    kind, why, peer = h.get("kind", ""), h.get("why", ""), h.get("peer", -1)
    if type(kind) is not str or type(why) is not str or not _is_int(peer):
        return None
    return Header(op, seq, step, src, dtype, shape, chunk, kind, why, peer, frames[1])


def encode_control(token: bytes, op: str, src: int, **fields) -> bytes:
    """A rendezvous message: one msgpack map frame."""
    h = {"v": VERSION, "tok": token, "op": op, "src": src}
    h.update(fields)
    return msgpack.packb(h, use_bin_type=True)


def decode_control(raw, token: bytes, max_bytes: int = MAX_HEADER_BYTES) -> Optional[dict]:
    """A rendezvous message as a dict, or None when it is not one of this job's."""
    raw = raw.bytes if hasattr(raw, "bytes") else raw
    if len(raw) > max_bytes:
        return None
    try:
        h = msgpack.unpackb(raw, raw=False, use_list=True, strict_map_key=True)
    except Exception:
        return None
    if type(h) is not dict or h.get("v") != VERSION:
        return None
    tok = h.get("tok")
    if type(tok) is not bytes or not hmac.compare_digest(tok, token):
        return None
    if type(h.get("op")) is not str or not _is_int(h.get("src")):
        return None
    return h
