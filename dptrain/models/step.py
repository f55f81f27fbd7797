"""The compiled train and eval steps: a pre-planned forward pass, pre-resolved losses and
metrics, backward into the optimiser's flat grad buffer, the strategy seam, one fused update.

The loss trained on (and logged as "loss") is, as in Keras, the compiled losses plus every
layer's additional losses: values given to `add_loss` during this forward pass, and the
penalties of layers with `regularization_losses()`. After each update, layers with
`apply_constraints()` project their weights.

The per-epoch `sums` a step fills: each loss key holds the sum over samples of the batch losses
(times the batch size), each metric key the metric's state (a float64 array: counts, totals,
histograms). A data-parallel strategy adds both up across ranks; `logs(sums, count)` turns them
into Keras' logs: losses divided by the sample count, metrics their `result()`.
"""
from __future__ import annotations

import numpy as np

from engine import backend as _backend
from engine import ops
from engine.autograd import grad_tape, no_grad, run_backward
from engine.tensor import Tensor

from ..layers.base import get_keras_mask
from ..losses import apply_mask
from ..metrics import MeanMetricWrapper, probabilities


def wrap(a):
    """A batch as a Tensor without gradient and without a copy."""
    return Tensor(_backend.current.asarray(a))


def all_layers(model):
    """The model and every layer below it, each once (depth first, in tracking order)."""
    out, seen, stack = [], set(), [model]
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        out.append(layer)
        subs = layer._sublayers() if hasattr(layer, "_sublayers") else []
        stack.extend(reversed(subs))
    return out


def _scalar(v, who):
    v = v() if callable(v) and not isinstance(v, Tensor) else v
    if not isinstance(v, Tensor):
        v = Tensor(_backend.current.asarray(np.asarray(v, np.float32)))
    if v.size != 1:
        raise ValueError(f"{who}: an additional loss must be a scalar, got shape {v.shape}")
    return v if v.ndim == 0 else ops.reshape(v, ())


class EvalStep:
    def __init__(self, model, heads):
        self.heads = heads
        self.plan = model._graph.compile([h.index for h in heads if h.fused])
        self.per_head = len(heads) > 1     # log each output's loss too (Keras: when several have one)
        self.keys = ["loss"] + ([h.loss_key for h in heads] if self.per_head else [])
        self._who = model._who()
        layers = all_layers(model)
        self._layers = layers
        self._regularized = [layer for layer in layers if callable(getattr(layer, "regularization_losses", None))]
        self._constrained = [layer for layer in layers if callable(getattr(layer, "apply_constraints", None))]

    def new_sums(self):
        """Fresh per-epoch sums; resets every metric (Keras resets them at each epoch / evaluate)."""
        sums = dict.fromkeys(self.keys, 0.0)
        for h in self.heads:
            for m in h.metric_specs + h.weighted_specs:     # also before the first batch binds 'accuracy'
                m.reset_state()
            for m, key, _ in h.metric_slots:
                m.reset_state()
                sums[key] = m._state()
        return sums

    def logs(self, sums, count):
        """Keras' logs from `sums` (this rank's, or the strategy's global ones) and the sample count."""
        if not count:
            return {}
        logs = {k: sums[k] / count for k in self.keys}
        world = None
        for h in self.heads:
            for m, key, _ in h.metric_slots:
                state = sums[key]
                if state is not m._state():        # combined across ranks: the metric takes it over
                    if world is None:
                        from .strategy import current_strategy
                        world = current_strategy().world_size
                    m._load_state(state, world)
                logs[key] = m._log_value()
        return logs

    # --- losses ---------------------------------------------------------------------------------------
    def _clear_added_losses(self):
        for layer in self._layers:
            added = layer.__dict__.get("_added_losses")
            if added:
                added.clear()

    def _extra_losses(self):
        """add_loss values of this forward pass, add_loss callables, regularization penalties."""
        terms = []
        for layer in self._layers:
            d = layer.__dict__
            for v in d.get("_added_losses") or ():
                terms.append(_scalar(v, self._who))
            for fn in d.get("_loss_callables") or ():
                terms.append(_scalar(fn(), self._who))
        for layer in self._regularized:
            terms.extend(_scalar(v, self._who) for v in layer.regularization_losses())
        total = None
        for t in terms:
            total = t if total is None else ops.add(total, t)
        return total

    def _loss(self, outs, ys, sw):
        total, parts = None, []
        for h, y in zip(self.heads, ys):
            part = h.loss.batch_loss(outs[h.index], y, sw, h.fused is not None)
            parts.append(part)
            term = part if h.weight == 1.0 else ops.scale(part, h.weight)
            total = term if total is None else ops.add(total, term)
        extra = self._extra_losses()
        if extra is not None:
            total = ops.add(total, ops.cast(extra, total.dtype) if extra.dtype != total.dtype else extra)
        return total, parts

    def _forward(self, xs, training):
        self._clear_added_losses()
        return self.plan.run([wrap(a) for a in xs], training)

    # --- logs ------------------------------------------------------------------------------------------
    def _accumulate(self, sums, outs, ys, sw, n, total, parts):
        value = total.item()
        sums["loss"] += value * n
        if self.per_head:
            for h, part in zip(self.heads, parts):
                sums[h.loss_key] += part.item() * n
        for h, y in zip(self.heads, ys):
            if not h.metric_slots:
                continue
            pred = outs[h.index].numpy()
            mask = get_keras_mask(outs[h.index])   # as Keras' MeanMetricWrapper: masked entries weigh 0
            probs = None
            for m, key, weighted in h.metric_slots:
                if h.fused == "softmax" and m._argmax_only:
                    p = pred          # the argmax of the logits is the argmax of the probabilities
                else:
                    if probs is None:
                        probs = probabilities(pred, h.fused)
                    p = probs
                w = sw if weighted else None
                if mask is not None and isinstance(m, MeanMetricWrapper):
                    w = apply_mask(w, mask, "sum")
                m.update_state(y, p, w)
                state = m._state()
                if sums.get(key) is not state:
                    sums[key] = state
        return value

    def __call__(self, xs, ys, sw, sums):
        with no_grad():
            outs = self._forward(xs, False)
            total, parts = self._loss(outs, ys, sw)
        return self._accumulate(sums, outs, ys, sw, len(xs[0]), total, parts)


