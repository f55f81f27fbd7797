"""Deterministic full-batch SGD on fixed data, checkpointed atomically after every step.

usage: sgd_worker.py OUT_DIR FAIL_RANK FAIL_STEP
On its first run (DPTRAIN_RESTART_COUNT == 0) rank FAIL_RANK dies right after writing the
checkpoint of step FAIL_STEP; a restarted run resumes from the last complete checkpoint.
Writes the final weights to OUT_DIR/weights_rank<R>.npy.
"""
import os
import sys
import time

import numpy as np

STEPS, LR = 20, 0.05
out_dir, fail_rank, fail_step = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rank = int(os.environ["RANK"])
restart = int(os.environ["DPTRAIN_RESTART_COUNT"])

rng = np.random.default_rng(1234 + rank)
X = rng.standard_normal((64, 5))
y = X @ rng.standard_normal(5) + 0.01 * rng.standard_normal(64)


def save_checkpoint(path, w, step):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        np.savez(f, w=w, step=step)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)  # a reader sees the old checkpoint or the new one, never half of one


ckpt = os.path.join(out_dir, f"ckpt_rank{rank}.npz")
if os.path.exists(ckpt):
    with np.load(ckpt) as c:
        w, start = c["w"].copy(), int(c["step"])
else:
    w, start = np.zeros(5), 0
print(f"restart {restart}: resuming at step {start}")

for step in range(start, STEPS):
    w -= LR * (2.0 / len(y)) * X.T @ (X @ w - y)
    save_checkpoint(ckpt, w, step + 1)
    if restart == 0 and rank == fail_rank and step + 1 == fail_step:
        print(f"rank {rank} crashing after step {step + 1}", file=sys.stderr)
        os._exit(3)
    time.sleep(0.02)

np.save(os.path.join(out_dir, f"weights_rank{rank}.npy"), w)
