"""The functional Model: a static graph of layers from Input(s) to output(s).

Multiple inputs/outputs (lists), shared layers (one layer object called twice
keeps one set of weights) and models used as layers inside other models.
"""
from __future__ import annotations

from ..layers.base import Layer, flatten, format_shape, lookup, register, set_keras_mask, unique_name
from ..layers.input import InputLayer, InputRef, KerasTensor, bind_inputs
from .graph import Graph
from .training import Trainer


def _compatible(expected, got):
    return len(expected) == len(got) and all(e is None or g is None or e == g for e, g in zip(expected, got))


@register
class Model(Trainer, Layer):
    """A model: `Model(inputs, outputs)` over a graph of layers (the functional API), or a
    subclass that defines `call` (the subclassing API), trained with compile / fit.

    Functional: `inputs` / `outputs` are KerasTensors (`dt.Input(...)` and layer outputs), or
    lists of them. Subclassed: layers assigned as attributes in `__init__` are tracked (their
    weights train and save); `call(inputs, training=None)` runs eagerly at every step, and the
    model is built by the first data it sees (or `build(input_shape)`).

    Example:
        ```python
        inputs = dt.Input((784,))
        outputs = dt.layers.Dense(10, activation="softmax")(dt.layers.Dense(64, activation="relu")(inputs))
        model = dt.Model(inputs, outputs)
        class MLP(dt.Model):
            def __init__(self):
                super().__init__()
                self.hidden = dt.layers.Dense(64, activation="relu")
                self.out = dt.layers.Dense(10, activation="softmax")
            def call(self, x):
                return self.out(self.hidden(x))
        ```
    """

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        if name is None and type(self) is Model:
            name = unique_name("functional")     # Keras 3's name for a functional model
        Layer.__init__(self, name=name, trainable=trainable, **kwargs)
        Trainer.__init__(self)
        self._graph = None
        self._input_keys = self._output_keys = None     # the keys of a dict of inputs / outputs
        self._subclassed = inputs is None and outputs is None and type(self).call is not Model.call
        if inputs is None and outputs is None and type(self) is not Model:
            return      # a subclass: Sequential sets up its graph itself, a subclassed model runs its call
        if inputs is None or outputs is None:
            raise ValueError(f"{self._who()}: give both inputs= and outputs= (dt.Input tensors and layer outputs)")
        self._set_graph(inputs, outputs)

    def _set_graph(self, inputs, outputs):
        # a dict of inputs/outputs is kept as its keys and its values in sorted key order
        # (Keras' tree.flatten order); the model then takes and returns dicts with those keys
        self._input_keys = sorted(inputs) if isinstance(inputs, dict) else None
        self._output_keys = sorted(outputs) if isinstance(outputs, dict) else None
        self._inputs_as_list = isinstance(inputs, (list, tuple, dict))
        self._outputs_as_list = isinstance(outputs, (list, tuple, dict))
        ins = [inputs[k] for k in self._input_keys] if self._input_keys else flatten(inputs)
        outs = [outputs[k] for k in self._output_keys] if self._output_keys else flatten(outputs)
        self._graph = Graph(ins, outs, self._who())
        self.built = True
        self._graph_changed()   # drops steps compiled against a previous graph

    def _set_eager_graph(self, x):
        from .eager import EagerGraph
        g = EagerGraph(self, x)
        self._graph = g
        self._inputs_as_list, self._outputs_as_list = g.inputs_as_list, g.outputs_as_list
        self.built = True
        self._graph_changed()

    def ensure_built(self, input_shape):
        if self._subclassed:      # its layers build themselves as call() reaches them
            self.built = True
            return
        Layer.ensure_built(self, input_shape)

    def build(self, input_shape):
        """A subclassed model: run `call` once on zeros of `input_shape` (batch axis included)."""
        if not self._subclassed:
            return
        import numpy as np
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        zeros = [np.zeros(tuple(2 if (i == 0 or d is None) else d for i, d in enumerate(s)), np.float32)
                 for s in shapes]
        self._set_eager_graph(zeros if isinstance(input_shape, list) else zeros[0])

    def _require_graph(self, what):
        if self._graph is None and self._subclassed:
            raise ValueError(f"{self._who()}: the subclassed model has not seen any data yet, so it cannot "
                             f"{what}; call it on a batch, fit it, or call build(input_shape) first")
        if self._graph is None:
            raise ValueError(f"{self._who()}: the model has no input shape yet, so it cannot {what}; give the "
                             f"first layer input_shape=, add a dt.Input, or call build(input_shape)")
        return self._graph

    # --- structure ---------------------------------------------------------------
    @property
    def layers(self):
        if self._subclassed:
            return self._tracked_layers()
        return list(self._graph.layers) if self._graph is not None else []

    def _sublayers(self):
        out = [layer for layer in self.layers if layer is not self]
        ids = {id(layer) for layer in out}
        return out + [layer for layer in self._tracked_layers() if id(layer) not in ids]

    def get_layer(self, name=None, index=None):
        layers = self.layers
        if index is not None:
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"{self._who()}: no layer named {name!r}; layers: {[x.name for x in layers]}")

    @property
    def inputs(self):
        return list(self._require_graph("list its inputs").inputs)

    @property
    def outputs(self):
        return list(self._require_graph("list its outputs").outputs)

    def _pack_inputs(self, items):
        keys = self._input_keys
        if keys:
            return dict(zip(keys, items))
        return list(items) if self._inputs_as_list else items[0]

    def _pack_outputs(self, items):
        """The model's outputs in its own structure: a dict by key, a list, or the one output."""
        keys = self._output_keys
        if keys:
            return dict(zip(keys, items))
        return list(items) if self._outputs_as_list else items[0]

    def _unpack_outputs(self, out):
        if isinstance(out, dict):
            return [out[k] for k in self._output_keys]
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def _inputs_from_dict(self, data):
        """A dict of inputs as the list in the model's input order (by key, or by Input name)."""
        names = self._input_feed_names
        missing = [k for k in names if k not in data]
        unknown = [k for k in data if k not in names]
        if missing or unknown:
            raise ValueError(f"{self._who()}: dict keys must be the model's input names {names}; "
                             f"missing {missing}, unknown {unknown}")
        return [data[k] for k in names]

    @property
    def input(self):
        """The model's input KerasTensor (a list, or a dict by key, for several inputs), as in Keras."""
        return self._pack_inputs(self.inputs)

    @property
    def output(self):
        """The model's output KerasTensor (a list, or a dict by key, for several outputs), as in Keras."""
        return self._pack_outputs(self.outputs)

    @property
    def input_names(self):
        """One name per input: the Input layer's name."""
        return [t.node.layer.name for t in self.inputs]

    @property
    def _input_feed_names(self):
        """The names a dict of data is keyed by: the model's dict keys, else the Input names."""
        keys = self._input_keys
        return list(keys) if keys else self.input_names

    @property
    def _output_feed_names(self):
        """The names targets, losses and logs are keyed by: the dict keys, else the output names."""
        keys = self._output_keys
        return list(keys) if keys else self.output_names

    @property
    def output_names(self):
        """One name per output: the producing layer's name (suffixed when a layer makes several
        outputs). A dict of outputs keys its targets, losses and logs by its own keys instead."""
        g = self._require_graph("name its outputs")
        names = []
        for k, t in enumerate(g.outputs):
            base = t.node.layer.name
            names.append(base if base not in names else f"{base}_{k}")
        return names

    @property
    def input_shape(self):
        shapes = [t.shape for t in self.inputs]
        return shapes if self._inputs_as_list else shapes[0]

    @property
    def output_shape(self):
        """The output shape (a list for several outputs, a dict's in sorted key order, as Keras)."""
        shapes = [t.shape for t in self.outputs]
        return shapes if self._outputs_as_list else shapes[0]

    # --- Layer interface (a model can be called like a layer) ------------------------------
    def compute_output_shape(self, input_shape):
        if self._subclassed:
            return self._infer_output_shape(input_shape)
        g = self._require_graph("be called")
        got = input_shape if isinstance(input_shape, list) else [input_shape]
        if len(got) != len(g.inputs):
            raise ValueError(f"{self._who()}: expects {len(g.inputs)} input(s), got {len(got)}")
        for t, s in zip(g.inputs, got):
            if not _compatible(t.shape, s):
                raise ValueError(f"{self._who()}: input '{t.node.layer.name}' expects shape "
                                 f"{format_shape(t.shape)}, got {format_shape(s)}")
        shapes = [t.shape for t in g.outputs]
        return shapes if self._outputs_as_list else shapes[0]

    def compute_output_dtype(self, input_dtype):
        dtypes = [t.dtype for t in self._graph.outputs]
        return dtypes if self._outputs_as_list else dtypes[0]

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, dict) and self._graph is not None and not self._subclassed:
            items = self._inputs_from_dict(inputs)
            inputs = items if self._inputs_as_list else items[0]
        out = Layer.__call__(self, inputs, *args, **kwargs)
        if self._output_keys and isinstance(out, list):  # symbolic: KerasTensors by key
            out = dict(zip(self._output_keys, out))
        return out

    _masks_inside = True       # the graph's own layers carry the masks (Keras' Functional)

    def _may_produce_mask(self):
        g = self._graph
        return g is not None and any(t._keras_mask is not None for t in g.outputs)

    def call(self, inputs, training=False, mask=None):
        if isinstance(inputs, dict):
            inputs = self._inputs_from_dict(inputs)
        xs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if mask is not None:            # as Keras' Functional.call: the masks go onto the inputs
            for x, m in zip(xs, flatten(mask)):
                if m is not None:
                    set_keras_mask(x, m)
        outs = self._require_graph("run").plan.run(xs, training)
        return self._pack_outputs(outs)

    # --- configs ----------------------------------------------------------------------------
    def get_config(self):
        if self._subclassed:
            raise NotImplementedError(
                f"{self._who()}: a subclassed model has no architecture config in dptrain yet, so "
                f"model.save / get_config cannot describe it; use save_weights / load_weights")
        g = self._require_graph("describe its architecture")
        local = {}
        for n in g.nodes:
            local[n.id] = sum(1 for m in g.nodes if m.layer is n.layer and m.id < n.id)

        def ref(t):
            return [t.node.layer.name, local[t.node.id], t.index]

        layers = [{"class_name": type(layer).__name__, "config": layer.get_config()} for layer in g.layers]
        nodes = [{"layer": n.layer.name, "inputs": [ref(t) for t in n.inputs], "as_list": n.as_list,
                  **_call_arguments_config(n)} for n in g.nodes if not isinstance(n.layer, InputLayer)]
        return {"name": self.name, "trainable": self.trainable, "layers": layers, "nodes": nodes,
                "inputs": [ref(t) for t in g.inputs], "outputs": [ref(t) for t in g.outputs],
                "inputs_as_list": self._inputs_as_list, "outputs_as_list": self._outputs_as_list,
                "input_keys": self._input_keys, "output_keys": self._output_keys}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        layers = {}
        for entry in config["layers"]:
            layer_cls = lookup(entry["class_name"], custom_objects)
            layer = layer_cls.from_config(dict(entry["config"]), custom_objects) \
                if issubclass(layer_cls, Model) else layer_cls.from_config(dict(entry["config"]))
            layers[layer.name] = layer
        produced = {}
        for layer in layers.values():
            if isinstance(layer, InputLayer):
                produced[(layer.name, 0)] = [layer._inbound_nodes[0].outputs[0]]
        counts = {}

        def get(ref):
            name, node, index = ref
            try:
                return produced[(name, node)][index]
            except (KeyError, IndexError):
                raise ValueError(f"model config: node input {ref} refers to a tensor not produced "
                                 f"earlier in the config") from None

        for n in config["nodes"]:
            layer = layers.get(n["layer"])
            if layer is None:
                raise ValueError(f"model config: node refers to an unknown layer {n['layer']!r}")
            ins = [get(r) for r in n["inputs"]]
            n_main = n.get("n_main", len(ins))
            args, kwargs = bind_inputs(_from_json(n.get("args", [])), _from_json(n.get("kwargs", {})), ins)
            out = layer(ins[:n_main] if n["as_list"] else ins[0], *args, **kwargs)
            k = counts.get(layer.name, 0)
            counts[layer.name] = k + 1
            produced[(layer.name, k)] = out if isinstance(out, list) else [out]
        inputs = [get(r) for r in config["inputs"]]
        outputs = [get(r) for r in config["outputs"]]
        if config.get("input_keys"):
            inputs = dict(zip(config["input_keys"], inputs))
        elif not config["inputs_as_list"]:
            inputs = inputs[0]
        if config.get("output_keys"):
            outputs = dict(zip(config["output_keys"], outputs))
        elif not config["outputs_as_list"]:
            outputs = outputs[0]
        return Model(inputs, outputs,
                     name=config["name"], trainable=config.get("trainable", True))

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} layers={len(self.layers)}>"


def _call_arguments_config(node):
    """The further arguments of a node's call, for its config: KerasTensors as their input index
    ({"__node_input__": k}); only JSON values (numbers, strings, None, lists, dicts) otherwise."""
    def plain(v):
        if isinstance(v, InputRef):
            return {"__node_input__": v.index}
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict) and all(isinstance(k, str) for k in v):
            return {k: plain(x) for k, x in v.items()}
        raise NotImplementedError(f"model config: layer '{node.layer.name}' was called with an argument of type "
                                  f"{type(v).__name__}, which a model config cannot hold (numbers, strings, "
                                  f"lists and symbolic tensors can)")
    out = {}
    if len(node.inputs) > node.n_main:
        out["n_main"] = node.n_main
    if node.args:
        out["args"] = plain(list(node.args))
    if node.kwargs:
        out["kwargs"] = plain(node.kwargs)
    return out


def _from_json(v):
    if isinstance(v, dict):
        if set(v) == {"__node_input__"}:
            return InputRef(v["__node_input__"])
        return {k: _from_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_from_json(x) for x in v]
    return v


def is_symbolic(x):
    return any(isinstance(t, KerasTensor) for t in flatten(x))
