"""GLSL compute shaders (one `<kernel>.comp` per kernel) and their committed SPIR-V.

Each source is compiled twice: `<kernel>.spv` (f32 only, no 16-bit capability) and
`<kernel>.f16.spv` (built with -DF16: float bindings may hold f16, chosen per binding
by specialization constants). Rebuild with `python -m shaders.build`.
"""
from pathlib import Path

DIR = Path(__file__).resolve().parent


def spirv_path(kernel: str, f16: bool = False) -> Path:
    return DIR / f"{kernel}{'.f16' if f16 else ''}.spv"


def kernels() -> list[str]:
    return sorted(p.stem for p in DIR.glob("*.comp"))
