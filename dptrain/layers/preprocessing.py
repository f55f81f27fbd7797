"""Keras 3 preprocessing layers for numbers and images: Normalization, CategoryEncoding,
Discretization, Resizing, CenterCrop.

Float values go through engine ops (they may sit in a differentiable graph: Normalization,
Resizing and CenterCrop differentiate with respect to their input). Integer tokens and bin
indices are computed on the host with numpy, as everywhere in `dptrain.ops` (integers carry no
gradient). `adapt` reads numpy arrays, Tensors or iterables of batches on the host.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from engine import ops
from engine.tensor import Tensor, as_tensor

from .. import config as _config
from ..ops import image as _image
from .base import Layer, positive_int, register

__all__ = ["CategoryEncoding", "CenterCrop", "Discretization", "Normalization", "Resizing"]


def _host(x):
    """A Tensor's or an array's values as numpy."""
    return x.numpy() if isinstance(x, Tensor) else np.asarray(x)


def _as_float32(x):
    """x as a float32 Tensor (integer data, e.g. uint8 images, converted on the host: no gradient)."""
    if not isinstance(x, Tensor):
        x = as_tensor(np.asarray(x))
    kind = np.dtype(str(x.dtype)).kind
    if kind != "f":
        return as_tensor(np.asarray(x.numpy(), dtype=np.float32))
    return x if str(x.dtype) == "float32" else ops.cast(x, "float32")


def _data_format(data_format, who):
    fmt = _config.image_data_format() if data_format is None else str(data_format).lower()
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(f"{who}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return fmt


def _batches(data, who):
    """(first batch shape, iterator over every batch as numpy) for an array, a Tensor, or an
    iterable of batches ((x, y) tuples give x)."""
    if isinstance(data, (np.ndarray, Tensor)):
        a = _host(data)
        return a.shape, iter([a])
    if isinstance(data, (list, tuple)) and data and all(isinstance(v, (int, float, np.number)) for v in data):
        a = np.asarray(data)
        return a.shape, iter([a])
    if not hasattr(data, "__iter__") or isinstance(data, (str, bytes, dict)):
        raise TypeError(f"{who}: adapt() takes a numpy array, a Tensor or an iterable of batches, "
                        f"got {type(data).__name__}")
    it = iter(data)
    first = next(it, None)
    if first is None:
        raise ValueError(f"{who}: adapt() received an empty iterable (no batches)")

    def x_of(b):
        return _host(b[0] if isinstance(b, tuple) else b)
    first = x_of(first)
    return first.shape, (x_of(b) for b in itertools.chain([first], it))


# --- Normalization ----------------------------------------------------------------------------
@register
class Normalization(Layer):
    """y = (x - mean) / max(sqrt(variance), 1e-7) per index of the kept `axis` (axis=None: one
    scalar mean and variance); invert=True gives x = mean + y * max(sqrt(variance), 1e-7).

    mean / variance: given (broadcast to the kept axes, held as constants, no weights), or
    learned by `adapt(data)` (population mean and variance over the other axes) and held as
    Keras' three non-trainable weights `mean`, `variance` and `count` (int32, kept at 0 as in
    Keras 3), saved with the model. Not adapted and not given: mean 0 and variance 1 (the
    identity), as Keras.
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        if axis is None:
            axis = ()
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            axis = (int(axis),)
        else:
            try:
                axis = tuple(int(a) for a in axis)
            except (TypeError, ValueError):
                raise ValueError(f"{who}: axis must be an int, a tuple of ints or None, got {axis!r}") from None
        self.axis = axis
        if (mean is None) != (variance is None):
            raise ValueError(f"{who}: mean and variance must be given together, got mean={mean!r} and "
                             f"variance={variance!r}")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(f"{who}: mean and variance must have the same shape, got {np.shape(mean)} and "
                                 f"{np.shape(variance)}")
            if len(np.shape(mean)) > len(self.axis):
                raise ValueError(f"{who}: the rank of mean ({np.shape(mean)}) must be at most the number of "
                                 f"axes {self.axis}")
        self.input_mean = mean
        self.input_variance = variance
        self.invert = bool(invert)
        self.adapt_mean = self.adapt_variance = self.count = None
        self._const = None

    def build(self, input_shape):
        who = self._who()
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"{who}: axis {self.axis} is out of range for inputs of rank {ndim} "
                             f"(shape {input_shape})")
        self._keep = tuple(sorted(a % ndim for a in self.axis))
        for d in self._keep:
            if input_shape[d] is None:
                raise ValueError(f"{who}: the kept axis {d} must have a known size, got input shape {input_shape}")
        self._reduce = tuple(d for d in range(ndim) if d not in self._keep)
        self._bshape = tuple(input_shape[d] if d in self._keep else 1 for d in range(ndim))
        self._stat_shape = tuple(input_shape[d] for d in self._keep)
        self._ndim = ndim
        if self.input_mean is None:
            self.adapt_mean = self.add_weight("mean", self._stat_shape, "zeros", trainable=False)
            self.adapt_variance = self.add_weight("variance", self._stat_shape, "ones", trainable=False)
            self.count = self.add_weight(shape=(), initializer="zeros", dtype="int32", trainable=False, name="count")
        else:
            self._const = tuple(self._broadcast_given(v) for v in (self.input_mean, self.input_variance))

    def _broadcast_given(self, v):
        """A given mean / variance aligned to the kept axes from the right, broadcast to the input."""
        v = np.asarray(v, np.float32)
        shape = [1] * self._ndim
        for i in range(1, v.ndim + 1):
            shape[self._keep[-i]] = v.shape[-i]
        try:
            return np.broadcast_to(v.reshape(shape), self._bshape).copy()
        except ValueError:
            raise ValueError(f"{self._who()}: mean/variance of shape {v.shape} do not broadcast to the kept "
                             f"axes {self._stat_shape}") from None

    def adapt(self, data):
        """Set mean and variance from `data` (an array, a Tensor or an iterable of batches): the
        population statistics over every axis but the kept ones, merged batch by batch."""
        who = self._who()
        shape, batches = _batches(data, who)
        shape = tuple(shape)
        if not self.built:
            self.ensure_built(shape)
        elif self.input_mean is not None:
            raise ValueError(f"{who}: adapt() cannot change a mean and variance given to the constructor")
        if len(shape) != self._ndim or any(shape[d] != self.build_input_shape[d] for d in self._keep):
            raise ValueError(f"{who}: the layer was built for input shape {self.build_input_shape}, adapt() got "
                             f"data of shape {shape}")
        mean = var = None
        total = 0
        for b in batches:
            b = np.asarray(b, np.float64)
            if b.ndim != self._ndim or any(b.shape[d] != self.build_input_shape[d] for d in self._keep):
                raise ValueError(f"{who}: adapt() got a batch of shape {b.shape}, expected {self.build_input_shape}")
            n = math.prod(b.shape[d] for d in self._reduce) if self._reduce else 1
            bm, bv = b.mean(axis=self._reduce), b.var(axis=self._reduce)
            if mean is None:
                mean, var, total = bm, bv, n
                continue
            total += n
            wb = n / total
            new = mean * (1 - wb) + bm * wb
            var = (var + (mean - new) ** 2) * (1 - wb) + (bv + (bm - new) ** 2) * wb
            mean = new
        self.set_weights([np.asarray(mean, np.float32).reshape(self._stat_shape),
                          np.asarray(var, np.float32).reshape(self._stat_shape), np.zeros((), np.int32)])

    def compute_output_shape(self, input_shape):
        return input_shape

    def call(self, x, training=False):
        x = _as_float32(x)
        if self._const is not None:
            mean, var = (as_tensor(v) for v in self._const)
        else:
            mean = ops.reshape(self.adapt_mean, self._bshape)
            var = ops.reshape(self.adapt_variance, self._bshape)
        if x.ndim != self._ndim:
            raise self.shape_error(tuple(x.shape), f"rank {self._ndim}", "the layer was built for that rank")
        std = ops.clamp(ops.sqrt(var), min=1e-7)
        if self.invert:
            return ops.add(mean, ops.mul(x, std))
        return ops.div(ops.sub(x, mean), std)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": np.array(self.input_mean).tolist(), "variance": np.array(self.input_variance).tolist()}


