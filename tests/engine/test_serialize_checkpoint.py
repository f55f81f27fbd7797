"""ag.save / ag.load: round trips, the data-only format, atomic writes, clear errors on bad files."""
import os
import struct

import numpy as np
import pytest

from dptrain import ag
from engine import serialize


def _state():
    rng = np.random.default_rng(0)
    return {
        "weights": {"w": rng.standard_normal((3, 4)).astype(np.float32), "b": np.arange(4, dtype=np.int64)},
        "tensor": ag.param(np.ones((2, 2)), name="t"),
        "list": [1, 2.5, "three", None, True, False, b"\x00\x01", [np.zeros(0, np.float16)]],
        "tuple": (1, 2),
        "scalars": {"np_float": np.float32(1.5), "np_bool": np.bool_(True), 3: "int key"},
        "big_endian": np.arange(3, dtype=">f8"),
        "complex": np.array([1 + 2j]),
        "strided": np.arange(12.0).reshape(3, 4)[:, ::2],
        "empty": {},
        "nan": float("nan"),
    }


def test_round_trip(tmp_path):
    path = tmp_path / "state.dpt"
    ag.save(_state(), path)
    out = ag.load(path)
    ref = _state()
    np.testing.assert_array_equal(out["weights"]["w"], ref["weights"]["w"])
    assert out["weights"]["w"].dtype == np.float32 and out["weights"]["b"].dtype == np.int64
    np.testing.assert_array_equal(out["tensor"], np.ones((2, 2)))
    assert isinstance(out["tensor"], np.ndarray)
    assert out["list"][:7] == [1, 2.5, "three", None, True, False, b"\x00\x01"]
    assert out["list"][7][0].shape == (0,) and out["list"][7][0].dtype == np.float16
    assert out["tuple"] == [1, 2]
    assert out["scalars"]["np_float"] == np.float32(1.5) and type(out["scalars"]["np_float"]) is np.float32
    assert type(out["scalars"]["np_bool"]) is np.bool_ and bool(out["scalars"]["np_bool"])
    assert out["scalars"][3] == "int key"
    np.testing.assert_array_equal(out["big_endian"], [0.0, 1.0, 2.0])
    assert out["complex"][0] == 1 + 2j
    np.testing.assert_array_equal(out["strided"], ref["strided"])
    assert out["empty"] == {} and np.isnan(out["nan"])
    out["weights"]["w"] += 1                       # loaded arrays are writable


def test_module_and_optimizer_checkpoint(tmp_path):
    m = ag.Sequential(ag.Linear(3, 4), ag.BatchNorm(4))
    opt = ag.optim.Adam(m.parameters())
    ag.save({"model": m.state_dict(), "opt": opt.state_dict(), "epoch": 3}, str(tmp_path / "ck"))
    ck = ag.load(str(tmp_path / "ck"))
    m2 = ag.Sequential(ag.Linear(3, 4), ag.BatchNorm(4))
    m2.load_state_dict(ck["model"])
    ag.optim.Adam(m2.parameters()).load_state_dict(ck["opt"])
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(m2.state_dict()[k], v)
    assert ck["epoch"] == 3


def test_file_layout_is_data_only(tmp_path):
    path = tmp_path / "x.dpt"
    ag.save({"a": np.arange(5, dtype=np.int32)}, path)
    raw = path.read_bytes()
    magic, version, header_len, _, _, payload_len = struct.unpack_from("<8sIIIIQ", raw)
    assert magic == serialize.MAGIC and version == serialize.FORMAT_VERSION and payload_len == 20
    assert b"pickle" not in raw and raw.endswith(np.arange(5, dtype="<i4").tobytes())
    assert (len(raw) - payload_len) % 64 == 0       # payload is 64-byte aligned


def test_atomic_overwrite_leaves_no_temp_files(tmp_path):
    path = tmp_path / "ck.dpt"
    ag.save({"v": 1}, path)
    os.chmod(path, 0o640)
    ag.save({"v": 2}, path)
    assert ag.load(path) == {"v": 2}
    assert os.listdir(tmp_path) == ["ck.dpt"]
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_failed_save_keeps_the_old_file(tmp_path):
    path = tmp_path / "ck.dpt"
    ag.save({"v": 1}, path)
    with pytest.raises(TypeError, match=r"state\['bad'\]\[1\] is a object"):
        ag.save({"bad": [1, object()]}, path)
    assert ag.load(path) == {"v": 1} and os.listdir(tmp_path) == ["ck.dpt"]


