"""The Keras parity harness: every case runs once with `keras` (torch backend) and once with
`dptrain`, and what a user observes must be the same.

A case is `fn(K)`, where K is the Keras-like module (`keras` or `dptrain`). It builds and uses a
model the way a Keras user writes it and returns an observation: plain Python values, numpy
arrays, tuples/lists/dicts of them. `observe_error(fn)` turns an exception into its class name
so the errors a user would see are compared too. A case dptrain cannot run yet is registered
with `missing="<feature>"`: an xfail (strict: it must fail), so the xfail count is the gap.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

RTOL, ATOL = 2e-4, 2e-5


@dataclass
class Case:
    name: str
    fn: Callable
    missing: Optional[str] = None   # the dptrain feature the case waits for
    rtol: float = RTOL
    atol: float = ATOL


CASES: dict[str, Case] = {}


def case(missing=None, rtol=RTOL, atol=ATOL):
    """Register `fn(K)` as a parity case named after the function (without `case_`)."""
    def register(fn):
        name = fn.__name__.removeprefix("case_")
        if name in CASES:
            raise ValueError(f"parity case {name!r} is defined twice")
        CASES[name] = Case(name, fn, missing, rtol, atol)
        return fn
    return register


def load_cases():
    """Import every `cases_*.py` next to this file (each fills CASES)."""
    here = os.path.dirname(os.path.abspath(__file__))
    for f in sorted(os.listdir(here)):
        if f.startswith("cases_") and f.endswith(".py"):
            importlib.import_module(f"keras_parity.{f[:-3]}")
    return CASES


# --- helpers the cases use -----------------------------------------------------------------
def data(*shape, seed=0, low=None, high=None, dtype=np.float32):
    """Deterministic inputs: normal floats, or integers in [low, high)."""
    rng = np.random.default_rng(seed)
    if low is not None:
        return rng.integers(low, high, size=shape).astype(dtype if dtype is not np.float32 else np.int64)
    return rng.standard_normal(shape).astype(dtype)


def seed_weights(model, seed=1, scale=0.3):
    """Give the model the same weights on both sides: drawn in `get_weights()` order.
    Variances (BatchNormalization's moving_variance) get positive values."""
    rng = np.random.default_rng(seed)
    new = []
    for w in model.get_weights():
        v = rng.standard_normal(w.shape).astype(np.float32) * scale
        new.append(v)
    names = [getattr(w, "path", None) or getattr(w, "name", "") for w in model.weights]
    for i, n in enumerate(names):
        if "variance" in str(n):
            new[i] = np.abs(new[i]) + 0.5
    model.set_weights(new)
    return model


def observe_error(fn):
    """The class name of what `fn()` raises (and of its bases that users catch), or 'no error'."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the class is the observation
        for cls in ("NotImplementedError", "ValueError", "TypeError", "KeyError", "IndexError", "RuntimeError"):
            if any(c.__name__ == cls for c in type(e).__mro__):
                return cls
        return type(e).__name__
    return "no error"


def kind(v):
    """The type of a returned value as a user sees it: 'float', 'list', 'dict', 'ndarray', ..."""
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, (float, np.floating)) or (hasattr(v, "shape") and getattr(v, "shape", None) == () and
                                               not isinstance(v, np.ndarray)):
        return "float"
    if isinstance(v, (int, np.integer)):
        return "int"
    if isinstance(v, np.ndarray):
        return "ndarray"
    return type(v).__name__


def to_numpy(t):
    """A layer's or model's eager output as numpy (Keras on torch gives tensors that need detach())."""
    if hasattr(t, "detach") and hasattr(t, "cpu"):   # torch
        t = t.detach().cpu()
    return np.asarray(t)


def shape_of(t):
    return tuple(None if s is None else int(s) for s in t.shape)


# --- comparison ----------------------------------------------------------------------------
def compare(got, want, rtol=RTOL, atol=ATOL, path="result"):
    """Raise AssertionError naming the first place where dptrain's observation differs."""
    if isinstance(want, dict):
        assert isinstance(got, dict), f"{path}: keras gives a dict, dptrain a {type(got).__name__}"
        assert list(got) == list(want), f"{path}: keys {list(got)} != keras {list(want)}"
        for k in want:
            compare(got[k], want[k], rtol, atol, f"{path}[{k!r}]")
    elif isinstance(want, (list, tuple)) and not _is_numeric_seq(want):
        assert isinstance(got, (list, tuple)), f"{path}: keras gives a sequence, dptrain a {type(got).__name__}"
        assert len(got) == len(want), f"{path}: length {len(got)} != keras {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            compare(g, w, rtol, atol, f"{path}[{i}]")
    elif isinstance(want, str) or want is None or isinstance(want, bool):
        assert got == want, f"{path}: {got!r} != keras {want!r}"
    else:
        g, w = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
        assert g.shape == w.shape, f"{path}: shape {g.shape} != keras {w.shape}"
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=path)


def _is_numeric_seq(v):
    return len(v) > 0 and all(isinstance(x, (int, float, np.number)) and not isinstance(x, bool) for x in v) \
        and any(isinstance(x, (float, np.floating)) for x in v)


# --- the two sides -------------------------------------------------------------------------
_keras = None


def keras_module():
    """`keras` on the torch backend, or None when it is not installed."""
    global _keras
    if _keras is None:
        os.environ.setdefault("KERAS_BACKEND", "torch")
        try:
            import torch
            torch.set_num_threads(1)
            _keras = importlib.import_module("keras")
        except ImportError:
            _keras = False
        if _keras and _keras.backend.backend() != "torch":
            _keras = False
    return _keras or None


def dptrain_module():
    import dptrain
    return dptrain


def run_case(c: Case, module):
    """Run a case with a fresh seed; `keras.utils.set_random_seed` / `dptrain.utils.set_random_seed`."""
    np.random.seed(0)
    if module.__name__ == "keras":
        module.utils.set_random_seed(0)
        module.backend.clear_session()
    else:
        module.ag.manual_seed(0)
    return c.fn(module)
