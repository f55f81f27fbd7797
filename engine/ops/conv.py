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
    """TensorFlow's 'same': output ceil(size / s), extra padding at the end (k: the dilated extent)."""
    out = math.ceil(size / s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _extent(k, d):
    """How far a kernel of k taps, d apart, reaches."""
    return (k - 1) * d + 1


def resolve_pads(padding, hw, khw, stride, op, dilation=(1, 1)):
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            return (same_pads(hw[0], _extent(khw[0], dilation[0]), stride[0])
                    + same_pads(hw[1], _extent(khw[1], dilation[1]), stride[1]))
        raise ValueError(f"{op}: padding must be 'valid', 'same' or ints, got {padding!r}")
    ph, pw = _pair(padding, "padding", op)
    return (ph, ph, pw, pw)


def _out_size(n, k, s, p0, p1, op, x_shape, d=1):
    out = (n + p0 + p1 - _extent(k, d)) // s + 1
    if out < 1:
        raise ValueError(f"{op}: window {k}{f' (dilation {d})' if d != 1 else ''} does not fit input shape "
                         f"{x_shape} (padding {p0}+{p1})")
    return out


class Conv2D(Function):
    """Inputs x, w and an optional bias, added in place into the fresh output (no extra array).
    Attributes: stride, pads (top, bottom, left, right), dilation, groups."""

    def forward(self, K, x, w, b=None):
        y, self.ctx = K.conv2d(x, w, self.stride, self.pads, self.dilation, self.groups)
        if b is not None:
            K.add_into(y, b)
        return y

    def backward(self, g):
        ins = self.inputs
        gx, gw = self.K.conv2d_backward(self.ctx, g, ins[0].requires_grad, ins[1].requires_grad)
        if len(ins) == 2:
            return gx, gw
        return gx, gw, (self.K.sum(g, axis=(0, 1, 2)) if ins[2].requires_grad else None)


class Conv2DTranspose(Function):
    """The adjoint of Conv2D in its input: y = conv2d's input gradient for the output gradient x.
    Backward reuses the convolution itself (for x) and its weight gradient (for w).
    Attributes: stride, pads (of the convolution that maps y back to x's shape), dilation, out_hw."""

    def forward(self, K, x, w, b=None):
        y, self.ctx = K.conv2d_transpose(x, w, self.stride, self.pads, self.dilation, self.out_hw)
        if b is not None:
            K.add_into(y, b)
        return y

    def backward(self, g):
        ins = self.inputs
        gx, gw = self.K.conv2d_transpose_backward(self.ctx, g, ins[0].requires_grad, ins[1].requires_grad)
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


def _groups(groups, cin, cout, kin, op, x_shape, w_shape):
    groups = int(groups)
    if groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups}")
    if cin != kin * groups:
        raise ValueError(f"{op}: input has {cin} channels (shape {x_shape}) but weight "
                         f"expects {kin * groups} (shape {w_shape}, groups={groups})")
    if cout % groups:
        raise ValueError(f"{op}: output channels ({cout}) must be divisible by groups ({groups})")
    return groups


def _positive_pair(v, name, op):
    v = _pair(v, name, op)
    if any(i < 1 for i in v):
        raise ValueError(f"{op}: {name} must be positive, got {v}")
    return v


def conv2d(x, w, b=None, stride=1, padding="valid", dilation=1, groups=1):
    """x [N, H, W, C_in], w [kh, kw, C_in / groups, C_out], b [C_out] -> [N, H', W', C_out].

    y[n, p, q, o] = b[o] + sum_{i, j, c} xpad[n, p * sh + i * dh, q * sw + j * dw, g * Cg + c] w[i, j, c, o]
    with g = o // (C_out / groups), Cg = C_in / groups. padding 'valid', 'same' (TensorFlow's,
    extra at the end), an int or pair (symmetric), or four ints (top, bottom, left, right)."""
    x, w = as_tensor(x), as_tensor(w)
    if x.ndim != 4:
        raise ValueError(f"conv2d: input must be 4-D [N, H, W, C], got shape {x.shape}")
    if w.ndim != 4:
        raise ValueError(f"conv2d: weight must be 4-D [kh, kw, C_in, C_out], got shape {w.shape}")
    groups = _groups(groups, x.shape[3], w.shape[3], w.shape[2], "conv2d", x.shape, w.shape)
    stride = _positive_pair(stride, "stride", "conv2d")
    dilation = _positive_pair(dilation, "dilation", "conv2d")
    if not isinstance(padding, str) and len(tuple(padding)) == 4:
        pads = tuple(int(p) for p in padding)
        if any(p < 0 for p in pads):
            raise ValueError(f"conv2d: padding must be non-negative, got {pads}")
    else:
        pads = resolve_pads(padding, x.shape[1:3], w.shape[:2], stride, "conv2d", dilation)
    _out_size(x.shape[1], w.shape[0], stride[0], pads[0], pads[1], "conv2d", x.shape, dilation[0])
    _out_size(x.shape[2], w.shape[1], stride[1], pads[2], pads[3], "conv2d", x.shape, dilation[1])
    return Conv2D.apply(x, w, *_bias(b, x, w.shape[3], "conv2d"), stride=stride, pads=pads, dilation=dilation,
                        groups=groups)


