"""The worker of benchmarks/launch_matrix.py: the same training as tests/launcher/scripts/dist_worker.py
(so the same weights digest), and it reports where its job secret came from.

usage: _matrix_worker.py RUN_DIR train | slow
  train: 20 SGD steps, then one JSON line (rank, world, source, secret, digest).
  slow:  the same steps, then more with a pause between them until killed (at most ~100 s);
         RUN_DIR/ready<R> after the first step. Collectives' timeout: 10 s.
Every rank writes its pid to RUN_DIR/rank<R>.pid.
"""
import hashlib
import json
import os
import sys
import time

import numpy as np

import dptrain.distributed as dist
import dptrain.distributed.context as context
from launcher.env import read_worker_env

run_dir, mode = sys.argv[1], sys.argv[2]
secret_sources = []
_job_secret = context.job_secret


def _recording_job_secret(*args, **kwargs):
    secret = _job_secret(*args, **kwargs)
    secret_sources.append(secret.origin)
    return secret


context.job_secret = _recording_job_secret  # dist.init calls it: note where the secret came from

we = read_worker_env()
ctx = dist.init(timeout=30 if mode == "train" else 10)
with open(os.path.join(run_dir, f"rank{ctx.rank}.pid"), "w") as f:
    f.write(str(os.getpid()))
rng = np.random.default_rng(100 + ctx.rank)
X = rng.standard_normal((32, 4))
y = X @ np.arange(1.0, 5.0)
w = np.zeros(4)
for _ in range(20):
    g = dist.all_reduce(2.0 * X.T @ (X @ w - y) / len(y), op="mean")
    w -= 0.05 * g
if mode == "slow":
    open(os.path.join(run_dir, f"ready{ctx.rank}"), "w").close()
    for _ in range(2000):
        dist.all_reduce(np.zeros(4), op="mean")
        time.sleep(0.05)
os.write(1, (json.dumps({
    "rank": ctx.rank, "world": ctx.world_size, "source": we.source, "secret": secret_sources[-1],
    "digest": hashlib.sha256(w.tobytes()).hexdigest(),
}) + "\n").encode())
dist.shutdown()
