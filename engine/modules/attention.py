"""Multi-head scaled dot-product attention, composed from matmul/softmax/reshape/transpose."""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..tensor import Tensor
from .linear import Linear, positive_int
from .module import Module, input_features

# Added to the scores of masked positions. Large enough that exp() underflows to 0
# in float32 and float64; finite so that a row with every key masked gives a
# uniform average instead of NaN.
_MASKED = -1e9


class MultiheadAttention(Module):
    """Batch-first multi-head attention: inputs [B, T, d_model], output [B, Tq, d_model].

    Projections q_proj, k_proj, v_proj and out_proj are Linear(d_model, d_model).

    forward(q, k=None, v=None, causal=False, mask=None, return_attention=False):
      k defaults to q and v to k (self-attention).
      mask: boolean or 0/1 array where True/1 means "may attend", broadcastable to
        [B, n_heads, Tq, Tk]: [Tq, Tk], [B, Tq, Tk] or [B, n_heads, Tq, Tk]
        (use [B, 1, Tk] for a per-sequence key padding mask).
      causal: query i attends to keys j <= i + (Tk - Tq) (queries aligned with
        the last keys); combined with mask by logical AND.
      A query whose keys are all masked gets the plain average of the values.
      return_attention: also return the attention weights [B, n_heads, Tq, Tk].
    Dropout (if any) is applied to the attention weights in training mode.
    """

    def __init__(self, d_model, n_heads, dropout=0.0, bias=True, dtype=np.float32):
        super().__init__()
        self.d_model = positive_int(d_model, "d_model", "MultiheadAttention")
        self.n_heads = positive_int(n_heads, "n_heads", "MultiheadAttention")
        if d_model % n_heads:
            raise ValueError(f"MultiheadAttention: d_model={d_model} is not divisible by n_heads={n_heads}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1), got {dropout}")
        self.head_dim = d_model // n_heads
        self.dropout = float(dropout)
        self.q_proj = Linear(d_model, d_model, bias=bias, dtype=dtype)
        self.k_proj = Linear(d_model, d_model, bias=bias, dtype=dtype)
        self.v_proj = Linear(d_model, d_model, bias=bias, dtype=dtype)
        self.out_proj = Linear(d_model, d_model, bias=bias, dtype=dtype)

    def _heads(self, x, b, t):
        """[B, T, d] -> [B, h, T, head_dim]"""
        return ops.transpose(ops.reshape(x, (b, t, self.n_heads, self.head_dim)), (0, 2, 1, 3))

    def _check(self, name, x):
        shape = x.shape if isinstance(x, (Tensor, np.ndarray)) else np.shape(x)
        if len(shape) != 3:
            raise ValueError(f"{self._label()}: {name} must be [batch, time, {self.d_model}], got shape {tuple(shape)}")
        input_features(self, x, self.d_model)
        return shape

    def keep_mask(self, b, tq, tk, causal, mask):
        """The 0/1 'may attend' array broadcastable to [B, h, Tq, Tk], or None."""
        keep = None
        if mask is not None:
            m = np.asarray(mask.numpy() if isinstance(mask, Tensor) else mask)
            if m.dtype.kind == "f" and not np.all((m == 0) | (m == 1)):
                raise ValueError(f"{self._label()}: mask must be boolean or 0/1 (True = attend)")
            m = m.astype(bool)
            if m.ndim == 3:
                m = m[:, None]
            elif m.ndim not in (2, 4):
                raise ValueError(f"{self._label()}: mask must have 2, 3 or 4 dimensions, got shape {m.shape}")
            try:
                np.broadcast_shapes(m.shape, (b, self.n_heads, tq, tk))
            except ValueError:
                raise ValueError(f"{self._label()}: mask shape {np.shape(mask)} does not broadcast to "
                                 f"[batch, heads, Tq, Tk] = {(b, self.n_heads, tq, tk)}") from None
            keep = m
        if causal:
            c = np.tril(np.ones((tq, tk), bool), k=tk - tq)
            keep = c if keep is None else keep & c
        return keep

    def forward(self, q, k=None, v=None, causal=False, mask=None, return_attention=False):
        k = q if k is None else k
        v = k if v is None else v
        b, tq, _ = self._check("q", q)
        bk, tk, _ = self._check("k", k)
        bv, tv, _ = self._check("v", v)
        if not (b == bk == bv) or tk != tv:
            raise ValueError(f"{self._label()}: q, k, v shapes {tuple(np.shape(q))}, {tuple(np.shape(k))}, "
                             f"{tuple(np.shape(v))} disagree (same batch; k and v the same length)")
        Q = self._heads(self.q_proj(q), b, tq)
        Kt = ops.transpose(ops.reshape(self.k_proj(k), (b, tk, self.n_heads, self.head_dim)), (0, 2, 3, 1))
        V = self._heads(self.v_proj(v), b, tk)
        scores = ops.scale(ops.matmul(Q, Kt), 1.0 / math.sqrt(self.head_dim))
        keep = self.keep_mask(b, tq, tk, causal, mask)
        if keep is not None:
            dt = scores.dtype
            # scores * keep + masked_bias leaves kept scores bit-exact and masked ones exactly _MASKED
            scores = ops.add(ops.mul(scores, keep.astype(dt)), np.where(keep, 0.0, _MASKED).astype(dt))
        attn = ops.softmax(scores, -1)
        if self.dropout and self.training:
            attn = ops.dropout(attn, self.dropout, training=True)
        out = ops.matmul(attn, V)                                  # [B, h, Tq, head_dim]
        out = ops.reshape(ops.transpose(out, (0, 2, 1, 3)), (b, tq, self.d_model))
        out = self.out_proj(out)
        return (out, attn) if return_attention else out

    def extra_repr(self):
        return f"d_model={self.d_model}, n_heads={self.n_heads}, dropout={self.dropout}"
