"""Elementwise primitives with numpy broadcasting and reduced gradients."""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor, as_tensor


def _pair(a, b):
    """Wrap constants so that they take the dtype of the tensor beside them."""
    if type(a) is not Tensor:
        a = as_tensor(a, like=b if type(b) is Tensor else None)
    if type(b) is not Tensor:
        b = as_tensor(b, like=a)
    return a, b


class Add(Function):
    def forward(self, K, a, b):
        self.sa, self.sb = a.shape, b.shape
        return K.add(a, b)

    def backward(self, g):
        K, (ta, tb) = self.K, self.inputs
        return (K.sum_to(g, self.sa) if ta.requires_grad else None,
                K.sum_to(g, self.sb) if tb.requires_grad else None)


class Sub(Function):
    def forward(self, K, a, b):
        self.sa, self.sb = a.shape, b.shape
        return K.sub(a, b)

    def backward(self, g):
        K, (ta, tb) = self.K, self.inputs
        return (K.sum_to(g, self.sa) if ta.requires_grad else None,
                K.neg(K.sum_to(g, self.sb)) if tb.requires_grad else None)


class Mul(Function):
    def forward(self, K, a, b):
        self.a, self.b = a, b
        return K.mul(a, b)

    def backward(self, g):
        K, a, b = self.K, self.a, self.b
        ra, rb = self.inputs[0].requires_grad, self.inputs[1].requires_grad
        return (K.sum_to(K.mul(g, b), a.shape) if ra else None,
                K.sum_to(K.mul(g, a), b.shape) if rb else None)


class Div(Function):
    def forward(self, K, a, b):
        self.a, self.b = a, b
        return K.div(a, b)

    def backward(self, g):
        K, a, b = self.K, self.a, self.b
        gb = None
        ga = K.div(g, b)
        if self.inputs[1].requires_grad:
            gb = K.sum_to(K.neg(K.div(K.mul(ga, a), b)), b.shape)
        return K.sum_to(ga, a.shape), gb


class Pow(Function):
    """a ** b with a tensor exponent: d/db = log(a) * a**b."""
    def forward(self, K, a, b):
        self.a, self.b = a, b
        self.y = K.pow(a, b)
        return self.y

    def backward(self, g):
        K, a, b, y = self.K, self.a, self.b, self.y
        ga = K.sum_to(K.mul(g, K.mul(b, K.pow(a, K.sub(b, K.full((), 1.0, b.dtype))))), a.shape)
        gb = None
        if self.inputs[1].requires_grad:
            gb = K.sum_to(K.mul(g, K.mul(y, K.log(a))), b.shape)
        return ga, gb


class PowScalar(Function):
    def forward(self, K, a):
        self.a = a
        return K.pow_scalar(a, self.p)

    def backward(self, g):
        K, p = self.K, self.p
        if p == 2:
            return (K.mul(g, K.scale(self.a, 2.0)),)
        return (K.mul(g, K.scale(K.pow_scalar(self.a, p - 1), p)),)


class Neg(Function):
    def forward(self, K, a):
        return K.neg(a)

    def backward(self, g):
        return (self.K.neg(g),)


class Scale(Function):
    def forward(self, K, a):
        return K.scale(a, self.s)

    def backward(self, g):
        return (self.K.scale(g, self.s),)


class Exp(Function):
    def forward(self, K, a):
        self.y = K.exp(a)
        return self.y

    def backward(self, g):
        return (self.K.mul(g, self.y),)


class Log(Function):
    def forward(self, K, a):
        self.a = a
        return K.log(a)

    def backward(self, g):
        return (self.K.div(g, self.a),)


class Sqrt(Function):
    def forward(self, K, a):
        self.y = K.sqrt(a)
        return self.y

    def backward(self, g):
        K = self.K
        return (K.div(K.scale(g, 0.5), self.y),)


class Abs(Function):
    def forward(self, K, a):
        self.a = a
        return K.abs(a)

    def backward(self, g):
        K = self.K
        return (K.mul(g, K.sign(self.a)),)


class Clamp(Function):
    def forward(self, K, a):
        self.a = a
        return K.clip(a, self.lo, self.hi)

    def backward(self, g):
        return (self.K.clip_grad(self.a, g, self.lo, self.hi),)


class Relu(Function):
    def forward(self, K, a):
        self.a = a
        return K.relu(a)

    def backward(self, g):
        return (self.K.relu_grad(self.a, g),)


class Sigmoid(Function):
    def forward(self, K, a):
        self.y = K.sigmoid(a)
        return self.y

    def backward(self, g):
        return (self.K.sigmoid_grad(self.y, g),)


class Tanh(Function):
    def forward(self, K, a):
        self.y = K.tanh(a)
        return self.y

    def backward(self, g):
        return (self.K.tanh_grad(self.y, g),)


class Gelu(Function):
    def forward(self, K, a):
        self.a = a
        return K.gelu(a, self.approximate)

    def backward(self, g):
        return (self.K.gelu_grad(self.a, g, self.approximate),)


class Silu(Function):
    def forward(self, K, a):
        self.a = a
        return K.silu(a)

    def backward(self, g):
        return (self.K.silu_grad(self.a, g),)


class Cast(Function):
    def forward(self, K, a):
        self.src = a.dtype
        return K.astype(a, self.dtype)

    def backward(self, g):
        return (self.K.astype(g, self.src),)


def add(a, b): return Add.apply(*_pair(a, b))
def sub(a, b): return Sub.apply(*_pair(a, b))
def _is_number(x):
    return (type(x) is float or type(x) is int) and type(x) is not bool


def mul(a, b):
    if type(a) is Tensor and _is_number(b):
        return Scale.apply(a, s=b)
    if type(b) is Tensor and _is_number(a):
        return Scale.apply(b, s=a)
    return Mul.apply(*_pair(a, b))


def div(a, b):
    if type(a) is Tensor and _is_number(b):
        return Scale.apply(a, s=1.0 / b)
    return Div.apply(*_pair(a, b))


def pow(a, b):
    """a ** b; a Python-number exponent takes the fast path."""
    if isinstance(b, (int, float)) and not isinstance(b, bool) and type(a) is Tensor:
        if b == 1:
            return a
        return PowScalar.apply(a, p=float(b))
    return Pow.apply(*_pair(a, b))


def scale(a, s):
    """a * s for a Python number s."""
    return Scale.apply(a, s=float(s))


def neg(a): return Neg.apply(a)
def exp(a): return Exp.apply(a)
def log(a): return Log.apply(a)
def sqrt(a): return Sqrt.apply(a)
def abs(a): return Abs.apply(a)
def relu(a): return Relu.apply(a)
def sigmoid(a): return Sigmoid.apply(a)
def tanh(a): return Tanh.apply(a)
def silu(a): return Silu.apply(a)


def gelu(a, approximate=True):
    """GELU; the tanh approximation unless approximate=False."""
    return Gelu.apply(a, approximate=bool(approximate))


def clamp(a, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clamp: give min, max or both")
    return Clamp.apply(a, lo=min, hi=max)


def cast(a, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"cast: {dtype} is not floating point; gradients need a float dtype")
    return Cast.apply(a, dtype=dtype)
