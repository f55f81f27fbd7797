"""compile()'s loss/metric/loss_weight specs resolved into one Head per trained output."""
from __future__ import annotations

import numbers

from .. import losses as _losses
from .. import metrics as _metrics
from ..layers.activations import WithActivation


class Head:
    """One output with a loss: its loss, weight, metrics, log names, and whether the step
    computes the loss on the logits (`fused` = the absorbed activation, or None)."""

    def __init__(self, index, name, loss, weight, metrics, fused, prefix):
        self.index, self.name, self.loss, self.weight = index, name, loss, weight
        self.metric_specs = metrics
        self.metrics = list(metrics)
        self.fused = fused
        self.loss_key = f"{name}_loss" if prefix else "loss"
        self._prefix = prefix

    def metric_key(self, m):
        return f"{self.name}_{m.name}" if self._prefix else m.name

    def bind(self, y_shape, out_shape):
        """Resolve 'accuracy' to the categorical/sparse/binary variant for these targets."""
        self.metrics = [m.resolve(self.loss.kind, y_shape, out_shape) if isinstance(m, _metrics.Accuracy) else m
                        for m in self.metric_specs]
        self.metric_keys = [self.metric_key(m) for m in self.metrics]


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


def build_heads(model, loss, metrics, loss_weights):
    graph = model._graph
    names = model.output_names
    prefix = len(names) > 1
    if loss is None:
        raise ValueError("compile: loss is required (e.g. 'categorical_crossentropy', 'mse' or a callable)")
    loss_by = _per_output(loss, names, "loss", allow_missing=True)
    loss_by = {k: v for k, v in loss_by.items() if v is not None}
    if not loss_by:
        raise ValueError("compile: no output has a loss")
    weight_by = _per_output(loss_weights, names, "loss_weights", allow_missing=True) if loss_weights is not None \
        else {}
    if metrics is None:
        metric_by = {}
    elif isinstance(metrics, dict):
        metric_by = _per_output(metrics, names, "metrics", allow_missing=True)
    elif isinstance(metrics, (list, tuple)) and metrics and all(isinstance(m, (list, tuple)) or m is None
                                                                   for m in metrics):
        metric_by = _per_output(list(metrics), names, "metrics", allow_missing=True)
    elif isinstance(metrics, (list, tuple)):
        metric_by = {k: list(metrics) for k in names}
    else:
        raise TypeError(f"compile: metrics must be a list (or a dict per output), got {type(metrics).__name__}")
    for k in metric_by:
        if metric_by[k] and k not in loss_by:
            raise ValueError(f"compile: metrics given for output '{k}', which has no loss")
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
        ms = metric_by.get(name) or []
        ms = [ms] if isinstance(ms, str) or callable(ms) else list(ms)
        ms = [_metrics.get(m, f"compile: metrics for output '{name}'" if prefix else "compile: metrics")
              for m in ms]
        producer = graph.producer(k)
        fused = None
        if loss_obj.fuses and isinstance(producer, WithActivation) and producer.activation == loss_obj.fuses \
                and slots.count(slots[k]) == 1:
            fused = loss_obj.fuses
        heads.append(Head(k, name, loss_obj, float(w), ms, fused, prefix))
    return heads
