"""The keras.io programs of examples/keras_io/ under dptrain and under Keras 3 (torch backend), in one run.

Each program runs twice, as a fresh process each time: `python <program> --epochs N` (dptrain)
and `python <program> --keras --epochs N` (Keras 3, KERAS_BACKEND=torch). A program prints
"accuracy: X" (or "final loss: X") and "train seconds: S" (its own fit calls, imports and data
loading excluded); the table shows both sides' result and time and the speed ratio
Keras time / dptrain time (>= 1.0: dptrain is at least as fast).

BLAS/OpenMP threads default to 1 for numpy and torch alike (set OMP_NUM_THREADS to change):
on shared cores, multithreaded BLAS makes timings erratic for both sides.
Usage: python benchmarks/keras_io.py [--quick] [--only NAME[,NAME...]] [--no-keras]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDER = os.path.join(ROOT, "examples", "keras_io")

# program -> (epochs, quick epochs)
PROGRAMS = {
    "mnist_convnet": (10, 3),
    "timeseries_classification_from_scratch": (30, 5),
    "functional_api": (8, 2),
    "sequential_model": (10, 3),
    "training_with_builtin_methods": (6, 2),
    "writing_your_own_callbacks": (12, 4),
    "customizing_fit": (8, 2),
    "making_new_layers_and_models_via_subclassing": (10, 3),
    "text_classification_with_transformer": (3, 1),
}


def run(name, epochs, keras):
    threads = os.environ.get("OMP_NUM_THREADS", "1")
    env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, MKL_NUM_THREADS=threads,
               KERAS_BACKEND="torch", PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("KERAS_IO_BACKEND", None)
    cmd = [sys.executable, os.path.join(FOLDER, f"{name}.py"), "--epochs", str(epochs)] + (["--keras"] if keras else [])
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=3600)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        return {"error": (r.stderr or r.stdout).strip().splitlines()[-1][:60], "wall": wall}
    out = r.stdout
    result = {"wall": wall}
    for label, key in (("accuracy", "accuracy"), ("final loss", "loss"), ("train seconds", "seconds")):
        m = re.search(rf"^{label}:\s*([0-9.eE+-]+)", out, re.M)
        if m:
            result[key] = float(m.group(1))
    return result


def _value(r):
    if "error" in r:
        return "error: " + r["error"]
    if "accuracy" in r:
        return f"acc {r['accuracy']:.4f}"
    return f"loss {r['loss']:.4f}" if "loss" in r else "?"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer epochs (a smoke run)")
    p.add_argument("--only", default="", help="comma-separated program names")
    p.add_argument("--no-keras", action="store_true", help="dptrain only")
    args = p.parse_args()
    names = [n for n in PROGRAMS if not args.only or n in args.only.split(",")]
    try:
        import importlib.util
        have_keras = importlib.util.find_spec("keras") is not None and importlib.util.find_spec("torch") is not None
    except ImportError:
        have_keras = False
    peer = have_keras and not args.no_keras
    header = f"{'program':<46} {'epochs':>6}  {'dptrain':>12} {'keras':>12}  {'dptrain s':>9} {'keras s':>9} {'ratio':>6}"
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '1')}; ratio = keras train seconds / dptrain train "
          f"seconds" + ("" if peer else " (keras/torch not installed: dptrain only)"))
    print(header)
    print("-" * len(header))
    for name in names:
        epochs = PROGRAMS[name][1 if args.quick else 0]
        ours = run(name, epochs, keras=False)
        theirs = run(name, epochs, keras=True) if peer else None
        t_ours = ours.get("seconds")
        t_theirs = theirs.get("seconds") if theirs else None
        ratio = f"{t_theirs / t_ours:6.2f}" if t_ours and t_theirs else "     -"
        print(f"{name:<46} {epochs:>6}  {_value(ours):>12} {(_value(theirs) if theirs else '-'):>12}  "
              f"{(f'{t_ours:9.2f}' if t_ours else '        -')} {(f'{t_theirs:9.2f}' if t_theirs else '        -')} "
              f"{ratio}", flush=True)


if __name__ == "__main__":
    main()
