"""compile()'s loss/metric/loss_weight specs resolved into one Head per trained output."""
from __future__ import annotations

import copy
import numbers

from .. import losses as _losses
from .. import metrics as _metrics
from ..layers.activations import WithActivation


class Head:
    """One output with a loss: its loss, weight, metrics, log names, and whether the step
    computes the loss on the logits (`fused` = the absorbed activation, or None)."""

    def __init__(self, index, name, loss, weight, metrics, fused, prefix, weighted_metrics=()):
        self.index, self.name, self.loss, self.weight = index, name, loss, weight
        self.metric_specs = list(metrics)
        self.weighted_specs = list(weighted_metrics)
        self.metrics = list(metrics) + list(weighted_metrics)
        self.fused = fused
        self.loss_key = f"{name}_loss" if prefix else "loss"
        self._prefix = prefix
        self.metric_keys = []
        self.metric_slots = []      # (metric, log key, weighted), once bound to the target shapes

    def metric_key(self, m):
        return f"{self.name}_{m.name}" if self._prefix else m.name

    def bind(self, y_shape, out_shape):
        """Resolve 'accuracy' to the binary / categorical / sparse variant for these shapes (as
        Keras: from the target and output shapes), and name the metrics' log entries: a repeated
        name gets _1, _2 (a weighted metric named like an unweighted one: weighted_<name>)."""
        # 'accuracy' depends on these only; the same shapes keep the same metric objects (and their
        # state: a generator's batches bind again and again within an epoch)
        shapes = (len(y_shape), y_shape[-1] if len(y_shape) else None, len(out_shape), out_shape[-1])
        if self.metric_slots and shapes == getattr(self, "_bound_for", None):
            return
        self._bound_for = shapes

        def resolved(specs):
            return [m.resolve(y_shape, out_shape) if isinstance(m, _metrics._AutoAccuracy) else m for m in specs]
        plain, weighted = resolved(self.metric_specs), resolved(self.weighted_specs)
        self.metrics = plain + weighted
        keys, counts = [], {}
        for m in plain:
            key = self.metric_key(m)
            if key in counts:
                counts[key] += 1
                key = f"{key}_{counts[key] - 1}"
            else:
                counts[key] = 1
            keys.append(key)
        for m in weighted:
            key = self.metric_key(m)
            if key in counts:
                key = f"{self.name}_weighted_{m.name}" if self._prefix else f"weighted_{m.name}"
                if key in counts:
                    counts[key] += 1
                    key = f"{key}_{counts[key] - 1}"
            counts.setdefault(key, 1)
            keys.append(key)
        self.metric_keys = keys
        self.metric_slots = [(m, k, i >= len(plain)) for i, (m, k) in enumerate(zip(self.metrics, keys))]


def _per_output(spec, names, what, allow_missing):
    """Spread a single value / list / dict spec over the outputs: {name: value}."""
    n = len(names)
    if isinstance(spec, dict):
        unknown = [k for k in spec if k not in names]
        if unknown:
            raise ValueError(f"compile: {what} has keys {unknown} that are not output names; outputs: {names}")
        if not allow_missing:
            missing = [k for k in names if k not in spec]
            if missing:
                raise ValueError(f"compile: {what} gives no value for outputs {missing}")
        return dict(spec)
    if isinstance(spec, (list, tuple)):
        if len(spec) != n:
            raise ValueError(f"compile: {what} has {len(spec)} entries but the model has {n} output(s) {names}")
        return dict(zip(names, spec))
    return {k: spec for k in names}


def _metrics_by_output(metrics, names, what):
    if metrics is None:
        return {}
    if isinstance(metrics, dict):
        return _per_output(metrics, names, what, allow_missing=True)
    if isinstance(metrics, (list, tuple)) and metrics and all(isinstance(m, (list, tuple)) or m is None
                                                               for m in metrics):
        return _per_output(list(metrics), names, what, allow_missing=True)
    if isinstance(metrics, (list, tuple)):
        return {k: list(metrics) for k in names}
    raise TypeError(f"compile: {what} must be a list (or a dict per output), got {type(metrics).__name__}")


def _metric_objects(spec, where, seen):
    """compile's metric specs for one output as Metric objects; one object given for several
    outputs is copied, so that each output keeps its own state."""
    ms = spec or []
    ms = [ms] if isinstance(ms, str) or callable(ms) else list(ms)
    out = []
    for m in ms:
        obj = _metrics.get(m, where)
        if id(obj) in seen:
            obj = copy.deepcopy(obj)
        seen.add(id(obj))
        out.append(obj)
    return out


def build_heads(model, loss, metrics, loss_weights, weighted_metrics=None):
    graph = model._graph
    names = model._output_feed_names
    prefix = len(names) > 1
    if loss is None:
        raise ValueError("compile: loss is required (e.g. 'categorical_crossentropy', 'mse' or a callable)")
    if isinstance(loss, dict) and set(loss) == {"class_name", "config"}:     # one serialized loss (load_model)
        loss = _losses.deserialize(loss)
    loss_by = _per_output(loss, names, "loss", allow_missing=True)
    loss_by = {k: v for k, v in loss_by.items() if v is not None}
    if not loss_by:
        raise ValueError("compile: no output has a loss")
    weight_by = _per_output(loss_weights, names, "loss_weights", allow_missing=True) if loss_weights is not None \
        else {}
    metric_by = _metrics_by_output(metrics, names, "metrics")
    weighted_by = _metrics_by_output(weighted_metrics, names, "weighted_metrics")
    for what, by in (("metrics", metric_by), ("weighted_metrics", weighted_by)):
        for k in by:
            if by[k] and k not in loss_by:
                raise ValueError(f"compile: {what} given for output '{k}', which has no loss")
    seen = set()
    slots = [id(t) for t in graph.outputs]
    heads = []
    for k, name in enumerate(names):
        if name not in loss_by:
            continue
        where = f"compile: loss for output '{name}'" if prefix else "compile: loss"
        loss_obj = _losses.get(loss_by[name], where)
        w = weight_by.get(name, 1.0)
        if isinstance(w, bool) or not isinstance(w, numbers.Real) or not w >= 0:
            raise ValueError(f"compile: loss_weights for output '{name}' must be a number >= 0, got {w!r}")
        if loss_obj.reduction in (None, "none"):
            raise ValueError(f"{where}: loss {loss_obj.name!r} has reduction={loss_obj.reduction!r}, which gives "
                             f"one value per sample; training needs a scalar loss (use 'sum_over_batch_size' or "
                             f"'sum')")
        suffix = f" for output '{name}'" if prefix else ""
        ms = _metric_objects(metric_by.get(name), f"compile: metrics{suffix}", seen)
        wms = _metric_objects(weighted_by.get(name), f"compile: weighted_metrics{suffix}", seen)
        producer = graph.producer(k)
        fused = None
        if loss_obj.fuses and isinstance(producer, WithActivation) and producer.activation == loss_obj.fuses \
                and slots.count(slots[k]) == 1:
            fused = loss_obj.fuses
        heads.append(Head(k, name, loss_obj, float(w), ms, fused, prefix, wms))
    # Keras logs the per-output losses of a dict of outputs in the loss dict's order, else in output order
    keys = list(loss) if isinstance(loss, dict) and model._output_keys else None
    for h in heads:
        h.loss_rank = keys.index(h.name) if keys else h.index
    return heads
