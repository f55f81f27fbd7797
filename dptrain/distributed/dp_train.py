"""dp_train: data-parallel training in real worker processes, one per replica.

Workers are forked (so `make_model`, `data` and the functions need no
serialisation), join one job over ZeroMQ, take item (it * n_gpu + rank) % len(data)
at iteration `it`, and step a DistributedOptimizer over Adam. Rank 0 hands the
result back through a data-only checkpoint file.
"""
from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import secrets
import shutil
import signal
import socket
import tempfile
import time
import traceback
from dataclasses import dataclass

import numpy as np

from launcher import env as env_names
from launcher.devices import assign_devices, gpu_indices


class WorkerFailed(RuntimeError):
    """A dp_train worker died or raised; the message names its rank."""


@dataclass
class DPResult:
    loss_history: np.ndarray
    model: object
    skipped_steps: list


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _param_dict(model):
    params = model.parameters()
    if not isinstance(params, dict):
        raise TypeError("dp_train: make_model() must return an object whose parameters() is a dict name -> param")
    return params


def _model_state(model):
    if hasattr(model, "state_dict"):
        return model.state_dict()
    return {k: np.array(p.numpy()) for k, p in _param_dict(model).items()}


def _load_model_state(model, state):
    if hasattr(model, "load_state_dict"):
        model.load_state_dict(state)
        return
    from engine import backend
    for k, p in _param_dict(model).items():
        backend.current.copy_into(p.data, backend.current.asarray(state[k]))


def _worker(rank, n, port, token, device, workdir, fn_args, timeout):
    _die_with_parent()
    os.environ.update({
        env_names.RANK: str(rank), env_names.LOCAL_RANK: str(rank), env_names.WORLD_SIZE: str(n),
        env_names.LOCAL_WORLD_SIZE: str(n), env_names.MASTER_ADDR: "127.0.0.1", env_names.MASTER_PORT: str(port),
        env_names.JOB_TOKEN: token, env_names.DEVICE: device,
    })
    code = 0
    try:
        _train(rank, n, workdir, timeout, *fn_args)
    except BaseException:  # noqa: BLE001 - reported to the parent, then a non-zero exit
        with open(os.path.join(workdir, f"rank_{rank}.err"), "w") as f:
            f.write(traceback.format_exc())
        code = 1
    finally:
        from . import context
        try:
            context.shutdown()
        except Exception:  # noqa: BLE001
            pass
    os._exit(code)


def _train(rank, n, workdir, timeout, make_model, data, loss_fn, forward_fn, target_fn, n_iter, lr, max_norm):
    from engine import backward, grad_tape, optim
    from .context import init
    from .optimizer import DistributedOptimizer, broadcast_module

    init(timeout=timeout)
    model = make_model()
    broadcast_module(model, root=0)
    dopt = DistributedOptimizer(optim.Adam(_param_dict(model), lr=lr), max_norm=max_norm)
    losses = np.empty(n_iter, np.float64)
    for it in range(n_iter):
        item = data[(it * n + rank) % len(data)]
        with grad_tape():
            out = forward_fn(model, item)
            loss = loss_fn(out, target_fn(item))
        backward(loss)
        dopt.step(loss=loss.item())
        losses[it] = dopt.last_loss
    dopt.check_weights()
    if rank == 0:
        from engine import save
        save({"loss_history": losses, "state": _model_state(model),
              "skipped": [[s, r] for s, r in dopt.skipped]}, os.path.join(workdir, "result.dpt"))


def _default_forward(model, item):
    return model(item["x"])


def _default_target(item):
    return item["y"]


def _as_items(data, batch_size, custom_fns):
    """`data` as a list of items, checked before any worker starts.

    Accepted: `(x, y)` arrays (cut into mini-batches of `batch_size` samples), a list of
    `(x_batch, y_batch)` pairs, or a list of `{"x": ..., "y": ...}` dicts. With your own
    forward_fn/target_fn, any item they understand is passed through unchanged.
    """
    def is_array(a):
        return isinstance(a, np.ndarray) or hasattr(a, "__array__")

    if isinstance(data, tuple) and len(data) == 2 and all(is_array(a) for a in data):
        x, y = np.asarray(data[0]), np.asarray(data[1])
        if len(x) != len(y):
            raise ValueError(f"dp_train: data=(x, y) has {len(x)} samples in x but {len(y)} in y")
        if len(x) == 0:
            raise ValueError("dp_train: data is empty")
        bs = int(batch_size)
        if bs < 1:
            raise ValueError(f"dp_train: batch_size must be >= 1, got {batch_size}")
        return [{"x": x[i:i + bs], "y": y[i:i + bs]} for i in range(0, len(x), bs)]
    try:
        items = list(data)
    except TypeError:
        raise TypeError(f"dp_train: data must be (x, y) arrays, a list of (x, y) pairs or a list of "
                        f'{{"x": ..., "y": ...}} dicts, not {type(data).__name__}') from None
    if not items:
        raise ValueError("dp_train: data is empty")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, (tuple, list)) and len(item) == 2:
            item = {"x": item[0], "y": item[1]}
        elif not (isinstance(item, dict) and "x" in item and "y" in item) and not custom_fns:
            raise ValueError(f'dp_train: data item {i} is a {type(item).__name__}; expected an (x, y) pair or '
                             f'a {{"x": ..., "y": ...}} dict (or pass forward_fn and target_fn that read it)')
        if isinstance(item, dict) and "x" in item and "y" in item:
            nx, ny = len(np.asarray(item["x"])), len(np.asarray(item["y"]))
            if nx != ny:
                raise ValueError(f"dp_train: data item {i} has {nx} samples in x but {ny} in y")
        out.append(item)
    return out


