"""The committed SPIR-V matches the GLSL sources, and every shader the backend uses exists."""
import pytest

import shaders
from engine.backend.vulkan import interfaces
from shaders import build


def test_every_interface_has_its_source_and_spirv():
    names = {i.name for i in interfaces.ALL}
    assert names == set(shaders.kernels()), "a .comp without an interface, or an interface without a .comp"
    for name in names:
        for f16 in (False, True):
            assert shaders.spirv_path(name, f16).exists(), f"missing {shaders.spirv_path(name, f16).name}"


def test_push_constants_fit_the_guaranteed_128_bytes():
    from engine.backend.vulkan.pipelines import MAX_BUFFERS, PUSH_BYTES
    for i in interfaces.ALL:
        assert i.push.size <= PUSH_BYTES, f"{i.name}: {i.push.size} bytes of push constants"
        assert i.bindings <= MAX_BUFFERS


def test_committed_spirv_matches_sources():
    if build.glslc() is None:
        pytest.skip("glslc is not installed")
    stale = build.stale()
    assert not stale, f"stale SPIR-V, run `python -m shaders.build`: {stale}"