# --- CategoryEncoding / Discretization -------------------------------------------------------------
_MODES = ("one_hot", "multi_hot", "count")


def _encode(layer, ids, mode, depth, count_weights=None, dtype=np.float32):
    """Integer ids -> one_hot / multi_hot / count vectors of `depth` (Keras' encode_categorical_inputs):
    one_hot adds an axis (replacing a last axis of 1); multi_hot and count reduce the second axis
    of rank 2 inputs (the tokens of a sample)."""
    who = layer._who()
    ids = np.asarray(ids)
    if ids.dtype.kind == "f":
        ids = ids.astype(np.int64)
    if ids.ndim == 0:
        ids = ids.reshape(1)
    bad = (ids < 0) | (ids >= depth)
    if bad.any():
        raise ValueError(f"{who}: token {int(ids[bad].flat[0])} is out of range: the values must be in "
                         f"[0, num_tokens={depth})")
    if mode == "one_hot":
        if ids.ndim > 1 and ids.shape[-1] == 1:
            ids = ids.reshape(ids.shape[:-1])
        return as_tensor((ids[..., None] == np.arange(depth)).astype(dtype))
    if ids.ndim > 2:
        raise NotImplementedError(f"{who}: output_mode={mode!r} on inputs of rank {ids.ndim} is not supported "
                                  f"(rank 1 or 2, as Keras' compute_output_shape)")
    onehot = (ids[..., None] == np.arange(depth)).astype(dtype)
    axis = 1 if ids.ndim > 1 else 0
    if mode == "multi_hot":
        return as_tensor(onehot.max(axis=axis))
    if count_weights is None:
        return as_tensor(onehot.sum(axis=axis))
    w = count_weights if isinstance(count_weights, Tensor) else as_tensor(np.asarray(count_weights, np.float32))
    if tuple(w.shape) != ids.shape:
        raise ValueError(f"{who}: count_weights must have the shape of the inputs {ids.shape}, got {w.shape}")
    return ops.sum(ops.mul(as_tensor(onehot.astype(str(w.dtype))), ops.reshape(w, tuple(w.shape) + (1,))), (axis,))


