"""`keras.ops.image`: resize (bilinear and nearest, as torch's interpolate), affine_transform
(Keras-on-torch's map_coordinates: nearest / bilinear, fill modes constant, nearest, wrap, mirror,
reflect), crop_images and rgb_to_grayscale; the other image ops raise NotImplementedError.

Sampling positions and weights are computed on the host from shapes and transforms (they never
depend on the image values); the images themselves go through the engine's `getitem` with integer
index arrays, `mul` and `sum`, so the result differentiates with respect to the images."""
from __future__ import annotations

import numpy as np

from engine import ops as E

from ._base import floatx, from_host, host, is_float, is_tensor, not_implemented, tensor_of, to_tensor
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


_FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")


def _fix_index(index, size, fill_mode):
    """Out-of-range integer sample positions mapped inside [0, size) as Keras-on-torch does:
    clipped (constant: those taps are then masked; nearest), periodic (wrap), mirrored about the
    edge pixels (mirror: c b | a b c | b a) or about the edges (reflect: b a | a b c | c b)."""
    if fill_mode in ("constant", "nearest"):
        return np.clip(index, 0, size - 1)
    if fill_mode == "wrap":
        return np.mod(index, size)

    def mirror(i, n):
        s = n - 1
        return np.abs(np.mod(i + s, 2 * s) - s) if s > 0 else np.zeros_like(i)
    if fill_mode == "mirror":
        return mirror(index, size)
    return np.floor_divide(mirror(2 * index + 1, 2 * size + 1) - 1, 2)      # reflect


def _taps(coord, interpolation):
    """[(integer position, weight)] of each sample coordinate: round half to even (nearest), or
    floor and floor + 1 with linear weights (bilinear)."""
    if interpolation == "nearest":
        return [(np.round(coord).astype(np.int64), np.ones_like(coord))]
    lo = np.floor(coord)
    w = coord - lo
    lo = lo.astype(np.int64)
    return [(lo, 1.0 - w), (lo + 1, w)]


def _sample_plan(height, width, rows, cols, interpolation="bilinear", fill_mode="constant"):
    """How to sample an image of `height` x `width` at real coordinates rows[b, i, j], cols[b, i, j]:
    (row index, column index, weight) arrays of shape [taps, B, H', W'] and the weight left for the
    fill value (the taps that fall outside the image when fill_mode='constant'), [B, H', W'].
    Pure numpy: the plan depends on shapes and coordinates only."""
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"image.affine_transform: interpolation must be 'nearest' or 'bilinear', "
                         f"got {interpolation!r}")
    if fill_mode not in _FILL_MODES:
        raise ValueError(f"image.affine_transform: fill_mode must be one of {_FILL_MODES}, got {fill_mode!r}")
    ri, ci, ws, left = [], [], [], np.zeros(np.shape(rows))
    for r, wr in _taps(np.asarray(rows, np.float64), interpolation):
        for c, wc in _taps(np.asarray(cols, np.float64), interpolation):
            w = wr * wc
            if fill_mode == "constant":
                inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
                left = left + np.where(inside, 0.0, w)
                w = np.where(inside, w, 0.0)
            ri.append(_fix_index(r, height, fill_mode))
            ci.append(_fix_index(c, width, fill_mode))
            ws.append(w)
    return np.stack(ri), np.stack(ci), np.stack(ws), left


def _sample(images, rows, cols, interpolation="bilinear", fill_mode="constant", fill_value=0.0):
    """images [B, H, W, C] (a float Tensor) sampled at rows / cols [B, H', W'] -> [B, H', W', C]:
    sum over taps of weight * images[b, row, col] (+ the fill weight * fill_value)."""
    b, h, w = images.shape[0], images.shape[1], images.shape[2]
    ri, ci, ws, left = _sample_plan(h, w, rows, cols, interpolation, fill_mode)
    bi = np.broadcast_to(np.arange(b).reshape(1, b, 1, 1), ri.shape)
    picked = E.getitem(images, (bi, ri, ci))                         # [taps, B, H', W', C]
    dt = images.dtype
    out = E.sum(E.mul(picked, np.asarray(ws[..., None], dt)), (0,))
    if fill_mode == "constant" and float(fill_value) != 0.0 and left.any():
        out = E.add(out, np.asarray(left[..., None] * float(fill_value), dt))
    return out


