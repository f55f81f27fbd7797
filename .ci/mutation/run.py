"""Mutation testing with cosmic-ray over the targets in targets.toml (not part of CI).

    python -m pip install -e ".[mutation]"
    python .ci/mutation/run.py                 # every target, 2 at a time, about an hour on 2 cores
    python .ci/mutation/run.py --only engine-optim --sample-scale 0.2
    python .ci/mutation/run.py --recheck --scratch DIR   # a finished run's survivors vs today's tests

Each target runs in its own scratch clone of HEAD (cosmic-ray edits files in place, and two
targets at once must not see each other's mutants). Mutants outside a target's `functions`, and
those listed in equivalent.toml, are skipped; of the rest a seeded random sample runs. Prints per
target: mutants, sampled, killed, survived, equivalent, incompetent and the kill rate
killed / (killed + survived); the survivors and their diffs go to <scratch>/survivors.txt.
"""
from __future__ import annotations

import argparse
import ast
import concurrent.futures
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def load_targets():
    return tomllib.loads((HERE / "targets.toml").read_text())["target"]


def load_equivalents():
    return tomllib.loads((HERE / "equivalent.toml").read_text()).get("equivalent", [])


def enclosing_functions(path):
    """[(first_line, last_line, name)] of every function in the file."""
    tree = ast.parse(Path(path).read_text())
    return [(n.lineno, n.end_lineno, n.name) for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def function_at(functions, line):
    """The innermost function containing `line` ('' at module level)."""
    inside = [(hi - lo, name) for lo, hi, name in functions if lo <= line <= hi]
    return min(inside)[1] if inside else ""


def is_equivalent(equivalents, module, mutation, function, line_text):
    """Whether equivalent.toml lists this mutant (module, operator, function, line text, column)."""
    return any(e["module"] == module and e["operator"] == mutation.operator_name and e["function"] == function
               and e["line"] == line_text and e.get("col", mutation.start_pos[1]) == mutation.start_pos[1]
               for e in equivalents)


def worker_env(src):
    env = dict(os.environ, PYTHONPATH=str(src), KERAS_BACKEND="torch", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("DPTRAIN_REQUIRE_VULKAN", None)
    env.pop("DPTRAIN_REQUIRE_REFERENCES", None)
    return env


def test_command(target):
    return f"{sys.executable} -m pytest -x -q -p no:cacheprovider -p no:randomly {target['tests']}"


def prepare(target, scratch, scale, seed):
    """Clone, check the tests pass unmutated, create the session and choose the mutants to run."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    src = scratch / target["name"]
    subprocess.run(["git", "clone", "-q", str(ROOT), str(src)], check=True)
    env = worker_env(src)
    t0 = time.perf_counter()
    base = subprocess.run(test_command(target), shell=True, cwd=src, env=env, capture_output=True, text=True)
    baseline_s = time.perf_counter() - t0
    if base.returncode != 0:
        raise RuntimeError(f"{target['name']}: the tests fail without any mutant:\n{base.stdout[-2000:]}")
    cfg = src / "cosmic-ray.toml"
    paths = ", ".join(f'"{p}"' for p in target["paths"])
    cfg.write_text(f'[cosmic-ray]\nmodule-path = [{paths}]\ntimeout = {max(30.0, 4 * baseline_s):.0f}\n'
                   f'excluded-modules = []\ntest-command = "{test_command(target)}"\n'
                   f'[cosmic-ray.distributor]\nname = "local"\n')
    db = src / "session.sqlite"
    subprocess.run(["cosmic-ray", "init", str(cfg), str(db)], cwd=src, env=env, check=True)

    pattern = re.compile(target["functions"]) if "functions" in target else None
    equivalents = load_equivalents()
    functions, lines = {}, {}
    runnable, skipped, equivalent = [], [], []
    with use_db(str(db), WorkDB.Mode.open) as wdb:
        for item in wdb.work_items:
            m = item.mutations[0]
            module = str(m.module_path)
            if module not in functions:
                functions[module] = enclosing_functions(src / module)
                lines[module] = (src / module).read_text().splitlines()
            fn = function_at(functions[module], m.start_pos[0])
            text = lines[module][m.start_pos[0] - 1].strip()
            if pattern is not None and not pattern.search(fn):
                skipped.append(item.job_id)
            elif is_equivalent(equivalents, module, m, fn, text):
                equivalent.append(item.job_id)
            else:
                runnable.append((module, m.start_pos, m.operator_name, m.occurrence, item.job_id))
        runnable = [r[-1] for r in sorted(runnable)]   # job ids are random: sort so a seed picks the same mutants
        n_sample = min(len(runnable), max(1, round(target["sample"] * scale)))
        chosen = set(random.Random(seed).sample(runnable, n_sample))
        not_chosen = [j for j in runnable if j not in chosen] + skipped + equivalent
        if not_chosen:
            wdb.set_multiple_results(not_chosen, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
    counts = dict(mutants=len(runnable), sampled=n_sample, equivalent=len(equivalent), baseline_s=baseline_s)
    (src / "session.json").write_text(json.dumps(counts))
    return dict(src=src, cfg=cfg, db=db, env=env, **counts)


def execute(target, session):
    t0 = time.perf_counter()
    subprocess.run(["cosmic-ray", "exec", str(session["cfg"]), str(session["db"])], cwd=session["src"],
                   env=session["env"], check=True, capture_output=True)
    session["exec_s"] = time.perf_counter() - t0
    return session


def previous_session(target, scratch):
    """A finished session in `scratch`, with the counts `prepare` saved."""
    src = scratch / target["name"]
    return dict(src=src, db=src / "session.sqlite", exec_s=float("nan"),
                **json.loads((src / "session.json").read_text()))


def tally(target, session):
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    counts = {"killed": 0, "timeout": 0, "survived": 0, "incompetent": 0}
    survivors = []
    with use_db(str(session["db"]), WorkDB.Mode.open) as wdb:
        for item, result in wdb.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            if result.test_outcome == TestOutcome.KILLED:
                counts["killed"] += 1
                counts["timeout"] += (result.output or "").strip() == "timeout"   # killed by the time limit
            elif result.test_outcome == TestOutcome.SURVIVED:
                counts["survived"] += 1
                m = item.mutations[0]
                survivors.append(f"--- {target['name']}: {m.module_path}:{m.start_pos[0]} {m.operator_name} "
                                 f"(occurrence {m.occurrence})\n{result.diff}\n")
            else:
                counts["incompetent"] += 1
    return counts, survivors


def recheck(targets, scratch):
    """Each survivor of a finished session, applied to a fresh clone of HEAD (the mutated modules
    must not have changed since) and run against the target's current tests; equivalents listed
    since the run are left out. Prints the session's kill rate with the new tests."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    equivalents = load_equivalents()
    print(f"{'target':24} {'sampled':>7} {'killed':>6} {'then':>5} {'now':>5} {'equiv.':>6} {'survive':>7} {'kill rate':>9}")
    for target in targets:
        old = scratch / target["name"]
        src = scratch / (target["name"] + "-recheck")
        subprocess.run(["rm", "-rf", str(src)], check=True)
        subprocess.run(["git", "clone", "-q", str(ROOT), str(src)], check=True)
        env = worker_env(src)
        with use_db(str(old / "session.sqlite"), WorkDB.Mode.open) as wdb:
            done = [(i, r) for i, r in wdb.completed_work_items if r.worker_outcome != WorkerOutcome.SKIPPED]
        killed = sum(r.test_outcome == TestOutcome.KILLED for _, r in done)
        survivors = [i.mutations[0] for i, r in done if r.test_outcome == TestOutcome.SURVIVED]
        now_killed = equivalent = 0
        for m in survivors:
            module = str(m.module_path)
            text = (src / module).read_text().splitlines()[m.start_pos[0] - 1].strip()
            fn = function_at(enclosing_functions(src / module), m.start_pos[0])
            if is_equivalent(equivalents, module, m, fn, text):
                equivalent += 1
                continue
            subprocess.run(["cosmic-ray", "apply", module, m.operator_name, str(m.occurrence)], cwd=src, env=env,
                           check=True, capture_output=True)
            try:
                res = subprocess.run(test_command(target), shell=True, cwd=src, env=env, capture_output=True,
                                     timeout=300)
                now_killed += res.returncode != 0
            except subprocess.TimeoutExpired:
                now_killed += 1
            finally:
                subprocess.run(["git", "checkout", "-q", "--", module], cwd=src, check=True)
        left = len(survivors) - now_killed - equivalent
        rate = (killed + now_killed) / max(1, killed + now_killed + left)
        print(f"{target['name']:24} {len(done):7d} {killed:6d} {len(survivors):5d} {now_killed:5d} {equivalent:6d} "
              f"{left:7d} {rate:9.1%}")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", help="run only this target (repeatable)")
    ap.add_argument("--jobs", type=int, default=2, help="targets run at once (default 2)")
    ap.add_argument("--sample-scale", type=float, default=1.0, help="multiply every target's sample size")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scratch", help="directory for the clones and sessions (default: a new temp dir)")
    ap.add_argument("--report", action="store_true", help="only tally the finished sessions in --scratch")
    ap.add_argument("--recheck", action="store_true",
                    help="run the survivors of the finished sessions in --scratch again, against HEAD's tests")
    args = ap.parse_args(argv)

    targets = [t for t in load_targets() if not args.only or t["name"] in args.only]
    if not targets:
        ap.error(f"no target named {args.only}")
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="dptrain-mutation-"))
    scratch.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if args.recheck:
        return recheck(targets, scratch)

    def run_one(target):
        if args.report:
            return target, previous_session(target, scratch)
        session = prepare(target, scratch, args.sample_scale, args.seed)
        return target, execute(target, session)

    rows, all_survivors = [], []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for target, session in pool.map(run_one, targets):
            counts, survivors = tally(target, session)
            all_survivors += survivors
            rows.append((target["name"], session, counts))

    print(f"{'target':24} {'mutants':>7} {'sampled':>7} {'killed':>6} {'survived':>8} {'equiv.':>6} "
          f"{'incomp.':>7} {'timeouts':>8} {'kill rate':>9} {'minutes':>7}")
    total = {"killed": 0, "timeout": 0, "survived": 0, "incompetent": 0, "equivalent": 0, "sampled": 0, "mutants": 0}
    for name, s, c in rows:
        rate = c["killed"] / max(1, c["killed"] + c["survived"])
        print(f"{name:24} {s['mutants']:7d} {s['sampled']:7d} {c['killed']:6d} {c['survived']:8d} "
              f"{s['equivalent']:6d} {c['incompetent']:7d} {c['timeout']:8d} {rate:9.1%} {s['exec_s'] / 60:7.1f}")
        for k in ("killed", "timeout", "survived", "incompetent"):
            total[k] += c[k]
        for k in ("equivalent", "sampled", "mutants"):
            total[k] += s[k]
    rate = total["killed"] / max(1, total["killed"] + total["survived"])
    print(f"{'all':24} {total['mutants']:7d} {total['sampled']:7d} {total['killed']:6d} {total['survived']:8d} "
          f"{total['equivalent']:6d} {total['incompetent']:7d} {total['timeout']:8d} {rate:9.1%} {(time.perf_counter() - t0) / 60:7.1f}")
    report = scratch / "survivors.txt"
    report.write_text("".join(all_survivors))
    print(f"survivors and their diffs: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
