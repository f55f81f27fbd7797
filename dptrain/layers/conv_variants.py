"""Convolution variants on channels-last inputs, as Keras 3: Conv1DTranspose, Conv2DTranspose,
DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D.
(Conv1D / Conv2D, with dilation_rate, groups and causal padding: conv.py.)"""
from __future__ import annotations

from engine import ops
from engine.ops.conv import transpose_geometry

from .activations import WithActivation
from .base import Layer, int_tuple, positive_int, register
from .conv import _out_len, _padding
from .core import WeightArgs

__all__ = ["Conv1DTranspose", "Conv2DTranspose", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D",
           "SeparableConv2D"]


def _channels_last(data_format, who):
    if data_format not in (None, "channels_last", "channels_first"):
        raise ValueError(f"{who}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    if data_format == "channels_first":
        raise NotImplementedError(f"{who}: data_format='channels_first' is not implemented (inputs are channels-last)")
    return "channels_last"


class _SpatialLayer(WeightArgs, WithActivation, Layer):
    """What the variants share: rank, kernel_size / strides / dilation_rate / padding checks,
    the channels-last input check, and pre_activation = the activity penalty of _conv(x)."""
    rank = 2

    def _init_geometry(self, kernel_size, strides, padding, data_format, dilation_rate):
        who = self._who()
        self.kernel_size = int_tuple(kernel_size, self.rank, "kernel_size", who)
        self.strides = int_tuple(strides, self.rank, "strides", who)
        self.padding = _padding(padding, who, lower=True)
        self.data_format = _channels_last(data_format, who)
        self.dilation_rate = int_tuple(dilation_rate, self.rank, "dilation_rate", who)

    def _expected(self, channels):
        return (None,) * (self.rank + 1) + (channels,)

    def _check_input(self, input_shape, channels=None):
        """The input's channel count, after checking its rank (and its channels when given)."""
        if (not isinstance(input_shape, tuple) or len(input_shape) != self.rank + 2 or input_shape[-1] is None
                or (channels is not None and input_shape[-1] != channels)):
            raise self.shape_error(input_shape, self._expected(channels or "channels"),
                                   f"{type(self).__name__} takes channels-last inputs of rank {self.rank + 2}"
                                   + (f" with {channels} channels" if channels is not None else ""))
        return input_shape[-1]

    def _conv_output_shape(self, input_shape, out_channels):
        spatial = tuple(_out_len(n, k, s, self.padding, d) for n, k, s, d
                        in zip(input_shape[1:-1], self.kernel_size, self.strides, self.dilation_rate))
        if any(o is not None and o < 1 for o in spatial):
            raise self.shape_error(input_shape, self._expected(input_shape[-1]),
                                   f"the {self.kernel_size} kernel (dilation_rate {self.dilation_rate}) does not "
                                   f"fit with padding='valid'")
        return (input_shape[0],) + spatial + (out_channels,)

    def _geometry_config(self):
        return {"kernel_size": list(self.kernel_size), "strides": list(self.strides), "padding": self.padding}

    def pre_activation(self, x, training=False):
        return self._record_activity_of_logits(self._conv(x))


# --- transposed convolutions --------------------------------------------------------------------
class _ConvTranspose(_SpatialLayer):
    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        self.filters = positive_int(filters, "filters", who)
        self._init_geometry(kernel_size, strides, padding, data_format, dilation_rate)
        if output_padding is None:
            self.output_padding = None
        else:
            try:
                op = (int(output_padding),) * self.rank if isinstance(output_padding, int) else \
                    tuple(int(i) for i in output_padding)
            except (TypeError, ValueError):
                op = ()
            if len(op) != self.rank or any(i < 0 for i in op):
                raise ValueError(f"{who}: output_padding must be None, an int or a tuple of {self.rank} "
                                 f"non-negative ints, got {output_padding!r}")
            if any(o >= s for o, s in zip(op, self.strides)):
                raise ValueError(f"{who}: output_padding must be strictly less than strides in every dimension, "
                                 f"got output_padding={op} and strides={self.strides}")
            self.output_padding = op
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{who}: strides > 1 is not supported together with dilation_rate > 1 (as Keras), "
                             f"got strides={self.strides} and dilation_rate={self.dilation_rate}")
        self.use_bias = bool(use_bias)
        self._set_activation(activation)
        self._set_weight_args(kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                              kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                              activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                              bias_constraint=bias_constraint)

    def build(self, input_shape):
        c_in = self._check_input(input_shape)
        self.kernel = self.add_weight("kernel", self.kernel_size + (self.filters, c_in), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer, regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def compute_output_shape(self, input_shape):
        self._check_input(input_shape, self.kernel.shape[-1])
        ops_ = self.output_padding or (None,) * self.rank
        spatial = tuple(None if n is None else transpose_geometry(n, k, s, self.padding, o, d)[0] for n, k, s, o, d
                        in zip(input_shape[1:-1], self.kernel_size, self.strides, ops_, self.dilation_rate))
        return (input_shape[0],) + spatial + (self.filters,)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, **self._geometry_config(),
                "output_padding": None if self.output_padding is None else list(self.output_padding),
                "data_format": self.data_format, "dilation_rate": list(self.dilation_rate),
                "activation": self.activation, "use_bias": self.use_bias, **self._weight_args_config()}


