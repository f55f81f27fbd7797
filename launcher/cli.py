"""`dptrain-launch`: command line -> JobSpec -> Supervisor.

The command line is torchrun's: every flag of `torchrun --help` (both the `-` and the `_`
spelling), with torchrun's PET_<FLAG> environment variables as defaults, either works as
torchrun's does or stops with `not supported: <flag>` and why. dptrain's own flags
(--devices, --allow-mixed-devices, --timeout, --grace-period, --secret-file) come on top.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import uuid
from typing import Mapping, Optional, Sequence

from . import env as E
from .devices import assign_devices, gpu_indices
from .job import DEFAULT_SIGNALS, JobSpec, Routes, available_cores, new_job_token
from .output import OutputRouter
from .secret import HOW_TO_GIVE_ONE, SecretError, read_secret_file
from .supervisor import Supervisor

EXIT_USAGE = 2
DEFAULT_MULTI_NODE_PORT = 29500  # torchrun's --master-port default


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("dptrain")
    except Exception:  # running from a source tree that was never installed
        return "unknown (not installed)"


def _spellings(*names: str) -> list[str]:
    """'--max-restarts' -> ['--max-restarts', '--max_restarts'] (torchrun takes both)."""
    out: list[str] = []
    for n in names:
        out.append(n)
        if n.startswith("--") and "-" in n[2:]:
            out.append("--" + n[2:].replace("-", "_"))
    return out


def build_parser(environ: Optional[Mapping[str, str]] = None) -> argparse.ArgumentParser:
    environ = os.environ if environ is None else environ

    def pet(dest: str, default=None):
        """torchrun's `env` action: PET_<DEST> is the default."""
        return environ.get(f"PET_{dest.upper()}", default)

    def pet_flag(dest: str) -> bool:
        """torchrun's `check_env` action: a flag is on when PET_<DEST> is a non-zero number."""
        raw = environ.get(f"PET_{dest.upper()}", "0")
        try:
            return bool(int(raw))
        except ValueError:
            return False

    p = argparse.ArgumentParser(
        prog="dptrain-launch",
        description="Start one worker process per replica of a data-parallel training script. "
                    "Takes torchrun's command line (and its PET_* variables as defaults).",
    )
    add = p.add_argument
    add("--version", action="version", version=f"%(prog)s {_version()}")
    # ------------------------------------------------------------ torchrun's flags
    add(*_spellings("--nnodes"), default=pet("nnodes", "1"), metavar="N",
        help="number of nodes, or MIN:MAX with MIN == MAX (default 1)")
    add(*_spellings("--nproc-per-node"), dest="nproc_per_node", default=pet("nproc_per_node", "1"),
        metavar="N", help="workers on this node: a number, 'gpu' (one per Vulkan GPU), 'cpu' "
                          "(one per core) or 'auto' (gpu if there is one, else cpu); default 1")
    add(*_spellings("--rdzv-backend"), dest="rdzv_backend", default=pet("rdzv_backend", "static"),
        help="'static' (nodes named by --node-rank; default) or 'c10d' (one node)")
    add(*_spellings("--rdzv-endpoint"), dest="rdzv_endpoint", default=pet("rdzv_endpoint", ""),
        metavar="HOST[:PORT]", help="where rank 0's rendezvous runs (instead of --master-addr/--master-port)")
    add(*_spellings("--rdzv-id"), dest="rdzv_id", default=pet("rdzv_id", "none"),
        help="the job's id, given to the workers as TORCHELASTIC_RUN_ID")
    add(*_spellings("--rdzv-conf"), dest="rdzv_conf", default=pet("rdzv_conf", ""), help=argparse.SUPPRESS)
    add("--standalone", action="store_true", default=pet_flag("standalone"),
        help="one node, on a free port of this host (as torchrun --standalone)")
    add(*_spellings("--max-restarts"), dest="max_restarts", type=int, default=pet("max_restarts", 0),
        metavar="K", help="restart the whole group up to K times after a failure (default 0)")
    add(*_spellings("--monitor-interval"), dest="monitor_interval", type=float,
        default=pet("monitor_interval", 0.05), metavar="S", help="how often to check the workers (default 0.05 s)")
    add(*_spellings("--start-method"), dest="start_method", default=pet("start_method", "spawn"),
        choices=["spawn", "fork", "forkserver"],
        help="accepted; a script always runs in a fresh process (as with torchrun)")
    add(*_spellings("--event-log-handler"), dest="event_log_handler",
        default=pet("event_log_handler", "null"), help=argparse.SUPPRESS)
    add("--role", default=pet("role", "default"), help="the workers' ROLE_NAME (default 'default')")
    add("-m", "--module", action="store_true", default=pet_flag("module"),
        help="run the script as a module, as 'python -m'")
    add(*_spellings("--no-python"), dest="no_python", action="store_true", default=pet_flag("no_python"),
        help="run the script as a program, not with python")
    add(*_spellings("--run-path"), dest="run_path", action="store_true", default=pet_flag("run_path"),
        help="run the script as 'python script' does (each worker is its own process either way)")
    add(*_spellings("--log-dir"), dest="log_dir", default=pet("log_dir"), metavar="D",
        help="write each rank's output to D/rank_N.log (all of it, unless -r/-t choose)")
    add("-r", "--redirects", default=pet("redirects", "0"), metavar="SPEC",
        help="streams written to the log only: 0 none, 1 stdout, 2 stderr, 3 both, or per local "
             "rank as '0:1,1:2'")
    add("-t", "--tee", default=pet("tee", "0"), metavar="SPEC",
        help="streams written to the log and the console (same form as --redirects)")
    add(*_spellings("--local-ranks-filter"), dest="local_ranks_filter",
        default=pet("local_ranks_filter", ""), metavar="R,...", help="show only these local ranks on the console")
    add(*_spellings("--duplicate-stdout-filters"), dest="duplicate_stdout_filters",
        default=pet("duplicate_stdout_filters", ""), help=argparse.SUPPRESS)
    add(*_spellings("--duplicate-stderr-filters"), dest="duplicate_stderr_filters",
        default=pet("duplicate_stderr_filters", ""), help=argparse.SUPPRESS)
    add(*_spellings("--node-rank"), dest="node_rank", type=int, default=pet("node_rank", 0), metavar="R",
        help="this node's index, 0..N-1 (default 0)")
    add(*_spellings("--master-addr"), dest="master_addr", default=pet("master_addr", "127.0.0.1"),
        metavar="A", help="address of the node that runs rank 0 (default 127.0.0.1)")
    add(*_spellings("--master-port"), dest="master_port", type=int, default=pet("master_port"), metavar="P",
        help="rank 0's rendezvous port (default: a free one on one node, 29500 on several)")
    add(*_spellings("--local-addr"), dest="local_addr", default=pet("local_addr"), metavar="A",
        help="with --standalone or c10d: this node's address, given as MASTER_ADDR")
    add(*_spellings("--logs-specs"), dest="logs_specs", default=None, help=argparse.SUPPRESS)
    add(*_spellings("--numa-binding"), dest="numa_binding", default=None,
        choices=["node", "socket", "exclusive", "core-complex"], help=argparse.SUPPRESS)
    add(*_spellings("--signals-to-handle"), dest="signals_to_handle",
        default=pet("signals_to_handle", "SIGTERM,SIGINT,SIGHUP,SIGQUIT"), metavar="LIST",
        help="signals that stop the job; each is passed on to the workers, which get "
             "--grace-period before SIGKILL (default SIGTERM,SIGINT,SIGHUP,SIGQUIT)")
    add(*_spellings("--shutdown-timeout", "--grace-period"), dest="grace_period", type=float,
        default=pet("shutdown_timeout", environ.get("TORCH_ELASTIC_SHUTDOWN_TIMEOUT", 5.0)), metavar="S",
        help="between the stop signal and SIGKILL when stopping workers (default 5)")
    add(*_spellings("--virtual-local-rank"), dest="virtual_local_rank", action="store_true",
        default=pet_flag("virtual_local_rank"), help="every worker sees LOCAL_RANK=0")
    # ------------------------------------------------------------ dptrain's own
    add("--devices", metavar="LIST",
        help="'cpu', or Vulkan device indices such as '0,1' (default: every Vulkan GPU); "
             "with fewer GPUs than workers, workers share GPUs round-robin")
    add(*_spellings("--allow-mixed-devices"), dest="allow_mixed_devices", action="store_true",
        help="with fewer GPUs than workers, run the extra workers on the CPU instead of sharing "
             "GPUs (their numerics differ: weights can drift apart)")
    add("--timeout", type=float, metavar="SECONDS", help="stop the job after this long (exit 124)")
    add(*_spellings("--secret-file"), dest="secret_file", default=environ.get(E.SECRET_FILE), metavar="PATH",
        help=f"a file (chmod 600) holding the job's secret, the same on every node "
             f"(or set {E.JOB_TOKEN}; default {E.SECRET_FILE})")
    add(*_spellings("--job-token"), dest="job_token", help=argparse.SUPPRESS)
    add("training_script", metavar="script", help="the training script (or module, or program)")
    add("training_script_args", nargs=argparse.REMAINDER, help="arguments for the script")
    return p


