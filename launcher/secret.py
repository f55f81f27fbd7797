"""The job secret. Every message of a job carries it, so it is never empty and never public.

Where a worker's secret comes from, in this order:

    DPTRAIN_JOB_TOKEN      the secret itself (a process's environment stays out of `ps`)
    DPTRAIN_SECRET_FILE    a file holding it, readable by its owner only (chmod 600)
    a world of one         no sockets, so no secret
    one host               rank 0 makes one and leaves it in a 0600 file in a 0700 directory,
                           keyed by the run id and the rendezvous port; the other ranks read it
                           there (waiting up to the rendezvous timeout); rank 0 removes it once
                           everyone has joined
    several hosts          refused: the error says how to give one

The secret itself never appears in argv, log lines or error messages; only where it came from.
Imports nothing of dptrain's (the launcher's rule).
"""
from __future__ import annotations

import atexit
import hashlib
import ipaddress
import os
import secrets
import socket
import stat
import tempfile
import time
from dataclasses import dataclass, field
from typing import Optional

from . import env as E

POLL_S = 0.05
HOW_TO_GIVE_ONE = (
    f"set {E.JOB_TOKEN} to the same secret on every host (it stays out of `ps`: export it in the "
    f"job's environment, e.g. from a Kubernetes Secret, or before srun / `mpirun -x {E.JOB_TOKEN}`), "
    f"or point {E.SECRET_FILE} at a file holding it that only you can read (chmod 600); "
    f"dptrain-launch takes --secret-file PATH")


class SecretError(RuntimeError):
    """No usable secret (its value is never part of the message)."""

    def __init__(self, problem: str):
        super().__init__(f"dptrain: {problem}")


@dataclass
class JobSecret:
    token: str = field(repr=False)
    origin: str               # where it came from, for messages (never the value)
    path: str = ""            # the same-host file this process wrote, until released

    def release(self) -> None:
        """Remove the same-host file once every rank has read it (rank 0, after the rendezvous)."""
        path, self.path = self.path, ""
        if path:
            try:
                with open(path) as f:
                    mine = f.read().split(" ", 1)[0] == str(os.getpid())
                if mine:
                    os.unlink(path)
            except OSError:
                pass


def new_token() -> str:
    return secrets.token_hex(16)


def read_secret_file(path: str) -> str:
    """The secret in `path` (surrounding whitespace stripped); refuses a file others can read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as e:
        raise SecretError(f"cannot read the secret file {path}: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SecretError(f"the secret file {path} is not a regular file")
        if st.st_mode & 0o027:
            raise SecretError(f"the secret file {path} has mode {stat.S_IMODE(st.st_mode):04o}: others "
                              f"can read or change it; chmod 600 {path}")
        data = os.read(fd, 65536)
    finally:
        os.close(fd)
    try:
        token = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SecretError(f"the secret file {path} is not UTF-8 text") from None
    if not token:
        raise SecretError(f"the secret file {path} is empty")
    return token


def secret_dir() -> str:
    """This user's 0700 directory for same-host secrets (shared with dptrain's ipc sockets)."""
    base = os.path.join(tempfile.gettempdir(), f"dptrain-{os.getuid()}")
    try:
        os.mkdir(base, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(base)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise SecretError(f"{base} must be a directory owned by this user with mode 0700")
    return base


def same_host_path(w: E.WorkerEnv) -> str:
    key = f"{w.source}\0{w.run_id}\0{w.master_port}\0{w.world_size}".encode()
    return os.path.join(secret_dir(), f"secret-{hashlib.sha256(key).hexdigest()[:24]}")


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks (tells a live process from a reused pid)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "-"


def _alive(pid: int, start: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass
    return start == "-" or _start_time(pid) == start


def _is_loopback(addr: str) -> bool:
    """Whether MASTER_ADDR reaches this very host (then rank 0 binds loopback only)."""
    try:
        return ipaddress.ip_address(addr.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(addr, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def publish(path: str) -> JobSecret:
    """Rank 0: a fresh secret in `path`, mode 0600, replacing any earlier run's."""
    token = new_token()
    pid = os.getpid()
    tmp = f"{path}.{pid}.tmp"
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.write(fd, f"{pid} {_start_time(pid)} {token}\n".encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)
    secret = JobSecret(token, "made by rank 0 on this host", path)
    atexit.register(secret.release)
    return secret


def _read_published(path: str) -> Optional[str]:
    """The token in `path` while the rank 0 that wrote it lives; None otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if st.st_uid != os.getuid() or st.st_mode & 0o077 or not stat.S_ISREG(st.st_mode):
            return None
        parts = os.read(fd, 4096).decode("ascii", "replace").split()
    finally:
        os.close(fd)
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    pid, start, token = int(parts[0]), parts[1], parts[2]
    return token if _alive(pid, start) else None  # a stale file of an earlier run's rank 0


def wait_published(path: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        token = _read_published(path)
        if token:
            return token
        if time.monotonic() >= deadline:
            raise SecretError(
                f"rank 0 did not leave this job's secret in {os.path.dirname(path)} within {timeout:g} s "
                f"(not started, or not on this host?); for a job across hosts, {HOW_TO_GIVE_ONE}")
        time.sleep(POLL_S)


def job_secret(w: E.WorkerEnv, timeout: float = 60.0) -> JobSecret:
    """This worker's job secret (see the module docstring); SecretError when there is none."""
    if w.job_token:
        return JobSecret(w.job_token, E.JOB_TOKEN)
    if w.secret_file:
        return JobSecret(read_secret_file(w.secret_file), f"{E.SECRET_FILE} {w.secret_file}")
    if w.world_size == 1:
        return JobSecret("", "none needed (one process)")
    if w.same_host or _is_loopback(w.master_addr):
        path = same_host_path(w)
        if w.rank == 0:
            return publish(path)
        return JobSecret(wait_published(path, timeout), "made by rank 0 on this host")
    raise SecretError(
        f"this {w.world_size}-process job ({w.source}) spans hosts and was given no secret, "
        f"which every message of the job must carry: {HOW_TO_GIVE_ONE}")
