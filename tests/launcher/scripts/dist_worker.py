"""A dptrain data-parallel job, launcher-agnostic: SGD on a linear model whose gradients are
averaged with dptrain.distributed. Prints one JSON line: where it ran (as read_worker_env
sees it) and a digest of its final weights, which is the same under every launcher.

usage: dist_worker.py [fail R]   (fail R: on the first attempt, rank R exits 3 before init)
"""
import json
import os
import sys

import dptrain.distributed as dist
from launcher.env import read_worker_env
from linear_job import train_digest  # this script's folder is on sys.path

we = read_worker_env()
if sys.argv[1:2] == ["fail"] and we.restart_count == 0 and we.rank == int(sys.argv[2]):
    sys.exit(3)
ctx = dist.init(timeout=30)
digest = train_digest(dist, ctx.rank)
# one write per line: under torchrun the ranks share the console unprefixed
os.write(1, (json.dumps({
    "rank": ctx.rank, "world": ctx.world_size, "local_rank": ctx.local_rank, "source": we.source,
    "restart": we.restart_count, "port": we.master_port, "MASTER_PORT": os.environ.get("MASTER_PORT"),
    "digest": digest, "torch": "torch" in sys.modules,
}) + "\n").encode())
dist.shutdown()