def _encoded_shape(input_shape, mode, depth):
    """Keras' compute_output_shape of CategoryEncoding."""
    input_shape = tuple(input_shape)
    if len(input_shape) == 0:
        return (depth,)
    if mode == "one_hot" and (input_shape[-1] != 1 or len(input_shape) == 1):
        return input_shape + (depth,)
    return input_shape[:-1] + (depth,)


@register
class CategoryEncoding(Layer):
    """Integer tokens in [0, num_tokens) -> vectors of num_tokens floats: 'one_hot' (one vector per
    token; a last axis of 1 is replaced), 'multi_hot' (1 where a token of the sample occurs) or
    'count' (how often it occurs, or the sum of `count_weights` passed to the call).

    Input: rank 1 or 2 integers ('one_hot': any rank). A token outside [0, num_tokens) raises
    ValueError. sparse=True raises NotImplementedError (Keras on torch has no sparse tensors).
    """

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode not in _MODES:
            raise ValueError(f"{who}: output_mode must be one of {_MODES}, got {output_mode!r}")
        if num_tokens is None:
            raise ValueError(f"{who}: num_tokens must be set (use IntegerLookup when the number of tokens is "
                             f"not known)")
        self.num_tokens = positive_int(num_tokens, "num_tokens", who)
        self.output_mode = output_mode
        if sparse:
            raise NotImplementedError(f"{who}: sparse=True is not supported (dptrain has no sparse tensors)")
        self.sparse = False

    def compute_output_shape(self, input_shape):
        return _encoded_shape(input_shape, self.output_mode, self.num_tokens)

    def call(self, x, count_weights=None):
        if count_weights is not None and self.output_mode != "count":
            raise ValueError(f"{self._who()}: count_weights is only used with output_mode='count', got "
                             f"output_mode={self.output_mode!r}")
        return _encode(self, _host(x), self.output_mode, self.num_tokens, count_weights)

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens, "output_mode": self.output_mode}


def _summarize(values, epsilon):
    """Keras' quantile summary of one batch: every step-th sorted value with weight step, where
    step = max(n * epsilon, 1). Returns [2, k]: values, weights."""
    values = np.sort(np.reshape(values, [-1]))
    step = max(values.size * epsilon, 1)
    picked = values[int(step - 1)::int(step)]
    return np.stack([picked, np.full_like(picked, step)])


def _compress(summary, epsilon):
    """Re-bin a summary onto the 1 / epsilon cumulative-weight quantiles (linear interpolation)."""
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + np.arange(0.0, 1.0, epsilon)
    cum = summary[1].cumsum()
    frac = cum / cum[-1]
    values = np.interp(percents, frac, summary[0])
    cum = np.interp(percents, frac, cum)
    weights = cum - np.concatenate((np.array([0]), cum[:-1]))
    return np.stack((values, weights)).astype("float32")


def _merge(a, b, epsilon):
    merged = np.concatenate((a, b), axis=1)
    merged = np.take(merged, np.argsort(merged[0]), axis=1)
    return _compress(merged, epsilon)


