"""Losses as Keras 3 (`keras.losses`): Loss classes, their functions, and the target checks `fit`
runs before training.

A loss function `fn(y_true, y_pred, ...)` returns Keras' per-sample values (the mean or sum over
the last axis, so an output [N, T, C] gives [N, T]) as a Tensor composed from engine ops, so it
is differentiable in `y_pred` and, when `y_true` is a Tensor, in `y_true` too. A `Loss` object
reduces those values with its `reduction` ("sum_over_batch_size" by default: the sum of the
weighted values over their count; "sum"; "mean_with_sample_weight"; "none").

Crossentropies take probabilities by default, clipped to [1e-7, 1 - 1e-7] as Keras does; with
`from_logits=True` they run on logits through stable forms. `compile` fuses a softmax / sigmoid
output layer with the matching crossentropy (`fuses`): the step then hands the loss the logits.
"""
from __future__ import annotations

import math
import re

import numpy as np

from engine import ops
from engine.ops.losses import class_targets
from engine.tensor import Tensor, as_tensor
from .suggest import did_you_mean

EPSILON = 1e-7          # keras.config.epsilon()
_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)
_MEAN_REDUCTIONS = ("sum_over_batch_size", "mean")


# --- helpers ----------------------------------------------------------------------------------
def _snake(name):
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _pred(y_pred):
    """y_pred as a float Tensor (kept as is when it already is one)."""
    if isinstance(y_pred, Tensor):
        return y_pred
    return as_tensor(np.asarray(y_pred, dtype=np.float32))


def _true(y_true, like):
    """y_true as a Tensor of like's dtype; a Tensor stays on the tape (distillation targets)."""
    if isinstance(y_true, Tensor):
        if y_true.dtype == like.dtype:
            return y_true
        if y_true.dtype.kind == "f":
            return ops.cast(y_true, like.dtype)
        return as_tensor(y_true.numpy().astype(like.dtype))
    return as_tensor(np.asarray(y_true).astype(like.dtype, copy=False))


def _numpy(y):
    return y.numpy() if isinstance(y, Tensor) else np.asarray(y)


def _reshape(t, shape):
    return t if tuple(t.shape) == tuple(shape) else ops.reshape(t, tuple(shape))


def _same_rank(x1, x2, expand_rank_1=True):
    """Keras' squeeze_or_expand_to_same_rank: squeeze / expand a trailing 1 when ranks differ by one."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = _reshape(x2, tuple(x2.shape) + (1,))
        else:
            x1 = _reshape(x1, tuple(x1.shape[:-1]))
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = _reshape(x1, tuple(x1.shape) + (1,))
        else:
            x2 = _reshape(x2, tuple(x2.shape[:-1]))
    return x1, x2


def _pair(y_true, y_pred):
    """(t, p) as Tensors of the same rank, as Keras' regression losses see them."""
    p = _pred(y_pred)
    t, p = _same_rank(_true(y_true, p), p)
    return t, p


def _mean(t, axis=-1):
    return ops.mean(t, axis=axis) if t.ndim else t


def _softplus(x):
    """log(1 + exp(x)) = relu(x) + log(1 + exp(-|x|)), stable for any x."""
    return ops.add(ops.relu(x), ops.log(ops.add(ops.exp(ops.neg(ops.abs(x))), 1.0)))


def _l2_normalize(x, axis):
    """x / max(||x||, eps) along `axis` (Keras' normalize)."""
    sq = ops.sum(ops.mul(x, x), axis=axis, keepdims=True)
    return ops.div(x, ops.sqrt(ops.clamp(sq, EPSILON * EPSILON, None)))


def _elementwise_bce(t, p, from_logits):
    """Per-element binary crossentropy (torch's forms, which Keras 3 on torch uses)."""
    if from_logits:    # max(x, 0) - x*t + log(1 + exp(-|x|))
        return ops.add(ops.sub(ops.relu(p), ops.mul(p, t)), ops.log(ops.add(ops.exp(ops.neg(ops.abs(p))), 1.0)))
    q = ops.clamp(p, EPSILON, 1.0 - EPSILON)
    return ops.neg(ops.add(ops.mul(t, ops.log(q)), ops.mul(ops.sub(1.0, t), ops.log(ops.sub(1.0, q)))))


def _smooth_binary(y_true, label_smoothing):
    if not label_smoothing:
        return y_true
    if isinstance(y_true, Tensor):
        return ops.add(ops.scale(y_true, 1.0 - label_smoothing), 0.5 * label_smoothing)
    return np.asarray(y_true, np.float32) * (1.0 - label_smoothing) + 0.5 * label_smoothing


def _smooth_categorical(y_true, label_smoothing, n_classes):
    if not label_smoothing:
        return y_true
    if isinstance(y_true, Tensor):
        return ops.add(ops.scale(y_true, 1.0 - label_smoothing), label_smoothing / n_classes)
    return np.asarray(y_true, np.float32) * (1.0 - label_smoothing) + label_smoothing / n_classes


def _log_probs(p, axis):
    """log of probabilities renormalised along `axis` and clipped to [eps, 1 - eps] (Keras)."""
    q = ops.div(p, ops.sum(p, axis=axis, keepdims=True))
    return ops.log(ops.clamp(q, EPSILON, 1.0 - EPSILON))


