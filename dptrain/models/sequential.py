"""Sequential: a linear stack of layers, a thin front over the functional graph.

As soon as the input shape is known (the first layer's input_shape=, an added
dt.Input, build(), or the first data seen by fit/predict) each added layer is
called on the previous output, so shape errors surface at add() time.
"""
from __future__ import annotations

from ..layers.base import Layer, check_shape_arg, lookup, register
from ..layers.input import Input, InputLayer, KerasTensor
from .functional import Model


@register
class Sequential(Model):
    """A linear stack of layers, as `keras.Sequential`.

    Args:
        layers: a list of layers (a `dt.Input(...)` first, or `input_shape=` on the first
            layer, fixes the input shape; otherwise the first data seen builds the model).
        name: the model's name.

    `add(layer)` appends a layer, `pop()` removes the last one; everything else (compile,
    fit, evaluate, predict, summary, save) is the Model's.

    Example:
        ```python
        model = dt.Sequential([dt.Input((64,)), dt.layers.Dense(32, activation="relu"),
                               dt.layers.Dense(10, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        ```
    """

    def __init__(self, layers=None, name=None, trainable=True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._stack = []
        self._input = None        # the KerasTensor the stack starts from
        self._last = None         # the stack's current output
        for layer in layers or ():
            self.add(layer)

    @property
    def layers(self):
        return list(self._stack)

    def _sublayers(self):
        return list(self._stack)

    def add(self, layer):
        if isinstance(layer, KerasTensor) or isinstance(layer, InputLayer):
            kt = layer if isinstance(layer, KerasTensor) else layer._inbound_nodes[0].outputs[0]
            if self._stack or self._input is not None:
                raise ValueError(f"{self._who()}: an Input can only be added first")
            if not isinstance(kt.node.layer, InputLayer):
                raise TypeError(f"{self._who()}: add() takes layers or a dt.Input, got the output of "
                                f"layer '{kt.node.layer.name}'")
            self._input = self._last = kt
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"{self._who()}: add() takes a layer, got {type(layer).__name__}")
        if any(existing is layer for existing in self._stack):
            raise ValueError(f"{self._who()}: layer '{layer.name}' is already in this model")
        if self._input is None and not self._stack and layer._input_shape_arg is not None:
            self._input = self._last = Input(layer._input_shape_arg,
                                             dtype=getattr(layer, "input_dtype", "float32"))
        if self._last is not None:
            out = layer(self._last)          # builds the layer and checks its input shape now
            if isinstance(out, list):
                raise ValueError(f"{self._who()}: layer '{layer.name}' has several outputs; "
                                 f"use the functional API for it")
            self._last = out
            self._stack.append(layer)
            self._set_graph(self._input, self._last)
        else:
            self._stack.append(layer)

    def pop(self, rebuild=True):
        """Remove the last layer (and return it), as Keras' `Sequential.pop`."""
        if not self._stack:
            raise TypeError(f"{self._who()}: there are no layers in the model to pop")
        layer = self._stack[-1]
        keep, self._stack = self._stack[:-1], []
        self._last = self._input
        if self._input is None or not keep:
            self._stack = keep
            self._graph = None
            self._graph_changed()
        else:
            for kept in keep:
                self.add(kept)
        return layer

    def build(self, input_shape=None, dtype="float32"):
        """Build from `input_shape` (the batch axis, first, is dropped: (None, 784) or (784,) with batch)."""
        if self._graph is not None:
            return
        if input_shape is None:
            raise ValueError(f"{self._who()}: build() needs an input_shape")
        shape = tuple(input_shape)
        if shape and shape[0] is None:
            shape = shape[1:]
        shape = check_shape_arg(shape, self._who())
        layers, self._stack = self._stack, []
        if not layers:
            raise ValueError(f"{self._who()}: has no layers to build")
        self._input = self._last = Input(shape, dtype=dtype)
        for layer in layers:
            self.add(layer)

    def _build_from_data(self, arrays):
        """Deferred build from the first data seen (fit/predict/evaluate)."""
        if self._graph is None and self._stack:
            a = arrays[0]
            self.build((None,) + tuple(a.shape[1:]), dtype="int32" if a.dtype.kind in "iu" else "float32")

    def get_config(self):
        cfg = {"name": self.name, "trainable": self.trainable,
               "layers": [{"class_name": type(x).__name__, "config": x.get_config()} for x in self._stack]}
        if self._input is not None:
            cfg["input_shape"] = list(self._input.shape[1:])
            cfg["input_dtype"] = self._input.dtype
            cfg["input_name"] = self._input.node.layer.name
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        model = cls(name=config["name"], trainable=config.get("trainable", True))
        if "input_shape" in config:
            model.add(Input(tuple(config["input_shape"]), dtype=config.get("input_dtype", "float32"),
                            name=config.get("input_name")))
        for entry in config["layers"]:
            layer_cls = lookup(entry["class_name"], custom_objects)
            if issubclass(layer_cls, Model):
                model.add(layer_cls.from_config(dict(entry["config"]), custom_objects))
            else:
                model.add(layer_cls.from_config(dict(entry["config"])))
        return model
