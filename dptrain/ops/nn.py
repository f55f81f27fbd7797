"""`keras.ops.nn`: activations, softmax, one-hot, cross-entropies, normalisation statistics,
convolution, pooling and attention over dptrain Tensors, as Keras 3 computes them on torch.

Activations are composed so that their gradients at the kinks are torch's (e.g. leaky_relu
has slope `negative_slope` at 0, relu6 has gradient 0 at 0 and at 6).
"""
from __future__ import annotations

import math as _math

import numpy as np

from engine import ops as E
from engine.ops.conv import same_pads

from ._base import (EPSILON, choose, floatx, from_host, host, is_float, normalize_axes, normalize_axis,
                    not_implemented, positions, remap, result_type, tensor_of, to_tensor)
from . import numpy as _np_ops

__all__ = [
    "adaptive_average_pool", "adaptive_max_pool", "average_pool", "batch_normalization", "binary_crossentropy",
    "categorical_crossentropy", "celu", "conv", "conv_transpose", "ctc_decode", "ctc_loss", "depth_to_space",
    "depthwise_conv", "dot_product_attention", "elu", "fold", "gelu", "glu", "hard_shrink", "hard_sigmoid",
    "hard_silu", "hard_swish", "hard_tanh", "layer_normalization", "leaky_relu", "log_sigmoid", "log_softmax",
    "max_pool", "moments", "multi_hot", "normalize", "one_hot", "polar", "psnr", "relu", "relu6",
    "rms_normalization", "selu", "separable_conv", "sigmoid", "silu", "soft_shrink", "softmax", "softplus",
    "softsign", "space_to_depth", "sparse_categorical_crossentropy", "sparse_plus", "sparse_sigmoid", "sparsemax",
    "squareplus", "swish", "tanh_shrink", "threshold", "unfold",
]


def _float(x):
    x = to_tensor(x)
    return tensor_of(x, x.dtype if is_float(x.dtype) else floatx())


def _min0(x):
    """min(x, 0) = x - relu(x), whose gradient is 1 for x <= 0 (torch's side at the kink)."""
    return E.sub(x, E.relu(x))


# --- activations ----------------------------------------------------------------------------
def relu(x):
    x = to_tensor(x)
    if not is_float(x.dtype):
        return from_host(np.maximum(host(x), 0).astype(x.dtype))
    return E.relu(x)


def relu6(x):
    """min(max(x, 0), 6); gradient 1 strictly inside (0, 6)."""
    x = _float(x)
    return E.sub(6.0, E.relu(E.sub(6.0, E.relu(x))))


def sigmoid(x):
    return E.sigmoid(_float(x))


def silu(x):
    return E.silu(_float(x))


swish = silu


def gelu(x, approximate=True):
    return E.gelu(_float(x), approximate=bool(approximate))


def softplus(x):
    """log(1 + exp(x)) = relu(x) + log(1 + exp(-|x|)), without overflow."""
    x = _float(x)
    return E.add(E.relu(x), E.log(E.add(E.exp(E.neg(E.abs(x))), 1.0)))


def log_sigmoid(x):
    return E.neg(softplus(E.neg(_float(x))))


def softsign(x):
    x = _float(x)
    return E.div(x, E.add(E.abs(x), 1.0))


def leaky_relu(x, negative_slope=0.2):
    x = _float(x)
    return E.add(E.relu(x), E.mul(_min0(x), float(negative_slope)))


def hard_sigmoid(x):
    """relu6(x + 3) / 6."""
    return E.mul(relu6(E.add(_float(x), 3.0)), 1.0 / 6.0)


def hard_silu(x):
    x = _float(x)
    return E.mul(x, hard_sigmoid(x))


hard_swish = hard_silu


def elu(x, alpha=1.0):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    x = _float(x)
    return E.add(E.relu(x), E.mul(E.sub(E.exp(_min0(x)), 1.0), float(alpha)))


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def selu(x):
    return E.mul(elu(x, _SELU_ALPHA), _SELU_SCALE)


