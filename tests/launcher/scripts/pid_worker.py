"""Records its pid, waits for every local peer to do the same, then acts out a failure.

usage: pid_worker.py PID_DIR MODE [--child]
MODE: sleep | kill:R (rank R SIGKILLs itself) | raise:R (rank R raises) | exit:R:CODE
--child: every worker also starts a sleeping grandchild and records its pid.
"""
import os
import signal
import subprocess
import sys
import time

pid_dir, mode = sys.argv[1], sys.argv[2]
rank = int(os.environ["RANK"])
peers = int(os.environ["LOCAL_WORLD_SIZE"])


def record(name, pid):
    tmp = os.path.join(pid_dir, f".{name}.tmp")
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.replace(tmp, os.path.join(pid_dir, name))


if "--child" in sys.argv:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    record(f"child{rank}.pid", child.pid)
record(f"rank{rank}.pid", os.getpid())

deadline = time.monotonic() + 30
while len([n for n in os.listdir(pid_dir) if n.startswith("rank")]) < peers:
    if time.monotonic() > deadline:
        sys.exit("peers never showed up")
    time.sleep(0.02)
print(f"rank {rank} ready", flush=True)


def compute_loss(batch):
    return batch["x"] / batch["n"]


action, _, rest = mode.partition(":")
if action != "sleep" and int(rest.split(":")[0]) == rank:
    time.sleep(0.2)
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "raise":
        compute_loss({"x": 1.0})
    elif action == "exit":
        sys.exit(int(rest.split(":")[1]))
time.sleep(60)
