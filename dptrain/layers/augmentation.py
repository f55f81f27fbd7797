"""Keras 3 image augmentation layers: RandomFlip, RandomRotation, RandomTranslation, RandomZoom,
RandomCrop, RandomContrast, RandomBrightness.

They act in training (fit, a call with training=True, and, as in Keras, a direct call on data
without `training`) and are the identity in inference (predict / evaluate, training=False),
giving float32 images; RandomCrop crops in
both (see its docstring). Images are [batch, H, W, C] or one image [H, W, C] (channels_first with
`data_format`). The random parameters are drawn on the host from the engine generator, so
`ag.manual_seed` makes a run reproducible; with `seed=`, a layer draws from a generator of its
own (the numbers differ from Keras'). Sampling positions and weights are computed with numpy from
the drawn parameters; the image values go through engine ops (getitem with integer index arrays,
mul, sum), so the output differentiates with respect to the images.
"""
from __future__ import annotations

import numpy as np

from engine import ops
from engine import random as _random

from ..ops import image as _image
from .base import positive_int, register
from .preprocessing import ImageLayer, _as_float32, _data_format, _with_size

__all__ = ["RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip", "RandomRotation", "RandomTranslation",
           "RandomZoom"]

_FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_INTERPOLATIONS = ("nearest", "bilinear")


def _number(v):
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


class _Augmentation(ImageLayer):
    """Seed, data_format, and the training switch: `augment(x)` runs only in training."""

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and not (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)
                                     and seed >= 0):
            raise ValueError(f"{self._who()}: seed must be a non-negative int or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self._own_rng = None if seed is None else np.random.default_rng(self.seed)
        self.data_format = _data_format(data_format, self._who())

    def _rng(self):
        return self._own_rng if self._own_rng is not None else _random.generator()

    def _check_rank(self, input_shape):
        if len(input_shape) not in (3, 4):
            raise self.shape_error(input_shape, "(batch, height, width, channels) or (height, width, channels)")

    def compute_output_shape(self, input_shape):
        self._check_rank(tuple(input_shape))
        return tuple(input_shape)

    def call(self, x, training=True):     # Keras: a direct call on data augments
        x = _as_float32(x)
        if not training:
            return x
        single = x.ndim == 3
        if single:
            x = ops.reshape(x, (1,) + tuple(x.shape))
        if self.data_format == "channels_first":
            x = ops.transpose(x, (0, 2, 3, 1))
        y = self.augment(x)
        if self.data_format == "channels_first":
            y = ops.transpose(y, (0, 3, 1, 2))
        return ops.reshape(y, tuple(y.shape[1:])) if single else y

    def augment(self, x):
        """x [B, H, W, C] float32 -> the augmented batch."""
        raise NotImplementedError

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


def _factor_pair(v, name, who, lo=-1.0, hi=1.0, open_lo=False):
    """Keras' factor: a number f -> (-|f|, |f|), or a pair (sorted); every value in [lo, hi]
    ((lo, hi] with open_lo)."""
    def check(f):
        if not _number(f) or f > hi or f < lo or (open_lo and f <= lo):
            raise ValueError(f"{who}: {name} must be a number or a pair of numbers in "
                             f"{'(' if open_lo else '['}{lo}, {hi}], got {v!r}")
        return float(f)
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{who}: {name} must be a number or a pair of numbers, got {v!r}")
        a, b = check(v[0]), check(v[1])
        return tuple(sorted((a, b)))
    f = abs(check(v))
    return (-f, f)


def _affine_sample(layer, x, transforms):
    """x [B, H, W, C] through one Keras transform [a0, a1, a2, b0, b1, b2, 0, 0] per image."""
    return _image.affine_transform(x, np.asarray(transforms, np.float32), interpolation=layer.interpolation,
                                   fill_mode=layer.fill_mode, fill_value=layer.fill_value)


class _Affine(_Augmentation):
    def _set_sampling(self, fill_mode, interpolation, fill_value):
        who = self._who()
        if fill_mode not in _FILL_MODES:
            raise NotImplementedError(f"{who}: fill_mode={fill_mode!r} is not supported; use one of {_FILL_MODES}")
        if interpolation not in _INTERPOLATIONS:
            raise NotImplementedError(f"{who}: interpolation={interpolation!r} is not supported; use one of "
                                      f"{_INTERPOLATIONS}")
        if not _number(fill_value):
            raise ValueError(f"{who}: fill_value must be a number, got {fill_value!r}")
        self.fill_mode, self.interpolation, self.fill_value = fill_mode, interpolation, float(fill_value)


def rotation_matrix(angles_deg, height, width):
    """Keras' rotation about the image centre ((w - 1) / 2, (h - 1) / 2): per angle (degrees),
    [cos, -sin, a2, sin, cos, b2, 0, 0] mapping output pixels to input positions."""
    a = np.deg2rad(np.asarray(angles_deg, np.float64))
    cx, cy = 0.5 * (width - 1), 0.5 * (height - 1)
    c, s = np.cos(a), np.sin(a)
    z = np.zeros_like(a)
    return np.stack([c, -s, cx - cx * c + cy * s, s, c, cy - cx * s - cy * c, z, z], axis=1)


@register
class RandomFlip(_Augmentation):
    """Training: each image flipped left-right ('horizontal'), top-bottom ('vertical') or both
    ('horizontal_and_vertical': as Keras, one draw per image flips both axes or neither), each with
    probability 1/2; inference: the identity."""

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if mode not in ("horizontal", "vertical", "horizontal_and_vertical"):
            raise ValueError(f"{self._who()}: mode must be 'horizontal', 'vertical' or 'horizontal_and_vertical', "
                             f"got {mode!r}")
        self.mode = mode

    def augment(self, x):
        b, h, w = x.shape[0], x.shape[1], x.shape[2]
        flips = self._rng().uniform(size=b) <= 0.5
        rows = np.broadcast_to(np.arange(h), (b, h)).copy()
        cols = np.broadcast_to(np.arange(w), (b, w)).copy()
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            cols[flips] = cols[flips, ::-1]
        if self.mode in ("vertical", "horizontal_and_vertical"):
            rows[flips] = rows[flips, ::-1]
        return ops.getitem(x, (np.arange(b)[:, None, None], rows[:, :, None], cols[:, None, :]))

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "mode": self.mode}


