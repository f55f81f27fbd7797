"""The fault table and the fuzz figures, from the tests that measure them.

    python benchmarks/fault_table.py [--no-fuzz] [--no-two-hosts]

Runs tests/launcher/test_fault_table.py (and, unless told not to, tests/launcher/test_two_hosts.py,
which needs root for its network namespaces and skips otherwise, and
tests/dptrain/distributed/test_fuzz.py) with DPTRAIN_FAULT_REPORT / DPTRAIN_FUZZ_REPORT set, then
prints one markdown table per report: for each fault the time from the fault to the launcher's
exit, the exit code, the rank the report names as the root cause and the ranks it names as lost,
and the processes left behind; for each fuzzed job the frames tried, dropped, refused, its RSS
growth and its outcome. There is no peer to compare with: these are the figures themselves.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _rows(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def _cell(v) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _table(rows: list[dict], cols: list[tuple[str, str]]) -> str:
    lines = ["| " + " | ".join(h for h, _ in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(_cell(r.get(k, "")) for _, k in cols) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-fuzz", action="store_true", help="skip the fuzz test (about 20 s)")
    ap.add_argument("--no-two-hosts", action="store_true", help="skip the network-namespace test")
    a = ap.parse_args()
    tests = ["tests/launcher/test_fault_table.py"]
    if not a.no_two_hosts:
        tests.append("tests/launcher/test_two_hosts.py")
    if not a.no_fuzz:
        tests.append("tests/dptrain/distributed/test_fuzz.py")
    with tempfile.TemporaryDirectory() as d:
        faults, fuzz = os.path.join(d, "faults.jsonl"), os.path.join(d, "fuzz.jsonl")
        env = dict(os.environ, DPTRAIN_FAULT_REPORT=faults, DPTRAIN_FUZZ_REPORT=fuzz)
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", *tests],
                           cwd=ROOT, env=env, capture_output=True, text=True)
        print(r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr[-2000:])
        if r.returncode != 0:
            print(r.stdout[-6000:])
        rows = _rows(faults)
        for row in rows:
            row["ranks_named_lost"] = ", ".join(map(str, row.get("ranks_named_lost", []))) or "-"
            if row.get("root_cause_rank") is None:
                row["root_cause_rank"] = "- (no failure: a stop)"
        print("\n## Fault table (2 workers on the CPU, grace period 2 s, collectives' timeout 5 s)\n")
        print(_table(rows, [("fault", "fault"), ("time to teardown (s)", "teardown_s"),
                            ("exit code", "exit_code"), ("root cause rank", "root_cause_rank"),
                            ("lost rank named", "ranks_named_lost"), ("orphans", "orphans"),
                            ("final loss", "final_loss"), ("uninterrupted loss", "uninterrupted_loss")]))
        fz = _rows(fuzz)
        if fz:
            print("\n## Fuzz: a running 2-worker job (loopback)\n")
            print(_table(fz, [("mode", "mode"), ("tried", "tried"),
                              ("reached Python, dropped, counted", "reached python, dropped and counted"),
                              ("refused inside libzmq", "refused inside libzmq (connection closed)"),
                              ("data plane: delivered / dropped", "data plane ZeroMQ messages"),
                              ("rendezvous dropped", "rendezvous dropped"), ("RSS growth MiB", "rss growth MiB"),
                              ("outcome", "outcome"), ("seconds", "seconds")]))
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
