"""Compute pipelines, built once per (shader, specialization, f16 bindings) and cached,
and descriptor sets: one per memory region, allocated at the region's first use.

Every shader buffer sits alone in its own descriptor set (set = slot, binding = 0),
so a dispatch binds the sets of its arrays' regions side by side. The pool recycles
regions with stable ids, hence the sets are reused for the life of the region (a
training loop allocates no descriptor set after its first step), and a set is freed
only when its region is discarded, after the device is done with it. Each set binds
its region's own byte range, so the validation layer sees exactly the accesses the
recorder tracks.
"""
from __future__ import annotations

from . import _vk
from ._vk import check

PUSH_BYTES = 128
SETS_PER_POOL = 1024
MAX_BUFFERS = 6          # buffers of the widest shader (layer_norm)


class Pipeline:
    __slots__ = ("handle", "layout", "iface", "write_mask", "push", "bindings")

    def __init__(self, handle, layout, iface):
        self.handle = handle
        self.layout = layout
        self.iface = iface
        self.write_mask = iface.write_mask
        self.push = iface.push
        self.bindings = iface.bindings


class Pipelines:
    def __init__(self, device):
        self.device = device
        self._modules = {}           # (shader name, f16) -> VkShaderModule
        self._layouts = {}           # buffer count -> VkPipelineLayout
        self._pipelines = {}         # (name, spec, f16 flags) -> Pipeline
        self._pools = []
        self._pool_left = 0
        self._region_sets = {}       # region id -> (VkDescriptorSet[1], pool)
        ffi, lib, vk = _vk.ffi, _vk.lib, _vk.vk
        bind = ffi.new("VkDescriptorSetLayoutBinding*", dict(
            binding=0, descriptorType=vk.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, descriptorCount=1,
            stageFlags=vk.VK_SHADER_STAGE_COMPUTE_BIT))
        dinfo = ffi.new("VkDescriptorSetLayoutCreateInfo*", dict(
            sType=vk.VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, bindingCount=1, pBindings=bind))
        self._dsl = ffi.new("VkDescriptorSetLayout[]", MAX_BUFFERS)
        check(lib.vkCreateDescriptorSetLayout(device.handle, dinfo, ffi.NULL, self._dsl), "vkCreateDescriptorSetLayout")
        for i in range(1, MAX_BUFFERS):
            self._dsl[i] = self._dsl[0]
        info = ffi.new("VkPipelineCacheCreateInfo*", dict(sType=vk.VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO))
        out = ffi.new("VkPipelineCache*")
        check(lib.vkCreatePipelineCache(device.handle, info, ffi.NULL, out), "vkCreatePipelineCache")
        self._cache = out[0]

    @property
    def count(self) -> int:
        return len(self._pipelines)

    # -- pipelines ----------------------------------------------------------------
    def get(self, iface, spec: tuple, f16: tuple) -> Pipeline:
        key = (iface.name, spec, f16)
        pipe = self._pipelines.get(key)
        if pipe is None:
            pipe = self._pipelines[key] = self._build(iface, spec, f16)
        return pipe

    def _module(self, name, f16):
        key = (name, f16)
        mod = self._modules.get(key)
        if mod is None:
            import shaders
            path = shaders.spirv_path(name, f16)
            try:
                code = path.read_bytes()
            except FileNotFoundError:
                raise RuntimeError(f"vulkan: missing SPIR-V {path}; run `python -m shaders.build`") from None
            ffi, lib, vk = _vk.ffi, _vk.lib, _vk.vk
            words = ffi.new("uint32_t[]", len(code) // 4)
            ffi.memmove(words, code, len(code))
            info = ffi.new("VkShaderModuleCreateInfo*", dict(
                sType=vk.VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, codeSize=len(code), pCode=words))
            out = ffi.new("VkShaderModule*")
            check(lib.vkCreateShaderModule(self.device.handle, info, ffi.NULL, out), f"vkCreateShaderModule({name})")
            mod = self._modules[key] = out[0]
        return mod

    def _layout(self, nbind):
        layout = self._layouts.get(nbind)
        if layout is None:
            ffi, lib, vk = _vk.ffi, _vk.lib, _vk.vk
            rng = ffi.new("VkPushConstantRange*", dict(stageFlags=vk.VK_SHADER_STAGE_COMPUTE_BIT, offset=0,
                                                       size=PUSH_BYTES))
            pinfo = ffi.new("VkPipelineLayoutCreateInfo*", dict(
                sType=vk.VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, setLayoutCount=nbind, pSetLayouts=self._dsl,
                pushConstantRangeCount=1, pPushConstantRanges=rng))
            pl = ffi.new("VkPipelineLayout*")
            check(lib.vkCreatePipelineLayout(self.device.handle, pinfo, ffi.NULL, pl), "vkCreatePipelineLayout")
            layout = self._layouts[nbind] = pl[0]
        return layout

    def _build(self, iface, spec, f16):
        ffi, lib, vk = _vk.ffi, _vk.lib, _vk.vk
        if len(spec) != len(iface.spec_ids):
            raise ValueError(f"{iface.name}: expected {len(iface.spec_ids)} specialization values, got {spec}")
        use16 = any(f16)
        if use16 and not self.device.f16:
            raise RuntimeError(f"vulkan: {iface.name} was asked for f16 storage on a device without it")
        ids = list(iface.spec_ids) + ([20 + b for b in range(iface.bindings)] if use16 else [])
        values = list(spec) + ([int(bool(x)) for x in f16] if use16 else [])
        entries = ffi.new("VkSpecializationMapEntry[]", [
            dict(constantID=i, offset=4 * k, size=4) for k, i in enumerate(ids)])
        data = ffi.new("uint32_t[]", [int(v) & 0xFFFFFFFF for v in values])
        sinfo = ffi.new("VkSpecializationInfo*", dict(
            mapEntryCount=len(ids), pMapEntries=entries, dataSize=4 * len(ids), pData=data))
        entry_name = _vk.cstr("main")
        if iface.bindings > MAX_BUFFERS:
            raise ValueError(f"{iface.name}: {iface.bindings} buffers, at most {MAX_BUFFERS}")
        layout = self._layout(iface.bindings)
        stage = dict(sType=vk.VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                     stage=vk.VK_SHADER_STAGE_COMPUTE_BIT, module=self._module(iface.name, use16),
                     pName=entry_name, pSpecializationInfo=sinfo)
        info = ffi.new("VkComputePipelineCreateInfo*", dict(
            sType=vk.VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO, stage=stage, layout=layout))
        out = ffi.new("VkPipeline*")
        check(lib.vkCreateComputePipelines(self.device.handle, self._cache, 1, info, ffi.NULL, out),
              f"vkCreateComputePipelines({iface.name}, spec={spec}, f16={f16})")
        return Pipeline(out[0], layout, iface)

    # -- descriptor sets --------------------------------------------------------------
    def region_set(self, storage):
        """The VkDescriptorSet of a storage's region (created at its first use)."""
        entry = self._region_sets.get(storage.region)
        if entry is None:
            entry = self._region_sets[storage.region] = self._allocate_set(storage)
        return entry[0][0]

    def forget_regions(self, regions):
        """Free the sets of discarded regions (the device no longer uses them)."""
        ffi, lib = _vk.ffi, _vk.lib
        for r in regions:
            entry = self._region_sets.pop(r, None)
            if entry is not None:
                lib.vkFreeDescriptorSets(self.device.handle, entry[1], 1, entry[0])

    @property
    def descriptor_sets(self) -> int:
        return len(self._region_sets)

    def _allocate_set(self, storage):
        ffi, lib, vk = _vk.ffi, _vk.lib, _vk.vk
        dev = self.device.handle
        if self._pool_left == 0:
            size = ffi.new("VkDescriptorPoolSize*", dict(type=vk.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                                         descriptorCount=SETS_PER_POOL))
            info = ffi.new("VkDescriptorPoolCreateInfo*", dict(
                sType=vk.VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                flags=vk.VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT,
                maxSets=SETS_PER_POOL, poolSizeCount=1, pPoolSizes=size))
            out = ffi.new("VkDescriptorPool*")
            check(lib.vkCreateDescriptorPool(dev, info, ffi.NULL, out), "vkCreateDescriptorPool")
            self._pools.append(out[0])
            self._pool_left = SETS_PER_POOL
        pool = self._pools[-1]
        ainfo = ffi.new("VkDescriptorSetAllocateInfo*", dict(
            sType=vk.VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO, descriptorPool=pool,
            descriptorSetCount=1, pSetLayouts=self._dsl))
        ds = ffi.new("VkDescriptorSet[1]")
        code = lib.vkAllocateDescriptorSets(dev, ainfo, ds)
        if code != 0:   # this pool is full (or fragmented by freed sets): open another
            self._pool_left = 0
            return self._allocate_set(storage)
        self._pool_left -= 1
        binfo = ffi.new("VkDescriptorBufferInfo*", dict(buffer=storage.block.buffer, offset=storage.offset,
                                                        range=storage.nbytes))
        write = ffi.new("VkWriteDescriptorSet*", dict(
            sType=vk.VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, dstSet=ds[0], dstBinding=0, descriptorCount=1,
            descriptorType=vk.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, pBufferInfo=binfo))
        lib.vkUpdateDescriptorSets(dev, 1, write, 0, ffi.NULL)
        return ds, pool

    def destroy(self):
        ffi, lib = _vk.ffi, _vk.lib
        dev = self.device.handle
        for pipe in self._pipelines.values():
            lib.vkDestroyPipeline(dev, pipe.handle, ffi.NULL)
        for layout in self._layouts.values():
            lib.vkDestroyPipelineLayout(dev, layout, ffi.NULL)
        lib.vkDestroyDescriptorSetLayout(dev, self._dsl[0], ffi.NULL)
        for pool in self._pools:
            lib.vkDestroyDescriptorPool(dev, pool, ffi.NULL)
        for mod in self._modules.values():
            lib.vkDestroyShaderModule(dev, mod, ffi.NULL)
        lib.vkDestroyPipelineCache(dev, self._cache, ffi.NULL)
        self._pipelines.clear()
        self._layouts.clear()
        self._pools.clear()
        self._modules.clear()
        self._region_sets.clear()
