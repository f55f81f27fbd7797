"""Keras `fit` across workers: the data-parallel strategy behind dptrain/models/strategy.py.

`init()` registers it when the world has more than one rank. Every rank computes
the same permutation (rank 0's seed is broadcast) and takes an equal-sized,
disjoint shard of it, padded by wrapping around so that every rank runs the same
number of steps (a rank with one batch more would wait forever in the all-reduce).
"""
from __future__ import annotations

import numpy as np

from .optimizer import DistributedOptimizer, broadcast_parameters


class DataParallelStrategy:
    def __init__(self, context):
        self.context = context
        self.rank = context.rank
        self.world_size = context.world_size
        self.is_chief = context.rank == 0
        self._dopt = {}

    @property
    def comm(self):
        return self.context.communicator

    def shard(self, indices, pad=True):
        """This rank's part: every world_size-th index. Training pads by wrapping so every rank runs
        the same number of steps; evaluation (pad=False) counts each sample exactly once."""
        n, w = len(indices), self.world_size
        per_rank = -(-n // w)
        if pad and per_rank * w != n:
            indices = np.concatenate([indices, indices[:per_rank * w - n]])
        return indices[self.rank::w]

    def sync_seed(self, seed):
        return int(self.comm.broadcast(np.array([seed], np.int64), root=0)[0])

    def _distributed(self, optimizer):
        engine_opt = getattr(optimizer, "engine", optimizer)
        d = self._dopt.get(id(engine_opt))
        if d is None or d.optimizer is not engine_opt:
            d = self._dopt[id(engine_opt)] = DistributedOptimizer(engine_opt, max_norm=None, on_nonfinite="skip",
                                                                  check_every=0, comm=self.comm)
        return d

    def start(self, model, optimizer):
        """Rank 0's weights (trainable and not, e.g. BatchNorm moving statistics) and optimiser state."""
        weights = model.get_weights()
        model.set_weights([self.comm.broadcast(np.ascontiguousarray(w), root=0) for w in weights])
        engine_opt = getattr(optimizer, "engine", None)
        if engine_opt is not None and hasattr(engine_opt, "flat_grads"):
            self._distributed(optimizer).broadcast_state()
        else:
            broadcast_parameters(getattr(model, "trainable_weights", []))

    def reduce_gradients(self, optimizer):
        return self._distributed(optimizer).reduce_gradients()

    def reduce_metrics(self, sums, count):
        """Global sums and count; also, at each epoch's end, checks that the weights agree on every rank."""
        keys = list(sums)   # the same insertion order on every rank
        # a value is a float (a loss sum) or an array (a metric's state: counts, totals, histograms)
        parts = [np.asarray(sums[k], np.float64).ravel() for k in keys]
        vec = np.concatenate([np.array([float(count)])] + parts)
        total = self.comm.all_reduce(vec, op="sum")
        for d in self._dopt.values():
            d.check_weights()
        out, i = {}, 1
        for k, p in zip(keys, parts):
            seg = total[i:i + p.size]
            i += p.size
            out[k] = float(seg[0]) if np.ndim(sums[k]) == 0 else seg.reshape(np.shape(sums[k]))
        return out, float(total[0])
