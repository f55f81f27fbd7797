"""Every primitive's backward on Vulkan against finite differences computed on Vulkan itself.

test_vulkan_ops.py compares Vulkan with numpy, which shares each op's backward code, so a
wrong backward would agree with itself there. Here the reference is independent: central
differences of the float32 forward on the device (steps and tolerances sized for float32)."""
import numpy as np
import pytest
from test_vulkan_ops import CASES
from vulkan_helpers import run_on

import engine as ag
from engine import backend

FLOAT_CASES = [c for c in CASES if all(np.asarray(x).dtype.kind == "f" for x in c[2])]
NONSMOOTH = {"max_pool", "maxpool", "max", "relu", "abs", "clamp"}


def _forward(vk, fn, inputs, seed):
    prev = backend.current
    backend.set_current(vk)
    try:
        ag.manual_seed(seed)
        with ag.no_grad():
            out = fn(*[ag.tensor(np.asarray(x, np.float32)) for x in inputs])
        proj = np.random.default_rng(99).standard_normal(out.shape)
        return float(np.sum(np.asarray(out.numpy(), np.float64) * proj))
    finally:
        backend.set_current(prev)


@pytest.mark.parametrize("case", FLOAT_CASES, ids=[c[0] for c in FLOAT_CASES])
def test_backward_matches_finite_differences_on_vulkan(vk, case):
    name, fn, inputs, _ = case
    _, grads = run_on(vk, fn, inputs, seed=0)
    rng = np.random.default_rng(5)
    for i, x in enumerate(inputs):
        if grads[i] is None:
            continue
        x = np.asarray(x, np.float64)
        picks = rng.choice(x.size, size=min(x.size, 12), replace=False)
        for k in picks:
            h = 1e-2 * max(1.0, abs(x.flat[k]))
            if any(tag in name for tag in NONSMOOTH):
                h = min(h, 2e-3)            # stay on one side of the kinks the inputs keep away from
            plus, minus = x.copy(), x.copy()
            plus.flat[k] += h
            minus.flat[k] -= h
            args_p = [plus if j == i else a for j, a in enumerate(inputs)]
            args_m = [minus if j == i else a for j, a in enumerate(inputs)]
            fd = (_forward(vk, fn, args_p, 0) - _forward(vk, fn, args_m, 0)) / (2 * h)
            got = grads[i].flat[k]
            assert abs(got - fd) <= 3e-2 * max(1.0, abs(fd)), \
                f"{name}: d/d input{i}[{k}] is {got:.6g} on Vulkan, finite differences give {fd:.6g}"
