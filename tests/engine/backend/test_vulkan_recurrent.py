"""The recurrent primitives on Vulkan: composed of existing kernels, a whole sequence forward
and backward is recorded without a host round trip, and matches the numpy backend."""
import numpy as np
import pytest
from vulkan_helpers import assert_same

import engine as ag

R = np.random.default_rng(21)


def rn(*shape):
    return R.standard_normal(shape)


@pytest.mark.parametrize("order", ["rzn", "zrn"])
def test_gru_matches_numpy_with_every_optional_input_combination(vk, order):
    x, wi, wh = rn(2, 5, 3), rn(3, 9) * 0.5, rn(3, 9) * 0.5
    for bi, bh, h0 in ((rn(9), None, None), (None, rn(9), rn(2, 3)), (rn(9), rn(9), None)):
        given = [a for a in (bi, bh, h0) if a is not None]

        def fn(x, wi, wh, *rest, bi=bi, bh=bh, h0=h0):
            it = iter(rest)
            args = [next(it) if a is not None else None for a in (bi, bh, h0)]
            return ag.gru(x, wi, wh, *args, gate_order=order)
        assert_same(vk, fn, [x, wi, wh] + given)


def test_lstm_with_only_c0_matches_numpy(vk):
    assert_same(vk, lambda x, wi, wh, c0: ag.lstm(x, wi, wh, c0=c0, return_sequences=False),
                [rn(2, 4, 3), rn(3, 8) * 0.5, rn(2, 8) * 0.5, rn(2, 2)])


def test_a_training_step_records_without_submitting(on_vulkan):
    vk = on_vulkan
    x = ag.tensor(rn(4, 12, 3).astype(np.float32))
    w = [ag.param(rn(3, 16).astype(np.float32) * 0.3), ag.param(rn(4, 16).astype(np.float32) * 0.3),
         ag.param(np.zeros(16, np.float32))]
    vk.sync()
    s0 = vk.submits
    with ag.grad_tape():
        loss = ag.sum(ag.lstm(x, *w, return_sequences=False))
    grads = ag.backward(loss)
    assert vk.submits == s0, "the recurrence must not read anything back to the host"
    assert all(np.isfinite(vk.to_numpy(g)).all() for g in grads.values())
