"""Which backend the engine runs on: device and dtype selection.

At first use (the first read of `engine.backend.current`) the backend is chosen from
the environment:

  DPTRAIN_BACKEND = auto (default) | vulkan | numpy
  DPTRAIN_DEVICE  = vulkan:N | gpu | cpu         (the launcher sets vulkan:N or cpu)

numpy, or DPTRAIN_DEVICE=cpu: the numpy backend. vulkan: Vulkan device N (0 if
unset), whatever its type. auto: the named vulkan:N, else the best GPU; a CPU-type
Vulkan device (lavapipe) is never picked automatically, and with no GPU (or no
loader) auto quietly means numpy. When Vulkan was asked for and cannot be used (no
loader, no such device, a VkError at set-up) the engine warns once and runs on
numpy, with the same results. The `vulkan` binding is imported only when Vulkan is
asked for or auto-detection runs.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

from . import backend as _backend

BACKEND_ENV = "DPTRAIN_BACKEND"
DEVICE_ENV = "DPTRAIN_DEVICE"

_dtype_name = "f32"         # requested storage: "f32" | "f16"
_warned = set()


@dataclass(frozen=True)
class Device:
    """The device ops now run on."""
    kind: str                # "vulkan" | "cpu"
    index: int | None        # Vulkan device index, None for the CPU
    name: str

    def __str__(self):
        return f"vulkan:{self.index}" if self.kind == "vulkan" else "cpu"


_OUR_DIRS = tuple(os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep + d + os.sep
                  for d in ("engine", "dptrain", "launcher"))


def _user_stacklevel():
    """The stacklevel of the first frame outside dptrain's own packages: the user's line."""
    import sys
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_OUR_DIRS):
        frame, level = frame.f_back, level + 1
    return level


def _warn_once(key, msg):
    if key not in _warned:
        _warned.add(key)
        warnings.warn(msg, RuntimeWarning, stacklevel=_user_stacklevel())


def _parse(spec: str):
    """'cpu' -> ('cpu', None); 'gpu' -> ('gpu', None); 'vulkan' / 'vulkan:N' -> ('vulkan', N)."""
    s = str(spec).strip().lower()
    if s in ("cpu", "numpy"):
        return "cpu", None
    if s == "gpu":
        return "gpu", None
    if s == "vulkan":
        return "vulkan", 0
    if s.startswith("vulkan:") and s[7:].isdigit():
        return "vulkan", int(s[7:])
    raise ValueError(f"device: expected 'cpu', 'gpu' or 'vulkan:N', got {spec!r}")


# -- discovery ----------------------------------------------------------------------------
def _vulkan_devices():
    """Physical devices, or raise VulkanUnavailable (imports the binding on first call)."""
    from .backend import vulkan as vkb
    return vkb.devices()


def vulkan_available() -> bool:
    """True when a Vulkan loader and at least one device (of any type) are present."""
    from .backend.vulkan import VulkanUnavailable
    try:
        return len(_vulkan_devices()) > 0
    except VulkanUnavailable:
        return False


def vulkan_status() -> list[dict]:
    """One dict per Vulkan device (index, name, type, memory in bytes, f16, api_version); [] without Vulkan."""
    from .backend.vulkan import VulkanUnavailable, get_instance
    try:
        return get_instance().status()
    except VulkanUnavailable:
        return []


def vulkan_unavailable_reason() -> str | None:
    from .backend.vulkan import VulkanUnavailable
    try:
        if not _vulkan_devices():
            return "the Vulkan loader found no device"
    except VulkanUnavailable as e:
        return str(e)
    return None


# -- selection --------------------------------------------------------------------------------
def _open_vulkan(index):
    """The VulkanBackend of device `index`, or None after one warning."""
    from .backend.vulkan import VkError, VulkanUnavailable, open_backend
    try:
        devs = _vulkan_devices()
        if index >= len(devs):
            raise VulkanUnavailable(f"vulkan:{index} does not exist ({len(devs)} Vulkan device(s) found)")
        b = open_backend(index)
    except (VulkanUnavailable, VkError) as e:
        _warn_once(("vulkan", index), f"dptrain: Vulkan is unavailable ({e}); running on the numpy backend")
        return None
    _apply_dtype(b)
    return b


def _best_gpu_index():
    from .backend.vulkan import VulkanUnavailable
    try:
        devs = _vulkan_devices()
    except VulkanUnavailable:
        return None
    for i, d in enumerate(devs):
        if d.is_gpu:
            return i
    return None


def _select(kind, index, explicit):
    if kind == "cpu":
        return _backend.numpy_backend
    if kind == "gpu":
        index = _best_gpu_index()
        if index is None:
            if explicit:
                reason = vulkan_unavailable_reason() or "no Vulkan GPU (only CPU-type devices such as lavapipe)"
                _warn_once("gpu", f"dptrain: no GPU available ({reason}); running on the numpy backend")
            return _backend.numpy_backend
    b = _open_vulkan(index)
    return b if b is not None else _backend.numpy_backend


def initial_backend():
    """The backend chosen from DPTRAIN_BACKEND / DPTRAIN_DEVICE (engine.backend calls this once)."""
    mode = os.environ.get(BACKEND_ENV, "auto").strip().lower() or "auto"
    if mode not in ("auto", "vulkan", "numpy"):
        raise ValueError(f"{BACKEND_ENV}={mode!r}: expected auto, vulkan or numpy")
    if mode == "numpy":
        return _backend.numpy_backend
    raw = os.environ.get(DEVICE_ENV, "").strip()
    try:
        kind, index = _parse(raw) if raw else (("vulkan", 0) if mode == "vulkan" else ("gpu", None))
    except ValueError:
        raise ValueError(f"{DEVICE_ENV}={raw!r}: expected vulkan:N, gpu or cpu") from None
    if kind == "cpu":
        return _backend.numpy_backend
    return _select(kind, index, explicit=(mode == "vulkan" or bool(raw)))


def device(spec=None) -> Device:
    """Run ops on `spec`: "cpu", "gpu" (the best GPU) or "vulkan:N"; None just reports.

    Falls back to the CPU with a warning when Vulkan cannot be used. Tensors made on one
    device are not moved: create them after choosing the device.
    """
    if spec is not None:
        kind, index = _parse(spec)
        _backend.set_current(_select(kind, index, explicit=True))
    return current_device()


def current_device() -> Device:
    b = _backend.current
    if getattr(b, "name", None) == "vulkan":
        return Device("vulkan", b.index, b.device_name)
    return Device("cpu", None, "numpy")


def _apply_dtype(b):
    if getattr(b, "name", None) == "vulkan":
        b.f16_storage = _dtype_name == "f16" and b.device.f16


def dtype(name=None) -> str:
    """Storage precision for new tensors: "f32" or "f16"; returns the one in effect.

    f16 stores tensors as 16-bit floats (every kernel still accumulates in f32) on a
    Vulkan device with 16-bit storage and float16 arithmetic; buffers made with
    zeros()/full() (flat parameter/gradient buffers, optimiser state) stay f32. Elsewhere,
    and on the numpy backend, computation stays f32.
    """
    global _dtype_name
    b = _backend.current
    if name is not None:
        key = str(name).strip().lower()
        aliases = {"f32": "f32", "float32": "f32", "f16": "f16", "float16": "f16", "half": "f16"}
        if key not in aliases:
            raise ValueError(f"dtype: expected 'f32' or 'f16', got {name!r}")
        _dtype_name = aliases[key]
        _apply_dtype(b)
        if _dtype_name == "f16" and not getattr(b, "f16_storage", False):
            where = "the numpy backend" if getattr(b, "name", "") != "vulkan" else f"{b.device_name} (no f16 support)"
            _warn_once(("f16", getattr(b, "name", "")), f"dptrain: f16 storage is unavailable on {where}; using f32")
    return "f16" if getattr(b, "f16_storage", False) else "f32"


def sync() -> None:
    """Wait until the current device has finished all recorded work."""
    b = _backend.current
    if getattr(b, "name", None) == "vulkan":
        b.sync()
