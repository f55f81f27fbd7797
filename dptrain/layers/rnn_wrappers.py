"""Keras 3 RNN wrappers: Bidirectional and TimeDistributed.

Both hold an inner layer whose config is nested in theirs ({"class_name", "config"}, looked up in
the layer registry on load), and whose weights are theirs: Bidirectional's are the forward
layer's then the backward layer's (Keras' order); TimeDistributed's are the inner layer's.
"""
from __future__ import annotations

import inspect

import numpy as np

from engine import ops

from .base import Layer, lookup, register

__all__ = ["Bidirectional", "TimeDistributed"]

_MERGE_MODES = ("sum", "mul", "ave", "concat", None)


def serialize_layer(layer):
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize_layer(entry, custom_objects=None, who="layer"):
    """A layer rebuilt from {"class_name", "config"} (a layer instance passes through)."""
    if isinstance(entry, Layer):
        return entry
    if not isinstance(entry, dict) or "class_name" not in entry or "config" not in entry:
        raise ValueError(f"{who}: expected a layer or a layer config {{'class_name': ..., 'config': ...}}, "
                         f"got {entry!r}")
    cls = lookup(entry["class_name"], custom_objects)
    params = inspect.signature(cls.from_config).parameters
    if "custom_objects" in params:
        return cls.from_config(dict(entry["config"]), custom_objects=custom_objects)
    return cls.from_config(dict(entry["config"]))


def _takes(layer, what):
    """Whether `layer.call` declares `what` ("mask", "training", "initial_state") or takes **kwargs."""
    params = inspect.signature(type(layer).call).parameters
    return what in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _reverse_time(y):
    return ops.getitem(y, (slice(None), np.arange(y.shape[1] - 1, -1, -1)))


def _removeprefix(s, prefix):
    return s[len(prefix):] if s.startswith(prefix) else s


@register
class Bidirectional(Layer):
    """Runs `layer` forward and a copy of it backward over [batch, time, features] and merges the
    two outputs: concat ([..., 2u]), sum, mul, ave ((y + y_rev) / 2), or None (both, as a tuple).
    The backward layer's sequence output is put back in time order before merging. A copy is made
    of `layer` (fresh weights, as Keras), named forward_<name>, and the backward one is the same
    config with go_backwards=True (named backward_<name>), unless `backward_layer` is given.

    Call: `layer(sequences, initial_state=None, mask=None, training=False)`; initial_state's first
    half goes to the forward layer, the second half to the backward one. With return_state the
    result is (output, *forward states, *backward states) ((y, y_rev, *states) for merge_mode=None).
    With return_sequences, masked steps output zeros (zero_output_for_mask on both layers, as Keras).
    `weights`: the initial weights (forward layer's, then backward layer's), set when it is built.
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        who = self._who()
        if not isinstance(layer, Layer):
            raise ValueError(f"{who}: layer must be a dptrain layer instance (e.g. LSTM(8)), got {layer!r}")
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError(f"{who}: backward_layer must be a layer instance, got {backward_layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"{who}: merge_mode must be one of 'sum', 'mul', 'ave', 'concat' or None, "
                             f"got {merge_mode!r}")
        for attr in ("go_backwards", "return_sequences", "return_state"):
            if not hasattr(layer, attr):
                raise ValueError(f"{who}: the wrapped layer {layer.name!r} has no {attr!r} attribute; wrap a "
                                 f"recurrent layer (LSTM, GRU, SimpleRNN)")
        config = layer.get_config()
        config["name"] = f"forward_{_removeprefix(layer.name, 'forward_')}"
        self.forward_layer = type(layer).from_config(config)
        if backward_layer is None:
            config = layer.get_config()
            config["go_backwards"] = True
            config["name"] = f"backward_{_removeprefix(layer.name, 'backward_')}"
            backward_layer = type(layer).from_config(config)
        self.backward_layer = backward_layer
        fwd, bwd = self.forward_layer, self.backward_layer
        if fwd.go_backwards == getattr(bwd, "go_backwards", None):
            raise ValueError(f"{who}: the forward and backward layers must have different go_backwards, got "
                             f"{fwd.go_backwards} for both")
        for attr in ("stateful", "return_sequences", "return_state"):
            if getattr(fwd, attr, False) != getattr(bwd, attr, False):
                raise ValueError(f"{who}: the forward and backward layers must have the same {attr}, got "
                                 f"{getattr(fwd, attr, False)} and {getattr(bwd, attr, False)}")
        for sub in (fwd, bwd):
            if hasattr(sub, "zero_output_for_mask"):
                sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = bool(fwd.return_sequences)
        self.return_state = bool(fwd.return_state)
        self.stateful = bool(getattr(fwd, "stateful", False))
        self._initial_weights = None if weights is None else [np.asarray(w) for w in weights]

    def _sublayers(self):
        return [self.forward_layer, self.backward_layer]

    def build(self, input_shape):
        self.forward_layer.ensure_built(input_shape)
        self.backward_layer.ensure_built(input_shape)
        if self._initial_weights is not None:
            weights, self._initial_weights = self._initial_weights, None
            half = len(weights) // 2
            self.forward_layer.set_weights(weights[:half])
            self.backward_layer.set_weights(weights[half:])

    def _split(self, shape):
        """(output shape, state shapes) of an inner layer's compute_output_shape."""
        if self.return_state:
            return tuple(shape[0]), [tuple(s) for s in shape[1:]]
        return tuple(shape), []

    def compute_output_shape(self, input_shape, initial_state_shape=None):
        out_f, st_f = self._split(self.forward_layer.compute_output_shape(input_shape))
        out_b, st_b = self._split(self.backward_layer.compute_output_shape(input_shape))
        if self.merge_mode == "concat":
            last = None if out_f[-1] is None or out_b[-1] is None else out_f[-1] + out_b[-1]
            outs = [out_f[:-1] + (last,)]
        elif self.merge_mode is None:
            outs = [out_f, out_b]
        else:
            if out_f != out_b:
                raise ValueError(f"{self._who()}: merge_mode={self.merge_mode!r} needs equal forward and "
                                 f"backward output shapes, got {out_f} and {out_b}")
            outs = [out_f]
        outs = outs + st_f + st_b
        return outs if len(outs) > 1 else outs[0]

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        out = mask if self.return_sequences else None
        masks = [out, out] if self.merge_mode is None else [out]
        if self.return_state:
            n_states = len(self.forward_layer.compute_mask(inputs, None)) - 1 \
                if hasattr(self.forward_layer, "compute_mask") else 0
            masks += [None] * (2 * n_states)
        return masks if len(masks) > 1 else masks[0]

    def _run(self, layer, x, state, mask, training):
        kwargs = {}
        if state is not None:
            kwargs["initial_state"] = state
        if mask is not None and _takes(layer, "mask"):
            kwargs["mask"] = mask
        return layer(x, training=training, **kwargs)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        fwd_state = bwd_state = None
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(states) % 2:
                raise ValueError(f"{self._who()}: initial_state must hold the forward layer's states then the "
                                 f"backward layer's (an even count), got {len(states)}")
            half = len(states) // 2
            fwd_state, bwd_state = states[:half], states[half:]
        y = self._run(self.forward_layer, sequences, fwd_state, mask, training)
        y_rev = self._run(self.backward_layer, sequences, bwd_state, mask, training)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = _reverse_time(y_rev)
        if self.merge_mode == "concat":
            out = (ops.concat([y, y_rev], axis=-1),)
        elif self.merge_mode == "sum":
            out = (ops.add(y, y_rev),)
        elif self.merge_mode == "ave":
            out = (ops.scale(ops.add(y, y_rev), 0.5),)
        elif self.merge_mode == "mul":
            out = (ops.mul(y, y_rev),)
        else:
            out = (y, y_rev)
        out = out + tuple(states)
        return out if len(out) > 1 else out[0]

    def get_config(self):
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": serialize_layer(self.forward_layer), "backward_layer": serialize_layer(self.backward_layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["layer"] = deserialize_layer(config["layer"], custom_objects, "Bidirectional")
        if config.get("backward_layer") is not None:
            config["backward_layer"] = deserialize_layer(config["backward_layer"], custom_objects, "Bidirectional")
        return cls(**config)


