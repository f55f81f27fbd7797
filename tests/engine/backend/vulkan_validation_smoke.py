"""Run a smoke subset of the Vulkan backend with the Khronos validation layer (synchronisation
validation on) and print the layer's messages as JSON. Started by test_vulkan_validation.py
with DPTRAIN_VK_VALIDATION=1. `--negative` drops every barrier to prove the layer is listening.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from vulkan_helpers import assert_same, train_flat_adam  # noqa: E402

import engine as ag  # noqa: E402
from engine.backend import vulkan as vkb  # noqa: E402
from engine.backend.vulkan.backend import VulkanBackend  # noqa: E402
from engine.backend.vulkan.context import Device  # noqa: E402

R = np.random.default_rng(0)


def rn(*shape):
    return R.standard_normal(shape)


CASES = [
    (ag.add, [rn(7, 33), rn(33)]),
    (lambda a: ag.clamp(ag.gelu(a), -0.5, 0.5) ** 3, [rn(65)]),
    (lambda a: ag.transpose(a, (1, 0))[::2, np.array([0, 2, 2])], [rn(4, 5)]),
    (lambda a, b: ag.concat([a, b], 1), [rn(2, 3), rn(2, 4)]),
    (lambda a: ag.sum(a) + ag.max(a, axis=0).sum(), [rn(3000, 3)]),
    (lambda a, b: ag.log_softmax(ag.softmax(a @ b, 0), -1), [rn(7, 33), rn(33, 5)]),
    (lambda x, g, b: ag.layer_norm(x, g, b) + ag.batch_norm(x), [rn(5, 7), rn(7), rn(7)]),
    (lambda x, w: ag.avg_pool2d(ag.max_pool2d(ag.conv2d(x, w, padding="same"), 2, stride=1), 2),
     [rn(2, 5, 5, 3), rn(3, 3, 3, 2)]),
    (lambda w: ag.embedding(np.array([[0, 3], [3, 3]]), w), [rn(5, 4)]),
    (lambda z: ag.softmax_cross_entropy_loss(z, np.array([2, 0, 1])), [rn(3, 4)]),
]


def smoke(vk):
    for fn, inputs in CASES:
        assert_same(vk, fn, inputs)
    train_flat_adam(vk, steps=3)
    p, g, buf = (vk.asarray(rn(40).astype(np.float32)) for _ in range(3))
    vk.sgd_update(p, g, buf, 0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
    vk.rmsprop_update(p, g, vk.zeros(40, np.float32), 0.01, weight_decay=0.01)
    assert vk.all_finite(p) and vk.sum_squares(p) > 0
    if vk.device.f16:
        vk.f16_storage = True
        assert_same(vk, CASES[5][0], CASES[5][1], rtol=2e-2, atol=2e-2)
        vk.f16_storage = False
    os.environ["DPTRAIN_VK_FORCE_STAGING"] = "1"
    dev = Device(vk.device.instance, vk.device.index)
    try:
        sb = VulkanBackend(dev)
        x = sb.asarray(rn(33, 7).astype(np.float32))
        np.testing.assert_allclose(sb.to_numpy(sb.sum(sb.exp(x), 0)), np.exp(sb.to_numpy(x)).sum(0), rtol=1e-5)
    finally:
        dev.close()
    vk.sync()


def negative(vk):
    """Dependent dispatches with the barriers dropped: the layer must object."""
    rec = vk.device.recorder

    def record_only(arrays, write_mask):
        for a, w in zip(arrays, write_mask):
            if w:
                a.storage.last_write = rec.serial
    rec._hazards = record_only
    x = vk.asarray(rn(1000).astype(np.float32))
    vk.to_numpy(vk.exp(vk.tanh(vk.neg(x))))


def main():
    try:
        vk = vkb.open_backend(int(os.environ.get("DPTRAIN_TEST_VULKAN_DEVICE", "0")))
    except vkb.VulkanUnavailable as e:
        print(json.dumps({"unavailable": str(e)}))
        return
    (negative if "--negative" in sys.argv else smoke)(vk)
    inst = vkb.get_instance()
    assert inst.validation, "DPTRAIN_VK_VALIDATION did not enable the layer"
    vkb.close_all()
    print(json.dumps({"messages": inst.messages}))


if __name__ == "__main__":
    main()
