"""`x[...]` on a KerasTensor in a functional graph: a layer that slices (Keras' GetItem op)."""
from __future__ import annotations

from engine import ops

from .base import Layer, register


def _encode(index):
    """A Python index as config data: ints, None, Ellipsis and slices."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for it in items:
        if isinstance(it, slice):
            out.append(["slice", it.start, it.stop, it.step])
        elif it is Ellipsis:
            out.append(["..."])
        elif it is None or (isinstance(it, int) and not isinstance(it, bool)):
            out.append(it)
        else:
            raise NotImplementedError(f"KerasTensor indexing with {type(it).__name__} is not supported; use ints, "
                                      f"slices, None and ...")
    return out


def _decode(items):
    out = []
    for it in items:
        if isinstance(it, list) and it and it[0] == "slice":
            out.append(slice(*it[1:]))
        elif isinstance(it, list) and it == ["..."]:
            out.append(Ellipsis)
        else:
            out.append(it)
    return tuple(out)


@register
class GetItem(Layer):
    """y = x[index]: ints, slices, None and Ellipsis, as numpy indexes (the batch axis included)."""
    _op_node = True     # a Keras operation, not a layer: masks neither pass through it nor warn

    def __init__(self, index, **kwargs):
        super().__init__(**kwargs)
        self.index = _decode(index) if isinstance(index, list) else (index if isinstance(index, tuple) else (index,))
        self._encoded = _encode(self.index)

    def call(self, x):
        return ops.getitem(x, self.index)

    def get_config(self):
        return {**super().get_config(), "index": self._encoded}