def _hinge_labels(t):
    """Keras turns 0/1 labels into -1/1 when every label of the batch is 0 or 1."""
    a = _numpy(t)
    if np.all((a == 0) | (a == 1)):
        return ops.sub(ops.scale(t, 2.0), 1.0)
    return t


def _check_axis(axis, who):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{who}: axis must be an int, got {axis!r}")
    return int(axis)


# --- the loss functions (keras.losses.<name>) ------------------------------------------------------
def mean_squared_error(y_true, y_pred):
    """mean((y_true - y_pred)^2, axis=-1)."""
    t, p = _pair(y_true, y_pred)
    d = ops.sub(t, p)
    return _mean(ops.mul(d, d))


def mean_absolute_error(y_true, y_pred):
    """mean(|y_true - y_pred|, axis=-1)."""
    t, p = _pair(y_true, y_pred)
    return _mean(ops.abs(ops.sub(t, p)))


def mean_absolute_percentage_error(y_true, y_pred):
    """100 * mean(|y_true - y_pred| / max(|y_true|, eps), axis=-1)."""
    t, p = _pair(y_true, y_pred)
    diff = ops.abs(ops.div(ops.sub(t, p), ops.clamp(ops.abs(t), EPSILON, None)))
    return ops.scale(_mean(diff), 100.0)


def mean_squared_logarithmic_error(y_true, y_pred):
    """mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))^2, axis=-1)."""
    t, p = _pair(y_true, y_pred)
    d = ops.sub(ops.log(ops.add(ops.clamp(p, EPSILON, None), 1.0)), ops.log(ops.add(ops.clamp(t, EPSILON, None), 1.0)))
    return _mean(ops.mul(d, d))


