"""`keras.ops.linalg`: norms. Decompositions (SVD, QR, Cholesky, ...) are not available."""
from __future__ import annotations

import numpy as np

from engine import ops as E

from ._base import floatx, from_host, host, is_float, normalize_axis, not_implemented, tensor_of, to_tensor

__all__ = [
    "cholesky", "cholesky_inverse", "det", "eig", "eigh", "inv", "jvp", "lstsq", "lu_factor", "matrix_rank", "norm",
    "pinv", "qr", "slogdet", "solve", "solve_triangular", "svd",
]


def _sqrt_safe(s):
    """sqrt(s) whose gradient is 0 (not NaN) where s == 0, as torch's norms."""
    zero = host(s) == 0
    if not zero.any():
        return E.sqrt(s)
    bump = from_host(zero.astype(s.dtype))
    return E.sub(E.sqrt(E.add(s, bump)), bump)


def _vector_norm(x, ord, axes, keepdims):
    a = E.abs(x)
    if ord is None or ord == 2:
        return _sqrt_safe(E.sum(E.mul(x, x), axes, keepdims))
    if ord == np.inf:
        return E.max(a, axes, keepdims)
    if ord == -np.inf:
        return E.neg(E.max(E.neg(a), axes, keepdims))
    if ord == 0:
        return from_host(np.sum(host(x) != 0, axis=axes, keepdims=keepdims).astype(x.dtype))
    if ord == 1:
        return E.sum(a, axes, keepdims)
    if isinstance(ord, str):
        raise ValueError(f"norm: ord={ord!r} is a matrix norm; give two axes")
    p = float(ord)
    return E.pow(E.sum(E.pow(a, p), axes, keepdims), 1.0 / p)


def _matrix_norm(x, ord, axes, keepdims):
    r, c = axes
    if ord in (None, "fro"):
        out = _sqrt_safe(E.sum(E.mul(x, x), axes, True))
    elif ord in (1, -1, np.inf, -np.inf):
        sum_axis, over = (r, c) if ord in (1, -1) else (c, r)
        sums = E.sum(E.abs(x), (sum_axis,), True)
        out = E.max(sums, (over,), True) if ord in (1, np.inf) else E.neg(E.max(E.neg(sums), (over,), True))
    else:
        raise NotImplementedError(f"norm: the matrix norm ord={ord!r} needs a singular value decomposition, "
                                  f"which dptrain does not provide")
    if not keepdims:
        out = E.reshape(out, tuple(s for i, s in enumerate(x.shape) if i not in axes))
    return out


def norm(x, ord=None, axis=None, keepdims=False):
    """numpy.linalg.norm: vector norms over one axis (ord None/2, 1, inf, -inf, 0, p), matrix
    norms over two ('fro', 1, -1, inf, -inf); with axis=None the 2-norm of all elements, or the
    matrix / vector norm `ord` of a 2-D / 1-D x."""
    x = to_tensor(x)
    x = tensor_of(x, x.dtype if is_float(x.dtype) else floatx())
    if axis is None:
        if ord is None:
            out = _vector_norm(E.reshape(x, (-1,)), None, (0,), False)
            return E.reshape(out, (1,) * x.ndim) if keepdims else out
        if x.ndim == 2:
            return _matrix_norm(x, ord, (0, 1), keepdims)
        if x.ndim == 1:
            return _vector_norm(x, ord, (0,), keepdims)
        raise ValueError(f"norm: ord={ord!r} with axis=None needs a 1-D or 2-D input, got shape {x.shape}")
    if isinstance(axis, (int, np.integer)) or len(tuple(axis)) == 1:
        ax = axis if isinstance(axis, (int, np.integer)) else tuple(axis)[0]
        return _vector_norm(x, ord, (normalize_axis(ax, x.ndim, "norm"),), keepdims)
    axes = tuple(normalize_axis(a, x.ndim, "norm") for a in axis)
    if len(axes) != 2 or axes[0] == axes[1]:
        raise ValueError(f"norm: axis must be an int or a pair of distinct axes, got {axis!r}")
    return _matrix_norm(x, ord, axes, keepdims)


_WHY = "matrix decompositions are not available in dptrain (no LAPACK kernels on its devices)"
cholesky = not_implemented("cholesky", _WHY)
cholesky_inverse = not_implemented("cholesky_inverse", _WHY)
matrix_rank = not_implemented("matrix_rank", _WHY)
pinv = not_implemented("pinv", _WHY)
slogdet = not_implemented("slogdet", _WHY)
det = not_implemented("det", _WHY)
eig = not_implemented("eig", _WHY)
eigh = not_implemented("eigh", _WHY)
inv = not_implemented("inv", _WHY)
jvp = not_implemented("jvp", "forward-mode derivatives are not supported by dptrain (the tape is reverse-mode)")
lstsq = not_implemented("lstsq", _WHY)
lu_factor = not_implemented("lu_factor", _WHY)
qr = not_implemented("qr", _WHY)
solve = not_implemented("solve", _WHY)
solve_triangular = not_implemented("solve_triangular", _WHY)
svd = not_implemented("svd", _WHY)
