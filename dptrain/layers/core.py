"""Dense, Activation, Flatten, Dropout."""
from __future__ import annotations

import math

from engine import ops
from engine.modules import init

from .activations import WithActivation
from .base import Layer, positive_int, register


@register
class Dense(WithActivation, Layer):
    """y = activation(x @ kernel + bias) on the last axis; kernel [in, units] Glorot-uniform, bias zeros."""

    def __init__(self, units, activation=None, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.units = positive_int(units, "units", self._who())
        self.use_bias = bool(use_bias)
        self._set_activation(activation)

    def build(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 2 or input_shape[-1] is None:
            raise self.shape_error(input_shape, "(batch, ..., features) with a known feature size")
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), init.glorot_uniform)
        self.bias = self.add_weight("bias", (self.units,), init.zeros) if self.use_bias else None

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 2:
            raise self.shape_error(input_shape, "(batch, ..., features)")
        n_in = self.kernel.shape[0]
        if input_shape[-1] != n_in:
            raise self.shape_error(input_shape, input_shape[:-1] + (n_in,),
                                   f"the layer was built for {n_in} input features")
        return input_shape[:-1] + (self.units,)

    def pre_activation(self, x, training=False):
        y = ops.matmul(x, self.kernel)
        return y if self.bias is None else ops.add(y, self.bias)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias}


@register
class Activation(WithActivation, Layer):
    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self._set_activation(activation)

    def pre_activation(self, x, training=False):
        return x

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


@register
class Flatten(Layer):
    """[batch, d1, d2, ...] -> [batch, d1 * d2 * ...]."""

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 2:
            raise self.shape_error(input_shape, "(batch, ...) with at least one axis after the batch")
        if any(s is None for s in input_shape[1:]):
            raise self.shape_error(input_shape, "a shape with every non-batch axis known")
        return (input_shape[0], math.prod(input_shape[1:]))

    def call(self, x, training=False):
        return ops.reshape(x, (x.shape[0], -1))


@register
class Dropout(Layer):
    """Inverted dropout: in training, zero each value with probability `rate` (a fresh mask per batch)
    and scale the rest by 1 / (1 - rate); the identity in inference."""

    def __init__(self, rate, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
            raise ValueError(f"{self._who()}: rate must be a number in [0, 1), got {rate!r}")
        self.rate = float(rate)

    def call(self, x, training=False):
        if not training or self.rate == 0.0:
            return x
        return ops.dropout(x, self.rate, training=True)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}