def cosine_similarity(y_true, y_pred, axis=-1):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis): -1 for aligned vectors."""
    t, p = _pair(y_true, y_pred)
    return ops.neg(ops.sum(ops.mul(_l2_normalize(t, axis), _l2_normalize(p, axis)), axis=axis))


def huber(y_true, y_pred, delta=1.0):
    """mean(0.5 e^2 if |e| <= delta else delta |e| - 0.5 delta^2, axis=-1), e = y_pred - y_true."""
    t, p = _pair(y_true, y_pred)
    a = ops.abs(ops.sub(p, t))
    c = ops.clamp(a, None, float(delta))       # min(|e|, delta): 0.5 c^2 + delta (|e| - c)
    return _mean(ops.add(ops.scale(ops.mul(c, c), 0.5), ops.scale(ops.sub(a, c), float(delta))))


def log_cosh(y_true, y_pred):
    """mean(log(cosh(y_pred - y_true)), axis=-1), as x + softplus(-2x) - log 2."""
    t, p = _pair(y_true, y_pred)
    x = ops.sub(p, t)
    return _mean(ops.sub(ops.add(x, _softplus(ops.scale(x, -2.0))), math.log(2.0)))


def kl_divergence(y_true, y_pred):
    """sum(t * log(t / p), axis=-1) with t, p clipped to [eps, 1]."""
    p = _pred(y_pred)
    t = ops.clamp(_true(y_true, p), EPSILON, 1.0)
    p = ops.clamp(p, EPSILON, 1.0)
    return ops.sum(ops.mul(t, ops.log(ops.div(t, p))), axis=-1)


def poisson(y_true, y_pred):
    """mean(y_pred - y_true * log(y_pred + eps), axis=-1)."""
    p = _pred(y_pred)
    t = _true(y_true, p)
    return _mean(ops.sub(p, ops.mul(t, ops.log(ops.add(p, EPSILON)))))


def hinge(y_true, y_pred):
    """mean(max(1 - t * y_pred, 0), axis=-1); 0/1 labels become -1/1."""
    p = _pred(y_pred)
    t = _hinge_labels(_true(y_true, p))
    return _mean(ops.relu(ops.sub(1.0, ops.mul(t, p))))


def squared_hinge(y_true, y_pred):
    """mean(max(1 - t * y_pred, 0)^2, axis=-1); 0/1 labels become -1/1."""
    p = _pred(y_pred)
    t = _hinge_labels(_true(y_true, p))
    h = ops.relu(ops.sub(1.0, ops.mul(t, p)))
    return _mean(ops.mul(h, h))


def categorical_hinge(y_true, y_pred):
    """max(max((1 - t) * y_pred) - sum(t * y_pred) + 1, 0) over the last axis."""
    p = _pred(y_pred)
    t = _true(y_true, p)
    pos = ops.sum(ops.mul(t, p), axis=-1)
    neg = ops.max(ops.mul(ops.sub(1.0, t), p), axis=-1)
    return ops.relu(ops.add(ops.sub(neg, pos), 1.0))


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """mean(-(t log p + (1 - t) log(1 - p)), axis), p clipped to [eps, 1 - eps] (or logits)."""
    p = _pred(y_pred)
    t = _true(_smooth_binary(y_true, label_smoothing), p)
    if tuple(t.shape) != tuple(p.shape):
        raise ValueError(f"binary_crossentropy: y_true has shape {t.shape}, y_pred has shape {p.shape}; "
                         f"they must be the same")
    return _mean(_elementwise_bce(t, p, from_logits), axis)


def binary_focal_crossentropy(y_true, y_pred, apply_class_balancing=False, alpha=0.25, gamma=2.0,
                              from_logits=False, label_smoothing=0.0, axis=-1):
    """mean((1 - p_t)^gamma * bce, axis), p_t = t p + (1 - t)(1 - p); with class balancing also
    weighted by alpha (positives) / 1 - alpha (negatives)."""
    p = _pred(y_pred)
    t = _true(_smooth_binary(y_true, label_smoothing), p)
    if from_logits:
        p = ops.sigmoid(p)
    bce = _elementwise_bce(t, p, False)
    p_t = ops.add(ops.mul(t, p), ops.mul(ops.sub(1.0, t), ops.sub(1.0, p)))
    focal = ops.mul(ops.pow(ops.sub(1.0, p_t), float(gamma)), bce)
    if apply_class_balancing:
        focal = ops.mul(ops.add(ops.scale(t, alpha), ops.scale(ops.sub(1.0, t), 1.0 - alpha)), focal)
    return _mean(focal, axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """-sum(t * log p, axis): p renormalised and clipped to [eps, 1 - eps], or log_softmax of logits."""
    axis = _check_axis(axis, "categorical_crossentropy")
    p = _pred(y_pred)
    t = _true(_smooth_categorical(y_true, label_smoothing, p.shape[axis]), p)
    if tuple(t.shape) != tuple(p.shape):
        raise ValueError(f"categorical_crossentropy: y_true has shape {t.shape}, y_pred has shape {p.shape}; "
                         f"they must be the same (one-hot targets)")
    logp = ops.log_softmax(p, axis) if from_logits else _log_probs(p, axis)
    return ops.neg(ops.sum(ops.mul(t, logp), axis=axis))


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                                   axis=-1):
    """sum(alpha (1 - p)^gamma * (-t log p), axis), p the renormalised, clipped probabilities."""
    axis = _check_axis(axis, "categorical_focal_crossentropy")
    p = _pred(y_pred)
    t = _true(_smooth_categorical(y_true, label_smoothing, p.shape[axis]), p)
    if from_logits:
        p = ops.softmax(p, axis)
    q = ops.clamp(ops.div(p, ops.sum(p, axis=axis, keepdims=True)), EPSILON, 1.0 - EPSILON)
    cce = ops.neg(ops.mul(t, ops.log(q)))
    focal = ops.mul(ops.scale(ops.pow(ops.sub(1.0, q), float(gamma)), alpha), cce)
    return ops.sum(focal, axis=axis)


def _sparse_labels(y_true, p, ignore_class=None, who="sparse_categorical_crossentropy"):
    """Integer labels shaped like p without its class axis, and the mask of counted entries."""
    y = _numpy(y_true)
    want = tuple(p.shape[:-1])
    if y.ndim == p.ndim and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if tuple(y.shape) != want:
        raise ValueError(f"{who}: labels have shape {y.shape}, y_pred has shape {tuple(p.shape)}; labels need "
                         f"shape {want}")
    mask = None
    if ignore_class is not None:
        mask = y != ignore_class
        y = np.where(mask, y, 0)
    return y, mask


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """-log p[label] (p renormalised and clipped, or log_softmax of logits); entries labelled
    `ignore_class` give 0."""
    p = _pred(y_pred)
    if _check_axis(axis, "sparse_categorical_crossentropy") not in (-1, p.ndim - 1):
        raise NotImplementedError(f"sparse_categorical_crossentropy: axis={axis} is not supported by dptrain "
                                  f"yet (the class axis must be the last one)")
    y, mask = _sparse_labels(y_true, p, ignore_class)
    t = class_targets(y, p, "sparse_categorical_crossentropy")
    logp = ops.log_softmax(p, -1) if from_logits else _log_probs(p, -1)
    values = ops.neg(ops.sum(ops.mul(t, logp), axis=-1))
    if mask is not None:
        values = ops.mul(values, as_tensor(mask.astype(p.dtype)))
    return values


# --- reduction ------------------------------------------------------------------------------------
def _weights_like(w, values):
    """Per-sample weights [N] (or weights of values' shape) broadcast over values' extra axes."""
    w = w if isinstance(w, Tensor) else as_tensor(np.asarray(w, dtype=np.float32))
    if w.ndim < values.ndim:
        w = _reshape(w, tuple(w.shape) + (1,) * (values.ndim - w.ndim))
    elif w.ndim == values.ndim + 1 and w.shape[-1] == 1:
        w = _reshape(w, tuple(w.shape[:-1]))
    return w


def _host_mask(mask):
    return np.asarray(mask.numpy() if isinstance(mask, Tensor) else mask).astype(bool)


def _squeeze_or_expand(a, b):
    """Keras' squeeze_or_expand_to_same_rank for two numpy arrays."""
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        if b.ndim == 1:
            b = b[..., None]
        else:
            a = a[..., 0]
    elif b.ndim == a.ndim + 1 and b.shape[-1] == 1:
        if a.ndim == 1:
            a = a[..., None]
        else:
            b = b[..., 0]
    return a, b


def with_pred_mask(y_pred, mask=None):
    """The mask a loss reduces with, as Keras' `Loss.__call__`: the mask attached to `y_pred` (from
    Embedding(mask_zero=True), Masking, ...) and the loss's own mask (ignore_class), ANDed."""
    from .layers.base import get_keras_mask
    in_mask = get_keras_mask(y_pred)
    if in_mask is None:
        return mask
    in_mask = _host_mask(in_mask)
    return in_mask if mask is None else np.logical_and(in_mask, _host_mask(mask))


def apply_mask(sample_weight, mask, reduction):
    """Keras' `losses.loss.apply_mask`: the mask folded into the sample weights (numpy). For the
    mean reductions an unmasked entry weighs total / valid, so that the mean runs over them."""
    if mask is None:
        return sample_weight
    m = _host_mask(mask).astype(np.float32)
    if reduction in _MEAN_REDUCTIONS:
        valid = float(m.sum())
        m = m * np.float32(m.size / valid if valid else 0.0)
    if sample_weight is None:
        return m
    w = np.asarray(sample_weight.numpy() if isinstance(sample_weight, Tensor) else sample_weight, np.float32)
    m, w = _squeeze_or_expand(m, w)
    return m * w


def reduce_values(values, sample_weight=None, mask=None, reduction="sum_over_batch_size"):
    """Keras' reduce_weighted_values: weight by sample_weight (and mask), then reduce."""
    w = None
    if mask is not None:
        m = np.asarray(mask, np.float32)
        if reduction in _MEAN_REDUCTIONS:     # valid entries weigh total / valid: the mean over them
            valid = float(m.sum())
            m = m * (m.size / valid if valid else 0.0)
        w = as_tensor(m)
        if sample_weight is not None:
            w = ops.mul(w, _weights_like(sample_weight, w))
    elif sample_weight is not None:
        w = sample_weight
    if w is not None:
        values = ops.mul(values, _weights_like(w, values))
    if reduction in (None, "none") or values.ndim == 0 or tuple(values.shape) == (0,):
        return values
    total = ops.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and w is not None:
        wsum = float(np.sum(_numpy(w)) * (values.size / max(w.size, 1)))
        return ops.scale(total, 1.0 / wsum) if wsum else ops.scale(total, 0.0)
    return ops.scale(total, 1.0 / values.size) if values.size else ops.scale(total, 0.0)


# --- target checks (run once on the whole y before training) ----------------------------------------
def _fmt(shape):
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _floats(y, where):
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{where}: targets must be numeric, got dtype {y.dtype}")
    y = y.astype(np.float32, copy=False)
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{where}: targets contain NaN or Inf")
    return y


def _same_shape(y, out_shape, where, loss_name):
    """y reshaped to the output's shape, allowing (N,) for an output (None, 1)."""
    want = (y.shape[0],) + tuple(out_shape[1:])
    if y.shape == want or None in want:
        return y
    if y.size == int(np.prod(want)) and tuple(s for s in y.shape if s != 1) == tuple(s for s in want if s != 1):
        return y.reshape(want)
    raise ValueError(f"{where}: targets have shape {y.shape}, but the output has shape {_fmt(out_shape)} "
                     f"and loss {loss_name!r} needs targets of shape {want}")


def _one_hot_targets(y, out_shape, where, loss_name):
    if y.dtype.kind in "iu" and y.ndim == len(out_shape) - 1:
        raise ValueError(f"{where}: integer class labels of shape {y.shape} given to {loss_name!r}, "
                         f"which needs one-hot targets of shape {(y.shape[0],) + tuple(out_shape[1:])}; use "
                         f"loss='sparse_categorical_crossentropy' for integer labels")
    y = _floats(y, where)
    want = (y.shape[0],) + tuple(out_shape[1:])
    if y.shape != want:
        raise ValueError(f"{where}: one-hot targets have shape {y.shape}, the output has shape "
                         f"{_fmt(out_shape)}; {loss_name!r} needs targets of shape {want}")
    if y.size and (y.min() < 0 or y.max() > 1):
        raise ValueError(f"{where}: {loss_name!r} targets must be one-hot (or probabilities) "
                         f"in [0, 1], got values in [{y.min()}, {y.max()}]")
    return y


def _binary_targets(y, out_shape, where, loss_name):
    y = _same_shape(_floats(y, where), out_shape, where, loss_name)
    if y.size and (y.min() < 0 or y.max() > 1):
        raise ValueError(f"{where}: {loss_name!r} targets must lie in [0, 1], got values in "
                         f"[{y.min()}, {y.max()}]")
    return y


# --- Loss objects -----------------------------------------------------------------------------------
class Loss:
    """Base class of losses, and what a user subclasses (Keras' `keras.losses.Loss`).

    Subclasses implement `call(y_true, y_pred)` returning per-sample values (or a scalar);
    calling the object reduces them: `loss(y_true, y_pred, sample_weight=None)`.

    Args:
        name: the loss' name.
        reduction: "sum_over_batch_size" (default), "sum", "mean", "mean_with_sample_weight" or "none".
        dtype: only float32 (the default) is supported.
    """
    kind = "custom"
    from_logits = False
    reduction = "sum_over_batch_size"
    _fuses = None           # the output activation this loss can absorb ("softmax" / "sigmoid")

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: invalid reduction {reduction!r}; expected one of "
                             f"{[r for r in _REDUCTIONS if r is not None]} or None")
        if dtype not in (None, "float32") and np.dtype(dtype) != np.float32:
            raise NotImplementedError(f"{type(self).__name__}: dtype={dtype!r} is not supported by dptrain "
                                      f"(losses compute in float32)")
        self.name = name or _snake(type(self).__name__)
        self.reduction = reduction

    @property
    def fuses(self):
        """The output activation the train step may fold into this loss (None when from_logits)."""
        return None if self.from_logits else self._fuses

    # --- the Keras API -----------------------------------------------------------------------------
    def __call__(self, y_true, y_pred, sample_weight=None):
        """The reduced loss (a scalar Tensor, or the weighted values for reduction='none'). As Keras, a
        mask attached to y_pred (Embedding(mask_zero=True), Masking, ...) leaves the masked entries
        out: they weigh 0, and the mean reductions average over the unmasked entries."""
        values, mask = self.values(_pred(y_pred), y_true, self.from_logits)
        return reduce_values(values, sample_weight, with_pred_mask(y_pred, mask), self.reduction)

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__}: a Loss subclass must implement call(y_true, y_pred)")

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # --- what the train step calls ---------------------------------------------------------------------
    def values(self, y_pred, y_true, logits=False):
        """(per-sample values, mask of counted entries or None); `logits`: y_pred are logits."""
        p = _pred(y_pred)
        t, p = _same_rank(_true(y_true, p), p)
        out = self.call(t, p)
        if not isinstance(out, Tensor):
            raise TypeError(f"loss {self.name!r}: call() must return a Tensor computed from y_pred "
                            f"(with engine ops or Tensor operators), got {type(out).__name__}")
        return out, None

    def batch_loss(self, y_pred, y_true, sample_weight=None, logits=False):
        """The scalar the step trains on: reduced as `reduction` says, weighted by sample_weight [N]
        and by the mask y_pred carries, if any (as `__call__`)."""
        in_mask = with_pred_mask(y_pred)
        if sample_weight is None and self.reduction in _MEAN_REDUCTIONS and in_mask is None:
            return self.mean(y_pred, y_true, logits)
        values, mask = self.values(y_pred, y_true, logits or self.from_logits)
        return reduce_values(values, sample_weight, with_pred_mask(y_pred, mask), self.reduction)

    def mean(self, y_pred, y_true, from_logits=False):
        """The default reduction without sample weights (the step's fast path)."""
        values, mask = self.values(y_pred, y_true, from_logits or self.from_logits)
        return reduce_values(values, None, with_pred_mask(y_pred, mask), "sum_over_batch_size")

    def per_sample(self, y_pred, y_true, from_logits=False):
        """Values averaged over every axis but the batch axis: [N]."""
        t, _ = self.values(y_pred, y_true, from_logits or self.from_logits)
        return t if t.ndim <= 1 else ops.mean(t, axis=tuple(range(1, t.ndim)))

    def check_targets(self, y, out_shape, where):
        """Targets converted for this loss (float32 for a custom loss, as Keras casts them)."""
        if y.dtype.kind not in "biuf":
            raise TypeError(f"{where}: targets must be numeric, got dtype {y.dtype}")
        return _floats(y, where) if y.dtype.kind == "f" else y

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


