"""Fused neural-network kernels: softmax family, normalisation, embedding, dropout."""
from __future__ import annotations

import numpy as np

from ...numpy_backend import NumpyBackend
from ..interfaces import (GATHER, LAYER_NORM, LAYER_NORM_GRAD, SOFTMAX, SM_LOG_SOFTMAX, SM_LOG_SOFTMAX_GRAD,
                          SM_SOFTMAX, SM_SOFTMAX_GRAD, U_ADD_SCALAR, U_RECIP, U_SQRT)
from .base import prod

_HOST = NumpyBackend()


def _lines(shape, axis):
    axis = axis % len(shape)
    return prod(shape[:axis]), shape[axis], prod(shape[axis + 1:])


class NNKernels:
    # -- softmax family -------------------------------------------------------------------------
    def _softmax_op(self, op, x, g, axis):
        x = self._dev(x)
        g = x if g is None else self._dev(g)
        if x.ndim == 0:
            raise ValueError("softmax: needs at least one dimension")
        outer, r, inner = _lines(x.shape, axis)
        out = self._empty(x.shape, x.dtype)
        self._launch(SOFTMAX, (op,), (x, g, out), (outer, r, inner, x.off, g.off, out.off), outer * inner)
        return out

    def softmax(self, x, axis):
        return self._softmax_op(SM_SOFTMAX, x, None, axis)

    def softmax_grad(self, y, g, axis):
        return self._softmax_op(SM_SOFTMAX_GRAD, y, g, axis)

    def log_softmax(self, x, axis):
        return self._softmax_op(SM_LOG_SOFTMAX, x, None, axis)

    def log_softmax_grad(self, y, g, axis):
        return self._softmax_op(SM_LOG_SOFTMAX_GRAD, y, g, axis)

    # -- layer norm (last axis) -------------------------------------------------------------------
    def layer_norm(self, x, gamma, beta, eps):
        x = self._dev(x)
        gamma = None if gamma is None else self._dev(gamma)
        beta = None if beta is None else self._dev(beta)
        c = x.shape[-1]
        rows = x.size // c if c else 0
        y = self._empty(x.shape, x.dtype)
        xhat = self._empty(x.shape, x.dtype)
        rstd = self._empty(x.shape[:-1] + (1,), x.dtype)
        flags = (gamma is not None) | ((beta is not None) << 1)
        gm = gamma if gamma is not None else x
        bt = beta if beta is not None else x
        push = (rows, c, float(eps), flags, x.off, gm.off, bt.off, y.off, xhat.off, rstd.off)
        self._launch(LAYER_NORM, (), (x, gm, bt, y, xhat, rstd), push, rows)
        return y, (xhat, rstd, gamma)

    def layer_norm_backward(self, ctx, g):
        xhat, rstd, gamma = ctx
        g = self._dev(g)
        c = g.shape[-1]
        rows = g.size // c if c else 0
        gx = self._empty(g.shape, g.dtype)
        gm = gamma if gamma is not None else g
        push = (rows, c, int(gamma is not None), g.off, xhat.off, rstd.off, gm.off, gx.off)
        self._launch(LAYER_NORM_GRAD, (), (g, xhat, rstd, gm, gx), push, rows)
        g2 = self.view(g, (rows, c))
        gb = self.sum(g2, 0)
        gg = self.sum(self.mul(g2, self.view(xhat, (rows, c))), 0) if gamma is not None else None
        return gx, gg, gb

    # -- batch norm (statistics over every axis but the last) -----------------------------------------
    def batch_norm(self, x, gamma, beta, eps):
        x = self._dev(x)
        c = x.shape[-1]
        m = x.size // c
        x2 = self.view(x, (m, c))
        mu = self.scale(self.sum(x2, 0), 1.0 / m)
        xc = self.sub(x2, mu)
        var = self.scale(self.sum(self.mul(xc, xc), 0), 1.0 / m)
        rstd = self._unary(U_RECIP, self._unary(U_SQRT, self._unary(U_ADD_SCALAR, var, float(eps))))
        xhat = self.mul(xc, rstd)
        y = self.add(self.mul(xhat, gamma), beta) if gamma is not None else xhat
        return self.view(y, x.shape), (self.view(xhat, x.shape), rstd, gamma), mu, var

    def batch_norm_backward(self, ctx, g):
        xhat, rstd, gamma = ctx
        g = self._dev(g)
        c = g.shape[-1]
        m = g.size // c
        g2, xh = self.view(g, (m, c)), self.view(xhat, (m, c))
        gb = self.sum(g2, 0)
        gg = self.sum(self.mul(g2, xh), 0)
        if gamma is not None:
            gxhat = self.mul(g2, gamma)
            s1, s2 = self.sum(gxhat, 0), self.sum(self.mul(gxhat, xh), 0)
        else:
            gxhat, s1, s2 = g2, gb, gg
        t = self.sub(self.sub(self.scale(gxhat, float(m)), s1), self.mul(xh, s2))
        gx = self.mul(t, self.scale(rstd, 1.0 / m))
        return self.view(gx, g.shape), (gg if gamma is not None else None), (gb if gamma is not None else None)

    # -- embedding, dropout ------------------------------------------------------------------------
    def embedding(self, weight, idx):
        weight = self._dev(weight)
        idx = np.asarray(self.to_numpy(idx))
        dim = weight.shape[-1]
        out = self._empty(idx.shape + (dim,), weight.dtype)
        if out.size:
            ib = self._index_buffer(idx)
            n = idx.size * dim
            self._launch(GATHER, (), (weight, ib, out), (n, dim, weight.off, ib.off, out.off), n)
        return out

    def embedding_grad(self, idx, g, num, dtype):
        g = self._dev(g)
        idx = np.asarray(self.to_numpy(idx))
        dim = g.shape[-1]
        out = self._zeros_result((int(num), dim), dtype)
        return self._segment_sum(self.view(g, (idx.size, dim)), idx, dim, out)

    def dropout_mask(self, shape, p, dtype, rng):
        # drawn on the host from the engine's generator: the same masks as the numpy backend
        return self.asarray(_HOST.dropout_mask(shape, p, np.dtype(dtype), rng))
