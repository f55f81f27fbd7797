"""VulkanBackend: the kernel table of engine/backend (KERNELS) implemented with shaders.

Device arrays are float32/float16 VkArrays. Integer, boolean and float64 data stay
numpy arrays on the host (indices and labels are uploaded per use; float64, used by
gradcheck, has no fast device path), and a kernel given any float64 input runs on
the numpy backend, so results match it in every case.
"""
from __future__ import annotations

import functools

import numpy as np

from .. import KERNELS
from ..numpy_backend import NumpyBackend
from .array import VkArray
from .kernels.base import DEVICE_FLOATS
from .kernels.conv import ConvKernels
from .kernels.elementwise import ElementwiseKernels
from .kernels.layout import LayoutKernels
from .kernels.linalg import LinalgKernels
from .kernels.nn import NNKernels
from .kernels.optim import OptimKernels
from .kernels.recurrent import RecurrentKernels
from .kernels.reduce import ReduceKernels
from .kernels.transfer import TransferKernels

_HOST = NumpyBackend()

# Kernels that route themselves: creation kernels (the dtype decides) and in-place ones
# (the destination decides: writing into a host copy of a device array would be lost).
_SELF_ROUTED = frozenset({"asarray", "to_numpy", "zeros", "full", "astype", "split_views", "copy_into", "add_into",
                          "getitem_grad_into", "sgd_update", "adam_update", "rmsprop_update", "dropout_mask",
                          "one_hot", "adagrad_update", "adadelta_update", "adamax_update", "nadam_update",
                          "lion_update"})


def _on_device(args) -> bool:
    """True when a kernel call should run on the device: it has a device array (or a float32/16
    host array to upload) and no float64 input."""
    dev = False
    for a in args:
        t = type(a)
        if t is VkArray:
            dev = True
        elif t is np.ndarray:
            if a.dtype.kind == "f":
                if a.dtype not in DEVICE_FLOATS:
                    return False
                dev = True
        elif t is tuple or t is list:
            for b in a:
                tb = type(b)
                if tb is VkArray:
                    dev = True
                elif tb is np.ndarray and b.dtype.kind == "f":
                    if b.dtype not in DEVICE_FLOATS:
                        return False
                    dev = True
    return dev


def _host_value(backend, a):
    t = type(a)
    if t is VkArray:
        return backend.to_numpy(a)
    if t is tuple or t is list:
        return t(_host_value(backend, b) for b in a)
    return a


def _routed(name, fn):
    host = getattr(_HOST, name)

    @functools.wraps(fn)
    def kernel(self, *args, **kw):
        if _on_device(args):
            return fn(self, *args, **kw)
        return host(*[_host_value(self, a) for a in args], **{k: _host_value(self, v) for k, v in kw.items()})
    return kernel


class VulkanBackend(TransferKernels, ElementwiseKernels, ReduceKernels, LayoutKernels, LinalgKernels,
                    NNKernels, ConvKernels, OptimKernels, RecurrentKernels):
    name = "vulkan"

    def __init__(self, device):
        super().__init__(device)

    @property
    def device_name(self) -> str:
        return self.device.info.name

    @property
    def index(self) -> int:
        return self.device.index

    @property
    def submits(self) -> int:
        """Command buffers submitted so far (a training step should add exactly one)."""
        return self.device.recorder.submits

    @property
    def dispatches(self) -> int:
        return self.device.recorder.dispatches

    def sync(self):
        """Submit what is recorded and wait for the device."""
        self.device.sync()

    def close(self):
        self.device.close()

    def _host_inplace(self, name, dst, *args):
        return getattr(_HOST, name)(dst, *[_host_value(self, a) for a in args])

    def __repr__(self):
        return f"<VulkanBackend vulkan:{self.device.index} {self.device.info.name!r}>"


for _name in KERNELS:
    if not hasattr(VulkanBackend, _name):
        raise ImportError(f"VulkanBackend lacks kernel {_name!r}")
    if _name not in _SELF_ROUTED:
        setattr(VulkanBackend, _name, _routed(_name, getattr(VulkanBackend, _name)))
del _name
