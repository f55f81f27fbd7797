"""DistributedOptimizer: average gradients across ranks, clip, step — the one training seam.

Per step, each dtype's flat gradient buffer (see engine.optim) travels as ONE
all-reduce message. The first message carries two extra slots: a non-finite
flag and the local loss, so skipping a poisoned step and averaging the loss cost
no extra round trip. Clipping happens after the average, so the norm is the same
on every rank without a second reduction.
"""
from __future__ import annotations

import zlib

import numpy as np

from engine import backend as _backend

from .context import get_context


class NonFiniteGradientError(FloatingPointError):
    """A gradient with NaN or Inf on some rank (named in the message), with on_nonfinite="raise"."""


class WeightDesyncError(RuntimeError):
    """The replicas' weights differ (a digest mismatch); the message names the ranks and the step."""


def _comm():
    return get_context().communicator


def broadcast_parameters(params, root=0):
    """Overwrite every param (dict name -> tensor, or a list) with rank `root`'s values, in place."""
    comm = _comm()
    items = params.values() if isinstance(params, dict) else params
    if comm.world_size == 1:
        return
    K = _backend.current
    for p in items:
        data = p.data if hasattr(p, "data") else p
        K.copy_into(data, K.asarray(comm.broadcast(np.asarray(K.to_numpy(data)), root=root)))


def broadcast_module(module, root=0):
    """Parameters and buffers (e.g. BatchNorm running statistics) from rank `root`."""
    if _comm().world_size == 1:
        return
    if hasattr(module, "state_dict") and hasattr(module, "load_state_dict"):
        state = module.state_dict()
        comm = _comm()
        synced = {k: comm.broadcast(np.ascontiguousarray(v), root=root) for k, v in state.items()}
        module.load_state_dict(synced)
    else:
        broadcast_parameters(module.parameters(), root=root)


def params_digest(arrays) -> int:
    """A cheap, exact fingerprint of parameter bits (crc32 over the raw bytes)."""
    crc = 0
    for a in arrays:
        crc = zlib.crc32(memoryview(np.ascontiguousarray(a)).cast("B"), crc)
    return crc


