"""A battery of hostile model and checkpoint files for `engine.serialize.load` and `dt.load_model`:
truncated files, flipped bits, huge declared lengths and shapes, object and other non-numeric
dtypes, files carrying a pickle. Each must raise a clear error that names the file, allocate
little more than the file's size (tracemalloc) and run no code (a payload that would leave a
marker file, and pickle's entry points replaced by tripwires)."""
import os
import pickle
import struct
import sys
import tracemalloc
import zlib

import msgpack
import numpy as np
import pytest

import dptrain as dt
from engine import serialize as S
from engine.serialize import CorruptFileError

# What a load may allocate beyond twice the file (the file is read whole, the header copied once).
SLACK = 1 << 20


class Detonator:
    """Unpickling it would run os.system and leave `marker` behind."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def tripwire(tmp_path, monkeypatch):
    """The marker a pickle payload would create; pickle's loaders raise if anything calls them."""
    marker = tmp_path / "PWNED"

    def boom(*a, **k):
        raise AssertionError("something tried to unpickle")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, boom)
    yield marker
    assert not marker.exists(), "a pickle payload was executed"


def craft(path, header, payload=b"", *, version=S.FORMAT_VERSION, header_len=None, header_crc=None,
          payload_crc=None, payload_len=None, pad=None):
    """A file in the checkpoint layout with any header (an object, or raw msgpack bytes) and payload;
    the checksums are right unless given."""
    raw = header if isinstance(header, bytes) else msgpack.packb(header, use_bin_type=True)
    head_end = S._PREFIX.size + len(raw)
    pad = b"\0" * (S._align(head_end) - head_end) if pad is None else pad
    prefix = S._PREFIX.pack(S.MAGIC, version, len(raw) if header_len is None else header_len,
                            zlib.crc32(raw) if header_crc is None else header_crc,
                            zlib.crc32(payload) if payload_crc is None else payload_crc,
                            len(payload) if payload_len is None else payload_len)
    path.write_bytes(prefix + raw + pad + payload)
    return path


def ext(i, code=S._EXT_ARRAY):
    return msgpack.ExtType(code, struct.pack("<I", i))


def assert_refused(load, path, match=None):
    """`load(path)` raises CorruptFileError naming the file, allocating at most ~2x the file."""
    size = os.path.getsize(path)
    tracemalloc.start()
    try:
        with pytest.raises(CorruptFileError) as e:
            load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    msg = str(e.value)
    assert str(path) in msg, msg
    if match is not None:
        assert match in msg, msg
    assert peak <= 2 * size + SLACK, f"{msg}: allocated {peak} bytes for a {size}-byte file"
    return msg


def load(path):
    return S.load(path)


def load_model(path):
    return dt.load_model(path)


