"""Compare tape gradients with float64 central finite differences."""
from __future__ import annotations

import numpy as np

from .autograd import grad_tape, run_backward
from .tensor import Tensor, param


class GradcheckError(AssertionError):
    """An analytic gradient that differs from float64 finite differences (names input and index)."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-4, rtol=1e-3, seed=0):
    """Check `fn(*inputs)` gradients against central differences, in float64.

    `inputs` are arrays (or tensors); every floating one is differentiated.
    A non-scalar output is reduced with a fixed random projection so every
    output element is checked. Returns True or raises GradcheckError naming the
    input, the element and both values.
    """
    arrays = [np.array(x.numpy() if isinstance(x, Tensor) else x, copy=True, order="C") for x in inputs]
    diff = [a.dtype.kind == "f" for a in arrays]
    arrays = [a.astype(np.float64) if d else a for a, d in zip(arrays, diff)]
    proj = {}

    def scalar(values):
        args = [param(v, name=f"gradcheck_{i}") if d else v for i, (v, d) in enumerate(zip(values, diff))]
        out = fn(*args)
        if not isinstance(out, Tensor):
            raise TypeError("gradcheck: fn must return a Tensor")
        if out.size != 1:
            if "w" not in proj:
                proj["w"] = np.random.default_rng(seed).standard_normal(out.shape)
            from .ops import mul, sum
            out = sum(mul(out, proj["w"].astype(out.dtype)))
        return out, args

    with grad_tape():
        out, args = scalar(arrays)
    run_backward(out)
    for i, (a, d, p) in enumerate(zip(arrays, diff, args)):
        if not d:
            continue
        analytic = np.zeros_like(a) if p.grad is None else np.asarray(p.grad, dtype=np.float64)
        numeric = np.zeros_like(a)
        flat = a.reshape(-1)
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            fp = scalar(arrays)[0].item()
            flat[j] = old - eps
            fm = scalar(arrays)[0].item()
            flat[j] = old
            numeric.reshape(-1)[j] = (fp - fm) / (2 * eps)
        bad = np.abs(analytic - numeric) > atol + rtol * np.abs(numeric)
        if bad.any():
            j = int(np.argmax(bad.reshape(-1)))
            idx = np.unravel_index(j, a.shape) if a.shape else ()
            raise GradcheckError(
                f"gradcheck: input {i} element {tuple(int(k) for k in idx)}: tape gradient "
                f"{analytic.reshape(-1)[j]:.8g} vs finite difference {numeric.reshape(-1)[j]:.8g} "
                f"({int(bad.sum())} of {bad.size} elements differ)")
    return True