@register
class Conv2DTranspose(_ConvTranspose):
    """2-D transposed convolution (the adjoint of Conv2D in its input): input [batch, H, W, C],
    kernel [kh, kw, filters, C] (Keras' layout), bias [filters];
    y[n, p*sh + i*dh - top, q*sw + j*dw - left, f] += x[n, p, q, c] kernel[i, j, f, c], then
    activation(y + bias). Output size per axis, with k' = (k - 1) * dilation + 1: 'valid'
    (n - 1) * s + max(k', s), 'same' n * s; with output_padding (n - 1) * s + k' + output_padding,
    resp. (n - 1) * s + k' % 2 + output_padding. The crop (top, left) is TensorFlow's and JAX's."""
    rank = 2

    def _conv(self, x):
        return ops.conv2d_transpose(x, self.kernel, self.bias, stride=self.strides, padding=self.padding,
                                    dilation=self.dilation_rate, output_padding=self.output_padding)


@register
class Conv1DTranspose(_ConvTranspose):
    """1-D transposed convolution: input [batch, steps, C], kernel [k, filters, C], bias [filters];
    y[n, t*s + i*d - left, f] += x[n, t, c] kernel[i, f, c], then activation(y + bias). Output length
    'valid' (n - 1) * s + max(k', s), 'same' n * s (k' = (k - 1) * d + 1), as Conv2DTranspose."""
    rank = 1

    def _conv(self, x):
        return ops.conv1d_transpose(x, self.kernel, self.bias, stride=self.strides[0], padding=self.padding,
                                    dilation=self.dilation_rate[0],
                                    output_padding=None if self.output_padding is None else self.output_padding[0])


# --- depthwise convolutions ---------------------------------------------------------------------
class _DepthwiseConv(_SpatialLayer):
    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier", self._who())
        self._init_geometry(kernel_size, strides, padding, data_format, dilation_rate)
        self.use_bias = bool(use_bias)
        self._set_activation(activation)
        self._set_weight_args(depthwise_initializer=depthwise_initializer, bias_initializer=bias_initializer,
                              depthwise_regularizer=depthwise_regularizer, bias_regularizer=bias_regularizer,
                              activity_regularizer=activity_regularizer, depthwise_constraint=depthwise_constraint,
                              bias_constraint=bias_constraint)

    def build(self, input_shape):
        c_in = self._check_input(input_shape)
        self._conv_output_shape(input_shape, c_in * self.depth_multiplier)
        self.kernel = self.add_weight("kernel", self.kernel_size + (c_in, self.depth_multiplier),
                                      self.depthwise_initializer, regularizer=self.depthwise_regularizer,
                                      constraint=self.depthwise_constraint)
        self.bias = self.add_weight("bias", (c_in * self.depth_multiplier,), self.bias_initializer,
                                    regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def compute_output_shape(self, input_shape):
        c_in = self._check_input(input_shape, self.kernel.shape[-2])
        return self._conv_output_shape(input_shape, c_in * self.depth_multiplier)

    def get_config(self):
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier, **self._geometry_config(),
                "data_format": self.data_format, "dilation_rate": list(self.dilation_rate),
                "activation": self.activation, "use_bias": self.use_bias, **self._weight_args_config()}


