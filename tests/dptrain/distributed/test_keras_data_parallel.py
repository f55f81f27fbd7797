"""Keras fit under the launcher: shards, averaged gradients, one History on every rank."""
import json
import os
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "scripts", "keras_fit_worker.py")


def histories(cmd, tmp_path):
    r = subprocess.run(cmd + [SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=150)
    assert r.returncode == 0, r.stdout + r.stderr
    found = [json.loads(ln.split("HISTORY ", 1)[1]) for ln in r.stdout.splitlines() if "HISTORY " in ln]
    return found, r.stdout


@pytest.mark.timeout(300)
def test_two_workers_reach_single_process_accuracy_with_identical_history(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    single, _ = histories([sys.executable], tmp_path / "one")
    multi, out = histories([sys.executable, "-m", "launcher", "--nproc-per-node", "2", "--timeout", "140"],
                           tmp_path / "two")
    assert len(single) == 1 and len(multi) == 2, out
    assert multi[0] == multi[1], "every rank must return the same History"
    assert set(multi[0]["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(multi[0]["history"]["loss"]) == 12
    assert multi[0]["test_accuracy"] >= single[0]["test_accuracy"] - 0.01
    assert multi[0]["test_accuracy"] >= 0.95
    # only rank 0 printed epoch lines and wrote the CSV log
    epoch_lines = [ln for ln in out.splitlines() if "Epoch 12/12" in ln]
    assert epoch_lines and all(ln.startswith("[rank 0]") for ln in epoch_lines), out
    assert len((tmp_path / "two" / "log.csv").read_text().strip().splitlines()) == 13


def test_shards_are_equal_sized_disjoint_and_cover_every_sample():
    import numpy as np
    from types import SimpleNamespace

    from dptrain.distributed.keras_strategy import DataParallelStrategy
    order = np.random.default_rng(0).permutation(10)
    shards = [DataParallelStrategy(SimpleNamespace(rank=r, world_size=3, communicator=None)).shard(order)
              for r in range(3)]
    assert [len(s) for s in shards] == [4, 4, 4]        # equal step counts: no rank waits alone
    joined = np.concatenate(shards)
    assert set(joined.tolist()) == set(range(10))
    assert len(joined) - len(set(joined.tolist())) == 2  # only the wrap-around padding repeats


class _TwoRankComm:
    """Rank 0 of two, where rank 1's weights have drifted: every digest it reports differs."""
    world_size = 2

    def all_reduce(self, a, op="sum"):
        return a * 2

    def all_gather(self, a):
        return [a, a + 1]


def test_epoch_end_checks_that_weights_agree_across_ranks():
    from types import SimpleNamespace

    import numpy as np

    from dptrain import ag
    from dptrain.distributed import WeightDesyncError
    from dptrain.distributed.keras_strategy import DataParallelStrategy
    strategy = DataParallelStrategy(SimpleNamespace(rank=0, world_size=2, communicator=_TwoRankComm()))
    opt = ag.optim.SGD([ag.param(np.ones(3, np.float32))], lr=0.1)
    assert strategy.reduce_gradients(opt)
    with pytest.raises(WeightDesyncError, match=r"rank\(s\) \[1\]"):
        strategy.reduce_metrics({"loss": 1.0}, 4)
