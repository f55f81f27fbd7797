"""`keras.regularizers`: penalties called on a weight Tensor, returning a scalar Tensor built from
engine ops (so the penalty has a gradient). Keras' formulas: L1 = l1 * sum(|x|), L2 = l2 * sum(x^2)
(no 1/2)."""
from __future__ import annotations

import math

import numpy as np

from engine import ops
from engine.tensor import Tensor, as_tensor
from .initializers import get_object, serialize_object, snake_case

__all__ = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "l1", "l2", "l1_l2",
           "orthogonal_regularizer", "serialize", "deserialize", "get"]

_EPSILON = 1e-7   # keras.config.epsilon()


def _float_arg(value, name, who):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isinf(value) \
            or math.isnan(value) or value < 0:
        raise ValueError(f"{who}: {name} must be a non-negative float, got {value!r}")
    return float(value)


def _tensor(x):
    return x if isinstance(x, Tensor) else as_tensor(np.asarray(x, dtype=np.float32))


class Regularizer:
    """Base class: `__call__(x)` returns the scalar penalty of the Tensor x."""

    def __call__(self, x):
        return as_tensor(np.zeros((), np.float32))

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config()")

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _l1(x, factor):
    return ops.scale(ops.sum(ops.abs(x)), factor)


def _l2(x, factor):
    return ops.scale(ops.sum(ops.mul(x, x)), factor)


class L1(Regularizer):
    """l1 * sum(|x|)."""

    def __init__(self, l1=0.01):
        # Keras keeps l1 as a float32 tensor, so its config holds float32(l1) as a Python float
        self.l1 = float(np.float32(_float_arg(0.01 if l1 is None else l1, "l1", "L1")))

    def __call__(self, x):
        return _l1(_tensor(x), self.l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """l2 * sum(x^2)."""

    def __init__(self, l2=0.01):
        self.l2 = _float_arg(0.01 if l2 is None else l2, "l2", "L2")

    def __call__(self, x):
        return _l2(_tensor(x), self.l2)

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    """l1 * sum(|x|) + l2 * sum(x^2); the name 'l1_l2' gives l1 = l2 = 0.01 (as Keras documents)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _float_arg(0.0 if l1 is None else l1, "l1", "L1L2")
        self.l2 = _float_arg(0.0 if l2 is None else l2, "l2", "L1L2")

    def __call__(self, x):
        x = _tensor(x)
        terms = ([_l1(x, self.l1)] if self.l1 else []) + ([_l2(x, self.l2)] if self.l2 else [])
        if not terms:
            return as_tensor(np.zeros((), x.dtype))
        return terms[0] if len(terms) == 1 else ops.add(terms[0], terms[1])

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """factor * 0.5 * sum(|G - diag(G)|) / (n (n - 1) / 2), G the Gram matrix of the L2-normalised
    rows (mode="rows") or columns (mode="columns") of a 2-D weight."""

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = float(np.float32(_float_arg(factor, "factor", "OrthogonalRegularizer")))
        if mode not in ("rows", "columns"):
            raise ValueError(f"OrthogonalRegularizer: mode must be 'rows' or 'columns', got {mode!r}")
        self.mode = mode

    def __call__(self, x):
        x = _tensor(x)
        if x.ndim != 2:
            raise ValueError(f"OrthogonalRegularizer: the weight must have rank 2, got shape {x.shape}")
        axis = 1 if self.mode == "rows" else 0
        # Keras' normalize: x * min(rsqrt(sum(x^2)), 1 / epsilon)
        inv = ops.clamp(ops.pow(ops.sum(ops.mul(x, x), axis=axis, keepdims=True), -0.5), max=1.0 / _EPSILON)
        xn = ops.mul(x, inv)
        gram = ops.matmul(xn, ops.transpose(xn)) if axis == 1 else ops.matmul(ops.transpose(xn), xn)
        n = gram.shape[0]
        off = ops.mul(gram, (1.0 - np.eye(n)).astype(x.dtype))
        pairs = n * (n - 1.0) / 2.0
        return ops.scale(ops.sum(ops.abs(off)), self.factor * 0.5 / pairs)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


_CLASSES = (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in _CLASSES}
ALL_OBJECTS_DICT.update({snake_case(cls.__name__): cls for cls in _CLASSES})


l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer


def serialize(regularizer):
    """The Keras-style config of `regularizer` ({"class_name": ..., "config": ...}), data only."""
    return serialize_object(regularizer, "keras.regularizers", ALL_OBJECTS_DICT)


def deserialize(config, custom_objects=None):
    """The regularizer a config made by `serialize` describes (custom_objects for your own classes)."""
    return get_object(config, ALL_OBJECTS_DICT, "regularizer", custom_objects)


def get(identifier, custom_objects=None):
    """A name ('l1', 'l2', 'l1_l2', 'L1L2'), a config dict, a class, an instance or a callable
    `fn(weight) -> scalar Tensor` -> a regularizer."""
    if isinstance(identifier, str) and identifier == "l1_l2":
        # Keras 3's get refuses the name; its docs (and Keras 2) mean l1 = l2 = 0.01
        return L1L2(l1=0.01, l2=0.01)
    return get_object(identifier, ALL_OBJECTS_DICT, "regularizer", custom_objects)
