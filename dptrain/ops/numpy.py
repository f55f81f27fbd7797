"""The numpy-like half of `keras.ops` (Keras' `keras.src.ops.numpy`), over dptrain Tensors and
numpy arrays.

Floating point results are composed from engine primitives (so they get gradients inside
`ag.grad_tape()` and run on the current device); integer and boolean results are computed by
numpy on the host and have no gradient, like every comparison, index and count. Argument names
and defaults are Keras'. Unlike Keras on torch, float64 inputs stay float64 everywhere.
"""
from __future__ import annotations

import builtins as _py
import math as _math
import string as _string

import numpy as np

from engine import ops as E
from engine.tensor import Tensor

from ._base import (choose, dtype_of, floatx, from_host, host, host_elementwise, is_float,
                    normalize_axes, normalize_axis, operand, positions, remap, result_type, standardize_dtype,
                    tensor_of, to_tensor)

__all__ = [
    "abs", "absolute", "add", "all", "allclose", "amax", "amin", "angle", "any", "append", "arange", "arccos",
    "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "argmax", "argmin", "argpartition", "argsort",
    "array", "array_split", "average", "bartlett", "bincount", "bitwise_and", "bitwise_invert",
    "bitwise_left_shift", "bitwise_not", "bitwise_or", "bitwise_right_shift", "bitwise_xor", "blackman",
    "broadcast_to", "cbrt", "ceil", "clip", "concatenate", "conj", "conjugate", "copy", "cos", "cosh",
    "count_nonzero", "cross", "cumprod", "cumsum", "deg2rad", "diag", "diagflat", "diagonal", "diff", "digitize",
    "divide", "divide_no_nan", "dot", "dsplit", "dstack", "einsum", "empty", "empty_like", "equal", "exp", "exp2",
    "expand_dims", "expm1", "eye", "fabs", "flip", "fliplr", "flipud", "floor", "floor_divide", "fmax", "fmin",
    "fmod", "full", "full_like", "gcd", "geomspace", "get_item", "greater", "greater_equal", "hamming", "hanning",
    "heaviside", "histogram", "hsplit", "hstack", "hypot", "identity", "imag", "inner", "isclose", "isfinite",
    "isin", "isinf", "isnan", "isneginf", "isposinf", "isreal", "kaiser", "kron", "lcm", "ldexp", "left_shift",
    "less", "less_equal", "linspace", "log", "log10", "log1p", "log2", "logaddexp", "logaddexp2", "logical_and",
    "logical_not", "logical_or", "logical_xor", "logspace", "matmul", "max", "maximum", "mean", "median",
    "meshgrid", "min", "minimum", "mod", "moveaxis", "multiply", "nan_to_num", "nanargmax", "nanargmin",
    "nancumprod", "nancumsum", "nanmax", "nanmean", "nanmin", "nanprod", "nanstd", "nansum", "nanvar", "ndim",
    "negative", "nextafter", "nonzero", "not_equal", "ones", "ones_like", "outer", "pad", "percentile", "power",
    "prod", "ptp", "quantile", "rad2deg", "ravel", "real", "reciprocal", "repeat", "reshape", "right_shift", "roll",
    "rot90", "round", "saturate_cast", "searchsorted", "select", "sign", "signbit", "sin", "sinc", "sinh", "size",
    "sort", "split", "sqrt", "square", "squeeze", "stack", "std", "subtract", "sum", "swapaxes", "take",
    "take_along_axis", "tan", "tanh", "tensordot", "tile", "trace", "transpose", "trapezoid", "tri", "tril", "triu",
    "true_divide", "trunc", "unique", "unravel_index", "vander", "var", "vdot", "vsplit", "vstack", "where",
    "zeros", "zeros_like",
]


# --- helpers --------------------------------------------------------------------------------
def _float_dtype(x):
    """The float dtype a float-only function computes in: x's own, floatx for ints and bools."""
    dt = dtype_of(x)[0]
    return dt if dt.kind == "f" else floatx()


def _unary(x, fn, np_fn=None):
    """A float function of one tensor through an engine op (ints are cast to floatx first);
    with np_fn, ints and bools keep their dtype and go through numpy."""
    x = to_tensor(x)
    if np_fn is not None and not is_float(x.dtype):
        return from_host(np_fn(host(x)).astype(x.dtype, copy=False))
    return fn(tensor_of(x, _float_dtype(x)))


def _binary(x1, x2, fn, np_fn, dtype=None):
    """An elementwise binary op: floats through the engine op `fn`, ints/bools through numpy."""
    dt = np.dtype(dtype) if dtype is not None else result_type(x1, x2)
    if is_float(dt):
        a, b = operand(x1, dt), operand(x2, dt)
        if not isinstance(a, Tensor) and not isinstance(b, Tensor):
            a = tensor_of(a, dt)
        return fn(a, b)
    return from_host(np.asarray(np_fn(host(x1), host(x2))).astype(dt, copy=False))


def _host_only(x, fn, dtype=None):
    """A result without gradient (comparisons, indices, counts), computed by numpy."""
    out = np.asarray(fn(host(x)))
    return from_host(out if dtype is None else out.astype(dtype, copy=False))


def _shape_tuple(shape):
    if isinstance(shape, Tensor):
        shape = host(shape).tolist()
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def _along(ndim, axis, index):
    """A getitem key applying `index` on `axis` only."""
    return (slice(None),) * axis + (index,)


# --- arithmetic -------------------------------------------------------------------------------
def add(x1, x2):
    return _binary(x1, x2, E.add, np.add)


def subtract(x1, x2):
    return _binary(x1, x2, E.sub, np.subtract)


def multiply(x1, x2):
    return _binary(x1, x2, E.mul, np.multiply)


def divide(x1, x2):
    """True division: integers give floatx."""
    dt = result_type(x1, x2)
    if isinstance(x2, (int, float)) and not isinstance(x2, bool) and x2 == 0:
        x2 = np.asarray(0.0)        # a tensor divisor: x / 0 gives inf, as in Keras
    return _binary(x1, x2, E.div, np.true_divide, dt if is_float(dt) else floatx())


true_divide = divide


def power(x1, x2):
    return _binary(x1, x2, E.pow, np.power)


def negative(x):
    return _unary(x, E.neg, np.negative)


def abs(x):
    return _unary(x, E.abs, np.abs)


absolute = abs


def square(x):
    return _unary(x, lambda t: E.mul(t, t), np.square)


def sqrt(x):
    return _unary(x, E.sqrt)


def exp(x):
    return _unary(x, E.exp)


def exp2(x):
    return _unary(x, lambda t: E.exp(E.mul(t, _math.log(2.0))))


def log(x):
    return _unary(x, E.log)


def log2(x):
    return _unary(x, lambda t: E.div(E.log(t), _math.log(2.0)))


def log10(x):
    return _unary(x, lambda t: E.div(E.log(t), _math.log(10.0)))


def _elementwise_host(x, fn, dfn):
    x = to_tensor(x)
    return host_elementwise([x], _float_dtype(x), fn, [dfn])


def log1p(x):
    """log(1 + x), exact for small x (numpy's log1p), gradient 1 / (1 + x)."""
    return _elementwise_host(x, np.log1p, lambda a, y: 1.0 / (1.0 + a))


def expm1(x):
    """exp(x) - 1, exact for small x (numpy's expm1), gradient exp(x)."""
    return _elementwise_host(x, np.expm1, lambda a, y: y + 1.0)


def sin(x):
    return _elementwise_host(x, np.sin, lambda a, y: np.cos(a))


def cos(x):
    return _elementwise_host(x, np.cos, lambda a, y: -np.sin(a))


def tan(x):
    return _elementwise_host(x, np.tan, lambda a, y: 1.0 + y * y)


def arcsin(x):
    return _elementwise_host(x, np.arcsin, lambda a, y: 1.0 / np.sqrt(1.0 - a * a))


def arccos(x):
    return _elementwise_host(x, np.arccos, lambda a, y: -1.0 / np.sqrt(1.0 - a * a))