def celu(x, alpha=1.0):
    x = _float(x)
    a = float(alpha)
    return E.add(E.relu(x), E.mul(E.sub(E.exp(E.mul(_min0(x), 1.0 / a)), 1.0), a))


def glu(x, axis=-1):
    """a * sigmoid(b), a and b the two halves of x along `axis`."""
    a, b = _np_ops.split(_float(x), 2, axis=axis)
    return E.mul(a, E.sigmoid(b))


def hard_tanh(x):
    """clip(x, -1, 1); gradient 1 strictly inside (-1, 1)."""
    x = _float(x)
    lower = E.sub(E.relu(E.add(x, 1.0)), 1.0)          # max(x, -1)
    return E.sub(1.0, E.relu(E.sub(1.0, lower)))        # min(., 1)


def tanh_shrink(x):
    x = _float(x)
    return E.sub(x, E.tanh(x))


def soft_shrink(x, threshold=0.5):
    """x - clip(x, -t, t): 0 inside [-t, t], shrunk towards 0 by t outside."""
    x = _float(x)
    t = float(threshold)
    return E.sub(x, E.clamp(x, -t, t))


def hard_shrink(x, threshold=0.5):
    x = _float(x)
    return _np_ops.where(np.abs(host(x)) > float(threshold), x, 0.0)


def threshold(x, threshold, default_value):
    x = _float(x)
    return _np_ops.where(host(x) > float(threshold), x, float(default_value))


def squareplus(x, b=4):
    x = _float(x)
    return E.mul(E.add(x, E.sqrt(E.add(E.mul(x, x), float(b)))), 0.5)


def sparse_plus(x):
    """0 for x <= -1, (x + 1)^2 / 4 for -1 < x < 1, x for x >= 1."""
    x = _float(x)
    a = host(x)
    sq = E.mul(E.mul(E.add(x, 1.0), E.add(x, 1.0)), 0.25)
    return choose(np.where(a <= -1, 0, np.where(a < 1, 1, 2)), [0.0, sq, x], x.shape)


def sparse_sigmoid(x):
    """0 for x <= -1, (x + 1) / 2 for -1 < x < 1, 1 for x >= 1."""
    x = _float(x)
    a = host(x)
    mid = E.mul(E.add(x, 1.0), 0.5)
    return choose(np.where(a <= -1, 0, np.where(a >= 1, 2, 1)), [0.0, mid, 1.0], x.shape)


def _over_axes(x, axis, fn):
    """fn(x, axis) for an int axis, or over several axes (moved last and flattened)."""
    if axis is None:
        return E.reshape(fn(E.reshape(x, (-1,)), 0), x.shape)
    if isinstance(axis, (int, np.integer)):
        return fn(x, normalize_axis(axis, x.ndim, "softmax"))
    axes = normalize_axes(axis, x.ndim, "softmax")
    rest = [a for a in range(x.ndim) if a not in axes]
    t = E.transpose(x, rest + list(axes))
    moved = t.shape
    y = fn(E.reshape(t, tuple(x.shape[a] for a in rest) + (-1,)), -1)
    return E.transpose(E.reshape(y, moved), list(np.argsort(rest + list(axes))))


def softmax(x, axis=-1):
    return _over_axes(_float(x), axis, E.softmax)


def log_softmax(x, axis=-1):
    return _over_axes(_float(x), axis, E.log_softmax)


def sparsemax(x, axis=-1):
    """Euclidean projection of x onto the simplex (Martins & Astudillo), along `axis`."""
    x = _float(x)
    ax = normalize_axis(axis, x.ndim, "sparsemax")
    z = _np_ops.moveaxis(x, ax, -1)
    s = host(z)
    srt = -np.sort(-s, axis=-1)
    k = np.arange(1, s.shape[-1] + 1)
    support = 1 + k * srt > np.cumsum(srt, axis=-1)
    k_z = support.sum(axis=-1, keepdims=True)
    # tau = (sum of the k_z largest - 1) / k_z, differentiable through the chosen elements
    mask = s >= np.take_along_axis(srt, k_z - 1, axis=-1)
    top = E.sum(E.mul(z, from_host(mask.astype(s.dtype))), (-1 % z.ndim,), True)
    tau = E.div(E.sub(top, 1.0), from_host(k_z.astype(s.dtype)))
    return _np_ops.moveaxis(E.relu(E.sub(z, tau)), -1, ax)


