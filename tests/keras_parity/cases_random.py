"""Parity cases: keras.random's shapes, dtypes and seed semantics (the numbers themselves come
from different generators, so the cases compare what a user relies on, not the draws)."""
import numpy as np

from keras_parity.harness import case, to_numpy


@case()
def case_random_shapes_dtypes_and_seeds(K):
    R = K.random
    g1, g2 = R.SeedGenerator(5), R.SeedGenerator(5)
    first, second = to_numpy(R.uniform((6,), seed=g1)), to_numpy(R.uniform((6,), seed=g1))
    return {
        "normal": (to_numpy(R.normal((2, 3))).shape, str(to_numpy(R.normal((2, 3))).dtype)),
        "randint": str(to_numpy(R.randint((4,), 0, 5)).dtype),
        "categorical": to_numpy(R.categorical(np.zeros((2, 3), np.float32), 4)).shape,
        "int_seed_repeats": bool(np.array_equal(to_numpy(R.normal((5,), seed=3)), to_numpy(R.normal((5,), seed=3)))),
        "generator_advances": bool(not np.array_equal(first, second)),
        "generator_reproducible": bool(np.array_equal(first, to_numpy(R.uniform((6,), seed=g2)))),
        "truncated_within_two_sd": bool(np.abs(to_numpy(R.truncated_normal((5000,), seed=1))).max() <= 2.0),
    }


@case()
def case_random_dropout_rate_and_scale(K):
    x = K.ops.convert_to_tensor(np.ones((200, 50), np.float32))
    y = to_numpy(K.random.dropout(x, 0.25, seed=2))
    return {"rate_close": bool(abs((y == 0).mean() - 0.25) < 0.02),
            "scale": bool(np.allclose(y[y != 0], 1 / 0.75)), "shape": y.shape}
