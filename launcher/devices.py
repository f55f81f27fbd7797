"""Which device each local worker gets: the node's GPUs round-robin, or `cpu` when it has none.

Workers of one job share one backend: with fewer GPUs than workers several ranks share a
GPU (Vulkan allows it) rather than some ranks falling back to the CPU, whose numerics differ.
"""
from __future__ import annotations

import functools
from typing import Optional, Sequence

# VkPhysicalDeviceType values that are real GPUs; OTHER (0) and CPU (4, e.g. lavapipe) are not.
_GPU_TYPES = frozenset({1, 2, 3})  # integrated, discrete, virtual


@functools.lru_cache(maxsize=1)
def count_vulkan_gpus() -> int:
    """Number of Vulkan GPUs on this host; 0 when the loader, driver or binding is missing.

    Enumerated in-process (no subprocess): creating a bare instance is cheap, and every
    failure, from ImportError to an OSError for a missing libvulkan, means "no GPU".
    """
    try:
        import vulkan as vk
    except Exception:
        return 0
    instance = None
    try:
        app = vk.VkApplicationInfo(
            sType=vk.VK_STRUCTURE_TYPE_APPLICATION_INFO,
            pApplicationName="dptrain-launch",
            applicationVersion=1,
            pEngineName="dptrain",
            engineVersion=1,
            apiVersion=vk.VK_MAKE_VERSION(1, 0, 0),
        )
        info = vk.VkInstanceCreateInfo(sType=vk.VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, pApplicationInfo=app)
        instance = vk.vkCreateInstance(info, None)
        devices = vk.vkEnumeratePhysicalDevices(instance)
        return sum(1 for d in devices if vk.vkGetPhysicalDeviceProperties(d).deviceType in _GPU_TYPES)
    except Exception:
        return 0
    finally:
        if instance is not None:
            try:
                vk.vkDestroyInstance(instance, None)
            except Exception:
                pass


def parse_devices(spec: str) -> list[int]:
    """`--devices` value -> Vulkan device indices: 'cpu' -> [], '0,1' or 'vulkan:0,vulkan:1' -> [0, 1]."""
    spec = spec.strip()
    if spec.lower() == "cpu":
        return []
    indices: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if part.lower().startswith("vulkan:"):
            part = part[len("vulkan:"):]
        if not part.isdigit():
            raise ValueError(f"invalid --devices {spec!r}: expected 'cpu' or device indices like '0,1'")
        index = int(part)
        if index in indices:
            raise ValueError(f"invalid --devices {spec!r}: device {index} is listed twice")
        indices.append(index)
    return indices


def gpu_indices(devices_spec: Optional[str]) -> list[int]:
    """The Vulkan devices this node may use: the --devices list, else every detected GPU."""
    if devices_spec is not None:
        return parse_devices(devices_spec)
    return list(range(count_vulkan_gpus()))


def assign_devices(nproc: int, gpus: Sequence[int], mixed: bool = False) -> list[str]:
    """DPTRAIN_DEVICE for local workers 0..nproc-1.

    Worker i gets GPU `gpus[i % len(gpus)]` (every worker on the CPU when there is none).
    `mixed=True` (the launcher's --allow-mixed-devices) restores one GPU per worker while
    they last and the CPU for the rest: faster when GPUs are few, but the ranks' numerics
    differ, so weights drift apart unless the script tolerates it.
    """
    if not gpus:
        return ["cpu"] * nproc
    if mixed:
        return [f"vulkan:{gpus[i]}" if i < len(gpus) else "cpu" for i in range(nproc)]
    return [f"vulkan:{gpus[i % len(gpus)]}" for i in range(nproc)]