def _transform_matrix(transform, batch):
    t = np.asarray(host(transform) if is_tensor(transform) else transform)
    t = t.astype(np.float32 if t.dtype == np.float32 else np.float64)
    if t.ndim not in (1, 2) or t.shape[-1] != 8:
        raise ValueError(f"image.affine_transform: transform must have shape (8,) or (batch, 8), got {t.shape}")
    t = t.reshape(-1, 8)
    if t.shape[0] not in (1, batch):
        raise ValueError(f"image.affine_transform: {t.shape[0]} transforms for a batch of {batch} images")
    return np.broadcast_to(t, (batch, 8))


def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0,
                     data_format=None):
    """Each output pixel (y, x) takes the input at x_in = a0 x + a1 y + a2, y_in = b0 x + b1 y + b2,
    for transform [a0, a1, a2, b0, b1, b2, c0, c1] (one per image, or one for all; c0 and c1 are
    ignored, as Keras-on-torch does). Interpolation 'nearest' or 'bilinear'; positions outside the
    image follow `fill_mode` ('constant' blends in `fill_value`). The transform is read on the host
    (no gradient through it); the images differentiate."""
    src = to_tensor(images).dtype
    x = _float(images)
    if x.ndim not in (3, 4):
        raise ValueError(f"image.affine_transform: images must have rank 3 or 4, got shape {x.shape}")
    single = x.ndim == 3
    if single:
        x = E.reshape(x, (1,) + tuple(x.shape))
    first = (data_format or "channels_last") == "channels_first"
    if first:
        x = E.transpose(x, (0, 2, 3, 1))
    n, h, w = x.shape[0], x.shape[1], x.shape[2]
    t = _transform_matrix(transform, n)
    # in the transform's precision (float32 as Keras' layers give it), summed in torch's order, so
    # that 'nearest' rounds coordinates that land near .5 the same way
    yy, xx = np.meshgrid(np.arange(h, dtype=t.dtype), np.arange(w, dtype=t.dtype), indexing="ij")
    cols = (yy * t[:, 1, None, None] + xx * t[:, 0, None, None]) + t[:, 2, None, None]
    rows = (yy * t[:, 4, None, None] + xx * t[:, 3, None, None]) + t[:, 5, None, None]
    out = _sample(x, rows, cols, interpolation, fill_mode, fill_value)
    if first:
        out = E.transpose(out, (0, 3, 1, 2))
    if single:
        out = E.reshape(out, tuple(out.shape[1:]))
    if not is_float(src):
        out = from_host(np.round(host(out)).astype(src))
    return out


def crop_images(images, top_cropping=None, left_cropping=None, bottom_cropping=None, right_cropping=None,
                target_height=None, target_width=None, data_format=None):
    """images[..., top:top + target_height, left:left + target_width, ...]: give exactly two of
    (top_cropping, bottom_cropping, target_height) and two of (left_cropping, right_cropping,
    target_width)."""
    x = to_tensor(images)
    ha, wa, _ = _axes(x, data_format)
    h, w = x.shape[ha], x.shape[wa]
    spans = []
    for lo, hi, size, n, names in ((top_cropping, bottom_cropping, target_height, h,
                                    ("top_cropping", "bottom_cropping", "target_height")),
                                   (left_cropping, right_cropping, target_width, w,
                                    ("left_cropping", "right_cropping", "target_width"))):
        if [lo, hi, size].count(None) != 1:
            raise ValueError(f"image.crop_images: give exactly two of {', '.join(names)}; got "
                             f"{names[0]}={lo}, {names[1]}={hi}, {names[2]}={size}")
        for v, name in zip((lo, hi, size), names):
            if v is not None and int(v) < 0:
                raise ValueError(f"image.crop_images: {name} must be >= 0, got {v}")
        lo = n - size - hi if lo is None else int(lo)
        size = n - lo - hi if size is None else int(size)
        if lo < 0 or size < 0 or lo + size > n:
            raise ValueError(f"image.crop_images: the crop [{lo}, {lo + size}) does not fit in {n} pixels "
                             f"(images of shape {x.shape})")
        spans.append(slice(lo, lo + size))
    key = [slice(None)] * x.ndim
    key[ha], key[wa] = spans
    key = tuple(key)
    return E.getitem(x, key) if is_float(x.dtype) else from_host(host(x)[key])


_WHY = "not supported by dptrain yet"
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
