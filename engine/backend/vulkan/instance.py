"""The Vulkan instance, the optional validation layer, and physical-device enumeration.

Devices are listed in a deterministic order: discrete, integrated, virtual, cpu,
other; ties broken by device UUID. `vulkan:N` names the N-th device of that list
in every process on the host (the launcher hands out indices the same way).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from . import _vk
from ._vk import VkError, VulkanUnavailable, check

VALIDATION_ENV = "DPTRAIN_VK_VALIDATION"
VALIDATION_LAYER = "VK_LAYER_KHRONOS_validation"

_TYPE_NAMES = {0: "other", 1: "integrated", 2: "discrete", 3: "virtual", 4: "cpu"}
_TYPE_ORDER = {"discrete": 0, "integrated": 1, "virtual": 2, "cpu": 3, "other": 4}


def device_order_key(info):
    """Sort key of the `vulkan:N` order: device type (discrete first), then UUID."""
    return (_TYPE_ORDER.get(info.type, len(_TYPE_ORDER)), info.uuid)


@dataclass(frozen=True)
class PhysicalDeviceInfo:
    handle: object            # VkPhysicalDevice cdata
    name: str
    type: str                 # "discrete" | "integrated" | "virtual" | "cpu" | "other"
    uuid: bytes
    api_version: int
    memory: int               # bytes of device-local heaps
    f16: bool                 # 16-bit storage and float16 arithmetic
    max_storage_buffer_range: int

    @property
    def is_gpu(self) -> bool:
        return self.type in ("discrete", "integrated", "virtual")


def _api_version_string(v: int) -> str:
    return f"{(v >> 22) & 0x7F}.{(v >> 12) & 0x3FF}.{v & 0xFFF}"


class Instance:
    """A VkInstance plus the sorted list of physical devices it sees."""

    def __init__(self, validation: bool | None = None):
        _vk.load()
        ffi, lib, vk = _vk.ffi, _vk.lib, _vk.vk
        if validation is None:
            validation = os.environ.get(VALIDATION_ENV, "") not in ("", "0")
        self.validation = validation
        self.messages: list[str] = []      # validation-layer warnings and errors, in order
        self._keep = []                    # cdata that structs point at
        self._messenger = None
        self._callback = None

        version = ffi.new("uint32_t*")
        enum_version = getattr(lib, "vkEnumerateInstanceVersion", None)
        if enum_version is None or enum_version(version) != 0:
            raise VulkanUnavailable("the Vulkan loader only supports Vulkan 1.0; dptrain needs 1.1")
        api = min(version[0], vk.VK_MAKE_VERSION(1, 3, 0))
        if api < vk.VK_MAKE_VERSION(1, 1, 0):
            raise VulkanUnavailable(f"the Vulkan loader is version {_api_version_string(api)}; dptrain needs 1.1")

        app_name, engine_name = _vk.cstr("dptrain"), _vk.cstr("dptrain")
        app = ffi.new("VkApplicationInfo*", dict(
            sType=vk.VK_STRUCTURE_TYPE_APPLICATION_INFO, pApplicationName=app_name,
            applicationVersion=1, pEngineName=engine_name, engineVersion=1, apiVersion=api))
        info = ffi.new("VkInstanceCreateInfo*", dict(
            sType=vk.VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, pApplicationInfo=app))
        self._keep += [app_name, engine_name, app]
        if validation:
            self._enable_validation(info)
        handle = ffi.new("VkInstance*")
        code = lib.vkCreateInstance(info, ffi.NULL, handle)
        if code == vk.VK_ERROR_LAYER_NOT_PRESENT:
            raise VulkanUnavailable(f"{VALIDATION_ENV} is set but the {VALIDATION_LAYER} layer is not installed")
        if code != 0:
            raise VulkanUnavailable(f"vkCreateInstance failed: {VkError('vkCreateInstance', code)}")
        self.handle = handle[0]
        if validation:
            self._create_messenger()
        self.devices = self._enumerate()

    # -- validation ------------------------------------------------------------
    def _enable_validation(self, info):
        ffi, vk = _vk.ffi, _vk.vk
        layer = _vk.cstr(VALIDATION_LAYER)
        layers = ffi.new("char*[]", [layer])
        ext = _vk.cstr("VK_EXT_debug_utils")
        exts = ffi.new("char*[]", [ext])
        enables = ffi.new("VkValidationFeatureEnableEXT[]",
                          [vk.VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT])
        features = ffi.new("VkValidationFeaturesEXT*", dict(
            sType=vk.VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
            enabledValidationFeatureCount=1, pEnabledValidationFeatures=enables))
        self._callback = ffi.callback("PFN_vkDebugUtilsMessengerCallbackEXT", self._on_message)
        # Chained into instance creation too, so messages from vkCreate/DestroyInstance are caught.
        self._messenger_info = ffi.new("VkDebugUtilsMessengerCreateInfoEXT*", dict(
            sType=vk.VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
            pNext=features,
            messageSeverity=(vk.VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT
                             | vk.VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT),
            messageType=(vk.VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT
                         | vk.VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT
                         | vk.VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT),
            pfnUserCallback=self._callback))
        info.pNext = self._messenger_info
        info.enabledLayerCount = 1
        info.ppEnabledLayerNames = layers
        info.enabledExtensionCount = 1
        info.ppEnabledExtensionNames = exts
        self._keep += [layer, layers, ext, exts, enables, features]

    def _on_message(self, severity, types, data, user):
        try:
            msg = _vk.ffi.string(data.pMessage).decode("utf-8", "replace") if data.pMessage else "?"
            self.messages.append(msg)
        except Exception as e:  # never raise through a C callback
            self.messages.append(f"<undecodable validation message: {e}>")
        return 0

    def _create_messenger(self):
        ffi, lib = _vk.ffi, _vk.lib
        fn = lib.vkGetInstanceProcAddr(self.handle, b"vkCreateDebugUtilsMessengerEXT")
        if fn == ffi.NULL:
            raise VulkanUnavailable("validation requested but VK_EXT_debug_utils is not available")
        create = ffi.cast("PFN_vkCreateDebugUtilsMessengerEXT", fn)
        out = ffi.new("VkDebugUtilsMessengerEXT*")
        info = ffi.new("VkDebugUtilsMessengerCreateInfoEXT*", self._messenger_info[0])
        info.pNext = ffi.NULL
        check(create(self.handle, info, ffi.NULL, out), "vkCreateDebugUtilsMessengerEXT")
        self._messenger = out[0]

    # -- devices -----------------------------------------------------------------
    def _enumerate(self):
        ffi, lib = _vk.ffi, _vk.lib
        count = ffi.new("uint32_t*")
        check(lib.vkEnumeratePhysicalDevices(self.handle, count, ffi.NULL), "vkEnumeratePhysicalDevices")
        handles = ffi.new("VkPhysicalDevice[]", count[0])
        check(lib.vkEnumeratePhysicalDevices(self.handle, count, handles), "vkEnumeratePhysicalDevices")
        infos = [self._describe(handles[i]) for i in range(count[0])]
        infos.sort(key=device_order_key)
        return infos

    def _describe(self, pd) -> PhysicalDeviceInfo:
        ffi, lib, vk = _vk.ffi, _vk.lib, _vk.vk
        idp = ffi.new("VkPhysicalDeviceIDProperties*", dict(sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES))
        props2 = ffi.new("VkPhysicalDeviceProperties2*", dict(
            sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, pNext=idp))
        lib.vkGetPhysicalDeviceProperties2(pd, props2)
        p = props2.properties
        mem = ffi.new("VkPhysicalDeviceMemoryProperties*")
        lib.vkGetPhysicalDeviceMemoryProperties(pd, mem)
        local = sum(mem.memoryHeaps[i].size for i in range(mem.memoryHeapCount)
                    if mem.memoryHeaps[i].flags & vk.VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
        f16 = False
        # shaderFloat16 is core from Vulkan 1.2; older devices are used in f32 only.
        if p.apiVersion >= vk.VK_MAKE_VERSION(1, 2, 0):
            s16 = ffi.new("VkPhysicalDevice16BitStorageFeatures*", dict(
                sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES))
            h16 = ffi.new("VkPhysicalDeviceShaderFloat16Int8Features*", dict(
                sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES, pNext=s16))
            feats = ffi.new("VkPhysicalDeviceFeatures2*", dict(
                sType=vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, pNext=h16))
            lib.vkGetPhysicalDeviceFeatures2(pd, feats)
            f16 = bool(s16.storageBuffer16BitAccess and h16.shaderFloat16)
        return PhysicalDeviceInfo(
            handle=pd, name=ffi.string(p.deviceName).decode("utf-8", "replace"),
            type=_TYPE_NAMES.get(p.deviceType, "other"), uuid=bytes(ffi.buffer(idp.deviceUUID, 16)),
            api_version=p.apiVersion, memory=int(local), f16=f16,
            max_storage_buffer_range=int(p.limits.maxStorageBufferRange))

    def status(self):
        return [dict(index=i, name=d.name, type=d.type, memory=d.memory, f16=d.f16,
                     api_version=_api_version_string(d.api_version))
                for i, d in enumerate(self.devices)]

    def destroy(self):
        if getattr(self, "handle", None) is None:
            return
        ffi, lib = _vk.ffi, _vk.lib
        if self._messenger is not None:
            fn = lib.vkGetInstanceProcAddr(self.handle, b"vkDestroyDebugUtilsMessengerEXT")
            if fn != ffi.NULL:
                ffi.cast("PFN_vkDestroyDebugUtilsMessengerEXT", fn)(self.handle, self._messenger, ffi.NULL)
            self._messenger = None
        lib.vkDestroyInstance(self.handle, ffi.NULL)
        self.handle = None