# --- one-hot ------------------------------------------------------------------------------------
def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """Integer labels -> one-hot vectors on a new `axis`; negative labels give all zeros."""
    if sparse:
        raise NotImplementedError("one_hot: sparse=True is not supported by dptrain")
    labels = host(x).astype(np.int64)
    n = int(num_classes)
    if labels.size and labels.max() >= n:
        raise ValueError(f"one_hot: label {int(labels.max())} is out of range for num_classes={n}")
    out = (labels[..., None] == np.arange(n)).astype(_dtype_or_floatx(dtype))
    if axis != -1 and axis != out.ndim - 1:
        out = np.moveaxis(out, -1, axis)
    return from_host(np.ascontiguousarray(out))


def _dtype_or_floatx(dtype):
    return np.dtype(dtype) if dtype is not None else floatx()


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """1 for every class that occurs in a row of integer labels (rows: the first axis)."""
    if num_classes is None:
        num_classes = kwargs.pop("num_tokens", None)
    if kwargs or num_classes is None:
        raise ValueError("multi_hot: give num_classes")
    labels = host(inputs)
    oh = host(one_hot(labels, num_classes, axis=axis, dtype=dtype, sparse=sparse))
    return from_host(oh.max(axis=1 if labels.ndim > 1 else 0))


# --- losses (per sample, no reduction) -------------------------------------------------------------
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """-sum(target * log(p)) along `axis`; p = softmax(output) with from_logits, else output
    rescaled to sum to 1 and clipped to [eps, 1 - eps]."""
    t, o = _float(target), _float(output)
    if t.shape != o.shape:
        raise ValueError(f"categorical_crossentropy: target shape {t.shape} and output shape {o.shape} must match")
    if o.ndim < 1:
        raise ValueError("categorical_crossentropy: target and output must be at least rank 1")
    ax = normalize_axis(axis, o.ndim, "categorical_crossentropy")
    logp = _log_probs(o, ax, from_logits)
    return E.neg(E.sum(E.mul(tensor_of(t, logp.dtype), logp), (ax,), False))


