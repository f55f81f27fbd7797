"""`keras.random`: random tensors, drawn on the host from numpy generators.

As in Keras 3, `seed` is None (draw from dptrain's global generator, which
`keras.utils.set_random_seed` / `ag.manual_seed` seed), an int (the same numbers on every call
with that seed) or a `SeedGenerator` (a fresh draw each call, reproducible from its seed). The
numbers differ from Keras' (another generator); distributions and shapes are Keras'.
"""
from __future__ import annotations

import numpy as np

from engine import ops
from engine import random as _engine_random
from engine.tensor import Tensor, as_tensor

__all__ = ["SeedGenerator", "beta", "binomial", "categorical", "dropout", "gamma", "normal", "randint",
           "shuffle", "truncated_normal", "uniform"]


class SeedGenerator:
    """A seed state: each draw that takes it uses the next numbers of one numpy generator."""

    def __init__(self, seed=None, name=None, **kwargs):
        if kwargs:
            raise TypeError(f"SeedGenerator: unexpected keyword argument(s) {', '.join(sorted(kwargs))}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(f"SeedGenerator: seed must be an integer or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self.name = name or "seed_generator"
        self._rng = np.random.default_rng(_engine_random.generator().integers(2 ** 63) if seed is None else seed)

    def next(self):
        return self._rng


def _rng(seed, who):
    if seed is None:
        return _engine_random.generator()
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{who}: seed must be None, an integer or a keras.random.SeedGenerator, got {seed!r}")
    return np.random.default_rng(int(seed))


def _shape(shape, who):
    try:
        shape = tuple(int(s) for s in (shape if isinstance(shape, (tuple, list)) else (shape,)))
    except (TypeError, ValueError):
        raise TypeError(f"{who}: shape must be a tuple of integers, got {shape!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"{who}: shape must not have negative sizes, got {shape}")
    return shape


def _float(dtype, who):
    dtype = np.dtype(dtype or "float32")
    if dtype.kind != "f":
        raise ValueError(f"{who}: dtype must be a float type, got {dtype}")
    return dtype


def _out(a, dtype):
    return Tensor(np.asarray(a, dtype))


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples from N(mean, stddev**2)."""
    who = "keras.random.normal"
    return _out(_rng(seed, who).normal(mean, stddev, _shape(shape, who)), _float(dtype, who))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Samples from U[minval, maxval)."""
    who = "keras.random.uniform"
    return _out(_rng(seed, who).uniform(minval, maxval, _shape(shape, who)), _float(dtype, who))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """N(mean, stddev**2) redrawn until within two standard deviations of the mean (as Keras)."""
    who = "keras.random.truncated_normal"
    rng, shape = _rng(seed, who), _shape(shape, who)
    z = rng.standard_normal(shape)
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    return _out(mean + stddev * z, _float(dtype, who))


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers in [minval, maxval)."""
    who = "keras.random.randint"
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu":
        raise ValueError(f"{who}: dtype must be an integer type, got {dtype}")
    if not maxval > minval:
        raise ValueError(f"{who}: maxval ({maxval}) must be greater than minval ({minval})")
    return _out(_rng(seed, who).integers(minval, maxval, _shape(shape, who)), dtype)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """`num_samples` class indices per row of `logits` [batch, classes], drawn from softmax(logits)."""
    who = "keras.random.categorical"
    lg = np.asarray(logits.numpy() if isinstance(logits, Tensor) else logits, np.float64)
    if lg.ndim != 2:
        raise ValueError(f"{who}: logits must be 2-D [batch, classes], got shape {lg.shape}")
    p = np.exp(lg - lg.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    rng = _rng(seed, who)
    draws = [rng.choice(p.shape[1], size=int(num_samples), p=row) for row in p]
    return _out(np.stack(draws) if draws else np.zeros((0, int(num_samples))), np.dtype(dtype))


def gamma(shape, alpha, dtype=None, seed=None):
    """Samples from Gamma(alpha, 1)."""
    who = "keras.random.gamma"
    return _out(_rng(seed, who).gamma(alpha, 1.0, _shape(shape, who)), _float(dtype, who))


def beta(shape, alpha, beta, dtype=None, seed=None):
    """Samples from Beta(alpha, beta)."""
    who = "keras.random.beta"
    return _out(_rng(seed, who).beta(alpha, beta, _shape(shape, who)), _float(dtype, who))


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """Samples from Binomial(counts, probabilities), as floats (Keras' default dtype)."""
    who = "keras.random.binomial"
    return _out(_rng(seed, who).binomial(counts, probabilities, _shape(shape, who)), _float(dtype, who))


def dropout(inputs, rate, noise_shape=None, seed=None):
    """inputs * mask / (1 - rate), each mask value 0 with probability `rate` (differentiable in inputs)."""
    who = "keras.random.dropout"
    x = as_tensor(inputs)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"{who}: rate must lie in [0, 1), got {rate!r}")
    shape = tuple(x.shape) if noise_shape is None else tuple(
        x.shape[i] if s is None else int(s) for i, s in enumerate(noise_shape))
    keep = (_rng(seed, who).random(shape) >= rate).astype(x.dtype) / x.dtype.type(1.0 - rate)
    return ops.mul(x, keep)


def shuffle(x, axis=0, seed=None):
    """`x` with its entries along `axis` in a random order."""
    who = "keras.random.shuffle"
    x = as_tensor(x)
    order = _rng(seed, who).permutation(x.shape[axis])
    index = [slice(None)] * x.ndim
    index[axis] = order
    return ops.getitem(x, tuple(index))
