"""A static layer graph compiled into a flat plan: a list of layer calls over value slots.

Nodes are ordered by creation id, which is a topological order (a node is only
created after the tensors it consumes). Slots 0..n_inputs-1 hold the model
inputs; each plan step reads its source slots and writes its destination slots,
so running the graph is one Python loop with no per-batch planning.
"""
from __future__ import annotations

from ..layers.base import format_shape, get_keras_mask, set_keras_mask
from ..layers.input import InputLayer, KerasTensor, bind_inputs


class Step:
    """One layer call of the plan. `masked_fn`: the same call with Keras' masks (read from the input
    tensors, passed to `call`, attached to the outputs); `masked`: the graph's masks reach this step."""
    __slots__ = ("fn", "src", "dst", "as_list", "layer", "masked_fn", "masked")

    def __init__(self, fn, src, dst, as_list, layer, masked_fn=None, masked=False):
        self.fn, self.src, self.dst, self.as_list, self.layer = fn, src, dst, as_list, layer
        self.masked_fn = fn if masked_fn is None else masked_fn
        self.masked = masked


def _activation_step(layer, src, dst, masked=False):
    act = layer._act

    def masked_fn(x, training):        # the activation keeps the mask of the pre-activation
        y = act(x)
        set_keras_mask(y, get_keras_mask(x))
        return y
    return Step(lambda x, training: act(x), [src], [dst], False, layer, masked_fn, masked)


def _pre_activation_fn(layer):
    def masked(x, training):
        return layer._invoke_masked(x, training, call=layer.pre_activation, warn=False)
    return masked


def _node_masked(node):
    """Whether masks reach or leave `node` (its symbolic tensors carry them)."""
    return any(t._keras_mask is not None for t in list(node.inputs) + list(node.outputs))


def _call_fn(node, masked=False):
    """What the plan calls for `node`: `layer.call` itself when it takes (x, training) and the node has
    no further arguments (no per-batch overhead), else Keras' conventions through `layer._invoke`.
    `masked`: through `layer._invoke_masked`, which carries the masks as Keras' `Layer.__call__`."""
    layer = node.layer
    if masked:
        def invoke(x, training, args=(), kwargs=None):
            return layer._invoke_masked(x, training, args, kwargs, warn=False)
    else:
        invoke = layer._invoke
    if len(node.inputs) > node.n_main:      # KerasTensors passed beyond the first argument: the step gets
        n, as_list = node.n_main, node.as_list       # every input as a list and puts them back in place
        args, kwargs = node.args, node.kwargs

        def call_with_extra_inputs(xs, training):
            a, kw = bind_inputs(args, kwargs, xs)
            return invoke(list(xs[:n]) if as_list else xs[0], training, a, kw)
        return call_with_extra_inputs
    if getattr(layer, "_output_keys", None):        # a model with a dict of outputs: its values, in key order
        return lambda x, training: layer._unpack_outputs(invoke(x, training, node.args, node.kwargs))
    training_second = layer._call_conventions()[3]      # call(self, x, training=...)
    if training_second and not node.args and not node.kwargs and not masked:
        return layer.call
    args, kwargs = node.args, node.kwargs
    return lambda x, training: invoke(x, training, args, kwargs)


def keras_layer_order(inputs, outputs):
    """The model's layers in Keras 3's order (ops.function.map_graph): by decreasing depth from
    the outputs, and within one depth in the order a walk from the outputs (each output in turn,
    a node's inputs in order, depth first) first reaches them. get_weights() follows it."""
    input_ids = {id(t) for t in inputs}
    finished, by_decreasing_depth, index = set(), [], {}
    for out in outputs:
        stack = [(out, False)]
        while stack:          # iterative: a deep graph must not meet Python's recursion limit
            t, done = stack.pop()
            n = t.node
            if done:
                if n.id not in finished:
                    finished.add(n.id)
                    by_decreasing_depth.append(n)
                continue
            if n.id in finished:
                continue
            index.setdefault(id(n.layer), len(index))
            stack.append((t, True))
            if not isinstance(n.layer, InputLayer) and id(t) not in input_ids:
                stack.extend((p, False) for p in reversed(n.inputs))
    node_depth, layer_depth, layer_of = {}, {}, {}
    for n in reversed(by_decreasing_depth):
        depth = max(node_depth.setdefault(n.id, 0), layer_depth.get(id(n.layer), 0))
        layer_depth[id(n.layer)] = node_depth[n.id] = depth
        layer_of[id(n.layer)] = n.layer
        for t in n.inputs:
            node_depth[t.node.id] = max(depth + 1, node_depth.get(t.node.id, 0))
    for t in inputs:            # an input no output depends on
        layer = t.node.layer
        if id(layer) not in layer_depth:
            layer_depth[id(layer)], index[id(layer)], layer_of[id(layer)] = 0, -1, layer
    return sorted(layer_of.values(), key=lambda layer: (-layer_depth[id(layer)], index[id(layer)]))