class TrainStep(EvalStep):
    def __init__(self, model, heads, optimizer, strategy):
        super().__init__(model, heads)
        self.optimizer = optimizer
        self.strategy = strategy
        self.params = optimizer._params
        self._unreached = None      # the graph is static: found once, at the first step

    def _zero_unreached(self, reached):
        if self._unreached is None:
            ids = {id(p) for p in reached}
            self._unreached = [p for p in self.params if id(p) not in ids]
        K = _backend.current
        for p in self._unreached:  # a weight off the loss path must not keep a stale gradient
            K.copy_into(p.grad, K.zeros(p.grad.shape, p.grad.dtype))

    def __call__(self, xs, ys, sw, sums):
        with grad_tape():
            outs = self._forward(xs, True)
            total, parts = self._loss(outs, ys, sw)
        if total._node is None:
            raise ValueError(f"{self._who}: the loss does not depend on any trainable weight, so there is "
                             f"nothing to train (are all layers frozen?)")
        reached = run_backward(total)
        if self._unreached is None or self._unreached:
            self._zero_unreached(reached)
        if self.strategy.reduce_gradients(self.optimizer):
            self.optimizer.clip()
            self.optimizer.apply()
            for layer in self._constrained:
                layer.apply_constraints()
        return self._accumulate(sums, outs, ys, sw, len(xs[0]), total, parts)


def predict_batches(plan, xs, batches, n, layers=(), cbs=None):
    """Run `plan` in inference mode over `batches` of `xs`; outputs copied into whole-set arrays.
    `layers`: the model's layers, whose add_loss values are dropped after each batch; `cbs`: the
    callbacks, told of each batch (on_predict_batch_begin / _end, with {"outputs": ...})."""
    results = None
    want = cbs is not None and (cbs.wants("on_predict_batch_begin") or cbs.wants("on_predict_batch_end"))
    with no_grad():
        for b, idx in enumerate(batches):
            if want:
                cbs.call("on_predict_batch_begin", b, None)
            outs = plan.run([wrap(a) for a in xs.take(idx)], False)
            if want:
                cbs.call("on_predict_batch_end", b, {"outputs": [o.numpy() for o in outs]})
            for layer in layers:
                added = layer.__dict__.get("_added_losses")
                if added:
                    added.clear()
            arrays = [o.numpy() for o in outs]
            if results is None:
                results = [np.empty((n,) + a.shape[1:], a.dtype) for a in arrays]
            for r, a in zip(results, arrays):
                r[idx] = a
    return results
