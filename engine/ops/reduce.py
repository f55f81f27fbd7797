"""Reductions: sum, mean, max over an axis (or all axes)."""
from __future__ import annotations

from ..autograd import Function


def _axes(axis, ndim, op):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of range for a tensor of {ndim} dimensions")
        out.append(a % ndim)
    return tuple(sorted(set(out)))


def _keep_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    def forward(self, K, a):
        self.shape = a.shape
        self.axes = _axes(self.axis, a.ndim, "sum")
        return K.sum(a, self.axes, self.keepdims)

    def backward(self, g):
        K = self.K
        return (K.broadcast_to(K.reshape(g, _keep_shape(self.shape, self.axes)), self.shape),)


class Mean(Function):
    def forward(self, K, a):
        self.shape = a.shape
        self.axes = _axes(self.axis, a.ndim, "mean")
        n = 1
        for i in self.axes:
            n *= a.shape[i]
        if n == 0:
            raise ValueError(f"mean: reducing over an empty axis of shape {a.shape}")
        self.inv = 1.0 / n
        return K.scale(K.sum(a, self.axes, self.keepdims), self.inv)

    def backward(self, g):
        K = self.K
        g = K.scale(K.reshape(g, _keep_shape(self.shape, self.axes)), self.inv)
        return (K.broadcast_to(g, self.shape),)


class Max(Function):
    def forward(self, K, a):
        self.a = a
        self.axes = _axes(self.axis, a.ndim, "max")
        if a.size == 0:
            raise ValueError(f"max: empty tensor of shape {a.shape}")
        self.y_keep = K.max(a, self.axes, True)
        return self.y_keep if self.keepdims else K.reshape(self.y_keep, tuple(
            n for i, n in enumerate(a.shape) if i not in self.axes))

    def backward(self, g):
        K = self.K
        g = K.reshape(g, self.y_keep.shape)
        return (K.max_grad(self.a, self.y_keep, g, self.axes),)


def sum(a, axis=None, keepdims=False):
    return Sum.apply(a, axis=axis, keepdims=keepdims)


def mean(a, axis=None, keepdims=False):
    return Mean.apply(a, axis=axis, keepdims=keepdims)


def max(a, axis=None, keepdims=False):
    return Max.apply(a, axis=axis, keepdims=keepdims)
