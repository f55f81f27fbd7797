"""Metrics by Keras name, computed on the host from each batch's predictions.

A metric returns the batch *total* of its per-sample values (outputs with extra
axes, e.g. per time step, are averaged within each sample first); the training
loop divides the summed totals by the sample count, so epoch values are exact
sample means whatever the batch sizes, and data-parallel ranks can add them up.
"""
from __future__ import annotations

import numpy as np
from .suggest import did_you_mean


def _total(per_item, n):
    """Sum over samples of the per-sample mean of `per_item` [N, ...]."""
    if per_item.ndim == 1:
        return float(per_item.sum())
    return float(per_item.reshape(n, -1).mean(axis=1).sum())


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(z):
    return 0.5 * (np.tanh(0.5 * z) + 1.0)


def probabilities(pred, activation):
    """Predictions from logits (the training step keeps logits when it fuses the output activation)."""
    return _softmax(pred) if activation == "softmax" else _sigmoid(pred) if activation == "sigmoid" else pred


class Metric:
    name = "metric"

    def total(self, y_true, pred, logits_of=None):
        """Batch total; `pred` are logits of `logits_of` ("softmax"/"sigmoid") or predictions when None."""
        raise NotImplementedError


class CategoricalAccuracy(Metric):
    name = "categorical_accuracy"

    def total(self, y_true, pred, logits_of=None):
        # argmax is the same on logits and on softmax probabilities
        return _total(pred.argmax(-1) == y_true.argmax(-1), len(pred))


class SparseCategoricalAccuracy(Metric):
    name = "sparse_categorical_accuracy"

    def total(self, y_true, pred, logits_of=None):
        return _total(pred.argmax(-1) == y_true.reshape(pred.shape[:-1]), len(pred))


class BinaryAccuracy(Metric):
    name = "binary_accuracy"

    def __init__(self, threshold=0.5):
        self.threshold = threshold

    def total(self, y_true, pred, logits_of=None):
        if logits_of == "sigmoid":
            hit = pred > np.log(self.threshold / (1.0 - self.threshold))
        else:
            hit = probabilities(pred, logits_of) > self.threshold
        return _total(hit == (y_true.reshape(pred.shape) > 0.5), len(pred))


def _targets_like(y_true, p):
    """Targets shaped like the predictions; integer class labels become one-hot."""
    if y_true.dtype.kind in "iu" and y_true.shape == p.shape[:-1] and p.shape[-1] > 1:
        out = np.zeros(p.shape, p.dtype)
        np.put_along_axis(out, y_true[..., None], 1, axis=-1)
        return out
    return y_true.reshape(p.shape)


class MeanAbsoluteError(Metric):
    name = "mae"

    def total(self, y_true, pred, logits_of=None):
        p = probabilities(pred, logits_of)
        return _total(np.abs(p - _targets_like(y_true, p)), len(p))


class MeanSquaredError(Metric):
    name = "mse"

    def total(self, y_true, pred, logits_of=None):
        p = probabilities(pred, logits_of)
        d = p - _targets_like(y_true, p)
        return _total(d * d, len(p))


class MetricFunction(Metric):
    """A callable fn(y_true, y_pred) on numpy arrays returning per-sample values (or their mean)."""

    def __init__(self, fn):
        self.fn = fn
        self.name = getattr(fn, "__name__", type(fn).__name__)

    def total(self, y_true, pred, logits_of=None):
        v = np.asarray(self.fn(y_true, probabilities(pred, logits_of)), dtype=np.float64)
        n = len(pred)
        return float(v) * n if v.ndim == 0 else _total(v, n)


class Accuracy(Metric):
    """'accuracy': picks categorical / sparse / binary accuracy from the loss and the target shape."""

    def __init__(self, name="accuracy"):
        self.name = name

    def resolve(self, loss_kind, y_shape, out_shape):
        if loss_kind == "categorical":
            m = CategoricalAccuracy()
        elif loss_kind == "sparse":
            m = SparseCategoricalAccuracy()
        elif loss_kind == "binary" or out_shape[-1] == 1:
            m = BinaryAccuracy()
        elif len(y_shape) == len(out_shape) - 1 or (y_shape[-1] == 1 and out_shape[-1] != 1):
            m = SparseCategoricalAccuracy()
        else:
            m = CategoricalAccuracy()
        m.name = self.name
        return m


_BY_NAME = {
    "accuracy": Accuracy, "acc": Accuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
}


def get(identifier, where="compile: metrics"):
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"{where}: unknown metric {identifier!r}.{did_you_mean(identifier, _BY_NAME)} "
                             f"Known: {', '.join(sorted(_BY_NAME))}")
        m = cls(identifier) if cls is Accuracy else cls()
        m.name = identifier
        return m
    if callable(identifier):
        return MetricFunction(identifier)
    raise TypeError(f"{where}: a metric is a name or a callable(y_true, y_pred), got {type(identifier).__name__}")
