"""Sequential: order, indexing, construction forms, errors."""
import numpy as np
import pytest

from dptrain import ag


def test_sequential_applies_in_order():
    a, b = ag.Linear(3, 4, activation="relu"), ag.Linear(4, 2)
    seq = ag.Sequential(a, b)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_array_equal(seq(x).numpy(), b(a(x)).numpy())
    assert len(seq) == 2 and seq[0] is a and seq[-1] is b and list(seq) == [a, b]


def test_sequential_from_list_append_and_slice():
    seq = ag.Sequential([ag.Linear(2, 2), ag.Linear(2, 3)])
    seq.append(ag.Dropout(0.1))
    assert list(seq.parameters()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    head = seq[:1]
    assert isinstance(head, ag.Sequential) and head[0] is seq[0]
    assert list(seq.state_dict()) == list(seq.parameters())


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError, match="Sequential: item 1 is a function, not a Module"):
        ag.Sequential(ag.Linear(2, 2), lambda x: x)
