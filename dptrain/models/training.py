"""compile / fit / evaluate / predict (and save, summary) for Model and Sequential.

fit validates and converts all data once, compiles the train step once per
(compile, optimiser) pair, and then runs a plain loop over pre-sliced batches.
Every rank-dependent decision goes through the registered strategy (strategy.py).
Shuffling: fit draws one seed from the engine generator at its start
(reproducible under `ag.manual_seed`); epoch e uses default_rng([seed, e]).
"""
from __future__ import annotations

import numpy as np

from engine import random as _random

from .. import optimizers as _optimizers
from . import batch_source as _sources
from . import data_adapter as _data
from .callback_list import CallbackList, check_callbacks
from .custom_step import CompileMetrics, CustomSteps, pack_x_y_sample_weight, _pythonify
from .heads import build_heads
from .progress import ProgressBar
from .step import EvalStep, TrainStep, all_layers, predict_batches
from ..suggest import check_keywords
from .strategy import current_strategy


def _nonneg_int(v, name, where):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
        raise ValueError(f"{where}: {name} must be an integer >= 0, got {v!r}")
    return int(v)


def _verbose(v, where):
    if v == "auto":
        return 1
    if v not in (0, 1, 2) or isinstance(v, bool):
        raise ValueError(f"{where}: verbose must be 0 (silent), 1 (progress bar) or 2 (one line per epoch), got {v!r}")
    return int(v)


def _first_array(x):
    if isinstance(x, dict):
        x = next(iter(x.values()))
    elif isinstance(x, (list, tuple)):
        x = x[0]
    return np.asarray(x)


def _keras_logs(logs):
    """Keras 3 orders logs by name ("accuracy", "loss", "val_accuracy", "val_loss")."""
    return dict(sorted(logs.items()))


def _returned_logs(logs, return_dict, order=("loss",)):
    """What evaluate / train_on_batch return: the dict, or the values in Keras' order (`order`,
    then the other keys sorted by name); a lone value as a float."""
    if return_dict:
        return logs
    first = [k for k in order if k in logs]
    values = [logs[k] for k in first] + [logs[k] for k in sorted(logs) if k not in first]
    return values[0] if len(values) == 1 else values


def _fit_args(epochs, initial_epoch, verbose, batch_size, validation_batch_size, validation_freq):
    """fit's counting arguments checked, with Keras' defaults: (epochs, initial_epoch, verbose,
    batch_size, validation batch size)."""
    epochs = _nonneg_int(epochs, "epochs", "fit")
    initial_epoch = _nonneg_int(initial_epoch, "initial_epoch", "fit")
    verbose = _verbose(verbose, "fit")
    batch_size = _data.check_batch_size(32 if batch_size is None else batch_size)
    val_batch_size = batch_size if validation_batch_size is None else _data.check_batch_size(validation_batch_size)
    if isinstance(validation_freq, bool) or not isinstance(validation_freq, (int, np.integer)) or validation_freq < 1:
        raise ValueError(f"fit: validation_freq must be a positive integer, got {validation_freq!r}")
    return epochs, initial_epoch, verbose, batch_size, val_batch_size


def _begin_fit(model, user_callbacks, strategy, verbose, initial_epoch, params):
    """The start every fit loop shares: a fresh History, the progress bar (on the chief, unless the
    user gave one), on_train_begin (BackupAndRestore may set _resume_epoch there), the strategy
    started. Returns (the callback list, the first epoch)."""
    from ..history import History     # here: history.py imports this package's callback_list
    model.history = History()
    bar = [ProgressBar(verbose)] if verbose and strategy.is_chief and \
        not any(isinstance(cb, ProgressBar) for cb in user_callbacks) else []
    cbs = CallbackList(bar + user_callbacks + [model.history], model, params)
    model._resume_epoch = None
    model.stop_training = False
    cbs.call("on_train_begin", None)
    start = initial_epoch if model._resume_epoch is None else max(initial_epoch, model._resume_epoch)
    strategy.start(model, model.optimizer)
    return cbs, start