def _unsupported(parser: argparse.ArgumentParser, flag: str, why: str):
    parser.error(f"not supported: {flag} ({why})")


def parse_std(parser, flag: str, spec: str, nproc: int) -> list[int]:
    """torchrun's -r/-t value -> per local rank a mask: 1 stdout, 2 stderr."""
    spec = str(spec).strip()
    if spec.isdigit():
        value = int(spec)
        if value > 3:
            parser.error(f"{flag} must be 0..3 or LOCAL_RANK:0..3 pairs, not {spec!r}")
        return [value] * nproc
    masks = [0] * nproc
    for part in spec.split(","):
        rank, _, value = part.partition(":")
        if not (rank.strip().isdigit() and value.strip().isdigit() and int(value) <= 3):
            parser.error(f"{flag} must be 0..3 or LOCAL_RANK:0..3 pairs, not {spec!r}")
        if int(rank) < nproc:
            masks[int(rank)] = int(value)
    return masks


def parse_signals(parser, spec: str) -> tuple[int, ...]:
    sigs = []
    for name in str(spec).split(","):
        name = name.strip().upper()
        if not name:
            continue
        full = name if name.startswith("SIG") else "SIG" + name
        sig = getattr(signal, full, None)
        if not isinstance(sig, signal.Signals) or sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD):
            parser.error(f"--signals-to-handle: {name!r} is not a signal that can be handled")
        sigs.append(int(sig))
    return tuple(sigs)


