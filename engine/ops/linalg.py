"""matmul with numpy semantics (batched, broadcast batch dims, 1-D operands)."""
from __future__ import annotations

from ..autograd import Function
from .elementwise import _pair


class MatMul(Function):
    def forward(self, K, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: operands must have at least 1 dimension, got {a.shape} and {b.shape}")
        ka = a.shape[-1]
        kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if ka != kb:
            raise ValueError(f"matmul: inner dimensions differ: {a.shape} @ {b.shape} ({ka} != {kb})")
        self.a, self.b = a, b
        return K.matmul(a, b)

    def backward(self, g):
        K, a, b = self.K, self.a, self.b
        a2 = K.reshape(a, (1,) + a.shape) if a.ndim == 1 else a
        b2 = K.reshape(b, b.shape + (1,)) if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = K.reshape(g2, g2.shape[:-1] + (1,) + g2.shape[-1:]) if b.ndim > 1 else K.reshape(g2, (1, 1))
        if b.ndim == 1:
            g2 = K.reshape(g2, g2.shape + (1,)) if a.ndim > 1 else g2
        ga = gb = None
        if self.inputs[0].requires_grad:
            ga = K.sum_to(K.matmul(g2, b2, tb=True), a2.shape)
            ga = K.reshape(ga, a.shape)
        if self.inputs[1].requires_grad:
            if a.ndim > 2 and b.ndim == 2:     # [..., K] @ [K, N]: fold the batch axes, one GEMM
                gb = K.matmul(K.reshape(a, (-1, a.shape[-1])), K.reshape(g, (-1, g.shape[-1])), ta=True)
            else:
                gb = K.sum_to(K.matmul(a2, g2, ta=True), b2.shape)
                gb = K.reshape(gb, b.shape)
        return ga, gb


def matmul(a, b):
    return MatMul.apply(*_pair(a, b))
