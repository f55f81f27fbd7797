"""The seam between `fit` and data-parallel training.

`fit`, `evaluate` and the callbacks talk to the registered strategy only through
the methods below; the single-process strategy makes each of them a no-op. A
data-parallel strategy (dptrain/distributed) registers itself with
`set_strategy(...)` and then:
  - shard(indices): takes this rank's part of the epoch's sample order (a pure function:
    fit also calls it once on numpy.arange(n) to count the steps per epoch). Every rank
    computes the same permuted order: fit draws one seed from the engine generator
    (`engine.random.generator()`, seeded by `ag.manual_seed`) at its start, passes it
    through `sync_seed` (a DP strategy can broadcast rank 0's), and epoch e uses
    numpy.random.default_rng([seed, e]).permutation(n). Evaluation shards
    numpy.arange(n) the same way with pad=False: each sample counted once, shards may differ
    in length by one (evaluation has no per-batch collective).
  - start(model, optimizer): called once per fit after the optimiser is built (and after
    BackupAndRestore has restored a backup), e.g. to broadcast weights and optimiser
    state from rank 0.
  - reduce_gradients(optimizer): called after backward and before clipping and the update.
    The gradients are in `optimizer.flat_grads(dtype)` (one contiguous buffer per dtype,
    `optimizer.dtypes`), which the strategy all-reduces in place. Returning False skips
    this step's update.
  - reduce_metrics(sums, count): at the end of each epoch (and of evaluate), the
    per-rank sums of per-sample loss/metric values and the sample count; returns the
    global ones. The logs are sums / count.
Under a launcher (WORLD_SIZE > 1, or SLURM's / OpenMPI's variables) an unmodified Keras
program joins the job at its first fit/evaluate: `current_strategy()` calls
`dptrain.distributed.init()` once, and rank 0 says so in one line.
DPTRAIN_AUTO_DISTRIBUTED=0 turns that off (each process then trains alone).
Only the chief (`is_chief`) prints progress and writes ModelCheckpoint, CSVLogger
and BackupAndRestore files.
"""
from __future__ import annotations

import numpy as np


class SingleProcessStrategy:
    rank = 0
    world_size = 1
    is_chief = True

    def shard(self, indices: np.ndarray, pad: bool = True) -> np.ndarray:
        return indices

    def sync_seed(self, seed: int) -> int:
        return seed

    def start(self, model, optimizer) -> None:
        pass

    def reduce_gradients(self, optimizer) -> bool:
        return True

    def reduce_metrics(self, sums: dict, count: float) -> tuple[dict, float]:
        return sums, count


_current = None
_auto_join_checked = False


def set_strategy(strategy):
    """Register the strategy fit/evaluate use (None restores the single-process one); returns the old one."""
    global _current
    old = _current
    _current = strategy
    return old


def current_strategy():
    if _current is None:
        _auto_join()
    return _current if _current is not None else _default


def _auto_join() -> None:
    """Join the launcher's job the first time fit/evaluate runs without `distributed.init()`."""
    global _auto_join_checked
    if _auto_join_checked:
        return
    _auto_join_checked = True
    import os
    from launcher.env import AUTO_DISTRIBUTED, read_worker_env
    w = read_worker_env()
    if w.world_size < 2 or os.environ.get(AUTO_DISTRIBUTED, "1").strip() == "0":
        return
    from ..distributed import init
    ctx = init()
    if ctx.rank == 0:
        print(f"dptrain: fit joins the {ctx.world_size}-process data-parallel job ({w.source}); "
              f"set {AUTO_DISTRIBUTED}=0 to train each process alone", flush=True)


_default = SingleProcessStrategy()
