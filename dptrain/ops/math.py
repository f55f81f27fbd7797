"""`keras.ops` math: top_k, logsumexp, erf, rsqrt, segment sums, sequence frames."""
from __future__ import annotations

import math as _math

import numpy as np

from engine import ops as E

from ._base import (floatx, from_host, host, host_elementwise, is_float, normalize_axes, positions, remap,
                    stop_gradient, tensor_of, to_tensor)
from . import numpy as _np_ops

__all__ = ["erf", "erfinv", "extract_sequences", "in_top_k", "logsumexp", "rsqrt", "segment_sum", "top_k"]


def _float(x):
    x = to_tensor(x)
    return tensor_of(x, x.dtype if is_float(x.dtype) else floatx())


def top_k(x, k, sorted=True):
    """The k largest values along the last axis and their indices (int32): values are a
    gather of x (they carry its gradient); ties go to the lower index."""
    x = to_tensor(x)
    k = int(k)
    if not 0 < k <= x.shape[-1]:
        raise ValueError(f"top_k: k={k} is out of range for a last axis of size {x.shape[-1]}")
    a = host(x)
    order = np.argsort(-a if is_float(a.dtype) else -a.astype(np.int64), axis=-1, kind="stable")[..., :k]
    if not sorted:
        order = np.sort(order, axis=-1)
    return _np_ops.take_along_axis(x, order, axis=-1), from_host(order.astype(np.int32))


def in_top_k(targets, predictions, k):
    """Whether each target class is among the k largest predictions of its row (bool)."""
    p, t = host(predictions), host(targets).astype(np.int64).reshape(-1)
    mine = np.take_along_axis(p, t[:, None], axis=-1)
    better = (p > mine).sum(axis=-1)
    return from_host(better < int(k))


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over `axis`, shifted by the (constant) max so it never overflows;
    -inf where every element is -inf, inf where one is inf."""
    x = _float(x)
    axes = normalize_axes(axis, x.ndim, "logsumexp")
    big = float(np.finfo(x.dtype).max)
    m = E.clamp(stop_gradient(E.max(x, axes, True)), -big, big)
    out = E.add(E.log(E.sum(E.exp(E.sub(x, m)), axes, True)), m)
    if not keepdims:
        out = E.reshape(out, tuple(s for i, s in enumerate(x.shape) if i not in axes))
    return out


def _scipy_special():
    try:
        from scipy import special
        return special
    except ImportError:
        return None


def _erf_values(a):
    special = _scipy_special()
    if special is not None:
        return special.erf(a)
    return np.frompyfunc(_math.erf, 1, 1)(a).astype(a.dtype)


_TWO_OVER_SQRT_PI = 2.0 / _math.sqrt(_math.pi)


def erf(x):
    """The error function (computed on the host), gradient 2/sqrt(pi) exp(-x^2)."""
    x = _float(x)
    return host_elementwise([x], x.dtype, _erf_values, [lambda a, y: _TWO_OVER_SQRT_PI * np.exp(-a * a)])


def erfinv(x):
    """The inverse error function (scipy's), gradient sqrt(pi)/2 exp(erfinv(x)^2)."""
    special = _scipy_special()
    if special is None:
        raise NotImplementedError("ops.erfinv: needs scipy, which is not installed")
    x = _float(x)
    return host_elementwise([x], x.dtype, special.erfinv, [lambda a, y: np.exp(y * y) / _TWO_OVER_SQRT_PI])


def rsqrt(x):
    return E.div(1.0, E.sqrt(_float(x)))


def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    """Sums of the rows of `data` that share a segment id: a one-hot [segments, rows] matrix
    times the rows, so the gradient reaches every row. Ids outside [0, num_segments) drop."""
    x = to_tensor(data)
    ids = host(segment_ids).astype(np.int64).reshape(-1)
    if ids.shape[0] != x.shape[0]:
        raise ValueError(f"segment_sum: {ids.shape[0]} segment ids for {x.shape[0]} rows of data")
    n = int(num_segments) if num_segments is not None else (int(ids.max()) + 1 if ids.size else 0)
    if not is_float(x.dtype):
        out = np.zeros((n,) + x.shape[1:], x.dtype)
        keep = (ids >= 0) & (ids < n)
        np.add.at(out, ids[keep], host(x)[keep])
        return from_host(out)
    onehot = (np.arange(n)[:, None] == ids[None, :]).astype(x.dtype)
    rows = E.reshape(x, (x.shape[0], -1))
    return E.reshape(E.matmul(from_host(onehot), rows), (n,) + x.shape[1:])


def extract_sequences(x, sequence_length, sequence_stride):
    """Frames of `sequence_length` taken every `sequence_stride` along the last axis:
    [..., n] -> [..., frames, sequence_length] (a gather)."""
    x = to_tensor(x)
    n, length, stride = x.shape[-1], int(sequence_length), int(sequence_stride)
    frames = 1 + (n - length) // stride
    if frames < 1:
        raise ValueError(f"extract_sequences: sequence_length {length} is longer than the last axis ({n})")
    cols = np.arange(frames)[:, None] * stride + np.arange(length)[None, :]
    idx = positions(x.shape)[..., cols]
    return remap(x, idx)


def erfc(x):
    """1 - erf(x), exact also where it is tiny (scipy's erfc), gradient -2/sqrt(pi) exp(-x^2)."""
    special = _scipy_special()
    x = _float(x)
    fn = special.erfc if special is not None else (lambda a: np.frompyfunc(_math.erfc, 1, 1)(a).astype(a.dtype))
    return host_elementwise([x], x.dtype, fn, [lambda a, y: -_TWO_OVER_SQRT_PI * np.exp(-a * a)])


__all__ += ["erfc"]