@register
class Discretization(Layer):
    """x -> the index of its bin: i such that bin_boundaries[i-1] <= x < bin_boundaries[i] (0 below
    the first boundary, len(bin_boundaries) from the last one), as int32 ('int'), or encoded over
    len(bin_boundaries) + 1 bins ('one_hot', 'multi_hot', 'count', float32).

    `bin_boundaries` are given, or `adapt(data)` estimates num_bins - 1 quantile boundaries with
    Keras' algorithm (a summary of every batch within `epsilon`, merged, then interpolated on the
    cumulative weights), so the boundaries equal Keras'. sparse=True raises NotImplementedError.
    """

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int", sparse=False,
                 **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        if sparse:
            raise NotImplementedError(f"{who}: sparse=True is not supported (dptrain has no sparse tensors)")
        if output_mode not in ("int",) + _MODES:
            raise ValueError(f"{who}: output_mode must be one of {('int',) + _MODES}, got {output_mode!r}")
        if num_bins is not None and (isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer))
                                     or num_bins < 0):
            raise ValueError(f"{who}: num_bins must be an integer >= 0, got {num_bins!r}")
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(f"{who}: give num_bins or bin_boundaries, not both (got num_bins={num_bins} and "
                             f"bin_boundaries={bin_boundaries})")
        if num_bins is None and bin_boundaries is None:
            raise ValueError(f"{who}: give either num_bins or bin_boundaries")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not 0 < epsilon <= 1:
            raise ValueError(f"{who}: epsilon must be a number in (0, 1], got {epsilon!r}")
        if bin_boundaries is not None:
            bin_boundaries = [float(b) for b in bin_boundaries]
            if any(b1 < b0 for b0, b1 in zip(bin_boundaries, bin_boundaries[1:])):
                raise ValueError(f"{who}: bin_boundaries must be sorted, got {bin_boundaries}")
        self.bin_boundaries = bin_boundaries
        self.num_bins = None if num_bins is None else int(num_bins)
        self.epsilon = float(epsilon)
        self.output_mode = output_mode
        self.sparse = False
        self._summary = np.array([[], []], dtype="float32")

    def adapt(self, data, steps=None):
        """Estimate num_bins - 1 quantile boundaries from `data` (an array, a Tensor, or an iterable
        of batches; `steps`: at most that many batches of an iterable)."""
        who = self._who()
        if self.num_bins is None:
            raise ValueError(f"{who}: adapt() needs a layer made with num_bins, not bin_boundaries")
        if steps is not None and isinstance(data, (np.ndarray, Tensor)):
            raise ValueError(f"{who}: steps is only used with an iterable of batches, not with an array")
        _, batches = _batches(data, who)
        self.reset_state()
        for i, b in enumerate(batches):
            if steps is not None and i >= steps:
                break
            self.update_state(b)
        self.finalize_state()

    def update_state(self, data):
        """Merge one batch into the quantile summary (Keras' update_state)."""
        b = np.asarray(_host(data)).astype("float32")
        self._summary = _merge(_summarize(b, self.epsilon), self._summary, self.epsilon)

    def finalize_state(self):
        """bin_boundaries from the summary (Keras' finalize_state); nothing with given boundaries."""
        if self.num_bins is not None:
            self.bin_boundaries = _compress(self._summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def reset_state(self):
        """Forget the data seen by update_state."""
        if self.num_bins is not None:
            self._summary = np.array([[], []], dtype="float32")

    def _depth(self):
        return len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else self.num_bins

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.output_mode == "int":
            return input_shape
        return _encoded_shape(input_shape, self.output_mode, self._depth())

    def compute_output_dtype(self, input_dtype):
        return "int32" if self.output_mode == "int" else "float32"

    def call(self, x, training=False):
        if self.bin_boundaries is None:
            raise ValueError(f"{self._who()}: no bin boundaries yet: pass bin_boundaries to the constructor or "
                             f"call adapt(data) first")
        ids = np.digitize(_host(x).astype(np.float32), np.asarray(self.bin_boundaries, np.float32)).astype(np.int32) \
            if self.bin_boundaries else np.zeros(np.shape(_host(x)), np.int32)
        if self.output_mode == "int":
            return as_tensor(ids)
        return _encode(self, ids, self.output_mode, self._depth())

    def get_config(self):
        return {**super().get_config(), "bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins,
                "epsilon": self.epsilon, "output_mode": self.output_mode, "sparse": self.sparse}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            boundaries = config.pop("bin_boundaries")     # an adapted layer: both are set
            layer = cls(**config)
            layer.bin_boundaries = list(boundaries)
            return layer
        return cls(**config)


# --- image resizing -------------------------------------------------------------------------
class ImageLayer(Layer):
    """An image layer: Keras' dict inputs ({"images", "bounding_boxes", "segmentation_masks",
    "labels"}) are not supported and say so."""

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, dict):
            raise NotImplementedError(f"{self._who()}: dict inputs (images with bounding_boxes / "
                                      f"segmentation_masks / labels) are not supported; pass the images array")
        return super().__call__(inputs, *args, **kwargs)