def _as_1d_args(x, w, stride, dilation, op):
    if x.ndim != 3:
        raise ValueError(f"{op}: input must be 3-D [N, L, C], got shape {x.shape}")
    if w.ndim != 3:
        raise ValueError(f"{op}: weight must be 3-D [k, C_in, C_out], got shape {w.shape}")
    if not isinstance(stride, int):
        (stride,) = tuple(stride)
    if not isinstance(dilation, int):
        (dilation,) = tuple(dilation)
    return int(stride), int(dilation)


def conv1d(x, w, b=None, stride=1, padding="valid", dilation=1, groups=1):
    """x [N, L, C_in], w [k, C_in / groups, C_out] -> [N, L', C_out]: conv2d over a height of 1.
    padding 'valid', 'same', 'causal' (all (k - 1) * dilation on the left), an int, or (left, right)."""
    x, w = as_tensor(x), as_tensor(w)
    stride, dilation = _as_1d_args(x, w, stride, dilation, "conv1d")
    groups = _groups(groups, x.shape[2], w.shape[2], w.shape[1], "conv1d", x.shape, w.shape)
    ext = _extent(w.shape[0], dilation)
    if isinstance(padding, str):
        if padding not in ("valid", "same", "causal"):
            raise ValueError(f"conv1d: padding must be 'valid', 'same', 'causal' or an int, got {padding!r}")
        pl, pr = {"valid": (0, 0), "causal": (ext - 1, 0)}.get(padding) or same_pads(x.shape[1], ext, stride)
    elif isinstance(padding, int):
        pl = pr = int(padding)
    else:
        pl, pr = (int(p) for p in padding)
    if stride < 1 or dilation < 1 or pl < 0 or pr < 0:
        raise ValueError(f"conv1d: stride and dilation must be positive and padding non-negative, got "
                         f"stride={stride}, dilation={dilation}, padding={padding!r}")
    _out_size(x.shape[1], w.shape[0], stride, pl, pr, "conv1d", x.shape, dilation)
    n, length, c = x.shape
    y = Conv2D.apply(reshape(x, (n, 1, length, c)), reshape(w, (1,) + w.shape), *_bias(b, x, w.shape[2], "conv1d"),
                     stride=(1, stride), pads=(0, 0, pl, pr), dilation=(1, dilation), groups=groups)
    return reshape(y, (n, y.shape[2], y.shape[3]))


