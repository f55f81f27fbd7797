"""Pooling layers (Keras 3 `keras.layers.pooling`): max and average pooling over windows,
global max and average pooling. MaxPooling2D and GlobalAveragePooling2D live in conv.py;
this module adds their Keras aliases."""
from __future__ import annotations

from engine import ops
from engine.ops.conv import same_pads

from .base import Layer, int_tuple, register
from .conv import GlobalAveragePooling2D, MaxPooling2D, _out_len, _padding

__all__ = ["AveragePooling1D", "AveragePooling2D", "AvgPool1D", "AvgPool2D", "GlobalAveragePooling1D",
           "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPooling1D",
           "GlobalMaxPooling2D", "MaxPool1D", "MaxPool2D", "MaxPooling1D"]


def _data_format(data_format, who):
    if data_format is None:
        return "channels_last"
    fmt = str(data_format).lower()
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(f"{who}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return fmt


def _channels_last(x, rank, data_format):
    """[N, C, *spatial] -> [N, *spatial, C] when channels_first."""
    if data_format == "channels_last":
        return x
    return ops.transpose(x, (0,) + tuple(range(2, rank + 2)) + (1,))


def _channels_first(x, rank, data_format):
    if data_format == "channels_last":
        return x
    return ops.transpose(x, (0, rank + 1) + tuple(range(1, rank + 1)))


def _replicate_pad(x, pads):
    """Pad the spatial axes of [N, H, W, C] by repeating the edge rows/columns."""
    for axis, (lo, hi) in zip((1, 2), pads):
        if lo or hi:
            lead = (slice(None),) * axis
            first, last = ops.getitem(x, lead + (slice(0, 1),)), ops.getitem(x, lead + (slice(-1, None),))
            x = ops.concat([first] * lo + [x] + [last] * hi, axis=axis)
    return x


def _avg_pool2d(x, pool, strides, padding):
    """Average pooling as Keras 3 computes it on torch. 'same' with the padding split evenly on
    every axis leaves the padded cells out of the mean; with an odd split anywhere, torch pads
    every axis by repeating its edge values and those copies count in the mean."""
    if padding == "same":
        pads = [same_pads(n, k, s) for n, k, s in zip(x.shape[1:3], pool, strides)]
        if any(lo != hi for lo, hi in pads):
            return ops.avg_pool2d(_replicate_pad(x, pads), pool, strides, "valid")
    return ops.avg_pool2d(x, pool, strides, padding)


class _Pooling(Layer):
    """Max or average over windows of `pool_size` moved by `strides` over the spatial axes."""
    rank = 1
    mode = "max"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        self.pool_size = int_tuple(pool_size, self.rank, "pool_size", who)
        self.strides = self.pool_size if strides is None else int_tuple(strides, self.rank, "strides", who)
        self.padding = _padding(padding, who)
        self.data_format = _data_format(data_format, who)

    def compute_output_shape(self, input_shape):
        last = self.data_format == "channels_last"
        layout = ("[batch, steps, channels]" if self.rank == 1 else "[batch, H, W, channels]") if last else \
            ("[batch, channels, steps]" if self.rank == 1 else "[batch, channels, H, W]")
        if not isinstance(input_shape, tuple) or len(input_shape) != self.rank + 2:
            raise self.shape_error(input_shape, (None,) * (self.rank + 2), f"expects {layout}")
        spatial_in = input_shape[1:-1] if last else input_shape[2:]
        spatial = tuple(_out_len(n, k, s, self.padding) for n, k, s in zip(spatial_in, self.pool_size, self.strides))
        if any(o is not None and o < 1 for o in spatial):
            raise self.shape_error(input_shape, layout,
                                   f"the {self.pool_size} pool does not fit with padding='valid'")
        return (input_shape[0],) + spatial + (input_shape[-1],) if last else input_shape[:2] + spatial

    def call(self, x, training=False):
        x = _channels_last(x, self.rank, self.data_format)
        pool, strides = self.pool_size, self.strides
        if self.rank == 1:   # [N, L, C] -> [N, 1, L, C]: 2-D pooling over a height of 1
            n, length, c = x.shape
            x = ops.reshape(x, (n, 1, length, c))
            pool, strides = (1,) + pool, (1,) + strides
        if self.mode == "max":
            y = ops.max_pool2d(x, pool, strides, self.padding)
        else:
            y = _avg_pool2d(x, pool, strides, self.padding)
        if self.rank == 1:
            y = ops.reshape(y, (y.shape[0], y.shape[2], y.shape[3]))
        return _channels_first(y, self.rank, self.data_format)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "padding": self.padding,
                "strides": list(self.strides), "data_format": self.data_format}


