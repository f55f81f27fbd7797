"""One logical Vulkan device: queue, memory pools, pipelines and the command recorder.

Memory: where a device-local memory type is also host-visible and coherent on the
main heap (lavapipe, integrated GPUs, resizable BAR) arrays are persistently mapped
and uploads/readbacks are plain copies; otherwise arrays live in device-local memory
and go through a mapped staging pool with recorded buffer copies.
DPTRAIN_VK_FORCE_STAGING=1 forces the staging path (to test it on a unified device).
"""
from __future__ import annotations

import os

import numpy as np

from . import _vk
from ._vk import VulkanUnavailable, check
from .memory import Pool
from .pipelines import MAX_BUFFERS, Pipelines
from .recorder import Recorder

BLOCK_SIZE = 64 << 20
STAGING_BLOCK_SIZE = 16 << 20


class Device:
    def __init__(self, instance, index: int):
        if not 0 <= index < len(instance.devices):
            raise VulkanUnavailable(f"vulkan:{index} does not exist: {len(instance.devices)} Vulkan device(s) found")
        self.instance = instance
        self.index = index
        self.info = info = instance.devices[index]
        ffi, lib, vk = _vk.ffi, _vk.lib, _vk.vk
        pd = info.handle
        self.queue_family = self._compute_family(pd)
        props = ffi.new("VkPhysicalDeviceProperties*")
        lib.vkGetPhysicalDeviceProperties(pd, props)
        limits = props.limits
        if limits.maxPushConstantsSize < 128:
            raise VulkanUnavailable(f"{info.name}: only {limits.maxPushConstantsSize} bytes of push constants")
        if limits.maxBoundDescriptorSets < MAX_BUFFERS or limits.maxPerStageDescriptorStorageBuffers < MAX_BUFFERS:
            raise VulkanUnavailable(f"{info.name}: binds {limits.maxBoundDescriptorSets} descriptor sets and "
                                    f"{limits.maxPerStageDescriptorStorageBuffers} storage buffers per stage; "
                                    f"dptrain needs {MAX_BUFFERS}")
        self.max_groups = tuple(int(limits.maxComputeWorkGroupCount[i]) for i in range(3))
        self.max_range = int(limits.maxStorageBufferRange)
        self.storage_alignment = int(limits.minStorageBufferOffsetAlignment)

        prio = ffi.new("float[]", [1.0])
        qinfo = ffi.new("VkDeviceQueueCreateInfo*", dict(
            sType=vk.VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, queueFamilyIndex=self.queue_family,
            queueCount=1, pQueuePriorities=prio))
        self.f16 = info.f16
        s16 = ffi.new("VkPhysicalDevice16BitStorageFeatures*", dict(
            sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
            storageBuffer16BitAccess=int(self.f16)))
        h16 = ffi.new("VkPhysicalDeviceShaderFloat16Int8Features*", dict(
            sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES, pNext=s16,
            shaderFloat16=int(self.f16)))
        feats = ffi.new("VkPhysicalDeviceFeatures2*", dict(
            sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, pNext=h16 if self.f16 else ffi.NULL))
        dinfo = ffi.new("VkDeviceCreateInfo*", dict(
            sType=vk.VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, pNext=feats, queueCreateInfoCount=1,
            pQueueCreateInfos=qinfo))
        out = ffi.new("VkDevice*")
        check(lib.vkCreateDevice(pd, dinfo, ffi.NULL, out), "vkCreateDevice")
        self.handle = out[0]
        self.closed = False
        q = ffi.new("VkQueue*")
        lib.vkGetDeviceQueue(self.handle, self.queue_family, 0, q)
        self.queue = q[0]

        self.pipelines = Pipelines(self)
        self.recorder = Recorder(self)
        self._make_pools()

    def _compute_family(self, pd):
        ffi, lib, vk = _vk.ffi, _vk.lib, _vk.vk
        n = ffi.new("uint32_t*")
        lib.vkGetPhysicalDeviceQueueFamilyProperties(pd, n, ffi.NULL)
        fams = ffi.new("VkQueueFamilyProperties[]", n[0])
        lib.vkGetPhysicalDeviceQueueFamilyProperties(pd, n, fams)
        for i in range(n[0]):
            if fams[i].queueFlags & vk.VK_QUEUE_COMPUTE_BIT:
                return i
        raise VulkanUnavailable(f"{self.info.name} has no compute queue")

    def _make_pools(self):
        ffi, lib, vk = _vk.ffi, _vk.lib, _vk.vk
        usage = (vk.VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | vk.VK_BUFFER_USAGE_TRANSFER_SRC_BIT
                 | vk.VK_BUFFER_USAGE_TRANSFER_DST_BIT)
        allowed = self._allowed_types(usage)
        mem = ffi.new("VkPhysicalDeviceMemoryProperties*")
        lib.vkGetPhysicalDeviceMemoryProperties(self.info.handle, mem)
        types = [(i, mem.memoryTypes[i].propertyFlags, mem.memoryTypes[i].heapIndex)
                 for i in range(mem.memoryTypeCount) if allowed & (1 << i)]
        DL, HV, HC, HCACHED = (vk.VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, vk.VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                               vk.VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, vk.VK_MEMORY_PROPERTY_HOST_CACHED_BIT)
        heap_size = {h: mem.memoryHeaps[h].size for h in range(mem.memoryHeapCount)}
        local = [t for t in types if t[1] & DL]
        biggest = max((heap_size[t[2]] for t in local), default=0)
        unified = [t for t in local if (t[1] & (HV | HC)) == (HV | HC) and heap_size[t[2]] >= 0.9 * biggest]
        force_staging = os.environ.get("DPTRAIN_VK_FORCE_STAGING", "") not in ("", "0")
        align = self.storage_alignment
        if unified and not force_staging:
            self.pool = Pool(self, unified[0][0], usage, True, BLOCK_SIZE, self.max_range, align)
            self.staging = None
            return
        if not local:
            local = types
        host = [t for t in types if (t[1] & (HV | HC)) == (HV | HC)]
        if not host:
            raise VulkanUnavailable(f"{self.info.name}: no host-visible coherent memory for staging")
        host.sort(key=lambda t: (not t[1] & HCACHED, bool(t[1] & DL)))
        self.pool = Pool(self, local[0][0], usage, False, BLOCK_SIZE, self.max_range, align)
        self.staging = Pool(self, host[0][0], usage, True, STAGING_BLOCK_SIZE, self.max_range, align)

    def _allowed_types(self, usage):
        ffi, lib, vk = _vk.ffi, _vk.lib, _vk.vk
        info = ffi.new("VkBufferCreateInfo*", dict(
            sType=vk.VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, size=4096, usage=usage,
            sharingMode=vk.VK_SHARING_MODE_EXCLUSIVE))
        buf = ffi.new("VkBuffer*")
        check(lib.vkCreateBuffer(self.handle, info, ffi.NULL, buf), "vkCreateBuffer")
        req = ffi.new("VkMemoryRequirements*")
        lib.vkGetBufferMemoryRequirements(self.handle, buf[0], req)
        lib.vkDestroyBuffer(self.handle, buf[0], ffi.NULL)
        return req.memoryTypeBits

    # -- bookkeeping shared by the pools and the recorder -----------------------------------
    @property
    def recording_serial(self) -> int:
        return self.recorder.serial

    def reclaim(self, wait=False):
        """Return the storage of finished batches to the pools (waiting for all work if `wait`)."""
        rec = self.recorder
        if wait:
            rec.flush(wait=True)
        done = rec.poll()
        self.pool.reclaim(done)
        if self.staging is not None:
            self.staging.reclaim(done)

    # -- host transfers -------------------------------------------------------------
    def upload(self, storage, host: np.ndarray, elem_offset=0):
        """Write a contiguous host array into a storage nobody on the device uses yet."""
        if self.closed:
            raise RuntimeError(f"vulkan:{self.index} has been closed")
        nbytes = host.nbytes
        if nbytes == 0:
            return
        src = host.reshape(-1).view(np.uint8)
        start = storage.offset + elem_offset * host.itemsize
        if self.staging is None:
            storage.block.host[start:start + nbytes] = src
            return
        stage = self.staging.alloc(nbytes)
        stage.block.host[stage.offset:stage.offset + nbytes] = src
        self.recorder.copy(stage, storage, nbytes, 0, elem_offset * host.itemsize)
        storage.last_write = self.recorder.serial

    def download(self, storage, dtype, count, elem_offset=0) -> np.ndarray:
        """A host copy of `count` elements, after every recorded write to the storage has run."""
        if self.closed:
            raise RuntimeError(f"vulkan:{self.index} has been closed; its arrays can no longer be read")
        dtype = np.dtype(dtype)
        rec = self.recorder
        if storage.last_write >= rec.serial and rec.cmd is not None:
            rec.submit()
        if storage.last_write > rec.completed:
            rec.wait(storage.last_write)
        nbytes = count * dtype.itemsize
        start = elem_offset * dtype.itemsize
        if self.staging is None:
            raw = storage.block.host[storage.offset + start:storage.offset + start + nbytes]
            return raw.view(dtype).copy()
        stage = self.staging.alloc(nbytes)
        rec.copy(storage, stage, nbytes, start, 0)
        rec.flush(wait=True)
        return stage.block.host[stage.offset:stage.offset + nbytes].view(dtype).copy()

    def sync(self):
        self.reclaim(wait=True)

    def close(self):
        if self.closed:
            return
        self.closed = True
        lib, ffi = _vk.lib, _vk.ffi
        try:
            self.recorder.flush(wait=True)
        finally:
            lib.vkDeviceWaitIdle(self.handle)
            self.pool.destroy()
            if self.staging is not None:
                self.staging.destroy()
            self.pipelines.destroy()
            self.recorder.destroy()
            lib.vkDestroyDevice(self.handle, ffi.NULL)
