"""Keras 3's overridable steps: `train_step`, `test_step`, `predict_step`, `compute_loss`,
`compute_metrics`, `metrics`, `reset_metrics` and `zero_grad`, and the fit / evaluate / predict
loops that call them ("customizing what happens in fit").

A model whose class overrides one of these runs them, as Keras does, instead of fit's compiled
step (models/step.py, which stays the path of every model that overrides nothing). The loops
feed each step one batch as Keras' torch backend does: `data` is `x`, `(x,)` (x a list),
`(x, y)` or `(x, y, sample_weight)`, the arrays as dptrain Tensors (floats as float32), in the
structure the user passed (a list or dict of inputs stays one). `train_step` runs inside a
gradient tape, so the torch-backend spelling works unchanged:

    self.zero_grad(); y_pred = self(x, training=True)
    loss = self.compute_loss(y=y, y_pred=y_pred); loss.backward()
    gradients = [v.value.grad for v in self.trainable_weights]      # or v.grad
    self.optimizer.apply(gradients, self.trainable_weights)         # or apply_gradients(zip(...))

`loss.backward()` adds into each weight's `.grad`, which (once the optimiser is built) is a view
of the optimiser's flat gradient buffer, so `apply` finds the gradients in place. Under a
data-parallel launcher every `optimizer.apply(grads, vars)` made inside a train_step all-reduces
the gradients first (the seam `dptrain.optimizers._gradient_hook`), as fit's own step does, and
each epoch's metric states (`self.metrics`) are summed over the ranks before they are logged.

Logs are Keras': the step's returned dict, flattened (a dict value such as compile_metrics'
result is merged in) and turned into floats; an epoch logs the metrics' results when the
step's keys are the metrics' names, else the last step's dict.
"""
from __future__ import annotations

import numpy as np

from engine import backend as _backend
from engine import ops
from engine import random as _random
from engine.autograd import grad_tape, no_grad
from engine.tensor import Tensor, as_tensor

from .. import metrics as _metrics
from .. import optimizers as _optimizers
from ..utils import pack_x_y_sample_weight, unpack_x_y_sample_weight
from . import data_adapter as _data
from .callback_list import CallbackList, check_callbacks
from .progress import ProgressBar
from .strategy import current_strategy


# --- nested data: leaves and structure -------------------------------------------------------------------
def _flatten(tree):
    """(leaves, spec) of an array, a list / tuple / dict of them (nested), or None."""
    if tree is None:
        return [], None
    if isinstance(tree, dict):
        leaves, specs = [], []
        for k in tree:
            sub, spec = _flatten(tree[k])
            leaves += sub
            specs.append((k, spec, len(sub)))
        return leaves, ("dict", specs)
    if isinstance(tree, (list, tuple)):
        leaves, specs = [], []
        for v in tree:
            sub, spec = _flatten(v)
            leaves += sub
            specs.append((None, spec, len(sub)))
        return leaves, (type(tree).__name__, specs)
    return [tree], "leaf"


def _unflatten(spec, leaves):
    if spec is None:
        return None
    if spec == "leaf":
        return leaves[0]
    kind, specs = spec
    out, i = [], 0
    for key, sub, n in specs:
        out.append((key, _unflatten(sub, leaves[i:i + n])))
        i += n
    if kind == "dict":
        return dict(out)
    values = [v for _, v in out]
    return tuple(values) if kind == "tuple" else values


def _leaf_array(a, where):
    a = _data._array(a, where)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{where}: must be numeric, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float32) if a.dtype.kind == "f" else np.ascontiguousarray(a)


def _tensor(a):
    return Tensor(_backend.current.asarray(a))


