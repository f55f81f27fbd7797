"""Worker output: every line prefixed with `[rank N]` on the launcher's console, and
optionally copied to `<log_dir>/rank_N.log`; the last lines of each stderr are kept
for the root-cause report."""
from __future__ import annotations

import collections
import os
import sys
import threading
from typing import IO, BinaryIO, Deque, Optional

TAIL_LINES = 20
_MAX_LINE = 1 << 16  # longer lines are passed on in pieces rather than buffered whole


def _binary(stream: IO) -> BinaryIO:
    return getattr(stream, "buffer", stream)


class OutputRouter:
    """Shared sinks; one lock keeps lines of different workers from interleaving.

    `routes` (one per entry of `ranks`, objects with out_console/out_log/err_console/err_log)
    say where each stream goes; by default everything goes to the console, and to the log
    when there is a log directory.
    """

    def __init__(self, log_dir: Optional[str], ranks: list[int],
                 stdout: Optional[IO] = None, stderr: Optional[IO] = None, routes=None):
        self._lock = threading.Lock()
        self._stdout = _binary(stdout or sys.stdout)
        self._stderr = _binary(stderr or sys.stderr)
        self._logs: dict[int, BinaryIO] = {}
        self._routes: dict[tuple[int, bool], tuple[bool, bool]] = {}
        for i, rank in enumerate(ranks):
            r = routes[i] if routes is not None else None
            log = log_dir is not None
            self._routes[(rank, False)] = (r.out_console, r.out_log and log) if r else (True, log)
            self._routes[(rank, True)] = (r.err_console, r.err_log and log) if r else (True, log)
        if log_dir is not None:
            os.makedirs(log_dir, exist_ok=True)
            for rank in ranks:
                if self._routes[(rank, False)][1] or self._routes[(rank, True)][1]:
                    self._logs[rank] = open(os.path.join(log_dir, f"rank_{rank}.log"), "wb")

    def worker_line(self, rank: int, line: bytes, is_stderr: bool) -> None:
        if not line.endswith(b"\n"):
            line += b"\n"
        console_on, log_on = self._routes.get((rank, is_stderr), (True, True))
        console = self._stderr if is_stderr else self._stdout
        with self._lock:
            if console_on:
                _write(console, b"[rank %d] " % rank + line)
            log = self._logs.get(rank) if log_on else None
            if log is not None:
                _write(log, line)

    def log_note(self, rank: int, text: str) -> None:
        """A line in the rank's log file only (e.g. where a restart begins)."""
        log = self._logs.get(rank)
        if log is not None:
            with self._lock:
                _write(log, text.encode() + b"\n")

    def message(self, text: str) -> None:
        """The launcher's own words, on stderr."""
        if not text.endswith("\n"):
            text += "\n"
        with self._lock:
            _write(self._stderr, text.encode("utf-8", "replace"))

    def close(self) -> None:
        with self._lock:
            for log in self._logs.values():
                log.close()
            self._logs.clear()


def _write(stream: BinaryIO, data: bytes) -> None:
    try:
        stream.write(data)
        stream.flush()
    except (OSError, ValueError):  # console closed (e.g. piped into `head`): keep the job running
        pass


class StreamPump(threading.Thread):
    """Copies one worker pipe to the router line by line until EOF."""

    def __init__(self, pipe: BinaryIO, rank: int, router: OutputRouter, is_stderr: bool):
        super().__init__(name=f"rank{rank}-{'err' if is_stderr else 'out'}", daemon=True)
        self._pipe, self._rank, self._router, self._is_stderr = pipe, rank, router, is_stderr
        self.tail: Deque[str] = collections.deque(maxlen=TAIL_LINES)

    def run(self) -> None:
        try:
            for line in iter(lambda: self._pipe.readline(_MAX_LINE), b""):
                self._router.worker_line(self._rank, line, self._is_stderr)
                if self._is_stderr:
                    self.tail.append(line.decode("utf-8", "replace").rstrip("\n"))
        except (OSError, ValueError):
            pass
        finally:
            try:
                self._pipe.close()
            except OSError:
                pass