@register
class TimeDistributed(Layer):
    """Applies `layer` to every time slice of [batch, time, ...]: y[:, t] = layer(x[:, t]), computed as
    one call on [batch * time, ...] (time folded into the batch, then unfolded). A mask [batch, time,
    ...] is folded the same way for an inner layer that takes one, and passes through unchanged.
    Note: an inner layer with batch statistics (BatchNormalization in training) sees batch * time
    samples at once, where Keras calls it once per time step."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise ValueError(f"{self._who()}: layer must be a dptrain layer instance (e.g. Dense(8)), got "
                             f"{layer!r}")
        self.layer = layer

    def _child_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 3:
            raise self.shape_error(input_shape, "(batch, time, ...) with at least 3 axes",
                                   "TimeDistributed applies its layer to every time step")
        return (input_shape[0],) + tuple(input_shape[2:])

    def build(self, input_shape):
        self.layer.ensure_built(self._child_shape(input_shape))

    def compute_output_shape(self, input_shape):
        child = self.layer.compute_output_shape(self._child_shape(input_shape))
        if isinstance(child, list):
            raise NotImplementedError(f"{self._who()}: an inner layer with several outputs is not supported")
        return (child[0], input_shape[1]) + tuple(child[1:])

    def compute_mask(self, inputs, mask=None):
        return mask

    def call(self, inputs, training=False, mask=None):
        x = inputs
        if x.ndim < 3:
            raise self.shape_error((None,) + tuple(x.shape[1:]), "(batch, time, ...) with at least 3 axes")
        n, t = x.shape[0], x.shape[1]
        kwargs = {}
        if mask is not None and _takes(self.layer, "mask"):
            from engine.tensor import Tensor
            a = np.asarray(mask.numpy() if isinstance(mask, Tensor) else mask)
            if a.ndim < 2 or a.shape[:2] != (n, t):
                raise ValueError(f"{self._who()}: the mask must start with the input's (batch, time) = "
                                 f"{(n, t)}, got shape {a.shape}")
            kwargs["mask"] = a.reshape((n * t,) + a.shape[2:])
        y = self.layer(ops.reshape(x, (n * t,) + tuple(x.shape[2:])), training=training, **kwargs)
        if isinstance(y, (list, tuple)):
            raise NotImplementedError(f"{self._who()}: an inner layer with several outputs is not supported")
        return ops.reshape(y, (n, t) + tuple(y.shape[1:]))

    def get_config(self):
        return {**super().get_config(), "layer": serialize_layer(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["layer"] = deserialize_layer(config["layer"], custom_objects, "TimeDistributed")
        return cls(**config)