def arctan(x):
    return _elementwise_host(x, np.arctan, lambda a, y: 1.0 / (1.0 + a * a))


def sinh(x):
    return _elementwise_host(x, np.sinh, lambda a, y: np.cosh(a))


def cosh(x):
    return _elementwise_host(x, np.cosh, lambda a, y: np.sinh(a))


def tanh(x):
    return _unary(x, E.tanh)


def arcsinh(x):
    return _elementwise_host(x, np.arcsinh, lambda a, y: 1.0 / np.sqrt(a * a + 1.0))


def arccosh(x):
    return _elementwise_host(x, np.arccosh, lambda a, y: 1.0 / np.sqrt(a * a - 1.0))


def arctanh(x):
    return _elementwise_host(x, np.arctanh, lambda a, y: 1.0 / (1.0 - a * a))


def arctan2(x1, x2):
    dt = result_type(x1, x2)
    dt = dt if is_float(dt) else floatx()
    xs = [tensor_of(x1, dt), tensor_of(x2, dt)]
    return host_elementwise(xs, dt, np.arctan2, [lambda a, b, y: b / (a * a + b * b),
                                                 lambda a, b, y: -a / (a * a + b * b)])


def reciprocal(x):
    return _unary(x, lambda t: E.div(1.0, t))


def _no_grad_float(x, fn):
    """Piecewise-constant functions (floor, round, sign, ...): zero gradient, as torch; the
    result keeps a float dtype but leaves the tape."""
    x = to_tensor(x)
    return from_host(fn(host(x)).astype(x.dtype, copy=False))


def sign(x):
    return _no_grad_float(x, np.sign)


def floor(x):
    x = to_tensor(x)
    return from_host(np.floor(host(x)).astype(_float_dtype(x)))


def ceil(x):
    x = to_tensor(x)
    return from_host(np.ceil(host(x)).astype(_float_dtype(x)))


def trunc(x):
    return _no_grad_float(x, np.trunc)


def round(x, decimals=0):
    return _no_grad_float(x, lambda a: np.round(a, decimals))


def floor_divide(x1, x2):
    dt = result_type(x1, x2)
    return from_host(np.floor_divide(host(x1), host(x2)).astype(dt))


def mod(x1, x2):
    """x1 - floor(x1 / x2) * x2 (numpy's remainder); gradient 1 for x1, -floor(x1 / x2) for x2."""
    dt = result_type(x1, x2)
    if not is_float(dt):
        return from_host(np.mod(host(x1), host(x2)).astype(dt))
    xs = [tensor_of(x1, dt), tensor_of(x2, dt)]
    return host_elementwise(xs, dt, np.mod, [lambda a, b, y: np.ones_like(y),
                                             lambda a, b, y: -np.floor(a / b)])


def logaddexp(x1, x2):
    """log(exp(x1) + exp(x2)) without overflow: max + log(1 + exp(-|x1 - x2|))."""
    dt = result_type(x1, x2)
    dt = dt if is_float(dt) else floatx()
    a, b = tensor_of(x1, dt), tensor_of(x2, dt)
    return E.add(maximum(a, b), E.log(E.add(E.exp(E.neg(E.abs(E.sub(a, b)))), 1.0)))


def maximum(x1, x2):
    """Elementwise max; at ties the gradient is split in half between x1 and x2 (as torch)."""
    return _pick(x1, x2, np.greater, np.maximum)


def minimum(x1, x2):
    return _pick(x1, x2, np.less, np.minimum)


def _pick(x1, x2, wins, np_fn):
    dt = result_type(x1, x2)
    if not is_float(dt):
        return from_host(np_fn(host(x1), host(x2)).astype(dt))
    a, b = tensor_of(x1, dt), tensor_of(x2, dt)
    shape = np.broadcast_shapes(a.shape, b.shape)
    ha, hb = np.broadcast_to(host(a), shape), np.broadcast_to(host(b), shape)
    choice = np.where(np.isnan(ha), 0, np.where(np.isnan(hb), 1, np.where(wins(ha, hb), 0, 1)))
    ties = ha == hb
    if ties.any() and (a.requires_grad or b.requires_grad):
        half = E.mul(E.add(a, b), 0.5)      # equal values: their mean is exact, gradients 1/2 each
        return choose(np.where(ties, 2, choice), [a, b, half], shape)
    return choose(choice, [a, b], shape)


def clip(x, x_min, x_max):
    """Values limited to [x_min, x_max]; gradient 1 inside (bounds included, as torch), else 0."""
    x = to_tensor(x)
    dt = result_type(x, x_min, x_max)
    if not is_float(dt):
        return from_host(np.clip(host(x), host(x_min), host(x_max)).astype(dt))
    x = tensor_of(x, dt)
    numbers = _py.all(not isinstance(v, (Tensor, bool)) and np.ndim(v) == 0 for v in (x_min, x_max))
    if numbers:
        return E.clamp(x, float(x_min), float(x_max))
    return minimum(maximum(x, x_min), x_max)


def where(condition, x1=None, x2=None):
    """x1 where condition, else x2 (a gather: no arithmetic on the values). With only the
    condition: the indices of its true elements, one row per axis (int32)."""
    cond = host(condition).astype(bool)
    if x1 is None and x2 is None:
        return from_host(np.stack(np.nonzero(cond), axis=0).astype(np.int32))
    if x1 is None or x2 is None:
        raise ValueError("where: give both x1 and x2, or neither")
    dt = result_type(x1, x2)
    if not is_float(dt):
        return from_host(np.where(cond, host(x1), host(x2)).astype(dt))
    a, b = tensor_of(x1, dt), tensor_of(x2, dt)
    return choose(np.where(cond, 0, 1), [a, b], np.broadcast_shapes(cond.shape, a.shape, b.shape))


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    x = to_tensor(x)
    if not is_float(x.dtype):
        return x
    a = host(x)
    big = np.finfo(a.dtype).max
    fills = [nan, big if posinf is None else posinf, -big if neginf is None else neginf]
    choice = np.where(np.isnan(a), 1, np.where(a == np.inf, 2, np.where(a == -np.inf, 3, 0)))
    return choose(choice, [x] + [from_host(np.asarray(v, a.dtype)) for v in fills], a.shape)


# --- comparisons and logic (no gradient) --------------------------------------------------------
def _compare(x1, x2, fn):
    return from_host(np.asarray(fn(host(x1), host(x2))))


def equal(x1, x2):
    return _compare(x1, x2, np.equal)


def not_equal(x1, x2):
    return _compare(x1, x2, np.not_equal)


def greater(x1, x2):
    return _compare(x1, x2, np.greater)


def greater_equal(x1, x2):
    return _compare(x1, x2, np.greater_equal)


def less(x1, x2):
    return _compare(x1, x2, np.less)


def less_equal(x1, x2):
    return _compare(x1, x2, np.less_equal)


def logical_and(x1, x2):
    return _compare(x1, x2, np.logical_and)


def logical_or(x1, x2):
    return _compare(x1, x2, np.logical_or)


def logical_xor(x1, x2):
    return _compare(x1, x2, np.logical_xor)


def logical_not(x):
    return _host_only(x, np.logical_not)


def isnan(x):
    return _host_only(x, np.isnan)


def isinf(x):
    return _host_only(x, np.isinf)


def isfinite(x):
    return _host_only(x, np.isfinite)


