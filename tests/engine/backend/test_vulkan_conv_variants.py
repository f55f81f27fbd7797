"""Dilated, grouped, depthwise, causal and transposed convolutions on Vulkan: forward and backward
against the numpy backend, and backward against finite differences of the device's own forward."""
import numpy as np
import pytest
from test_vulkan_gradcheck import _forward
from vulkan_helpers import assert_same, run_on

import engine as ag

R = np.random.default_rng(23)


def rn(*shape):
    return R.standard_normal(shape)


CASES = [
    ("conv2d_dilated", lambda x, w: ag.conv2d(x, w, dilation=2), [rn(2, 7, 8, 3), rn(3, 2, 3, 4)]),
    ("conv2d_dilated_same", lambda x, w, b: ag.conv2d(x, w, b, dilation=(2, 3), padding="same"),
     [rn(2, 6, 7, 2), rn(3, 3, 2, 3), rn(3)]),
    ("conv2d_grouped", lambda x, w: ag.conv2d(x, w, groups=2), [rn(2, 5, 6, 4), rn(3, 2, 2, 6)]),
    ("conv2d_grouped_same_stride", lambda x, w: ag.conv2d(x, w, stride=2, padding="same", groups=3),
     [rn(2, 5, 6, 6), rn(3, 3, 2, 3)]),
    ("conv2d_grouped_1x1", lambda x, w: ag.conv2d(x, w, groups=2), [rn(2, 3, 4, 4), rn(1, 1, 2, 6)]),
    ("depthwise_conv2d", lambda x, w, b: ag.depthwise_conv2d(x, w, b, padding="same", dilation=(1, 2)),
     [rn(2, 5, 6, 3), rn(3, 2, 3, 2), rn(6)]),
    ("conv1d_causal_dilated", lambda x, w: ag.conv1d(x, w, padding="causal", dilation=2),
     [rn(2, 9, 2), rn(3, 2, 3)]),
    ("depthwise_conv1d", lambda x, w: ag.depthwise_conv1d(x, w, padding="same", stride=2), [rn(2, 9, 3), rn(3, 3, 2)]),
    ("conv2d_transpose_valid_s2", lambda x, w, b: ag.conv2d_transpose(x, w, b, stride=2),
     [rn(2, 4, 5, 3), rn(3, 3, 4, 3), rn(4)]),
    ("conv2d_transpose_same_s2_k3", lambda x, w: ag.conv2d_transpose(x, w, stride=2, padding="same"),
     [rn(2, 4, 5, 3), rn(3, 3, 4, 3)]),
    ("conv2d_transpose_stride_over_kernel", lambda x, w: ag.conv2d_transpose(x, w, stride=3, padding="same"),
     [rn(1, 3, 4, 2), rn(2, 2, 3, 2)]),
    ("conv2d_transpose_output_padding", lambda x, w: ag.conv2d_transpose(x, w, stride=(2, 3), output_padding=(1, 2)),
     [rn(1, 3, 4, 2), rn(3, 3, 3, 2)]),
    ("conv2d_transpose_dilated", lambda x, w: ag.conv2d_transpose(x, w, padding="same", dilation=2),
     [rn(1, 4, 5, 2), rn(3, 2, 3, 2)]),
    ("conv2d_transpose_1x1", lambda x, w: ag.conv2d_transpose(x, w), [rn(2, 3, 4, 5), rn(1, 1, 3, 5)]),
    ("conv1d_transpose_same", lambda x, w: ag.conv1d_transpose(x, w, stride=2, padding="same"),
     [rn(2, 5, 3), rn(3, 4, 3)]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_forward_and_backward_match_numpy(vk, case):
    _, fn, inputs = case
    assert_same(vk, fn, inputs)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_backward_matches_finite_differences_on_vulkan(vk, case):
    name, fn, inputs = case
    _, grads = run_on(vk, fn, inputs, seed=0)
    rng = np.random.default_rng(5)
    for i, x in enumerate(inputs):
        x = np.asarray(x, np.float64)
        for k in rng.choice(x.size, size=min(x.size, 8), replace=False):
            h = 1e-2 * max(1.0, abs(x.flat[k]))
            plus, minus = x.copy(), x.copy()
            plus.flat[k] += h
            minus.flat[k] -= h
            fd = (_forward(vk, fn, [plus if j == i else a for j, a in enumerate(inputs)], 0)
                  - _forward(vk, fn, [minus if j == i else a for j, a in enumerate(inputs)], 0)) / (2 * h)
            got = grads[i].flat[k]
            assert abs(got - fd) <= 3e-2 * max(1.0, abs(fd)), \
                f"{name}: d/d input{i}[{k}] is {got:.6g} on Vulkan, finite differences give {fd:.6g}"


def test_grouped_conv_stays_on_the_device(on_vulkan):
    from engine.backend.vulkan.array import VkArray
    x = ag.tensor(rn(1, 4, 4, 4).astype(np.float32))
    y = ag.conv2d_transpose(ag.conv2d(x, rn(3, 3, 2, 4).astype(np.float32), groups=2, padding="same"),
                            rn(2, 2, 3, 4).astype(np.float32), stride=2)
    assert type(y.data) is VkArray and y.shape == (1, 8, 8, 3)
