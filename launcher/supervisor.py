"""Runs a job: start the workers, watch them, stop them all on the first failure, a
signal or the timeout, and restart the group while restarts are left."""
from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from typing import Optional

from .job import JobSpec, free_port, worker_env
from .output import OutputRouter
from .workers import Worker

KILL_WAIT_S = 5.0      # after SIGKILL: the kernel needs a moment to reap
OUTPUT_WAIT_S = 2.0    # for the pumps to drain what a finished worker wrote
EXIT_TIMEOUT = 124


@dataclass
class Outcome:
    kind: str                          # "success", "failure", "signal" or "timeout"
    worker: Optional[Worker] = None    # the first worker that failed (non-zero exit), for "failure"
    root: Optional[Worker] = None      # the root cause: the first to fail, or to exit 0 before that


def signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


class Supervisor:
    def __init__(self, spec: JobSpec, router: OutputRouter, base_env: Optional[dict] = None):
        self.spec = spec
        self.router = router
        self.base_env = dict(os.environ if base_env is None else base_env)
        self._signal: Optional[int] = None
        self._hurry = False  # a second signal: skip the grace period

    def run(self) -> int:
        # torchrun's set by default: SIGTERM, SIGINT, SIGHUP (an ssh session dropped) and SIGQUIT
        # each stop the job, and the workers get the grace period before SIGKILL.
        previous = {s: signal.signal(s, self._on_signal) for s in self.spec.signals}
        try:
            return self._run()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _on_signal(self, signum: int, _frame) -> None:
        if self._signal is None:
            self._signal = signum
        else:
            self._hurry = True

    def _run(self) -> int:
        spec = self.spec
        deadline = None if spec.timeout is None else time.monotonic() + spec.timeout
        restart = 0
        while True:
            workers: list[Worker] = []
            try:
                self._start_group(workers, restart)
            except OSError as e:
                self.router.message(f"dptrain-launch: cannot start the workers: {e}")
                self._stop(workers, signal.SIGTERM)
                return 1

            outcome = self._watch(workers, deadline)
            if outcome.kind == "failure":
                w = outcome.worker
                self.router.message(f"dptrain-launch: rank {w.rank} {self._how(w)}; stopping all workers")
            first = self._signal if outcome.kind == "signal" else signal.SIGTERM
            self._stop(workers, first)

            if outcome.kind == "success":
                return 0
            if outcome.kind == "signal":
                self.router.message(f"dptrain-launch: received {signal_name(self._signal)}; all workers stopped")
                return 128 + self._signal
            if outcome.kind == "timeout":
                self.router.message(f"dptrain-launch: job exceeded --timeout {spec.timeout:g} s; all workers stopped")
                return EXIT_TIMEOUT
            self.router.message(self._root_cause(outcome.root, outcome.worker))
            if self._signal is not None:  # asked to stop while tearing down: no restart
                return 128 + self._signal
            if restart >= spec.max_restarts:
                return outcome.worker.exit_code
            restart += 1
            self.router.message(f"dptrain-launch: restarting all workers (restart {restart} of {spec.max_restarts})")
            for local_rank in range(spec.nproc_per_node):
                self.router.log_note(spec.rank_of(local_rank), f"--- dptrain-launch: restart {restart} ---")

    def _start_group(self, workers: list[Worker], restart: int) -> None:
        """Appends each started worker to `workers`, so a failure midway can stop the others."""
        spec = self.spec
        port = spec.master_port or free_port(spec.master_addr)
        for local_rank in range(spec.nproc_per_node):
            if self._signal is not None:
                return
            env = worker_env(spec, local_rank, port, restart, self.base_env)
            workers.append(Worker(spec.rank_of(local_rank), local_rank, spec.command, env, self.router))

    def _watch(self, workers: list[Worker], deadline: Optional[float]) -> Outcome:
        poll = self.spec.monitor_interval
        while True:
            if self._signal is not None:
                return Outcome("signal")
            done = [w for w in workers if w.done]
            failed = [w for w in done if w.proc.returncode != 0]
            if failed:
                first = min(failed, key=lambda w: w.exited_at)
                # a rank that left early (exit 0 while the others ran on) counts as a failure
                # when one follows: the others usually fail because it is gone
                root = min((w for w in done if w.exited_at <= first.exited_at), key=lambda w: w.exited_at)
                return Outcome("failure", first, root)
            if len(done) == len(workers):
                return Outcome("success")
            if deadline is not None and time.monotonic() >= deadline:
                return Outcome("timeout")
            time.sleep(poll)

    def _stop(self, workers: list[Worker], first_signal: int) -> None:
        """`first_signal` to every group, SIGKILL after the grace period, then reap."""
        for w in workers:
            if w.poll() is None:
                w.signal_group(first_signal)
                # a stopped worker (SIGSTOP) would sit out the grace period without ever seeing
                # the signal: let it run, so it stops (or saves) now, as the others do
                w.signal_group(signal.SIGCONT)
        grace_end = time.monotonic() + self.spec.grace_period
        while any(w.poll() is None for w in workers) and time.monotonic() < grace_end and not self._hurry:
            time.sleep(0.05)
        # SIGKILL every group, also those whose leader is gone: children it left behind in
        # its group die too. The leader exited moments ago, so its pid (the group id) has
        # not been handed to a new group.
        for w in workers:
            w.signal_group(signal.SIGKILL)
        kill_end = time.monotonic() + KILL_WAIT_S
        while any(w.poll() is None for w in workers) and time.monotonic() < kill_end:
            time.sleep(0.01)
        for w in workers:
            w.wait_output(OUTPUT_WAIT_S)

    @staticmethod
    def _how(w: Worker) -> str:
        rc = w.proc.returncode
        if rc < 0:
            return f"was killed by {signal_name(-rc)} (exit code {w.exit_code})"
        return f"exited with code {rc}"

    def _root_cause(self, w: Worker, failed: Worker) -> str:
        rc = w.proc.returncode
        if rc < 0:
            status = [f"  signal:     {signal_name(-rc)} (exit code {w.exit_code})"]
        elif rc == 0:
            status = ["  exit code:  0, while the other ranks were still running (an early exit fails the job)"]
        else:
            status = [f"  exit code:  {rc}"]
        if failed is not w:
            status.append(f"  then:       rank {failed.rank} {self._how(failed)}")
        tail = w.stderr_tail()
        lines = [
            "=" * 24 + " dptrain-launch: root cause " + "=" * 24,
            f"  rank:       {w.rank} (local rank {w.local_rank} on node {self.spec.node_rank}, pid {w.pid})",
            *status,
            f"  last {len(tail)} lines of its stderr:" if tail else "  (it wrote nothing to stderr)",
            *("    " + line for line in tail),
        ]
        if failed is not w and failed.stderr_tail():
            lines.append(f"  last lines of rank {failed.rank}'s stderr:")
            lines += ["    " + line for line in failed.stderr_tail()]
        lines.append("=" * 76)
        return "\n".join(lines)
