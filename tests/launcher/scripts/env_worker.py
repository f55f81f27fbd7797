"""Prints this worker's launcher environment as one JSON line, and a line on stderr."""
import json
import os
import sys

KEYS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
        "DPTRAIN_DEVICE", "DPTRAIN_JOB_TOKEN", "DPTRAIN_RESTART_COUNT", "PYTHONUNBUFFERED",
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

info = {k: os.environ.get(k) for k in KEYS}
info["argv"] = sys.argv[1:]
info["pid"] = os.getpid()
print(json.dumps(info))
print(f"note from rank {info['RANK']} on stderr", file=sys.stderr)
