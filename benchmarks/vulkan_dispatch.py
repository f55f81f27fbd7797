"""Vulkan backend costs on the present device, next to numpy measured in the same run.

  python benchmarks/vulkan_dispatch.py [--device N] [--quick]

1. microseconds per recorded dispatch: the recorder alone (raw cffi calls with prebuilt
   structures), a whole op (K.add: allocation + dispatch), and the `vulkan` package's
   Python wrapper for one call, for scale;
2. submits, dispatches and milliseconds per training step of the README MLP
   (784-128 relu-10, batch 32, Adam), Vulkan vs numpy;
3. f32 matmul GFLOP/s, Vulkan vs numpy.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import engine as ag  # noqa: E402
from engine import backend  # noqa: E402
from engine.backend import vulkan as vkb  # noqa: E402
from engine.backend.vulkan import _vk  # noqa: E402
from engine.backend.vulkan.interfaces import BINARY, B_ADD  # noqa: E402
from engine.backend.vulkan.kernels.base import WG, pad6  # noqa: E402


def best_us(fn, n, rounds=5, between=None):
    """Best per-call time over a few rounds (the machine may be shared); `between` runs untimed."""
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        fn(n)
        best = min(best, (time.perf_counter() - t) / n * 1e6)
        if between is not None:
            between()
    return best


def per_dispatch_us(vk, n=20000):
    rec = vk.device.recorder
    a, b = vk.asarray(np.ones(256, np.float32)), vk.asarray(np.ones(256, np.float32))
    outs = [vk.zeros(256, np.float32) for _ in range(64)]
    pipe = vk.pipes.get(BINARY, (WG, B_ADD, 1), (False, False, False))
    pushes = [(256, a.off, b.off, o.off, *pad6([256], 1), *pad6([1]), *pad6([1]), 0.0, 0.0, 0) for o in outs]
    vk.sync()

    def record(k):
        for i in range(k):
            o = i & 63
            rec.dispatch(pipe, (a, b, outs[o]), pushes[o], 2)

    def ops(k):
        for _ in range(k):
            vk.add(a, b)
    rounds = n // 1000
    rec_us = best_us(record, 1000, rounds, vk.sync)
    op_us = best_us(ops, 1000, rounds, vk.sync)
    # the package's wrapper for a single vkCmdDispatch, for comparison with the raw call
    # (repeating the dispatch just recorded, so a pipeline and its buffers are bound)
    rec.dispatch(pipe, (a, b, outs[0]), pushes[0], 2)
    cmd = rec.cmd
    wrapped, raw = _vk.vk.vkCmdDispatch, _vk.lib.vkCmdDispatch

    def call_wrapped(k):
        for _ in range(k):
            wrapped(cmd, 1, 1, 1)

    def call_raw(k):
        for _ in range(k):
            raw(cmd, 1, 1, 1)
    wrap_us = best_us(call_wrapped, 500)
    raw_us = best_us(call_raw, 500)
    rec.submit()
    vk.sync()
    return rec_us, op_us, wrap_us, raw_us


def mlp_step(K, steps, x, y, rounds=3):
    """Best ms/step over `rounds` rounds of `steps` steps, and submits/dispatches per step."""
    prev = backend.current
    backend.set_current(K)
    try:
        ag.manual_seed(0)
        model = ag.Sequential(ag.Linear(784, 128, activation="relu"), ag.Linear(128, 10))
        opt = ag.optim.Adam(model.parameters(), lr=1e-3)

        def step(i):
            lo = (i * 32) % (len(x) - 32)
            with ag.grad_tape():
                loss = ag.softmax_cross_entropy_loss(model(ag.tensor(x[lo:lo + 32])), y[lo:lo + 32])
            opt.step(ag.backward(loss))
            return loss.item()

        for i in range(2):        # warm-up: pipeline builds, first allocations
            step(i)
        best = float("inf")
        sub0, disp0 = getattr(K, "submits", 0), getattr(K, "dispatches", 0)
        for r in range(rounds):
            t = time.perf_counter()
            for i in range(steps):
                step(i)
            best = min(best, (time.perf_counter() - t) / steps * 1e3)
        n = rounds * steps
        return best, (getattr(K, "submits", 0) - sub0) / n, (getattr(K, "dispatches", 0) - disp0) / n
    finally:
        backend.set_current(prev)


def matmul_gflops(vk, n, reps, rounds=3):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)).astype(np.float32), rng.standard_normal((n, n)).astype(np.float32)
    da, db = vk.asarray(a), vk.asarray(b)
    vk.to_numpy(vk.matmul(da, db))                       # build the pipeline, warm up
    vk_s = np_s = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(reps):
            out = vk.matmul(da, db)
        vk.sync()
        vk_s = min(vk_s, (time.perf_counter() - t) / reps)
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        np_s = min(np_s, (time.perf_counter() - t) / reps)
    err = np.abs(vk.to_numpy(out) - a @ b).max()
    flop = 2.0 * n ** 3
    return flop / vk_s / 1e9, flop / np_s / 1e9, err


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", type=int, default=int(os.environ.get("DPTRAIN_TEST_VULKAN_DEVICE", 0)))
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = ap.parse_args()
    try:
        vk = vkb.open_backend(args.device)
    except vkb.VulkanUnavailable as e:
        print(f"Vulkan unavailable: {e}")
        return 1
    info = vk.device.info
    print(f"device vulkan:{args.device}: {info.name} ({info.type}, f16={'yes' if info.f16 else 'no'}), "
          f"numpy {np.__version__}")

    rec_us, op_us, wrap_us, raw_us = per_dispatch_us(vk, 5000 if args.quick else 20000)
    print("\n1. dispatch recording")
    print(f"   recorder.dispatch (bind, push constants, dispatch; raw cffi): {rec_us:6.2f} us")
    print(f"   whole op K.add (allocate output + dispatch):                  {op_us:6.2f} us")
    print(f"   one vkCmdDispatch: package wrapper {wrap_us:.2f} us vs raw lib call {raw_us:.2f} us "
          f"(x{wrap_us / max(raw_us, 1e-9):.1f})")

    rng = np.random.default_rng(0)
    x = rng.standard_normal((1024, 784)).astype(np.float32)
    y = rng.integers(0, 10, 1024)
    steps = 5 if args.quick else 20
    np_ms, _, _ = mlp_step(backend.numpy_backend, steps, x, y)
    vk_ms, subs, disp = mlp_step(vk, steps, x, y)
    print("\n2. README MLP 784-128 relu-10, batch 32, Adam (one step: forward, backward, fused update, loss.item())")
    print(f"   Vulkan: {subs:.2f} submits/step, {disp:.0f} dispatches/step, {vk_ms:.2f} ms/step (best round)")
    print(f"   numpy:  {np_ms:.2f} ms/step (best round)   -> Vulkan/numpy time ratio {vk_ms / np_ms:.2f}")

    print("\n3. f32 matmul (n x n @ n x n), best of 3 rounds each")
    for n in ((128, 256) if args.quick else (128, 256, 512, 1024)):
        reps = max(1, int(1e8 / n ** 3)) if not args.quick else 1
        g_vk, g_np, err = matmul_gflops(vk, n, reps)
        print(f"   n={n:5d}: Vulkan {g_vk:7.2f} GFLOP/s   numpy {g_np:7.2f} GFLOP/s   ratio {g_vk / g_np:5.2f}"
              f"   (max abs err {err:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
