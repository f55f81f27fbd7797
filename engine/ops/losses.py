"""Losses, composed from primitives (so their gradients come from the tape)."""
from __future__ import annotations

import numpy as np

from .. import backend as _backend
from ..tensor import Tensor, as_tensor
from . import elementwise as ew
from .nn import log_softmax
from .reduce import mean, sum


def _target_array(target, who):
    if isinstance(target, Tensor):
        target = target.numpy()
    t = np.asarray(target)
    if t.dtype.kind == "f" and not np.all(np.isfinite(t)):
        raise ValueError(f"{who}: target contains NaN or Inf")
    if t.dtype.kind not in "fiub":
        raise TypeError(f"{who}: target dtype {t.dtype} is not numeric")
    return t


def class_targets(target, pred, who):
    """One-hot float targets shaped like `pred` from one-hot or integer labels."""
    t = _target_array(target, who)
    n = pred.shape[-1]
    if t.shape == pred.shape and t.dtype.kind == "f":
        return as_tensor(t.astype(pred.dtype, copy=False))
    if t.shape == pred.shape[:-1] or (t.shape == pred.shape[:-1] + (1,) and t.dtype.kind in "iu"):
        t = t.reshape(pred.shape[:-1])
        if t.dtype.kind == "f":
            if np.any(t != np.round(t)):
                raise ValueError(f"{who}: integer labels expected, got fractional values")
            t = t.astype(np.int64)
        if t.size and (t.min() < 0 or t.max() >= n):
            bad = int(t.min()) if t.min() < 0 else int(t.max())
            raise ValueError(f"{who}: label {bad} is out of range for {n} classes (valid: 0..{n - 1})")
        K = _backend.current
        return Tensor(K.one_hot(K.asarray(t), n, pred.dtype))
    raise ValueError(f"{who}: target shape {t.shape} matches neither predictions {pred.shape} (one-hot) "
                     f"nor {pred.shape[:-1]} (integer labels)")


def _batch_mean(per_item_sum, n_items):
    return ew.scale(per_item_sum, 1.0 / n_items)


def mse_loss(pred, target):
    pred = as_tensor(pred)
    t = _target_array(target, "mse_loss")
    if t.shape != pred.shape:
        if t.size == pred.size and t.squeeze().shape == tuple(s for s in pred.shape if s != 1):
            t = t.reshape(pred.shape)
        else:
            raise ValueError(f"mse_loss: target shape {t.shape} does not match predictions {pred.shape}")
    d = ew.sub(pred, as_tensor(t.astype(pred.dtype, copy=False)))
    return mean(ew.mul(d, d))


def softmax_cross_entropy_loss(logits, target):
    """Mean cross-entropy of softmax(logits); targets one-hot or integer labels. Stable for any logits."""
    logits = as_tensor(logits)
    if logits.ndim < 1:
        raise ValueError(f"softmax_cross_entropy_loss: logits need a class axis, got shape {logits.shape}")
    t = class_targets(target, logits, "softmax_cross_entropy_loss")
    n_items = logits.size // logits.shape[-1]
    return _batch_mean(ew.neg(sum(ew.mul(t, log_softmax(logits, -1)))), n_items)


def _check_probabilities(probs, who):
    """Logits passed where probabilities belong would be clamped to [eps, 1] and give a loss
    near 0 that trains nothing useful: refuse them (torch's cross_entropy takes logits)."""
    p = probs.numpy()
    if p.size == 0:
        return
    if not np.isfinite(p).all():
        raise ValueError(f"{who}: the predictions contain NaN or Inf")
    sums = p.reshape(-1, p.shape[-1]).sum(axis=1, dtype=np.float64)
    if p.min() < -1e-6 or p.max() > 1 + 1e-5 or np.abs(sums - 1.0).max() > 1e-2:
        raise ValueError(
            f"{who}: expects probabilities (each row in [0, 1], summing to 1), got values in "
            f"[{p.min():.4g}, {p.max():.4g}] with row sums up to {sums.max():.4g}. For logits "
            f"(a PyTorch cross_entropy habit) use softmax_cross_entropy_loss(logits, target)")


def cross_entropy_loss(probs, target, eps=1e-7, check=True):
    """Mean cross-entropy of predicted probabilities (e.g. after softmax), clipped to [eps, 1].

    probs: [..., classes], each row a distribution; anything else raises (`check=False`
    skips the check). For logits use `softmax_cross_entropy_loss`.
    """
    probs = as_tensor(probs)
    if check:
        _check_probabilities(probs, "cross_entropy_loss")
    t = class_targets(target, probs, "cross_entropy_loss")
    n_items = probs.size // probs.shape[-1]
    logp = ew.log(ew.clamp(probs, eps, 1.0))
    return _batch_mean(ew.neg(sum(ew.mul(t, logp))), n_items)


def binary_cross_entropy(pred, target, from_logits=False, eps=1e-7):
    """Mean binary cross-entropy of probabilities (or logits with from_logits=True)."""
    pred = as_tensor(pred)
    t = _target_array(target, "binary_cross_entropy")
    if t.shape != pred.shape:
        if t.size == pred.size:
            t = t.reshape(pred.shape)
        else:
            raise ValueError(f"binary_cross_entropy: target shape {t.shape} does not match predictions {pred.shape}")
    if t.size and (t.min() < 0 or t.max() > 1):
        raise ValueError("binary_cross_entropy: targets must lie in [0, 1]")
    tt = as_tensor(t.astype(pred.dtype, copy=False))
    if from_logits:
        # max(x, 0) - x*t + log(1 + exp(-|x|)): no overflow for any x
        x = pred
        per = ew.add(ew.sub(ew.relu(x), ew.mul(x, tt)), ew.log(ew.add(ew.exp(ew.neg(ew.abs(x))), 1.0)))
        return mean(per)
    p = ew.clamp(pred, eps, 1.0 - eps)
    per = ew.add(ew.mul(tt, ew.log(p)), ew.mul(ew.sub(1.0, tt), ew.log(ew.sub(1.0, p))))
    return ew.neg(mean(per))
