"""`keras.ops` core: conversions, casts, shapes, stop_gradient and eager control flow."""
from __future__ import annotations

import builtins as _py

import numpy as np

from engine import ops as E
from engine.tensor import Tensor

from ._base import (choose, dtype_of, from_host, host, is_float, is_tensor, positions, remap, result_type,
                    standardize_dtype, stop_gradient, tensor_of, to_tensor)
from . import numpy as _np_ops

__all__ = ["cast", "cond", "convert_to_numpy", "convert_to_tensor", "dtype", "fori_loop", "is_tensor", "map",
           "scan", "shape", "slice", "slice_update", "stop_gradient", "vectorized_map", "while_loop"]


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """A Tensor from a Tensor, a numpy array or Python data; Python ints give int32, floats
    floatx (float32). A Tensor of the requested dtype is returned as it is (with its gradient)."""
    if sparse or ragged:
        raise NotImplementedError("convert_to_tensor: sparse and ragged tensors are not supported by dptrain")
    dt = standardize_dtype(dtype)
    if isinstance(x, Tensor):
        return x if dt is None or x.dtype == dt else cast(x, dt)
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):       # e.g. a torch tensor
        x = x.detach().cpu().numpy() if hasattr(x, "detach") else x.numpy()
    return tensor_of(np.array(x, copy=True) if isinstance(x, np.ndarray) else x, dt or dtype_of(x)[0])


def convert_to_numpy(x):
    return np.array(host(x), copy=True)


def cast(x, dtype):
    """x in another dtype: float -> float keeps the gradient; anything else is a new constant
    (float -> int truncates toward zero, as numpy and torch)."""
    dt = standardize_dtype(dtype)
    x = to_tensor(x)
    if x.dtype == dt:
        return x
    if is_float(x.dtype) and is_float(dt):
        return E.cast(x, dt)
    return from_host(host(x).astype(dt))


def shape(x):
    """The shape as a tuple of ints."""
    return tuple(x.shape) if hasattr(x, "shape") else tuple(np.shape(x))


def dtype(x):
    return np.dtype(dtype_of(x)[0]).name


def slice(inputs, start_indices, shape):
    """The block of `shape` starting at `start_indices` (a -1 size runs to the end)."""
    x = to_tensor(inputs)
    starts = [int(s) for s in host(start_indices).reshape(-1)]
    sizes = [int(n) for n in host(shape).reshape(-1)]
    key = tuple(_py.slice(s, x.shape[i] if n < 0 else s + n) for i, (s, n) in enumerate(zip(starts, sizes)))
    return E.getitem(x, key) if is_float(x.dtype) else from_host(host(x)[key])


def slice_update(inputs, start_indices, updates):
    """inputs with the block at start_indices replaced by updates (a gather of both, so both
    get their gradients)."""
    x, u = to_tensor(inputs), to_tensor(updates)
    starts = [int(s) for s in host(start_indices).reshape(-1)]
    key = tuple(_py.slice(s, s + n) for s, n in zip(starts, u.shape))
    dt = result_type(x, u)
    if not is_float(dt):
        out = host(x).astype(dt)
        out[key] = host(u)
        return from_host(out)
    choice = np.zeros(x.shape, np.int64)
    choice[key] = 1
    where_u = np.full(x.shape, -1, np.int64)
    where_u[key] = positions(u.shape)
    return choose(choice, [tensor_of(x, dt), remap(tensor_of(u, dt), where_u, 0)], x.shape)


def cond(pred, true_fn, false_fn):
    """Eager: `true_fn()` if pred else `false_fn()`."""
    return true_fn() if bool(host(pred)) else false_fn()


def fori_loop(lower, upper, body_fun, init_val):
    val = init_val
    for i in range(int(lower), int(upper)):
        val = body_fun(i, val)
    return val


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    single = not isinstance(loop_vars, (list, tuple))
    vals = (loop_vars,) if single else tuple(loop_vars)
    n = 0
    while bool(host(cond(*vals))) and (maximum_iterations is None or n < maximum_iterations):
        out = body(*vals)
        vals = (out,) if single else tuple(out)
        n += 1
    return vals[0] if single else type(loop_vars)(vals)


def vectorized_map(function, elements):
    """function applied to each slice along axis 0, the results stacked (an eager loop)."""
    if isinstance(elements, (list, tuple)):
        n = to_tensor(elements[0]).shape[0]
        outs = [function(type(elements)(to_tensor(e)[i] for e in elements)) for i in range(n)]
    else:
        x = to_tensor(elements)
        outs = [function(x[i]) for i in range(x.shape[0])]
    return _np_ops.stack(outs, axis=0)


def map(f, xs):
    return vectorized_map(f, xs)


def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """Eager scan: carry, y = f(carry, x) over the leading axis of xs; returns (carry, stacked ys)."""
    n = to_tensor(xs).shape[0] if xs is not None else int(length)
    order = range(n - 1, -1, -1) if reverse else range(n)
    carry, ys = init, []
    for i in order:
        carry, y = f(carry, None if xs is None else to_tensor(xs)[i])
        ys.append(y)
    if reverse:
        ys.reverse()
    return carry, (_np_ops.stack(ys) if ys and ys[0] is not None else None)



def switch(index, branches, *operands):
    """Eager: branches[index](*operands), the index clipped to the valid range (as Keras)."""
    i = int(np.clip(int(host(index)), 0, len(branches) - 1))
    return branches[i](*operands)


__all__ += ["switch"]
