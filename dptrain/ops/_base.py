"""What every op module shares: turning inputs into Tensors, Keras' dtype promotion, and
index remapping (a gather through the `getitem` primitive, so it differentiates and runs on
every backend).

Convention: floating point values go through engine ops (gradients, device kernels); integer
and boolean values are computed on the host with numpy and carry no gradient, as in Keras.
"""
from __future__ import annotations

import numpy as np

from engine import backend as _backend
from engine import ops as E
from engine.tensor import Tensor

EPSILON = 1e-7          # keras.config.epsilon()


def floatx():
    """keras.config.floatx(): dptrain.config's when it exists, else float32."""
    try:
        from .. import config
        return np.dtype(config.floatx())
    except (ImportError, AttributeError):
        return np.dtype("float32")


def standardize_dtype(dtype):
    """A numpy dtype from a Keras dtype name ("float32", "int32", "bool", ...) or a numpy dtype."""
    if dtype is None:
        return None
    if dtype is float or dtype is int:      # Python types: Keras' float32 / int32
        return np.dtype("float32" if dtype is float else "int32")
    if isinstance(dtype, str) and dtype == "bfloat16":
        raise NotImplementedError("ops: dtype 'bfloat16' is not supported by dptrain")
    if not isinstance(dtype, (str, np.dtype, type)) and hasattr(dtype, "name"):
        dtype = dtype.name          # e.g. a torch-like dtype object
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"ops: invalid dtype {dtype!r}") from None
    if dt.kind not in "fiub":
        raise ValueError(f"ops: dtype {dt} is not supported (floats, ints and bool are)")
    return dt


def is_float(dt):
    return np.dtype(dt).kind == "f"


def is_tensor(x):
    return isinstance(x, Tensor)


def _is_scalar(x):
    return isinstance(x, (bool, int, float, np.bool_)) and not isinstance(x, np.ndarray)


def dtype_of(x):
    """(dtype, weak): Python scalars are 'weak' (they take the dtype of a tensor beside them)."""
    if isinstance(x, Tensor):
        return x.dtype, False
    if isinstance(x, (bool, np.bool_)):
        return np.dtype(bool), True
    if isinstance(x, int) and not isinstance(x, np.integer):
        return np.dtype("int32"), True
    if isinstance(x, float) and not isinstance(x, np.floating):
        return floatx(), True
    if isinstance(x, (np.ndarray, np.generic)):
        return x.dtype, False
    a = np.asarray(x)
    return _python_dtype(a.dtype), False


def _python_dtype(dt):
    """Keras' dtype for data given as Python lists: int32 and floatx, not numpy's 64 bits."""
    if dt.kind == "f":
        return floatx()
    if dt.kind in "iu":
        return np.dtype("int32")
    if dt.kind == "b":
        return np.dtype(bool)
    raise TypeError(f"ops: cannot make a tensor of dtype {dt}")


def result_type(*xs):
    """Keras' promotion, simplified: any float -> the widest float given (floatx when only a
    Python float brings it); ints widen as numpy does; bool with ints is int; Python scalars
    are weak."""
    strong, weak = [], []
    for x in xs:
        if x is None:
            continue
        dt, w = dtype_of(x)
        (weak if w else strong).append(dt)
    floats = [d for d in strong if d.kind == "f"]
    if floats:
        return max(floats, key=lambda d: d.itemsize)
    ints = [d for d in strong if d.kind in "iu"]
    if any(d.kind == "f" for d in weak):
        return floatx()
    if ints:
        return np.result_type(*ints)
    if any(d.kind in "iu" for d in weak):
        return np.dtype("int32")
    return np.dtype(bool)


def host(x):
    """x as a numpy array (a Tensor is read back from its device)."""
    if isinstance(x, Tensor):
        return x.numpy()
    return np.asarray(x)


def from_host(a, dtype=None):
    """A numpy array as a Tensor without gradient (floats go to the current device)."""
    a = np.asarray(a)
    if dtype is not None:
        a = a.astype(dtype, copy=False)
    return Tensor(_backend.current.asarray(a))


def tensor_of(x, dtype):
    """x as a Tensor of `dtype`; a float Tensor cast to a float dtype keeps its gradient."""
    dtype = np.dtype(dtype)
    if isinstance(x, Tensor):
        if x.dtype == dtype:
            return x
        if x.dtype.kind == "f" and dtype.kind == "f":
            return E.cast(x, dtype)
        return from_host(x.numpy().astype(dtype))
    return from_host(np.asarray(x).astype(dtype))


def to_tensor(x):
    """x as a Tensor with Keras' default dtype (Python data: int32 / floatx / bool)."""
    if isinstance(x, Tensor):
        return x
    return tensor_of(x, dtype_of(x)[0])


def differentiable(x):
    return isinstance(x, Tensor) and x.dtype.kind == "f"