class _Arrays:
    """fit/evaluate/predict's numpy data as leaves, batched by index into Tensors of the same structure."""

    def __init__(self, x, y, sample_weight, where=("x", "y", "sample_weight")):
        if x is None:
            raise ValueError(f"{where[0]}: no input data given")
        self.parts = []
        self.leaves = []
        for tree, label in zip((x, y, sample_weight), where):
            leaves, spec = _flatten(tree)
            self.parts.append((spec, len(leaves)))
            self.leaves += [_leaf_array(a, label) for a in leaves]
        self.n = len(self.leaves[0])
        for a, label in zip(self.leaves, self._labels(where)):
            if len(a) != self.n:
                raise ValueError(f"{label}: has {len(a)} samples, x has {self.n}; every array needs one row "
                                 f"per sample")

    def _labels(self, where):
        return [label for (spec, k), label in zip(self.parts, where) for _ in range(k)]

    def _from(self, leaves):
        out, i = [], 0
        for spec, k in self.parts:
            out.append(_unflatten(spec, leaves[i:i + k]))
            i += k
        return out

    def take(self, idx):
        """(x, y, sample_weight) of the samples `idx` (a slice or an index array), as Tensors."""
        return self._from([_tensor(a[idx]) for a in self.leaves])

    def split(self, fraction):
        """Keras' validation_split: (train, validation), the last `fraction` held out before shuffling."""
        (train,), (val,) = _data.split_validation([self.leaves], fraction)
        a, b = _Arrays.__new__(_Arrays), _Arrays.__new__(_Arrays)
        for part, leaves in ((a, train), (b, val)):
            part.parts, part.leaves, part.n = self.parts, leaves, len(leaves[0])
        return a, b

    @property
    def y(self):
        return self._from(self.leaves)[1]


def _pythonify(logs):
    """Keras' pythonify_logs: sorted, nested dicts merged in, values as floats where they are scalars."""
    out = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            out.update(_pythonify(value))
            continue
        if isinstance(value, Tensor):
            value = value.numpy()
        try:
            value = float(value)
        except (TypeError, ValueError):
            pass
        out[key] = value
    return out


_OWN_TRACKERS = ("_loss_tracker", "_compile_metrics")


def _metric_attributes(obj):
    """Metric objects assigned as attributes (also in lists / tuples), in assignment order."""
    out = []
    for k, v in obj.__dict__.items():
        if k in _OWN_TRACKERS:
            continue
        items = v if isinstance(v, (list, tuple)) else [v]
        out += [m for m in items if isinstance(m, _metrics.Metric)]
    return out


class CompileMetrics(_metrics.Metric):
    """Keras' `compile_metrics`: one metric over everything compile(metrics=..., weighted_metrics=...)
    asked for. `update_state(y, y_pred, sample_weight)` updates each output's metrics; `result()`
    is a dict {log name: value}, which the logs merge in."""

    def __init__(self, model):
        super().__init__(name="compile_metrics")
        object.__setattr__(self, "_model", model)

    def _slots(self):
        return [(h, m, key, weighted) for h in self._model._heads or [] for m, key, weighted in h.metric_slots]

    @property
    def metrics(self):
        return [m for _, m, _, _ in self._slots()]

    def update_state(self, y_true, y_pred, sample_weight=None):
        model = self._model
        heads = model._compile_heads() if model._graph is not None else None
        if not heads:
            return
        names = model._output_feed_names
        preds = model._unpack_outputs(y_pred)
        ys = _data._structure(y_true, names, "compute_metrics y", "output", required=[h.name for h in heads])
        for h in heads:         # 'accuracy' resolves against these targets' shapes (a no-op once bound)
            h.bind(tuple(np.shape(ys[h.index])), model._graph.outputs[h.index].shape)
        slots = self._slots()
        cache = {}
        for h, m, _, weighted in slots:
            if h.index not in cache:
                p = preds[h.index]
                cache[h.index] = (ys[h.index], p.numpy() if isinstance(p, Tensor) else np.asarray(p))
            y, p = cache[h.index]
            m.update_state(y, p, sample_weight if weighted else None)

    def result(self):
        return {key: m.result() for _, m, key, _ in self._slots()}

    def reset_state(self):
        for m in self.metrics:
            m.reset_state()

    def _state(self):
        states = [m._state() for m in self.metrics]
        return np.concatenate(states) if states else np.zeros(0, np.float64)

    def _load_state(self, state, world_size=1):
        state, offset = np.asarray(state, np.float64).ravel(), 0
        for m in self.metrics:
            n = m._state().size
            m._load_state(state[offset:offset + n], world_size)
            offset += n


_STEP_NAMES = ("train_step", "test_step", "predict_step", "compute_loss", "compute_metrics", "metrics",
               "get_metrics_result", "reset_metrics")


