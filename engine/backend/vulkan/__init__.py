"""The Vulkan backend: the engine's kernel table run as compute shaders.

Nothing here imports the `vulkan` binding at import time; `open_backend(index)` does,
and raises VulkanUnavailable with the reason when there is no loader, no device or
set-up fails. engine/device.py decides when to call it and falls back to numpy.
"""
from __future__ import annotations

import os

from ._vk import VkError, VulkanUnavailable

_instance = None
_backends = {}


def get_instance():
    """The process-wide Vulkan instance (created on first use)."""
    global _instance
    if _instance is None:
        from .instance import Instance
        try:
            _instance = Instance()
        except VkError as e:
            raise VulkanUnavailable(f"Vulkan instance set-up failed: {e}") from None
    return _instance


def devices():
    """Physical devices in the deterministic order that `vulkan:N` indexes."""
    return get_instance().devices


def open_backend(index: int):
    """The VulkanBackend of device `index` (one per device and process)."""
    b = _backends.get(index)
    if b is None:
        from .backend import VulkanBackend
        from .context import Device
        try:
            dev = Device(get_instance(), index)
        except VkError as e:
            raise VulkanUnavailable(f"setting up vulkan:{index} failed: {e}") from None
        b = _backends[index] = VulkanBackend(dev)
    return b


def close_all():
    """Destroy every device and the instance (tests; the process exit does it too)."""
    global _instance
    for b in list(_backends.values()):
        b.close()
    _backends.clear()
    if _instance is not None:
        _instance.destroy()
        _instance = None


def _forget_in_forked_child():
    """A forked child must not touch its parent's Vulkan objects: forget them (no destroy
    calls, which would act on the parent's driver state); the child opens its own."""
    global _instance
    _instance = None
    _backends.clear()
    from .. import set_current, numpy_backend
    import sys
    backend_module = sys.modules[__name__.rsplit(".", 1)[0]]
    if getattr(backend_module.__dict__.get("current"), "name", None) == "vulkan":
        set_current(numpy_backend)


os.register_at_fork(after_in_child=_forget_in_forked_child)

__all__ = ["VkError", "VulkanUnavailable", "close_all", "devices", "get_instance", "open_backend"]