class LossFunctionWrapper(Loss):
    """A loss function `fn(y_true, y_pred, **kwargs)` as a Loss object (Keras' LossFunctionWrapper)."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or _snake(getattr(fn, "__name__", type(fn).__name__)), reduction=reduction,
                         dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return Loss.get_config(self)


class LossFunction(LossFunctionWrapper):
    """A user callable fn(y_true, y_pred) -> Tensor (per-sample values or a scalar), as compile wraps it.
    y_true reaches it as a float32 Tensor of y_pred's rank, as in Keras."""

    def __init__(self, fn, name=None):
        super().__init__(fn, name=name or getattr(fn, "__name__", None))
        self.name = name or getattr(fn, "__name__", type(fn).__name__)

    def get_config(self):
        return None   # not serialisable: a loaded model must be compiled again


class _Builtin(Loss):
    """A Keras loss class over one of the functions above: `fn(y_true, y_pred, **kwargs)`."""
    kind = "regression"
    fn = None
    _arg_names = ()

    def _kwargs(self):
        return {a: getattr(self, a) for a in self._arg_names}

    def values(self, y_pred, y_true, logits=False):
        kw = self._kwargs()
        if "from_logits" in kw:
            kw["from_logits"] = bool(logits) or self.from_logits
        return type(self).fn(y_true, y_pred, **kw), None

    def call(self, y_true, y_pred):
        return type(self).fn(y_true, y_pred, **self._kwargs())

    def get_config(self):
        return {**Loss.get_config(self), **self._kwargs()}

    def check_targets(self, y, out_shape, where):
        return _same_shape(_floats(y, where), out_shape, where, self.name)


