"""Losses by Keras name, and the per-output target checks `fit` runs before training.

Each loss gives a batch mean (`mean`) and per-sample values (`per_sample`, for
sample/class weights). Crossentropies take probabilities, as Keras does by
default; with from_logits=True (set by `compile` when the output layer ends in
the matching softmax/sigmoid) they run on the logits through the fused, stable
forms (`softmax_cross_entropy_loss`, `binary_cross_entropy(from_logits=True)`).
"""
from __future__ import annotations

import numpy as np

from engine import ops
from engine.ops.losses import class_targets
from engine.tensor import Tensor
from .suggest import did_you_mean


def _per_sample(t):
    """Mean over every axis but the batch axis: [N, ...] -> [N]."""
    return t if t.ndim == 1 else ops.mean(t, axis=tuple(range(1, t.ndim)))


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


class Loss:
    name = "loss"
    fuses = None          # the output activation this loss can absorb ("softmax" / "sigmoid")
    kind = "custom"

    def mean(self, y_pred, y_true, from_logits=False):
        return ops.mean(self.per_sample(y_pred, y_true, from_logits))

    def per_sample(self, y_pred, y_true, from_logits=False):
        raise NotImplementedError

    def check_targets(self, y, out_shape, where):
        return y

    def get_config(self):
        return self.name


class CategoricalCrossentropy(Loss):
    name, fuses, kind = "categorical_crossentropy", "softmax", "categorical"

    def mean(self, y_pred, y_true, from_logits=False):
        if from_logits:
            return ops.softmax_cross_entropy_loss(y_pred, y_true)
        return ops.cross_entropy_loss(y_pred, y_true, check=False)

    def per_sample(self, y_pred, y_true, from_logits=False):
        t = class_targets(y_true, y_pred, self.name)
        logp = ops.log_softmax(y_pred, -1) if from_logits else ops.log(ops.clamp(y_pred, 1e-7, 1.0))
        return _per_sample(ops.neg(ops.sum(ops.mul(t, logp), axis=-1)))

    def check_targets(self, y, out_shape, where):
        if y.dtype.kind in "iu" and y.ndim == len(out_shape) - 1:
            raise ValueError(f"{where}: integer class labels of shape {y.shape} given to 'categorical_crossentropy', "
                             f"which needs one-hot targets of shape {(y.shape[0],) + tuple(out_shape[1:])}; use "
                             f"loss='sparse_categorical_crossentropy' for integer labels")
        y = _floats(y, where)
        want = (y.shape[0],) + tuple(out_shape[1:])
        if y.shape != want:
            raise ValueError(f"{where}: one-hot targets have shape {y.shape}, the output has shape "
                             f"{_fmt(out_shape)}; 'categorical_crossentropy' needs targets of shape {want}")
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(f"{where}: 'categorical_crossentropy' targets must be one-hot (or probabilities) "
                             f"in [0, 1], got values in [{y.min()}, {y.max()}]")
        return y


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    name, kind = "sparse_categorical_crossentropy", "sparse"

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
        if y.size and (y.min() < 0 or y.max() >= n_classes):
            bad = int(y.min()) if y.min() < 0 else int(y.max())
            raise ValueError(f"{where}: label {bad} is out of range for the {n_classes} classes of the output "
                             f"(shape {_fmt(out_shape)}); valid labels are 0..{n_classes - 1}")
        return y


class BinaryCrossentropy(Loss):
    name, fuses, kind = "binary_crossentropy", "sigmoid", "binary"

    def mean(self, y_pred, y_true, from_logits=False):
        return ops.binary_cross_entropy(y_pred, y_true, from_logits=from_logits)

    def per_sample(self, y_pred, y_true, from_logits=False):
        t = y_true
        if from_logits:
            x = y_pred   # max(x, 0) - x*t + log(1 + exp(-|x|))
            per = ops.add(ops.sub(ops.relu(x), ops.mul(x, t)), ops.log(ops.add(ops.exp(ops.neg(ops.abs(x))), 1.0)))
        else:
            p = ops.clamp(y_pred, 1e-7, 1.0 - 1e-7)
            per = ops.neg(ops.add(ops.mul(t, ops.log(p)), ops.mul(ops.sub(1.0, t), ops.log(ops.sub(1.0, p)))))
        return _per_sample(per)

    def check_targets(self, y, out_shape, where):
        y = _same_shape(_floats(y, where), out_shape, where, self.name)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(f"{where}: 'binary_crossentropy' targets must lie in [0, 1], got values in "
                             f"[{y.min()}, {y.max()}]")
        return y


