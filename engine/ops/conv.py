"""Convolution and pooling on channels-last tensors (Keras layouts)."""
from __future__ import annotations

import math

from ..autograd import Function
from ..tensor import as_tensor
from .layout import reshape


def _pair(v, name, op):
    if isinstance(v, int):
        return (v, v)
    v = tuple(int(i) for i in v)
    if len(v) != 2:
        raise ValueError(f"{op}: {name} must be an int or a pair, got {v}")
    return v


def same_pads(size, k, s):
    """TensorFlow's 'same': output ceil(size / s), extra padding at the end."""
    out = math.ceil(size / s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def resolve_pads(padding, hw, khw, stride, op):
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            return same_pads(hw[0], khw[0], stride[0]) + same_pads(hw[1], khw[1], stride[1])
        raise ValueError(f"{op}: padding must be 'valid', 'same' or ints, got {padding!r}")
    ph, pw = _pair(padding, "padding", op)
    return (ph, ph, pw, pw)


def _out_size(n, k, s, p0, p1, op, x_shape):
    out = (n + p0 + p1 - k) // s + 1
    if out < 1:
        raise ValueError(f"{op}: window {k} does not fit input shape {x_shape} (padding {p0}+{p1})")
    return out


class Conv2D(Function):
    """Inputs x, w and an optional bias, added in place into the fresh output (no extra array)."""

    def forward(self, K, x, w, b=None):
        y, self.ctx = K.conv2d(x, w, self.stride, self.pads)
        if b is not None:
            K.add_into(y, b)
        return y

    def backward(self, g):
        ins = self.inputs
        gx, gw = self.K.conv2d_backward(self.ctx, g, ins[0].requires_grad, ins[1].requires_grad)
        if len(ins) == 2:
            return gx, gw
        return gx, gw, (self.K.sum(g, axis=(0, 1, 2)) if ins[2].requires_grad else None)


def _bias(b, x, cout, op):
    if b is None:
        return ()
    b = as_tensor(b, like=x)
    if b.shape != (cout,):
        raise ValueError(f"{op}: bias must have shape ({cout},), got {b.shape}")
    return (b,)


def conv2d(x, w, b=None, stride=1, padding="valid"):
    """x [N, H, W, C_in], w [kh, kw, C_in, C_out], b [C_out] -> [N, H', W', C_out]."""
    x, w = as_tensor(x), as_tensor(w)
    if x.ndim != 4:
        raise ValueError(f"conv2d: input must be 4-D [N, H, W, C], got shape {x.shape}")
    if w.ndim != 4:
        raise ValueError(f"conv2d: weight must be 4-D [kh, kw, C_in, C_out], got shape {w.shape}")
    if w.shape[2] != x.shape[3]:
        raise ValueError(f"conv2d: input has {x.shape[3]} channels (shape {x.shape}) but weight "
                         f"expects {w.shape[2]} (shape {w.shape})")
    stride = _pair(stride, "stride", "conv2d")
    pads = resolve_pads(padding, x.shape[1:3], w.shape[:2], stride, "conv2d")
    _out_size(x.shape[1], w.shape[0], stride[0], pads[0], pads[1], "conv2d", x.shape)
    _out_size(x.shape[2], w.shape[1], stride[1], pads[2], pads[3], "conv2d", x.shape)
    return Conv2D.apply(x, w, *_bias(b, x, w.shape[3], "conv2d"), stride=stride, pads=pads)


def conv1d(x, w, b=None, stride=1, padding="valid"):
    """x [N, L, C_in], w [k, C_in, C_out] -> [N, L', C_out]: conv2d over a height of 1."""
    x, w = as_tensor(x), as_tensor(w)
    if x.ndim != 3:
        raise ValueError(f"conv1d: input must be 3-D [N, L, C], got shape {x.shape}")
    if w.ndim != 3:
        raise ValueError(f"conv1d: weight must be 3-D [k, C_in, C_out], got shape {w.shape}")
    if w.shape[1] != x.shape[2]:
        raise ValueError(f"conv1d: input has {x.shape[2]} channels (shape {x.shape}) but weight "
                         f"expects {w.shape[1]} (shape {w.shape})")
    if not isinstance(stride, int):
        (stride,) = tuple(stride)
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"conv1d: padding must be 'valid', 'same' or an int, got {padding!r}")
        pl, pr = same_pads(x.shape[1], w.shape[0], stride) if padding == "same" else (0, 0)
    else:
        pl = pr = int(padding)
    _out_size(x.shape[1], w.shape[0], stride, pl, pr, "conv1d", x.shape)
    n, length, c = x.shape
    y = Conv2D.apply(reshape(x, (n, 1, length, c)), reshape(w, (1,) + w.shape), *_bias(b, x, w.shape[2], "conv1d"),
                     stride=(1, stride), pads=(0, 0, pl, pr))
    return reshape(y, (n, y.shape[2], y.shape[3]))


class MaxPool2D(Function):
    def forward(self, K, x):
        y, self.ctx = K.max_pool2d(x, self.pool, self.stride, self.pads)
        return y

    def backward(self, g):
        return (self.K.max_pool2d_backward(self.ctx, g),)


class AvgPool2D(Function):
    def forward(self, K, x):
        y, self.ctx = K.avg_pool2d(x, self.pool, self.stride, self.pads)
        return y

    def backward(self, g):
        return (self.K.avg_pool2d_backward(self.ctx, g),)


def _pool_args(x, pool_size, stride, padding, op):
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D [N, H, W, C], got shape {x.shape}")
    pool = _pair(pool_size, "pool_size", op)
    stride = pool if stride is None else _pair(stride, "stride", op)
    pads = resolve_pads(padding, x.shape[1:3], pool, stride, op)
    if any(p >= k for p, k in zip((max(pads[0], pads[1]), max(pads[2], pads[3])), pool)):
        raise ValueError(f"{op}: padding {pads} must be smaller than the pool {pool}")
    _out_size(x.shape[1], pool[0], stride[0], pads[0], pads[1], op, x.shape)
    _out_size(x.shape[2], pool[1], stride[1], pads[2], pads[3], op, x.shape)
    return dict(pool=pool, stride=stride, pads=pads)


def max_pool2d(x, pool_size=2, stride=None, padding="valid"):
    x = as_tensor(x)
    return MaxPool2D.apply(x, **_pool_args(x, pool_size, stride, padding, "max_pool2d"))


def avg_pool2d(x, pool_size=2, stride=None, padding="valid"):
    x = as_tensor(x)
    return AvgPool2D.apply(x, **_pool_args(x, pool_size, stride, padding, "avg_pool2d"))
