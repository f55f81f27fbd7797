"""save/load: a data-only checkpoint format (no pickle; nothing is executed on load).

File layout (all integers little-endian):
  0   magic        8 bytes  b"\\x89DPT\\r\\n\\x1a\\n"
  8   version      u32      FORMAT_VERSION
  12  header_len   u32
  16  header_crc   u32      crc32 of the header bytes
  20  payload_crc  u32      crc32 of the payload bytes
  24  payload_len  u64
  32  header       msgpack: {"tree": the structure, "arrays": [[dtype, shape, offset, nbytes], ...]}
      (zero padding to a multiple of 64)
      payload      raw little-endian C-order array bytes, each array at a 64-byte aligned offset

In the tree, numpy arrays and Tensors are msgpack extension objects holding the
array's index (numpy scalars likewise, restored as numpy scalars); None, bools,
ints, floats, strings, bytes, lists and dicts with str/int keys are msgpack
values. Tuples come back as lists. Writes are atomic: a temp file in the same
directory (`.<file>.tmp-<host>-<pid>-XXXX.tmp`), fsync, os.replace. The temp file is
removed on any error; one left by a killed writer is removed by the next save of the file.
"""
from __future__ import annotations

import errno
import os
import re
import socket
import struct
import tempfile
import time
import zlib

import msgpack
import numpy as np

from .tensor import Tensor

MAGIC = b"\x89DPT\r\n\x1a\n"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sIIIIQ")
_ALIGN = 64
_EXT_ARRAY, _EXT_SCALAR = 1, 2
_MAX_DEPTH = 256
STALE_TEMP_S = 3600.0  # a temp file of another host's save, untouched this long, is abandoned


class CorruptFileError(ValueError):
    """A checkpoint that is truncated, corrupt or not a checkpoint; names the file and the problem."""

    def __init__(self, path, problem, who="ag.load"):
        super().__init__(f"{who}: {path}: {problem}")
        self.path = path
        self.problem = problem


def _align(n):
    return -(-n // _ALIGN) * _ALIGN


def _fmt_path(where):
    return "state" + "".join(f"[{k!r}]" for k in where)


def _encode(obj, arrays, where, active):
    """The msgpack-ready tree, appending arrays to `arrays`."""
    if obj is None or isinstance(obj, (bool, str, bytes, float)):
        return obj
    if isinstance(obj, int):
        if not -2 ** 63 <= obj < 2 ** 64:
            raise TypeError(f"ag.save: {_fmt_path(where)} is an integer too large for 64 bits")
        return obj
    if isinstance(obj, (Tensor, np.ndarray, np.generic)):
        scalar = isinstance(obj, np.generic)
        a = obj.numpy() if isinstance(obj, Tensor) else np.asarray(obj)
        if a.dtype.kind not in "biufc":
            raise TypeError(f"ag.save: {_fmt_path(where)} has dtype {a.dtype}; only bool, integer, "
                            "float and complex arrays can be saved")
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        if not a.flags.c_contiguous:
            a = np.array(a, order="C")   # (np.ascontiguousarray would turn 0-d into 1-d)
        arrays.append(a)
        return msgpack.ExtType(_EXT_SCALAR if scalar else _EXT_ARRAY, struct.pack("<I", len(arrays) - 1))
    if isinstance(obj, (list, tuple, dict)):
        if id(obj) in active:
            raise ValueError(f"ag.save: {_fmt_path(where)} contains itself")
        if len(where) >= _MAX_DEPTH:
            raise ValueError(f"ag.save: the structure is nested more than {_MAX_DEPTH} levels deep")
        active.add(id(obj))
        try:
            if isinstance(obj, dict):
                out = {}
                for k, v in obj.items():
                    if isinstance(k, bool) or not isinstance(k, (str, int)):
                        raise TypeError(f"ag.save: {_fmt_path(where)} has a key {k!r} of type "
                                        f"{type(k).__name__}; keys must be str or int")
                    out[k] = _encode(v, arrays, where + (k,), active)
                return out
            return [_encode(v, arrays, where + (i,), active) for i, v in enumerate(obj)]
        finally:
            active.discard(id(obj))
    raise TypeError(f"ag.save: {_fmt_path(where)} is a {type(obj).__name__}; a checkpoint holds only "
                    "dicts, lists, numpy arrays, Tensors, numbers, strings, bytes, bools and None")


def save(state, path):
    """Write `state` (nested dicts/lists of arrays, Tensors, numbers, strings, bools, None) to `path` atomically."""
    path = os.fspath(path)
    arrays = []
    tree = _encode(state, arrays, (), set())
    metas, off = [], 0
    for a in arrays:
        off = _align(off)
        metas.append([a.dtype.str, list(a.shape), off, a.nbytes])
        off += a.nbytes
    payload_len = off
    header = msgpack.packb({"tree": tree, "arrays": metas}, use_bin_type=True)
    head_end = _PREFIX.size + len(header)
    directory = os.path.dirname(os.path.abspath(path))
    _remove_stale_temps(directory, os.path.basename(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=_temp_prefix(os.path.basename(path)), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(b"\0" * _PREFIX.size)
            f.write(header)
            f.write(b"\0" * (_align(head_end) - head_end))
            crc, pos = 0, 0
            for a, (_, _, offset, nbytes) in zip(arrays, metas):
                pad = b"\0" * (offset - pos)
                crc = zlib.crc32(pad, crc)
                f.write(pad)
                raw = a.reshape(-1).view(np.uint8)
                crc = zlib.crc32(raw, crc)
                f.write(raw)
                pos = offset + nbytes
            f.seek(0)
            f.write(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(header), zlib.crc32(header), crc, payload_len))
            f.flush()
            os.fsync(f.fileno())
        try:
            mode = os.stat(path).st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)


def _host_tag():
    return re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname()) or "host"


