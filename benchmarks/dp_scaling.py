"""Data-parallel scaling of the README MLP: 1 vs 2 workers (one BLAS thread each).

efficiency = throughput(2 workers) / (2 x throughput(1 worker)), per-worker batch 64 and 256,
next to torch DistributedDataParallel on gloo in the same run when torch is installed.
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "_dp_worker.py")


def throughput(impl, n, batch, steps):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-m", "launcher", "--nproc-per-node", str(n), "--timeout", "300",
                        WORKER, "--impl", impl, "--batch", str(batch), "--steps", str(steps)],
                       capture_output=True, text=True, env=env, cwd=os.path.dirname(HERE))
    m = re.search(r"SAMPLES_PER_S ([0-9.]+)", r.stdout)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"{impl} with {n} worker(s) failed:\n{r.stdout}\n{r.stderr}")
    return float(m.group(1))


def main():
    try:
        import torch  # noqa: F401
        impls = ["dptrain", "torch"]
    except ImportError:
        impls = ["dptrain"]
        print("torch not installed: no DDP peer")
    print(f"{'impl':<8} {'batch/worker':>12} {'1 worker':>12} {'2 workers':>12} {'efficiency':>11}")
    for batch, steps in ((64, 300), (256, 150)):
        eff = {}
        for impl in impls:
            one = throughput(impl, 1, batch, steps)
            two = throughput(impl, 2, batch, steps)
            eff[impl] = two / (2 * one)
            print(f"{impl:<8} {batch:>12} {one:>10.0f}/s {two:>10.0f}/s {eff[impl]:>11.2f}")
        if "torch" in eff:
            print(f"{'':<8} {batch:>12} efficiency ratio dptrain/torch DDP: {eff['dptrain'] / eff['torch']:.2f}x")


if __name__ == "__main__":
    main()