def _log_probs(o, ax, from_logits):
    if from_logits:
        return E.log_softmax(o, ax)
    p = E.div(o, E.sum(o, (ax,), True))
    return E.log(E.clamp(p, EPSILON, 1.0 - EPSILON))


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """-log(p[target]) with integer targets; p as in categorical_crossentropy."""
    o = _float(output)
    if o.ndim < 1:
        raise ValueError("sparse_categorical_crossentropy: output must be at least rank 1")
    ax = normalize_axis(axis, o.ndim, "sparse_categorical_crossentropy")
    t = host(target)
    if t.dtype.kind == "f":
        t = t.astype(np.int64)
    if t.ndim == o.ndim and t.shape[ax] == 1:
        t = np.squeeze(t, axis=ax)
    want = o.shape[:ax] + o.shape[ax + 1:]
    if t.shape != want:
        raise ValueError(f"sparse_categorical_crossentropy: target shape {t.shape} must be the output shape "
                         f"{o.shape} without its class axis, {want}")
    n = o.shape[ax]
    if t.size and (t.min() < 0 or t.max() >= n):
        bad = int(t.min()) if t.min() < 0 else int(t.max())
        raise IndexError(f"sparse_categorical_crossentropy: target {bad} is out of range for {n} classes")
    logp = _log_probs(o, ax, from_logits)
    picked = _np_ops.take_along_axis(logp, np.expand_dims(t, ax), axis=ax)
    return E.neg(E.reshape(picked, want))


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise -(t log p + (1 - t) log(1 - p)); p clipped to [eps, 1 - eps], or the
    stable logits form relu(x) - x t + log(1 + exp(-|x|))."""
    t, o = _float(target), _float(output)
    if t.shape != o.shape:
        raise ValueError(f"binary_crossentropy: target shape {t.shape} and output shape {o.shape} must match")
    t = tensor_of(t, o.dtype)
    if from_logits:
        return E.add(E.sub(E.relu(o), E.mul(o, t)), E.log(E.add(E.exp(E.neg(E.abs(o))), 1.0)))
    p = E.clamp(o, EPSILON, 1.0 - EPSILON)
    return E.neg(E.add(E.mul(t, E.log(p)), E.mul(E.sub(1.0, t), E.log(E.sub(1.0, p)))))


# --- normalisation ------------------------------------------------------------------------------------
def moments(x, axes, keepdims=False, synchronized=False):
    """(mean, variance) over `axes`, the variance as E[x^2] - E[x]^2 (Keras' formula)."""
    if synchronized:
        raise NotImplementedError("moments: synchronized=True is not supported by dptrain")
    x = _float(x)
    ax = normalize_axes(axes, x.ndim, "moments")
    m = E.mean(x, ax, True)
    v = E.sub(E.mean(E.mul(x, x), ax, True), E.mul(m, m))
    if not keepdims:
        shape = tuple(s for i, s in enumerate(x.shape) if i not in ax)
        m, v = E.reshape(m, shape), E.reshape(v, shape)
    return m, v


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """(x - mean) / sqrt(variance + epsilon) * scale + offset, the statistics given per `axis`."""
    x = _float(x)
    ax = normalize_axis(axis, x.ndim, "batch_normalization")
    shape = tuple(x.shape[ax] if i == ax else 1 for i in range(x.ndim))

    def per_axis(v):
        return E.reshape(tensor_of(v, x.dtype), shape)
    inv = E.div(1.0, E.sqrt(E.add(per_axis(variance), float(epsilon))))
    if scale is not None:
        inv = E.mul(inv, per_axis(scale))
    y = E.mul(E.sub(x, per_axis(mean)), inv)
    return y if offset is None else E.add(y, per_axis(offset))


def normalize(x, axis=-1, order=2, epsilon=None):
    """x / norm(x) along `axis` (order 2: x * min(rsqrt(sum x^2), 1 / epsilon))."""
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"normalize: order must be an int >= 1, got {order!r}")
    x = _float(x)
    if x.ndim == 0:
        x = E.reshape(x, (1,))
    eps = EPSILON if epsilon is None else float(epsilon)
    axes = normalize_axes(axis, x.ndim, "normalize")
    if order == 2:
        inv = E.div(1.0, E.sqrt(E.sum(E.mul(x, x), axes, True)))
        return E.mul(x, _np_ops.minimum(inv, 1.0 / eps))
    from .linalg import norm
    return E.div(x, _np_ops.maximum(norm(x, ord=order, axis=axis, keepdims=True), eps))


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    """(x - mean) / sqrt(var + epsilon) * gamma + beta over `axis` (biased variance); with
    rms_scaling=True: x / sqrt(var + epsilon) * gamma."""
    rms_scaling = kwargs.pop("rms_scaling", False)
    if kwargs:
        raise TypeError(f"layer_normalization: unexpected arguments {sorted(kwargs)}")
    x = _float(x)
    eps = EPSILON if epsilon is None else float(epsilon)
    axes = normalize_axes(axis, x.ndim, "layer_normalization")
    shape = tuple(s if i in axes else 1 for i, s in enumerate(x.shape))

    def param(v):
        return None if v is None else E.reshape(tensor_of(v, x.dtype), shape)
    g, b = param(gamma), param(beta)
    if axes == (x.ndim - 1,) and not rms_scaling:       # the fused primitive
        return E.layer_norm(x, None if g is None else E.reshape(g, (-1,)), None if b is None else E.reshape(b, (-1,)),
                            eps)
    if rms_scaling:
        y = E.div(x, E.sqrt(E.add(_np_ops.var(x, axes, True), eps)))
        return y if g is None else E.mul(y, g)
    m = E.mean(x, axes, True)
    y = E.div(E.sub(x, m), E.sqrt(E.add(_np_ops.var(x, axes, True), eps)))
    y = y if g is None else E.mul(y, g)
    return y if b is None else E.add(y, b)


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """x / sqrt(mean(x^2) + epsilon) * scale over `axis`."""
    x = _float(x)
    eps = EPSILON if epsilon is None else float(epsilon)
    axes = normalize_axes(axis, x.ndim, "rms_normalization")
    y = E.div(x, E.sqrt(E.add(E.mean(E.mul(x, x), axes, True), eps)))
    return y if scale is None else E.mul(y, tensor_of(scale, x.dtype))