@register
class RandomRotation(_Affine):
    """Training: each image rotated about its centre by an angle drawn uniformly from
    factor * 360 degrees (factor f: [-f, f]; a pair: [lower, upper], each in [-1, 1]); output pixel
    (y, x) samples the input at the rotated position with `interpolation`, positions outside the
    image following `fill_mode` ('reflect', 'wrap', 'nearest', or 'constant' with fill_value).
    Inference: the identity."""

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = _factor_pair(factor, "factor", self._who())
        self._set_sampling(fill_mode, interpolation, fill_value)

    def augment(self, x):
        b, h, w = x.shape[0], x.shape[1], x.shape[2]
        angles = self._rng().uniform(self.factor[0] * 360.0, self.factor[1] * 360.0, size=b)
        return _affine_sample(self, x, rotation_matrix(angles, h, w))

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "interpolation": self.interpolation, "seed": self.seed}


@register
class RandomTranslation(_Affine):
    """Training: each image shifted by dy = u * H rows and dx = v * W columns, u drawn from
    height_factor and v from width_factor (a number f: [-f, f]; a pair: [lower, upper], in [-1, 1];
    positive moves the content down / right): output (y, x) = input (y - dy, x - dx), sampled with
    `interpolation` and `fill_mode` as RandomRotation. Inference: the identity."""

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        who = self._who()
        self.height_factor, self.width_factor = height_factor, width_factor
        self._h = _factor_pair(height_factor, "height_factor", who)
        self._w = _factor_pair(width_factor, "width_factor", who)
        self._set_sampling(fill_mode, interpolation, fill_value)

    def augment(self, x):
        b, h, w = x.shape[0], x.shape[1], x.shape[2]
        rng = self._rng()
        dy = rng.uniform(self._h[0], self._h[1], size=b) * h
        dx = rng.uniform(self._w[0], self._w[1], size=b) * w
        one, z = np.ones(b), np.zeros(b)
        return _affine_sample(self, x, np.stack([one, z, -dx, z, one, -dy, z, z], axis=1))

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor,
                "fill_mode": self.fill_mode, "interpolation": self.interpolation, "seed": self.seed,
                "fill_value": self.fill_value}


