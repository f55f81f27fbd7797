"""Host <-> device, allocation, copies and flat-buffer views."""
from __future__ import annotations

import numpy as np

from ...numpy_backend import NumpyBackend
from ..array import VkArray
from ..interfaces import BINARY, FILL, STRIDED, UNARY, B_ADD, S_GATHER, U_COPY
from .base import DEVICE_FLOATS, KernelBase, broadcast_shape, broadcast_strides, coalesce, pad6, prod

_HOST = NumpyBackend()


class TransferKernels(KernelBase):
    def asarray(self, a, dtype=None):
        if type(a) is VkArray:
            return a if dtype is None or np.dtype(dtype) == a.dtype else self.astype(a, dtype)
        h = np.asarray(a, dtype=dtype)
        if h.dtype in DEVICE_FLOATS:
            return self._upload(h)
        return h                       # integers, bools, float64: kept on the host

    def to_numpy(self, a):
        if type(a) is not VkArray:
            return a
        if a.backend is not self:
            return a.backend.to_numpy(a)
        raw = self.device.download(a.storage, a.storage_dtype, a.size, a.off)
        raw = raw.reshape(a.shape)
        return raw if raw.dtype == a.dtype else raw.astype(a.dtype)

    def zeros(self, shape, dtype):
        return self.full(shape, 0.0, dtype)

    def full(self, shape, value, dtype):
        dtype = np.dtype(dtype)
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
        if dtype not in DEVICE_FLOATS:
            return np.full(shape, value, dtype)
        # zeros()/full() buffers (flat parameter/gradient buffers, optimiser state) stay f32
        # under ag.dtype("f16"), so updates accumulate into f32 master copies
        out = self._empty(shape, dtype, f16=False)
        self._fill(out, value)
        return out

    def _fill(self, out, value):
        self._launch(FILL, (), (out,), (out.size, out.off, float(value)), out.size)

    def copy(self, a):
        a = self._dev(a)
        out = self._empty(a.shape, a.dtype)
        self._launch(UNARY, (U_COPY,), (a, out), (a.size, a.off, out.off, 0.0, 0.0, 0), a.size)
        return out

    def astype(self, a, dtype):
        dtype = np.dtype(dtype)
        if type(a) is not VkArray:
            return self.asarray(np.asarray(a).astype(dtype))
        if dtype == a.dtype:
            return self.copy(a)
        if dtype not in DEVICE_FLOATS:
            return self.to_numpy(a).astype(dtype)
        out = self._empty(a.shape, dtype)
        self._launch(UNARY, (U_COPY,), (a, out), (a.size, a.off, out.off, 0.0, 0.0, 0), a.size)
        return out

    def split_views(self, flat, shapes):
        """Views of consecutive pieces of a 1-D buffer (sharing its memory)."""
        if type(flat) is not VkArray:
            return _HOST.split_views(flat, shapes)
        out, off = [], 0
        for s in shapes:
            s = tuple(int(d) for d in s)
            n = prod(s)
            if off + n > flat.size:
                raise ValueError(f"split_views: shapes need more than the buffer's {flat.size} elements")
            out.append(self.view(flat, s, off))
            off += n
        return out

    # -- in place ---------------------------------------------------------------------------
    def copy_into(self, dst, src):
        """dst[...] = src with numpy broadcasting (dst written in place)."""
        if type(dst) is not VkArray:
            np.copyto(dst, self.to_numpy(src))
            return
        if dst.backend is not self:
            return dst.backend.copy_into(dst, src)
        src = self._dev(src)
        if src.shape != dst.shape and broadcast_shape(src.shape, dst.shape) != dst.shape:
            raise ValueError(f"copy_into: cannot broadcast {src.shape} into {dst.shape}")
        self._gather_into(src, dst, dst.shape, broadcast_strides(src.shape, dst.shape), 0)

    def add_into(self, dst, src):
        """dst += src with numpy broadcasting (in place)."""
        if type(dst) is not VkArray:
            np.add(dst, self.to_numpy(src), out=dst)
            return
        if dst.backend is not self:
            return dst.backend.add_into(dst, src)
        src = self._dev(src)
        if broadcast_shape(dst.shape, src.shape) != dst.shape:
            raise ValueError(f"add_into: cannot broadcast {src.shape} into {dst.shape}")
        self._binary_into(B_ADD, dst, src, dst)

    # -- strided copies (shared by layout kernels) ----------------------------------------------
    def _gather_into(self, src, dst, shape, strides, delta):
        """dst (contiguous, `shape`) = src read through element `strides` from src.off + delta."""
        dims, (st,) = coalesce(shape, strides)
        n = prod(shape)
        push = (n, src.off + delta, dst.off, *pad6(dims, 1), *pad6(st))
        self._launch(STRIDED, (S_GATHER, len(dims)), (src, dst), push, n)
        return dst

    def _binary_into(self, op, a, b, out, alpha=0.0, beta=0.0, flags=0):
        shape = out.shape
        if a.shape == shape and b.shape == shape:
            dims, sa, sb = [out.size], [1], [1]
        else:
            key = (a.shape, b.shape, shape)
            hit = self._bcast_cache.get(key)
            if hit is None:
                dims, (sa, sb) = coalesce(shape, broadcast_strides(a.shape, shape), broadcast_strides(b.shape, shape))
                if len(self._bcast_cache) > 4096:
                    self._bcast_cache.clear()
                hit = self._bcast_cache[key] = (dims, sa, sb)
            dims, sa, sb = hit
        n = out.size
        push = (n, a.off, b.off, out.off, *pad6(dims, 1), *pad6(sa), *pad6(sb), alpha, beta, flags)
        self._launch(BINARY, (op, len(dims)), (a, b, out), push, n)
        return out
