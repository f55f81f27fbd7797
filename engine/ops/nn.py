"""Fused neural-network primitives: softmax family, embedding, dropout, normalisation."""
from __future__ import annotations

import numpy as np

from .. import backend as _backend
from .. import random as _random
from ..autograd import Function
from ..tensor import Tensor, as_tensor


class Softmax(Function):
    def forward(self, K, a):
        self.y = K.softmax(a, self.axis)
        return self.y

    def backward(self, g):
        return (self.K.softmax_grad(self.y, g, self.axis),)


class LogSoftmax(Function):
    def forward(self, K, a):
        self.y = K.log_softmax(a, self.axis)
        return self.y

    def backward(self, g):
        return (self.K.log_softmax_grad(self.y, g, self.axis),)


def _axis(a, axis, op):
    nd = a.ndim
    if not -nd <= axis < nd:
        raise ValueError(f"{op}: axis {axis} is out of range for a tensor of shape {a.shape}")
    return axis % nd


def softmax(a, axis=-1):
    a = as_tensor(a)
    return Softmax.apply(a, axis=_axis(a, axis, "softmax"))


def log_softmax(a, axis=-1):
    a = as_tensor(a)
    return LogSoftmax.apply(a, axis=_axis(a, axis, "log_softmax"))


class Embedding(Function):
    def forward(self, K, weight):
        self.num = weight.shape[0]
        return K.embedding(weight, self.idx)

    def backward(self, g):
        return (self.K.embedding_grad(self.idx, g, self.num, g.dtype),)


def check_indices(idx, num, who):
    """Host integer indices in [0, num); a clear error otherwise."""
    if isinstance(idx, Tensor):
        idx = idx.numpy()
    idx = np.asarray(idx)
    if idx.dtype.kind == "f":
        if not np.all(np.isfinite(idx)) or np.any(idx != np.round(idx)):
            raise TypeError(f"{who}: token indices must be integers, got non-integral floats")
        idx = idx.astype(np.int64)
    elif idx.dtype.kind not in "iu":
        raise TypeError(f"{who}: token indices must be integers, got dtype {idx.dtype}")
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= num:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{who}: index {bad} is out of range for {num} embeddings (valid: 0..{num - 1})")
    return idx


def embedding(indices, weight):
    """Rows of `weight` [num, dim] picked by integer `indices` (any shape)."""
    weight = as_tensor(weight)
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D [num, dim], got shape {weight.shape}")
    idx = check_indices(indices, weight.shape[0], "embedding")
    return Embedding.apply(weight, idx=idx)


class Dropout(Function):
    def forward(self, K, a):
        self.mask = K.dropout_mask(a.shape, self.p, a.dtype, self.rng)
        return K.mul(a, self.mask)

    def backward(self, g):
        return (self.K.mul(g, self.mask),)


def dropout(a, p=0.5, training=True, rng=None):
    """Inverted dropout: zero with probability p, scale the rest by 1/(1-p); identity when not training."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    a = as_tensor(a)
    if not training or p == 0.0:
        return a
    return Dropout.apply(a, p=float(p), rng=rng or _random.generator())


class LayerNorm(Function):
    def forward(self, K, x, gamma=None, beta=None):
        y, self.ctx = K.layer_norm(x, gamma, beta, self.eps)
        return y

    def backward(self, g):
        gx, gg, gb = self.K.layer_norm_backward(self.ctx, g)
        return (gx, gg, gb)[:len(self.inputs)]


def _affine_params(x, gamma, beta, who):
    c = x.shape[-1]
    if gamma is None and beta is None:
        return ()
    gamma = as_tensor(gamma if gamma is not None else np.ones(c, x.dtype), like=x)
    beta = as_tensor(beta if beta is not None else np.zeros(c, x.dtype), like=x)
    for nm, t in (("gamma", gamma), ("beta", beta)):
        if t.shape != (c,):
            raise ValueError(f"{who}: {nm} has shape {t.shape}, expected ({c},) for input shape {x.shape}")
    return gamma, beta


def layer_norm(x, gamma=None, beta=None, eps=1e-5):
    """Normalise over the last axis, then scale by gamma and shift by beta."""
    x = as_tensor(x)
    return LayerNorm.apply(x, *_affine_params(x, gamma, beta, "layer_norm"), eps=float(eps))


class BatchNorm(Function):
    def forward(self, K, x, gamma=None, beta=None):
        y, self.ctx, mean, var = K.batch_norm(x, gamma, beta, self.eps)
        self.stats.append((mean, var))
        return y

    def backward(self, g):
        gx, gg, gb = self.K.batch_norm_backward(self.ctx, g)
        return (gx, gg, gb)[:len(self.inputs)]


def batch_norm(x, gamma=None, beta=None, running_mean=None, running_var=None,
               training=True, momentum=0.1, eps=1e-5):
    """Normalise over every axis but the last (channels-last).

    Training: batch statistics, and running_mean/running_var (tensors) updated in
    place as running = (1 - momentum) * running + momentum * batch (unbiased
    variance, as PyTorch). Inference: the running statistics.
    """
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: input must have a batch and a channel axis, got shape {x.shape}")
    affine = _affine_params(x, gamma, beta, "batch_norm")
    if training:
        m = x.size // x.shape[-1]
        if m < 2:
            raise ValueError(f"batch_norm: training needs more than one value per channel, got input shape {x.shape}")
        stats = []
        y = BatchNorm.apply(x, *affine, eps=float(eps), stats=stats)
        if running_mean is not None and running_var is not None:
            _update_running(running_mean, running_var, momentum, *stats[0], m)
        return y
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: inference (training=False) needs running_mean and running_var")
    from .elementwise import add, mul, sqrt, sub, div
    y = div(sub(x, running_mean), sqrt(add(running_var, eps)))
    if affine:
        y = add(mul(y, affine[0]), affine[1])
    return y


def _update_running(running_mean, running_var, momentum, mu, var, m):
    K = _backend.current
    unbiased = K.scale(var, m / (m - 1))
    K.copy_into(running_mean.data, K.add(K.scale(running_mean.data, 1 - momentum), K.scale(mu, momentum)))
    K.copy_into(running_var.data, K.add(K.scale(running_var.data, 1 - momentum), K.scale(unbiased, momentum)))