def psnr(x1, x2, max_val):
    a, b = _float(x1), _float(x2)
    if a.shape != b.shape:
        raise ValueError(f"psnr: input shapes {a.shape} and {b.shape} must match")
    d = E.sub(a, b)
    mse = E.mean(E.mul(d, d))
    return E.sub(20.0 * _math.log10(float(host(max_val))), E.mul(E.log(mse), 10.0 / _math.log(10.0)))


# --- convolution and pooling --------------------------------------------------------------------------------
def _data_format(data_format):
    fmt = "channels_last" if data_format is None else str(data_format).lower()
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return fmt


def _tuple(v, n, name, who):
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    v = tuple(int(i) for i in v)
    if len(v) != n:
        raise ValueError(f"{who}: {name} must be an int or a tuple of {n} ints, got {v}")
    return v


def _spatial_rank(x, who):
    r = x.ndim - 2
    if r == 3:
        raise NotImplementedError(f"ops.{who}: 3-D inputs (rank 5) are not supported by dptrain")
    if r not in (1, 2):
        raise ValueError(f"ops.{who}: inputs must have rank 3 or 4 (1-D or 2-D), got shape {x.shape}")
    return r


def _to_last(x, fmt):
    return x if fmt == "channels_last" else E.transpose(x, (0,) + tuple(range(2, x.ndim)) + (1,))


def _from_last(x, fmt):
    return x if fmt == "channels_last" else E.transpose(x, (0, x.ndim - 1) + tuple(range(1, x.ndim - 1)))


def _as_2d(x, rank):
    """[N, L, C] -> [N, 1, L, C] so that 1-D work runs through the 2-D kernels."""
    return x if rank == 2 else E.reshape(x, (x.shape[0], 1) + x.shape[1:])


def _dilate_kernel(w, rates):
    """The kernel with rate - 1 zeros between its taps (a gather), so that a plain
    convolution with it is the dilated convolution."""
    if all(r == 1 for r in rates):
        return w
    spatial = w.shape[:-2]
    big = tuple((k - 1) * r + 1 for k, r in zip(spatial, rates))
    idx = np.full(big + w.shape[-2:], -1, np.int64)
    idx[tuple(slice(None, None, r) for r in rates)] = positions(w.shape)
    return remap(w, idx, 0)


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution (1-D and 2-D): kernel [*spatial, C_in / groups, C_out]; groups when
    C_in is a multiple of the kernel's input channels; 'same' pads as Keras (extra at the end)."""
    x, w = _float(inputs), _float(kernel)
    fmt = _data_format(data_format)
    rank = _spatial_rank(x, "conv")
    if w.ndim != rank + 2:
        raise ValueError(f"conv: kernel must have rank {rank + 2} for inputs of shape {x.shape}, got {w.shape}")
    strides = _tuple(strides, rank, "strides", "conv")
    rates = _tuple(dilation_rate, rank, "dilation_rate", "conv")
    if padding not in ("valid", "same"):
        raise ValueError(f"conv: padding must be 'valid' or 'same', got {padding!r}")
    x = _to_last(x, fmt)
    cin, kin, cout = x.shape[-1], w.shape[-2], w.shape[-1]
    if cin % kin:
        raise ValueError(f"conv: input channels ({cin}) must be a multiple of the kernel's input channels ({kin})")
    groups = cin // kin
    if cout % groups:
        raise ValueError(f"conv: output channels ({cout}) must be a multiple of the groups ({groups})")
    w = _dilate_kernel(w, rates)
    x2, w2 = _as_2d(x, rank), (w if rank == 2 else E.reshape(w, (1,) + w.shape))
    s2 = strides if rank == 2 else (1,) + strides
    outs = []
    per = cout // groups
    for g in range(groups):
        xg = x2 if groups == 1 else E.getitem(x2, (Ellipsis, slice(g * kin, (g + 1) * kin)))
        wg = w2 if groups == 1 else E.getitem(w2, (Ellipsis, slice(g * per, (g + 1) * per)))
        outs.append(E.conv2d(xg, wg, stride=s2, padding=padding))
    y = outs[0] if groups == 1 else E.concat(outs, axis=-1)
    if rank == 1:
        y = E.reshape(y, (y.shape[0],) + y.shape[2:])
    return _from_last(y, fmt)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """Each input channel convolved with its own `depth_multiplier` filters:
    kernel [*spatial, C_in, M] -> C_in * M output channels."""
    w = _float(kernel)
    w = E.reshape(w, w.shape[:-2] + (1, w.shape[-2] * w.shape[-1]))
    return conv(inputs, w, strides, padding, data_format, dilation_rate)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    y = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(y, pointwise_kernel, 1, "valid", data_format, dilation_rate)


