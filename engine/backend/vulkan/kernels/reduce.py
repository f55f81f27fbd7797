"""Reductions over axes (sum, max and their gradients), broadcasting and whole-buffer checks."""
from __future__ import annotations

import numpy as np

from ..interfaces import REDUCE, B_DIV, B_EQ, B_MUL, R_MAX, R_NONFINITE, R_SUM, R_SUMSQ
from .base import broadcast_shape, broadcast_strides, prod

GROUP_WG = 128           # invocations per output in the workgroup-per-output mode
CHUNK = 8192             # elements one workgroup reduces before partials are combined


def normalize_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = set()
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of bounds for array of dimension {ndim}")
        out.add(a % ndim)
    return tuple(sorted(out))


class ReduceKernels:
    def _reduce_axis(self, x, outer, R, inner, op):
        """[outer, R, inner] -> [outer * inner]; long reductions are split into chunks first."""
        nout = outer * inner
        first, rest = op, (R_MAX if op == R_MAX else R_SUM)
        if nout >= 1024 or R <= 64:
            y = self._empty((nout,), x.dtype)
            push = (outer, R, inner, R, 1, x.off, y.off)
            self._launch(REDUCE, (first, 0), (x, y), push, nout)
            return y
        nchunks = -(-R // CHUNK) if R > CHUNK else 1
        chunk = -(-R // nchunks)
        y = self._empty((outer * nchunks * inner,), x.dtype)
        push = (outer, R, inner, chunk, nchunks, x.off, y.off)
        self._launch_groups(REDUCE, (first, 1), (x, y), push, outer * nchunks * inner, GROUP_WG)
        if nchunks == 1:
            return y
        return self._reduce_axis(y, outer, nchunks, inner, rest)

    def _reduce(self, a, axis, keepdims, op):
        a = self._dev(a)
        axes = normalize_axes(axis, a.ndim)
        keep = tuple(1 if i in axes else s for i, s in enumerate(a.shape))
        final = keep if keepdims else tuple(s for i, s in enumerate(a.shape) if i not in axes)
        if a.size == 0 or prod(final) == 0:
            if op == R_MAX and a.size == 0:
                raise ValueError("zero-size array to reduction operation maximum which has no identity")
            return self.full(final, 0.0, a.dtype)
        # merge neighbouring axes with the same role; size-1 axes play no role
        dims, roles = [], []
        for i, s in enumerate(a.shape):
            if s == 1:
                continue
            r = i in axes
            if roles and roles[-1] == r:
                dims[-1] *= s
            else:
                dims.append(s)
                roles.append(r)
        if not dims:                 # a single element: reduce it anyway so the op's transform applies
            dims, roles = [1], [True]
        if not any(roles):           # only size-1 axes reduced
            return self.view(self.copy(a), final)
        cur = a
        while any(roles):
            k = len(roles) - 1 - roles[::-1].index(True)
            cur = self._reduce_axis(cur, prod(dims[:k]), dims[k], prod(dims[k + 1:]), op)
            op = R_MAX if op == R_MAX else R_SUM
            del dims[k], roles[k]
        return self.view(cur, final)

    def sum(self, a, axis=None, keepdims=False):
        return self._reduce(a, axis, keepdims, R_SUM)

    def max(self, a, axis=None, keepdims=False):
        return self._reduce(a, axis, keepdims, R_MAX)

    def max_grad(self, x, y_keep, g_keep, axis):
        """Gradient of max: split equally between tied maxima."""
        mask = self._binary(B_EQ, x, y_keep)
        count = self.sum(mask, axis, keepdims=True)
        return self._binary(B_MUL, self._binary(B_DIV, mask, count), g_keep)

    def sum_to(self, g, shape):
        """Reduce a broadcast gradient back to `shape` (numpy broadcasting rules)."""
        g = self._dev(g)
        shape = tuple(shape)
        if g.shape == shape:
            return g
        lead = g.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape)
                                          if n == 1 and g.shape[i + lead] != 1)
        out = self.sum(g, axes, keepdims=True) if axes else g
        return self.view(out, shape)

    def broadcast_to(self, a, shape):
        a = self._dev(a)
        shape = tuple(shape)
        if a.shape == shape:
            return a
        if broadcast_shape(a.shape, shape) != shape:
            raise ValueError(f"cannot broadcast an array of shape {a.shape} to {shape}")
        out = self._empty(shape, a.dtype)
        return self._gather_into(a, out, shape, broadcast_strides(a.shape, shape), 0)

    def sum_squares(self, a):
        r = self._reduce(a, None, False, R_SUMSQ)
        return float(self.to_numpy(r))

    def all_finite(self, a):
        r = self._reduce(a, None, False, R_NONFINITE)
        return bool(self.to_numpy(r) == 0)