def _image_axes(layer, input_shape):
    """(height axis, width axis) of a rank 3 (one image) or rank 4 (batch) shape."""
    if len(input_shape) not in (3, 4):
        raise layer.shape_error(input_shape, "(batch, height, width, channels) or (height, width, channels)")
    lead = len(input_shape) - 3
    return (lead, lead + 1) if layer.data_format == "channels_last" else (lead + 1, lead + 2)


def _with_size(layer, input_shape, h, w):
    ha, wa = _image_axes(layer, tuple(input_shape))
    out = list(input_shape)
    out[ha], out[wa] = h, w
    return tuple(out)


@register
class Resizing(ImageLayer):
    """Images resized to (height, width) as Keras-on-torch's ops.image.resize: 'bilinear' (linear
    in each axis, half-pixel centres, as torch's interpolate without antialiasing) or 'nearest';
    optionally centre-cropped (crop_to_aspect_ratio) or padded with fill_value
    (pad_to_aspect_ratio) to the target aspect ratio first. Integer images come back rounded, in
    their dtype. Input [batch, H, W, C] (or one image [H, W, C]; channels_first with data_format).
    'bicubic', 'lanczos' and antialias=True when downsampling raise NotImplementedError."""

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, antialias=False, data_format=None,
                 **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        self.height = positive_int(height, "height", who)
        self.width = positive_int(width, "width", who)
        if interpolation in ("bicubic", "lanczos3", "lanczos5", "area", "gaussian", "mitchellcubic"):
            raise NotImplementedError(f"{who}: interpolation={interpolation!r} is not supported "
                                      f"(use 'bilinear' or 'nearest')")
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(f"{who}: interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(f"{who}: only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True")
        if fill_mode != "constant":
            raise ValueError(f"{who}: fill_mode must be 'constant', got {fill_mode!r}")
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = fill_mode
        self.fill_value = float(fill_value)
        self.antialias = bool(antialias)
        self.data_format = _data_format(data_format, who)

    def compute_output_shape(self, input_shape):
        return _with_size(self, input_shape, self.height, self.width)

    def compute_output_dtype(self, input_dtype):
        d = str(input_dtype)
        return d if d.startswith(("int", "uint")) else "float32"

    def call(self, x, training=False):
        if np.dtype(str(x.dtype)).kind == "f" and str(x.dtype) != "float32":
            x = ops.cast(x, "float32")
        try:
            return _image.resize(x, (self.height, self.width), interpolation=self.interpolation,
                                 antialias=self.antialias, crop_to_aspect_ratio=self.crop_to_aspect_ratio,
                                 pad_to_aspect_ratio=self.pad_to_aspect_ratio, fill_mode=self.fill_mode,
                                 fill_value=self.fill_value, data_format=self.data_format)
        except NotImplementedError as e:
            raise NotImplementedError(f"{self._who()}: {e}") from None

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "height": self.height,
                "width": self.width, "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio, "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
                "fill_mode": self.fill_mode, "fill_value": self.fill_value, "antialias": self.antialias}


def center_crop_or_resize(x, height, width, data_format):
    """Keras' CenterCrop: the centred (height, width) window when the image is at least that large
    (start (H - height) // 2), else the largest centred window of the target aspect ratio resized
    bilinearly to (height, width) (Keras' smart_resize). x: a float Tensor."""
    ha, wa, _ = _image._axes(x, data_format)
    h, w = x.shape[ha], x.shape[wa]
    if h >= height and w >= width:
        key = [slice(None)] * x.ndim
        top, left = (h - height) // 2, (w - width) // 2
        key[ha], key[wa] = slice(top, top + height), slice(left, left + width)
        return ops.getitem(x, tuple(key))
    return _image.resize(x, (height, width), interpolation="bilinear", crop_to_aspect_ratio=True,
                         data_format=data_format)


@register
class CenterCrop(ImageLayer):
    """The centred (height, width) window of each image (float32 out); an image smaller than that
    is centre-cropped to the target aspect ratio and resized bilinearly instead, as Keras.
    Input [batch, H, W, C] or one image [H, W, C] (channels_first with data_format)."""

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        self.height = positive_int(height, "height", who)
        self.width = positive_int(width, "width", who)
        self.data_format = _data_format(data_format, who)

    def compute_output_shape(self, input_shape):
        return _with_size(self, input_shape, self.height, self.width)

    def call(self, x, training=False):
        return center_crop_or_resize(_as_float32(x), self.height, self.width, self.data_format)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "height": self.height,
                "width": self.width}
