"""Buffer pool: sub-allocations from large VkBuffers, freed only once the device is done.

Every array lives in a `Storage` (one sub-allocation, a "region" of a block).
Small storages come from shared blocks (one VkBuffer + VkDeviceMemory each,
bump-allocated at the device's storage-buffer offset alignment, recycled through
per-size-class free lists); large ones get a dedicated block that is cached for
reuse by the same size class. A dispatch binds each storage's own range (so the
validation layer sees exactly what the recorder tracks) and receives element
offsets within it as push constants. Regions keep their id across reuse, so a
training loop, which reallocates the same regions each step, keeps hitting the
same cached descriptor sets.

A storage dropped by Python is not reusable at once: it is queued with the
serial of the command batch being recorded and returns to the free lists when
that batch's fence has signalled (`reclaim`). Hence memory is never rewritten
while a submitted (or still recording) command buffer may read it.
"""
from __future__ import annotations

import collections
import itertools

import numpy as np

from . import _vk
from ._vk import VkError, check

MIN_CLASS = 256
_keys = itertools.count(1)
_regions = itertools.count(1)
_block_ids = itertools.count(1)


def size_class(nbytes: int) -> int:
    """Round up to one of four classes per power of two (at most 25% waste)."""
    if nbytes <= MIN_CLASS:
        return MIN_CLASS
    step = 1 << max((nbytes - 1).bit_length() - 3, 6)
    return -(-nbytes // step) * step


class Block:
    __slots__ = ("buffer", "memory", "size", "host", "bump", "live", "id", "dedicated", "regions")

    def __init__(self, buffer, memory, size, host, dedicated):
        self.buffer = buffer          # VkBuffer cdata
        self.memory = memory
        self.size = size
        self.host = host              # np.uint8 view of the persistent mapping, or None
        self.bump = 0
        self.live = 0                 # storages handed out and not yet reclaimed
        self.id = next(_block_ids)   # unique for the process, unlike a recycled VkBuffer handle
        self.dedicated = dedicated
        self.regions = []             # ids of the regions carved from it


class Storage:
    """One sub-allocation: the root that every array view over it keeps alive."""
    __slots__ = ("pool", "block", "offset", "nbytes", "region", "key", "last_write", "__weakref__")

    def __init__(self, pool, block, offset, nbytes, region):
        self.pool = pool
        self.block = block
        self.offset = offset          # bytes from the start of block
        self.nbytes = nbytes          # size class actually reserved (the bound range)
        self.region = region          # id of (block, offset, nbytes), stable across reuse
        self.key = next(_keys)        # identity of this allocation, for hazard tracking
        self.last_write = 0           # serial of the last batch that wrote it (0: host only)

    def __del__(self):
        pool = self.pool
        if pool is not None:
            self.pool = None
            try:
                pool.release(self.block, self.offset, self.nbytes, self.region)
            except Exception:  # interpreter shutdown: the device is going away anyway
                pass


class Pool:
    def __init__(self, device, memory_type: int, usage: int, mapped: bool, block_size: int, max_range: int,
                 alignment: int = 64):
        self.device = device
        self.alignment = max(64, alignment)
        self.memory_type = memory_type
        self.usage = usage
        self.mapped = mapped
        self.max_range = max_range
        self.block_size = min(block_size, max_range)
        self.blocks: list[Block] = []            # shared blocks
        self._free = collections.defaultdict(list)   # size class -> [(block, offset, region)]
        self._dedicated_free = collections.defaultdict(list)   # size class -> [Block]
        self._pending = collections.deque()      # (serial, block, offset, nbytes) awaiting their fence
        self.bytes_reserved = 0
        self.dedicated_cache_limit = 1 << 30

    # -- allocation -----------------------------------------------------------
    def alloc(self, nbytes: int) -> Storage:
        if self.device.closed:
            raise RuntimeError(f"vulkan:{self.device.index} has been closed; nothing can be allocated on it")
        cls = size_class(max(int(nbytes), 1))
        if cls > self.max_range:
            raise MemoryError(f"vulkan: an array of {nbytes} bytes exceeds this device's largest "
                              f"storage buffer ({self.max_range} bytes)")
        if cls > self.block_size // 2:
            block, region = self._dedicated(cls)
            block.live += 1
            return Storage(self, block, 0, cls, region)
        free = self._free.get(cls)
        if free:
            block, offset, region = free.pop()
        else:
            block, offset, region = self._bump(cls)
        block.live += 1
        return Storage(self, block, offset, cls, region)

    def _bump(self, cls):
        align = self.alignment
        for block in reversed(self.blocks[-2:]):
            offset = -(-block.bump // align) * align
            if offset + cls <= block.size:
                block.bump = offset + cls
                return block, offset, self._new_region(block)
        self.device.reclaim(wait=False)
        free = self._free.get(cls)
        if free:
            return free.pop()
        block = self._create_block(self.block_size, dedicated=False)
        self.blocks.append(block)
        block.bump = cls
        return block, 0, self._new_region(block)

    @staticmethod
    def _new_region(block):
        region = next(_regions)
        block.regions.append(region)
        return region

    def _dedicated(self, cls):
        cached = self._dedicated_free.get(cls)
        if not cached:
            self.device.reclaim(wait=False)
            cached = self._dedicated_free.get(cls)
        if cached:
            return cached.pop()
        block = self._create_block(cls, dedicated=True)
        return block, self._new_region(block)

    def _create_block(self, size, dedicated):
        try:
            return self._create_block_once(size, dedicated)
        except VkError as e:
            if e.code not in (_vk.vk.VK_ERROR_OUT_OF_DEVICE_MEMORY, _vk.vk.VK_ERROR_OUT_OF_HOST_MEMORY):
                raise
        # Out of memory: wait for the device, return every deferred free, drop cached blocks, retry.
        self.device.reclaim(wait=True)
        self.trim()
        try:
            return self._create_block_once(size, dedicated)
        except VkError as e:
            raise MemoryError(f"vulkan: out of device memory allocating {size} bytes "
                              f"({self.bytes_reserved} bytes already reserved)") from e

    def _create_block_once(self, size, dedicated):
        ffi, lib, vk = _vk.ffi, _vk.lib, _vk.vk
        dev = self.device.handle
        info = ffi.new("VkBufferCreateInfo*", dict(
            sType=vk.VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, size=size, usage=self.usage,
            sharingMode=vk.VK_SHARING_MODE_EXCLUSIVE))
        buf = ffi.new("VkBuffer*")
        check(lib.vkCreateBuffer(dev, info, ffi.NULL, buf), "vkCreateBuffer")
        req = ffi.new("VkMemoryRequirements*")
        lib.vkGetBufferMemoryRequirements(dev, buf[0], req)
        if not req.memoryTypeBits & (1 << self.memory_type):
            lib.vkDestroyBuffer(dev, buf[0], ffi.NULL)
            raise VkError("vkGetBufferMemoryRequirements (memory type unsupported)", -1)
        alloc = ffi.new("VkMemoryAllocateInfo*", dict(
            sType=vk.VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, allocationSize=req.size,
            memoryTypeIndex=self.memory_type))
        mem = ffi.new("VkDeviceMemory*")
        code = lib.vkAllocateMemory(dev, alloc, ffi.NULL, mem)
        if code != 0:
            lib.vkDestroyBuffer(dev, buf[0], ffi.NULL)
            raise VkError("vkAllocateMemory", code)
        check(lib.vkBindBufferMemory(dev, buf[0], mem[0], 0), "vkBindBufferMemory")
        host = None
        if self.mapped:
            ptr = ffi.new("void**")
            check(lib.vkMapMemory(dev, mem[0], 0, _vk.WHOLE_SIZE, 0, ptr), "vkMapMemory")
            host = np.frombuffer(ffi.buffer(ptr[0], size), dtype=np.uint8)
        self.bytes_reserved += size
        return Block(buf[0], mem[0], size, host, dedicated)

    def _destroy_block(self, block):
        ffi, lib = _vk.ffi, _vk.lib
        self.device.pipelines.forget_regions(block.regions)
        if block.host is not None:
            block.host = None
            lib.vkUnmapMemory(self.device.handle, block.memory)
        lib.vkDestroyBuffer(self.device.handle, block.buffer, ffi.NULL)
        lib.vkFreeMemory(self.device.handle, block.memory, ffi.NULL)
        self.bytes_reserved -= block.size

    # -- deferred free ----------------------------------------------------------
    def release(self, block, offset, nbytes, region):
        """Called when a Storage dies: reusable once the batch being recorded has completed."""
        self._pending.append((self.device.recording_serial, block, offset, nbytes, region))

    def reclaim(self, completed_serial: int):
        pending = self._pending
        while pending and pending[0][0] <= completed_serial:
            _, block, offset, cls, region = pending.popleft()
            block.live -= 1
            if block.dedicated:
                self._dedicated_free[cls].append((block, region))
            else:
                self._free[cls].append((block, offset, region))
        cached = sum(b.size for blocks in self._dedicated_free.values() for b, _ in blocks)
        if cached > self.dedicated_cache_limit:
            self._trim_dedicated()

    def _trim_dedicated(self):
        for blocks in self._dedicated_free.values():
            for b, _ in blocks:
                self._destroy_block(b)
            blocks.clear()

    def trim(self):
        """Give back cached dedicated blocks and reset shared blocks that hold nothing live."""
        self._trim_dedicated()
        empty = {b.id for b in self.blocks if b.live == 0}
        if empty:
            for cls, lst in self._free.items():
                lst[:] = [e for e in lst if e[0].id not in empty]
            for b in self.blocks:
                if b.id in empty:
                    b.bump = 0
                    self.device.pipelines.forget_regions(b.regions)
                    b.regions = []

    def destroy(self):
        self._pending.clear()
        self._trim_dedicated()
        for b in self.blocks:
            self._destroy_block(b)
        self.blocks.clear()
        self._free.clear()