class Trainer(CustomSteps):
    def _log_order(self):
        """Keras 3's order of evaluate's list (Trainer._flatten_metrics_in_order): the loss, a lone
        output's compile metrics in compile order, each output's loss in the order of compile's
        loss dict (or of the outputs); the prefixed metrics of several outputs come after, sorted."""
        order = ["loss"]
        for h in self._heads or []:
            if not h._prefix:
                order += h.metric_keys
        return order + self._per_output_loss_keys()

    def _per_output_loss_keys(self):
        """Each output's "<output>_loss" log key, in Keras' order (see heads.build_heads)."""
        prefixed = [h for h in self._heads or [] if h._prefix]
        return [h.loss_key for h in sorted(prefixed, key=lambda h: h.loss_rank)]

    @property
    def metrics_names(self):
        """Keras 3's names of the model's metric trackers: [] before compile, then "loss",
        "compile_metrics" (when compile was given metrics: one tracker for all of them) and, once
        the model has trained or evaluated, for several outputs with a loss each one's
        "<output>_loss" in the loss dict's order."""
        if not self.compiled:
            return []
        if self._overrides("metrics"):      # the model lists its own trackers
            return [m.name for m in self.metrics]
        _, metrics, _, weighted = self._compile_args
        names = ["loss"] + (["compile_metrics"] if metrics is not None or weighted is not None else [])
        per_output = self._per_output_loss_keys()
        if len(per_output) > 1 and self._steps_cache:
            names += per_output
        return names

    def __init__(self):
        self.optimizer = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._compile_args = None
        self._heads = None
        self._steps_cache = {}
        self._fit_seed = None
        self._resume_epoch = None
        self._loss_tracker = None       # Keras' "loss" Mean and compile_metrics (custom steps log them)
        self._compile_metrics = None

    # --- compile ------------------------------------------------------------------
    @check_keywords
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
                run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss_optimizer=True):
        """Configure training, with Keras 3's arguments in Keras 3's order.

        Args:
            optimizer: a name ("adam", "sgd", "rmsprop", "adamw") or a `dt.optimizers` object.
            loss: a name, a `dt.losses` object, a callable `(y_true, y_pred)`, or a list / dict
                with one per output.
            loss_weights: one weight per output (list or dict keyed by output name).
            metrics: names ("accuracy", "mae", ...) or metric objects; a list / dict per output.
            weighted_metrics: metrics weighted by `sample_weight` / `class_weight` (a list, or a
                list / dict per output), logged as Keras does.
            run_eagerly: accepted for compatibility (dptrain always runs eagerly).
            steps_per_execution: accepted; dptrain runs one step at a time, same results.
            jit_compile: accepted for compatibility (nothing is compiled).
            auto_scale_loss_optimizer: accepted; dptrain trains in float32.

        Example:
            ```python
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            ```
        """
        if isinstance(steps_per_execution, bool) or not isinstance(steps_per_execution, (int, np.integer)) \
                or steps_per_execution < 1:
            raise ValueError(f"compile: steps_per_execution must be a positive integer, got {steps_per_execution!r}")
        opt = _optimizers.get(optimizer)
        if loss is None and not self._overrides("train_step", "compute_loss"):
            raise ValueError("compile: loss is required (e.g. 'categorical_crossentropy', 'mse' or a callable); "
                             "only a model whose train_step or compute_loss is overridden trains without one")
        self._compile_args = (loss, metrics, loss_weights, weighted_metrics)
        self._heads = None
        self._steps_cache = {}
        from ..metrics import Mean
        self._loss_tracker = Mean(name="loss")
        self._compile_metrics = CompileMetrics(self)
        if loss is None:
            pass        # a custom train_step computes its own loss
        elif self._graph is not None:
            self._heads = build_heads(self, *self._compile_args)
        else:   # names are still checked now, against any output
            self._dry_check(loss, metrics)
            if weighted_metrics is not None:
                self._dry_check(None, weighted_metrics)
        self.optimizer = opt
        self.compiled = True

    @staticmethod
    def _dry_check(loss, metrics):
        from .. import losses as _losses
        from .. import metrics as _metrics
        for v in (loss.values() if isinstance(loss, dict) else loss if isinstance(loss, (list, tuple)) else [loss]):
            if v is not None:
                _losses.get(v)
        for v in (metrics.values() if isinstance(metrics, dict) else metrics or []):
            for m in (v if isinstance(v, (list, tuple)) else [v]):
                _metrics.get(m)

    def _graph_changed(self):
        self._steps_cache = {}
        self._heads = None

    def _ready(self, x, what):
        """The graph (building a deferred Sequential from `x`) and the heads."""
        if not self.compiled:
            raise ValueError(f"{what}: the model must be compiled first: model.compile(optimizer=..., loss=..., metrics=[...])")
        self._build_if_needed(x, what)
        if self._heads is None:
            self._heads = build_heads(self, *self._compile_args)
        return self._heads

    def _build_if_needed(self, x, what):
        if self._graph is None and getattr(self, "_subclassed", False) and x is not None:
            self._set_eager_graph(x)
        if self._graph is None and hasattr(self, "_build_from_data") and x is not None:
            self._build_from_data([_first_array(x)])
        self._require_graph(what)

    # --- steps -------------------------------------------------------------------
    def _train_step(self, heads, strategy):
        params = self.trainable_weights
        opt = self.optimizer
        if not opt.built_for(params):
            opt.build(params)
        key = ("train", id(opt.engine), id(strategy))
        step = self._steps_cache.get(key)
        if step is None or step.heads is not heads:
            step = self._steps_cache[key] = TrainStep(self, heads, opt, strategy)
        return step

    def _eval_step(self, heads):
        step = self._steps_cache.get("eval")
        if step is None or step.heads is not heads:
            step = self._steps_cache["eval"] = EvalStep(self, heads)
        return step

    def _prepare(self, x, y, sample_weight, class_weight, heads, where_x="x", where_y="y", where_sw="sample_weight"):
        xs = _data.prepare_x(self, x, where_x)
        n = len(xs[0])
        ys = _data.prepare_y(self, heads, y, n, where_y)
        sw = _data.prepare_sample_weight(sample_weight, n, where_sw)
        if class_weight is not None:
            cw = _data.class_weight_to_sample(class_weight, heads, ys)
            sw = cw if sw is None else sw * cw
        return xs, ys, sw

    def _prepare_validation(self, validation_data, heads):
        where = "validation_data"
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(f"{where}: must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val)")
        vx, vy = validation_data[0], validation_data[1]
        vsw = validation_data[2] if len(validation_data) == 3 else None
        return self._prepare(vx, vy, vsw, None, heads, f"{where} x", f"{where} y", f"{where} sample_weight")

    # --- fit -----------------------------------------------------------------------
    @check_keywords
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
        """Train the model; Keras 3's arguments, in Keras 3's order.

        Args:
            x: a numpy array (or a list / dict of arrays for several inputs).
            y: targets: an array, or a list / dict per output.
            batch_size: samples per gradient step (default 32). Under a launcher, per worker.
            epochs: passes over the data.
            initial_epoch: the epoch counting starts at (to resume a run).
            verbose: "auto" or 1 (a progress bar), 2 (one line per epoch) or 0 (silent).
            callbacks: `dt.callbacks` objects (EarlyStopping, ModelCheckpoint, ...).
            validation_split: the fraction of the (unshuffled) data, taken from the end,
                held out for validation.
            validation_data: `(x_val, y_val)` or `(x_val, y_val, sample_weight_val)`.
            validation_batch_size: batch size for validation (default: batch_size).
            validation_freq: validate after every `validation_freq`-th epoch.
            shuffle: reshuffle the samples each epoch (reproducible under `ag.manual_seed`).
            class_weight: a dict class -> weight of that class's samples in the loss.
            sample_weight: one weight per sample in the loss.
            steps_per_epoch: not supported for arrays yet (NotImplementedError).
            validation_steps: not supported for arrays yet (NotImplementedError).

        Returns:
            A `History`: `history.history` maps "loss", each metric and "val_*" to per-epoch lists.

        Example:
            ```python
            history = model.fit(x_train, y_train, batch_size=32, epochs=10, validation_split=0.1)
            ```
        """
        if self.compiled and self._custom_train():     # the model's own train_step (custom_step.py)
            return self._fit_custom(x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
                                    shuffle, class_weight, sample_weight, initial_epoch, validation_batch_size,
                                    validation_freq, steps_per_epoch, validation_steps)
        if _sources.is_batch_source(x, y):
            return self._fit_source(x, epochs, verbose, callbacks, validation_data, class_weight, initial_epoch,
                                    steps_per_epoch, validation_steps, validation_freq, validation_split,
                                    sample_weight)
        for name, value in (("steps_per_epoch", steps_per_epoch), ("validation_steps", validation_steps)):
            if value is not None:
                raise NotImplementedError(f"fit: {name} with numpy arrays is not supported by dptrain yet; every "
                                          f"epoch runs over all the data (leave {name}=None, or pass a generator)")
        heads = self._ready(x, "fit")
        epochs, initial_epoch, verbose, batch_size, val_batch_size = _fit_args(
            epochs, initial_epoch, verbose, batch_size, validation_batch_size, validation_freq)
        strategy = current_strategy()
        user_callbacks = check_callbacks(callbacks)

        xs, ys, sw = self._prepare(x, y, sample_weight, class_weight, heads)
        val = None
        if validation_data is not None:
            val = self._prepare_validation(validation_data, heads)
            for h, a in zip(heads, ys):       # targets decide 'accuracy'; the training ones win
                h.bind(a.shape, self._graph.outputs[h.index].shape)
        elif validation_split:
            (xs, ys, sw_list), (vx, vy, vsw_list) = _data.split_validation(
                [xs, ys, None if sw is None else [sw]], validation_split)
            sw = None if sw_list is None else sw_list[0]
            val = (vx, vy, None if vsw_list is None else vsw_list[0])
        custom_val = None       # a test_step (or compute_loss / metrics) of the model's own validates
        if val is not None and self._custom_test():
            from .custom_step import _Arrays
            custom_val = _Arrays(*validation_data, *([None] if len(validation_data) == 2 else [])) \
                if validation_data is not None else _Arrays(x, y, sample_weight).split(validation_split)[1]
        n = len(xs[0])
        if n == 0:
            split = f" after validation_split={validation_split}" if validation_split else ""
            raise ValueError(f"fit: there are 0 training samples{split}; x must hold at least one sample "
                             f"(Keras raises here too)")

        step = self._train_step(heads, strategy)
        steps_per_epoch = -(-len(strategy.shard(np.arange(n))) // batch_size)
        self._fit_seed = strategy.sync_seed(int(_random.generator().integers(0, 2 ** 63 - 1)))
        cbs, start = _begin_fit(self, user_callbacks, strategy, verbose, initial_epoch,
                                {"epochs": epochs, "steps": steps_per_epoch, "verbose": verbose,
                                 "batch_size": batch_size, "samples": n})

        batches = _data.Batches(xs + ys + ([sw] if sw is not None else []), batch_size)
        for epoch in range(start, epochs):
            cbs.call("on_epoch_begin", epoch, None)
            order = np.random.default_rng([self._fit_seed, epoch]).permutation(n) if shuffle else np.arange(n)
            logs = self._train_epoch(step, batches, strategy.shard(order), batch_size, len(xs), len(ys),
                                     sw is not None, cbs, strategy)
            if val is not None and (epoch + 1) % validation_freq == 0:
                cbs.call("on_test_begin", None)
                val_logs = self._evaluate_arrays(*val, val_batch_size, heads, cbs) if custom_val is None \
                    else self._evaluate_custom_arrays(custom_val, val_batch_size, cbs)
                cbs.call("on_test_end", val_logs)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
                logs = _keras_logs(logs)
            cbs.call("on_epoch_end", epoch, logs)
            if self.stop_training:
                break
        finalize = getattr(self.optimizer, "finalize_variable_values", None)
        if finalize is not None:        # with use_ema the weights become their moving average, as in Keras
            finalize(self.trainable_weights)
        cbs.call("on_train_end", None)
        return self.history

    def _fit_source(self, source, epochs, verbose, callbacks, validation_data, class_weight, initial_epoch,
                    steps_per_epoch, validation_steps, validation_freq, validation_split, sample_weight):
        """fit on a list of batches, a generator, a PyDataset or any iterable of (x, y[, sw]) batches."""
        for name, value in (("validation_split", validation_split), ("sample_weight", sample_weight)):
            if value:
                raise ValueError(f"fit: {name} is not supported when x is a generator or dataset (Keras refuses "
                                 f"it too); put the weights in the batches as (x, y, sample_weight)")
        epochs = _nonneg_int(epochs, "epochs", "fit")
        initial_epoch = _nonneg_int(initial_epoch, "initial_epoch", "fit")
        verbose = _verbose(verbose, "fit")
        for name, value in (("steps_per_epoch", steps_per_epoch), ("validation_steps", validation_steps)):
            if value is not None:
                _nonneg_int(value, name, "fit")
        strategy = current_strategy()
        if strategy.world_size > 1:
            raise NotImplementedError("fit: a generator or dataset under a data-parallel launcher is not supported "
                                      "yet (each rank would need its own shard); pass numpy arrays")
        user_callbacks = check_callbacks(callbacks)
        train = _sources.BatchSource(source, "x", steps_per_epoch)
        bx, by, _ = _sources.split_batch(train.peek(), "x")
        heads = self._ready(bx, "fit")
        self._prepare(bx, by, None, None, heads)          # checks the first batch (and binds the heads)
        val = None
        if validation_data is not None:
            if _sources.is_batch_source(validation_data, None) and not (
                    isinstance(validation_data, tuple) and len(validation_data) in (2, 3)
                    and not isinstance(validation_data[0], tuple)):
                val = _sources.BatchSource(validation_data, "validation_data", validation_steps)
            else:
                val = self._prepare_validation(validation_data, heads)
        step = self._train_step(heads, strategy)
        cbs, start = _begin_fit(self, user_callbacks, strategy, verbose, initial_epoch,
                                {"epochs": epochs, "steps": len(train) or None, "verbose": verbose})
        want_begin, want_end = cbs.wants("on_train_batch_begin"), cbs.wants("on_train_batch_end")
        for epoch in range(start, epochs):
            cbs.call("on_epoch_begin", epoch, None)
            sums, count = step.new_sums(), 0
            for b, batch in enumerate(train.epoch()):
                if want_begin:
                    cbs.call("on_train_batch_begin", b, None)
                xs, ys, sw = self._prepare(*_sources.split_batch(batch, "x"), class_weight, heads)
                step(xs, ys, sw, sums)
                count += len(xs[0])
                if want_end:
                    cbs.call("on_train_batch_end", b, _keras_logs(step.logs(sums, count)))
                if self.stop_training:
                    break
            train.end_epoch()
            if count == 0:
                if train.exhausted:
                    break
                raise ValueError("fit: the data source yielded no batches in this epoch")
            logs = _keras_logs(step.logs(sums, count))
            if val is not None and (epoch + 1) % validation_freq == 0:
                cbs.call("on_test_begin", None)
                val_logs = self._evaluate_source(val, heads) if isinstance(val, _sources.BatchSource) \
                    else self._evaluate_arrays(*val, 32, heads, cbs)
                cbs.call("on_test_end", val_logs)
                logs = _keras_logs({**logs, **{f"val_{k}": v for k, v in val_logs.items()}})
            cbs.call("on_epoch_end", epoch, logs)
            if self.stop_training or train.exhausted:
                break
        finalize = getattr(self.optimizer, "finalize_variable_values", None)
        if finalize is not None:        # with use_ema the weights become their moving average, as in Keras
            finalize(self.trainable_weights)
        cbs.call("on_train_end", None)
        return self.history

    def _evaluate_source(self, source, heads):
        step = self._eval_step(heads)
        sums, count = step.new_sums(), 0
        for batch in source.epoch():
            xs, ys, sw = self._prepare(*_sources.split_batch(batch, source.where), None, heads)
            step(xs, ys, sw, sums)
            count += len(xs[0])
        source.end_epoch()
        if count == 0:
            raise ValueError(f"{source.where}: the data source yielded no batches")
        return _keras_logs(step.logs(sums, count))

    @staticmethod
    def _train_epoch(step, batches, order, batch_size, n_x, n_y, weighted, cbs, strategy):
        """One pass over this rank's `order`; returns the epoch's (globally reduced) logs."""
        want_begin = cbs.wants("on_train_batch_begin")
        want_end = cbs.wants("on_train_batch_end")
        sums, count = step.new_sums(), 0
        for b, idx in enumerate(_data.batch_indices(order, batch_size)):
            if want_begin:
                cbs.call("on_train_batch_begin", b, None)
            arrays = batches.take(idx)
            step(arrays[:n_x], arrays[n_x:n_x + n_y], arrays[n_x + n_y] if weighted else None, sums)
            count += len(arrays[0])
            if want_end:
                cbs.call("on_train_batch_end", b, _keras_logs(step.logs(sums, count)))
            if cbs.model.stop_training and strategy.world_size == 1:
                break       # (under data parallelism every rank must run the same steps: epoch ends)
        sums, count = strategy.reduce_metrics(sums, count)
        return _keras_logs(step.logs(sums, count)) if count else {}

    @check_keywords
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One training step on one batch; returns its loss and metrics like `evaluate` does."""
        if self.compiled and self._custom_train():
            from .custom_step import _Arrays
            from engine.autograd import grad_tape
            self._custom_build(x)
            arrays = _Arrays(x, y, sample_weight)
            self._bind_heads(self._compile_heads() if self._graph is not None else None, arrays)
            self.reset_metrics()
            with grad_tape():
                logs = self.train_step(pack_x_y_sample_weight(*arrays.take(slice(None))))
            return _returned_logs(_pythonify(logs), return_dict, self._metric_order())
        heads = self._ready(x, "train_on_batch")
        xs, ys, sw = self._prepare(x, y, sample_weight, class_weight, heads)
        step = self._train_step(heads, current_strategy())
        sums = step.new_sums()
        step(xs, ys, sw, sums)
        return _returned_logs(_keras_logs(step.logs(sums, len(xs[0]))), return_dict, self._log_order())

    @check_keywords
    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss and metrics of one batch, without training."""
        if self.compiled and self._custom_test():
            return self._evaluate_custom(x, y, max(len(_first_array(x)), 1), 0, sample_weight, None, return_dict)
        heads = self._ready(x, "test_on_batch")
        xs, ys, sw = self._prepare(x, y, sample_weight, None, heads)
        logs = self._evaluate_arrays(xs, ys, sw, max(len(xs[0]), 1), heads)
        return _returned_logs(logs, return_dict, self._log_order())

    # --- evaluate / predict -----------------------------------------------------------
    def _evaluate_arrays(self, xs, ys, sw, batch_size, heads, cbs=None):
        strategy = current_strategy()
        step = self._eval_step(heads)
        n = len(xs[0])
        batches = _data.Batches(xs + ys + ([sw] if sw is not None else []), batch_size)
        n_x, n_y = len(xs), len(ys)
        sums, count = step.new_sums(), 0
        want_begin = cbs is not None and cbs.wants("on_test_batch_begin")
        want_end = cbs is not None and cbs.wants("on_test_batch_end")
        for b, idx in enumerate(_data.batch_indices(strategy.shard(np.arange(n), pad=False), batch_size)):
            if want_begin:
                cbs.call("on_test_batch_begin", b, None)
            arrays = batches.take(idx)
            step(arrays[:n_x], arrays[n_x:n_x + n_y], arrays[n_x + n_y] if sw is not None else None, sums)
            count += len(arrays[0])
            if want_end:
                cbs.call("on_test_batch_end", b, _keras_logs(step.logs(sums, count)))
        sums, count = strategy.reduce_metrics(sums, count)
        return _keras_logs(step.logs(sums, count)) if count else {}

    @check_keywords
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """The loss and metrics over (x, y), in batches, as Keras 3 returns them.

        Returns:
            With `return_dict=True` a dict {"loss": ..., "accuracy": ...}. Otherwise the loss
            alone (a float) when nothing else is measured, else a list: the loss first, then
            the other values in the dict's order (`model.metrics_names`), so
            `loss, acc = model.evaluate(x, y)` works.

        Example:
            ```python
            loss, acc = model.evaluate(x_test, y_test, verbose=0)
            ```
        """
        if self.compiled and self._custom_test():
            if _sources.is_batch_source(x, y) or steps is not None:
                raise NotImplementedError("evaluate: a model with its own test_step (or compute_loss / metrics) "
                                          "evaluates numpy arrays in dptrain so far; pass arrays, without steps")
            return self._evaluate_custom(x, y, batch_size, verbose, sample_weight, callbacks, return_dict)
        if _sources.is_batch_source(x, y):
            if current_strategy().world_size > 1:
                raise NotImplementedError("evaluate: a generator or dataset under a data-parallel launcher is not "
                                          "supported yet; pass numpy arrays")
            src = _sources.BatchSource(x, "x", None if steps is None else _nonneg_int(steps, "steps", "evaluate"))
            bx, by, _ = _sources.split_batch(src.peek(), "x")
            heads = self._ready(bx, "evaluate")
            self._prepare(bx, by, None, None, heads)      # checks the first batch (and binds the heads)
            cbs = CallbackList(check_callbacks(callbacks), self, {"verbose": verbose})
            cbs.call("on_test_begin", None)
            logs = self._evaluate_source(src, heads)
            cbs.call("on_test_end", logs)
            return _returned_logs(logs, return_dict, self._log_order())
        if steps is not None:
            raise NotImplementedError("evaluate: steps with numpy arrays is not supported by dptrain yet "
                                      "(leave steps=None, or pass a generator)")
        heads = self._ready(x, "evaluate")
        verbose = _verbose(verbose, "evaluate")
        batch_size = _data.check_batch_size(32 if batch_size is None else batch_size)
        xs, ys, sw = self._prepare(x, y, sample_weight, None, heads)
        steps_total = -(-len(current_strategy().shard(np.arange(len(xs[0])), pad=False)) // batch_size)
        bar = [ProgressBar(verbose)] if verbose and current_strategy().is_chief else []
        cbs = CallbackList(bar + check_callbacks(callbacks), self, {"verbose": verbose, "steps": steps_total})
        cbs.call("on_test_begin", None)
        logs = self._evaluate_arrays(xs, ys, sw, batch_size, heads, cbs)
        cbs.call("on_test_end", logs)
        return _returned_logs(logs, return_dict, self._log_order())

    @check_keywords
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for x in inference mode (Dropout off, BatchNormalization's moving statistics).

        Returns:
            A numpy array, or a list of arrays for a model with several outputs.

        Example:
            ```python
            probs = model.predict(x_test, verbose=0)
            ```
        """
        if self._custom_predict():
            if _sources.is_batch_source(x, None) or steps is not None:
                raise NotImplementedError("predict: a model with its own predict_step predicts numpy arrays in "
                                          "dptrain so far; pass arrays, without steps")
            return self._predict_custom(x, batch_size, verbose, callbacks)
        if _sources.is_batch_source(x, None):
            return self._predict_source(x, steps, callbacks)
        if steps is not None:
            raise NotImplementedError("predict: steps with numpy arrays is not supported by dptrain yet "
                                      "(leave steps=None, or pass a generator)")
        self._build_if_needed(x, "predict")
        verbose = _verbose(verbose, "predict")
        batch_size = _data.check_batch_size(32 if batch_size is None else batch_size)
        xs = _data.prepare_x(self, x, "x")
        n = len(xs[0])
        bar = [ProgressBar(verbose)] if verbose and current_strategy().is_chief else []
        cbs = CallbackList(bar + check_callbacks(callbacks), self, {"verbose": verbose, "steps": -(-n // batch_size)})
        cbs.call("on_predict_begin", None)
        plan = self._graph.plan
        if n == 0:
            outs = [np.empty((0,) + tuple(t.shape[1:]), np.float32) for t in self._graph.outputs]
        else:
            outs = predict_batches(plan, _data.Batches(xs, batch_size),
                                   _data.batch_indices(np.arange(n), batch_size), n, all_layers(self), cbs)
        cbs.call("on_predict_end", None)
        return self._pack_outputs(outs)

    def _predict_source(self, source, steps, callbacks):
        src = _sources.BatchSource(source, "x", None if steps is None else _nonneg_int(steps, "steps", "predict"))
        bx, _, _ = _sources.split_batch(src.peek(), "x", need_y=False)
        self._build_if_needed(bx, "predict")
        cbs = CallbackList(check_callbacks(callbacks), self, {"verbose": 0})
        cbs.call("on_predict_begin", None)
        pieces = []
        for batch in src.epoch():
            bx, _, _ = _sources.split_batch(batch, "x", need_y=False)
            out = self.predict(bx, batch_size=max(len(_first_array(bx)), 1), verbose=0)
            pieces.append(self._unpack_outputs(out))
        src.end_epoch()
        cbs.call("on_predict_end", None)
        if not pieces:
            raise ValueError("predict: the data source yielded no batches")
        outs = [np.concatenate([p[k] for p in pieces]) for k in range(len(pieces[0]))]
        return self._pack_outputs(outs)

    def predict_on_batch(self, x):
        return self.predict(x, batch_size=max(len(_first_array(x)), 1), verbose=0)

    # --- summary, saving ------------------------------------------------------------
    def summary(self, print_fn=None, line_length=None):
        from .summary import summary
        return summary(self, print_fn=print_fn, line_length=line_length)

    def save(self, filepath, include_optimizer=True):
        from .saving import save_model
        save_model(self, filepath, include_optimizer=include_optimizer)

    def save_weights(self, filepath):
        from .saving import save_weights
        save_weights(self, filepath)

    def load_weights(self, filepath):
        from .saving import load_weights
        load_weights(self, filepath)