def _endpoint(parser, text: str) -> tuple[str, Optional[int]]:
    text = text.strip()
    if text.startswith("["):  # [ipv6]:port
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    if port and not port.isdigit():
        parser.error(f"--rdzv-endpoint must be HOST[:PORT], not {text!r}")
    return host or "127.0.0.1", int(port) if port else None


def _nnodes(parser, text: str) -> int:
    parts = str(text).split(":")
    try:
        lo, hi = (int(parts[0]), int(parts[-1])) if len(parts) <= 2 else (0, -1)
    except ValueError:
        lo, hi = 0, -1
    if len(parts) > 2 or not 0 < lo <= hi:
        parser.error(f"--nnodes must be N or MIN:MAX with 0 < MIN <= MAX, not {text!r}")
    if lo != hi:
        _unsupported(parser, "--nnodes MIN:MAX",
                     "elastic membership: a dptrain job has a fixed world size; give one number")
    return lo


def _nproc(parser, text: str, gpus: list[int]) -> tuple[int, bool]:
    """(workers, all on the CPU) for --nproc-per-node."""
    text = str(text).strip()
    if text == "auto":
        return (len(gpus), False) if gpus else (available_cores(), True)
    if text == "gpu":
        if not gpus:
            parser.error("--nproc-per-node gpu: no Vulkan GPU found (or --devices lists none)")
        return len(gpus), False
    if text == "cpu":
        return available_cores(), True
    if text == "xpu":
        _unsupported(parser, "--nproc-per-node xpu",
                     "Intel XPU is a torch device; dptrain runs on Vulkan GPUs ('gpu') or the CPU ('cpu')")
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        parser.error(f"--nproc-per-node must be a positive integer, 'auto', 'gpu' or 'cpu', not {text!r}")
    return n, False


