"""The worker of benchmarks/launch_matrix.py: the same training as tests/launcher/scripts/dist_worker.py
(tests/launcher/scripts/linear_job.py, so the same weights digest), and it reports where its job secret came from.

usage: _matrix_worker.py RUN_DIR train | slow
  train: 20 SGD steps, then one JSON line (rank, world, source, secret, digest).
  slow:  the same steps, then more with a pause between them until killed (at most ~100 s);
         RUN_DIR/ready<R> after the first step. Collectives' timeout: 10 s.
Every rank writes its pid to RUN_DIR/rank<R>.pid.
"""
import json
import os
import sys
import time

import numpy as np

import dptrain.distributed as dist
import dptrain.distributed.context as context
from launcher.env import read_worker_env

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "launcher",
                                "scripts"))
from linear_job import train_digest  # noqa: E402  (the launcher tests' job: the same weights)

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
digest = train_digest(dist, ctx.rank)
if mode == "slow":
    open(os.path.join(run_dir, f"ready{ctx.rank}"), "w").close()
    for _ in range(2000):
        dist.all_reduce(np.zeros(4), op="mean")
        time.sleep(0.05)
os.write(1, (json.dumps({
    "rank": ctx.rank, "world": ctx.world_size, "source": we.source, "secret": secret_sources[-1],
    "digest": digest,
}) + "\n").encode())
dist.shutdown()
