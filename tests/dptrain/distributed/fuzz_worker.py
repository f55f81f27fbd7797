"""One rank of the fuzz test's job (test_fuzz.py): deterministic data-parallel SGD whose
gradients are averaged over every rank, paced so that the fuzzer's traffic arrives while it runs.

Environment: the launcher's variables, and
    FUZZ_DIR    rank 0 writes table.json (every rank's endpoints) there; each rank writes
                status<rank>.json after every step (step, dropped counts, RSS); the job ends
                once every rank has done FUZZ_STEPS steps and the file `done` exists there
    FUZZ_STEPS  training steps (default 40)
    FUZZ_PAUSE  seconds between steps (default 0.02)
Prints `RESULT <json>` with a digest of the final weights.
"""
from __future__ import annotations

import hashlib
import json
import os
import time

import numpy as np

import dptrain.distributed as dist

SIZES = ((150_000, np.float32), (1000, np.float64))  # the ring (> 256 KiB) and the direct path
LR = 0.1


def gradient(k: int, rank: int, step: int, w: np.ndarray) -> np.ndarray:
    target = np.random.default_rng([k, rank]).standard_normal(w.size).astype(w.dtype)
    noise = np.random.default_rng([k, rank, step]).standard_normal(w.size).astype(w.dtype)
    return (w - target) + w.dtype.type(0.01) * noise


def memory_kb() -> dict:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out


def write_json(path: str, obj) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def main() -> None:
    d = os.environ["FUZZ_DIR"]
    steps = int(os.environ.get("FUZZ_STEPS", "40"))
    pause = float(os.environ.get("FUZZ_PAUSE", "0.02"))
    ctx = dist.init(timeout=60)
    comm, r = ctx.communicator, ctx.rank
    if r == 0:
        write_json(os.path.join(d, "table.json"), {"endpoints": comm.endpoints, "world": ctx.world_size})
    weights = [np.zeros(n, dtype) for n, dtype in SIZES]
    step = idle = 0
    while True:
        if step < steps:
            for k, w in enumerate(weights):
                w -= w.dtype.type(LR) * dist.all_reduce(gradient(k, r, step, w), op="mean")
            step += 1
        else:
            dist.barrier()
            idle += 1
        write_json(os.path.join(d, f"status{r}.json"),
                   dict(step=step, idle=idle, dropped=comm.mesh.dropped, rdv_dropped=comm._rdv.dropped,
                        **memory_kb()))
        finished = step >= steps and os.path.exists(os.path.join(d, "done"))
        if all(int(f[0]) for f in dist.all_gather(np.array([finished], np.int32))):
            break
        time.sleep(pause)
    digest = hashlib.sha256(b"".join(w.tobytes() for w in weights)).hexdigest()
    print("RESULT " + json.dumps(dict(
        rank=r, digest=digest, steps=step, idle=idle, dropped=comm.mesh.dropped,
        rdv_dropped=comm._rdv.dropped, curve=comm.uses_curve, shm=comm.uses_shm,
        peer_urls=list(comm.mesh.peer_urls.values()), **memory_kb())), flush=True)
    dist.shutdown()


if __name__ == "__main__":
    main()