def _pool(inputs, pool_size, strides, padding, data_format, mode):
    x = _float(inputs)
    fmt = _data_format(data_format)
    rank = _spatial_rank(x, f"{mode}_pool")
    pool = _tuple(pool_size, rank, "pool_size", f"{mode}_pool")
    strides = pool if strides is None else _tuple(strides, rank, "strides", f"{mode}_pool")
    if padding not in ("valid", "same"):
        raise ValueError(f"{mode}_pool: padding must be 'valid' or 'same', got {padding!r}")
    x = _as_2d(_to_last(x, fmt), rank)
    p2, s2 = (pool, strides) if rank == 2 else ((1,) + pool, (1,) + strides)
    if mode == "max":
        y = E.max_pool2d(x, p2, s2, padding)
    else:
        y = _average_pool2d(x, p2, s2, padding)
    if rank == 1:
        y = E.reshape(y, (y.shape[0],) + y.shape[2:])
    return _from_last(y, fmt)


def _average_pool2d(x, pool, strides, padding):
    """As Keras on torch: 'same' split evenly leaves the padded cells out of the mean; an odd
    split pads by repeating the edge values, and those copies count."""
    if padding == "same":
        pads = [same_pads(n, k, s) for n, k, s in zip(x.shape[1:3], pool, strides)]
        if any(lo != hi for lo, hi in pads):
            edge = _np_ops.pad(x, [(0, 0), pads[0], pads[1], (0, 0)], mode="edge")
            return E.avg_pool2d(edge, pool, strides, "valid")
    return E.avg_pool2d(x, pool, strides, padding)


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _pool(inputs, pool_size, strides, padding, data_format, "max")


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _pool(inputs, pool_size, strides, padding, data_format, "average")