class CustomSteps:
    """The overridable step methods of Trainer (see the module docstring)."""

    def _overrides(self, *names):
        cls = type(self)
        return any(getattr(cls, n, None) is not getattr(CustomSteps, n) for n in names)

    def _custom_train(self):
        return self._overrides("train_step", "compute_loss", "compute_metrics", "metrics", "get_metrics_result") \
            or (self._compile_args is not None and self._compile_args[0] is None)

    def _custom_test(self):
        return self._overrides("test_step", "compute_loss", "compute_metrics", "metrics", "get_metrics_result") \
            or (self._compile_args is not None and self._compile_args[0] is None)

    def _custom_predict(self):
        return self._overrides("predict_step")

    # --- what a step calls ----------------------------------------------------------------------------
    def zero_grad(self):
        """Zero the `.grad` of every trainable weight, in place (torch's `Module.zero_grad`, which
        Keras' torch-backend train_step calls before `loss.backward()`)."""
        K = _backend.current
        for v in self.trainable_weights:
            if v.grad is not None:
                K.copy_into(v.grad, K.zeros(v.grad.shape, v.grad.dtype))

    @property
    def metrics(self):
        """Keras' `model.metrics`: the loss tracker ("loss") and compile_metrics once compiled, then
        the Metric objects assigned as attributes of the model (and of its layers), in that order."""
        out = []
        if self.compiled:
            out.append(self._loss_tracker)
            if self._compile_args[1] is not None or self._compile_args[3] is not None:
                out.append(self._compile_metrics)
        seen = {id(m) for m in out}
        from .step import all_layers
        for layer in all_layers(self):
            if layer is not self and isinstance(layer, CustomSteps):
                continue        # a model inside: its own trainer's metrics are not this one's
            for m in _metric_attributes(layer):
                if id(m) not in seen:
                    seen.add(id(m))
                    out.append(m)
        return out

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def _compile_heads(self):
        """compile()'s per-output losses and metrics, resolved against the model's outputs (None when
        compile had no loss)."""
        if self._compile_args is None or self._compile_args[0] is None:
            return None
        if self._heads is None:
            self._require_graph("compute its compiled loss")
            from .heads import build_heads
            self._heads = build_heads(self, *self._compile_args)
        return self._heads

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The total loss of a batch, as Keras': compile's losses (each output's, times its loss weight)
        plus `self.losses` (add_loss values and regularization penalties). A scalar Tensor."""
        terms = []
        heads = self._compile_heads()
        if heads:
            names = self._output_feed_names
            preds = self._unpack_outputs(y_pred)
            ys = _data._structure(y, names, "compute_loss y", "output", required=[h.name for h in heads])
            sw = sample_weight.numpy() if isinstance(sample_weight, Tensor) else sample_weight
            for h in heads:
                if ys[h.index] is None:
                    raise ValueError(f"compute_loss: no target given for output '{h.name}'")
                part = h.loss.batch_loss(_as_float_tensor(preds[h.index]), ys[h.index], sw, False)
                terms.append(part if h.weight == 1.0 else ops.scale(part, h.weight))
        for v in self.losses:
            v = v if isinstance(v, Tensor) else as_tensor(np.asarray(v, np.float32))
            if v.dtype != np.float32:
                v = ops.cast(v, np.float32)
            terms.append(ops.sum(v))
        if not terms:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        total = terms[0]
        for t in terms[1:]:
            total = ops.add(total, t)
        return total

    def _compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """compute_loss, also when an override does not take `training` (as Keras' wrapper)."""
        import inspect
        if "training" in inspect.signature(self.compute_loss).parameters:
            return self.compute_loss(x, y, y_pred, sample_weight, training=training)
        return self.compute_loss(x, y, y_pred, sample_weight)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Update compile's metrics with the batch and return every metric's result (a dict)."""
        if self.compiled and (self._compile_args[1] is not None or self._compile_args[3] is not None):
            self._compile_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def get_metrics_result(self):
        """{name: result} of `self.metrics`; a dict result (compile_metrics) is merged in."""
        out = {}
        for m in self.metrics:
            r = m.result()
            if isinstance(r, dict):
                out.update(r)
            else:
                out[m.name] = r
        return out

    # --- the default steps (what an override's super() call runs) ---------------------------------------
    def train_step(self, data):
        """One training step on a batch, as Keras' torch backend runs it: forward, compute_loss,
        the loss tracker, `loss.backward()`, `optimizer.apply`, compute_metrics. Returns the logs."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=True)
        self.zero_grad()
        loss = self._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
        self._loss_tracker.update_state(loss, sample_weight=_batch_size(x))
        weights = self.trainable_weights
        if weights:
            loss.backward()
            self.optimizer.apply([v.grad for v in weights], weights)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def test_step(self, data):
        """One evaluation step: forward in inference mode, compute_loss, the loss tracker, metrics."""
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss = self._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False)
        self._loss_tracker.update_state(loss, sample_weight=_batch_size(x))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def predict_step(self, data):
        """The model's outputs for a batch, in inference mode."""
        x, _, _ = unpack_x_y_sample_weight(data)
        return self(x, training=False)

    # --- the loops -------------------------------------------------------------------------------------
    def _custom_build(self, x):
        """Build a deferred Sequential / subclassed model from the data when it can (compute_loss and
        summary need its outputs); a model without a graph of its own (a GAN's wrapper) stays as it is."""
        if self._graph is None and x is not None and (getattr(self, "_subclassed", False)
                                                      or hasattr(self, "_build_from_data")):
            self._build_if_needed(x, "fit")
        heads = self._compile_heads() if self._graph is not None else None
        return heads

    def _bind_heads(self, heads, arrays):
        """Resolve 'accuracy' against the targets' shapes (fit's own step does it in prepare_y), so that
        `self.metrics` lists compile's metrics before the first step. Targets that do not fit the
        compiled outputs are the step's business (it may use y its own way): they bind nothing here."""
        if heads and arrays.parts[1][1]:
            try:
                _data.prepare_y(self, heads, arrays.y, arrays.n)
            except (ValueError, TypeError):
                pass

    def _epoch_logs(self, logs, strategy):
        """The epoch's logs: the metrics' (rank-combined) results when the step returned exactly
        those, else the last step's logs."""
        metrics = self.metrics
        if strategy.world_size > 1:
            stateful = [m for m in metrics if hasattr(m, "_state")]
            sums = {f"m{i}": m._state() for i, m in enumerate(stateful)}
            sums, _ = strategy.reduce_metrics(sums, 1.0)
            for i, m in enumerate(stateful):
                m._load_state(sums[f"m{i}"], strategy.world_size)
        result = self.get_metrics_result()
        return _pythonify(result if isinstance(logs, dict) and set(result) == set(logs) else logs)

    def _fit_custom(self, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
                    shuffle, class_weight, sample_weight, initial_epoch, validation_batch_size, validation_freq,
                    steps_per_epoch=None, validation_steps=None):
        from . import batch_source as _sources
        from .training import _begin_fit, _fit_args, _keras_logs, _nonneg_int
        epochs, initial_epoch, verbose, batch_size, val_batch_size = _fit_args(
            epochs, initial_epoch, verbose, batch_size, validation_batch_size, validation_freq)
        if not self.compiled:
            raise ValueError("fit: the model must be compiled first: model.compile(optimizer=...)")
        strategy = current_strategy()
        user_callbacks = check_callbacks(callbacks)
        source = None
        if _sources.is_batch_source(x, y):
            for name, value in (("validation_split", validation_split), ("sample_weight", sample_weight),
                                ("class_weight", class_weight)):
                if value:
                    raise ValueError(f"fit: {name} is not supported when x is a generator or dataset (Keras refuses "
                                     f"it too); put the weights in the batches as (x, y, sample_weight)")
            if strategy.world_size > 1:
                raise NotImplementedError("fit: a generator or dataset under a data-parallel launcher is not "
                                          "supported yet (each rank would need its own shard); pass numpy arrays")
            source = _sources.BatchSource(x, "x", None if steps_per_epoch is None
                                          else _nonneg_int(steps_per_epoch, "steps_per_epoch", "fit"))
            x, y, sample_weight = _sources.split_batch(source.peek(), "x", need_y=False)
        elif steps_per_epoch is not None:
            raise NotImplementedError("fit: steps_per_epoch with numpy arrays is not supported by dptrain yet; "
                                      "every epoch runs over all the data (leave it None, or pass a generator)")
        heads = self._custom_build(x)
        train = _Arrays(x, y, sample_weight)
        self._bind_heads(heads, train)
        if source is not None:
            train = source
        elif class_weight is not None:
            if y is None:
                raise ValueError("fit: class_weight needs targets y")
            ys = [a for a in train.leaves[train.parts[0][1]:train.parts[0][1] + train.parts[1][1]]]
            cw = _data.class_weight_to_sample(class_weight, heads or [_NoHead()], ys)
            k = len(train.leaves) - train.parts[2][1]
            if train.parts[2][1]:
                train.leaves[k] = train.leaves[k] * cw
            else:
                train.leaves.append(cw)
                train.parts[2] = ("leaf", 1)
        val = None
        if validation_data is not None and _sources.is_batch_source(validation_data, None) and not (
                isinstance(validation_data, tuple) and len(validation_data) in (2, 3)
                and not isinstance(validation_data[0], tuple)):
            val = _sources.BatchSource(validation_data, "validation_data", validation_steps)
        elif validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("validation_data: must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val)")
            val = _Arrays(*validation_data, *([None] if len(validation_data) == 2 else []),
                          where=("validation_data x", "validation_data y", "validation_data sample_weight"))
        elif validation_split:
            train, val = train.split(validation_split)
        if source is None:
            n = train.n
            if n == 0:
                raise ValueError("fit: there are 0 training samples; x must hold at least one sample")
            steps = -(-len(strategy.shard(np.arange(n))) // batch_size)
        else:
            n, steps = None, len(source) or None
        self._fit_seed = strategy.sync_seed(int(_random.generator().integers(0, 2 ** 63 - 1)))
        cbs, start = _begin_fit(self, user_callbacks, strategy, verbose, initial_epoch,
                                {"epochs": epochs, "steps": steps, "verbose": verbose, "batch_size": batch_size,
                                 "samples": n})
        hook = _optimizers._gradient_hook
        if strategy.world_size > 1:
            _optimizers._gradient_hook = strategy.reduce_gradients
        want_begin, want_end = cbs.wants("on_train_batch_begin"), cbs.wants("on_train_batch_end")
        epoch_logs = {}
        try:
            for epoch in range(start, epochs):
                self.reset_metrics()
                cbs.call("on_epoch_begin", epoch, None)
                logs, count = {}, 0
                for b, batch in enumerate(self._train_batches(train, source, epoch, shuffle, batch_size, strategy)):
                    if want_begin:
                        cbs.call("on_train_batch_begin", b, None)
                    with grad_tape():
                        logs = self.train_step(pack_x_y_sample_weight(*batch))
                    count += 1
                    if want_end:
                        cbs.call("on_train_batch_end", b, _pythonify(logs))
                    if self.stop_training and strategy.world_size == 1:
                        break
                if source is not None:
                    source.end_epoch()
                    if count == 0:
                        if source.exhausted:
                            break
                        raise ValueError("fit: the data source yielded no batches in this epoch")
                epoch_logs = self._epoch_logs(logs, strategy)
                if val is not None and (epoch + 1) % validation_freq == 0:
                    cbs.call("on_test_begin", None)
                    val_logs = self._evaluate_custom_source(val, cbs) if isinstance(val, _sources.BatchSource) \
                        else self._evaluate_custom_arrays(val, val_batch_size, cbs)
                    cbs.call("on_test_end", val_logs)
                    epoch_logs = _keras_logs({**epoch_logs, **{f"val_{k}": v for k, v in val_logs.items()}})
                cbs.call("on_epoch_end", epoch, epoch_logs)
                if self.stop_training or (source is not None and source.exhausted):
                    break
        finally:
            _optimizers._gradient_hook = hook
        finalize = getattr(self.optimizer, "finalize_variable_values", None)
        if finalize is not None and self.optimizer.built:
            finalize(self.trainable_weights)
        cbs.call("on_train_end", epoch_logs)
        return self.history

    def _train_batches(self, train, source, epoch, shuffle, batch_size, strategy):
        """One epoch of (x, y, sample_weight) Tensor batches: this rank's shuffled shard of the arrays
        (the order fit's own step uses), or the source's batches as they come."""
        if source is not None:
            from . import batch_source as _sources
            for batch in source.epoch():
                yield _Arrays(*_sources.split_batch(batch, "x", need_y=False)).take(slice(None))
            return
        n = train.n
        order = np.random.default_rng([self._fit_seed, epoch]).permutation(n) if shuffle else np.arange(n)
        for idx in _data.batch_indices(strategy.shard(order), batch_size):
            yield train.take(idx)

    def _evaluate_custom_source(self, source, cbs=None):
        from . import batch_source as _sources
        self.reset_metrics()
        logs, count = {}, 0
        for b, batch in enumerate(source.epoch()):
            if cbs is not None:
                cbs.call("on_test_batch_begin", b, None)
            with no_grad():
                logs = self.test_step(pack_x_y_sample_weight(
                    *_Arrays(*_sources.split_batch(batch, source.where, need_y=False)).take(slice(None))))
            count += 1
            if cbs is not None:
                cbs.call("on_test_batch_end", b, _pythonify(logs))
        source.end_epoch()
        if count == 0:
            raise ValueError(f"{source.where}: the data source yielded no batches")
        return self._epoch_logs(logs, current_strategy())

    def _evaluate_custom_arrays(self, arrays, batch_size, cbs=None):
        strategy = current_strategy()
        self.reset_metrics()
        logs = {}
        want_begin = cbs is not None and cbs.wants("on_test_batch_begin")
        want_end = cbs is not None and cbs.wants("on_test_batch_end")
        for b, idx in enumerate(_data.batch_indices(strategy.shard(np.arange(arrays.n), pad=False), batch_size)):
            if want_begin:
                cbs.call("on_test_batch_begin", b, None)
            with no_grad():
                logs = self.test_step(pack_x_y_sample_weight(*arrays.take(idx)))
            if want_end:
                cbs.call("on_test_batch_end", b, _pythonify(logs))
        return self._epoch_logs(logs, strategy)

    def _evaluate_custom(self, x, y, batch_size, verbose, sample_weight, callbacks, return_dict):
        from .training import _returned_logs, _verbose
        if not self.compiled:
            raise ValueError("evaluate: the model must be compiled first: model.compile(optimizer=..., loss=...)")
        verbose = _verbose(verbose, "evaluate")
        batch_size = _data.check_batch_size(32 if batch_size is None else batch_size)
        heads = self._custom_build(x)
        arrays = _Arrays(x, y, sample_weight)
        self._bind_heads(heads, arrays)
        steps = -(-len(current_strategy().shard(np.arange(arrays.n), pad=False)) // batch_size)
        bar = [ProgressBar(verbose)] if verbose and current_strategy().is_chief else []
        cbs = CallbackList(bar + check_callbacks(callbacks), self, {"verbose": verbose, "steps": steps})
        cbs.call("on_test_begin", None)
        logs = self._evaluate_custom_arrays(arrays, batch_size, cbs)
        cbs.call("on_test_end", logs)
        return _returned_logs(logs, return_dict, self._metric_order())

    def _metric_order(self):
        """Keras' order of evaluate's list: the metrics' names (compile_metrics' own, in compile order)."""
        names = []
        for m in self.metrics:
            names += [key for _, _, key, _ in m._slots()] if isinstance(m, CompileMetrics) else [m.name]
        return names

    def _predict_custom(self, x, batch_size, verbose, callbacks):
        from .training import _verbose
        verbose = _verbose(verbose, "predict")
        batch_size = _data.check_batch_size(32 if batch_size is None else batch_size)
        self._custom_build(x)
        arrays = _Arrays(x, None, None)
        bar = [ProgressBar(verbose)] if verbose and current_strategy().is_chief else []
        cbs = CallbackList(bar + check_callbacks(callbacks), self,
                           {"verbose": verbose, "steps": -(-arrays.n // batch_size)})
        cbs.call("on_predict_begin", None)
        pieces, spec = [], None
        for b, idx in enumerate(_data.batch_indices(np.arange(arrays.n), batch_size)):
            cbs.call("on_predict_batch_begin", b, None)
            with no_grad():
                out = self.predict_step(pack_x_y_sample_weight(arrays.take(idx)[0]))
            leaves, spec = _flatten(out)
            pieces.append([v.numpy() if isinstance(v, Tensor) else np.asarray(v) for v in leaves])
            cbs.call("on_predict_batch_end", b, {"outputs": out})
        cbs.call("on_predict_end", None)
        if not pieces:
            return np.empty((0,), np.float32)
        return _unflatten(spec, [np.concatenate([p[k] for p in pieces]) for k in range(len(pieces[0]))])


class _NoHead:
    """class_weight's view of a model without a compiled loss: the labels are read from y as they are."""
    class loss:
        kind = None


def _as_float_tensor(p):
    return p if isinstance(p, Tensor) else as_tensor(np.asarray(p, np.float32))


def _batch_size(x):
    leaves, _ = _flatten(x)
    for a in leaves:
        if a is not None:
            return int(a.shape[0])
    return 0