def _check_fraction(v, what, who):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or not 0 <= v <= 1:
        raise ValueError(f"{who}: {what} must be a number in [0, 1], got {v!r}")


class MeanSquaredError(_Builtin):
    """mean((y_true - y_pred)^2, axis=-1), reduced over the batch. Args: reduction, name."""
    fn = staticmethod(mean_squared_error)

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def mean(self, y_pred, y_true, from_logits=False):
        if tuple(getattr(y_true, "shape", ())) != tuple(y_pred.shape):
            return super().mean(y_pred, y_true, from_logits)
        d = ops.sub(y_pred, _true(y_true, y_pred))      # the mean over every element: one reduction
        return ops.mean(ops.mul(d, d))


class MeanAbsoluteError(_Builtin):
    """mean(|y_true - y_pred|, axis=-1), reduced over the batch. Args: reduction, name."""
    fn = staticmethod(mean_absolute_error)

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class MeanAbsolutePercentageError(_Builtin):
    """100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7), axis=-1). Args: reduction, name."""
    fn = staticmethod(mean_absolute_percentage_error)

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class MeanSquaredLogarithmicError(_Builtin):
    """mean((log1p(max(y_pred, eps)) - log1p(max(y_true, eps)))^2, axis=-1). Args: reduction, name."""
    fn = staticmethod(mean_squared_logarithmic_error)

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class CosineSimilarity(_Builtin):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis). Args: axis (-1), reduction, name."""
    fn = staticmethod(cosine_similarity)
    _arg_names = ("axis",)

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None):
        self.axis = _check_axis(axis, "CosineSimilarity")
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class Huber(_Builtin):
    """mean(0.5 e^2 if |e| <= delta else delta (|e| - 0.5 delta), axis=-1). Args: delta (1.0), reduction, name."""
    fn = staticmethod(huber)
    _arg_names = ("delta",)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        if isinstance(delta, bool) or not isinstance(delta, (int, float, np.number)) or delta < 0:
            raise ValueError(f"Huber: delta must be a number >= 0, got {delta!r}")
        self.delta = float(delta)
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class LogCosh(_Builtin):
    """mean(log(cosh(y_pred - y_true)), axis=-1). Args: reduction, name."""
    fn = staticmethod(log_cosh)

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class KLDivergence(_Builtin):
    """sum(t log(t / p), axis=-1), t and p clipped to [1e-7, 1]. Args: reduction, name."""
    fn = staticmethod(kl_divergence)

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class Poisson(_Builtin):
    """mean(y_pred - y_true log(y_pred + 1e-7), axis=-1). Args: reduction, name."""
    fn = staticmethod(poisson)

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class Hinge(_Builtin):
    """mean(max(1 - y_true y_pred, 0), axis=-1); labels -1/1 (0/1 are converted). Args: reduction, name."""
    fn = staticmethod(hinge)

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class SquaredHinge(_Builtin):
    """mean(max(1 - y_true y_pred, 0)^2, axis=-1); labels -1/1 (0/1 are converted). Args: reduction, name."""
    fn = staticmethod(squared_hinge)

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class CategoricalHinge(_Builtin):
    """max(max((1 - t) y_pred) - sum(t y_pred) + 1, 0) over the classes; one-hot t. Args: reduction, name."""
    fn = staticmethod(categorical_hinge)

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class BinaryCrossentropy(_Builtin):
    """mean(-(t log p + (1 - t) log(1 - p)), axis): targets in [0, 1] (smoothed to t (1 - s) + s / 2),
    p probabilities clipped to [1e-7, 1 - 1e-7], or logits with from_logits=True.
    Args: from_logits (False), label_smoothing (0), axis (-1), reduction, name."""
    fn = staticmethod(binary_crossentropy)
    kind, _fuses = "binary", "sigmoid"
    _arg_names = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy", dtype=None):
        _check_fraction(label_smoothing, "label_smoothing", type(self).__name__)
        self.from_logits, self.label_smoothing = bool(from_logits), float(label_smoothing)
        self.axis = _check_axis(axis, type(self).__name__)
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    @property
    def fuses(self):
        return None if self.from_logits or self.axis != -1 else self._fuses

    def mean(self, y_pred, y_true, from_logits=False):
        if isinstance(y_true, Tensor) or self.axis != -1:
            return super().mean(y_pred, y_true, from_logits)
        t = _smooth_binary(y_true, self.label_smoothing)
        return ops.binary_cross_entropy(y_pred, t, from_logits=bool(from_logits) or self.from_logits)

    def check_targets(self, y, out_shape, where):
        return _binary_targets(y, out_shape, where, self.name)


class BinaryFocalCrossentropy(BinaryCrossentropy):
    """mean((1 - p_t)^gamma * bce, axis), p_t = t p + (1 - t)(1 - p), optionally weighted by
    alpha / (1 - alpha) (apply_class_balancing). Args: apply_class_balancing (False), alpha (0.25),
    gamma (2.0), from_logits, label_smoothing, axis, reduction, name."""
    fn = staticmethod(binary_focal_crossentropy)
    _fuses = None       # Keras applies the sigmoid, then the clipped form: nothing to fuse
    _arg_names = ("from_logits", "label_smoothing", "axis", "apply_class_balancing", "alpha", "gamma")

    def __init__(self, apply_class_balancing=False, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0,
                 axis=-1, reduction="sum_over_batch_size", name="binary_focal_crossentropy", dtype=None):
        self.apply_class_balancing, self.alpha, self.gamma = bool(apply_class_balancing), float(alpha), float(gamma)
        super().__init__(from_logits=from_logits, label_smoothing=label_smoothing, axis=axis, reduction=reduction,
                         name=name, dtype=dtype)

    def mean(self, y_pred, y_true, from_logits=False):
        return Loss.mean(self, y_pred, y_true, from_logits)


class CategoricalCrossentropy(_Builtin):
    """-sum(t log p, axis): one-hot targets (smoothed to t (1 - s) + s / classes), p probabilities
    renormalised and clipped to [1e-7, 1 - 1e-7], or logits with from_logits=True.
    Args: from_logits (False), label_smoothing (0), axis (-1), reduction, name."""
    fn = staticmethod(categorical_crossentropy)
    kind, _fuses = "categorical", "softmax"
    _arg_names = ("from_logits", "label_smoothing", "axis")

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        _check_fraction(label_smoothing, "label_smoothing", type(self).__name__)
        self.from_logits, self.label_smoothing = bool(from_logits), float(label_smoothing)
        self.axis = _check_axis(axis, type(self).__name__)
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    @property
    def fuses(self):
        return None if self.from_logits or self.axis != -1 else self._fuses

    def mean(self, y_pred, y_true, from_logits=False):
        if (from_logits or self.from_logits) and self.axis == -1 and not isinstance(y_true, Tensor):
            t = _smooth_categorical(y_true, self.label_smoothing, y_pred.shape[-1])
            return ops.softmax_cross_entropy_loss(y_pred, t)
        return super().mean(y_pred, y_true, from_logits)

    def check_targets(self, y, out_shape, where):
        return _one_hot_targets(y, out_shape, where, self.name)


class CategoricalFocalCrossentropy(CategoricalCrossentropy):
    """sum(alpha (1 - p)^gamma (-t log p), axis) over renormalised, clipped probabilities.
    Args: alpha (0.25), gamma (2.0), from_logits, label_smoothing, axis, reduction, name."""
    fn = staticmethod(categorical_focal_crossentropy)
    _fuses = None
    _arg_names = ("from_logits", "label_smoothing", "axis", "alpha", "gamma")

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_focal_crossentropy", dtype=None):
        self.alpha, self.gamma = float(alpha), float(gamma)
        super().__init__(from_logits=from_logits, label_smoothing=label_smoothing, axis=axis, reduction=reduction,
                         name=name, dtype=dtype)

    def mean(self, y_pred, y_true, from_logits=False):
        return Loss.mean(self, y_pred, y_true, from_logits)


class SparseCategoricalCrossentropy(_Builtin):
    """-log p[label] for integer labels (p renormalised and clipped, or log_softmax of logits);
    labels equal to `ignore_class` are left out of the loss and of its mean.
    Args: from_logits (False), ignore_class (None), reduction, axis (-1), name."""
    fn = staticmethod(sparse_categorical_crossentropy)
    kind, _fuses = "sparse", "softmax"
    _arg_names = ("from_logits", "ignore_class", "axis")

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size", axis=-1,
                 name="sparse_categorical_crossentropy", dtype=None):
        if ignore_class is not None and (isinstance(ignore_class, bool) or not isinstance(ignore_class,
                                                                                          (int, np.integer))):
            raise ValueError(f"SparseCategoricalCrossentropy: ignore_class must be an integer label or None, "
                             f"got {ignore_class!r}")
        self.from_logits = bool(from_logits)
        self.ignore_class = None if ignore_class is None else int(ignore_class)
        self.axis = _check_axis(axis, "SparseCategoricalCrossentropy")
        if self.axis != -1:
            raise NotImplementedError("SparseCategoricalCrossentropy: axis other than -1 is not supported by "
                                      "dptrain yet")
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def values(self, y_pred, y_true, logits=False):
        p = _pred(y_pred)
        values = sparse_categorical_crossentropy(y_true, p, bool(logits) or self.from_logits, self.ignore_class)
        mask = None
        if self.ignore_class is not None:
            mask = _sparse_labels(y_true, p, self.ignore_class)[1]
        return values, mask

    def get_config(self):
        return {**Loss.get_config(self), "from_logits": self.from_logits, "ignore_class": self.ignore_class}

    def mean(self, y_pred, y_true, from_logits=False):
        if (from_logits or self.from_logits) and self.ignore_class is None:
            return ops.softmax_cross_entropy_loss(y_pred, y_true)
        return super().mean(y_pred, y_true, from_logits)

    def check_targets(self, y, out_shape, where):
        n_classes = out_shape[-1]
        want = (y.shape[0],) + tuple(out_shape[1:-1])
        if y.shape == want + (1,):
            y = y.reshape(want)
        if y.shape != want:
            raise ValueError(f"{where}: integer labels have shape {y.shape}, the output has shape "
                             f"{_fmt(out_shape)}; 'sparse_categorical_crossentropy' needs labels of shape {want}")
        if y.dtype.kind == "f":
            if not np.all(np.isfinite(y)):
                raise ValueError(f"{where}: labels contain NaN or Inf")
            if np.any(y != np.round(y)):
                raise ValueError(f"{where}: 'sparse_categorical_crossentropy' needs integer class labels, "
                                 f"got fractional values")
        elif y.dtype.kind not in "iu":
            raise TypeError(f"{where}: labels must be integers, got dtype {y.dtype}")
        y = y.astype(np.int64, copy=False)
        counted = y if self.ignore_class is None else y[y != self.ignore_class]
        if counted.size and (counted.min() < 0 or counted.max() >= n_classes):
            bad = int(counted.min()) if counted.min() < 0 else int(counted.max())
            raise ValueError(f"{where}: label {bad} is out of range for the {n_classes} classes of the output "
                             f"(shape {_fmt(out_shape)}); valid labels are 0..{n_classes - 1}")
        return y


_CLASSES = [MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
            CosineSimilarity, Huber, LogCosh, KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge,
            BinaryCrossentropy, BinaryFocalCrossentropy, CategoricalCrossentropy, CategoricalFocalCrossentropy,
            SparseCategoricalCrossentropy]

# a function name (as compile takes it) -> its class, whose fast paths and target checks fit uses
_FUNCTIONS = {
    "mean_squared_error": MeanSquaredError, "mean_absolute_error": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError, "cosine_similarity": CosineSimilarity,
    "huber": Huber, "log_cosh": LogCosh, "kl_divergence": KLDivergence, "poisson": Poisson, "hinge": Hinge,
    "squared_hinge": SquaredHinge, "categorical_hinge": CategoricalHinge,
    "binary_crossentropy": BinaryCrossentropy, "binary_focal_crossentropy": BinaryFocalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "categorical_focal_crossentropy": CategoricalFocalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
_ALIASES = {"bce": "binary_crossentropy", "kld": "kl_divergence", "mae": "mean_absolute_error",
            "mse": "mean_squared_error", "mape": "mean_absolute_percentage_error",
            "msle": "mean_squared_logarithmic_error"}
_BY_CLASS_NAME = {c.__name__: c for c in _CLASSES}
_FN_OBJECTS = {id(globals()[k]): k for k in _FUNCTIONS}


def _known_names():
    return sorted(set(_FUNCTIONS) | set(_ALIASES) | set(_BY_CLASS_NAME))


def serialize(loss):
    """{"class_name", "config"} for a built-in Loss (Keras' format), the name for a built-in function,
    None for anything else (a custom loss cannot be written to a data-only file)."""
    if type(loss) in _CLASSES:
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    if callable(loss) and id(loss) in _FN_OBJECTS:
        return _FN_OBJECTS[id(loss)]
    return None


def deserialize(config, custom_objects=None):
    """The loss a config made by `serialize` describes (custom_objects for your own classes)."""
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"losses.deserialize: expected {{'class_name': ..., 'config': {{...}}}}, got {config!r}")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _BY_CLASS_NAME.get(name)
    if cls is None:
        raise ValueError(f"losses.deserialize: unknown loss class {name!r}.{did_you_mean(name, _BY_CLASS_NAME)} "
                         f"Pass custom_objects={{{name!r}: YourLoss}} for your own")
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier, where="compile: loss"):
    """A Loss object from a name ("mse", "categorical_crossentropy", "Huber", ...), a config dict,
    a Loss, a Loss class, or a callable(y_true, y_pred)."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        key = identifier if identifier in _BY_CLASS_NAME else identifier.lower()
        if key in ("crossentropy", "ce"):
            raise NotImplementedError(f"{where}: loss={identifier!r} (Keras picks the crossentropy from the "
                                      f"target shapes) is not supported by dptrain yet; name the crossentropy")
        if key in _BY_CLASS_NAME:
            return _BY_CLASS_NAME[key]()
        key = _ALIASES.get(key, key)
        cls = _FUNCTIONS.get(key)
        if cls is None:
            raise ValueError(f"{where}: unknown loss {identifier!r}.{did_you_mean(identifier, _known_names())} "
                             f"Known: {', '.join(_known_names())}, or a callable(y_true, y_pred)")
        obj = cls()
        obj.name = identifier
        return obj
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        cls = _FUNCTIONS.get(_FN_OBJECTS.get(id(identifier)))
        if cls is not None:           # dt.losses.mean_squared_error itself: the class' fast path
            obj = cls()
            obj.name = identifier.__name__
            return obj
        return LossFunction(identifier)
    raise TypeError(f"{where}: a loss is a name, a Loss object or a callable(y_true, y_pred), "
                    f"got {type(identifier).__name__}")


# dptrain's short names of the two most used functions (compile also takes "mape", "msle", "kld", "bce")
mse = mean_squared_error
mae = mean_absolute_error

__all__ = [c.__name__ for c in _CLASSES] + ["Loss", "LossFunctionWrapper", "get", "serialize", "deserialize",
                                            "reduce_values"] + list(_FUNCTIONS)