@register
class MaxPooling1D(_Pooling):
    """Max over windows of the steps axis: [batch, steps, C] -> [batch, steps', C], where
    steps' = (steps - pool_size) // strides + 1 ('valid') or ceil(steps / strides) ('same')."""
    rank, mode = 1, "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


@register
class AveragePooling1D(_Pooling):
    """Mean over windows of the steps axis: [batch, steps, C] -> [batch, steps', C] (steps' as in
    MaxPooling1D); with padding='same' the mean follows Keras on torch (see _avg_pool2d)."""
    rank, mode = 1, "average"


@register
class AveragePooling2D(_Pooling):
    """Mean over pool_size windows of [batch, H, W, C] -> [batch, H', W', C], each spatial size
    as in MaxPooling1D; with padding='same' the mean follows Keras on torch (see _avg_pool2d)."""
    rank, mode = 2, "average"


class _GlobalPooling(Layer):
    """A reduction (mean or max) over every spatial axis."""
    rank = 1

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format, self._who())
        self.keepdims = bool(keepdims)

    def _spatial_axes(self):
        first = 1 if self.data_format == "channels_last" else 2
        return tuple(range(first, first + self.rank))

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != self.rank + 2:
            raise self.shape_error(input_shape, (None,) * (self.rank + 2),
                                   f"{type(self).__name__} takes inputs of rank {self.rank + 2}")
        channels = input_shape[-1] if self.data_format == "channels_last" else input_shape[1]
        if not self.keepdims:
            return (input_shape[0], channels)
        ones = (1,) * self.rank
        return (input_shape[0],) + ones + (channels,) if self.data_format == "channels_last" else \
            (input_shape[0], channels) + ones

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


@register
class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over the steps axis: [batch, steps, C] -> [batch, C] ([batch, 1, C] with keepdims).

    With a mask m [batch, steps] (from Embedding(mask_zero=True), Masking, or `mask=`), as Keras:
    y = sum_t m_t x_t / sum_t m_t, the mean over the unmasked steps (NaN when every step is
    masked); the output carries no mask."""
    rank = 1

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format=data_format, keepdims=keepdims, **kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None

    def call(self, x, training=False, mask=None):
        axes = self._spatial_axes()
        if mask is None:
            return ops.mean(x, axis=axes, keepdims=self.keepdims)
        from .. import ops as dops
        m = dops.cast(mask, "bool")
        if tuple(m.shape) != (x.shape[0], x.shape[axes[0]]):
            raise ValueError(f"{self._who()}: the mask has shape {tuple(m.shape)}, expected (batch, steps) = "
                             f"{(x.shape[0], x.shape[axes[0]])} for inputs of shape {tuple(x.shape)}")
        m = dops.expand_dims(m, 2 if self.data_format == "channels_last" else 1)
        total = ops.sum(dops.where(m, x, 0.0), axis=axes, keepdims=self.keepdims)
        count = ops.sum(dops.cast(m, x.dtype), axis=axes, keepdims=self.keepdims)
        return ops.div(total, count)


@register
class GlobalMaxPooling1D(_GlobalPooling):
    """Max over the steps axis: [batch, steps, C] -> [batch, C] ([batch, 1, C] with keepdims)."""
    rank = 1

    def call(self, x, training=False):
        return ops.max(x, axis=self._spatial_axes(), keepdims=self.keepdims)


@register
class GlobalMaxPooling2D(_GlobalPooling):
    """Max over H and W: [batch, H, W, C] -> [batch, C] ([batch, 1, 1, C] with keepdims)."""
    rank = 2

    def call(self, x, training=False):
        return ops.max(x, axis=self._spatial_axes(), keepdims=self.keepdims)


# Keras' aliases (the same classes under a second name)
MaxPool1D = MaxPooling1D
MaxPool2D = MaxPooling2D
AvgPool1D = AveragePooling1D
AvgPool2D = AveragePooling2D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool1D = GlobalMaxPooling1D
GlobalMaxPool2D = GlobalMaxPooling2D
