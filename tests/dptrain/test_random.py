"""keras.random: shapes, dtypes, seeds (int: the same numbers each call; SeedGenerator: fresh
numbers, reproducible from its seed; None: the global seed), and each distribution's moments
and support on large deterministic samples."""
import numpy as np
import pytest

import dptrain as dt
from dptrain import random as R


def a(t):
    return t.numpy()


def test_shapes_and_dtypes():
    assert a(R.normal((2, 3))).dtype == np.float32 and a(R.normal((2, 3))).shape == (2, 3)
    assert a(R.uniform((4,), dtype="float64")).dtype == np.float64
    assert a(R.randint((5,), 0, 3)).dtype == np.int32
    assert a(R.categorical(np.zeros((2, 3)), 4)).shape == (2, 4)
    with pytest.raises(ValueError, match="dtype must be a float"):
        R.normal((2,), dtype="int32")
    with pytest.raises(ValueError, match="maxval"):
        R.randint((2,), 3, 3)
    with pytest.raises(TypeError, match="seed must be"):
        R.normal((2,), seed="x")


def test_an_int_seed_gives_the_same_numbers_and_a_seed_generator_fresh_ones():
    np.testing.assert_array_equal(a(R.normal((5,), seed=3)), a(R.normal((5,), seed=3)))
    g1, g2 = R.SeedGenerator(7), R.SeedGenerator(7)
    first, second = a(R.uniform((5,), seed=g1)), a(R.uniform((5,), seed=g1))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, a(R.uniform((5,), seed=g2)))


def test_the_global_seed_makes_unseeded_draws_reproducible():
    dt.utils.set_random_seed(11)
    x = a(R.normal((4,)))
    dt.utils.set_random_seed(11)
    np.testing.assert_array_equal(x, a(R.normal((4,))))


def test_distribution_moments_and_support():
    n = 200_000
    z = a(R.normal((n,), mean=2.0, stddev=3.0, seed=0))
    assert abs(z.mean() - 2.0) < 0.03 and abs(z.std() - 3.0) < 0.03
    u = a(R.uniform((n,), minval=-1.0, maxval=3.0, seed=1))
    assert u.min() >= -1.0 and u.max() < 3.0 and abs(u.mean() - 1.0) < 0.02
    t = a(R.truncated_normal((n,), mean=1.0, stddev=0.5, seed=2))
    assert t.min() >= 0.0 and t.max() <= 2.0 and abs(t.mean() - 1.0) < 0.01
    r = a(R.randint((n,), 2, 6, seed=3))
    assert set(np.unique(r)) == {2, 3, 4, 5}
    g = a(R.gamma((n,), 2.5, seed=4))
    assert abs(g.mean() - 2.5) < 0.03
    b = a(R.beta((n,), 2.0, 3.0, seed=5))
    assert abs(b.mean() - 0.4) < 0.01
    k = a(R.binomial((n,), 10, 0.3, seed=6))
    assert k.dtype == np.float32 and abs(k.mean() - 3.0) < 0.03


def test_categorical_follows_the_softmax_of_the_logits():
    logits = np.log(np.array([[0.2, 0.5, 0.3]]))
    draws = a(R.categorical(logits, 60_000, seed=0))[0]
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / 60_000, [0.2, 0.5, 0.3], atol=0.01)


def test_dropout_zeros_at_the_rate_scales_the_rest_and_differentiates():
    x = dt.ag.param(np.ones((400, 50)), name="x")
    with dt.ag.grad_tape():
        y = R.dropout(x, 0.3, seed=0)
        loss = dt.ag.sum(y)
    grads = dt.ag.backward(loss)
    yv = y.numpy()
    assert abs((yv == 0).mean() - 0.3) < 0.01
    np.testing.assert_allclose(yv[yv != 0], 1 / 0.7)
    np.testing.assert_allclose(grads["x"], yv)            # d sum(x * m) / dx = m
    shared = a(R.dropout(np.ones((3, 4)), 0.5, noise_shape=(None, 1), seed=1))
    assert all(len(set(row)) == 1 for row in shared)       # one draw per row
    with pytest.raises(ValueError, match="rate"):
        R.dropout(np.ones(3), 1.0)


def test_shuffle_permutes_along_the_axis():
    x = np.arange(12.0).reshape(3, 4)
    y = a(R.shuffle(x, axis=1, seed=0))
    np.testing.assert_array_equal(np.sort(y, axis=1), x)
    assert not np.array_equal(y, x)
    np.testing.assert_array_equal(y[1] - y[0], [4.0] * 4)   # whole columns move