def test_unsupported_values_are_named(tmp_path):
    with pytest.raises(TypeError, match="dtype object"):
        ag.save({"x": np.array([None])}, tmp_path / "a")
    with pytest.raises(TypeError, match="keys must be str or int"):
        ag.save({(1, 2): 3}, tmp_path / "a")
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        ag.save(loop, tmp_path / "a")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="ag.load: no such file") as e:
        ag.load(tmp_path / "nope.dpt")
    assert "nope.dpt" in str(e.value)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "ck.dpt"
    ag.save({"w": np.arange(100, dtype=np.float64), "name": "x"}, path)
    return path


@pytest.mark.parametrize("keep", [0, 5, 20, 40, -1])
def test_truncated_file(saved, keep):
    raw = saved.read_bytes()
    saved.write_bytes(raw[:keep] if keep >= 0 else raw[:-8])
    with pytest.raises(ag.CorruptFileError, match="truncated") as e:
        ag.load(saved)
    assert str(saved) in str(e.value) and isinstance(e.value, ValueError)


def test_corrupt_payload_byte(saved):
    raw = bytearray(saved.read_bytes())
    raw[-3] ^= 0xFF
    saved.write_bytes(bytes(raw))
    with pytest.raises(ag.CorruptFileError, match="corrupt array data"):
        ag.load(saved)


def test_corrupt_header_byte(saved):
    raw = bytearray(saved.read_bytes())
    raw[34] ^= 0x01
    saved.write_bytes(bytes(raw))
    with pytest.raises(ag.CorruptFileError, match="corrupt header"):
        ag.load(saved)


def test_not_a_checkpoint_and_newer_version(saved, tmp_path):
    other = tmp_path / "text.txt"
    other.write_text("hello, this is not a checkpoint at all" * 3)
    with pytest.raises(ag.CorruptFileError, match="not a dptrain checkpoint"):
        ag.load(other)
    raw = bytearray(saved.read_bytes())
    struct.pack_into("<I", raw, 8, 99)
    saved.write_bytes(bytes(raw))
    with pytest.raises(ag.CorruptFileError, match="format version 99"):
        ag.load(saved)


def test_trailing_garbage(saved):
    with open(saved, "ab") as f:
        f.write(b"junk")
    with pytest.raises(ag.CorruptFileError, match="unexpected bytes"):
        ag.load(saved)


def _temps(directory):
    return sorted(n for n in os.listdir(directory) if n.endswith(".tmp"))


@pytest.mark.parametrize("where", ["os.fsync", "os.replace", "os.chmod"])
def test_any_error_during_save_removes_the_temp_file(tmp_path, monkeypatch, where):
    path = tmp_path / "state.dpt"
    ag.save({"a": np.ones(3)}, path)

    def boom(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(serialize.os, where.split(".")[1], boom)
    with pytest.raises(OSError, match="No space left"):
        ag.save({"a": np.zeros(1000)}, path)
    monkeypatch.undo()
    assert _temps(tmp_path) == []
    np.testing.assert_array_equal(ag.load(path)["a"], np.ones(3))  # the old file, whole


def test_a_later_save_removes_stale_temp_files_of_its_own_naming(tmp_path):
    import subprocess
    import sys
    path = tmp_path / "state.dpt"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = serialize._host_tag()
    stale = tmp_path / f".state.dpt.tmp-{host}-{dead.pid}-abc123_x.tmp"      # a killed save here
    live = tmp_path / f".state.dpt.tmp-{host}-{os.getppid()}-live0001.tmp"   # a save in progress
    old_remote = tmp_path / ".state.dpt.tmp-otherhost-12-remote01.tmp"      # abandoned on another host
    new_remote = tmp_path / ".state.dpt.tmp-otherhost-13-remote02.tmp"      # in progress there
    other_file = tmp_path / f".other.dpt.tmp-{host}-{dead.pid}-zzzzzzzz.tmp"
    unrelated = tmp_path / "notes.tmp"
    for p in (stale, live, old_remote, new_remote, other_file, unrelated):
        p.write_bytes(b"x" * 100)
    hours_ago = os.path.getmtime(old_remote) - 2 * serialize.STALE_TEMP_S
    os.utime(old_remote, (hours_ago, hours_ago))
    ag.save({"a": np.ones(2)}, path)
    assert _temps(tmp_path) == sorted(p.name for p in (live, new_remote, other_file, unrelated))


def test_a_save_killed_midway_leaves_a_temp_that_the_next_save_removes(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    path = tmp_path / "big.dpt"
    code = ("import numpy as np, sys; from engine.serialize import save\n"
            "a = np.ones(16 << 20, np.float32)\n"
            "while True: save({'a': a}, sys.argv[1])\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], env=dict(os.environ, PYTHONPATH=root))
    deadline = time.monotonic() + 30
    while not _temps(tmp_path):  # caught in the middle of a save
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _temps(tmp_path)
    ag.save({"a": np.zeros(1)}, path)
    assert _temps(tmp_path) == []
    np.testing.assert_array_equal(ag.load(path)["a"], np.zeros(1))