def _command(parser, a, environ: Mapping[str, str]) -> tuple[str, ...]:
    script, args = a.training_script, tuple(a.training_script_args)
    python = environ.get("PYTHON_EXEC") or sys.executable  # torchrun's override
    if a.run_path:
        if not os.path.isfile(script):
            parser.error(f"script not found: {script}")
        return (python, script, *args)
    if a.no_python:
        if a.module:
            parser.error("--no-python and --module cannot be used together")
        if not (os.path.isfile(script) and os.access(script, os.X_OK)) and not shutil.which(script):
            parser.error(f"program not found or not executable: {script}")
        return (script, *args)
    if a.module:
        return (python, "-m", script, *args)
    if not os.path.isfile(script):
        parser.error(f"script not found: {script}")
    return (python, script, *args)


def _secret(parser, a, environ: Mapping[str, str], nnodes: int) -> str:
    if a.job_token is not None:
        parser.error(f"--job-token would show the secret to every user in `ps`; set {E.JOB_TOKEN} "
                     f"in the environment or pass --secret-file PATH instead")
    if a.secret_file:
        try:
            return read_secret_file(a.secret_file)
        except SecretError as e:
            parser.error(str(e).removeprefix("dptrain: "))
    if nnodes > 1:
        token = environ.get(E.JOB_TOKEN, "")
        if not token:
            parser.error(f"a job on {nnodes} nodes needs the same secret on every node: {HOW_TO_GIVE_ONE}")
        return token
    return new_job_token()  # one node: a fresh one (never one inherited from another job)


def _routes(parser, a, nproc: int) -> Optional[tuple[Routes, ...]]:
    redirects = parse_std(parser, "--redirects", a.redirects, nproc)
    tee = parse_std(parser, "--tee", a.tee, nproc)
    shown: Optional[set[int]] = None
    if a.local_ranks_filter:
        try:
            shown = {int(r) for r in str(a.local_ranks_filter).split(",")}
        except ValueError:
            parser.error("--local-ranks-filter must be a comma-separated list of local ranks, e.g. 0,1")
    if not any(redirects) and not any(tee) and shown is None:
        return None
    chosen = any(redirects) or any(tee)
    routes = []
    for lr in range(nproc):
        visible = shown is None or lr in shown
        r, t = redirects[lr], tee[lr]

        def route(bit: int) -> tuple[bool, bool]:
            if not chosen:
                return visible, a.log_dir is not None
            return visible and (not r & bit or bool(t & bit)), bool((r | t) & bit)

        (oc, ol), (ec, el) = route(1), route(2)
        routes.append(Routes(oc, ol, ec, el))
    return tuple(routes)


