"""Prints this worker's launcher environment as one JSON line, and a line on stderr."""
import json
import os
import sys

KEYS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
        "DPTRAIN_DEVICE", "DPTRAIN_JOB_TOKEN", "DPTRAIN_RESTART_COUNT", "PYTHONUNBUFFERED",
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
        # torchrun's
        "TORCHELASTIC_RESTART_COUNT", "TORCHELASTIC_MAX_RESTARTS", "TORCHELASTIC_RUN_ID", "GROUP_RANK",
        "GROUP_WORLD_SIZE", "ROLE_RANK", "ROLE_WORLD_SIZE", "ROLE_NAME", "TORCHELASTIC_USE_AGENT_STORE")

info = {k: os.environ.get(k) for k in KEYS}
info["argv"] = sys.argv[1:]
info["pid"] = os.getpid()
os.write(1, (json.dumps(info) + "\n").encode())  # one write: ranks may share an unprefixed console
print(f"note from rank {info['RANK']} on stderr", file=sys.stderr)
