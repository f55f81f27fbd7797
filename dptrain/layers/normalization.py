"""Keras 3 layers: normalization family (BatchNormalization, LayerNormalization, GroupNormalization,
UnitNormalization)."""
from __future__ import annotations

import math
import warnings

from engine import backend as _backend
from engine import ops
from engine.modules import init
from engine.ops.nn import BatchNorm as _BatchNormFn

from .base import Layer, register

__all__ = ["BatchNormalization", "GroupNormalization", "LayerNormalization", "UnitNormalization"]


@register
class BatchNormalization(Layer):
    """Normalise over every axis but the last.

    Training: the batch's own mean and (biased) variance; the moving statistics
    follow moving = momentum * moving + (1 - momentum) * batch, as Keras 3.
    Inference, and whenever the layer is frozen (trainable=False, as Keras):
    the moving statistics. With a mask (Embedding(mask_zero=True), Masking, ...), training
    takes the statistics over the unmasked positions only, as Keras.
    """
    supports_masking = True     # as Keras: the input mask passes through

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        if axis != -1:
            raise ValueError(f"{who}: only axis=-1 (channels-last) is supported, got axis={axis!r}")
        for nm, v, lo in (("momentum", momentum, 0.0), ("epsilon", epsilon, 0.0)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (v >= lo) or (nm == "momentum" and v > 1):
                raise ValueError(f"{who}: {nm} must be a number{' in [0, 1]' if nm == 'momentum' else ' >= 0'}, "
                                 f"got {v!r}")
        self.axis = -1
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)

    def build(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 2 or input_shape[-1] is None:
            raise self.shape_error(input_shape, "(batch, ..., channels) with a known channel count")
        c = (input_shape[-1],)
        self.gamma = self.add_weight("gamma", c, init.ones) if self.scale else None
        self.beta = self.add_weight("beta", c, init.zeros) if self.center else None
        self.moving_mean = self.add_weight("moving_mean", c, init.zeros, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", c, init.ones, trainable=False)

    def compute_output_shape(self, input_shape):
        c = self.moving_mean.shape[0]
        if not isinstance(input_shape, tuple) or len(input_shape) < 2 or input_shape[-1] != c:
            raise self.shape_error(input_shape, (None, "...", c),
                                   f"the layer was built for {c} channels on the last axis")
        return input_shape

    def _affine(self, x):
        if self.gamma is None and self.beta is None:
            return ()
        c = x.shape[-1]
        K = _backend.current
        gamma = self.gamma if self.gamma is not None else K.full((c,), 1.0, x.dtype)
        beta = self.beta if self.beta is not None else K.zeros((c,), x.dtype)
        return gamma, beta

    def call(self, x, training=False, mask=None):
        if mask is not None and len(mask.shape) != x.ndim - 1:
            raise ValueError(f"{self._who()}: the mask provided should be one dimension less than the inputs; "
                             f"got mask.shape={tuple(mask.shape)}, inputs.shape={tuple(x.shape)}")
        if training and self._trainable:
            return self._train(x) if mask is None else self._train_masked(x, mask)
        inv = ops.div(1.0, ops.sqrt(ops.add(self.moving_variance, self.epsilon)))
        scale = inv if self.gamma is None else ops.mul(self.gamma, inv)
        shift = ops.neg(ops.mul(self.moving_mean, scale))
        if self.beta is not None:
            shift = ops.add(shift, self.beta)
        return ops.add(ops.mul(x, scale), shift)

    def _train(self, x):
        m = x.size // x.shape[-1]
        if m < 2:
            raise ValueError(f"{self._who()}: training needs more than one value per channel, got input shape "
                             f"{x.shape} (use a batch size > 1)")
        stats = []
        y = _BatchNormFn.apply(x, *self._affine(x), eps=self.epsilon, stats=stats)
        mean, var = stats[0]
        K = _backend.current
        mom = self.momentum
        for moving, batch in ((self.moving_mean, mean), (self.moving_variance, var)):
            K.copy_into(moving.data, K.add(K.scale(moving.data, mom), K.scale(batch, 1.0 - mom)))
        return y

    def _train_masked(self, x, mask):
        """Training with a mask m (as Keras): the statistics over the unmasked positions only,
        mean = sum(m x) / (sum(m) + 1e-7), var = sum(m (x - mean)^2) / (sum(m) + 1e-7); every
        position is then normalised with them."""
        from .. import ops as dops
        m = dops.cast(dops.expand_dims(mask, -1), x.dtype)
        axes = tuple(range(x.ndim - 1))
        count = ops.add(ops.sum(m), 1e-7)
        mean = ops.div(ops.sum(ops.mul(x, m), axis=axes), count)
        diff = ops.mul(ops.sub(x, mean), m)
        var = ops.div(ops.sum(ops.mul(diff, diff), axis=axes), count)
        y = ops.mul(ops.sub(x, mean), ops.div(1.0, ops.sqrt(ops.add(var, self.epsilon))))
        if self.gamma is not None:
            y = ops.mul(y, self.gamma)
        if self.beta is not None:
            y = ops.add(y, self.beta)
        K = _backend.current
        mom = self.momentum
        for moving, batch in ((self.moving_mean, mean), (self.moving_variance, var)):
            K.copy_into(moving.data, K.add(K.scale(moving.data, mom), K.scale(batch.data, 1.0 - mom)))
        return y

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale}


# --- shared by LayerNormalization, GroupNormalization and UnitNormalization ------------------
_INITIALIZERS = {"zeros": init.zeros, "ones": init.ones}


def _initializer(who, arg, value):
    """'zeros' or 'ones' (any case, or Keras' serialised {'class_name': 'Zeros'|'Ones'})."""
    name = value.get("class_name") if isinstance(value, dict) and not value.get("config") else value
    if isinstance(name, str) and name.lower() in _INITIALIZERS:
        return name.lower()
    raise NotImplementedError(f"{who}: {arg}={value!r} is not supported yet; only 'zeros' and 'ones'")


def _no_penalties(who, **args):
    for arg, value in args.items():
        if value is not None:
            raise NotImplementedError(f"{who}: {arg}={value!r} is not supported yet (regularizers and constraints "
                                      f"on normalization weights); pass None")


def _epsilon(who, eps):
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 <= eps < math.inf:
        raise ValueError(f"{who}: epsilon must be a number >= 0, got {eps!r}")
    return float(eps)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _axis_arg(who, axis, allow_list=True):
    """An int, or (allow_list) a non-empty list of ints, as Keras stores it."""
    if allow_list and isinstance(axis, (list, tuple)) and axis and all(_is_int(a) for a in axis):
        return [int(a) for a in axis]
    if _is_int(axis):
        return int(axis)
    raise TypeError(f"{who}: axis must be an int{' or a list/tuple of ints' if allow_list else ''}, got {axis!r}")


def _resolve_axes(layer, axis, input_shape, allow_batch=False):
    """`axis` (int or list) as sorted non-negative axes of `input_shape`."""
    nd = len(input_shape)
    out = []
    for a in axis if isinstance(axis, list) else [axis]:
        if not -nd <= a < nd:
            raise layer.shape_error(input_shape, f"an input with axis {a}", f"axis={axis!r} is out of bounds")
        out.append(a % nd)
    if len(set(out)) != len(out):
        raise ValueError(f"{layer._who()}: axis={axis!r} names the same axis twice")
    if 0 in out and not allow_batch:
        raise layer.shape_error(input_shape, "feature axes to normalise over",
                                f"axis={axis!r} includes the batch axis 0")
    return tuple(sorted(out))


def _moments(x, axes):
    """The mean over `axes`, x - mean, and the biased variance (kept dims, for broadcasting)."""
    mean = ops.mean(x, axis=axes, keepdims=True)
    xc = ops.sub(x, mean)
    return mean, xc, ops.mean(ops.mul(xc, xc), axis=axes, keepdims=True)


def _rsqrt(v, eps):
    return ops.div(1.0, ops.sqrt(ops.add(v, eps)))


class _AffineNorm(Layer):
    """The gamma/beta arguments LayerNormalization and GroupNormalization share."""
    supports_masking = True     # as Keras: the input mask passes through

    def _set_affine_args(self, epsilon, center, scale, beta_initializer, gamma_initializer, **penalties):
        who = self._who()
        self.epsilon = _epsilon(who, epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = _initializer(who, "beta_initializer", beta_initializer)
        self.gamma_initializer = _initializer(who, "gamma_initializer", gamma_initializer)
        _no_penalties(who, **penalties)

    def _add_affine(self, shape, gamma=True, beta=True):
        self.gamma = self.add_weight("gamma", shape, _INITIALIZERS[self.gamma_initializer]) if gamma else None
        self.beta = self.add_weight("beta", shape, _INITIALIZERS[self.beta_initializer]) if beta else None

    def _affine(self, y, shape):
        """y * gamma + beta, the weights reshaped to `shape` for broadcasting."""
        if self.gamma is not None:
            y = ops.mul(y, ops.reshape(self.gamma, shape))
        if self.beta is not None:
            y = ops.add(y, ops.reshape(self.beta, shape))
        return y

    def _affine_config(self, **first):
        """The base config, `first`, then the shared arguments (in Keras' order)."""
        return {**super().get_config(), **first, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "beta_initializer": self.beta_initializer,
                "gamma_initializer": self.gamma_initializer, "beta_regularizer": None, "gamma_regularizer": None,
                "beta_constraint": None, "gamma_constraint": None}


@register
class LayerNormalization(_AffineNorm):
    """Per sample, over `axis`: y = (x - mean) / sqrt(var + epsilon) * gamma + beta (biased variance).

    axis: an int or a list of ints (not the batch axis); gamma and beta have the input's sizes on those
    axes. rms_scaling=True (deprecated in Keras 3, kept for its configs): y = x / sqrt(var + epsilon) * gamma,
    without beta. Input: any shape with known sizes on `axis`; output: the same shape.
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, rms_scaling=False,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axis_arg(self._who(), axis)
        self._set_affine_args(epsilon, center, scale, beta_initializer, gamma_initializer,
                              beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                              beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        self.rms_scaling = bool(rms_scaling)
        if self.rms_scaling:
            warnings.warn("You passed `rms_scaling=True`, which is deprecated. This argument incorrectly scales "
                          "the input by the variance, not the root mean square. To correctly use RMS "
                          "Normalization, please use `keras.layers.RMSNormalization` instead.", stacklevel=2)

    def build(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 2:
            raise self.shape_error(input_shape, "(batch, ...)")
        self._axes = _resolve_axes(self, self.axis, input_shape)
        self._ndim = len(input_shape)
        self._sizes = tuple(input_shape[a] for a in self._axes)
        if None in self._sizes:
            raise self.shape_error(input_shape, "known sizes on the normalised axes", f"axis={self.axis!r}")
        self._add_affine(self._sizes, gamma=self.scale or self.rms_scaling, beta=self.center and not self.rms_scaling)

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) != self._ndim or \
                tuple(input_shape[a] for a in self._axes) != self._sizes:
            raise self.shape_error(input_shape, f"a rank-{self._ndim} input with sizes {self._sizes} on axes "
                                   f"{self._axes}", "the layer was built for that input")
        return input_shape

    def _weight_shape(self, nd):
        """The weights' shape broadcast against a rank-nd input."""
        shape = [1] * nd
        for a, n in zip(self._axes, self._sizes):
            shape[a] = n
        return tuple(shape)

    def call(self, x, training=False):
        axes, nd = self._axes, x.ndim
        if self.rms_scaling:
            _, _, var = _moments(x, axes)
            return self._affine(ops.mul(x, _rsqrt(var, self.epsilon)), self._weight_shape(nd))
        k = len(axes)
        if axes == tuple(range(nd - k, nd)):
            # trailing axes: the engine's fused layer_norm over their flattened size
            n = math.prod(x.shape[nd - k:])
            if k == 1:
                return ops.layer_norm(x, self.gamma, self.beta, eps=self.epsilon)
            flat = [None if w is None else ops.reshape(w, (n,)) for w in (self.gamma, self.beta)]
            y = ops.layer_norm(ops.reshape(x, tuple(x.shape[:nd - k]) + (n,)), *flat, eps=self.epsilon)
            return ops.reshape(y, tuple(x.shape))
        _, xc, var = _moments(x, axes)
        return self._affine(ops.mul(xc, _rsqrt(var, self.epsilon)), self._weight_shape(nd))

    def get_config(self):
        return {**self._affine_config(axis=self.axis), "rms_scaling": self.rms_scaling}


@register
class GroupNormalization(_AffineNorm):
    """Split the channels on `axis` into `groups` groups; per sample and group, over the group's channels
    and every other non-batch axis: y = (x - mean) / sqrt(var + epsilon) * gamma + beta, gamma and beta
    per channel. groups=-1: one channel per group (instance normalization).

    Input: any shape with a known channel count, a multiple of groups; output: the same shape.
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        if not _is_int(groups) or (groups <= 0 and groups != -1):
            raise ValueError(f"{who}: groups must be a positive integer (or -1 for instance normalization), "
                             f"got {groups!r}")
        self.groups = int(groups)
        self.axis = _axis_arg(who, axis, allow_list=False)
        self._set_affine_args(epsilon, center, scale, beta_initializer, gamma_initializer,
                              beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                              beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)

    def build(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 2:
            raise self.shape_error(input_shape, "(batch, ..., channels)")
        (a,) = _resolve_axes(self, self.axis, input_shape)
        dim = input_shape[a]
        if dim is None:
            raise self.shape_error(input_shape, f"a known channel count on axis {self.axis}")
        groups = dim if self.groups == -1 else self.groups
        if dim < groups:
            raise ValueError(f"{self._who()}: groups={groups} is more than the {dim} channels on axis {self.axis}")
        if dim % groups:
            raise ValueError(f"{self._who()}: the {dim} channels on axis {self.axis} are not a multiple of "
                             f"groups={groups}")
        self._channel_axis, self._groups, self._channels, self._ndim = a, groups, dim, len(input_shape)
        self._add_affine((dim,), gamma=self.scale, beta=self.center)

    def compute_output_shape(self, input_shape):
        a, c = self._channel_axis, self._channels
        if not isinstance(input_shape, tuple) or len(input_shape) != self._ndim or input_shape[a] != c:
            raise self.shape_error(input_shape, f"a rank-{self._ndim} input with {c} channels on axis {a}",
                                   "the layer was built for that input")
        return input_shape

    def call(self, x, training=False):
        a, g, nd = self._channel_axis, self._groups, x.ndim
        per_group = self._channels // g
        shape = tuple(x.shape)
        # (..., channels, ...) -> (..., groups, channels per group, ...); statistics over all but batch and groups
        xg = ops.reshape(x, shape[:a] + (g, per_group) + shape[a + 1:])
        _, xc, var = _moments(xg, tuple(i for i in range(1, nd + 1) if i != a))
        y = self._affine(ops.mul(xc, _rsqrt(var, self.epsilon)), (1,) * a + (g, per_group) + (1,) * (nd - a - 1))
        return ops.reshape(y, shape)

    def get_config(self):
        return self._affine_config(groups=self.groups, axis=self.axis)


@register
class UnitNormalization(Layer):
    """y = x / max(||x||_2, 1e-12), the L2 norm over `axis` (an int or a list of ints) per position.

    Input: any shape; output: the same shape.
    """
    supports_masking = True     # as Keras: the input mask passes through

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _axis_arg(self._who(), axis)

    def compute_output_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 2:
            raise self.shape_error(input_shape, "(batch, ...)")
        _resolve_axes(self, self.axis, input_shape, allow_batch=True)
        return input_shape

    def call(self, x, training=False):
        axes = _resolve_axes(self, self.axis, x.shape, allow_batch=True)
        sq = ops.sum(ops.mul(x, x), axis=axes, keepdims=True)
        # 1 / sqrt(max(sum, 1e-24)) = min(1 / norm, 1e12), as Keras' ops.normalize
        return ops.mul(x, ops.div(1.0, ops.sqrt(ops.clamp(sq, min=1e-24))))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
