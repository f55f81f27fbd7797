"""A forked child (dp_train's workers) forgets the parent's Vulkan device and opens its own."""
import os
import select
import signal

import numpy as np
import pytest

from engine import backend


@pytest.mark.timeout(120)
def test_forked_child_does_not_reuse_the_parents_vulkan_device(on_vulkan):
    import engine as ag
    from engine.backend import vulkan as vkb
    assert vkb._backends, "the fixture opened a Vulkan device in this process"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report what it sees, then compute on its own device
        ok = 0
        try:
            fresh = not vkb._backends and vkb._instance is None and backend.current.name == "numpy"
            ag.device("vulkan:0")
            y = (ag.tensor(np.arange(4, dtype=np.float32)) * 2.0).numpy()
            ok = int(fresh and backend.current.name == "vulkan" and y.tolist() == [0, 2, 4, 6])
        finally:
            os.write(w, bytes([ok]))
            os._exit(0)
    os.close(w)
    try:
        ready, _, _ = select.select([r], [], [], 60)   # a child stuck on the parent's device hangs
        got = os.read(r, 1) if ready else b""
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    assert got == b"\x01", "the forked child reused or could not replace the parent's Vulkan device"
