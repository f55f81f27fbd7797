"""A dptrain data-parallel job that acts out one fault (test_fault_table.py).

usage: fault_worker.py OUT_DIR FAULT
FAULT: none | forever | kill:R:S | stop:R:S | raise:R:S | exit0:R:S | crash:R:S
  at step S, rank R SIGKILLs itself / SIGSTOPs itself / raises / exits 0 early / dies with exit
  code 3 on the first attempt only (a restarted job resumes from rank 0's checkpoint, written
  with engine.serialize.save after every step). Just before it acts, OUT_DIR/fault.time gets
  the wall-clock time. forever: trains until stopped (OUT_DIR/ready<R> after the first step).
Every rank records its pid in OUT_DIR/rank<R>.pid (and appends it to OUT_DIR/pids.log); rank 0 writes OUT_DIR/final.json at the end.
Environment: FAULT_TIMEOUT, the collectives' timeout (default 10 s).
"""
import hashlib
import json
import os
import signal
import sys
import time

import numpy as np

import dptrain.distributed as dist
from engine import serialize

STEPS, PAUSE, LR = 30, 0.03, 0.1
out_dir, fault = sys.argv[1], sys.argv[2]
restart = int(os.environ.get("DPTRAIN_RESTART_COUNT", "0"))
with open(os.path.join(out_dir, f".rank{os.environ['RANK']}.pid.tmp"), "w") as f:
    f.write(str(os.getpid()))
os.replace(os.path.join(out_dir, f".rank{os.environ['RANK']}.pid.tmp"),
           os.path.join(out_dir, f"rank{os.environ['RANK']}.pid"))
with open(os.path.join(out_dir, "pids.log"), "a") as f:  # every worker of every attempt
    f.write(f"{os.getpid()}\n")

ctx = dist.init(timeout=float(os.environ.get("FAULT_TIMEOUT", "10")))
rank = ctx.rank
kind, _, rest = fault.partition(":")
victim, at = (int(x) for x in rest.split(":")) if rest else (-1, -1)
target = np.random.default_rng(rank).standard_normal(4096)
ckpt = os.path.join(out_dir, "ckpt")

w, start = np.zeros(4096), 0
if kind == "crash" and os.path.exists(ckpt):
    state = serialize.load(ckpt)
    w, start = state["w"], int(state["step"])
print(f"rank {rank} restart {restart}: starting at step {start}", flush=True)


def act() -> None:
    with open(os.path.join(out_dir, "fault.time"), "w") as f:
        f.write(repr(time.time()))
    if kind == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif kind == "stop":
        os.kill(os.getpid(), signal.SIGSTOP)
    elif kind == "raise":
        raise RuntimeError(f"rank {rank} fails at step {at}")
    elif kind == "exit0":
        print(f"rank {rank} leaves early at step {at}", file=sys.stderr, flush=True)
        sys.exit(0)
    elif kind == "crash" and restart == 0:
        os._exit(3)


steps = 10 ** 9 if kind == "forever" else STEPS
step = start
while step < steps:
    if rank == victim and step == at:
        act()
    g = dist.all_reduce(2 * (w - target), op="mean")
    w = w - LR * g
    step += 1
    if kind == "crash" and rank == 0:
        serialize.save({"w": w, "step": step}, ckpt)
    if kind == "forever" and step == 1:
        open(os.path.join(out_dir, f"ready{rank}"), "w").close()
    time.sleep(PAUSE)

loss = float(dist.all_reduce(np.array([np.sum((w - target) ** 2)]), op="mean")[0])
if rank == 0:
    with open(os.path.join(out_dir, "final.json"), "w") as f:
        json.dump({"loss": loss, "digest": hashlib.sha256(w.tobytes()).hexdigest(), "restart": restart}, f)
dist.shutdown()
