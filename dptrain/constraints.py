"""`keras.constraints`: projections called on a weight (a numpy array) after each optimizer step,
returning the projected array. Keras' formulas, epsilon (1e-7) added to the norm in the
denominator; norms are taken over `axis` (an int or a list of ints), kept for broadcasting."""
from __future__ import annotations

import numpy as np

from .initializers import get_object, serialize_object, snake_case

__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "max_norm", "min_max_norm",
           "non_neg", "unit_norm", "serialize", "deserialize", "get"]

_EPSILON = 1e-7   # keras.config.epsilon()


def _array(w):
    w = np.asarray(w.numpy() if hasattr(w, "numpy") else w)
    return w if w.dtype.kind == "f" else w.astype(np.float32)


def _norms(w, axis):
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    return np.sqrt(np.sum(np.square(w), axis=axis, keepdims=True))


class Constraint:
    """Base class: `__call__(w)` returns w projected onto the constraint set."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """w * clip(norm, 0, max_value) / (epsilon + norm): the norm over `axis` (0: each Dense unit's
    incoming weights; [0, 1, 2]: each Conv2D filter) at most max_value."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w):
        w = _array(w)
        norms = _norms(w, self.axis)
        desired = np.clip(norms, 0, self.max_value)
        return (w * (desired / (w.dtype.type(_EPSILON) + norms))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """max(w, 0)."""

    def __call__(self, w):
        w = _array(w)
        return np.maximum(w, w.dtype.type(0))


class UnitNorm(Constraint):
    """w / (epsilon + norm), the norm over `axis`."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        w = _array(w)
        return (w / (w.dtype.type(_EPSILON) + _norms(w, self.axis))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """w * desired / (epsilon + norm), desired = rate * clip(norm, min_value, max_value)
    + (1 - rate) * norm, the norm over `axis`."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w):
        w = _array(w)
        norms = _norms(w, self.axis)
        desired = self.rate * np.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return (w * (desired / (w.dtype.type(_EPSILON) + norms))).astype(w.dtype, copy=False)

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


_CLASSES = (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm)
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in _CLASSES}
ALL_OBJECTS_DICT.update({snake_case(cls.__name__): cls for cls in _CLASSES})

max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm


def serialize(constraint):
    """The Keras-style config of `constraint` ({"class_name": ..., "config": ...}), data only."""
    return serialize_object(constraint, "keras.constraints", ALL_OBJECTS_DICT)


def deserialize(config, custom_objects=None):
    """The constraint a config made by `serialize` describes (custom_objects for your own classes)."""
    return get_object(config, ALL_OBJECTS_DICT, "constraint", custom_objects)


def get(identifier, custom_objects=None):
    """A name ('max_norm', 'NonNeg'), a config dict, a class, an instance or a callable
    `fn(array) -> array` -> a constraint."""
    return get_object(identifier, ALL_OBJECTS_DICT, "constraint", custom_objects)