def transpose_geometry(n, k, s, padding, output_padding=None, d=1):
    """Keras' transposed-convolution size and placement along one axis, for input length n:
    (output length, top pad of the equivalent forward convolution, its bottom pad).
    'valid': (n - 1) * s + max(k', s) (k' = (k - 1) * d + 1), 'same': n * s; with output_padding
    (n - 1) * s + k' + output_padding, resp. (n - 1) * s + k' % 2 + output_padding. The output is
    placed as TensorFlow and JAX do (Keras' backend-independent definition)."""
    ext = _extent(k, d)
    if padding == "valid":
        out_pad = max(ext, s) - ext if output_padding is None else output_padding
        left = ext - 1
        out = (n - 1) * s + ext + out_pad
    elif padding == "same":
        pad_len = s + ext - 2 if output_padding is None else ext + ext % 2 - 2 + output_padding
        left = min(pad_len // 2 + pad_len % 2, ext - 1)
        out = n * s if output_padding is None else (n - 1) * s + ext % 2 + output_padding
    else:
        raise ValueError(f"conv_transpose: padding must be 'valid' or 'same', got {padding!r}")
    top = ext - 1 - left
    return out, top, (n - 1) * s + ext - out - top


def conv2d_transpose(x, w, b=None, stride=1, padding="valid", dilation=1, output_padding=None):
    """Transposed convolution, x [N, H, W, C_in], w [kh, kw, F, C_in] (Keras' layout), b [F] ->
    [N, H', W', F]: y = b + the adjoint of conv2d(., w) applied to x, i.e.
    y[n, p * sh + i * dh - top, q * sw + j * dw - left, f] += x[n, p, q, c] w[i, j, f, c].
    Output sizes as Keras' (see `transpose_geometry`)."""
    x, w = as_tensor(x), as_tensor(w)
    if x.ndim != 4:
        raise ValueError(f"conv2d_transpose: input must be 4-D [N, H, W, C], got shape {x.shape}")
    if w.ndim != 4:
        raise ValueError(f"conv2d_transpose: weight must be 4-D [kh, kw, F, C_in], got shape {w.shape}")
    if w.shape[3] != x.shape[3]:
        raise ValueError(f"conv2d_transpose: input has {x.shape[3]} channels (shape {x.shape}) but weight "
                         f"expects {w.shape[3]} (shape {w.shape})")
    stride = _positive_pair(stride, "stride", "conv2d_transpose")
    dilation = _positive_pair(dilation, "dilation", "conv2d_transpose")
    ops_ = (None, None) if output_padding is None else _pair(output_padding, "output_padding", "conv2d_transpose")
    for a in (0, 1):
        if ops_[a] is not None and not 0 <= ops_[a] < max(stride[a], dilation[a]):
            raise ValueError(f"conv2d_transpose: output_padding must be at least 0 and smaller than the stride "
                             f"or the dilation, got output_padding={output_padding} for stride {stride}")
    geo = [transpose_geometry(x.shape[1 + a], w.shape[a], stride[a], padding, ops_[a], dilation[a]) for a in (0, 1)]
    if any(g[0] < 1 for g in geo):
        raise ValueError(f"conv2d_transpose: the output would be empty for input shape {x.shape}")
    return Conv2DTranspose.apply(x, w, *_bias(b, x, w.shape[2], "conv2d_transpose"), stride=stride,
                                 pads=geo[0][1:] + geo[1][1:], dilation=dilation, out_hw=(geo[0][0], geo[1][0]))


def conv1d_transpose(x, w, b=None, stride=1, padding="valid", dilation=1, output_padding=None):
    """x [N, L, C_in], w [k, F, C_in] -> [N, L', F]: conv2d_transpose over a height of 1."""
    x, w = as_tensor(x), as_tensor(w)
    stride, dilation = _as_1d_args(x, w, stride, dilation, "conv1d_transpose")
    if output_padding is not None and not isinstance(output_padding, int):
        (output_padding,) = tuple(output_padding)
    n, length, c = x.shape
    y = conv2d_transpose(reshape(x, (n, 1, length, c)), reshape(w, (1,) + w.shape), b, stride=(1, stride),
                         padding=padding, dilation=(1, dilation),
                         output_padding=None if output_padding is None else (0, output_padding))
    return reshape(y, (n, y.shape[2], y.shape[3]))


def depthwise_conv2d(x, w, b=None, stride=1, padding="valid", dilation=1):
    """Each input channel convolved with its own filters: w [kh, kw, C, M] -> C * M output channels,
    channel c * M + m from input channel c and w[..., c, m] (a grouped conv2d with groups = C)."""
    x, w = as_tensor(x), as_tensor(w)
    if w.ndim != 4:
        raise ValueError(f"depthwise_conv2d: weight must be 4-D [kh, kw, C, M], got shape {w.shape}")
    kh, kw, c, m = w.shape
    return conv2d(x, reshape(w, (kh, kw, 1, c * m)), b, stride, padding, dilation, groups=c)


def depthwise_conv1d(x, w, b=None, stride=1, padding="valid", dilation=1):
    """w [k, C, M] -> C * M output channels (a grouped conv1d with groups = C)."""
    x, w = as_tensor(x), as_tensor(w)
    if w.ndim != 3:
        raise ValueError(f"depthwise_conv1d: weight must be 3-D [k, C, M], got shape {w.shape}")
    k, c, m = w.shape
    return conv1d(x, reshape(w, (k, 1, c * m)), b, stride, padding, dilation, groups=c)


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
