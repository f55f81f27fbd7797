"""The compiled train and eval steps: a pre-planned forward pass, pre-resolved losses and
metrics, backward into the optimiser's flat grad buffer, the strategy seam, one fused update."""
from __future__ import annotations

import numpy as np

from engine import backend as _backend
from engine import ops
from engine.autograd import grad_tape, no_grad, run_backward
from engine.tensor import Tensor


def wrap(a):
    """A batch as a Tensor without gradient and without a copy."""
    return Tensor(_backend.current.asarray(a))


class EvalStep:
    def __init__(self, model, heads):
        self.heads = heads
        self.plan = model._graph.compile([h.index for h in heads if h.fused])
        self.per_head = len(model.output_names) > 1     # log each output's loss too
        self.keys = ["loss"] + ([h.loss_key for h in heads] if self.per_head else [])

    def new_sums(self):
        sums = dict.fromkeys(self.keys, 0.0)
        for h in self.heads:
            for k in h.metric_keys:
                sums[k] = 0.0
        return sums

    def _loss(self, outs, ys, sw):
        total, parts = None, []
        for h, y in zip(self.heads, ys):
            pred = outs[h.index]
            fused = h.fused is not None
            if sw is None:
                part = h.loss.mean(pred, y, fused)
            else:
                part = ops.scale(ops.sum(ops.mul(h.loss.per_sample(pred, y, fused), sw)), 1.0 / pred.shape[0])
            parts.append(part)
            term = part if h.weight == 1.0 else ops.scale(part, h.weight)
            total = term if total is None else ops.add(total, term)
        return total, parts

    def _accumulate(self, sums, outs, ys, n, total, parts):
        value = total.item()
        sums["loss"] += value * n
        if self.per_head:
            for h, part in zip(self.heads, parts):
                sums[h.loss_key] += part.item() * n
        for h, y in zip(self.heads, ys):
            if h.metrics:
                pred = outs[h.index].numpy()
                for m, key in zip(h.metrics, h.metric_keys):
                    sums[key] += m.total(y, pred, h.fused)
        return value

    def __call__(self, xs, ys, sw, sums):
        with no_grad():
            outs = self.plan.run([wrap(a) for a in xs], False)
            total, parts = self._loss(outs, ys, sw)
        return self._accumulate(sums, outs, ys, len(xs[0]), total, parts)


class TrainStep(EvalStep):
    def __init__(self, model, heads, optimizer, strategy):
        super().__init__(model, heads)
        self.optimizer = optimizer
        self.strategy = strategy
        self.params = optimizer._params
        self._who = model._who()
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
            outs = self.plan.run([wrap(a) for a in xs], True)
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
        return self._accumulate(sums, outs, ys, len(xs[0]), total, parts)


def predict_batches(plan, xs, batches, n):
    """Run `plan` in inference mode over `batches` of `xs`; outputs copied into whole-set arrays."""
    results = None
    with no_grad():
        for idx in batches:
            outs = plan.run([wrap(a) for a in xs.take(idx)], False)
            arrays = [o.numpy() for o in outs]
            if results is None:
                results = [np.empty((n,) + a.shape[1:], a.dtype) for a in arrays]
            for r, a in zip(results, arrays):
                r[idx] = a
    return results