@register
class RandomZoom(_Affine):
    """Training: each image scaled about its centre: output (y, x) samples the input at
    (cy + zy (y - cy), cx + zx (x - cx)), zy = 1 + u with u drawn from height_factor (a number f:
    [-f, f]; a pair: [lower, upper], in (-1, 1]), zx likewise from width_factor (None: zx = zy).
    zoom > 1 shows more of the image (zooms out), as Keras. Sampled with `interpolation` and
    `fill_mode` as RandomRotation. Inference: the identity."""

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        who = self._who()
        self.height_factor, self.width_factor = height_factor, width_factor
        self._h = _factor_pair(height_factor, "height_factor", who, open_lo=True)
        self._w = None if width_factor is None else _factor_pair(width_factor, "width_factor", who, open_lo=True)
        self._set_sampling(fill_mode, interpolation, fill_value)

    def augment(self, x):
        b, h, w = x.shape[0], x.shape[1], x.shape[2]
        rng = self._rng()
        zy = rng.uniform(1.0 + self._h[0], 1.0 + self._h[1], size=b)
        zx = zy if self._w is None else rng.uniform(1.0 + self._w[0], 1.0 + self._w[1], size=b)
        z = np.zeros(b)
        t = np.stack([zx, z, (w - 1) / 2.0 * (1.0 - zx), z, zy, (h - 1) / 2.0 * (1.0 - zy), z, z], axis=1)
        return _affine_sample(self, x, t)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor,
                "fill_mode": self.fill_mode, "interpolation": self.interpolation, "seed": self.seed,
                "fill_value": self.fill_value}


@register
class RandomCrop(_Augmentation):
    """Output (height, width) images. Training, when the input is larger than that in both axes: a
    window at a random offset (one per batch, as Keras), top ~ U{0..H - height}, left likewise.
    Otherwise (inference, or a smaller input): the largest centred window of the target aspect
    ratio, resized bilinearly to (height, width) (Keras' documented inference behaviour; Keras 3.15's
    code returns the input unchanged at inference, keras-team/keras#21868)."""

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        who = self._who()
        self.height = positive_int(height, "height", who)
        self.width = positive_int(width, "width", who)

    def compute_output_shape(self, input_shape):
        self._check_rank(tuple(input_shape))
        return _with_size(self, input_shape, self.height, self.width)

    def call(self, x, training=True):
        x = _as_float32(x)
        ha, wa, _ = _image._axes(x, self.data_format)
        h, w = x.shape[ha], x.shape[wa]
        if training and h > self.height and w > self.width:
            rng = self._rng()
            top = int(rng.uniform(0, h - self.height + 1))
            left = int(rng.uniform(0, w - self.width + 1))
            key = [slice(None)] * x.ndim
            key[ha], key[wa] = slice(top, top + self.height), slice(left, left + self.width)
            return ops.getitem(x, tuple(key))
        if h == self.height and w == self.width:
            return x
        size = (self.height, self.width)
        return _image.resize(x, size, interpolation="bilinear", crop_to_aspect_ratio=True,
                             data_format=self.data_format)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width, "seed": self.seed}


def _value_range(v, who):
    if not isinstance(v, (tuple, list)) or len(v) != 2 or not all(_number(a) for a in v):
        raise ValueError(f"{who}: value_range must be a pair of numbers (low, high), got {v!r}")
    return sorted(float(a) for a in v)


@register
class RandomContrast(_Augmentation):
    """Training: y = clip((x - m) * c + m, value_range), m the mean of each image and channel over
    height and width, c drawn per image from [1 - lower, 1 + upper], where factor f in [0, 1] gives
    (lower, upper) = (0, f) as Keras' factor handling does (a pair: sorted, in [0, 1]). Inference:
    the identity."""

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        who = self._who()
        lo, hi = _factor_pair(factor, "factor", who, lo=0.0, hi=1.0) if not isinstance(factor, (tuple, list)) \
            else _factor_pair(factor, "factor", who, lo=-1.0, hi=1.0)
        self.factor = (max(lo, 0.0), hi)
        self.value_range = _value_range(value_range, who)

    def augment(self, x):
        b = x.shape[0]
        c = self._rng().uniform(1.0 - self.factor[0], 1.0 + self.factor[1], size=b).astype(np.float32)
        m = ops.mean(x, (1, 2), True)
        y = ops.add(ops.mul(ops.sub(x, m), c.reshape(b, 1, 1, 1)), m)
        return ops.clamp(y, min=self.value_range[0], max=self.value_range[1])

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": tuple(self.value_range),
                "seed": self.seed}


@register
class RandomBrightness(_Augmentation):
    """Training: y = clip(x + d, value_range), d drawn per image from [lower, upper] * (high - low)
    (factor f: [-f, f]; a pair: sorted, in [-1, 1]). Inference: the identity."""

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        who = self._who()
        self.factor = _factor_pair(factor, "factor", who)
        self.value_range = _value_range(value_range, who)

    def augment(self, x):
        b = x.shape[0]
        span = self.value_range[1] - self.value_range[0]
        d = (self._rng().uniform(self.factor[0], self.factor[1], size=b) * span).astype(np.float32)
        return ops.clamp(ops.add(x, d.reshape(b, 1, 1, 1)), min=self.value_range[0], max=self.value_range[1])

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": list(self.value_range),
                "seed": self.seed}

