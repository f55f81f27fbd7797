"""Compile every shaders/*.comp to SPIR-V with glslc: `python -m shaders.build [--check] [--out DIR]`.

Writes `<kernel>.spv` and `<kernel>.f16.spv` beside the sources (or into --out).
--check compiles to a temporary directory and lists the committed files that differ.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import DIR, kernels

# Vulkan 1.1 (SPIR-V 1.3) is the minimum the backend asks of a device.
GLSLC_FLAGS = ("--target-env=vulkan1.1", "-O")
VARIANTS = (("", ()), (".f16", ("-DF16",)))


def glslc() -> str | None:
    return shutil.which("glslc")


def build(out_dir: Path = DIR, names=None) -> list[Path]:
    exe = glslc()
    if exe is None:
        raise RuntimeError("glslc not found: install shaderc (e.g. apt-get install glslc) to rebuild the shaders")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names or kernels():
        src = DIR / f"{name}.comp"
        for suffix, defines in VARIANTS:
            dst = out_dir / f"{name}{suffix}.spv"
            cmd = [exe, *GLSLC_FLAGS, *defines, "-I", str(DIR), str(src), "-o", str(dst)]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError(f"glslc failed on {src.name}{' ' + ' '.join(defines) if defines else ''}:\n"
                                   f"{res.stderr.strip()}")
            written.append(dst)
    return written


def stale() -> list[str]:
    """Committed .spv files that are missing or differ from a fresh compile."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = build(Path(tmp))
        out = []
        for f in fresh:
            committed = DIR / f.name
            if not committed.exists() or committed.read_bytes() != f.read_bytes():
                out.append(f.name)
        return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="report stale SPIR-V instead of writing it")
    ap.add_argument("--out", type=Path, default=DIR)
    args = ap.parse_args(argv)
    if args.check:
        bad = stale()
        if bad:
            print("stale SPIR-V (run `python -m shaders.build`): " + ", ".join(bad))
            return 1
        print(f"all {2 * len(kernels())} SPIR-V files match their sources")
        return 0
    files = build(args.out)
    print(f"wrote {len(files)} SPIR-V files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
