"""matmul with numpy semantics (1-D operands, broadcast batch dims, optional transposes)."""
from __future__ import annotations

import numpy as np

from ..interfaces import MATMUL
from .base import broadcast_shape, prod

MAX_BATCH = 65535

# (workgroup x, workgroup y, rows per invocation TM, columns per invocation TN).
# CPU-type devices (lavapipe) run a workgroup as a loop over 8-lane SIMD subgroups along x:
# an x width of 8 makes A loads uniform and B loads one vector, and big register blocks
# amortise them (measured best: 8x2 invocations of 16x16, 8x4 of 8x8 for small outputs).
# GPUs want many invocations per workgroup instead.
CPU_TILES = ((8, 2, 16, 16), (8, 4, 8, 8))
GPU_TILES = ((16, 16, 4, 4), (16, 8, 2, 2))


def choose_tile(m, n, cpu_device):
    large, small = CPU_TILES if cpu_device else GPU_TILES
    return large if m >= 64 and n >= 128 else small


class LinalgKernels:
    def matmul(self, a, b, ta=False, tb=False):
        a, b = self._dev(a), self._dev(b)
        if (ta and a.ndim < 2) or (tb and b.ndim < 2):
            raise ValueError("matmul: a transposed operand needs at least 2 dimensions")
        a_vec, b_vec = a.ndim == 1, b.ndim == 1
        am = (1, a.shape[0]) if a_vec else a.shape[-2:]
        bm = (b.shape[0], 1) if b_vec else b.shape[-2:]
        m, k = (am[1], am[0]) if ta else am
        k2, n = (bm[1], bm[0]) if tb else bm
        if k != k2:
            raise ValueError(f"matmul: inner dimensions differ: {a.shape} @ {b.shape}"
                             f"{' (ta)' if ta else ''}{' (tb)' if tb else ''} ({k} != {k2})")
        ab, bb = a.shape[:-2], b.shape[:-2]
        batch = ab if ab == bb else broadcast_shape(ab, bb)
        nb = prod(batch)
        a, sa = self._batch_operand(a, ab, batch, am)
        b, sb = self._batch_operand(b, bb, batch, bm)
        dtype = a.dtype if a.dtype == b.dtype else np.result_type(a.dtype, b.dtype)
        out = self._empty(batch + (m, n), dtype)
        if k == 0:
            self._fill(out, 0.0)
        elif out.size:
            self._matmul_launch(a, b, out, m, n, k, sa, sb, m * n if nb > 1 else 0, nb, ta, tb)
        shape = batch + ((m,) if not a_vec else ()) + ((n,) if not b_vec else ())
        return out if shape == out.shape else self.view(out, shape)

    def _batch_operand(self, x, xb, batch, mat):
        if xb == batch:
            return x, (prod(mat) if prod(batch) > 1 else 0)
        if prod(xb) == 1:
            return x, 0
        x = self.broadcast_to(self.view(x, xb + tuple(mat)), batch + tuple(mat))
        return x, prod(mat)

    def _matmul_launch(self, a, b, out, m, n, k, sa, sb, sc, nb, ta, tb):
        wgx, wgy, tm, tn = choose_tile(m, n, self.device.info.type == "cpu")
        pipe = self.pipes.get(MATMUL, (wgx, wgy, tm, tn, int(ta), int(tb)), (a.f16, b.f16, out.f16))
        gx = -(-n // (wgx * tn))
        gy = -(-m // (wgy * tm))
        if gx > 65535 or gy > 65535:
            raise ValueError(f"matmul: output {m}x{n} is too large for one dispatch on this device")
        for b0 in range(0, nb, MAX_BATCH):
            gz = min(MAX_BATCH, nb - b0)
            push = (m, n, k, a.off + b0 * sa, b.off + b0 * sb, out.off + b0 * sc, sa, sb, sc)
            self.rec.dispatch(pipe, (a, b, out), push, gx, gy, gz)
