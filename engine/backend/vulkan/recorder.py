"""Command recording and submission.

Dispatches are recorded into one command buffer and submitted only when the host
needs a value (a read), at an op budget, or on sync(): a whole training step is
one submit. A global memory barrier is inserted only on a hazard: a dispatch that
reads a storage written since the last barrier (RAW), or writes one read or written
since then (WAR/WAW). Hazards are tracked per storage (views share their root's).

The hot path calls the C entry points directly with structures built once.
"""
from __future__ import annotations

import os

from . import _vk
from ._vk import check

RING = 3                       # command buffers in flight before recording waits
DEFAULT_OP_BUDGET = 2048       # dispatches per command buffer before an automatic submit
FENCE_TIMEOUT_NS = 120 * 10 ** 9


class _Ref:
    """Stands in for an array where the hazard tracker only needs `.storage`."""
    __slots__ = ("storage",)

    def __init__(self, storage):
        self.storage = storage


class Recorder:
    def __init__(self, device):
        ffi, lib, vk = _vk.ffi, _vk.lib, _vk.vk
        self.device = device
        self.dev = device.handle
        self.op_budget = int(os.environ.get("DPTRAIN_VK_OP_BUDGET", DEFAULT_OP_BUDGET))
        info = ffi.new("VkCommandPoolCreateInfo*", dict(
            sType=vk.VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
            flags=vk.VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT, queueFamilyIndex=device.queue_family))
        pool = ffi.new("VkCommandPool*")
        check(lib.vkCreateCommandPool(self.dev, info, ffi.NULL, pool), "vkCreateCommandPool")
        self.pool = pool[0]
        ainfo = ffi.new("VkCommandBufferAllocateInfo*", dict(
            sType=vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, commandPool=self.pool,
            level=vk.VK_COMMAND_BUFFER_LEVEL_PRIMARY, commandBufferCount=RING))
        self._cmds = ffi.new("VkCommandBuffer[]", RING)
        check(lib.vkAllocateCommandBuffers(self.dev, ainfo, self._cmds), "vkAllocateCommandBuffers")
        self._fences = []
        finfo = ffi.new("VkFenceCreateInfo*", dict(sType=vk.VK_STRUCTURE_TYPE_FENCE_CREATE_INFO))
        for _ in range(RING):
            f = ffi.new("VkFence*")
            check(lib.vkCreateFence(self.dev, finfo, ffi.NULL, f), "vkCreateFence")
            self._fences.append(f)
        self._slot_serial = [0] * RING       # serial submitted in each slot (0: free)

        self.serial = 1          # serial of the batch being recorded
        self.completed = 0       # every batch up to this serial has finished
        self.cmd = None          # command buffer being recorded, or None
        self._slot = 0
        self.ops = 0             # dispatches in the current command buffer

        # counters (tests and benchmarks read them)
        self.submits = 0
        self.dispatches = 0
        self.barriers = 0

        self._read = set()
        self._written = set()
        self._bound_pipe = None
        self._bound_set = None
        self._bound_layout = None

        # prebuilt structures for the hot path
        self._sets = ffi.new("VkDescriptorSet[8]")
        self._region_set = device.pipelines.region_set
        self._begin_info = ffi.new("VkCommandBufferBeginInfo*", dict(
            sType=vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
            flags=vk.VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT))
        compute, transfer, host = (vk.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, vk.VK_PIPELINE_STAGE_TRANSFER_BIT,
                                   vk.VK_PIPELINE_STAGE_HOST_BIT)
        self._stages = compute | transfer
        self._barrier = ffi.new("VkMemoryBarrier*", dict(
            sType=vk.VK_STRUCTURE_TYPE_MEMORY_BARRIER,
            srcAccessMask=vk.VK_ACCESS_SHADER_WRITE_BIT | vk.VK_ACCESS_TRANSFER_WRITE_BIT,
            dstAccessMask=(vk.VK_ACCESS_SHADER_READ_BIT | vk.VK_ACCESS_SHADER_WRITE_BIT
                           | vk.VK_ACCESS_TRANSFER_READ_BIT | vk.VK_ACCESS_TRANSFER_WRITE_BIT)))
        # Makes device writes visible to host reads once the fence has signalled.
        self._host_barrier = ffi.new("VkMemoryBarrier*", dict(
            sType=vk.VK_STRUCTURE_TYPE_MEMORY_BARRIER,
            srcAccessMask=vk.VK_ACCESS_SHADER_WRITE_BIT | vk.VK_ACCESS_TRANSFER_WRITE_BIT,
            dstAccessMask=vk.VK_ACCESS_HOST_READ_BIT))
        self._host_stage = host
        self._submit_infos = []
        for i in range(RING):
            self._submit_infos.append(ffi.new("VkSubmitInfo*", dict(
                sType=vk.VK_STRUCTURE_TYPE_SUBMIT_INFO, commandBufferCount=1, pCommandBuffers=self._cmds + i)))
        self._copy_region = ffi.new("VkBufferCopy*")
        self._compute_bind = vk.VK_PIPELINE_BIND_POINT_COMPUTE
        self._compute_stage_flag = vk.VK_SHADER_STAGE_COMPUTE_BIT
        self._push_mem = ffi.new("char[128]")
        self._push_buf = ffi.buffer(self._push_mem)
        # bound C functions, looked up once
        self._vkCmdDispatch = lib.vkCmdDispatch
        self._vkCmdPushConstants = lib.vkCmdPushConstants
        self._vkCmdBindPipeline = lib.vkCmdBindPipeline
        self._vkCmdBindDescriptorSets = lib.vkCmdBindDescriptorSets
        self._vkCmdPipelineBarrier = lib.vkCmdPipelineBarrier
        self._null = ffi.NULL

    # -- recording --------------------------------------------------------------------
    def _begin(self):
        lib = _vk.lib
        if self.device.closed:
            raise RuntimeError(f"vulkan:{self.device.index} has been closed; its arrays can no longer be used")
        slot = self.serial % RING
        if self._slot_serial[slot]:
            self.wait(self._slot_serial[slot])
        check(lib.vkResetFences(self.dev, 1, self._fences[slot]), "vkResetFences")
        cmd = self._cmds[slot]
        check(lib.vkResetCommandBuffer(cmd, 0), "vkResetCommandBuffer")
        check(lib.vkBeginCommandBuffer(cmd, self._begin_info), "vkBeginCommandBuffer")
        self._slot = slot
        self.cmd = cmd
        self.ops = 0
        self._bound_pipe = None
        self._bound_set = None
        self._bound_layout = None
        return cmd

    def _hazards(self, arrays, write_mask):
        """Record the accesses of one command; emit a barrier first if it conflicts."""
        read, written = self._read, self._written
        serial = self.serial
        need = False
        for a, w in zip(arrays, write_mask):
            st = a.storage
            k = st.key
            if w:
                st.last_write = serial
                if k in written or k in read:
                    need = True
            elif k in written:
                need = True
        if need:
            self._vkCmdPipelineBarrier(self.cmd, self._stages, self._stages, 0, 1, self._barrier,
                                       0, self._null, 0, self._null)
            self.barriers += 1
            read.clear()
            written.clear()
        for a, w in zip(arrays, write_mask):
            (written if w else read).add(a.storage.key)

    def dispatch(self, pipe, arrays, push_values, gx, gy=1, gz=1):
        """Record one dispatch of `pipe` over `arrays` (one per binding)."""
        cmd = self.cmd
        if cmd is None:
            cmd = self._begin()
        self._hazards(arrays, pipe.write_mask)
        if pipe is not self._bound_pipe:
            self._vkCmdBindPipeline(cmd, self._compute_bind, pipe.handle)
            self._bound_pipe = pipe
        regions = [a.storage.region for a in arrays]
        if regions != self._bound_set or pipe.layout != self._bound_layout:
            sets = self._sets
            region_set = self._region_set
            for i, a in enumerate(arrays):
                sets[i] = region_set(a.storage)
            self._vkCmdBindDescriptorSets(cmd, self._compute_bind, pipe.layout, 0, len(arrays), sets, 0, self._null)
            self._bound_set = regions
            self._bound_layout = pipe.layout
        push = pipe.push
        push.pack_into(self._push_buf, 0, *push_values)
        self._vkCmdPushConstants(cmd, pipe.layout, self._compute_stage_flag, 0, push.size, self._push_mem)
        self._vkCmdDispatch(cmd, gx, gy, gz)
        self.dispatches += 1
        self.ops += 1
        if self.ops >= self.op_budget:
            self.submit()

    def copy(self, src_storage, dst_storage, nbytes, src_offset=0, dst_offset=0):
        """Record a buffer-to-buffer copy (staging uploads and readbacks)."""
        lib = _vk.lib
        cmd = self.cmd if self.cmd is not None else self._begin()
        self._hazards((_Ref(src_storage), _Ref(dst_storage)), (False, True))
        r = self._copy_region
        r.srcOffset = src_storage.offset + src_offset
        r.dstOffset = dst_storage.offset + dst_offset
        r.size = nbytes
        lib.vkCmdCopyBuffer(cmd, src_storage.block.buffer, dst_storage.block.buffer, 1, r)
        self.ops += 1

    # -- submission -------------------------------------------------------------------------
    def submit(self):
        """Submit what has been recorded (no wait). Returns the submitted serial, or None."""
        cmd = self.cmd
        if cmd is None:
            return None
        lib = _vk.lib
        self._vkCmdPipelineBarrier(cmd, self._stages, self._host_stage, 0, 1, self._host_barrier,
                                   0, self._null, 0, self._null)
        check(lib.vkEndCommandBuffer(cmd), "vkEndCommandBuffer")
        slot = self._slot
        check(lib.vkQueueSubmit(self.device.queue, 1, self._submit_infos[slot], self._fences[slot][0]),
              "vkQueueSubmit")
        self._slot_serial[slot] = self.serial
        submitted = self.serial
        self.serial += 1
        self.cmd = None
        self.submits += 1
        self.device.reclaim()      # storage freed in earlier, finished batches becomes reusable
        return submitted

    def wait(self, serial):
        """Block until batch `serial` (and every earlier one) has finished."""
        if serial <= self.completed:
            return
        if serial >= self.serial:
            raise RuntimeError(f"vulkan: waiting for batch {serial}, which has not been submitted")
        lib = _vk.lib
        for slot in sorted(range(RING), key=lambda s: self._slot_serial[s]):
            s = self._slot_serial[slot]
            if s == 0 or s > serial:
                continue
            code = lib.vkWaitForFences(self.dev, 1, self._fences[slot], 1, FENCE_TIMEOUT_NS)
            if code == _vk.vk.VK_TIMEOUT:
                raise RuntimeError(f"vulkan: the device did not finish batch {s} within "
                                   f"{FENCE_TIMEOUT_NS // 10 ** 9} s")
            check(code, "vkWaitForFences")
            self._slot_serial[slot] = 0
            self.completed = max(self.completed, s)
        self.completed = max(self.completed, serial)
        if self.completed == self.serial - 1 and self.cmd is None:
            # nothing on the device any more: no access can conflict with the next one
            self._read.clear()
            self._written.clear()

    def poll(self):
        """Advance `completed` past batches whose fences have signalled, without blocking."""
        lib = _vk.lib
        for slot in sorted(range(RING), key=lambda s: self._slot_serial[s]):
            s = self._slot_serial[slot]
            if s == 0:
                continue
            if lib.vkGetFenceStatus(self.dev, self._fences[slot][0]) != 0:
                break
            self._slot_serial[slot] = 0
            self.completed = max(self.completed, s)
        if self.cmd is None and not any(self._slot_serial):
            # the batch being recorded is empty and nothing is in flight: it is complete too
            return self.serial
        return self.completed

    def flush(self, wait=True):
        s = self.submit()
        if wait:
            last = self.serial - 1
            if last > self.completed:
                self.wait(last)
        return s

    def destroy(self):
        ffi, lib = _vk.ffi, _vk.lib
        for f in self._fences:
            lib.vkDestroyFence(self.dev, f[0], ffi.NULL)
        lib.vkDestroyCommandPool(self.dev, self.pool, ffi.NULL)
        self._fences = []
