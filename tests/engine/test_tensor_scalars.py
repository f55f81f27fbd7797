"""0-d (one-element) tensors convert to Python numbers the way torch's do."""
import numpy as np
import pytest

from dptrain import ag


def test_float_int_bool_of_a_loss():
    x = ag.param(np.array([[1.0, -2.0]], np.float32))
    with ag.grad_tape():
        loss = ag.mean(x * x)
    assert float(loss) == pytest.approx(2.5) and isinstance(float(loss), float)
    assert int(ag.tensor(np.array(3.7, np.float32))) == 3
    assert bool(ag.tensor(np.array(0.0, np.float32))) is False
    assert bool(ag.tensor(np.array([2.0], np.float32))) is True
    assert f"{float(loss):.2f}" == "2.50"


def test_many_elements_refuse_naming_the_shape():
    with pytest.raises(TypeError, match=r"float\(\).*shape \(2, 3\)"):
        float(ag.tensor(np.ones((2, 3), np.float32)))
    with pytest.raises(TypeError, match=r"bool\(\)"):
        bool(ag.tensor(np.ones(2, np.float32)))
