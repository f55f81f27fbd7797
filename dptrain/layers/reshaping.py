"""Keras 3 reshaping layers: Reshape, Permute, RepeatVector, and on channels-last inputs
Cropping1D/2D/3D, ZeroPadding1D/2D/3D, UpSampling1D/2D/3D.

(Flatten lives in `core`.) Everything is slicing, concatenation with zeros, broadcasting and
gathers over engine ops, so gradients flow back to the kept input values.
"""
from __future__ import annotations

import math

import numpy as np

from engine import ops
from engine.tensor import as_tensor

from .base import Layer, register

__all__ = ["Cropping1D", "Cropping2D", "Cropping3D", "Permute", "RepeatVector", "Reshape", "UpSampling1D",
           "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"]

_ORDINAL = ("1st", "2nd", "3rd")


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _int_tuple(value, n, name, who, minimum):
    """An int (repeated n times) or n ints, each >= minimum (Keras' standardize_tuple)."""
    values = (value,) * n if _is_int(value) else value
    try:
        values = tuple(values)
    except TypeError:
        values = None
    if values is None or len(values) != n or not all(_is_int(v) for v in values):
        raise ValueError(f"{who}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if any(v < minimum for v in values):
        raise ValueError(f"{who}: {name} must hold ints >= {minimum}, got {value!r}")
    return tuple(int(v) for v in values)


def _pairs(value, rank, name, who):
    """((before, after),) * rank from an int, `rank` ints (symmetric) or `rank` pairs."""
    if _is_int(value):
        value = (value,) * rank
    if not hasattr(value, "__len__") or len(value) != rank:
        raise ValueError(f"{who}: {name} must be an int, a tuple of {rank} ints or a tuple of {rank} "
                         f"(before, after) pairs, got {value!r}")
    return tuple(_int_tuple(v, 2, f"the {_ORDINAL[i]} entry of {name}", who, 0) for i, v in enumerate(value))


def _lists(value):
    """Nested tuples as nested lists (what a JSON config holds)."""
    return [_lists(v) for v in value] if isinstance(value, tuple) else value


def _data_format(data_format, who):
    fmt = "channels_last" if data_format is None else str(data_format).lower()
    if fmt == "channels_first":
        raise NotImplementedError(f"{who}: data_format='channels_first' is not supported yet "
                                  f"(use channels-last inputs)")
    if fmt != "channels_last":
        raise ValueError(f"{who}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return fmt


def _along(axis, index):
    """An index tuple that applies `index` to `axis` and keeps every axis before it."""
    return (slice(None),) * axis + (index,)


def repeat_axis(x, n, axis):
    """Each entry of `axis` repeated n times in place (numpy's repeat), by broadcasting."""
    if n == 1:
        return x
    shape = tuple(x.shape)
    split = shape[:axis + 1] + (1,) + shape[axis + 1:]
    ones = np.ones((1,) * (axis + 1) + (n,) + (1,) * (len(shape) - axis - 1), x.dtype)
    y = ops.mul(ops.reshape(x, split), as_tensor(ones))
    return ops.reshape(y, shape[:axis] + (shape[axis] * n,) + shape[axis + 1:])


def _bilinear_axis(x, n_out, axis):
    """Linear interpolation along `axis` to n_out samples with half-pixel centres (torch's
    align_corners=False, which Keras' resize uses): source = (i + 0.5) * n / n_out - 0.5, >= 0."""
    n = x.shape[axis]
    src = np.maximum((np.arange(n_out) + 0.5) * (n / n_out) - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), n - 1)
    hi = np.minimum(lo + 1, n - 1)
    frac = (src - lo).reshape((n_out,) + (1,) * (x.ndim - axis - 1)).astype(x.dtype)
    a = ops.getitem(x, _along(axis, lo))
    b = ops.getitem(x, _along(axis, hi))
    return ops.add(ops.mul(a, as_tensor(1.0 - frac)), ops.mul(b, as_tensor(frac)))


# --- Reshape, Permute, RepeatVector -------------------------------------------------------------
@register
class Reshape(Layer):
    """[batch, ...] -> [batch, *target_shape]; one entry of target_shape may be -1 (inferred)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        shape = (target_shape,) if _is_int(target_shape) else target_shape
        try:
            shape = tuple(shape)
        except TypeError:
            shape = None
        if shape is None or not all(_is_int(d) and (d > 0 or d == -1) for d in shape) or list(shape).count(-1) > 1:
            raise ValueError(f"{self._who()}: target_shape must be a tuple of positive ints with at most one -1, "
                             f"got {target_shape!r}")
        self.target_shape = tuple(int(d) for d in shape)

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 1:
            raise self.shape_error(input_shape, "(batch, ...)")
        dims, target = input_shape[1:], self.target_shape
        if None in dims:
            return (input_shape[0],) + tuple(None if d == -1 else d for d in target)
        size, known = math.prod(dims), math.prod(d for d in target if d != -1)
        if -1 in target:
            if size % known:
                raise self.shape_error(input_shape, f"a size divisible by {known}",
                                       f"{size} values per sample cannot be reshaped to {target}")
            return (input_shape[0],) + tuple(size // known if d == -1 else d for d in target)
        if size != known:
            raise self.shape_error(input_shape, f"{known} values per sample",
                                   f"target_shape {target} holds {known} values, the input {size}")
        return (input_shape[0],) + target

    def call(self, x, training=False):
        return ops.reshape(x, (x.shape[0],) + self.target_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


@register
class Permute(Layer):
    """Reorders the non-batch axes: output axis i is input axis dims[i-1] (dims counts from 1)."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        try:
            dims = tuple(dims)
        except TypeError:
            dims = None
        if dims is None or not all(_is_int(d) for d in dims) or sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"{self._who()}: dims must be a permutation of 1..n (the axes after the batch), "
                             f"got {dims!r}")
        self.dims = tuple(int(d) for d in dims)

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != len(self.dims) + 1:
            raise self.shape_error(input_shape, (None,) * (len(self.dims) + 1),
                                   f"dims={self.dims} permutes {len(self.dims)} axes after the batch")
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def call(self, x, training=False):
        return ops.transpose(x, (0,) + self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


@register
class RepeatVector(Layer):
    """[batch, features] -> [batch, n, features], the input repeated n times."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not _is_int(n):
            raise TypeError(f"{self._who()}: n must be an integer, got {type(n).__name__}")
        if n <= 0:
            raise ValueError(f"{self._who()}: n must be a positive integer, got {n}")
        self.n = int(n)

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != 2:
            raise self.shape_error(input_shape, (None, None), "RepeatVector takes [batch, features]")
        return (input_shape[0], self.n, input_shape[1])

    def call(self, x, training=False):
        return repeat_axis(ops.reshape(x, (x.shape[0], 1, x.shape[1])), self.n, 1)

    def get_config(self):
        return {**super().get_config(), "n": self.n}


# --- spatial layers on [batch, *spatial, channels] -------------------------------------------------
class _Spatial(Layer):
    rank = 1

    def _check_rank(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != self.rank + 2:
            raise self.shape_error(input_shape, (None,) * (self.rank + 2),
                                   f"{type(self).__name__} takes [batch, {self._axes_names()}, channels]")

    def _axes_names(self):
        return {1: "steps", 2: "rows, cols", 3: "dim1, dim2, dim3"}[self.rank]


class _Cropping(_Spatial):
    def __init__(self, cropping, data_format=None, **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        self.data_format = _data_format(data_format, who)
        self.cropping = _int_tuple(cropping, 2, "cropping", who, 0) if self.rank == 1 \
            else _pairs(cropping, self.rank, "cropping", who)

    def _crops(self):
        return (self.cropping,) if self.rank == 1 else self.cropping

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        out = list(input_shape)
        for i, (a, b) in enumerate(self._crops(), 1):
            if input_shape[i] is not None:
                if a + b >= input_shape[i]:
                    raise self.shape_error(input_shape, f"spatial axis {i} longer than {a + b}",
                                           f"cropping {(a, b)} would leave nothing of it")
                out[i] = input_shape[i] - a - b
        return tuple(out)

    def call(self, x, training=False):
        index = (slice(None),) + tuple(slice(a, x.shape[i] - b) for i, (a, b) in enumerate(self._crops(), 1))
        return ops.getitem(x, index)

    def get_config(self):
        cfg = {**super().get_config(), "cropping": _lists(self.cropping)}
        if self.rank > 1:       # Keras' Cropping1D has no data_format
            cfg["data_format"] = self.data_format
        return cfg


@register
class Cropping1D(_Cropping):
    """[batch, steps, channels] -> [batch, steps - before - after, channels]; cropping=(before, after)."""
    rank = 1

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(cropping, None, **kwargs)


@register
class Cropping2D(_Cropping):
    """[batch, rows, cols, channels] with ((top, bottom), (left, right)) removed; an int or (rows, cols)
    crops symmetrically."""
    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


@register
class Cropping3D(_Cropping):
    """[batch, d1, d2, d3, channels] with ((before, after),) * 3 removed (an int or 3 ints: symmetric)."""
    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class _ZeroPadding(_Spatial):
    def __init__(self, padding, data_format=None, **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        self.data_format = _data_format(data_format, who)
        self.padding = _int_tuple(padding, 2, "padding", who, 0) if self.rank == 1 \
            else _pairs(padding, self.rank, "padding", who)

    def _pads(self):
        return (self.padding,) if self.rank == 1 else self.padding

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        out = list(input_shape)
        for i, (a, b) in enumerate(self._pads(), 1):
            if out[i] is not None:
                out[i] += a + b
        return tuple(out)

    def call(self, x, training=False):
        for axis, (a, b) in enumerate(self._pads(), 1):
            parts = []
            for n in (a, None, b):
                if n is None:
                    parts.append(x)
                elif n:
                    shape = tuple(x.shape[:axis]) + (n,) + tuple(x.shape[axis + 1:])
                    parts.append(as_tensor(np.zeros(shape, x.dtype)))
            x = ops.concat(parts, axis) if len(parts) > 1 else x
        return x

    def get_config(self):
        return {**super().get_config(), "padding": _lists(self.padding), "data_format": self.data_format}


@register
class ZeroPadding1D(_ZeroPadding):
    """[batch, steps, channels] -> [batch, before + steps + after, channels], zeros added;
    padding: an int or (before, after)."""
    rank = 1

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


@register
class ZeroPadding2D(_ZeroPadding):
    """[batch, rows, cols, channels] with zero rows/cols added: ((top, bottom), (left, right));
    an int or (rows, cols) pads symmetrically."""
    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


@register
class ZeroPadding3D(_ZeroPadding):
    """[batch, d1, d2, d3, channels] with zeros added: ((before, after),) * 3 (an int or 3 ints: symmetric)."""
    rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class _UpSampling(_Spatial):
    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        sizes = (self.size,) if self.rank == 1 else self.size
        return (input_shape[0],) + tuple(None if d is None else d * s for d, s in zip(input_shape[1:-1], sizes)) \
            + (input_shape[-1],)

    def call(self, x, training=False):
        sizes = (self.size,) if self.rank == 1 else self.size
        for axis, s in enumerate(sizes, 1):
            x = repeat_axis(x, s, axis)
        return x


@register
class UpSampling1D(_UpSampling):
    """[batch, steps, channels] -> [batch, steps * size, channels], each step repeated `size` times."""
    rank = 1

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        if not _is_int(size):
            raise TypeError(f"{self._who()}: size must be an integer, got {type(size).__name__}")
        if size <= 0:
            raise ValueError(f"{self._who()}: size must be a positive integer, got {size}")
        self.size = int(size)

    def get_config(self):
        return {**super().get_config(), "size": self.size}


_RESIZE_METHODS = ("bicubic", "lanczos3", "lanczos5", "area")   # Keras' other ops.image.resize methods


@register
class UpSampling2D(_UpSampling):
    """[batch, rows, cols, channels] -> [batch, rows * size[0], cols * size[1], channels]: each pixel
    repeated ("nearest") or linearly interpolated with half-pixel centres ("bilinear")."""
    rank = 2

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        self.size = _int_tuple(size, 2, "size", who, 1)
        self.data_format = _data_format(data_format, who)
        method = str(interpolation).lower()
        if method in _RESIZE_METHODS:
            raise NotImplementedError(f"{who}: interpolation={interpolation!r} is not supported yet "
                                      f"(only 'nearest' and 'bilinear')")
        if method not in ("nearest", "bilinear"):
            raise ValueError(f"{who}: interpolation must be one of 'nearest', 'bilinear', "
                             f"{', '.join(repr(m) for m in _RESIZE_METHODS)}; got {interpolation!r}")
        self.interpolation = method

    def call(self, x, training=False):
        if self.interpolation == "nearest":
            return super().call(x, training)
        for axis, s in ((1, self.size[0]), (2, self.size[1])):
            if s > 1:
                x = _bilinear_axis(x, x.shape[axis] * s, axis)
        return x

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "data_format": self.data_format,
                "interpolation": self.interpolation}


@register
class UpSampling3D(_UpSampling):
    """[batch, d1, d2, d3, channels] -> each axis i repeated size[i] times."""
    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.size = _int_tuple(size, 3, "size", self._who(), 1)
        self.data_format = _data_format(data_format, self._who())

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "data_format": self.data_format}