def operand(x, dtype):
    """A float operand for an engine op: Python numbers stay numbers (the engine's fast path)."""
    if isinstance(x, (int, float)) and not isinstance(x, bool) and not isinstance(x, Tensor):
        return float(x)
    return tensor_of(x, dtype)


def normalize_axis(axis, ndim, who):
    """A non-negative axis (numpy's range check)."""
    axis = int(axis)
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise ValueError(f"{who}: axis {axis} is out of bounds for a tensor of rank {ndim}")
    return axis % max(ndim, 1)


def normalize_axes(axis, ndim, who):
    """A sorted tuple of non-negative axes; None means every axis."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = sorted({normalize_axis(a, ndim, who) for a in axes})
    if len(out) != len(axes):
        raise ValueError(f"{who}: repeated axis in {axis!r}")
    return tuple(out)


def remap(x, index, fill=0):
    """`out[i] = x.flat[index[i]]`, or `fill` where index[i] < 0: one gather, so the gradient
    flows back to the picked elements (summed where one element is picked twice)."""
    index = np.asarray(index, dtype=np.int64)
    x = to_tensor(x)
    holes = index < 0
    if not differentiable(x):
        flat = host(x).reshape(-1)
        if holes.any():
            flat = np.concatenate([flat, np.asarray([fill], flat.dtype)])
            index = np.where(holes, flat.size - 1, index)
        return from_host(flat[index])
    flat = E.reshape(x, (-1,))
    if holes.any():
        flat = E.concat([flat, from_host(np.asarray([fill], x.dtype))])
        index = np.where(holes, x.size, index)
    return E.getitem(flat, index)


def positions(shape):
    """The flat position of every element of an array of `shape` (what remap indexes)."""
    return np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)


def choose(choice, candidates, shape):
    """Elementwise pick: out[i] = candidates[choice[i]][i] after broadcasting each candidate to
    `shape`; a gather, so no arithmetic touches the values (infinities stay exact) and each
    candidate gets the gradient of the elements it supplied."""
    choice = np.broadcast_to(np.asarray(choice), shape)
    dtype = result_type(*candidates)
    flats, index, offset = [], np.zeros(shape, np.int64), 0
    for k, c in enumerate(candidates):
        sel = choice == k
        if not sel.any():
            continue
        c = tensor_of(c, dtype)
        src = np.broadcast_to(positions(c.shape), shape)
        index[sel] = src[sel] + offset
        offset += c.size
        flats.append(c)
    if not flats:
        return from_host(np.zeros(shape, dtype))
    if not any(differentiable(c) for c in flats):
        return from_host(np.concatenate([host(c).reshape(-1) for c in flats])[index])
    flat = flats[0] if len(flats) == 1 else E.concat([E.reshape(c, (-1,)) for c in flats])
    return E.getitem(E.reshape(flat, (-1,)), index)


def not_implemented(name, why="not supported by dptrain yet"):
    """A Keras op dptrain does not provide: calling it raises NotImplementedError naming it."""
    def fn(*args, **kwargs):
        raise NotImplementedError(f"ops.{name}: {why}")
    fn.__name__ = name
    fn.__doc__ = f"keras.ops.{name}: {why} (raises NotImplementedError)."
    return fn


def stop_gradient(x):
    """The same values, cut from the tape."""
    x = to_tensor(x)
    return Tensor(x.data)


def host_elementwise(xs, dtype, value, derivatives):
    """An elementwise function numpy computes on the host: `value(*arrays)`, and as gradient
    `derivatives[i](*arrays, out)` for input i (numpy arrays).

    The result is `out + sum_i d_i * (x_i - stop_gradient(x_i))`: the tangent terms are exactly
    zero, so the value is numpy's, and the tape sees the derivative d_i. Where a value or a
    derivative is not finite the gradient is 0 (the value stays numpy's)."""
    from engine.autograd import is_recording
    arrays = [host(x).astype(dtype, copy=False) for x in xs]
    with np.errstate(all="ignore"):
        out = np.asarray(value(*arrays)).astype(dtype, copy=False)
    track = [i for i, x in enumerate(xs) if differentiable(x) and x.requires_grad]
    if not track or not is_recording():
        return from_host(out)
    with np.errstate(all="ignore"):
        ds = {i: np.broadcast_to(np.asarray(derivatives[i](*arrays, out), dtype), out.shape) for i in track}
    ok = np.isfinite(out)
    for i in track:
        ok &= np.isfinite(ds[i]) & np.isfinite(np.broadcast_to(arrays[i], out.shape))
    y = from_host(out)
    for i in track:
        x = tensor_of(xs[i], dtype)
        finite = np.isfinite(arrays[i])
        if not finite.all():     # x - stop_gradient(x) is NaN at infinities: gather zeros there
            x = remap(x, np.where(finite, positions(x.shape), -1), 0)
        tangent = E.sub(x, stop_gradient(x))
        y = E.add(y, E.mul(from_host(np.where(ok, ds[i], 0)), tangent))
    return y