# ------------------------------------------------------------------ fixtures: real files
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ck") / "state.ckpt"
    state = {"w": np.arange(40, dtype=np.float32).reshape(5, 8), "b": np.ones(3),
             "step": np.int64(7), "name": "run", "nested": [1, {"k": np.zeros(2, np.int16)}]}
    S.save(state, path)
    return path, path.read_bytes()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.dpt"
    model = dt.Sequential([dt.Input((4,)), dt.layers.Dense(3, activation="relu"), dt.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((8, 4)), np.ones((8, 2)), epochs=1, verbose=0)
    model.save(path)
    return path, path.read_bytes()


def _same(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, (np.ndarray, np.generic)):
        return type(a) is type(b) and a.dtype == b.dtype and np.array_equal(a, b)
    return a == b


# ------------------------------------------------------------------ truncated files
def _cuts(size):
    head = list(range(0, min(size, 200)))
    return sorted(set(head + list(range(200, size, max(1, size // 97))) + [size - 1]))


@pytest.mark.timeout(60)
def test_every_truncation_of_a_checkpoint_is_refused(checkpoint, tmp_path, tripwire):
    _, data = checkpoint
    bad = tmp_path / "cut.ckpt"
    for n in _cuts(len(data)):
        bad.write_bytes(data[:n])
        msg = assert_refused(load, bad)
        assert "truncated" in msg or "wrong magic" in msg, (n, msg)


@pytest.mark.timeout(60)
def test_every_truncation_of_a_model_file_is_refused(model_file, tmp_path, tripwire):
    _, data = model_file
    bad = tmp_path / "cut.dpt"
    for n in _cuts(len(data))[::3] + [len(data) - 1]:
        bad.write_bytes(data[:n])
        msg = assert_refused(load_model, bad)
        assert msg.startswith("load_model: "), msg


# ------------------------------------------------------------------ flipped bits
@pytest.mark.timeout(120)
def test_every_single_bit_flip_of_a_checkpoint_is_refused(checkpoint, tmp_path, tripwire):
    """The prefix and header bit by bit, the padding and payload byte by byte (one bit each)."""
    _, data = checkpoint
    bad = tmp_path / "flip.ckpt"
    header_len = struct.unpack_from("<I", data, 12)[0]
    head_end = S._PREFIX.size + header_len
    spots = [(i, b) for i in range(head_end) for b in range(8)]
    spots += [(i, (i * 5) % 8) for i in range(head_end, len(data))]
    for i, bit in spots:
        flipped = bytearray(data)
        flipped[i] ^= 1 << bit
        bad.write_bytes(flipped)
        assert_refused(load, bad)


@pytest.mark.timeout(60)
def test_random_bit_flips_of_a_model_file_are_refused(model_file, tmp_path, tripwire):
    _, data = model_file
    bad = tmp_path / "flip.dpt"
    rng = np.random.default_rng(15)
    for i in list(range(32)) + rng.integers(0, len(data), 300).tolist():
        flipped = bytearray(data)
        flipped[i] ^= 1 << int(rng.integers(0, 8))
        bad.write_bytes(flipped)
        msg = assert_refused(load_model, bad)
        assert msg.startswith("load_model: "), msg


@pytest.mark.timeout(30)
def test_bursts_of_random_bytes_are_refused(checkpoint, tmp_path, tripwire):
    _, data = checkpoint
    bad = tmp_path / "burst.ckpt"
    rng = np.random.default_rng(16)
    for _ in range(300):
        at, n = int(rng.integers(0, len(data))), int(rng.integers(1, 64))
        garbled = bytearray(data)
        garbled[at:at + n] = rng.bytes(len(garbled[at:at + n]))
        if bytes(garbled) == data:
            continue
        bad.write_bytes(garbled)
        assert_refused(load, bad)


# ------------------------------------------------------------------ huge declared lengths
GOOD_HEADER = {"tree": {"w": ext(0)}, "arrays": [["<f4", [4], 0, 16]]}
GOOD_PAYLOAD = np.arange(4, dtype="<f4").tobytes()


def test_the_crafted_file_is_valid_as_a_control(tmp_path):
    got = S.load(craft(tmp_path / "ok.ckpt", GOOD_HEADER, GOOD_PAYLOAD))
    assert got["w"].tolist() == [0, 1, 2, 3]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("field, value", [
    ("header_len", 0xFFFFFFFF), ("header_len", 1 << 31), ("header_len", 10_000),
    ("payload_len", (1 << 64) - 1), ("payload_len", 1 << 40), ("payload_len", 17),
])
def test_a_huge_declared_length_is_refused_without_allocating_it(tmp_path, tripwire, field, value):
    path = craft(tmp_path / "huge.ckpt", GOOD_HEADER, GOOD_PAYLOAD, **{field: value})
    msg = assert_refused(load, path)
    assert "truncated" in msg or "unexpected bytes" in msg, msg


@pytest.mark.timeout(30)
@pytest.mark.parametrize("raw", [
    b"\xdd\xff\xff\xff\xff",                    # array32 of 4 G elements, none present
    b"\xdf\xff\xff\xff\xff",                    # map32 of 4 G entries
    b"\xc6\xff\xff\xff\xff" + b"x" * 10,        # bin32 of 4 GiB
    b"\xdb\xff\xff\xff\xff" + b"x" * 10,        # str32 of 4 GiB
    b"\xc9\xff\xff\xff\xff\x01",                # ext32 of 4 GiB
    b"\x81\xa4tree\xdd\x7f\xff\xff\xff",        # a tree that declares 2 G items
    b"\x91" * 100_000,                          # nested 100 000 deep
    b"\xc1",                                    # the one byte msgpack never uses
    b"",                                        # no header at all
])
def test_a_header_that_declares_more_than_it_holds_is_refused(tmp_path, tripwire, raw):
    assert_refused(load, craft(tmp_path / "h.ckpt", raw))


@pytest.mark.timeout(30)
@pytest.mark.parametrize("shape, nbytes", [
    ([1 << 40], 4 << 40),                       # 4 TiB declared, 16 bytes there
    ([1 << 62, 1 << 62], 16),                   # the product overflows 64 bits
    ([0, 1 << 62, 1 << 62], 0),                 # empty, but numpy cannot even describe it
    ([0, (1 << 64) - 1], 0),                    # a dimension beyond int64
    ([1] * 70, 4),                              # more dimensions than numpy has
    ([-1, -4], 16),                             # negative
    ([2.0, 2], 16), ([None], 16), ("16", 16), ({"a": 1}, 16),
])
def test_a_huge_or_invalid_declared_shape_is_refused(tmp_path, tripwire, shape, nbytes):
    header = {"tree": {"w": ext(0)}, "arrays": [["<f4", shape, 0, nbytes]]}
    msg = assert_refused(load, craft(tmp_path / "s.ckpt", header, GOOD_PAYLOAD))
    assert "array 0" in msg, msg


@pytest.mark.timeout(30)
@pytest.mark.parametrize("meta", [
    ["<f4", [4], 1 << 62, 16], ["<f4", [4], -16, 16], ["<f4", [4], 8, 16], ["<f4", [4], 0, 15],
    ["<f4", [4], 0.0, 16], ["<f4", [4], 0], "f4", None,
])
def test_an_array_outside_the_payload_is_refused(tmp_path, tripwire, meta):
    header = {"tree": {"w": ext(0)}, "arrays": [meta]}
    assert_refused(load, craft(tmp_path / "o.ckpt", header, GOOD_PAYLOAD), match="array 0")


# ------------------------------------------------------------------ dtypes
@pytest.mark.timeout(30)
@pytest.mark.parametrize("dtype", [
    "|O", "O", "<O", "object", [["a", "|O"]], [["a", "<f4"]], "V16", "|S16", "<U4", "<M8[s]",
    "<m8[s]", ">f4", ">i4", "(4,)<f4", "f4,f4", 7, None, (1 << 64) - 1, [1, 2], b"<f4",
    {"names": ["a"], "formats": ["<f4"], "offsets": [(1 << 64) - 1]},
    {"names": ["a"], "formats": ["|O"]}, {"a": 1},
])
def test_object_and_other_non_numeric_dtypes_are_refused(tmp_path, tripwire, dtype):
    # an object array would be a table of pointers read from the file
    header = {"tree": {"w": ext(0)}, "arrays": [[dtype, [2], 0, 16]]}
    assert_refused(load, craft(tmp_path / "d.ckpt", header, GOOD_PAYLOAD), match="array 0")


# ------------------------------------------------------------------ malformed structure
@pytest.mark.timeout(30)
@pytest.mark.parametrize("header, problem", [
    ([1, 2, 3], "malformed header"),
    ({"arrays": []}, "malformed header"),
    ({"tree": 1, "arrays": {"0": 1}}, "malformed header"),
    ({"tree": ext(5), "arrays": []}, "reference to array 5"),
    ({"tree": ext(0, S._EXT_SCALAR), "arrays": [["<f4", [4], 0, 16]]}, "scalar 0 has shape"),
    ({"tree": msgpack.ExtType(1, b"\x00" * 5), "arrays": []}, "unreadable header"),
    ({"tree": msgpack.ExtType(42, b"\x00" * 4), "arrays": []}, "unreadable header"),
])
def test_a_malformed_header_is_refused(tmp_path, tripwire, header, problem):
    assert_refused(load, craft(tmp_path / "m.ckpt", header, GOOD_PAYLOAD), match=problem)


@pytest.mark.timeout(30)
def test_a_structure_nested_too_deeply_is_refused(tmp_path, tripwire):
    tree = 0
    for _ in range(S._MAX_DEPTH + 10):
        tree = [tree]
    assert_refused(load, craft(tmp_path / "deep.ckpt", {"tree": tree, "arrays": []}), match="nested too deeply")


@pytest.mark.timeout(30)
def test_a_map_keyed_by_a_list_is_refused(tmp_path, tripwire):
    raw = b"\x82\xa4tree\x81\x91\x01\x02\xa6arrays\x90"  # {"tree": {[1]: 2}, "arrays": []}
    assert_refused(load, craft(tmp_path / "key.ckpt", raw), match="unreadable header")


@pytest.mark.timeout(30)
def test_nonzero_padding_after_the_header_is_refused(tmp_path, tripwire):
    """The padding is covered by neither checksum; a flipped bit there must not pass unnoticed."""
    raw = msgpack.packb(dict(GOOD_HEADER, note="x" * 9), use_bin_type=True)
    gap = S._align(S._PREFIX.size + len(raw)) - S._PREFIX.size - len(raw)
    assert gap > 0
    assert S.load(craft(tmp_path / "zeros.ckpt", raw, GOOD_PAYLOAD))["w"].size == 4
    path = craft(tmp_path / "pad.ckpt", raw, GOOD_PAYLOAD, pad=b"\0" * (gap - 1) + b"\x01")
    assert_refused(load, path)


# ------------------------------------------------------------------ pickle payloads
def _pickles(marker):
    for protocol in (0, 2, 4, 5):
        yield f"pickle-{protocol}", pickle.dumps(Detonator(marker), protocol=protocol)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("loader", [load, load_model], ids=["ag.load", "load_model"])
def test_a_pickle_file_is_refused_and_never_unpickled(tmp_path, tripwire, loader):
    files = dict(_pickles(tripwire))
    # numpy's .npy of an object array (a pickle inside), and the same behind our magic bytes
    npy = tmp_path / "obj.npy"
    np.save(npy, np.array([Detonator(tripwire)], dtype=object), allow_pickle=True)
    files["npy-object"] = npy.read_bytes()
    files["magic+pickle"] = S.MAGIC + files["pickle-4"]
    files["magic+prefix+pickle"] = S._PREFIX.pack(S.MAGIC, 1, 0, 0, 0, 0) + files["pickle-4"]
    for name, data in files.items():
        path = tmp_path / f"{name}.bin"
        path.write_bytes(data)
        assert_refused(loader, path)


@pytest.mark.timeout(30)
def test_a_pickle_in_the_payload_is_never_unpickled(tmp_path, tripwire):
    payload = pickle.dumps(Detonator(tripwire), protocol=4)
    payload += b"\0" * (-len(payload) % 8)
    n = len(payload)
    for dtype in ("|O", "O", [["x", "|O"]]):   # the payload declared as object arrays: refused
        header = {"tree": {"w": ext(0)}, "arrays": [[dtype, [n // 8], 0, n]]}
        assert_refused(load, craft(tmp_path / "objpayload.ckpt", header, payload), match="array 0")
    # declared as bytes it is data, and stays data
    header = {"tree": {"w": ext(0), "blob": payload}, "arrays": [["|u1", [n], 0, n]]}
    got = S.load(craft(tmp_path / "bytes.ckpt", header, payload))
    assert got["blob"] == payload and got["w"].tobytes() == payload


@pytest.mark.timeout(30)
def test_a_model_file_naming_a_callable_runs_nothing(model_file, tmp_path, tripwire):
    """class_name and layer configs are looked up among registered classes only."""
    path, _ = model_file
    state = S.load(path)
    for class_name in ("os.system", "posix.system", "builtins.eval", "__import__", "Detonator"):
        bad = dict(state, class_name=class_name)
        out = tmp_path / "callable.dpt"
        S.save(bad, out)
        with pytest.raises(ValueError, match="unknown layer class|not a model class"):
            dt.load_model(out)


# ------------------------------------------------------------------ not a checkpoint at all
@pytest.mark.timeout(30)
@pytest.mark.parametrize("data", [
    b"", b"\x89", b"\x89DPT\r\n\x1a", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, b"PK\x03\x04" + b"\0" * 64,
    b"\x93NUMPY" + b"\0" * 64, b"\0" * 4096, bytes(range(256)) * 4,
])
def test_something_else_is_refused(tmp_path, tripwire, data):
    path = tmp_path / "other.bin"
    path.write_bytes(data)
    assert_refused(load, path)
    assert_refused(load_model, path)


@pytest.mark.timeout(30)
def test_a_newer_format_version_is_refused(tmp_path, tripwire):
    assert_refused(load, craft(tmp_path / "v2.ckpt", GOOD_HEADER, GOOD_PAYLOAD, version=2),
                   match="format version 2")


# ------------------------------------------------------------------ sanity: good files still load
def test_the_originals_still_load(checkpoint, model_file):
    path, data = checkpoint
    got = S.load(path)
    assert got["w"].shape == (5, 8) and got["step"] == 7
    model = dt.load_model(model_file[0])
    assert model.predict(np.ones((2, 4)), verbose=0).shape == (2, 2)
