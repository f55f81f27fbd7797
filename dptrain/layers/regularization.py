"""Keras 3 layers: regularization family (Dropout itself is in core.py).

The random layers act in training only (the identity in inference). They draw from the engine
generator, so `ag.manual_seed` makes a run reproducible; given `seed=`, a layer draws from a
generator of its own instead, as Keras' per-layer SeedGenerator (the numbers differ from Keras').
"""
from __future__ import annotations

import math

import numpy as np

from engine import backend as _backend
from engine import ops
from engine import random as _random
from engine.tensor import Tensor

from .base import Layer, register

__all__ = ["ActivityRegularization", "AlphaDropout", "GaussianDropout", "GaussianNoise", "SpatialDropout1D",
           "SpatialDropout2D", "SpatialDropout3D"]


def _fraction(who, name, v, closed=True):
    """A number in [0, 1] (closed) or [0, 1)."""
    ok = not isinstance(v, bool) and isinstance(v, (int, float)) and 0 <= v and (v <= 1 if closed else v < 1)
    if not ok:
        raise ValueError(f"{who}: {name} must be a number in [0, 1{']' if closed else ')'}, got {v!r}")
    return float(v)


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


class _Random(Layer):
    """A layer with a `seed`: a generator of its own when seeded, else the engine's (read at each call,
    so that ag.manual_seed applies)."""
    supports_masking = True     # as Keras: the input mask passes through

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and not (_is_int(seed) and seed >= 0):
            raise ValueError(f"{self._who()}: seed must be a non-negative int or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self._own_rng = None if seed is None else np.random.default_rng(self.seed)

    def _rng(self):
        return self._own_rng if self._own_rng is not None else _random.generator()

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class _SpatialDropout(_Random):
    """Dropout of whole feature maps: one keep/drop draw per (sample, channel), shared along the other axes."""

    rank = None   # the input rank, batch included

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _fraction(self._who(), "rate", rate)
        self.data_format = "channels_last"

    def _set_data_format(self, data_format):
        fmt = "channels_last" if data_format is None else str(data_format).lower()
        if fmt not in ("channels_last", "channels_first"):
            raise ValueError(f"{self._who()}: data_format must be 'channels_last' or 'channels_first', "
                             f"got {data_format!r}")
        self.data_format = fmt

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != self.rank:
            maps = ", ".join(f"d{i}" for i in range(1, self.rank - 1))
            first = self.data_format == "channels_first"
            layout = f"(batch, channels, {maps})" if first else f"(batch, {maps}, channels)"
            raise self.shape_error(input_shape, f"a rank-{self.rank} input {layout}")
        return input_shape

    def call(self, x, training=False):
        if not training or self.rate == 0.0:
            return x
        if self.rate == 1.0:
            return ops.mul(x, 0.0)   # Keras: all zeros (the dropout mask would divide by 1 - rate = 0)
        n, ones = x.shape[0], (1,) * (self.rank - 2)
        noise = (n, x.shape[1]) + ones if self.data_format == "channels_first" else (n,) + ones + (x.shape[-1],)
        mask = _backend.current.dropout_mask(noise, self.rate, np.dtype(x.dtype), self._rng())
        return ops.mul(x, Tensor(mask))   # the mask holds 0 or 1 / (1 - rate), broadcast over the maps

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


@register
class SpatialDropout1D(_SpatialDropout):
    """Training: zero whole channels of (batch, steps, channels), each with probability `rate` per
    sample, and scale the rest by 1 / (1 - rate); inference: the identity. Output: the input's shape."""

    rank = 3


@register
class SpatialDropout2D(_SpatialDropout):
    """Training: zero whole 2D feature maps of (batch, rows, cols, channels) (channels_first: (batch,
    channels, rows, cols)), each with probability `rate` per sample, and scale the rest by 1 / (1 - rate);
    inference: the identity. Output: the input's shape."""

    rank = 4

    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        self._set_data_format(data_format)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


@register
class SpatialDropout3D(SpatialDropout2D):
    """SpatialDropout2D for (batch, d1, d2, d3, channels) (channels_first: (batch, channels, d1, d2, d3))."""

    rank = 5


@register
class GaussianNoise(_Random):
    """Training: y = x + n, n ~ N(0, stddev^2) drawn afresh per call; inference: the identity.

    stddev: in [0, 1] (as Keras). Input: any shape; output: the same shape.
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.stddev = _fraction(self._who(), "stddev", stddev)

    def call(self, x, training=False):
        if not training or self.stddev == 0.0:
            return x
        noise = self._rng().standard_normal(x.shape, dtype=np.float32).astype(x.dtype) * self.stddev
        return ops.add(x, noise)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}


@register
class GaussianDropout(_Random):
    """Training: y = x * n, n ~ N(1, rate / (1 - rate)) drawn afresh per call; inference: the identity.

    rate: in [0, 1) (Keras accepts 1 and then divides by zero). Input: any shape; output: the same shape.
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _fraction(self._who(), "rate", rate, closed=False)

    def call(self, x, training=False):
        if not training or self.rate == 0.0:
            return x
        std = math.sqrt(self.rate / (1.0 - self.rate))
        noise = self._rng().standard_normal(x.shape, dtype=np.float32).astype(x.dtype) * std + 1.0
        return ops.mul(x, noise)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


@register
class AlphaDropout(_Random):
    """Training: set each value (or each block of `noise_shape`) with probability `rate` to the SELU
    saturation alpha' = -scale * alpha, then y = a * x + b with a = ((1 - rate) (1 + rate alpha'^2))^-1/2 and
    b = -a alpha' rate, which keeps a zero-mean unit-variance input so; inference: the identity.

    rate: in [0, 1) (Keras accepts 1 and then divides by zero). noise_shape: None (the input's shape) or one
    entry per input axis, None for the input's size there. Input: any shape; output: the same shape.
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        who = self._who()
        self.rate = _fraction(who, "rate", rate, closed=False)
        if noise_shape is not None:
            try:
                noise_shape = tuple(noise_shape)
            except TypeError:
                noise_shape = "invalid"
            if isinstance(noise_shape, str) or not all(d is None or (_is_int(d) and d > 0) for d in noise_shape):
                raise ValueError(f"{who}: noise_shape must be None or a tuple of positive ints / None, "
                                 f"got {noise_shape!r}")
            noise_shape = tuple(None if d is None else int(d) for d in noise_shape)
        self.noise_shape = noise_shape

    def _noise(self, shape):
        if self.noise_shape is None:
            return tuple(shape)
        noise = tuple(s if d is None else d for s, d in zip(shape, self.noise_shape))
        if len(self.noise_shape) != len(shape) or any(d not in (1, s) for s, d in zip(shape, noise)):
            raise ValueError(f"{self._who()}: noise_shape {self.noise_shape} does not broadcast to the input "
                             f"shape {tuple(shape)}")
        return noise

    def call(self, x, training=False):
        if not training or self.rate == 0.0:
            return x
        p = self.rate
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        a = ((1.0 - p) * (1.0 + p * alpha_p ** 2)) ** -0.5
        b = -a * alpha_p * p
        kept = (self._rng().random(self._noise(x.shape), dtype=np.float32) >= p).astype(x.dtype)
        # a * (x * kept + alpha' * (1 - kept)) + b, the constant part computed once on the host
        return ops.add(ops.mul(x, kept * a), (1.0 - kept) * (a * alpha_p) + b)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape}


@register
class ActivityRegularization(Layer):
    """The identity, adding (l1 * sum(|x|) + l2 * sum(x^2)) / batch_size of its input to the
    training loss (through `add_loss`), as Keras' activity regularizer does.
    Input: any shape; output: the same shape.
    """
    supports_masking = True     # as Keras: the input mask passes through

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        for name, v in (("l1", l1), ("l2", l2)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < math.inf:
                raise ValueError(f"{who}: {name} must be a non-negative number, got {v!r}")
        self.l1, self.l2 = float(l1), float(l2)

    def call(self, x, training=False):
        if self.l1 or self.l2:
            penalty = None
            if self.l1:
                penalty = ops.scale(ops.sum(ops.abs(x)), self.l1)
            if self.l2:
                sq = ops.scale(ops.sum(ops.mul(x, x)), self.l2)
                penalty = sq if penalty is None else ops.add(penalty, sq)
            self.add_loss(ops.scale(penalty, 1.0 / x.shape[0]))
        return x

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}
