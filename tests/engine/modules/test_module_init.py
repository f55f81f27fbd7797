"""Initialisers: fans in the engine's layouts, ranges and standard deviations, orthogonality."""
import math

import numpy as np
import pytest

from engine.modules import init


def test_fans_dense_and_conv_layouts():
    assert init.fans((30, 20)) == (30, 20)                  # dense [in, out]
    assert init.fans((3, 3, 16, 32)) == (144, 288)          # conv [kh, kw, in, out]
    assert init.fans((7,)) == (7, 7)


def test_uniform_initialisers_limits():
    rng = np.random.default_rng(0)
    w = init.he_uniform((400, 100), rng=rng)
    limit = math.sqrt(6 / 400)
    assert w.dtype == np.float32 and np.abs(w).max() <= limit
    assert w.std() == pytest.approx(limit / math.sqrt(3), rel=0.02)


@pytest.mark.parametrize("fn,std", [(init.glorot_normal, math.sqrt(2 / 500)), (init.he_normal, math.sqrt(2 / 300))])
def test_truncated_normal_initialisers(fn, std):
    w = fn((300, 200), dtype=np.float64, rng=np.random.default_rng(1))
    assert w.dtype == np.float64
    assert np.abs(w).max() <= 2 * std / 0.87962566103423978
    assert w.std() == pytest.approx(std, rel=0.02)


@pytest.mark.parametrize("shape", [(5, 12), (12, 5), (6, 6)])
def test_orthogonal(shape):
    q = init.orthogonal(shape, dtype=np.float64, rng=np.random.default_rng(2))
    small = min(shape)
    gram = q @ q.T if shape[0] <= shape[1] else q.T @ q
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-12)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.orthogonal((4,))
