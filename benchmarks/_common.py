"""Shared helpers for the benchmark scripts: timing and peer detection."""
from __future__ import annotations

import time


def best_time(fn, repeat=5, number=1):
    """Best wall time of `number` calls, over `repeat` rounds (after one warm-up)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def try_import_torch(threads=None):
    try:
        import torch
    except ImportError:
        return None
    if threads:
        torch.set_num_threads(threads)
    return torch


def ratio_line(label, ours, peer, unit="ms", higher_is_better=False):
    if peer is None:
        return f"{label:<38} dptrain {ours:10.3f} {unit}   (peer not installed)"
    ratio = ours / peer if higher_is_better else peer / ours
    return f"{label:<38} dptrain {ours:10.3f} {unit}   torch {peer:10.3f} {unit}   ratio {ratio:5.2f}x"
