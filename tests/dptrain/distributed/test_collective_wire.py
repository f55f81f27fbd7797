"""Message framing: headers round-trip; anything without the job's token, or
malformed, decodes to None (the receiver drops and counts it)."""
import msgpack
import numpy as np
import pytest

from dptrain.distributed import wire

TOKEN = b"job-token-123"


@pytest.mark.timeout(10)
def test_header_round_trip():
    raw = wire.encode(TOKEN, "all_reduce(sum)", 12, 3, 1, "float32", (4, 5), (8, 20))
    payload = np.arange(12, dtype=np.float32).tobytes()
    h = wire.decode([raw, payload], TOKEN, world_size=4)
    assert (h.op, h.seq, h.step, h.src, h.dtype, h.shape, h.chunk) == (
        "all_reduce(sum)", 12, 3, 1, "float32", [4, 5], [8, 20])
    assert h.payload == payload
    a = wire.decode([wire.encode_abort(TOKEN, 3, 2, "timeout", 1, "why"), b""], TOKEN, 4)
    assert (a.op, a.kind, a.peer, a.why, a.src) == (wire.ABORT, "timeout", 1, "why", 2)


@pytest.mark.timeout(10)
def test_wrong_missing_or_malformed_is_dropped():
    good = {"v": 1, "tok": TOKEN, "op": "barrier", "seq": 0, "step": 0, "src": 1, "dtype": "",
            "shape": [], "chunk": [0, 0]}
    assert wire.decode([msgpack.packb(good), b""], TOKEN, 2) is not None
    bad = [
        dict(good, tok=b"job-token-124"), {k: v for k, v in good.items() if k != "tok"},
        dict(good, tok="job-token-123"), dict(good, v=2), dict(good, src=2), dict(good, src=-1),
        dict(good, seq="0"), dict(good, shape=[-1]), dict(good, chunk=[0]), dict(good, op=5),
        dict(good, shape="abc"), dict(good, peer="x"), dict(good, seq=1.5),
    ]
    for h in bad:
        assert wire.decode([msgpack.packb(h), b""], TOKEN, 2) is None, h
    assert wire.decode([msgpack.packb(good)], TOKEN, 2) is None  # one frame
    assert wire.decode([msgpack.packb(good), b"", b""], TOKEN, 2) is None  # three
    assert wire.decode([msgpack.packb([1, 2, 3]), b""], TOKEN, 2) is None
    assert wire.decode([b"\xc1", b""], TOKEN, 2) is None  # never-used msgpack byte
    assert wire.decode([b"\x00" * (wire.MAX_HEADER_BYTES + 1), b""], TOKEN, 2) is None
    rng = np.random.default_rng(0)
    for _ in range(3000):
        frames = [rng.bytes(int(rng.integers(0, 80))), rng.bytes(int(rng.integers(0, 8)))]
        assert wire.decode(frames, TOKEN, 2) is None


@pytest.mark.timeout(10)
def test_control_messages():
    raw = wire.encode_control(TOKEN, "hello", 3, world=4, info={"host": "h", "ipc": "", "tcp": ""})
    h = wire.decode_control(raw, TOKEN)
    assert h["op"] == "hello" and h["src"] == 3 and h["world"] == 4
    assert wire.decode_control(raw, b"other") is None
    assert wire.decode_control(b"garbage", TOKEN) is None
