"""A data-parallel job for the two-host test (test_two_hosts.py): SGD whose gradients (4 MiB of
float32 and a small float64 vector) are averaged over every rank, so that real traffic crosses.

usage: two_host_worker.py OUT_DIR train|forever
  train    20 steps, then writes OUT_DIR/rank<R>.json: digest of the weights, transport facts
  forever  writes OUT_DIR/ready<R> after the first step and trains on until it fails (120 s cap)
"""
import hashlib
import json
import os
import sys
import time

import numpy as np

import dptrain.distributed as dist

out_dir, mode = sys.argv[1], sys.argv[2]
ctx = dist.init(timeout=30)
comm, rank = ctx.communicator, ctx.rank
weights = [np.zeros(1 << 20, np.float32), np.zeros(257, np.float64)]


def gradient(k, step, w):
    target = np.random.default_rng([k, rank]).standard_normal(w.size).astype(w.dtype)
    return (w - target) + w.dtype.type(0.01) * np.random.default_rng([k, rank, step]).standard_normal(w.size).astype(w.dtype)


end = time.monotonic() + 120
step = 0
while mode == "forever" and time.monotonic() < end or mode == "train" and step < 20:
    for k, w in enumerate(weights):
        w -= w.dtype.type(0.1) * dist.all_reduce(gradient(k, step % 20, w), op="mean")
    step += 1
    if mode == "forever" and step == 1:
        open(os.path.join(out_dir, f"ready{rank}"), "w").close()

info = {"rank": rank, "world": ctx.world_size, "source": ctx.source,
        "digest": hashlib.sha256(b"".join(w.tobytes() for w in weights)).hexdigest(),
        "curve": comm.uses_curve, "shm": comm.uses_shm, "peer_urls": list(comm.mesh.peer_urls.values()),
        "endpoint": comm.mesh.tcp_url, "ipc": comm.mesh.ipc_url, "dropped": comm.dropped}
with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
    json.dump(info, f)
print(json.dumps(info), flush=True)
dist.shutdown()