def _temp_prefix(base):
    """`.<file>.tmp-<host>-<pid>-`: a later save can tell whose temp file it finds."""
    return f".{base}.tmp-{_host_tag()}-{os.getpid()}-"


def _remove_stale_temps(directory, base):
    """Temp files of earlier saves of this file whose writer is gone (killed mid-save): on this
    host, when the pid in the name is dead; from another host (a shared filesystem), when
    untouched for STALE_TEMP_S. A save in progress keeps its file."""
    pattern = re.compile(re.escape(f".{base}.tmp-") + r"(?P<host>.+)-(?P<pid>\d+)-[A-Za-z0-9_]+\.tmp")
    try:
        names = os.listdir(directory)
    except OSError:
        return
    here, now = _host_tag(), time.time()
    for name in names:
        m = pattern.fullmatch(name)
        if not m:
            continue
        full = os.path.join(directory, name)
        try:
            if m.group("host") == here:
                pid = int(m.group("pid"))
                if pid == os.getpid() or _pid_alive(pid):
                    continue
            elif now - os.stat(full).st_mtime < STALE_TEMP_S:
                continue
            os.unlink(full)
        except OSError:
            pass


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # alive, someone else's
        return True
    return True


def _fsync_dir(directory):
    """Make the rename durable (POSIX); not available everywhere, so best effort."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _Ref:
    __slots__ = ("kind", "index")

    def __init__(self, kind, index):
        self.kind, self.index = kind, index


def _ext_hook(code, data):
    if code not in (_EXT_ARRAY, _EXT_SCALAR) or len(data) != 4:
        raise ValueError(f"unknown extension object (code {code})")
    return _Ref(code, struct.unpack("<I", data)[0])


def _array_from(data, payload_start, payload_len, meta, i, fail):
    if not (isinstance(meta, list) and len(meta) == 4):
        fail(f"array {i}: malformed description")
    dtype_str, shape, offset, nbytes = meta
    try:  # only a type string: np.dtype also takes None, lists, dicts (and raises many things)
        dtype = np.dtype(dtype_str) if isinstance(dtype_str, str) else None
    except Exception:
        dtype = None
    if dtype is None:
        fail(f"array {i}: unknown dtype {dtype_str!r}")
    if dtype.kind not in "biufc" or dtype.byteorder == ">" or not isinstance(shape, list) \
            or not all(isinstance(s, int) and s >= 0 for s in shape):
        fail(f"array {i}: invalid dtype {dtype_str!r} or shape {shape!r}")
    count = 1
    for s in shape:
        count *= s
    if not (isinstance(offset, int) and isinstance(nbytes, int)) or nbytes != count * dtype.itemsize \
            or offset < 0 or offset + nbytes > payload_len:
        fail(f"array {i}: size {nbytes} at offset {offset} does not fit {dtype} {tuple(shape)} "
             f"in a payload of {payload_len} bytes")
    try:  # numpy refuses more than 64 dimensions, or an (empty) shape it cannot index
        return np.frombuffer(data, dtype=dtype, count=count, offset=payload_start + offset).reshape(shape)
    except ValueError as e:
        fail(f"array {i}: shape {tuple(shape)} is not a valid array shape ({e})")


def _resolve(node, arrays, fail, depth=0):
    if depth > _MAX_DEPTH:
        fail("the structure is nested too deeply")
    if isinstance(node, _Ref):
        if node.index >= len(arrays):
            fail(f"reference to array {node.index}, but only {len(arrays)} arrays are described")
        a = arrays[node.index]
        if node.kind == _EXT_SCALAR:
            if a.shape != ():
                fail(f"scalar {node.index} has shape {a.shape}")
            return a[()]
        return a
    if isinstance(node, list):
        return [_resolve(v, arrays, fail, depth + 1) for v in node]
    if isinstance(node, dict):
        return {k: _resolve(v, arrays, fail, depth + 1) for k, v in node.items()}
    return node


def load(path, who="ag.load"):
    """Read a checkpoint written by `save`. Arrays come back as writable numpy arrays.

    `who` names the caller in error messages (e.g. "load_model").
    """
    path = os.fspath(path)

    def fail(problem):
        raise CorruptFileError(path, problem, who)

    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, f"{who}: no such file", path) from None
    with f:
        size = os.fstat(f.fileno()).st_size
        data = bytearray(size)
        got = f.readinto(data)
    if got != size:
        fail(f"could read only {got} of {size} bytes")
    if size < _PREFIX.size:
        if bytes(data[:len(MAGIC)]) != MAGIC[:min(size, len(MAGIC))]:
            fail("not a dptrain checkpoint (wrong magic bytes)")
        fail(f"truncated: {size} bytes, shorter than the {_PREFIX.size}-byte file header")
    magic, version, header_len, header_crc, payload_crc, payload_len = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        fail("not a dptrain checkpoint (wrong magic bytes)")
    if version != FORMAT_VERSION:
        fail(f"format version {version} is not supported (this reader supports version {FORMAT_VERSION})")
    head_end = _PREFIX.size + header_len
    payload_start = _align(head_end)
    if head_end > size or payload_start + payload_len > size:
        fail(f"truncated: {size} bytes, expected {payload_start + payload_len}")
    if payload_start + payload_len < size:
        fail(f"{size - payload_start - payload_len} unexpected bytes after the end of the data")
    if any(data[head_end:payload_start]):  # covered by no checksum: must be the zeros save writes
        fail("corrupt header padding (non-zero bytes)")
    header = bytes(data[_PREFIX.size:head_end])
    if zlib.crc32(header) != header_crc:
        fail("corrupt header (checksum mismatch)")
    if zlib.crc32(memoryview(data)[payload_start:]) != payload_crc:
        fail("corrupt array data (checksum mismatch)")
    try:
        head = msgpack.unpackb(header, raw=False, strict_map_key=False, ext_hook=_ext_hook)
    except Exception as e:  # msgpack raises several unrelated types for malformed input
        fail(f"unreadable header ({e})")
    if not isinstance(head, dict) or "tree" not in head or not isinstance(head.get("arrays"), list):
        fail("malformed header")
    arrays = [_array_from(data, payload_start, payload_len, m, i, fail) for i, m in enumerate(head["arrays"])]
    return _resolve(head["tree"], arrays, fail)
