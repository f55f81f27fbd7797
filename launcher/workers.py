"""One worker process: started in its own process group, tied to the launcher's life,
its output pumped through the router."""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading
import time
from typing import Callable, Mapping, Optional, Sequence

from .output import OutputRouter, StreamPump

_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Optional[Callable[..., int]]:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: no parent-death signal
        return None


# Resolved once here: the pre-exec hook runs between fork and exec and should do no more
# than make the system call.
_PRCTL = _load_prctl()


def _die_with(parent_pid: int) -> Callable[[], None]:
    def preexec() -> None:
        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:  # the launcher died before the signal was armed
            os._exit(1)
    return preexec


class Worker:
    def __init__(self, rank: int, local_rank: int, command: Sequence[str], env: Mapping[str, str],
                 router: OutputRouter):
        self.rank, self.local_rank = rank, local_rank
        # Must be called from the main thread: the parent-death signal fires when the
        # *thread* that forked the child exits, not only when the whole launcher does.
        self.proc = subprocess.Popen(
            list(command), env=dict(env), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, preexec_fn=_die_with(os.getpid()),
        )
        self._out = StreamPump(self.proc.stdout, rank, router, is_stderr=False)
        self._err = StreamPump(self.proc.stderr, rank, router, is_stderr=True)
        self._out.start()
        self._err.start()
        # When it exited, to the moment: the first of several failures is the root cause.
        self.exited_at: Optional[float] = None
        self._waiter = threading.Thread(target=self._wait, name=f"rank{rank}-wait", daemon=True)
        self._waiter.start()

    def _wait(self) -> None:
        self.proc.wait()
        self.exited_at = time.monotonic()

    @property
    def done(self) -> bool:
        """Exited, with its exit time recorded."""
        return self.exited_at is not None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def poll(self) -> Optional[int]:
        return self.proc.poll()

    @property
    def exit_code(self) -> Optional[int]:
        """The shell's convention: 128+N for a worker killed by signal N."""
        rc = self.proc.returncode
        return None if rc is None else (128 - rc if rc < 0 else rc)

    def signal_group(self, sig: int) -> None:
        """Signal the worker and everything it started (its process group is its pid)."""
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def wait_output(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for pump in (self._out, self._err):
            pump.join(max(0.0, deadline - time.monotonic()))

    def stderr_tail(self) -> list[str]:
        return list(self._err.tail)