def dp_train(make_model, data, loss_fn, forward_fn=None, target_fn=None, n_gpu=2, n_iter=100, lr=1e-3,
             max_norm=5.0, timeout=600.0, batch_size=32):
    """Train `make_model()` with `n_gpu` worker processes, one replica each.

    Args:
        make_model: a function returning the model: an `ag` module, or any object with
            `forward(x)` / `__call__` and `parameters()` (a dict name -> param).
        data: `(x, y)` arrays (cut into mini-batches of `batch_size`), a list of
            `(x_batch, y_batch)` pairs, or a list of `{"x": ..., "y": ...}` dicts. At
            iteration `it` rank `r` takes item `(it * n_gpu + r) % len(items)`.
        loss_fn: `loss_fn(output, target)` -> a scalar Tensor, e.g. `ag.softmax_cross_entropy_loss`.
        forward_fn: `forward_fn(model, item)` -> the output; default `model(item["x"])`.
        target_fn: `target_fn(item)` -> the target; default `item["y"]`.
        n_gpu: worker processes. Workers share the node's Vulkan GPUs round-robin (all run on
            the CPU when there is none): one job never mixes backends.
        n_iter: iterations (one item per rank each).
        lr: Adam's learning rate.
        max_norm: the gradient norm is clipped to this after the mean over ranks.
        timeout: bounds the whole run and every wait for a peer (seconds).
        batch_size: samples per item when `data` is `(x, y)` arrays.

    Example:
        ```python
        res = dt.dp_train(lambda: ag.Sequential(ag.Linear(4, 2)), (x, y),
                          ag.softmax_cross_entropy_loss, n_gpu=2, n_iter=50)
        res.loss_history[-1] < res.loss_history[0]
        ```

    Returns a DPResult: `loss_history` (mean loss over replicas per iteration), `model`
    (a fresh make_model() holding the trained weights, identical on every replica) and
    `skipped_steps`. A worker that fails raises WorkerFailed naming its rank; no
    worker outlives the call. `timeout` bounds the whole run and every wait for a peer.
    """
    if int(n_gpu) < 1:
        raise ValueError(f"dp_train: n_gpu must be >= 1, got {n_gpu}")
    if int(n_iter) < 1:
        raise ValueError(f"dp_train: n_iter must be >= 1, got {n_iter}")
    data = _as_items(data, batch_size, forward_fn is not None and target_fn is not None)
    n, n_iter = int(n_gpu), int(n_iter)
    forward_fn = forward_fn or _default_forward
    target_fn = target_fn or _default_target
    workdir = tempfile.mkdtemp(prefix="dptrain-dp-")
    ctx = mp.get_context("fork")
    port, token = _free_port(), secrets.token_hex(16)
    fn_args = (make_model, data, loss_fn, forward_fn, target_fn, n_iter, float(lr), max_norm)
    procs = [ctx.Process(target=_worker, args=(r, n, port, token, dev, workdir, fn_args, timeout), daemon=True)
             for r, dev in enumerate(assign_devices(n, gpu_indices(None)))]
    try:
        for p in procs:
            p.start()
        _wait(procs, workdir, timeout)
        from engine import load
        result = load(os.path.join(workdir, "result.dpt"))
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
        for p in procs:
            p.join(5)
        shutil.rmtree(workdir, ignore_errors=True)
    model = make_model()
    _load_model_state(model, result["state"])
    return DPResult(np.asarray(result["loss_history"]), model, [tuple(s) for s in result["skipped"]])


def _wait(procs, workdir, timeout):
    deadline = time.monotonic() + timeout
    while True:
        codes = [p.exitcode for p in procs]
        failed = [r for r, c in enumerate(codes) if c not in (None, 0)]
        if failed:
            # the first rank that reported an error is the root cause; peers fail after it
            errs = {r: os.path.join(workdir, f"rank_{r}.err") for r in failed}
            reported = [r for r in failed if os.path.exists(errs[r])]
            r = min(reported, key=lambda k: os.path.getmtime(errs[k])) if reported else failed[0]
            detail = open(errs[r]).read().strip().splitlines()[-12:] if r in reported else \
                [f"exit code {codes[r]}" + (f" (signal {-codes[r]})" if codes[r] < 0 else "")]
            raise WorkerFailed(f"dp_train: rank {r} failed:\n" + "\n".join(detail))
        if all(c == 0 for c in codes):
            return
        if time.monotonic() > deadline:
            raise WorkerFailed(f"dp_train: workers did not finish within {timeout} s "
                               f"(still running: ranks {[r for r, c in enumerate(codes) if c is None]})")
        time.sleep(0.02)