def depth_to_space(x, block_size, data_format="channels_last"):
    x = _float(x)
    b = int(block_size)
    if _data_format(data_format) == "channels_last":
        n, h, w, c = x.shape
        y = E.transpose(E.reshape(x, (n, h, w, b, b, c // (b * b))), (0, 1, 3, 2, 4, 5))
        return E.reshape(y, (n, h * b, w * b, c // (b * b)))
    n, c, h, w = x.shape
    y = E.transpose(E.reshape(x, (n, c // (b * b), b, b, h, w)), (0, 1, 4, 2, 5, 3))
    return E.reshape(y, (n, c // (b * b), h * b, w * b))


def space_to_depth(x, block_size, data_format="channels_last"):
    x = _float(x)
    b = int(block_size)
    if _data_format(data_format) == "channels_last":
        n, h, w, c = x.shape
        y = E.transpose(E.reshape(x, (n, h // b, b, w // b, b, c)), (0, 1, 3, 2, 4, 5))
        return E.reshape(y, (n, h // b, w // b, c * b * b))
    n, c, h, w = x.shape
    y = E.transpose(E.reshape(x, (n, c, h // b, b, w // b, b)), (0, 1, 3, 5, 2, 4))
    return E.reshape(y, (n, c * b * b, h // b, w // b))


# --- attention -----------------------------------------------------------------------------------------
def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False,
                          flash_attention=None, attn_logits_soft_cap=None):
    """softmax(q k^T * scale + bias, masked) v over [batch, seq, heads, head_dim] tensors; key
    and value may have fewer heads (grouped-query attention). `mask` (bool) keeps True."""
    if flash_attention:
        raise NotImplementedError("dot_product_attention: flash_attention=True is not supported by dptrain")
    if attn_logits_soft_cap is not None:
        raise NotImplementedError("dot_product_attention: attn_logits_soft_cap is not supported by dptrain")
    q, k, v = to_tensor(query), to_tensor(key), to_tensor(value)
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError(f"dot_product_attention: needs 4-D inputs [batch, seq, heads, dim], got {q.shape}, "
                         f"{k.shape}, {v.shape}")
    if bias is not None and mask is not None:
        raise ValueError("dot_product_attention: give bias or mask, not both")
    dt = result_type(q, k, v)
    dt = dt if is_float(dt) else floatx()
    q, k, v = tensor_of(q, dt), tensor_of(k, dt), tensor_of(v, dt)
    nq, nk = q.shape[2], k.shape[2]
    if nq != nk:
        if nk == 0 or nq % nk:
            raise ValueError(f"dot_product_attention: {nq} query heads are not a multiple of {nk} key heads")
        k, v = _np_ops.repeat(k, nq // nk, axis=2), _np_ops.repeat(v, nq // nk, axis=2)
    s = 1.0 / _math.sqrt(q.shape[-1]) if scale is None else float(scale)
    logits = E.mul(_np_ops.einsum("btnh,bsnh->bnts", q, k), s)
    if bias is not None:
        logits = E.add(logits, tensor_of(bias, dt))
    keep = None
    if mask is not None:
        keep = np.broadcast_to(host(mask).astype(bool), logits.shape)
    if is_causal:
        causal = np.tril(np.ones((q.shape[1], k.shape[1]), bool))
        keep = causal if keep is None else keep & causal
    if keep is not None:
        big = 65500.0 if dt == np.float16 else 3.38953e38
        logits = _np_ops.where(np.broadcast_to(keep, logits.shape), logits, -0.7 * big)
    weights = E.softmax(logits, 3)
    return _np_ops.einsum("bnts,bsnh->btnh", weights, v)


def adaptive_average_pool(inputs, output_size, data_format=None):
    """Means over the windows torch's adaptive pooling uses: output cell i of an axis of n
    averages input cells floor(i n / out) .. ceil((i + 1) n / out) - 1."""
    x = _float(inputs)
    fmt = _data_format(data_format)
    rank = _spatial_rank(x, "adaptive_average_pool")
    size = _tuple(output_size, rank, "output_size", "adaptive_average_pool")
    x = _to_last(x, fmt)
    for d, out in enumerate(size):
        n = x.shape[1 + d]
        weights = np.zeros((out, n), x.dtype)
        for i in range(out):
            lo, hi = (i * n) // out, -(-((i + 1) * n) // out)
            weights[i, lo:hi] = 1.0 / (hi - lo)
        moved = _np_ops.moveaxis(x, 1 + d, -1)
        x = _np_ops.moveaxis(E.matmul(moved, from_host(weights.T)), -1, 1 + d)
    return _from_last(x, fmt)


adaptive_max_pool = not_implemented("adaptive_max_pool", "adaptive max pooling is not supported by dptrain yet")
fold = not_implemented("fold", "fold (col2im) is not supported by dptrain yet")
unfold = not_implemented("unfold", "unfold (im2col) is not supported by dptrain yet")
polar = not_implemented("polar", "complex tensors are not supported by dptrain")
conv_transpose = not_implemented("conv_transpose", "transposed convolution is not supported by dptrain yet")
ctc_loss = not_implemented("ctc_loss", "the CTC loss is not supported by dptrain yet")
ctc_decode = not_implemented("ctc_decode", "CTC decoding is not supported by dptrain yet")
