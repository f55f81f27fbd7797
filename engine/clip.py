"""Gradient clipping by the global L2 norm."""
from __future__ import annotations

import math

from . import backend as _backend
from .optim.optimizer import named_params
from .tensor import Tensor


def clip_grad_norm(params, grads=None, max_norm=1.0, error_if_nonfinite=True):
    """Scale the gradients in place so that their global L2 norm is at most `max_norm`.

    params: a dict name -> param (e.g. `m.parameters()`), a Module or a list of params.
    grads: {name: array} as returned by ag.backward (looked up by param name, then
    by dict key), or None to use each param's `.grad`. Params without a gradient
    are skipped. Returns the norm before clipping (a float).

    A non-finite norm raises FloatingPointError naming the params whose gradients
    are not finite; with error_if_nonfinite=False the norm is returned and the
    gradients are left untouched (scaling by inf/nan would turn the weights into NaN).
    """
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float)) or not max_norm > 0:
        raise ValueError(f"clip_grad_norm: max_norm must be a positive number, got {max_norm!r}")
    names, tensors = named_params(params, "clip_grad_norm")
    if grads is not None and not isinstance(grads, dict):
        raise TypeError(f"clip_grad_norm: grads must be a dict name -> gradient or None, got {type(grads).__name__}")
    K = _backend.current
    found = []
    for name, p in zip(names, tensors):
        if grads is None:
            g = p.grad
        else:
            g = grads.get(p.name)
            if g is None:
                g = grads.get(name)
        if g is None:
            continue
        found.append((name, g.data if isinstance(g, Tensor) else g))
    total = math.fsum(K.sum_squares(g) for _, g in found)
    norm = math.sqrt(total) if math.isfinite(total) else total
    if not math.isfinite(norm):
        if error_if_nonfinite:
            bad = [n for n, g in found if not K.all_finite(g)]
            what = f"non-finite gradients in {bad}" if bad else "the gradient norm overflows"
            raise FloatingPointError(f"clip_grad_norm: total gradient norm is {norm}; {what}. "
                                     "Pass error_if_nonfinite=False to skip clipping instead.")
        return norm
    coef = max_norm / (norm + 1e-6)
    if coef < 1.0:
        for _, g in found:
            K.copy_into(g, K.scale(g, coef))
    return norm
