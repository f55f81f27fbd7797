"""DistributedOptimizer on Vulkan: the mean the collective computes on host copies must reach the
device's flat gradient buffer (a scripted peer rank plays rank 1, as in the numpy tests)."""
import numpy as np

import engine as ag
from engine import backend
from dptrain.distributed.optimizer import DistributedOptimizer


class MeanWithPeer:
    rank, world_size = 0, 2

    def __init__(self, peer_grad):
        self.peer_grad = np.asarray(peer_grad)

    def all_reduce_inplace(self, host, op="mean", extra=None):
        host += self.peer_grad.astype(host.dtype)
        host *= host.dtype.type(0.5)
        return host, None if extra is None else np.stack([extra, extra])

    def all_gather(self, a):
        return [a, a]


def test_the_reduced_mean_reaches_the_device_weights(vk):
    prev = backend.current
    backend.set_current(vk)
    try:
        w = ag.param(np.array([1.0, 2.0, -1.0], np.float32), name="w")
        opt = ag.optim.SGD([w], lr=0.5)
        peer = np.array([3.0, -1.0, 1.0], np.float32)
        d = DistributedOptimizer(opt, comm=MeanWithPeer(peer), check_every=0, straggler_threshold=None)
        g = np.array([1.0, 1.0, -1.0], np.float32)
        assert d.step({"w": g}) is True
        got = w.numpy()
    finally:
        backend.set_current(prev)
    np.testing.assert_allclose(got, np.array([1.0, 2.0, -1.0]) - 0.5 * (g + peer) / 2, rtol=1e-6)
