"""One dptrain job started by every launch method this host can play, as a markdown table.

    python benchmarks/launch_matrix.py

Takes about 25 s on two cores; needs torch for the torchrun rows (they say so if it is
missing). Each method starts the same 2-process job (benchmarks/_matrix_worker.py, which trains
as tests/launcher/scripts/dist_worker.py does) twice: once to the end, once with rank 1 SIGKILLed
after its first steps. Columns:

    trains             every process exited 0 and both ranks printed their result
    same weights ...   both ranks' weights digest equals that of the reference run
                       `dptrain-launch --nproc-per-node 2 --devices cpu dist_worker.py`
    secret from        where the workers' job secret came from (as launcher.secret reports it)
    time to fail (s)   from the SIGKILL of rank 1 to every process of the run having exited
                       (launchers, agents, pods and workers), with the exit codes of the
                       processes this script started (one per launcher / pod; -9 is the pod
                       that was killed, 137 dptrain-launch passing on its SIGKILL); collectives'
                       timeout 10 s, dptrain-launch's and torchrun's default grace periods
    orphans            processes of the run still alive 2 s after the last started process
                       exited (the script then kills them)

The cluster rows play the cluster on this host the way tests/launcher/test_cluster_envs.py does:
`srun -n 2` on one node (SLURM_* variables), `mpirun -np 2` on one host (OMPI_COMM_WORLD_* plus
the MASTER_ADDR/MASTER_PORT the launcher asks for under mpirun) and a 2-pod PyTorchJob (per-pod
MASTER_ADDR/MASTER_PORT/WORLD_SIZE/RANK, the master's address not loopback where this host has
one). Two hosts in network namespaces have their own table: benchmarks/fault_table.py.
"""
from __future__ import annotations

import importlib.util
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "launcher"))
from launch_helpers import REPO, WORKER, clean_env, dptrain_launch, non_loopback_address, results  # noqa: E402
from test_cluster_envs import pytorchjob_env, srun_env  # noqa: E402

from launcher.job import free_port  # noqa: E402

MATRIX_WORKER = str(Path(__file__).resolve().parent / "_matrix_worker.py")
PY = sys.executable
TOKEN = "a-secret-from-the-job-spec"
RUN_TIMEOUT = 90     # a run to the end
READY_TIMEOUT = 60   # the slow run's first steps
FAIL_TIMEOUT = 45    # from the kill to every process gone
SECRET_TEXT = {"DPTRAIN_JOB_TOKEN": "DPTRAIN_JOB_TOKEN", "DPTRAIN_SECRET_FILE": "secret file",
               "made by rank 0 on this host": "same-host 0600 file (none given)"}


# --- the launch methods: each returns [(argv, env), ...], one per process to start -----------------

def m_dptrain_launch(run_dir, mode, tmp):
    return [([PY, "-m", "launcher", "--nproc-per-node", "2", "--devices", "cpu", MATRIX_WORKER, run_dir, mode],
             clean_env())]


def m_torchrun_standalone(run_dir, mode, tmp):
    return [([PY, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
              MATRIX_WORKER, run_dir, mode], clean_env())]


def m_torchrun_c10d(run_dir, mode, tmp):
    endpoint = f"127.0.0.1:{free_port('127.0.0.1')}"
    host = non_loopback_address()  # MASTER_ADDR as another host would see this one
    extra = ["--local-addr", host] if host else []
    cmd = [PY, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d",
           "--rdzv-endpoint", endpoint, "--rdzv-id", f"matrix-{random.randrange(10**6)}", *extra,
           MATRIX_WORKER, run_dir, mode]
    return [(cmd, clean_env(DPTRAIN_JOB_TOKEN=TOKEN))] * 2


def _slurm_job() -> int:
    """A SLURM job id whose derived port (29500 + id % 10000) is free here."""
    for _ in range(200):
        job = random.randrange(1, 10000)
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 29500 + job))
            return job
        except OSError:
            continue
    raise RuntimeError("no free port in 29500..39499")


def m_slurm(run_dir, mode, tmp):
    job = _slurm_job()
    return [([PY, MATRIX_WORKER, run_dir, mode], srun_env(t, job, 1, "localhost")) for t in (0, 1)]


