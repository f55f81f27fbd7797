"""Lazy access to the Vulkan loader through the `vulkan` package's cffi objects.

Only `ffi` and `lib` are used (raw C calls with structures built once); the
package's Python wrappers cost ~30 us per call. Importing this module never
touches the loader: `load()` does, and raises VulkanUnavailable when the
binding or libvulkan is missing.
"""
from __future__ import annotations

ffi = None
lib = None
vk = None            # the `vulkan` module, for its integer constants only

WHOLE_SIZE = 2 ** 64 - 1   # the package defines VK_WHOLE_SIZE as -1, which cffi rejects for uint64
NULL_HANDLE = None          # set to ffi.NULL by load()


class VulkanUnavailable(RuntimeError):
    """No usable Vulkan: binding, loader, driver or device missing, or set-up failed."""


class VkError(RuntimeError):
    def __init__(self, what, code):
        super().__init__(f"{what} failed with {result_name(code)} ({code})")
        self.code = code


def load():
    """Import the binding (once); raise VulkanUnavailable with the reason when it cannot load."""
    global ffi, lib, vk, NULL_HANDLE
    if lib is not None:
        return
    try:
        import vulkan as _vk_module
    except OSError as e:          # the package raises OSError when libvulkan is not found
        raise VulkanUnavailable(f"no Vulkan loader: {e}") from None
    except ImportError as e:
        raise VulkanUnavailable(f"the `vulkan` Python package is not installed: {e}") from None
    vk = _vk_module
    ffi = _vk_module.ffi
    lib = _vk_module.lib
    NULL_HANDLE = ffi.NULL


def result_name(code) -> str:
    if vk is None:
        return str(code)
    for name in ("VK_ERROR_OUT_OF_HOST_MEMORY", "VK_ERROR_OUT_OF_DEVICE_MEMORY", "VK_ERROR_INITIALIZATION_FAILED",
                 "VK_ERROR_DEVICE_LOST", "VK_ERROR_MEMORY_MAP_FAILED", "VK_ERROR_LAYER_NOT_PRESENT",
                 "VK_ERROR_EXTENSION_NOT_PRESENT", "VK_ERROR_FEATURE_NOT_PRESENT",
                 "VK_ERROR_INCOMPATIBLE_DRIVER", "VK_ERROR_TOO_MANY_OBJECTS", "VK_ERROR_FORMAT_NOT_SUPPORTED",
                 "VK_ERROR_FRAGMENTED_POOL", "VK_ERROR_OUT_OF_POOL_MEMORY", "VK_ERROR_INVALID_SHADER_NV",
                 "VK_TIMEOUT", "VK_NOT_READY", "VK_INCOMPLETE", "VK_ERROR_UNKNOWN"):
        if getattr(vk, name, None) == code:
            return name
    return "VkResult"


def check(code, what):
    if code != 0:
        raise VkError(what, code)


def new(ctype, init=None):
    return ffi.new(ctype, init)


def cstr(s: str):
    """A NUL-terminated char[] that the caller must keep alive while a struct points at it."""
    return ffi.new("char[]", s.encode())
