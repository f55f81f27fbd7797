"""A subclassed Model's stand-in for the functional graph: its own `call`, run eagerly.

Keras runs a subclassed model's `call` on real tensors at every step (Python control flow
on `training` included). `EagerGraph` gives fit/evaluate/predict what they read from a
functional graph (input/output specs, layers, a plan to run) and is made from the first
data the model sees, with one inference call on a couple of samples.
"""
from __future__ import annotations

import numpy as np

from engine.autograd import no_grad
from engine.tensor import as_tensor

from ..layers.input import Input, KerasTensor, Node


def _sample(x, who):
    """The first two samples of `x` (an array or a list/tuple of arrays) as Tensors."""
    if isinstance(x, dict):
        raise NotImplementedError(f"{who}: a subclassed model fed a dict of inputs is not supported yet; "
                                  f"pass a list of arrays in the order call() expects")
    arrays = [np.asarray(a) for a in x] if isinstance(x, (list, tuple)) else [np.asarray(x)]
    out = []
    for a in arrays:
        if a.ndim == 0:
            raise ValueError(f"{who}: inputs need a batch axis, got a scalar")
        a = a[:2]
        out.append(a.astype(np.float32) if a.dtype.kind == "f" else a.astype(np.int64))
    return out


class EagerPlan:
    def __init__(self, model, inputs_as_list):
        self.model = model
        self.inputs_as_list = inputs_as_list

    def run(self, inputs, training):
        out = self.model._invoke(list(inputs) if self.inputs_as_list else inputs[0], training)
        return list(out) if isinstance(out, (list, tuple)) else [out]


class EagerGraph:
    nodes = ()

    def __init__(self, model, x):
        who = model._who()
        arrays = _sample(x, who)
        self.inputs_as_list = isinstance(x, (list, tuple))
        with no_grad():
            ts = [as_tensor(a) for a in arrays]
            out = model._invoke(ts if self.inputs_as_list else ts[0], False)
        if isinstance(out, dict):
            raise NotImplementedError(f"{who}: call() returning a dict is not supported yet; return a list")
        self.outputs_as_list = isinstance(out, (list, tuple))
        outs = list(out) if self.outputs_as_list else [out]
        self.inputs = [Input(a.shape[1:], dtype="float32" if a.dtype.kind == "f" else "int32") for a in arrays]
        node = Node(model, self.inputs, self.inputs_as_list)
        self.outputs = [KerasTensor((None,) + tuple(o.shape[1:]), "float32", node, i) for i, o in enumerate(outs)]
        node.outputs = self.outputs
        self.plan = EagerPlan(model, self.inputs_as_list)
        self.model = model

    @property
    def layers(self):
        return self.model._tracked_layers()

    def producer(self, k):
        return None     # no softmax fusion: the loss sees call()'s outputs, as in Keras

    def compile(self, logits_outputs=()):
        return self.plan
