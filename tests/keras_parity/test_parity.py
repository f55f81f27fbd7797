"""Every parity case: dptrain's observation equals Keras 3's (skips where keras is absent)."""
import pytest

from keras_parity.harness import compare, dptrain_module, keras_module, load_cases, run_case

CASES = load_cases()


def _params():
    for name, c in sorted(CASES.items()):
        marks = [pytest.mark.xfail(strict=True, reason=f"missing: {c.missing}")] if c.missing else []
        yield pytest.param(c, id=name, marks=marks)


@pytest.fixture(scope="module")
def keras():
    k = keras_module()
    if k is None:
        pytest.skip("keras (torch backend) is not installed")
    return k


_reference = {}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("c", _params())
def test_parity(c, keras):
    if c.name not in _reference:
        _reference[c.name] = run_case(c, keras)
    got = run_case(c, dptrain_module())
    compare(got, _reference[c.name], c.rtol, c.atol)
