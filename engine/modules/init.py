"""Weight initialisers (Keras conventions), drawing from `engine.random.generator()`.

Shapes are in the engine's layouts: dense weights [in, out], conv kernels
[kh, kw, in, out], so fan_in is the second-to-last axis (times the receptive
field) and fan_out the last one.
"""
from __future__ import annotations

import math

import numpy as np

from .. import random as _random


def fans(shape):
    """(fan_in, fan_out) of a weight of `shape`."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _rng(rng):
    return _random.generator() if rng is None else rng


def zeros(shape, dtype=np.float32, rng=None):
    return np.zeros(shape, dtype)


def ones(shape, dtype=np.float32, rng=None):
    return np.ones(shape, dtype)


def uniform(shape, limit, dtype=np.float32, rng=None):
    return _rng(rng).uniform(-limit, limit, size=shape).astype(dtype)


def glorot_uniform(shape, dtype=np.float32, rng=None):
    fan_in, fan_out = fans(shape)
    return uniform(shape, math.sqrt(6.0 / (fan_in + fan_out)), dtype, rng)


def glorot_normal(shape, dtype=np.float32, rng=None):
    fan_in, fan_out = fans(shape)
    return _truncated_normal(shape, math.sqrt(2.0 / (fan_in + fan_out)), dtype, rng)


def he_uniform(shape, dtype=np.float32, rng=None):
    fan_in, _ = fans(shape)
    return uniform(shape, math.sqrt(6.0 / fan_in), dtype, rng)


def he_normal(shape, dtype=np.float32, rng=None):
    fan_in, _ = fans(shape)
    return _truncated_normal(shape, math.sqrt(2.0 / fan_in), dtype, rng)


def _truncated_normal(shape, std, dtype, rng):
    """Normal(0, std) redrawn beyond two standard deviations; the constant
    0.8796 restores the requested std after truncation (as Keras does)."""
    rng = _rng(rng)
    scale = std / 0.87962566103423978
    out = rng.standard_normal(size=shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(size=int(bad.sum()))
        bad = np.abs(out) > 2.0
    return (out * scale).astype(dtype)


def orthogonal(shape, dtype=np.float32, rng=None, gain=1.0):
    """A (semi-)orthogonal matrix: orthonormal rows or columns, whichever are fewer."""
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2:
        raise ValueError(f"orthogonal: needs at least 2 dimensions, got shape {shape}")
    rows, cols = math.prod(shape[:-1]), shape[-1]
    a = _rng(rng).standard_normal(size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # makes the distribution uniform over orthogonal matrices
    if rows < cols:
        q = q.T
    return (gain * q).reshape(shape).astype(dtype)
