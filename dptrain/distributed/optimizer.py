"""DistributedOptimizer: average gradients across ranks, clip, step — the one training seam.

Per step, each dtype's flat gradient buffer (see engine.optim) travels as ONE
all-reduce message, reduced in place when the communicator can
(`all_reduce_inplace`: no copy of the gradient, the mean straight into the
buffer). A few float64 values ride along with the first message: the local
loss and each rank's compute time since its previous step (from which every
rank learns every rank's wait), so averaging the loss and watching for
stragglers cost no extra round trip on the shared-memory path. Clipping
happens after the average, so the norm is the same on every rank without a
second reduction. With `accumulate_steps=K` or inside `no_sync()`, gradients
are summed locally and only every K-th step (or the first one outside
`no_sync`) communicates: the update then uses the mean over the micro-batches,
as one step on their joint batch would.
"""
from __future__ import annotations

import collections
import contextlib
import time
import warnings
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


class StragglerWarning(UserWarning):
    """Some rank waited longer than `straggler_threshold` for the slowest one (named) in one step."""


class DistributedOptimizer:
    """Wrap an engine optimiser: all-reduce (mean) the gradients, clip, step.

    on_nonfinite: "skip" (every rank skips the step together and the offending
    ranks are recorded in `skipped`) or "raise" (NonFiniteGradientError naming them).
    check_every: compare a digest of the weights across ranks every K steps.
    accumulate_steps: sum the gradients of K consecutive `step()` calls locally and
    communicate and update only on the K-th, with their mean (each call's gradient must
    be its micro-batch's own: `ag.backward`, or `zero_grad()` before `loss.backward()`).
    straggler_threshold: seconds; when a rank waited longer than this for the slowest
    rank in one step, rank 0 warns (StragglerWarning, at most once a minute) naming it.
    None: never. The per-step waits are kept either way (`last_wait`, `wait_total`).
    """

    history = 1000          # steps kept in `wait_log`
    warn_interval_s = 60.0

    def __init__(self, optimizer, max_norm=None, on_nonfinite="skip", check_every=100, comm=None,
                 accumulate_steps=1, straggler_threshold=1.0):
        if on_nonfinite not in ("skip", "raise"):
            raise ValueError(f"DistributedOptimizer: on_nonfinite must be 'skip' or 'raise', got {on_nonfinite!r}")
        if max_norm is not None and not max_norm > 0:
            raise ValueError(f"DistributedOptimizer: max_norm must be positive, got {max_norm!r}")
        if isinstance(accumulate_steps, bool) or not isinstance(accumulate_steps, (int, np.integer)) \
                or accumulate_steps < 1:
            raise ValueError(f"DistributedOptimizer: accumulate_steps must be an integer >= 1, "
                             f"got {accumulate_steps!r}")
        if straggler_threshold is not None and not straggler_threshold >= 0:
            raise ValueError(f"DistributedOptimizer: straggler_threshold must be >= 0 seconds or None, "
                             f"got {straggler_threshold!r}")
        if not hasattr(optimizer, "flat_grads"):
            raise TypeError("DistributedOptimizer: the optimiser must keep flat buffers (an ag.optim optimiser)")
        self.optimizer = optimizer
        self._fixed_comm = comm      # None: the current context's communicator
        self.max_norm = max_norm
        self.on_nonfinite = on_nonfinite
        self.check_every = int(check_every) if check_every else 0
        self.accumulate_steps = int(accumulate_steps)
        self.straggler_threshold = straggler_threshold
        self.steps = 0
        self.skipped = []            # (step, [ranks]) for every skipped step
        self.last_norm = None        # global gradient norm before clipping
        self.last_loss = None        # mean loss over ranks (and micro-batches), when step() was given one
        self.last_wait = None        # per rank: seconds it waited for the slowest rank in the last step
        self.wait_total = None       # per rank: the same, summed over all steps
        self.slowest = None          # the rank that arrived last in the last step
        self.wait_log = collections.deque(maxlen=self.history)   # last_wait of recent steps
        self.last_comm_s = None      # this rank's time inside the last step's collectives
        self._buffers = {}
        self._acc = {}               # dtype -> local gradient sum of the pending micro-batches
        self._pending = 0            # micro-batches summed in _acc
        self._loss_sum, self._loss_n = 0.0, 0
        self._no_sync = 0
        self._t_end = None           # when this rank's previous step left its collective
        self._warned_at = -np.inf

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

    # ------------------------------------------------------------ accumulation
    @contextlib.contextmanager
    def no_sync(self):
        """Inside, `step()` / `reduce_gradients()` only add the gradients to a local sum (no
        communication, no update, they return None); the first step after it averages the
        whole sum across ranks and updates, as torch DDP's no_sync does."""
        self._no_sync += 1
        try:
            yield self
        finally:
            self._no_sync -= 1

    @property
    def pending_micro_steps(self):
        """Micro-batches whose gradients are summed locally, waiting for the next update."""
        return self._pending

    def _accumulate(self, hosts, loss):
        for dt, host in hosts:
            acc = self._acc.get(dt)
            if acc is None or acc.shape != host.shape:
                acc = self._acc[dt] = np.empty_like(host)
            if self._pending == 0:
                np.copyto(acc, host)
            else:
                np.add(acc, host, out=acc)
        self._pending += 1
        if loss is not None:
            self._loss_sum += float(loss)
            self._loss_n += 1

    def _fold_accumulated(self, hosts, loss):
        """hosts += the pending local sum, divided by the number of micro-batches; the loss likewise."""
        if loss is not None:
            self._loss_sum += float(loss)
            self._loss_n += 1
        loss = self._loss_sum / self._loss_n if self._loss_n else None
        count = self._pending + 1
        if count > 1:
            for dt, host in hosts:
                np.add(self._acc[dt], host, out=host)
                np.multiply(host, host.dtype.type(1.0 / count), out=host)
        self._pending, self._loss_sum, self._loss_n = 0, 0.0, 0
        return loss

    # ------------------------------------------------------------ the reduction
    def reduce_gradients(self, grads=None, loss=None):
        """Average gradients across ranks into the flat buffers and clip them.

        Returns True when the update may go ahead, False when the step must be skipped (a
        non-finite gradient on some rank), None when the gradients were only accumulated
        locally (inside `no_sync()`, or before the `accumulate_steps`-th micro-batch).
        """
        opt = self.optimizer
        opt.collect_grads(grads)
        arrived = time.perf_counter()
        K = _backend.current
        flats = [(dt, opt.flat_grads(dt)) for dt in opt.dtypes]
        hosts = [(dt, np.asarray(K.to_numpy(flat))) for dt, flat in flats]
        if self._no_sync or self._pending + 1 < self.accumulate_steps:
            self._accumulate(hosts, loss)   # on the host (a copy, for device buffers)
            return None
        loss = self._fold_accumulated(hosts, loss)
        comm = self.comm
        world = comm.world_size
        compute_s = arrived - self._t_end if self._t_end is not None else 0.0
        self.last_loss = None
        if world == 1:
            self._bad_local = True          # (asked only when the "mean" is not finite)
            reduced = [h for _, h in hosts]
            self.last_loss = loss
            times = np.zeros(1)
        elif hasattr(comm, "all_reduce_inplace"):     # hosts are contiguous and writeable on every backend
            reduced, times = self._reduce_inplace(comm, hosts, loss, compute_s)
        else:
            reduced, times = self._reduce_packed(comm, hosts, loss), None
        self._t_end = time.perf_counter()
        self.last_comm_s = self._t_end - arrived
        if times is not None:
            self._record_waits(times)
        for (_, flat), (_, host), red in zip(flats, hosts, reduced):
            if red is not flat:
                K.copy_into(flat, K.asarray(red))
        finite, norm = self._norm(reduced)
        if not finite:
            return self._nonfinite(comm, self._bad_local, [r.dtype for r in reduced])
        self.last_norm = norm
        if self.max_norm is not None and norm > self.max_norm:
            scale = self.max_norm / (norm + 1e-6)
            for _, flat in flats:
                K.copy_into(flat, K.scale(flat, scale))
        return True

    def _reduce_inplace(self, comm, hosts, loss, compute_s):
        """The mean straight into each buffer; every rank's loss and compute time ride along."""
        world = comm.world_size
        extra = np.array([0.0 if loss is None else float(loss), loss is not None, compute_s])
        self._bad_local = _any_nonfinite([h for _, h in hosts])
        got = None
        for i, (_, host) in enumerate(hosts):
            if i == 0:
                _, got = comm.all_reduce_inplace(host, op="mean", extra=extra)
            else:
                comm.all_reduce_inplace(host, op="mean")
        if got[:, 1].all():
            total = 0.0
            for v in got[:, 0]:       # in rank order: the same bits everywhere
                total += float(v)
            self.last_loss = total / world
        return [h for _, h in hosts], got[:, 2]

    def _reduce_packed(self, comm, hosts, loss):
        """Any Communicator: the sum as a new array (the loss in one extra slot), then the mean."""
        world = comm.world_size
        reduced_all = []
        self._bad_local = _any_nonfinite([h for _, h in hosts])
        for i, (dt, host) in enumerate(hosts):
            send = host
            if i == 0 and loss is not None:          # the loss rides along in one extra slot
                send = self._buffer(("send", dt), host.shape[0] + 1, dt)
                send[0] = float(loss)
                send[1:] = host
            reduced = comm.all_reduce(send, op="sum")
            if send is not host:
                self.last_loss = float(reduced[0]) / world
                reduced = reduced[1:]
            np.multiply(reduced, host.dtype.type(1.0 / world), out=host)
            reduced_all.append(host)
        return reduced_all

    def _norm(self, arrays):
        """(all finite, the global L2 norm) of the mean gradient, the same bits on every rank.

        Fast path: the sum of squares in the gradient's dtype, which is finite and not tiny for
        ordinary gradients (and then proves every value finite). Otherwise the careful path:
        amax * sqrt(sum((g / amax)^2)) in float64, where no square overflows or underflows.
        numpy's pairwise sums (not BLAS) give the same bits, hence decisions, on every rank."""
        total = 0.0
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            for a in arrays:
                if not a.size:
                    continue
                sq = self._buffer(("sq", a.dtype), a.shape[0], a.dtype)
                np.multiply(a, a, out=sq)
                s = float(sq.sum())
                if not (np.isfinite(s) and s > _tiny_square_sum(a.dtype)):
                    return self._careful_norm(arrays)
                total += s
        return True, float(np.sqrt(total))

    def _careful_norm(self, arrays):
        amax = 0.0
        for a in arrays:
            if a.size:  # max / min see a NaN or an infinity anywhere
                hi, lo = float(a.max()), float(a.min())
                amax = max(amax, max(abs(hi), abs(lo)) if np.isfinite(hi) and np.isfinite(lo) else np.inf)
        if not np.isfinite(amax):
            return False, None
        total_sq = 0.0
        if amax > 0:
            inv = np.float64(1.0 / amax)
            for a in arrays:
                scaled = self._buffer(("sq64", a.dtype), a.shape[0], np.float64)
                np.multiply(a, inv, out=scaled)
                np.square(scaled, out=scaled)
                total_sq += float(scaled.sum())
        return True, amax * float(np.sqrt(total_sq))

    # ------------------------------------------------------------ stragglers
    def _record_waits(self, compute):
        """Every rank's compute time since its previous step -> how long each waited for the last."""
        compute = np.asarray(compute, np.float64)
        if not np.any(compute):       # the first step: no previous step to measure from
            return
        wait = compute.max() - compute
        self.last_wait = wait
        self.slowest = int(np.argmax(compute))
        self.wait_total = wait.copy() if self.wait_total is None else self.wait_total + wait
        self.wait_log.append(wait)
        if self.straggler_threshold is None or self.comm.rank != 0:
            return
        worst = float(wait.max())
        now = time.monotonic()
        if worst > self.straggler_threshold and now - self._warned_at >= self.warn_interval_s:
            self._warned_at = now
            waiter = int(np.argmax(wait))
            warnings.warn(StragglerWarning(
                f"DistributedOptimizer: rank {self.slowest} is the slowest: rank {waiter} waited "
                f"{worst:.3f} s for it at step {self.steps} (threshold {self.straggler_threshold:g} s; "
                f"compute times per rank: {', '.join(f'{c:.3f}' for c in compute)} s)"), stacklevel=4)

    def straggler_report(self):
        """One line: each rank's total wait so far, and the rank that was slowest last."""
        if self.wait_total is None:
            return "no waits recorded yet"
        return (f"wait per rank (s, total over {len(self.wait_log)} recent steps' log): " +
                ", ".join(f"rank {r}: {w:.3f}" for r, w in enumerate(self.wait_total)) +
                f"; slowest last step: rank {self.slowest}")

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
        """Average, clip and apply one update. Returns True when it was applied, False when the
        step was skipped (non-finite gradients), None when the gradients were only accumulated."""
        ok = self.reduce_gradients(grads, loss)
        if not ok:
            return ok
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


def _any_nonfinite(arrays):
    """Whether any value is a NaN or an infinity (a dot product first: one fast pass, and only
    when it overflows or is NaN the exact elementwise check)."""
    for a in arrays:
        if a.size:
            with np.errstate(over="ignore", invalid="ignore"):
                d = float(np.dot(a, a))
            if not np.isfinite(d) and not np.isfinite(a).all():
                return True
    return False


def _tiny_square_sum(dtype):
    """Below this, a sum of squares may have lost its small terms to underflow."""
    return float(np.finfo(dtype).tiny) ** 0.5 * 0.1


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