def parse_spec(argv: Optional[Sequence[str]], environ: Mapping[str, str]) -> JobSpec:
    """The JobSpec for `argv`; bad arguments exit with status 2 and a usage message."""
    parser = build_parser(environ)
    a = parser.parse_args(argv)

    # flags of torchrun that dptrain-launch cannot honour, and why
    if a.rdzv_backend not in ("static", "c10d"):
        _unsupported(parser, f"--rdzv-backend {a.rdzv_backend}",
                     "dptrain-launch has the static rendezvous (nodes named by --node-rank) and "
                     "c10d on one node")
    if a.rdzv_conf:
        _unsupported(parser, "--rdzv-conf", "dptrain's rendezvous has no such settings; its timeout is "
                                            "dptrain.distributed.init(timeout=...)")
    if a.event_log_handler != "null":
        _unsupported(parser, f"--event-log-handler {a.event_log_handler}", "torch's event handlers are plugins of torchrun")
    if a.logs_specs is not None:
        _unsupported(parser, "--logs-specs", "torchrun's log plugins; use --log-dir, -r and -t")
    if a.numa_binding is not None:
        _unsupported(parser, "--numa-binding", "no NUMA placement; wrap the launcher in numactl instead")
    for flag, value in (("--duplicate-stdout-filters", a.duplicate_stdout_filters),
                        ("--duplicate-stderr-filters", a.duplicate_stderr_filters)):
        if value:
            _unsupported(parser, flag, "no filtered copies of the output; grep the --log-dir files")

    nnodes = _nnodes(parser, a.nnodes)
    if a.standalone and nnodes > 1:
        parser.error("--standalone runs one node; drop --nnodes or --standalone")
    if a.rdzv_backend == "c10d" and nnodes > 1 and not a.standalone:
        _unsupported(parser, "--rdzv-backend c10d with --nnodes > 1",
                     "dynamic node ranks: give every node its --node-rank with the static backend "
                     "(the default), or start the script with torchrun itself, which dptrain "
                     "scripts run under too")
    if not 0 <= a.node_rank < nnodes:
        parser.error(f"--node-rank must be in 0..{nnodes - 1}")
    if a.max_restarts < 0:
        parser.error("--max-restarts must not be negative")
    if not a.monitor_interval > 0:
        parser.error("--monitor-interval must be positive")
    if a.timeout is not None and a.timeout <= 0:
        parser.error("--timeout must be positive")
    if a.grace_period < 0:
        parser.error("--grace-period (--shutdown-timeout) must not be negative")

    run_id = a.rdzv_id
    master_addr, master_port = a.master_addr, a.master_port
    if a.standalone or a.rdzv_backend == "c10d":
        host, port = _endpoint(parser, a.rdzv_endpoint) if a.rdzv_endpoint and not a.standalone \
            else ("127.0.0.1", 0)
        master_addr = a.local_addr or ("127.0.0.1" if host == "localhost" else host)
        master_port = port or 0
        if a.standalone:
            run_id = str(uuid.uuid4())
    elif a.rdzv_endpoint:  # static: the endpoint is rank 0's address, as in torchrun
        master_addr, port = _endpoint(parser, a.rdzv_endpoint)
        master_port = port if port is not None else master_port
    if master_port is None:
        master_port = DEFAULT_MULTI_NODE_PORT if nnodes > 1 else 0
    if nnodes == 1 and master_port == 0 and run_id == "none":
        run_id = str(uuid.uuid4())  # torchrun's single-node default (c10d on a free port)
    if not 0 <= master_port <= 65535:
        parser.error("--master-port must be in 0..65535")
    if nnodes > 1 and master_port == 0:
        parser.error("--master-port must not be 0 when --nnodes > 1 (every node must use the same port)")

    try:
        gpus = gpu_indices(a.devices)
    except ValueError as e:
        parser.error(str(e))
    nproc, cpu_only = _nproc(parser, a.nproc_per_node, gpus)
    if cpu_only and str(a.nproc_per_node) == "cpu" and a.devices not in (None, "cpu"):
        parser.error("--nproc-per-node cpu runs every worker on the CPU; drop --devices")
    command = _command(parser, a, environ)
    token = _secret(parser, a, environ, nnodes)

    log_dir = a.log_dir
    routes = _routes(parser, a, nproc)
    if routes is not None and log_dir is None and any(r.out_log or r.err_log for r in routes):
        log_dir = tempfile.mkdtemp(prefix="dptrain-launch-logs-")  # as torchrun does for -r/-t
        print(f"dptrain-launch: logs go to {log_dir}", file=sys.stderr)
    return JobSpec(
        command=command,
        nproc_per_node=nproc,
        devices=tuple(assign_devices(nproc, [] if cpu_only else gpus, mixed=a.allow_mixed_devices)),
        allow_mixed_devices=a.allow_mixed_devices,
        job_token=token,
        nnodes=nnodes,
        node_rank=a.node_rank,
        master_addr=master_addr,
        master_port=master_port,
        max_restarts=a.max_restarts,
        timeout=a.timeout,
        grace_period=a.grace_period,
        log_dir=log_dir,
        run_id=run_id,
        role=a.role,
        virtual_local_rank=a.virtual_local_rank,
        monitor_interval=a.monitor_interval,
        signals=parse_signals(parser, a.signals_to_handle) if a.signals_to_handle else DEFAULT_SIGNALS,
        routes=routes,
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        spec = parse_spec(argv, os.environ)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2)
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    except KeyboardInterrupt:  # Ctrl-C before any worker exists
        return 130
    ranks = [spec.rank_of(i) for i in range(spec.nproc_per_node)]
    try:
        router = OutputRouter(spec.log_dir, ranks, routes=[spec.routes_of(i) for i in range(spec.nproc_per_node)])
    except OSError as e:
        print(f"dptrain-launch: cannot write logs to {spec.log_dir}: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return Supervisor(spec, router).run()
    finally:
        router.close()