class DistributedOptimizer:
    """Wrap an engine optimiser: all-reduce (mean) the gradients, clip, step.

    on_nonfinite: "skip" (every rank skips the step together and the offending
    ranks are recorded in `skipped`) or "raise" (NonFiniteGradientError naming them).
    check_every: compare a digest of the weights across ranks every K steps.
    """

    def __init__(self, optimizer, max_norm=None, on_nonfinite="skip", check_every=100, comm=None):
        if on_nonfinite not in ("skip", "raise"):
            raise ValueError(f"DistributedOptimizer: on_nonfinite must be 'skip' or 'raise', got {on_nonfinite!r}")
        if max_norm is not None and not max_norm > 0:
            raise ValueError(f"DistributedOptimizer: max_norm must be positive, got {max_norm!r}")
        if not hasattr(optimizer, "flat_grads"):
            raise TypeError("DistributedOptimizer: the optimiser must keep flat buffers (an ag.optim optimiser)")
        self.optimizer = optimizer
        self._fixed_comm = comm      # None: the current context's communicator
        self.max_norm = max_norm
        self.on_nonfinite = on_nonfinite
        self.check_every = int(check_every) if check_every else 0
        self.steps = 0
        self.skipped = []            # (step, [ranks]) for every skipped step
        self.last_norm = None        # global gradient norm before clipping
        self.last_loss = None        # mean loss over ranks, when step() was given one
        self._buffers = {}

    @property
    def comm(self):
        return self._fixed_comm if self._fixed_comm is not None else _comm()

    # the optimiser's interface, passed through
    @property
    def lr(self):
        return self.optimizer.lr

    @lr.setter
    def lr(self, value):
        self.optimizer.lr = value

    def zero_grad(self):
        self.optimizer.zero_grad()

    def parameters(self):
        return self.optimizer.parameters()

    def state_dict(self):
        return self.optimizer.state_dict()

    def load_state_dict(self, state):
        self.optimizer.load_state_dict(state)

    def broadcast_state(self, root=0):
        """Params and optimiser state from rank `root`, so a seed difference between ranks cannot matter."""
        comm = self.comm
        if comm.world_size == 1:
            return
        K = _backend.current
        for dt in self.optimizer.dtypes:
            flat = self.optimizer.flat_params(dt)
            K.copy_into(flat, K.asarray(comm.broadcast(np.asarray(K.to_numpy(flat)), root=root)))
        state = self.optimizer.state_dict()
        self.optimizer.load_state_dict(_broadcast_tree(comm, state, root))

    def reduce_gradients(self, grads=None, loss=None):
        """Average gradients across ranks into the flat buffers and clip them.

        Returns False when the step must be skipped (a non-finite gradient on some rank).
        """
        opt = self.optimizer
        opt.collect_grads(grads)
        comm = self.comm
        K = _backend.current
        world = comm.world_size
        reduced_all, amax = [], 0.0
        self.last_loss = None
        for i, dt in enumerate(opt.dtypes):
            flat = opt.flat_grads(dt)
            host = np.asarray(K.to_numpy(flat))
            send = host
            if i == 0 and loss is not None:          # the loss rides along in one extra slot
                send = self._buffer(("send", dt), host.shape[0] + 1, dt)
                send[0] = float(loss)
                send[1:] = host
            reduced = comm.all_reduce(send, op="sum") if world > 1 else send
            if send is not host:
                self.last_loss = float(reduced[0]) / world
                reduced = reduced[1:]
            if reduced.size:  # max / min see a NaN or an infinity anywhere
                hi, lo = float(reduced.max()), float(reduced.min())
                amax = max(amax, max(abs(hi), abs(lo)) if np.isfinite(hi) and np.isfinite(lo) else np.inf)
            reduced_all.append((flat, host, reduced))
        if not np.isfinite(amax):
            bad_local = any(not np.isfinite(h).all() for _, h, _ in reduced_all)
            return self._nonfinite(comm, bad_local, [r.dtype for _, _, r in reduced_all])
        # The norm is amax * sqrt(sum((g / amax)^2)) in float64: no square can overflow, so a
        # finite gradient of any size has a finite norm. numpy's pairwise sum (not BLAS) gives
        # the same bits, hence the same decisions, on every rank.
        total_sq = 0.0
        if amax > 0:
            inv = np.float64(1.0 / amax)
            for _, _, reduced in reduced_all:
                scaled = self._buffer(("sq", reduced.dtype), reduced.shape[0], np.float64)
                np.multiply(reduced, inv, out=scaled)
                np.square(scaled, out=scaled)
                total_sq += float(scaled.sum())
        if world > 1:
            inv = 1.0 / world
            for flat, host, reduced in reduced_all:
                if host is flat:                      # numpy backend: write the mean straight in
                    np.multiply(reduced, flat.dtype.type(inv), out=flat)
                else:
                    K.copy_into(flat, K.asarray(reduced * reduced.dtype.type(inv)))
        norm = amax * float(np.sqrt(total_sq)) / world
        self.last_norm = norm
        if self.max_norm is not None and norm > self.max_norm:
            scale = self.max_norm / (norm + 1e-6)
            for dt in opt.dtypes:
                flat = opt.flat_grads(dt)
                K.copy_into(flat, K.scale(flat, scale))
        return True

    def _buffer(self, key, n, dtype):
        buf = self._buffers.get(key)
        if buf is None or buf.shape[0] != n:
            buf = self._buffers[key] = np.empty(n, dtype)
        return buf

    def _nonfinite(self, comm, bad_local, dtypes):
        flags = comm.all_gather(np.array([1 if bad_local else 0], np.int32)) if comm.world_size > 1 \
            else [np.array([1 if bad_local else 0])]
        ranks = [r for r, f in enumerate(flags) if int(f[0])]
        if ranks:
            what = f"non-finite gradient on rank(s) {ranks}"
        else:  # every rank's own gradients are finite: their sum is not
            names = "/".join(sorted({np.dtype(d).name for d in dtypes}))
            what = (f"gradients are finite on every rank but their sum over the {comm.world_size} "
                    f"rank(s) overflows {names}")
        if self.on_nonfinite == "raise":
            raise NonFiniteGradientError(f"DistributedOptimizer: {what} at step {self.steps}")
        self.skipped.append((self.steps, ranks))
        self.steps += 1
        return False

    def step(self, grads=None, loss=None):
        """Average, clip and apply one update. Returns False when the step was skipped."""
        if not self.reduce_gradients(grads, loss):
            return False
        self.optimizer.step()
        self.steps += 1
        if self.check_every and self.steps % self.check_every == 0:
            self.check_weights()
        return True

    def check_weights(self):
        """Raise WeightDesyncError when any rank's weights differ from rank 0's."""
        comm = self.comm
        if comm.world_size == 1:
            return
        K = _backend.current
        digest = params_digest(np.asarray(K.to_numpy(self.optimizer.flat_params(dt)))
                               for dt in self.optimizer.dtypes)
        digests = comm.all_gather(np.array([digest], np.int64))
        differ = [r for r, d in enumerate(digests) if int(d[0]) != int(digests[0][0])]
        if differ:
            raise WeightDesyncError(f"weights differ from rank 0's on rank(s) {differ} after step {self.steps}")


def _broadcast_tree(comm, obj, root):
    """Broadcast the arrays inside a nested dict/list state from `root` (other leaves are the same everywhere)."""
    if isinstance(obj, dict):
        return {k: _broadcast_tree(comm, v, root) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_broadcast_tree(comm, v, root) for v in obj)
    if isinstance(obj, np.ndarray):
        return comm.broadcast(np.ascontiguousarray(obj), root=root)
    if isinstance(obj, (int, float, np.number)) and not isinstance(obj, bool):
        return type(obj)(comm.broadcast(np.array([obj], np.float64), root=root)[0])
    return obj