class Graph:
    def __init__(self, inputs, outputs, who):
        for kind, kts in (("inputs", inputs), ("outputs", outputs)):
            for t in kts:
                if not isinstance(t, KerasTensor):
                    raise TypeError(f"{who}: {kind} must be symbolic tensors (dt.Input(...) or layer outputs), "
                                    f"got {type(t).__name__}")
        for t in inputs:
            if not isinstance(t.node.layer, InputLayer):
                raise ValueError(f"{who}: every input must come from dt.Input(...); {t!r} is the output "
                                 f"of layer '{t.node.layer.name}'")
        if len({id(t) for t in inputs}) != len(inputs):
            raise ValueError(f"{who}: the same Input appears twice in inputs")
        self.inputs, self.outputs = list(inputs), list(outputs)
        nodes, stack = {}, [t.node for t in outputs]
        while stack:
            n = stack.pop()
            if n.id in nodes:
                continue
            nodes[n.id] = n
            stack.extend(t.node for t in n.inputs)
        self.nodes = [nodes[k] for k in sorted(nodes)]
        given = {t.node.id for t in inputs}
        for n in self.nodes:
            if isinstance(n.layer, InputLayer) and n.id not in given:
                users = [m.layer.name for m in self.nodes if any(t.node is n for t in m.inputs)]
                raise ValueError(f"{who}: graph disconnected: input '{n.layer.name}' (shape "
                                 f"{format_shape(n.outputs[0].shape)}) feeds layer(s) {users} but is not "
                                 f"among the model inputs {[t.node.layer.name for t in inputs]}")
        self.layers = layers = keras_layer_order(self.inputs, self.outputs)
        names = {}
        for layer in layers:
            if layer.name in names:
                raise ValueError(f"{who}: two different layers are both named '{layer.name}' "
                                 f"({type(names[layer.name]).__name__} and {type(layer).__name__}); "
                                 f"layer names must be unique within a model")
            names[layer.name] = layer
        self._slot = {id(t): i for i, t in enumerate(inputs)}
        self._steps = []
        for n in self.nodes:
            if isinstance(n.layer, InputLayer):
                continue
            src = [self._slot[id(t)] for t in n.inputs]
            dst = []
            for o in n.outputs:
                self._slot[id(o)] = len(self._slot)
                dst.append(self._slot[id(o)])
            self._steps.append(Step(_call_fn(n), src, dst, n.as_list or len(src) > n.n_main, n.layer,
                                    _call_fn(n, masked=True), _node_masked(n)))
        self.n_slots = len(self._slot)
        self.output_slots = [self._slot[id(t)] for t in outputs]
        self.plan = self.compile()

    def producer(self, k):
        """The layer that produced output k (None for an Input passed straight through)."""
        node = self.outputs[k].node
        return None if isinstance(node.layer, InputLayer) else node.layer

    def compile(self, logits_outputs=()):
        """The plan; for the outputs in `logits_outputs` the producing layer stops before its
        activation (`pre_activation`), and the activation is applied only if another layer consumes it."""
        fuse = {self.output_slots[k] for k in logits_outputs}
        steps, renamed, n_slots = [], {}, self.n_slots
        for st in self._steps:
            src = [renamed.get(s, s) for s in st.src]
            if len(st.dst) == 1 and st.dst[0] in fuse:
                steps.append(Step(st.layer.pre_activation, src, st.dst, st.as_list, st.layer,
                                  _pre_activation_fn(st.layer), st.masked))
                consumed = any(st.dst[0] in later.src for later in self._steps)
                if consumed:
                    renamed[st.dst[0]] = n_slots
                    steps.append(_activation_step(st.layer, st.dst[0], n_slots, st.masked))
                    n_slots += 1
            else:
                steps.append(Step(st.fn, src, st.dst, st.as_list, st.layer, st.masked_fn, st.masked))
        return Plan(steps, len(self.inputs), n_slots, self.output_slots)


class Plan:
    """The compiled forward pass: `run(inputs, training)` -> list of output tensors."""

    def __init__(self, steps, n_inputs, n_slots, output_slots):
        self.n_inputs = n_inputs
        self.n_slots = n_slots
        self.output_slots = list(output_slots)

        def op(s, fn):
            return (fn, s.src[0] if not s.as_list and len(s.src) == 1 else tuple(s.src),
                    s.as_list, s.dst[0] if len(s.dst) == 1 else tuple(s.dst))
        # the steps the graph's masks reach carry them; when the inputs themselves carry masks
        # (a model called on masked tensors, as a nested model is), every step does
        self._ops = [op(s, s.masked_fn if s.masked else s.fn) for s in steps]
        self._ops_masked = [op(s, s.masked_fn) for s in steps]

    def run(self, inputs, training):
        vals = [None] * self.n_slots
        vals[:self.n_inputs] = inputs
        ops = self._ops_masked if any(get_keras_mask(x) is not None for x in inputs) else self._ops
        for fn, src, as_list, dst in ops:
            x = [vals[i] for i in src] if as_list else vals[src]
            y = fn(x, training)
            if type(dst) is int:
                vals[dst] = y
            else:
                for d, v in zip(dst, y):
                    vals[d] = v
        return [vals[i] for i in self.output_slots]
