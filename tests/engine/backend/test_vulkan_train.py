"""A small MLP trained on Vulkan matches the numpy run, one submit per training step."""
import numpy as np
import pytest
from vulkan_helpers import train_flat_adam, training_data

import engine as ag
from engine import backend

def test_mlp_with_fused_adam_matches_numpy(vk):
    ref_losses, ref_params, _ = train_flat_adam(backend.numpy_backend)
    losses, params, _ = train_flat_adam(vk)
    assert ref_losses[-1] < ref_losses[0]
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-4, atol=1e-5)
    for a, b in zip(params, ref_params):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_a_training_step_is_one_submit(vk):
    _, _, submits = train_flat_adam(vk, steps=5)
    # forward, backward, gradient copies, the fused update and loss.item(): one command buffer
    assert submits == [1] * 5


def test_training_kit_linear_and_adam_on_vulkan(vk):
    """ag.Linear + ag.optim.Adam (flat buffers, fused step) give the numpy losses, one submit a step."""
    if not hasattr(ag, "Linear") or not hasattr(ag, "optim"):
        pytest.skip("training kit not present")

    def run(K):
        prev = backend.current
        backend.set_current(K)
        try:
            ag.manual_seed(1)
            _, x, y = training_data()
            model = ag.Sequential(ag.Linear(20, 16, activation="relu"), ag.Linear(16, 3))
            opt = ag.optim.Adam(model.parameters(), lr=1e-2)
            losses, submits = [], []
            for step in range(6):
                before = getattr(K, "submits", 0)
                with ag.grad_tape():
                    loss = ag.softmax_cross_entropy_loss(model(ag.tensor(x[:16])), y[:16])
                grads = ag.backward(loss)
                opt.step(grads)
                losses.append(loss.item())
                submits.append(getattr(K, "submits", 0) - before)
            return np.array(losses), submits
        finally:
            backend.set_current(prev)

    ref, _ = run(backend.numpy_backend)
    got, submits = run(vk)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)
    assert submits[1:] == [1] * 5