@register
class DepthwiseConv2D(_DepthwiseConv):
    """Each input channel convolved with its own depth_multiplier filters: input [batch, H, W, C],
    kernel [kh, kw, C, M], bias [C * M]; y[n, p, q, c*M + m] = activation(bias[c*M + m] +
    sum_{i, j} xpad[n, p*sh + i*dh, q*sw + j*dw, c] kernel[i, j, c, m])."""
    rank = 2

    def _conv(self, x):
        return ops.depthwise_conv2d(x, self.kernel, self.bias, stride=self.strides, padding=self.padding,
                                    dilation=self.dilation_rate)


@register
class DepthwiseConv1D(_DepthwiseConv):
    """Each input channel convolved with its own depth_multiplier filters: input [batch, steps, C],
    kernel [k, C, M], bias [C * M]; y[n, t, c*M + m] = activation(bias[c*M + m] +
    sum_i xpad[n, t*s + i*d, c] kernel[i, c, m])."""
    rank = 1

    def _conv(self, x):
        return ops.depthwise_conv1d(x, self.kernel, self.bias, stride=self.strides[0], padding=self.padding,
                                    dilation=self.dilation_rate[0])


# --- separable convolutions ---------------------------------------------------------------------
class _SeparableConv(_SpatialLayer):
    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier", who)
        self.filters = positive_int(filters, "filters", who)
        self._init_geometry(kernel_size, strides, padding, data_format, dilation_rate)
        self.use_bias = bool(use_bias)
        self._set_activation(activation)
        self._set_weight_args(depthwise_initializer=depthwise_initializer, pointwise_initializer=pointwise_initializer,
                              bias_initializer=bias_initializer, depthwise_regularizer=depthwise_regularizer,
                              pointwise_regularizer=pointwise_regularizer, bias_regularizer=bias_regularizer,
                              activity_regularizer=activity_regularizer, depthwise_constraint=depthwise_constraint,
                              pointwise_constraint=pointwise_constraint, bias_constraint=bias_constraint)

    def build(self, input_shape):
        c_in = self._check_input(input_shape)
        self._conv_output_shape(input_shape, self.filters)
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel", self.kernel_size + (c_in, self.depth_multiplier), self.depthwise_initializer,
            regularizer=self.depthwise_regularizer, constraint=self.depthwise_constraint)
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel", (1,) * self.rank + (c_in * self.depth_multiplier, self.filters),
            self.pointwise_initializer, regularizer=self.pointwise_regularizer, constraint=self.pointwise_constraint)
        self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer, regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def compute_output_shape(self, input_shape):
        self._check_input(input_shape, self.depthwise_kernel.shape[-2])
        return self._conv_output_shape(input_shape, self.filters)

    def get_config(self):
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier, "filters": self.filters,
                **self._geometry_config(), "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate), "activation": self.activation, "use_bias": self.use_bias,
                **self._weight_args_config()}


@register
class SeparableConv2D(_SeparableConv):
    """A depthwise convolution then a pointwise (1x1) one: input [batch, H, W, C], depthwise_kernel
    [kh, kw, C, M], pointwise_kernel [1, 1, C * M, filters], bias [filters];
    y = activation(depthwise(x) @ pointwise_kernel + bias) with depthwise as DepthwiseConv2D's."""
    rank = 2

    def _conv(self, x):
        d = ops.depthwise_conv2d(x, self.depthwise_kernel, stride=self.strides, padding=self.padding,
                                 dilation=self.dilation_rate)
        return ops.conv2d(d, self.pointwise_kernel, self.bias)


@register
class SeparableConv1D(_SeparableConv):
    """A depthwise convolution then a pointwise one: input [batch, steps, C], depthwise_kernel
    [k, C, M], pointwise_kernel [1, C * M, filters], bias [filters];
    y = activation(depthwise(x) @ pointwise_kernel + bias) with depthwise as DepthwiseConv1D's."""
    rank = 1

    def _conv(self, x):
        d = ops.depthwise_conv1d(x, self.depthwise_kernel, stride=self.strides[0], padding=self.padding,
                                 dilation=self.dilation_rate[0])
        return ops.conv1d(d, self.pointwise_kernel, self.bias)
