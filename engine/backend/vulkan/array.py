"""VkArray: a C-contiguous array in device memory, possibly a view into another's storage.

`dtype` is the logical numpy dtype the engine sees (float32 or float16; uint32 for
internal index buffers); `f16` says the storage holds 16-bit floats. With
`ag.dtype("f16")` a float32 array may be stored as f16: the engine still sees
float32 and every shader computes in f32.
"""
from __future__ import annotations

import numpy as np


class VkArray:
    __slots__ = ("backend", "storage", "off", "shape", "dtype", "f16", "size", "__weakref__")

    def __init__(self, backend, storage, off, shape, dtype, f16):
        self.backend = backend
        self.storage = storage        # memory.Storage (the root every view keeps alive)
        self.off = off                # element offset within the storage (views share storages)
        self.shape = shape
        self.dtype = dtype
        self.f16 = f16
        n = 1
        for s in shape:
            n *= s
        self.size = n

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def itemsize(self) -> int:
        return 2 if self.f16 else 4

    @property
    def nbytes(self) -> int:
        return self.size * self.itemsize

    @property
    def storage_dtype(self):
        if self.dtype.kind != "f":
            return self.dtype
        return np.dtype(np.float16) if self.f16 else np.dtype(np.float32)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __array__(self, dtype=None, copy=None):
        a = self.backend.to_numpy(self)
        return a if dtype is None else a.astype(dtype, copy=False)

    def __repr__(self):
        where = "f16 storage" if self.f16 and self.dtype != np.float16 else "device"
        return f"VkArray(shape={self.shape}, dtype={self.dtype}, {where})"
