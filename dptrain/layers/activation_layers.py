"""Keras 3 activation layers: Identity, ReLU, LeakyReLU, PReLU, ELU, Softmax.

Each is elementwise (Softmax: along `axis`) and keeps the input shape; the formulas are
`keras.activations`' (see `.activations`).
"""
from __future__ import annotations

import math

from engine import ops

from .. import initializers
from . import activations
from .base import Layer, register

__all__ = ["ELU", "Identity", "LeakyReLU", "PReLU", "ReLU", "Softmax"]


def _number(value, name, who, allow_none=False, minimum=None):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"{who}: {name} must be a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{who}: {name} must be >= {minimum}, got {value!r}")
    return float(value)


class _Elementwise(Layer):
    supports_masking = True     # as Keras: the input mask passes through

    def compute_output_shape(self, input_shape):
        return input_shape


@register
class Identity(_Elementwise):
    """y = x (a placeholder layer)."""

    def call(self, x, training=False):
        return x


@register
class ReLU(_Elementwise):
    """y = min(x, max_value) for x >= threshold, negative_slope * (x - threshold) otherwise.

    Arguments: max_value (>= 0 or None: unbounded), negative_slope (>= 0), threshold (>= 0).
    Input/output: any shape.
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        self.max_value = _number(max_value, "max_value", who, allow_none=True, minimum=0.0)
        self.negative_slope = _number(negative_slope, "negative_slope", who, minimum=0.0)
        self.threshold = _number(threshold, "threshold", who, minimum=0.0)

    def call(self, x, training=False):
        return activations.relu(x, negative_slope=self.negative_slope, max_value=self.max_value,
                                threshold=self.threshold)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


@register
class LeakyReLU(_Elementwise):
    """y = x for x >= 0, negative_slope * x otherwise (negative_slope >= 0, default 0.3). Any shape."""

    def __init__(self, negative_slope=0.3, **kwargs):
        super().__init__(**kwargs)
        self.negative_slope = _number(negative_slope, "negative_slope", self._who(), minimum=0.0)

    def call(self, x, training=False):
        return activations.leaky_relu(x, self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


@register
class ELU(_Elementwise):
    """y = x for x > 0, alpha * (exp(x) - 1) otherwise (default alpha 1.0). Any shape."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = _number(alpha, "alpha", self._who())

    def call(self, x, training=False):
        return activations.elu(x, self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


@register
class PReLU(_Elementwise):
    """y = x for x >= 0, alpha * x otherwise, with a trainable alpha of the input's shape (batch
    excluded), of size 1 along `shared_axes` (e.g. [1, 2] for one alpha per channel of an image).

    alpha_initializer: default "Zeros". Input [batch, ...] with known sizes on the unshared axes.
    """

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        for name, value in (("alpha_regularizer", alpha_regularizer), ("alpha_constraint", alpha_constraint)):
            if value is not None:
                raise NotImplementedError(f"{who}: {name} is not supported yet (only None)")
        try:
            self.alpha_initializer = initializers.get(alpha_initializer)
        except ValueError as e:
            raise ValueError(f"{who}: alpha_initializer: {e}") from None
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            if any(isinstance(a, bool) or not isinstance(a, int) or a < 1 for a in axes):
                raise ValueError(f"{who}: shared_axes must be positive axis indices (1 is the first axis after "
                                 f"the batch), got {shared_axes!r}")
            self.shared_axes = axes

    def _alpha_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 2:
            raise self.shape_error(input_shape, "(batch, ...)")
        shared = set(self.shared_axes or ())
        if shared and max(shared) >= len(input_shape):
            raise self.shape_error(input_shape, f"a shape of rank > {max(shared)}",
                                   f"shared_axes={self.shared_axes}")
        shape = tuple(1 if i in shared else d for i, d in enumerate(input_shape) if i > 0)
        if None in shape:
            raise self.shape_error(input_shape, "known sizes on every axis not in shared_axes",
                                   "alpha has one value per position")
        return shape

    def build(self, input_shape):
        self.alpha = self.add_weight("alpha", self._alpha_shape(input_shape), self.alpha_initializer)

    def compute_output_shape(self, input_shape):
        want = self.alpha.shape
        if not isinstance(input_shape, tuple) or len(input_shape) != len(want) + 1 or any(
                a != 1 and d != a for d, a in zip(input_shape[1:], want)):
            raise self.shape_error(input_shape, (None,) + tuple(None if a == 1 else a for a in want),
                                   f"the layer was built for alpha of shape {tuple(want)}")
        return input_shape

    def call(self, x, training=False):
        return ops.sub(ops.relu(x), ops.mul(self.alpha, ops.relu(ops.neg(x))))

    def get_config(self):
        return {**super().get_config(), "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": None, "alpha_constraint": None, "shared_axes": self.shared_axes}


@register
class Softmax(_Elementwise):
    """y = exp(x) / sum(exp(x)) along `axis` (an int, or a list of axes normalised together).

    Input/output: any shape. `mask` (boolean, or numbers: kept where > 0.5; broadcastable to
    the input from the right, e.g. [batch, steps, keys] attention scores): the masked positions
    are set to -1e9 first, as Keras, so they get (almost) no probability.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        axes = axis if isinstance(axis, (list, tuple)) else [axis]
        if not axes or any(isinstance(a, bool) or not isinstance(a, int) for a in axes):
            raise ValueError(f"{self._who()}: axis must be an int or a list of ints, got {axis!r}")
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis

    def compute_output_shape(self, input_shape):
        rank = len(input_shape) if isinstance(input_shape, tuple) else 0
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        if any(not -rank <= a < rank for a in axes):
            raise self.shape_error(input_shape, f"a shape with axis {self.axis}")
        return input_shape

    def call(self, x, training=False, mask=None):
        if mask is not None:
            from .. import ops as dops
            mshape = tuple(mask.shape)
            if len(mshape) > x.ndim or any(m != 1 and m != d for m, d in zip(mshape[::-1], x.shape[::-1])):
                raise ValueError(f"{self._who()}: the mask must be broadcastable to the inputs and must not "
                                 f"have more dimensions; got inputs.shape={tuple(x.shape)}, mask.shape={mshape}")
            keep = mask if str(getattr(mask, "dtype", "")) == "bool" else dops.greater(mask, 0.5)
            x = dops.where(keep, x, -1e9)
        return activations.softmax(x, self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
