"""What every kernel mixin builds on: allocation, uploads, launches, shape helpers."""
from __future__ import annotations

import numpy as np

from ..array import VkArray

WG = 128                 # workgroup size of the 1-D kernels
MAX_DIMS = 6             # dimensions a strided/broadcast shader handles after coalescing
F32 = np.dtype(np.float32)
F16 = np.dtype(np.float16)
U32 = np.dtype(np.uint32)
DEVICE_FLOATS = (F32, F16)


def contiguous_strides(shape):
    strides, acc = [], 1
    for s in reversed(shape):
        strides.append(acc)
        acc *= s
    return tuple(reversed(strides))


def prod(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def coalesce(shape, *stride_lists):
    """Drop size-1 dims and merge neighbours that are contiguous in every stride list."""
    dims, strides = [], [[] for _ in stride_lists]
    for d, size in enumerate(shape):
        if size == 1:
            continue
        if dims and all(sl[-1] == st[d] * size for sl, st in zip(strides, stride_lists)):
            dims[-1] *= size
            for sl, st in zip(strides, stride_lists):
                sl[-1] = st[d]
            continue
        dims.append(size)
        for sl, st in zip(strides, stride_lists):
            sl.append(st[d])
    if not dims:
        return [1], [[0] for _ in stride_lists]
    return dims, strides


def pad6(values, fill=0):
    values = list(values)
    if len(values) > MAX_DIMS:
        raise ValueError(f"vulkan: this layout needs {len(values)} dimensions after merging; at most {MAX_DIMS} "
                         f"are supported")
    return values + [fill] * (MAX_DIMS - len(values))


def broadcast_shape(*shapes):
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ValueError("operands could not be broadcast together with shapes "
                         + " ".join(str(tuple(s)) for s in shapes)) from None


def broadcast_strides(src_shape, out_shape):
    """Element strides of a contiguous `src_shape` array read as `out_shape` (0 where broadcast)."""
    lead = len(out_shape) - len(src_shape)
    cs = contiguous_strides(src_shape)
    out = [0] * lead
    for d, s in enumerate(src_shape):
        out.append(0 if s == 1 and out_shape[lead + d] != 1 else cs[d])
    return out


class KernelBase:
    def __init__(self, device):
        self.device = device
        self.rec = device.recorder
        self.pipes = device.pipelines
        self.f16_storage = False      # ag.dtype("f16"): store float32 results as f16
        self._bcast_cache = {}
        # workgroups per grid row; more are spread over y (kernels index linearly)
        self.max_groups_x = min(65535, device.max_groups[0])

    # -- arrays ------------------------------------------------------------------------
    def _empty(self, shape, dtype=F32, f16=None):
        """A new array; float32 is stored as f16 under ag.dtype("f16") unless `f16` says otherwise."""
        dtype = np.dtype(dtype)
        if dtype == F32:
            f16 = self.f16_storage if f16 is None else f16
        elif dtype == F16:
            f16 = self.device.f16
        else:
            f16 = False
        itemsize = 2 if f16 else 4
        st = self.device.pool.alloc(prod(shape) * itemsize)
        return VkArray(self, st, 0, tuple(shape), dtype, f16)

    def _upload(self, host: np.ndarray) -> VkArray:
        if not host.flags.c_contiguous:
            host = host.copy()        # (np.ascontiguousarray would turn 0-d into 1-d)
        out = self._empty(host.shape, host.dtype)
        want = out.storage_dtype
        self.device.upload(out.storage, host if host.dtype == want else host.astype(want))
        return out

    def _dev(self, a) -> VkArray:
        """The argument as a device array (host float32/float16 arrays and scalars are uploaded;
        an array of another Vulkan device is copied through the host)."""
        if type(a) is VkArray:
            if a.backend is self:
                return a
            return self._upload(a.backend.to_numpy(a))
        h = np.asarray(a)
        if h.dtype not in DEVICE_FLOATS:
            h = h.astype(F32)
        return self._upload(h)

    def _index_buffer(self, values) -> VkArray:
        v = np.ascontiguousarray(values, dtype=np.int64).ravel()
        if v.size and (v.min() < 0 or v.max() >= 2 ** 32):
            raise ValueError("vulkan: index out of the 32-bit range")
        return self._upload(v.astype(U32))

    def view(self, a: VkArray, shape, delta=0) -> VkArray:
        return VkArray(self, a.storage, a.off + delta, tuple(shape), a.dtype, a.f16)

    # -- launches -------------------------------------------------------------------------
    def _launch(self, iface, spec, arrays, push, n, wg=WG):
        """Dispatch a 1-D kernel over n invocations (workgroups spread over x and y)."""
        if n <= 0:
            return
        self._launch_groups(iface, spec, arrays, push, (n + wg - 1) // wg, wg)

    def _launch_groups(self, iface, spec, arrays, push, groups, wg=WG):
        """Dispatch one workgroup per item (`groups` items)."""
        if groups <= 0:
            return
        pipe = self.pipes.get(iface, (wg,) + spec, tuple([a.f16 for a in arrays]))
        gx = self.max_groups_x
        if groups <= gx:
            self.rec.dispatch(pipe, arrays, push, groups)
        else:
            self.rec.dispatch(pipe, arrays, push, gx, (groups + gx - 1) // gx)