class MeanSquaredError(Loss):
    name, kind = "mse", "regression"

    def mean(self, y_pred, y_true, from_logits=False):
        d = ops.sub(y_pred, y_true)
        return ops.mean(ops.mul(d, d))

    def per_sample(self, y_pred, y_true, from_logits=False):
        d = ops.sub(y_pred, y_true)
        return _per_sample(ops.mul(d, d))

    def check_targets(self, y, out_shape, where):
        return _same_shape(_floats(y, where), out_shape, where, self.name)


class MeanAbsoluteError(MeanSquaredError):
    name = "mae"

    def mean(self, y_pred, y_true, from_logits=False):
        return ops.mean(ops.abs(ops.sub(y_pred, y_true)))

    def per_sample(self, y_pred, y_true, from_logits=False):
        return _per_sample(ops.abs(ops.sub(y_pred, y_true)))


class LossFunction(Loss):
    """A user callable fn(y_true, y_pred) -> scalar Tensor (or per-sample values [N])."""
    kind = "custom"

    def __init__(self, fn):
        self.fn = fn
        self.name = getattr(fn, "__name__", type(fn).__name__)

    def _call(self, y_pred, y_true):
        out = self.fn(Tensor(y_true) if isinstance(y_true, np.ndarray) else y_true, y_pred)
        if not isinstance(out, Tensor):
            raise TypeError(f"loss {self.name!r}: must return an ag Tensor computed from y_pred, "
                            f"got {type(out).__name__}")
        return out

    def mean(self, y_pred, y_true, from_logits=False):
        out = self._call(y_pred, y_true)
        return out if out.size == 1 else ops.mean(out)

    def per_sample(self, y_pred, y_true, from_logits=False):
        out = self._call(y_pred, y_true)
        if out.ndim == 0 or out.shape[0] != y_pred.shape[0]:
            raise ValueError(f"loss {self.name!r}: sample_weight/class_weight need per-sample loss values of "
                             f"shape ({y_pred.shape[0]},), but the loss returned shape {out.shape}")
        return _per_sample(out)

    def check_targets(self, y, out_shape, where):
        if y.dtype.kind == "f":
            y = _floats(y, where)
        elif y.dtype.kind not in "biu":
            raise TypeError(f"{where}: targets must be numeric, got dtype {y.dtype}")
        return y

    def get_config(self):
        return None   # not serialisable: a loaded model must be compiled again


_BY_NAME = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
}


def get(identifier, where="compile: loss"):
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"{where}: unknown loss {identifier!r}.{did_you_mean(identifier, _BY_NAME)} "
                             f"Known: {', '.join(sorted(_BY_NAME))}, or a callable(y_true, y_pred)")
        return cls()
    if callable(identifier):
        return LossFunction(identifier)
    raise TypeError(f"{where}: a loss is a name or a callable(y_true, y_pred), got {type(identifier).__name__}")


def _function(cls):
    def fn(y_true, y_pred):
        return cls().per_sample(y_pred, y_true.numpy() if isinstance(y_true, Tensor) else np.asarray(y_true))
    fn.__name__ = cls.name
    fn.__doc__ = f"Per-sample {cls.name} of probabilities/predictions y_pred against y_true (a Tensor [N])."
    return fn


categorical_crossentropy = _function(CategoricalCrossentropy)
sparse_categorical_crossentropy = _function(SparseCategoricalCrossentropy)
binary_crossentropy = _function(BinaryCrossentropy)
mean_squared_error = mse = _function(MeanSquaredError)
mean_absolute_error = mae = _function(MeanAbsoluteError)