def m_mpirun(run_dir, mode, tmp):
    port = free_port("127.0.0.1")
    ns = f"prterun-matrix-{random.randrange(10**6)}@1"
    return [([PY, MATRIX_WORKER, run_dir, mode],
             clean_env(OMPI_COMM_WORLD_RANK=str(r), OMPI_COMM_WORLD_SIZE="2", OMPI_COMM_WORLD_LOCAL_RANK=str(r),
                       OMPI_COMM_WORLD_LOCAL_SIZE="2", OMPI_COMM_WORLD_NODE_RANK="0", PMIX_NAMESPACE=ns,
                       MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1"))
            for r in (0, 1)]


def _service_addr() -> str:
    return non_loopback_address() or "127.0.0.1"


def m_pytorchjob_token(run_dir, mode, tmp):
    addr = _service_addr()
    port = free_port(addr)
    return [([PY, MATRIX_WORKER, run_dir, mode], pytorchjob_env(pod, addr, port, DPTRAIN_JOB_TOKEN=TOKEN))
            for pod in (0, 1)]


def m_pytorchjob_file(run_dir, mode, tmp):
    secret = Path(tmp) / "job-secret"  # a mounted Kubernetes Secret (defaultMode 0400)
    if not secret.exists():
        secret.write_text(TOKEN)
        secret.chmod(0o400)
    addr = _service_addr()
    port = free_port(addr)
    return [([PY, MATRIX_WORKER, run_dir, mode], pytorchjob_env(pod, addr, port, DPTRAIN_SECRET_FILE=str(secret)))
            for pod in (0, 1)]


METHODS = [
    ("dptrain-launch --nproc-per-node 2", m_dptrain_launch, False),
    ("torchrun --standalone --nproc-per-node 2", m_torchrun_standalone, True),
    ("torchrun, two c10d nodes on this host", m_torchrun_c10d, True),
    ("SLURM-style env (srun -n 2, one node)", m_slurm, False),
    ("mpirun-style env (OMPI_COMM_WORLD_*, one host)", m_mpirun, False),
    ("PyTorchJob-style env (2 pods, DPTRAIN_JOB_TOKEN)", m_pytorchjob_token, False),
    ("PyTorchJob-style env (2 pods, secret file)", m_pytorchjob_file, False),
]


# --- processes ----------------------------------------------------------------------------------------

def start(specs) -> list[subprocess.Popen]:
    return [subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True) for cmd, env in specs]


def alive_in(run_dir: str) -> list[int]:
    """Live (not zombie) processes whose command line names `run_dir`: everything a run started."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if run_dir.encode() in cmdline and state != "Z":
            pids.append(int(entry))
    return pids


def kill_all(procs, run_dir: str) -> None:
    for pid in alive_in(run_dir):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for p in procs:
        if p.poll() is None:
            p.kill()
        try:
            p.communicate(timeout=10)
        except (subprocess.TimeoutExpired, ValueError):
            pass


def secret_text(source: str) -> str:
    """'DPTRAIN_SECRET_FILE /path' -> 'secret file', and so on."""
    for prefix, text in SECRET_TEXT.items():
        if source.startswith(prefix):
            return text
    return source


def last_line(text: str) -> str:
    """The last line of `text` that says something (torchrun ends its report with a rule)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().strip("=-")]
    return lines[-1] if lines else ""


def train(fn, tmp: str, reference: str) -> tuple[str, str, str]:
    run_dir = tempfile.mkdtemp(dir=tmp)
    procs = start(fn(run_dir, "train", tmp))
    outs = []
    try:
        for p in procs:
            so, se = p.communicate(timeout=RUN_TIMEOUT)
            outs.append((p.returncode, so, se))
    except subprocess.TimeoutExpired:
        return f"no (timeout {RUN_TIMEOUT} s)", "-", "-"
    finally:
        kill_all(procs, run_dir)
    res = results("".join(so for _, so, _ in outs))
    ok = all(rc == 0 for rc, _, _ in outs) and [r["rank"] for r in res] == [0, 1]
    if not ok:
        tail = " ".join(last_line(se) for _, _, se in outs)[:160]
        return f"no (exit {', '.join(str(rc) for rc, _, _ in outs)}: {tail})", "-", "-"
    same = "yes" if all(r["digest"] == reference for r in res) else "NO"
    secret = ", ".join(sorted({secret_text(r["secret"]) for r in res}))
    if fn is m_dptrain_launch:
        secret += " (made by dptrain-launch)"
    return "yes", same, secret


def fail(fn, tmp: str) -> tuple[str, str]:
    run_dir = tempfile.mkdtemp(dir=tmp)
    procs = start(fn(run_dir, "slow", tmp))
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        ready = [os.path.join(run_dir, f"ready{r}") for r in (0, 1)]
        while not all(map(os.path.exists, ready)):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                return f"- (did not start: exit {[p.poll() for p in procs]})", "-"
            time.sleep(0.05)
        victim = int(Path(run_dir, "rank1.pid").read_text())
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        while any(p.poll() is None for p in procs) and time.monotonic() < killed + FAIL_TIMEOUT:
            time.sleep(0.02)
        launchers_done = time.monotonic()
        while alive_in(run_dir) and time.monotonic() < launchers_done + 2:
            time.sleep(0.02)
        gone = time.monotonic()
        orphans = alive_in(run_dir)
        codes = ", ".join("running" if p.poll() is None else str(p.returncode) for p in procs)
        if any(p.poll() is None for p in procs):
            when = f"> {FAIL_TIMEOUT} (exit: {codes})"
        elif orphans:
            when = f"{launchers_done - killed:.2f} then workers left (exit {codes})"
        else:
            when = f"{gone - killed:.2f} (exit {codes})"
        return when, str(len(orphans))
    finally:
        kill_all(procs, run_dir)


def main() -> int:
    has_torch = importlib.util.find_spec("torch") is not None
    r = dptrain_launch("--nproc-per-node", "2", "--devices", "cpu", WORKER, timeout=RUN_TIMEOUT)
    ref = results(r.stdout)
    if r.returncode != 0 or not ref:
        print("the reference run failed:\n" + r.stderr[-3000:])
        return 1
    reference = ref[0]["digest"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="dptrain-matrix-") as tmp:
        for name, fn, needs_torch in METHODS:
            if needs_torch and not has_torch:
                rows.append((name, "- (torch is not installed)", "-", "-", "-", "-"))
                continue
            t0 = time.monotonic()
            trains, same, secret = train(fn, tmp, reference)
            when, orphans = fail(fn, tmp)
            rows.append((name, trains, same, secret, when, orphans))
            print(f"{name}: {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)
    cols = ("launch method", "trains", "same weights as dptrain-launch", "secret from", "time to fail (s)",
            "orphans")
    print("\n## Launch methods (2 processes on the CPU; rank 1 SIGKILLed for the time to fail)\n")
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
