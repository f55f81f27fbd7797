"""Add and Concatenate: layers over a list of inputs."""
from __future__ import annotations

from engine import ops

from .base import Layer, format_shape, register


class _Merge(Layer):
    def _check_list(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            got = format_shape(input_shape) if isinstance(input_shape, (list, tuple)) else repr(input_shape)
            raise ValueError(f"{self._who()}: expects a list of at least 2 inputs, got {got}")
        return input_shape


@register
class Add(_Merge):
    """Elementwise sum of inputs of one shape."""

    def compute_output_shape(self, input_shape):
        shapes = self._check_list(input_shape)
        first = shapes[0]
        for s in shapes[1:]:
            if len(s) != len(first) or any(a is not None and b is not None and a != b
                                           for a, b in zip(s[1:], first[1:])):
                raise ValueError(f"{self._who()}: inputs must have the same shape, got "
                                 f"{format_shape(first)} and {format_shape(s)}")
        return tuple(next((d for d in dims if d is not None), None) for dims in zip(*shapes))

    def call(self, inputs, training=False):
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.add(out, x)
        return out


@register
class Concatenate(_Merge):
    """Join inputs along `axis` (default the last); every other axis must agree."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"{self._who()}: axis must be an int, got {axis!r}")
        self.axis = axis

    def compute_output_shape(self, input_shape):
        shapes = self._check_list(input_shape)
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes):
            raise ValueError(f"{self._who()}: inputs must have the same rank, got "
                             f"{', '.join(format_shape(s) for s in shapes)}")
        if not -rank < self.axis < rank or self.axis % rank == 0:
            raise ValueError(f"{self._who()}: axis {self.axis} is out of range (or the batch axis) for inputs "
                             f"of rank {rank}")
        ax = self.axis % rank
        out = []
        for i, dims in enumerate(zip(*shapes)):
            if i == ax:
                out.append(None if any(d is None for d in dims) else sum(dims))
                continue
            known = {d for d in dims if d is not None}
            if len(known) > 1 and i > 0:
                raise ValueError(f"{self._who()}: inputs must agree on every axis but {self.axis}, got "
                                 f"{', '.join(format_shape(s) for s in shapes)}")
            out.append(next(iter(known)) if known else None)
        return tuple(out)

    def call(self, inputs, training=False):
        return ops.concat(list(inputs), axis=self.axis % inputs[0].ndim)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
