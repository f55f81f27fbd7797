"""`keras.ops.image`: resize (bilinear and nearest, as torch's interpolate) and
rgb_to_grayscale; the other image ops raise NotImplementedError."""
from __future__ import annotations

import numpy as np

from engine import ops as E

from ._base import floatx, from_host, host, is_float, not_implemented, tensor_of, to_tensor
from . import numpy as _np_ops

__all__ = ["affine_transform", "crop_images", "elastic_transform", "extract_patches", "extract_patches_3d",
           "gaussian_blur", "hsv_to_rgb", "map_coordinates", "pad_images", "perspective_transform", "resize",
           "rgb_to_grayscale", "rgb_to_hsv", "scale_and_translate", "sobel_edges", "ssim"]


def _float(x):
    x = to_tensor(x)
    return tensor_of(x, x.dtype if is_float(x.dtype) else floatx())


def _axes(images, data_format):
    """(height axis, width axis, channel axis) of a rank 3 or 4 image tensor."""
    if images.ndim not in (3, 4):
        raise ValueError(f"image ops need rank 3 (one image) or 4 (a batch), got shape {images.shape}")
    lead = images.ndim - 3
    if (data_format or "channels_last") == "channels_last":
        return lead, lead + 1, lead + 2
    return lead + 1, lead + 2, lead


def _linear_taps(n_in, n_out):
    """torch's bilinear source taps without align_corners: half-pixel centres, clamped at 0."""
    src = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    src = np.maximum(src, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    return lo, hi, src - lo


def _resize_axis(x, axis, n_out, interpolation):
    n_in = x.shape[axis]
    if n_in == n_out:
        return x
    if interpolation == "nearest":   # torch's "nearest-exact"
        idx = np.minimum(np.floor((np.arange(n_out) + 0.5) * (n_in / n_out)).astype(np.int64), n_in - 1)
        return _np_ops.take(x, idx, axis=axis)
    lo, hi, w = _linear_taps(n_in, n_out)
    shape = [1] * x.ndim
    shape[axis] = n_out
    w = np.asarray(w, x.dtype).reshape(shape)
    a, b = _np_ops.take(x, lo, axis=axis), _np_ops.take(x, hi, axis=axis)
    return E.add(E.mul(a, 1.0 - w), E.mul(b, w))


def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
           pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format=None):
    """Images resized to `size` = (height, width) with 'bilinear' or 'nearest' interpolation
    (torch's interpolate, half-pixel centres), optionally centre-cropped or padded to the
    target aspect ratio first."""
    if interpolation not in ("bilinear", "nearest"):
        raise NotImplementedError(f"image.resize: interpolation={interpolation!r} is not supported by dptrain "
                                  f"(use 'bilinear' or 'nearest')")
    if fill_mode != "constant":
        raise ValueError(f"image.resize: only fill_mode='constant' is supported, got {fill_mode!r}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("image.resize: only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True")
    size = tuple(int(s) for s in size)
    if len(size) != 2:
        raise ValueError(f"image.resize: size must be (height, width), got {size}")
    x = _float(images)
    ha, wa, _ = _axes(x, data_format)
    h, w = x.shape[ha], x.shape[wa]
    th, tw = size
    if antialias and interpolation == "bilinear" and (th < h or tw < w):
        raise NotImplementedError("image.resize: antialias=True when downsampling is not supported by dptrain")
    if crop_to_aspect_ratio:
        ch = max(min(h, int(float(w * th) / tw)), 1)
        cw = max(min(w, int(float(h * tw) / th)), 1)
        hs, ws = int(float(h - ch) / 2), int(float(w - cw) / 2)
        key = [slice(None)] * x.ndim
        key[ha], key[wa] = slice(hs, hs + ch), slice(ws, ws + cw)
        x = E.getitem(x, tuple(key))
    elif pad_to_aspect_ratio:
        ph, pw = max(h, int(float(w * th) / tw)), max(w, int(float(h * tw) / th))
        hs, ws = int(float(ph - h) / 2), int(float(pw - w) / 2)
        width = [(0, 0)] * x.ndim
        width[ha], width[wa] = (hs, hs), (ws, ws)
        x = _np_ops.pad(x, width, constant_values=float(fill_value))
    x = _resize_axis(x, ha, th, interpolation)
    x = _resize_axis(x, wa, tw, interpolation)
    src = to_tensor(images).dtype
    if not is_float(src):       # integer images come back rounded, in their dtype (as Keras)
        x = from_host(np.round(host(x)).astype(src))
    return x


def rgb_to_grayscale(images, data_format=None):
    """0.2989 R + 0.587 G + 0.114 B, keeping a channel axis of 1."""
    x = _float(images)
    _, _, ca = _axes(x, data_format)
    if x.shape[ca] == 1:
        return x
    if x.shape[ca] != 3:
        raise ValueError(f"image.rgb_to_grayscale: expected 1 or 3 channels, got shape {x.shape}")
    shape = [1] * x.ndim
    shape[ca] = 3
    weights = np.asarray([0.2989, 0.587, 0.114], x.dtype).reshape(shape)
    return E.sum(E.mul(x, weights), (ca,), True)


_WHY = "not supported by dptrain yet"
affine_transform = not_implemented("image.affine_transform", _WHY)
crop_images = not_implemented("image.crop_images", _WHY)
elastic_transform = not_implemented("image.elastic_transform", _WHY)
extract_patches = not_implemented("image.extract_patches", _WHY)
extract_patches_3d = not_implemented("image.extract_patches_3d", _WHY)
sobel_edges = not_implemented("image.sobel_edges", _WHY)
ssim = not_implemented("image.ssim", _WHY)
gaussian_blur = not_implemented("image.gaussian_blur", _WHY)
hsv_to_rgb = not_implemented("image.hsv_to_rgb", _WHY)
map_coordinates = not_implemented("image.map_coordinates", _WHY)
pad_images = not_implemented("image.pad_images", _WHY)
perspective_transform = not_implemented("image.perspective_transform", _WHY)
rgb_to_hsv = not_implemented("image.rgb_to_hsv", _WHY)
scale_and_translate = not_implemented("image.scale_and_translate", _WHY)
