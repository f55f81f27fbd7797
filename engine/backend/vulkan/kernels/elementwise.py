"""Elementwise kernels: broadcasting binary ops, unary ops and activation gradients."""
from __future__ import annotations

import numpy as np

from ..interfaces import (UNARY, U_ABS, U_CLIP, U_EXP, U_GELU_ERF, U_GELU_TANH, U_LOG, U_NEG, U_POW, U_RELU,
                          U_SCALE, U_SIGMOID, U_SIGN, U_SILU, U_SQRT, U_TANH, B_ADD, B_CLIP_GRAD, B_DIV,
                          B_GELU_ERF_GRAD, B_GELU_TANH_GRAD, B_MUL, B_POW, B_RELU_GRAD, B_SIGMOID_GRAD,
                          B_SILU_GRAD, B_SUB, B_TANH_GRAD)
from .base import broadcast_shape


class ElementwiseKernels:
    # -- helpers ---------------------------------------------------------------------------
    def _binary(self, op, a, b, alpha=0.0, beta=0.0, flags=0):
        a, b = self._dev(a), self._dev(b)
        shape = a.shape if a.shape == b.shape else broadcast_shape(a.shape, b.shape)
        dtype = a.dtype if a.dtype == b.dtype else np.result_type(a.dtype, b.dtype)
        return self._binary_into(op, a, b, self._empty(shape, dtype), alpha, beta, flags)

    def _unary(self, op, a, alpha=0.0, beta=0.0, flags=0):
        a = self._dev(a)
        out = self._empty(a.shape, a.dtype)
        self._launch(UNARY, (op,), (a, out), (a.size, a.off, out.off, alpha, beta, flags), a.size)
        return out

    def _grad(self, op, x, g, alpha=0.0, beta=0.0, flags=0):
        return self._binary(op, x, g, alpha, beta, flags)

    # -- binary ------------------------------------------------------------------------------
    def add(self, a, b): return self._binary(B_ADD, a, b)
    def sub(self, a, b): return self._binary(B_SUB, a, b)
    def mul(self, a, b): return self._binary(B_MUL, a, b)
    def div(self, a, b): return self._binary(B_DIV, a, b)
    def pow(self, a, b): return self._binary(B_POW, a, b)

    def pow_scalar(self, a, p):
        return self._unary(U_POW, a, float(p))

    # -- unary --------------------------------------------------------------------------------
    def neg(self, a): return self._unary(U_NEG, a)
    def exp(self, a): return self._unary(U_EXP, a)
    def log(self, a): return self._unary(U_LOG, a)
    def sqrt(self, a): return self._unary(U_SQRT, a)
    def abs(self, a): return self._unary(U_ABS, a)
    def sign(self, a): return self._unary(U_SIGN, a)
    def relu(self, x): return self._unary(U_RELU, x)
    def sigmoid(self, x): return self._unary(U_SIGMOID, x)
    def tanh(self, x): return self._unary(U_TANH, x)
    def silu(self, x): return self._unary(U_SILU, x)

    def scale(self, a, s):
        return self._unary(U_SCALE, a, float(s))

    def clip(self, a, lo, hi):
        flags = (lo is not None) | ((hi is not None) << 1)
        return self._unary(U_CLIP, a, float(lo or 0.0), float(hi or 0.0), flags)

    def gelu(self, x, approximate=True):
        return self._unary(U_GELU_TANH if approximate else U_GELU_ERF, x)

    # -- gradients ------------------------------------------------------------------------------
    def relu_grad(self, x, g): return self._grad(B_RELU_GRAD, x, g)
    def sigmoid_grad(self, y, g): return self._grad(B_SIGMOID_GRAD, y, g)
    def tanh_grad(self, y, g): return self._grad(B_TANH_GRAD, y, g)
    def silu_grad(self, x, g): return self._grad(B_SILU_GRAD, x, g)

    def gelu_grad(self, x, g, approximate=True):
        return self._grad(B_GELU_TANH_GRAD if approximate else B_GELU_ERF_GRAD, x, g)

    def clip_grad(self, x, g, lo, hi):
        flags = (lo is not None) | ((hi is not None) << 1)
        return self._grad(B_CLIP_GRAD, x, g, float(lo or 0.0), float(hi or 0.0), flags)

