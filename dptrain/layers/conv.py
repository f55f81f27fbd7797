"""Convolution and pooling on channels-last inputs: Conv1D, Conv2D, MaxPooling2D, GlobalAveragePooling2D."""
from __future__ import annotations

import math

from engine import ops
from engine.modules import init

from .activations import WithActivation
from .base import Layer, int_tuple, positive_int, register


def _padding(padding, who):
    if padding not in ("valid", "same"):
        raise ValueError(f"{who}: padding must be 'valid' or 'same', got {padding!r}")
    return padding


def _out_len(n, k, s, padding):
    if n is None:
        return None
    return math.ceil(n / s) if padding == "same" else (n - k) // s + 1


class _Conv(WithActivation, Layer):
    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", activation=None, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        self.filters = positive_int(filters, "filters", who)
        self.kernel_size = int_tuple(kernel_size, self.rank, "kernel_size", who)
        self.strides = int_tuple(strides, self.rank, "strides", who)
        self.padding = _padding(padding, who)
        self.use_bias = bool(use_bias)
        self._set_activation(activation)

    def _expected(self, channels):
        return (None,) + (None,) * self.rank + (channels,)

    def build(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != self.rank + 2 or input_shape[-1] is None:
            raise self.shape_error(input_shape, self._expected("channels"),
                                   f"{type(self).__name__} takes channels-last inputs of rank {self.rank + 2}")
        shape = self.kernel_size + (input_shape[-1], self.filters)
        self.kernel = self.add_weight("kernel", shape, init.glorot_uniform)
        self.bias = self.add_weight("bias", (self.filters,), init.zeros) if self.use_bias else None

    def compute_output_shape(self, input_shape):
        c_in = self.kernel.shape[-2]
        if not isinstance(input_shape, tuple) or len(input_shape) != self.rank + 2 or input_shape[-1] != c_in:
            raise self.shape_error(input_shape, self._expected(c_in),
                                   f"channels-last input of rank {self.rank + 2} with {c_in} channels")
        spatial = tuple(_out_len(n, k, s, self.padding)
                        for n, k, s in zip(input_shape[1:-1], self.kernel_size, self.strides))
        if any(o is not None and o < 1 for o in spatial):
            raise self.shape_error(input_shape, self._expected(c_in),
                                   f"the {self.kernel_size} kernel does not fit with padding='valid'")
        return (input_shape[0],) + spatial + (self.filters,)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "activation": self.activation,
                "use_bias": self.use_bias}


@register
class Conv2D(_Conv):
    """2-D convolution; input [batch, H, W, C], kernel [kh, kw, C, filters]."""
    rank = 2

    def pre_activation(self, x, training=False):
        return ops.conv2d(x, self.kernel, self.bias, stride=self.strides, padding=self.padding)


@register
class Conv1D(_Conv):
    """1-D convolution over time; input [batch, steps, C], kernel [k, C, filters]."""
    rank = 1

    def pre_activation(self, x, training=False):
        return ops.conv1d(x, self.kernel, self.bias, stride=self.strides[0], padding=self.padding)


@register
class MaxPooling2D(Layer):
    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        self.pool_size = int_tuple(pool_size, 2, "pool_size", who)
        self.strides = self.pool_size if strides is None else int_tuple(strides, 2, "strides", who)
        self.padding = _padding(padding, who)

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != 4:
            raise self.shape_error(input_shape, (None, None, None, None), "expects [batch, H, W, C]")
        spatial = tuple(_out_len(n, k, s, self.padding)
                        for n, k, s in zip(input_shape[1:3], self.pool_size, self.strides))
        if any(o is not None and o < 1 for o in spatial):
            raise self.shape_error(input_shape, (None, None, None, input_shape[3]),
                                   f"the {self.pool_size} pool does not fit with padding='valid'")
        return (input_shape[0],) + spatial + (input_shape[3],)

    def call(self, x, training=False):
        return ops.max_pool2d(x, self.pool_size, self.strides, self.padding)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding}


@register
class GlobalAveragePooling2D(Layer):
    """Mean over the spatial axes: [batch, H, W, C] -> [batch, C]."""

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != 4:
            raise self.shape_error(input_shape, (None, None, None, None), "expects [batch, H, W, C]")
        return (input_shape[0], input_shape[3])

    def call(self, x, training=False):
        return ops.mean(x, axis=(1, 2))