def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return _compare(x1, x2, lambda a, b: np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def all(x, axis=None, keepdims=False):
    return _host_only(x, lambda a: np.all(a, axis=_np_axis(axis), keepdims=keepdims))


def any(x, axis=None, keepdims=False):
    return _host_only(x, lambda a: np.any(a, axis=_np_axis(axis), keepdims=keepdims))


def _np_axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def count_nonzero(x, axis=None):
    return _host_only(x, lambda a: np.count_nonzero(a, axis=_np_axis(axis)), np.int32)


def nonzero(x):
    """A tuple of int32 index tensors, one per axis."""
    return tuple(from_host(i.astype(np.int32)) for i in np.nonzero(host(x)))


# --- reductions ---------------------------------------------------------------------------------
def sum(x, axis=None, keepdims=False):
    x = to_tensor(x)
    if is_float(x.dtype):
        return E.sum(x, normalize_axes(axis, x.ndim, "sum"), keepdims)
    dt = np.dtype("int32") if x.dtype.kind == "b" else x.dtype
    return from_host(np.sum(host(x), axis=_np_axis(axis), keepdims=keepdims).astype(dt))


def mean(x, axis=None, keepdims=False):
    x = to_tensor(x)
    axes = normalize_axes(axis, x.ndim, "mean")
    return E.mean(tensor_of(x, _float_dtype(x)), axes, keepdims)


def _empty_reduction(x, keepdims, initial, who):
    if initial is None:
        raise ValueError(f"{who}: cannot compute the {who} of an empty tensor (shape {x.shape})")
    return full((1,) * x.ndim if keepdims else (), initial, x.dtype)


def max(x, axis=None, keepdims=False, initial=None):
    """Largest value; the gradient is split equally between tied maxima (as torch)."""
    x = to_tensor(x)
    if x.size == 0:
        return _empty_reduction(x, keepdims, initial, "max")
    axes = normalize_axes(axis, x.ndim, "max")
    if is_float(x.dtype):
        out = E.max(x, axes, keepdims)
    else:
        out = from_host(np.max(host(x), axis=axes, keepdims=keepdims))
    return out if initial is None else maximum(out, initial)


def min(x, axis=None, keepdims=False, initial=None):
    x = to_tensor(x)
    if x.size == 0:
        return _empty_reduction(x, keepdims, initial, "min")
    axes = normalize_axes(axis, x.ndim, "min")
    if is_float(x.dtype):
        out = E.neg(E.max(E.neg(x), axes, keepdims))
    else:
        out = from_host(np.min(host(x), axis=axes, keepdims=keepdims))
    return out if initial is None else minimum(out, initial)


amax, amin = max, min


def _moved_last(x, axes):
    """x with `axes` moved to the end and flattened into one: (tensor, kept shape)."""
    rest = [a for a in range(x.ndim) if a not in axes]
    t = E.transpose(x, rest + list(axes)) if list(rest) + list(axes) != list(range(x.ndim)) else x
    kept = tuple(x.shape[a] for a in rest)
    n = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    return E.reshape(t, kept + (n,)), kept


def prod(x, axis=None, keepdims=False, dtype=None):
    """Product of elements: pairwise halving, so the gradient is exact also where a factor is 0."""
    x = to_tensor(x)
    dt = standardize_dtype(dtype) or (np.dtype("int32") if x.dtype.kind == "b" else x.dtype)
    axes = normalize_axes(axis, x.ndim, "prod")
    if not is_float(dt):
        return from_host(np.prod(host(x), axis=axes, keepdims=keepdims).astype(dt))
    t, kept = _moved_last(tensor_of(x, dt), axes)
    while t.shape[-1] > 1:
        n = t.shape[-1]
        if n % 2:
            t = E.concat([t, from_host(np.ones(kept + (1,), dt))], axis=-1)
            n += 1
        t = E.mul(E.getitem(t, (Ellipsis, slice(0, n // 2))), E.getitem(t, (Ellipsis, slice(n // 2, n))))
    if t.shape[-1] == 0:
        t = from_host(np.ones(kept + (1,), dt))
    out_shape = tuple(1 if a in axes else s for a, s in enumerate(x.shape)) if keepdims else kept
    return E.reshape(t, out_shape)


def var(x, axis=None, keepdims=False):
    """Population variance (ddof 0): mean((x - mean(x))^2)."""
    x = to_tensor(x)
    x = tensor_of(x, _float_dtype(x))
    axes = normalize_axes(axis, x.ndim, "var")
    d = E.sub(x, E.mean(x, axes, True))
    return E.mean(E.mul(d, d), axes, keepdims)


def std(x, axis=None, keepdims=False):
    return E.sqrt(var(x, axis, keepdims))


def average(x, axis=None, weights=None):
    if weights is None:
        return mean(x, axis)
    x = to_tensor(x)
    dt = result_type(x, weights)
    dt = dt if is_float(dt) else floatx()
    x, w = tensor_of(x, dt), tensor_of(weights, dt)
    if axis is not None and w.ndim == 1 and x.ndim > 1:
        ax = normalize_axis(axis, x.ndim, "average")
        w = E.reshape(w, tuple(w.shape[0] if i == ax else 1 for i in range(x.ndim)))
        w = E.add(w, from_host(np.zeros(x.shape, dt)))
    elif w.shape != x.shape:
        w = E.add(w, from_host(np.zeros(x.shape, dt)))
    return E.div(sum(E.mul(x, w), axis), sum(w, axis))


def median(x, axis=None, keepdims=False):
    """The middle value (mean of the two middle ones for an even count), through sort."""
    x = to_tensor(x)
    x = tensor_of(x, _float_dtype(x))
    axes = normalize_axes(axis, x.ndim, "median")
    t, kept = _moved_last(x, axes)
    s = sort(t, axis=-1)
    n = s.shape[-1]
    mid = E.getitem(s, (Ellipsis, slice(n // 2, n // 2 + 1)))
    if n % 2 == 0:
        mid = E.mul(E.add(mid, E.getitem(s, (Ellipsis, slice(n // 2 - 1, n // 2)))), 0.5)
    shape = tuple(1 if a in axes else d for a, d in enumerate(x.shape)) if keepdims else kept
    return E.reshape(mid, shape)


def argmax(x, axis=None, keepdims=False):
    return _host_only(x, lambda a: np.argmax(a, axis=axis, keepdims=keepdims), np.int32)


def argmin(x, axis=None, keepdims=False):
    return _host_only(x, lambda a: np.argmin(a, axis=axis, keepdims=keepdims), np.int32)


def _scan(x, axis, op, identity):
    """Inclusive scan along `axis` by doubling steps (Hillis-Steele): log2(n) engine ops."""
    n, step = x.shape[axis], 1
    while step < n:
        pad_shape = tuple(step if i == axis else s for i, s in enumerate(x.shape))
        head = E.getitem(x, _along(x.ndim, axis, slice(0, n - step)))
        shifted = E.concat([from_host(np.full(pad_shape, identity, x.dtype)), head], axis=axis)
        x = op(x, shifted)
        step *= 2
    return x


def _cumulative(x, axis, dtype, op, np_fn, identity):
    x = to_tensor(x)
    if axis is None:
        x = reshape(x, (-1,))
        axis = 0
    dt = standardize_dtype(dtype) or x.dtype
    if dt.kind == "b":
        dt = np.dtype("int32")
    if not is_float(dt):
        return from_host(np_fn(host(x), axis=axis).astype(dt))
    return _scan(tensor_of(x, dt), normalize_axis(axis, x.ndim, "cumsum"), op, identity)


def cumsum(x, axis=None, dtype=None):
    return _cumulative(x, axis, dtype, E.add, np.cumsum, 0)


def cumprod(x, axis=None, dtype=None):
    return _cumulative(x, axis, dtype, E.mul, np.cumprod, 1)


# --- shapes and layout ----------------------------------------------------------------------------
def _layout(x, np_fn):
    """A layout op: numpy applied to the element positions, then one gather (ints: numpy)."""
    x = to_tensor(x)
    idx = np_fn(positions(x.shape))
    if not is_float(x.dtype):
        return from_host(host(x).reshape(-1)[idx])
    return remap(x, idx)


def reshape(x, newshape):
    x = to_tensor(x)
    newshape = _shape_tuple(newshape)
    if is_float(x.dtype):
        return E.reshape(x, newshape)
    return from_host(host(x).reshape(newshape))


def ravel(x):
    return reshape(x, (-1,))


def transpose(x, axes=None):
    x = to_tensor(x)
    if is_float(x.dtype):
        return E.transpose(x, None if axes is None else tuple(int(a) for a in axes))
    return from_host(np.transpose(host(x), axes))


def swapaxes(x, axis1, axis2):
    x = to_tensor(x)
    perm = list(range(x.ndim))
    a, b = normalize_axis(axis1, x.ndim, "swapaxes"), normalize_axis(axis2, x.ndim, "swapaxes")
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, perm)


def moveaxis(x, source, destination):
    x = to_tensor(x)
    src = [source] if isinstance(source, (int, np.integer)) else list(source)
    dst = [destination] if isinstance(destination, (int, np.integer)) else list(destination)
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: {len(src)} source axes but {len(dst)} destinations")
    src = [normalize_axis(a, x.ndim, "moveaxis") for a in src]
    dst = [normalize_axis(a, x.ndim, "moveaxis") for a in dst]
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def expand_dims(x, axis):
    x = to_tensor(x)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out_nd = x.ndim + len(axes)
    axes = sorted(normalize_axis(a, out_nd, "expand_dims") for a in axes)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return reshape(x, shape)


def squeeze(x, axis=None):
    x = to_tensor(x)
    if axis is None:
        axes = [i for i, s in enumerate(x.shape) if s == 1]
    else:
        axes = normalize_axes(axis, x.ndim, "squeeze")
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError(f"squeeze: cannot squeeze axis {a} of size {x.shape[a]} (shape {x.shape})")
    return reshape(x, [s for i, s in enumerate(x.shape) if i not in axes])


def broadcast_to(x, shape):
    x = to_tensor(x)
    shape = _shape_tuple(shape)
    if is_float(x.dtype):
        np.broadcast_shapes(x.shape, shape)
        return E.add(x, from_host(np.zeros(shape, x.dtype)))
    return from_host(np.broadcast_to(host(x), shape).copy())


def concatenate(xs, axis=0):
    xs = [to_tensor(x) for x in xs]
    dt = result_type(*xs)
    if axis is None:
        xs, axis = [reshape(x, (-1,)) for x in xs], 0
    if is_float(dt):
        return E.concat([tensor_of(x, dt) for x in xs], axis=int(axis))
    return from_host(np.concatenate([host(x) for x in xs], axis=axis).astype(dt))


def append(x1, x2, axis=None):
    return concatenate([x1, x2], axis=axis)


def stack(x, axis=0):
    xs = [to_tensor(t) for t in x]
    if not xs:
        raise ValueError("stack: needs at least one tensor")
    ax = normalize_axis(axis, xs[0].ndim + 1, "stack")
    return concatenate([expand_dims(t, ax) for t in xs], axis=ax)


def hstack(xs):
    xs = [to_tensor(x) for x in xs]
    return concatenate(xs, axis=0 if xs[0].ndim == 1 else 1)


def vstack(xs):
    return concatenate([x if to_tensor(x).ndim > 1 else reshape(x, (1, -1)) for x in xs], axis=0)


def split(x, indices_or_sections, axis=0):
    """A list of pieces along `axis`: `n` equal sections, or cut at the given indices."""
    x = to_tensor(x)
    ax = normalize_axis(axis, x.ndim, "split")
    n = x.shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0 or n % k:
            raise ValueError(f"split: axis {axis} of size {n} (shape {x.shape}) does not split into {k} equal "
                             f"sections")
        cuts = [i * (n // k) for i in range(1, k)]
    else:
        cuts = [int(c) for c in host(indices_or_sections).reshape(-1)]
    bounds = [0] + cuts + [n]
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        key = _along(x.ndim, ax, slice(lo, _py.max(lo, hi)))
        out.append(E.getitem(x, key) if is_float(x.dtype) else from_host(host(x)[key]))
    return out


def _wrap_indices(indices, n, who):
    idx = host(indices)
    if idx.dtype.kind == "f":
        if np.any(idx != np.round(idx)):
            raise TypeError(f"{who}: indices must be integers")
        idx = idx.astype(np.int64)
    elif idx.dtype.kind == "b":
        raise TypeError(f"{who}: indices must be integers, got booleans")
    idx = idx.astype(np.int64)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = int(idx.min()) if idx.min() < -n else int(idx.max())
        raise IndexError(f"{who}: index {bad} is out of bounds for an axis of size {n}")
    return np.where(idx < 0, idx + n, idx)


def take(x, indices, axis=None):
    """Elements (axis=None: of the flattened x) or slices along `axis` picked by integer indices;
    negative indices count from the end."""
    x = to_tensor(x)
    if axis is None:
        x, ax = reshape(x, (-1,)), 0
    else:
        ax = normalize_axis(axis, x.ndim, "take")
    idx = _wrap_indices(indices, x.shape[ax], "take")
    key = _along(x.ndim, ax, idx)
    return E.getitem(x, key) if is_float(x.dtype) else from_host(host(x)[key])


def take_along_axis(x, indices, axis=None):
    """numpy's take_along_axis (x and indices broadcast on the other axes)."""
    x = to_tensor(x)
    if axis is None:
        x, ax = reshape(x, (-1,)), 0
        idx = host(indices).reshape(-1)
    else:
        ax = normalize_axis(axis, x.ndim, "take_along_axis")
        idx = host(indices)
    idx = _wrap_indices(idx, x.shape[ax], "take_along_axis")
    if idx.ndim != x.ndim:
        raise ValueError(f"take_along_axis: indices of rank {idx.ndim} for x of rank {x.ndim}")
    shape_x = tuple(s if i == ax else _py.max(s, idx.shape[i]) for i, s in enumerate(x.shape))
    shape_i = tuple(idx.shape[i] if i == ax else shape_x[i] for i in range(x.ndim))
    pos = np.broadcast_to(positions(x.shape), shape_x)
    picked = np.take_along_axis(pos, np.broadcast_to(idx, shape_i), axis=ax)
    return remap(x, picked)


def tile(x, repeats):
    reps = _shape_tuple(repeats)
    return _layout(x, lambda p: np.tile(p, reps))


def repeat(x, repeats, axis=None):
    r = host(repeats) if isinstance(repeats, Tensor) else repeats
    return _layout(x, lambda p: np.repeat(p, r, axis=axis))


def flip(x, axis=None):
    return _layout(x, lambda p: np.flip(p, axis=_np_axis(axis)))


def fliplr(x):
    return flip(x, 1)


def flipud(x):
    return flip(x, 0)


def roll(x, shift, axis=None):
    return _layout(x, lambda p: np.roll(p, shift, axis=_np_axis(axis)))


_PAD_MODES = {"constant", "edge", "reflect", "symmetric", "wrap"}


def pad(x, pad_width, mode="constant", constant_values=None):
    """numpy's pad for the modes constant, edge, reflect, symmetric and wrap (a gather of x's
    elements, the constant where nothing is picked)."""
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"pad: mode={mode!r} is not supported (use one of {sorted(_PAD_MODES)})")
    if constant_values is not None and mode != "constant":
        raise ValueError(f"pad: constant_values can only be given with mode='constant', got mode={mode!r}")
    x = to_tensor(x)
    width = np.asarray(host(pad_width) if isinstance(pad_width, Tensor) else pad_width, dtype=np.int64)
    if mode == "constant":
        idx = np.pad(positions(x.shape), width, mode="constant", constant_values=-1)
        fill = 0 if constant_values is None else constant_values
        if not is_float(x.dtype):
            a = np.concatenate([host(x).reshape(-1), np.asarray([fill], x.dtype)])
            return from_host(a[np.where(idx < 0, a.size - 1, idx)])
        return remap(x, idx, fill)
    return _layout(x, lambda p: np.pad(p, width, mode=mode))


def _tri_mask(shape, k, lower):
    n, m = shape[-2], shape[-1]
    return np.tril(np.ones((n, m), bool), k) if lower else np.triu(np.ones((n, m), bool), k)


def tril(x, k=0):
    """Elements on and below the k-th diagonal of the last two axes, zeros elsewhere."""
    x = to_tensor(x)
    return where(np.broadcast_to(_tri_mask(x.shape, k, True), x.shape), x, zeros((), x.dtype))


def triu(x, k=0):
    x = to_tensor(x)
    return where(np.broadcast_to(_tri_mask(x.shape, k, False), x.shape), x, zeros((), x.dtype))


def diagonal(x, offset=0, axis1=0, axis2=1):
    return _layout(x, lambda p: np.diagonal(p, offset, axis1, axis2))


def diag(x, k=0):
    """The k-th diagonal of a matrix, or a matrix holding a vector on its k-th diagonal."""
    x = to_tensor(x)
    if x.ndim == 2:
        return diagonal(x, k)
    if x.ndim != 1:
        raise ValueError(f"diag: input must be 1-D or 2-D, got shape {x.shape}")
    n = x.shape[0] + _py.abs(k)
    idx = np.full((n, n), -1, np.int64)
    rows = np.arange(x.shape[0]) + _py.max(-k, 0)
    idx[rows, rows + k] = np.arange(x.shape[0])
    return remap(x, idx, 0)


def trace(x, offset=0, axis1=0, axis2=1):
    return sum(diagonal(x, offset, axis1, axis2), axis=-1)


def meshgrid(*x, indexing="xy"):
    xs = [to_tensor(v) for v in x]
    grids = np.meshgrid(*[positions(v.shape) for v in xs], indexing=indexing)
    return [remap(v, g) for v, g in zip(xs, grids)]


def copy(x):
    x = to_tensor(x)
    return E.add(x, 0.0) if is_float(x.dtype) else from_host(host(x).copy())


def size(x):
    return int(to_tensor(x).size)


def ndim(x):
    return to_tensor(x).ndim


# --- creation ---------------------------------------------------------------------------------------
def zeros(shape, dtype=None):
    return from_host(np.zeros(_shape_tuple(shape), standardize_dtype(dtype) or floatx()))


def ones(shape, dtype=None):
    return from_host(np.ones(_shape_tuple(shape), standardize_dtype(dtype) or floatx()))


def empty(shape, dtype=None):
    return zeros(shape, dtype)


def full(shape, fill_value, dtype=None):
    dt = standardize_dtype(dtype) or floatx()
    return from_host(np.full(_shape_tuple(shape), host(fill_value), dt))


def zeros_like(x, dtype=None):
    return zeros(to_tensor(x).shape, dtype or to_tensor(x).dtype)


def ones_like(x, dtype=None):
    return ones(to_tensor(x).shape, dtype or to_tensor(x).dtype)


def full_like(x, fill_value, dtype=None):
    return full(to_tensor(x).shape, fill_value, dtype or to_tensor(x).dtype)


def arange(start, stop=None, step=None, dtype=None):
    """numpy's arange; int32 for integer arguments, floatx for float ones (as Keras)."""
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    vals = [host(v).item() if isinstance(v, Tensor) else v for v in (start, stop, step)]
    dt = standardize_dtype(dtype) or result_type(*vals)
    return from_host(np.arange(*vals).astype(dt))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    dt = standardize_dtype(dtype) or floatx()
    out, step = np.linspace(host(start), host(stop), int(num), endpoint=endpoint, retstep=True, axis=axis)
    out = from_host(out.astype(dt))
    return (out, step) if retstep else out


def eye(N, M=None, k=0, dtype=None):
    return from_host(np.eye(int(N), None if M is None else int(M), int(k), standardize_dtype(dtype) or floatx()))


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None):
    return from_host(np.tri(int(N), None if M is None else int(M), int(k), standardize_dtype(dtype) or floatx()))


def array(x, dtype=None):
    from .core import convert_to_tensor
    return convert_to_tensor(x, dtype)


# --- linear algebra ---------------------------------------------------------------------------------
def matmul(x1, x2):
    dt = result_type(x1, x2)
    if not is_float(dt):
        return from_host(np.matmul(host(x1), host(x2)).astype(dt))
    return E.matmul(tensor_of(x1, dt), tensor_of(x2, dt))


_LETTERS = _string.ascii_letters


def _parse_einsum(subscripts, ranks):
    """Input letter lists and output letters, with '...' expanded into fresh letters."""
    s = subscripts.replace(" ", "")
    if "->" in s:
        lhs, rhs = s.split("->")
    else:
        lhs, rhs = s, None
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise ValueError(f"einsum: {subscripts!r} names {len(terms)} operands, {len(ranks)} were given")
    used = set(c for c in s if c.isalpha())
    fresh = [c for c in _LETTERS if c not in used]
    ell = 0
    for t, r in zip(terms, ranks):
        if "..." in t:
            ell = _py.max(ell, r - (len(t) - 3))
    ell_letters = fresh[:ell]
    out_terms = []
    for t, r in zip(terms, ranks):
        if "..." in t:
            k = r - (len(t) - 3)
            t = t.replace("...", "".join(ell_letters[ell - k:] if k else []))
        if len(t) != r or not _py.all(c.isalpha() for c in t):
            raise ValueError(f"einsum: subscripts {t!r} do not match an operand of rank {r}")
        out_terms.append(list(t))
    if rhs is None:
        counts = {}
        for t in out_terms:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        rhs = "".join(ell_letters) + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell_letters))
    else:
        rhs = rhs.replace("...", "".join(ell_letters))
    out = list(rhs)
    known = set(c for t in out_terms for c in t)
    for c in out:
        if c not in known:
            raise ValueError(f"einsum: output subscript {c!r} does not appear in the inputs")
    return out_terms, out


def _einsum_operand(t, letters, sizes):
    """One axis per distinct letter, broadcast to the common sizes (diagonals and size-1
    broadcasts through one gather; nothing to do in the common case)."""
    uniq = list(dict.fromkeys(letters))
    if len(uniq) == len(letters) and _py.all(t.shape[i] == sizes[c] for i, c in enumerate(letters)):
        return t, letters
    strides = [int(np.prod(t.shape[i + 1:], dtype=np.int64)) for i in range(t.ndim)]
    grids = np.meshgrid(*[np.arange(sizes[c]) for c in uniq], indexing="ij") if uniq else []
    idx = np.zeros(tuple(sizes[c] for c in uniq), np.int64)
    for axis, c in enumerate(letters):
        if t.shape[axis] != 1:
            idx = idx + grids[uniq.index(c)] * strides[axis]
    return remap(t, idx), uniq


def _contract(a, la, b, lb, keep):
    """a[la] * b[lb] summed over the letters not in `keep`: one batched matmul."""
    batch = [c for c in la if c in lb and c in keep]
    inner = [c for c in la if c in lb and c not in keep]
    left = [c for c in la if c not in lb]
    right = [c for c in lb if c not in la]
    size = dict(zip(la, a.shape))
    size.update(zip(lb, b.shape))
    n = lambda cs: int(np.prod([size[c] for c in cs], dtype=np.int64))  # noqa: E731
    a = E.transpose(a, [la.index(c) for c in batch + left + inner])
    b = E.transpose(b, [lb.index(c) for c in batch + inner + right])
    y = E.matmul(E.reshape(a, (n(batch), n(left), n(inner))), E.reshape(b, (n(batch), n(inner), n(right))))
    return E.reshape(y, tuple(size[c] for c in batch + left + right)), batch + left + right


def einsum(subscripts, *operands, **kwargs):
    """Einstein summation: any subscripts (with '...', repeated letters, implicit output),
    contracted pairwise left to right through transposes, reshapes and batched matmuls."""
    if kwargs:
        raise NotImplementedError(f"einsum: keyword arguments {sorted(kwargs)} are not supported")
    ts = [to_tensor(o) for o in operands]
    dt = result_type(*ts)
    if not is_float(dt):
        return from_host(np.einsum(subscripts, *[host(t) for t in ts]).astype(dt))
    ts = [tensor_of(t, dt) for t in ts]
    terms, out = _parse_einsum(subscripts, [t.ndim for t in ts])
    sizes = {}
    for t, letters in zip(ts, terms):
        for c, s in zip(letters, t.shape):
            if sizes.get(c, 1) != s and s != 1:
                if c in sizes and sizes[c] != 1:
                    raise ValueError(f"einsum: subscript {c!r} has sizes {sizes[c]} and {s} in {subscripts!r}")
            sizes[c] = _py.max(sizes.get(c, 1), s)
    items = [_einsum_operand(t, letters, sizes) for t, letters in zip(ts, terms)]

    def needed_after(k):
        return set(out) | set(c for _, letters in items[k + 1:] for c in letters)

    acc, la = items[0]
    acc, la = _sum_letters(acc, la, [c for c in la if c not in needed_after(0)])
    for k in range(1, len(items)):
        b, lb = items[k]
        later = needed_after(k)
        b, lb = _sum_letters(b, lb, [c for c in lb if c not in la and c not in later])
        acc, la = _contract(acc, la, b, lb, later)
    if la != out:
        acc = E.transpose(acc, [la.index(c) for c in out])
    return acc


def _sum_letters(t, letters, drop):
    if not drop:
        return t, letters
    t = E.sum(t, tuple(letters.index(c) for c in drop), False)
    return t, [c for c in letters if c not in drop]


def tensordot(x1, x2, axes=2):
    a, b = to_tensor(x1), to_tensor(x2)
    if isinstance(axes, (int, np.integer)):
        ax_a, ax_b = list(range(a.ndim - int(axes), a.ndim)), list(range(int(axes)))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, (int, np.integer)) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, (int, np.integer)) else list(ax_b)
    ax_a = [normalize_axis(i, a.ndim, "tensordot") for i in ax_a]
    ax_b = [normalize_axis(i, b.ndim, "tensordot") for i in ax_b]
    la = list(_LETTERS[:a.ndim])
    lb = list(_LETTERS[a.ndim:a.ndim + b.ndim])
    for i, j in zip(ax_a, ax_b):
        lb[j] = la[i]
    out = [c for i, c in enumerate(la) if i not in ax_a] + [c for j, c in enumerate(lb) if j not in ax_b]
    return einsum("".join(la) + "," + "".join(lb) + "->" + "".join(out), a, b)


def dot(x1, x2):
    """numpy's dot: products for scalars, the inner product of vectors, matmul of matrices,
    and for N-D the sum over x1's last axis and x2's second-to-last."""
    a, b = to_tensor(x1), to_tensor(x2)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    if b.ndim == 1:
        return tensordot(a, b, ([a.ndim - 1], [0]))
    return tensordot(a, b, ([a.ndim - 1], [b.ndim - 2]))


def inner(x1, x2):
    a, b = to_tensor(x1), to_tensor(x2)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    return tensordot(a, b, ([a.ndim - 1], [b.ndim - 1]))


def outer(x1, x2):
    return multiply(reshape(x1, (-1, 1)), reshape(x2, (1, -1)))


def vdot(x1, x2):
    return dot(reshape(x1, (-1,)), reshape(x2, (-1,)))


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of 3-vectors along axisa / axisb, the result along axisc."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = moveaxis(x1, axisa, -1), moveaxis(x2, axisb, -1)
    if a.shape[-1] != 3 or b.shape[-1] != 3:
        raise NotImplementedError("cross: only 3-vectors are supported")
    comp = lambda t, i: E.getitem(t, (Ellipsis, slice(i, i + 1)))  # noqa: E731
    a, b = tensor_of(a, result_type(a, b)), tensor_of(b, result_type(a, b))
    parts = [subtract(multiply(comp(a, (i + 1) % 3), comp(b, (i + 2) % 3)),
                      multiply(comp(a, (i + 2) % 3), comp(b, (i + 1) % 3))) for i in range(3)]
    return moveaxis(concatenate(parts, axis=-1), -1, axisc)


# --- sorting --------------------------------------------------------------------------------------
def sort(x, axis=-1):
    """Values in ascending order along `axis` (a gather of x: the gradient follows the values)."""
    x = to_tensor(x)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    order = np.argsort(host(x), axis=axis, kind="stable")
    return take_along_axis(x, order, axis=axis)


def argsort(x, axis=-1):
    x = to_tensor(x)
    if axis is None:
        x, axis = reshape(x, (-1,)), -1
    return from_host(np.argsort(host(x), axis=axis, kind="stable").astype(np.int32))


# --- the rest of keras.ops.numpy ---------------------------------------------------------------------
def array_split(x, indices_or_sections, axis=0):
    """Like split, but n sections need not divide the axis (the first ones are one longer)."""
    x = to_tensor(x)
    if not isinstance(indices_or_sections, (int, np.integer)):
        return split(x, indices_or_sections, axis)
    n, k = x.shape[normalize_axis(axis, x.ndim, "array_split")], int(indices_or_sections)
    sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    return split(x, list(np.cumsum(sizes)[:-1]), axis)


def hsplit(x, indices_or_sections):
    return split(x, indices_or_sections, axis=1 if to_tensor(x).ndim > 1 else 0)


def vsplit(x, indices_or_sections):
    return split(x, indices_or_sections, axis=0)


def dsplit(x, indices_or_sections):
    return split(x, indices_or_sections, axis=2)


def dstack(xs):
    xs = [to_tensor(x) for x in xs]
    xs = [reshape(x, (1, -1, 1)) if x.ndim == 1 else (expand_dims(x, -1) if x.ndim == 2 else x) for x in xs]
    return concatenate(xs, axis=2)


def divide_no_nan(x1, x2):
    """x1 / x2, and 0 where x2 == 0."""
    zero = host(x2) == 0
    q = divide(x1, where(zero, ones((), result_type(x2, 1.0)), x2) if zero.any() else x2)
    return where(np.broadcast_to(zero, q.shape), zeros((), q.dtype), q) if zero.any() else q


def cbrt(x):
    return _elementwise_host(x, np.cbrt, lambda a, y: 1.0 / (3.0 * y * y))


def deg2rad(x):
    return _unary(x, lambda t: E.mul(t, _math.pi / 180.0))


def rad2deg(x):
    return _unary(x, lambda t: E.mul(t, 180.0 / _math.pi))


def empty_like(x, dtype=None):
    return zeros_like(x, dtype)


fabs = abs


def fmax(x1, x2):
    """Elementwise max ignoring NaN (NaN only where both are NaN)."""
    return _nan_ignoring(x1, x2, maximum)


def fmin(x1, x2):
    return _nan_ignoring(x1, x2, minimum)


def _nan_ignoring(x1, x2, pick):
    dt = result_type(x1, x2)
    if not is_float(dt):
        return pick(x1, x2)
    a, b = tensor_of(x1, dt), tensor_of(x2, dt)
    shape = np.broadcast_shapes(a.shape, b.shape)
    ha, hb = np.broadcast_to(host(a), shape), np.broadcast_to(host(b), shape)
    m = pick(a, b)
    return choose(np.where(np.isnan(ha), 1, np.where(np.isnan(hb), 0, 2)), [a, b, m], shape)


def fmod(x1, x2):
    """The remainder with the sign of x1 (C's fmod); gradients 1 and -trunc(x1 / x2)."""
    dt = result_type(x1, x2)
    if not is_float(dt):
        return from_host(np.fmod(host(x1), host(x2)).astype(dt))
    xs = [tensor_of(x1, dt), tensor_of(x2, dt)]
    return host_elementwise(xs, dt, np.fmod, [lambda a, b, y: np.ones_like(y), lambda a, b, y: -np.trunc(a / b)])


def hypot(x1, x2):
    dt = result_type(x1, x2)
    dt = dt if is_float(dt) else floatx()
    xs = [tensor_of(x1, dt), tensor_of(x2, dt)]
    return host_elementwise(xs, dt, np.hypot, [lambda a, b, y: a / y, lambda a, b, y: b / y])


def heaviside(x1, x2):
    dt = result_type(x1, x2)
    return from_host(np.heaviside(host(x1), host(x2)).astype(dt if is_float(dt) else floatx()))


def isin(x1, x2, assume_unique=False, invert=False):
    return from_host(np.isin(host(x1), host(x2), assume_unique=assume_unique, invert=invert))


def isneginf(x):
    return _host_only(x, np.isneginf)


def isposinf(x):
    return _host_only(x, np.isposinf)


def isreal(x):
    return _host_only(x, np.isreal)


def signbit(x):
    return _host_only(x, np.signbit)


def real(x):
    return to_tensor(x)


def imag(x):
    return zeros_like(x)


def conj(x):
    return to_tensor(x)


conjugate = conj


def angle(x):
    """0 for x >= 0, pi for x < 0 (real tensors)."""
    x = to_tensor(x)
    return from_host(np.angle(host(x)).astype(_float_dtype(x)))


def kron(x1, x2):
    """The Kronecker product: every element of x1 times all of x2, in blocks."""
    a, b = to_tensor(x1), to_tensor(x2)
    nd = _py.max(a.ndim, b.ndim)
    a = reshape(a, (1,) * (nd - a.ndim) + a.shape)
    b = reshape(b, (1,) * (nd - b.ndim) + b.shape)
    inter_a = tuple(v for s in a.shape for v in (s, 1))
    inter_b = tuple(v for s in b.shape for v in (1, s))
    prod_ = multiply(reshape(a, inter_a), reshape(b, inter_b))
    return reshape(prod_, tuple(p * q for p, q in zip(a.shape, b.shape)))


def logaddexp2(x1, x2):
    ln2 = _math.log(2.0)
    return E.mul(logaddexp(multiply(x1, ln2), multiply(x2, ln2)), 1.0 / ln2)


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    out = np.logspace(host(start), host(stop), int(num), endpoint=endpoint, base=host(base), axis=axis)
    return from_host(out.astype(standardize_dtype(dtype) or floatx()))


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    out = np.geomspace(host(start), host(stop), int(num), endpoint=endpoint, axis=axis)
    return from_host(out.astype(standardize_dtype(dtype) or floatx()))


def _nan_filled(x, fill):
    """x with its NaNs replaced by `fill` (a gather: the other elements keep their gradient)."""
    x = to_tensor(x)
    if not is_float(x.dtype):
        return x
    nan = np.isnan(host(x))
    if not nan.any():
        return x
    return remap(x, np.where(nan, -1, positions(x.shape)), fill)


def nansum(x, axis=None, keepdims=False):
    return sum(_nan_filled(x, 0), axis, keepdims)


def nanprod(x, axis=None, keepdims=False):
    return prod(_nan_filled(x, 1), axis, keepdims)


def nanmean(x, axis=None, keepdims=False):
    x = to_tensor(x)
    count = np.sum(~np.isnan(host(x).astype(np.float64)), axis=_np_axis(axis), keepdims=keepdims)
    s = nansum(tensor_of(x, _float_dtype(x)), axis, keepdims)
    return E.div(s, from_host(count.astype(s.dtype)))


def nanvar(x, axis=None, keepdims=False):
    x = to_tensor(x)
    x = tensor_of(x, _float_dtype(x))
    keep = ~np.isnan(host(x))
    d = E.sub(_nan_filled(x, 0), nanmean(x, axis, True))
    d = E.mul(d, from_host(keep.astype(x.dtype)))
    count = np.sum(keep, axis=_np_axis(axis), keepdims=keepdims)
    return E.div(sum(E.mul(d, d), axis, keepdims), from_host(count.astype(x.dtype)))


def nanstd(x, axis=None, keepdims=False):
    return E.sqrt(nanvar(x, axis, keepdims))


def nanmax(x, axis=None, keepdims=False):
    return max(_nan_filled(x, -np.inf), axis, keepdims)


def nanmin(x, axis=None, keepdims=False):
    return min(_nan_filled(x, np.inf), axis, keepdims)


def nancumsum(x, axis=None, dtype=None):
    return cumsum(_nan_filled(x, 0), axis, dtype)


def nancumprod(x, axis=None, dtype=None):
    return cumprod(_nan_filled(x, 1), axis, dtype)


def nanargmax(x, axis=None, keepdims=False):
    return _host_only(x, lambda a: np.nanargmax(a, axis=axis, keepdims=keepdims), np.int32)


def nanargmin(x, axis=None, keepdims=False):
    return _host_only(x, lambda a: np.nanargmin(a, axis=axis, keepdims=keepdims), np.int32)


def ptp(x, axis=None, keepdims=False):
    return subtract(max(x, axis, keepdims), min(x, axis, keepdims))


def rot90(array, k=1, axes=(0, 1)):
    return _layout(array, lambda p: np.rot90(p, k, axes))


def diff(a, n=1, axis=-1):
    """n-th differences along `axis`: a[1:] - a[:-1], n times."""
    x = to_tensor(a)
    ax = normalize_axis(axis, x.ndim, "diff")
    for _ in range(int(n)):
        m = x.shape[ax]
        hi = E.getitem(x, _along(x.ndim, ax, slice(1, m))) if is_float(x.dtype) else \
            from_host(host(x)[_along(x.ndim, ax, slice(1, m))])
        lo = E.getitem(x, _along(x.ndim, ax, slice(0, m - 1))) if is_float(x.dtype) else \
            from_host(host(x)[_along(x.ndim, ax, slice(0, m - 1))])
        x = subtract(hi, lo)
    return x


def diagflat(x, k=0):
    return diag(reshape(x, (-1,)), k)


def select(condlist, choicelist, default=0):
    """choicelist[i] where condlist[i] is the first true condition, else default."""
    conds = [host(c).astype(bool) for c in condlist]
    choices = [to_tensor(c) for c in choicelist]
    dt = result_type(*choices, default)
    shape = np.broadcast_shapes(*[c.shape for c in conds], *[c.shape for c in choices])
    pick = np.full(shape, len(choices), np.int64)
    for i in range(len(conds) - 1, -1, -1):
        pick = np.where(conds[i], i, pick)
    if not is_float(dt):
        return from_host(np.select(conds, [host(c) for c in choices], default).astype(dt))
    return choose(pick, [tensor_of(c, dt) for c in choices] + [tensor_of(default, dt)], shape)


def sinc(x):
    """sin(pi x) / (pi x), 1 at 0."""
    def dsinc(a, y):
        with np.errstate(all="ignore"):
            d = (np.cos(np.pi * a) - y) / a
        return np.where(a == 0, 0.0, d)
    return _elementwise_host(x, np.sinc, dsinc)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The trapezoid rule along `axis`: sum((y[1:] + y[:-1]) / 2 * dx)."""
    y = to_tensor(y)
    y = tensor_of(y, _float_dtype(y))
    ax = normalize_axis(axis, y.ndim, "trapezoid")
    n = y.shape[ax]
    pair = E.add(E.getitem(y, _along(y.ndim, ax, slice(1, n))), E.getitem(y, _along(y.ndim, ax, slice(0, n - 1))))
    if x is None:
        return E.mul(sum(pair, ax), 0.5 * float(dx))
    d = diff(tensor_of(x, y.dtype), axis=ax if to_tensor(x).ndim == y.ndim else -1)
    if d.ndim != y.ndim:
        d = reshape(d, tuple(d.shape[0] if i == ax else 1 for i in range(y.ndim)))
    return E.mul(sum(E.mul(pair, d), ax), 0.5)


def unravel_index(indices, shape):
    return tuple(from_host(i.astype(np.int32)) for i in np.unravel_index(host(indices).astype(np.int64),
                                                                          _shape_tuple(shape)))


def vander(x, N=None, increasing=False):
    """Columns x^0 .. x^(N-1) (decreasing powers unless increasing)."""
    x = to_tensor(x)
    n = x.shape[0] if N is None else int(N)
    powers = list(range(n)) if increasing else list(range(n - 1, -1, -1))
    return stack([power(x, p) if p else ones_like(x) for p in powers], axis=1)


def argpartition(x, kth, axis=-1):
    return _host_only(x, lambda a: np.argpartition(a, kth, axis=axis), np.int32)


def gcd(x1, x2):
    return from_host(np.gcd(host(x1), host(x2)))


def lcm(x1, x2):
    return from_host(np.lcm(host(x1), host(x2)))


def ldexp(x1, x2):
    """x1 * 2 ** x2."""
    dt = result_type(x1, 1.0)
    return multiply(tensor_of(x1, dt), from_host(np.ldexp(np.ones((), dt), host(x2).astype(np.int32))))


def left_shift(x, y):
    return from_host(np.left_shift(host(x), host(y)))


def right_shift(x, y):
    return from_host(np.right_shift(host(x), host(y)))


def saturate_cast(x, dtype):
    """x cast to `dtype`, clipped to its range first (no wrap-around)."""
    dt = standardize_dtype(dtype)
    info = np.finfo(dt) if is_float(dt) else np.iinfo(dt)
    x = to_tensor(x)
    lo, hi = float(info.min), float(info.max)
    if is_float(x.dtype) and is_float(dt):
        return E.cast(E.clamp(x, lo, hi), dt)
    return from_host(np.clip(host(x), lo, hi).astype(dt))


def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return from_host(np.asarray(np.allclose(host(x1), host(x2), rtol=rtol, atol=atol, equal_nan=equal_nan)))


def nextafter(x1, x2):
    dt = result_type(x1, x2)
    dt = dt if is_float(dt) else floatx()
    return from_host(np.nextafter(host(x1).astype(dt), host(x2).astype(dt)))


def quantile(x, q, axis=None, method="linear", keepdims=False):
    """numpy's quantile (methods linear, lower, higher, midpoint, nearest) through sort and a
    gather, so the gradient reaches the elements each quantile is made of. q in [0, 1]."""
    if method not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise ValueError(f"quantile: method must be linear, lower, higher, midpoint or nearest, got {method!r}")
    x = to_tensor(x)
    x = tensor_of(x, _float_dtype(x))
    qs = np.asarray(host(q), np.float64)
    if np.any(qs < 0) or np.any(qs > 1):
        raise ValueError(f"quantile: q must lie in [0, 1], got {q!r}")
    axes = normalize_axes(axis, x.ndim, "quantile")
    t, kept = _moved_last(x, axes)
    srt = sort(t, axis=-1)
    pos = qs.reshape(-1) * (srt.shape[-1] - 1)
    lo, hi = np.floor(pos).astype(np.int64), np.ceil(pos).astype(np.int64)
    frac = pos - lo
    if method == "lower":
        hi, frac = lo, np.zeros_like(frac)
    elif method == "higher":
        lo, frac = hi, np.zeros_like(frac)
    elif method == "midpoint":
        frac = np.where(hi > lo, 0.5, 0.0)
    elif method == "nearest":
        lo = hi = np.around(pos).astype(np.int64)
        frac = np.zeros_like(frac)
    out = take(srt, lo, axis=-1)
    if np.any(frac):
        frac = frac.astype(x.dtype)
        out = E.add(E.mul(out, 1.0 - frac), E.mul(take(srt, hi, axis=-1), frac))
    out = moveaxis(out, -1, 0)
    if keepdims:
        out = reshape(out, (out.shape[0],) + tuple(1 if a in axes else n for a, n in enumerate(x.shape)))
    return reshape(out, out.shape[1:]) if qs.ndim == 0 else reshape(out, qs.shape + out.shape[1:])


def percentile(x, q, axis=None, method="linear", keepdims=False):
    return quantile(x, np.asarray(host(q), np.float64) / 100.0, axis, method, keepdims)


def _bitwise(fn, *xs):
    return from_host(np.asarray(fn(*[host(x) for x in xs])).astype(result_type(*xs)))


def bitwise_and(x, y):
    return _bitwise(np.bitwise_and, x, y)


def bitwise_or(x, y):
    return _bitwise(np.bitwise_or, x, y)


def bitwise_xor(x, y):
    return _bitwise(np.bitwise_xor, x, y)


def bitwise_invert(x):
    return _bitwise(np.invert, x)


bitwise_not = bitwise_invert


def bitwise_left_shift(x, y):
    return _bitwise(np.left_shift, x, y)


def bitwise_right_shift(x, y):
    return _bitwise(np.right_shift, x, y)


def searchsorted(sorted_sequence, values, side="left"):
    seq = host(sorted_sequence)
    if seq.ndim != 1:
        raise ValueError(f"searchsorted: sorted_sequence must be 1-D, got shape {seq.shape}")
    return from_host(np.searchsorted(seq, host(values), side=side).astype(np.int32))


def digitize(x, bins):
    return from_host(np.digitize(host(x), host(bins)).astype(np.int32))


def bincount(x, weights=None, minlength=0, sparse=False):
    """Counts of each non-negative integer in a 1-D x (or in each row of a 2-D x); with
    weights, their sums (differentiable in the weights)."""
    if sparse:
        raise NotImplementedError("bincount: sparse=True is not supported by dptrain")
    ids = host(x).astype(np.int64)
    if ids.size and ids.min() < 0:
        raise ValueError("bincount: x must hold non-negative integers")
    n = _py.max(int(ids.max()) + 1 if ids.size else 0, int(minlength))
    if ids.ndim not in (1, 2):
        raise ValueError(f"bincount: x must be 1-D or 2-D, got shape {ids.shape}")
    rows = ids.reshape(1, -1) if ids.ndim == 1 else ids
    onehot = (rows[..., None] == np.arange(n)).astype(np.int32)       # [rows, items, n]
    if weights is None:
        counts = onehot.sum(axis=1).astype(np.int32)
        return from_host(counts[0] if ids.ndim == 1 else counts)
    w = to_tensor(weights)
    w = tensor_of(w, _float_dtype(w))
    w2 = reshape(w, rows.shape + (1,))
    out = sum(E.mul(w2, from_host(onehot.astype(w.dtype))), axis=1)
    return reshape(out, (n,)) if ids.ndim == 1 else out


def unique(x, sorted=True, return_index=False, return_inverse=False, return_counts=False, axis=None,
           size=None, fill_value=None):
    """The distinct values (of the flattened x, or the distinct slices along axis), computed
    on the host; with size, padded with fill_value (default: the smallest value) or cut."""
    a = host(x)
    vals, index, inverse, counts = np.unique(a, return_index=True, return_inverse=True, return_counts=True,
                                             axis=axis)
    if not sorted:      # order of first occurrence
        order = np.argsort(index, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        vals = vals[order] if axis is None else np.take(vals, order, axis=axis)
        index, counts, inverse = index[order], counts[order], rank[inverse]
    if size is not None:
        k = int(size)
        fill = (vals.min() if vals.size else 0) if fill_value is None else fill_value
        pad = _py.max(k - vals.shape[0], 0)
        if axis is None:
            vals = np.concatenate([vals[:k], np.full(pad, fill, vals.dtype)])
        else:
            widths = [(0, 0)] * vals.ndim
            widths[axis] = (0, pad)
            vals = np.pad(np.take(vals, np.arange(_py.min(k, vals.shape[axis])), axis=axis), widths,
                          constant_values=fill)
        index = np.concatenate([index[:k], np.zeros(pad, index.dtype)])
        counts = np.concatenate([counts[:k], np.zeros(pad, counts.dtype)])
    out = [from_host(vals)]
    if return_index:
        out.append(from_host(index.astype(np.int32)))
    if return_inverse:
        out.append(from_host(inverse.reshape(a.shape if axis is None else -1).astype(np.int32)))
    if return_counts:
        out.append(from_host(counts.astype(np.int32)))
    return out[0] if len(out) == 1 else tuple(out)


def _window(fn, n, *args):
    return from_host(fn(int(n), *args).astype(floatx()))


def bartlett(x):
    return _window(np.bartlett, x)


def blackman(x):
    return _window(np.blackman, x)


def hamming(x):
    return _window(np.hamming, x)


def hanning(x):
    return _window(np.hanning, x)


def kaiser(x, beta):
    return _window(np.kaiser, x, float(beta))


def histogram(x, bins=10, range=None):
    """(counts, bin edges) of the flattened x (host)."""
    a = host(x).reshape(-1)
    counts, edges = np.histogram(a, bins=int(bins), range=range)
    return from_host(counts.astype(np.int32)), from_host(edges.astype(_float_dtype(x)))


def get_item(x, key):
    return to_tensor(x)[key]

