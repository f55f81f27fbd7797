"""Print the Keras parity summary: cases, passed, failed, and the xfailed ones grouped by the
feature they wait for.  Run: python tests/keras_parity/summary.py  (needs keras and torch)."""
import collections
import os
import sys
import warnings

_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
sys.path.insert(0, os.path.dirname(_TESTS))     # the repository (dptrain), before tests/ (its tests/dptrain)
sys.path.append(_TESTS)                           # keras_parity
warnings.filterwarnings("ignore")

from keras_parity.harness import compare, dptrain_module, keras_module, load_cases, run_case  # noqa: E402


def main():
    keras = keras_module()
    if keras is None:
        print("keras (torch backend) is not installed: pip install keras torch")
        return 2
    cases = load_cases()
    passed, failed, gaps = [], [], collections.defaultdict(list)
    for name, c in sorted(cases.items()):
        try:
            compare(run_case(c, dptrain_module()), run_case(c, keras), c.rtol, c.atol)
            ok = True
        except Exception as e:  # noqa: BLE001 - a failing case is a row of the report
            ok, why = False, f"{type(e).__name__}: {str(e).splitlines()[0][:100] if str(e) else ''}"
        if c.missing:
            (gaps[c.missing].append(name) if not ok else failed.append((name, "passes: drop its missing= mark")))
        elif ok:
            passed.append(name)
        else:
            failed.append((name, why))
    n_x = sum(len(v) for v in gaps.values())
    print(f"Keras parity: {len(cases)} cases, {len(passed)} passed, {n_x} xfailed, {len(failed)} failed")
    for feature, names in sorted(gaps.items()):
        print(f"  xfail ({len(names)}): {feature}: {', '.join(names)}")
    for name, why in failed:
        print(f"  FAILED {name}: {why}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
