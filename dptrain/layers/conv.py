"""Convolution and pooling on channels-last inputs: Conv1D, Conv2D, MaxPooling2D, GlobalAveragePooling2D.
(Transposed, depthwise and separable convolutions: conv_variants.py.)"""
from __future__ import annotations

import math

from engine import ops

from .activations import WithActivation
from .base import Layer, int_tuple, positive_int, register
from .core import WeightArgs


def _padding(padding, who, causal=False, lower=False):
    if lower and isinstance(padding, str):
        padding = padding.lower()     # as Keras' standardize_padding in the convolution layers
    if causal and padding == "causal":
        return padding
    if padding not in ("valid", "same"):
        allowed = "'valid', 'same' or 'causal'" if causal else "'valid' or 'same'"
        raise ValueError(f"{who}: padding must be {allowed}, got {padding!r}")
    return padding


def _out_len(n, k, s, padding, d=1):
    """Keras' convolution output length: ceil(n / s) for 'same' and 'causal', else
    (n - (k - 1) * d - 1) // s + 1."""
    if n is None:
        return None
    return math.ceil(n / s) if padding in ("same", "causal") else (n - (k - 1) * d - 1) // s + 1


class _Conv(WeightArgs, WithActivation, Layer):
    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        self.filters = positive_int(filters, "filters", who)
        self.kernel_size = int_tuple(kernel_size, self.rank, "kernel_size", who)
        self.strides = int_tuple(strides, self.rank, "strides", who)
        self.padding = _padding(padding, who, causal=self.rank == 1, lower=True)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(f"{who}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
        if data_format == "channels_first":
            raise NotImplementedError(f"{who}: data_format='channels_first' is not implemented "
                                      f"(inputs are channels-last)")
        self.data_format = "channels_last"
        self.dilation_rate = int_tuple(dilation_rate, self.rank, "dilation_rate", who)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{who}: strides > 1 is not supported together with dilation_rate > 1 (as Keras), "
                             f"got strides={self.strides} and dilation_rate={self.dilation_rate}")
        self.groups = positive_int(groups, "groups", who)
        if self.filters % self.groups:
            raise ValueError(f"{who}: filters ({self.filters}) must be divisible by groups ({self.groups})")
        self.use_bias = bool(use_bias)
        self._set_activation(activation)
        self._set_weight_args(kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                              kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                              activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                              bias_constraint=bias_constraint)

    def _expected(self, channels):
        return (None,) + (None,) * self.rank + (channels,)

    def build(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != self.rank + 2 or input_shape[-1] is None:
            raise self.shape_error(input_shape, self._expected("channels"),
                                   f"{type(self).__name__} takes channels-last inputs of rank {self.rank + 2}")
        if input_shape[-1] % self.groups:
            raise ValueError(f"{self._who()}: the input channels ({input_shape[-1]}, input shape {input_shape}) "
                             f"must be divisible by groups ({self.groups})")
        shape = self.kernel_size + (input_shape[-1] // self.groups, self.filters)
        self.kernel = self.add_weight("kernel", shape, self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer, regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def compute_output_shape(self, input_shape):
        c_in = self.kernel.shape[-2] * self.groups
        if not isinstance(input_shape, tuple) or len(input_shape) != self.rank + 2 or input_shape[-1] != c_in:
            raise self.shape_error(input_shape, self._expected(c_in),
                                   f"channels-last input of rank {self.rank + 2} with {c_in} channels")
        spatial = tuple(_out_len(n, k, s, self.padding, d) for n, k, s, d
                        in zip(input_shape[1:-1], self.kernel_size, self.strides, self.dilation_rate))
        if any(o is not None and o < 1 for o in spatial):
            raise self.shape_error(input_shape, self._expected(c_in),
                                   f"the {self.kernel_size} kernel (dilation_rate {self.dilation_rate}) does not "
                                   f"fit with padding='valid'")
        return (input_shape[0],) + spatial + (self.filters,)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate), "groups": self.groups, "activation": self.activation,
                "use_bias": self.use_bias, **self._weight_args_config()}

    def pre_activation(self, x, training=False):
        return self._record_activity_of_logits(self._conv(x))


@register
class Conv2D(_Conv):
    """2-D convolution: y = activation(conv(x, kernel) + bias); input [batch, H, W, C], kernel
    [kh, kw, C / groups, filters] (default Glorot-uniform, fans times kh * kw), bias [filters]
    (default zeros). y[n, p, q, o] = sum_{i, j, c} xpad[n, p*sh + i*dh, q*sw + j*dw, g*C/groups + c]
    kernel[i, j, c, o] with (dh, dw) = dilation_rate and g = o // (filters / groups)."""
    rank = 2

    def _conv(self, x):
        return ops.conv2d(x, self.kernel, self.bias, stride=self.strides, padding=self.padding,
                          dilation=self.dilation_rate, groups=self.groups)


@register
class Conv1D(_Conv):
    """1-D convolution over time: y = activation(conv(x, kernel) + bias); input [batch, steps, C],
    kernel [k, C / groups, filters] (default Glorot-uniform), bias [filters] (default zeros);
    y[n, t, o] = sum_{i, c} xpad[n, t*s + i*d, g*C/groups + c] kernel[i, c, o]. padding='causal'
    pads (k - 1) * dilation_rate steps on the left only (y[t] sees no input after t)."""
    rank = 1

    def _conv(self, x):
        return ops.conv1d(x, self.kernel, self.bias, stride=self.strides[0], padding=self.padding,
                          dilation=self.dilation_rate[0], groups=self.groups)


@register
class MaxPooling2D(Layer):
    """Max over `pool_size` windows of `[batch, height, width, channels]` inputs, moved by `strides`
    (default: pool_size); padding "valid" (no padding) or "same" (output size ceil(n / stride)).
    """

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
