"""Lambda and Rescaling: what the parity cases cannot show (dptrain's data-only files)."""
import numpy as np
import pytest

import dptrain as dt


def test_rescaling_saves_and_loads_with_its_arrays(tmp_path):
    m = dt.Sequential([dt.Input((3,)), dt.layers.Rescaling([0.5, 1.0, 2.0], offset=-1.0), dt.layers.Dense(2)])
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    path = str(tmp_path / "m.keras")
    m.save(path)
    loaded = dt.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), m.predict(x, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(loaded.layers[0](x).numpy(), x * [0.5, 1.0, 2.0] - 1.0, rtol=1e-6)


def test_rescaling_gradient_is_the_scale():
    x = dt.ag.param(np.ones((2, 3), np.float32))
    with dt.ag.grad_tape():
        y = dt.ag.sum(dt.layers.Rescaling(0.25, offset=3.0)(x))
    dt.ag.backward(y)
    np.testing.assert_allclose(np.asarray(x.grad), np.full((2, 3), 0.25))
    np.testing.assert_allclose(float(y.numpy()), 6 * 3.25)


def test_a_model_with_a_lambda_refuses_to_save_naming_the_layer(tmp_path):
    m = dt.Sequential([dt.Input((3,)), dt.layers.Lambda(lambda t: t * 2, name="double"), dt.layers.Dense(1)])
    with pytest.raises(NotImplementedError, match="double.*Python code"):
        m.save(str(tmp_path / "m.keras"))
    m.save_weights(str(tmp_path / "m.weights.h5"))      # the weights still save


def test_bad_lambda_and_rescaling_arguments_name_the_argument():
    with pytest.raises(TypeError, match="function must be callable"):
        dt.layers.Lambda(3)
    assert dt.layers.Lambda(lambda t: t, mask=lambda t, m: m).supports_masking   # masks: test_masking.py
    with pytest.raises(ValueError, match="scale must be finite"):
        dt.layers.Rescaling([1.0, float("nan")])
    with pytest.raises(TypeError, match="scale"):
        dt.layers.Rescaling(True)
