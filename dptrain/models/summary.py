"""model.summary(): layers, output shapes and parameter counts, as Keras prints them."""
from __future__ import annotations

from ..layers.base import format_shape
from ..layers.input import InputLayer


def _size(n_bytes):
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.2f} {unit}"
    return f"{n_bytes:.2f} B"


def _rows(model):
    """(name (type), output shape, params, connected-to) per layer."""
    g = model._graph
    sequential = type(model).__name__ == "Sequential" or getattr(model, "_subclassed", False)
    layers = model.layers
    rows = []
    for layer in layers:
        if g is None:
            shape = "?"
        else:
            shapes = [format_shape(o.shape) for n in g.nodes if n.layer is layer for o in n.outputs]
            shape = shapes[0] if len(set(shapes)) == 1 else "multiple" if shapes else "?"
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        connected = []
        if g is not None and not sequential:
            for n in g.nodes:
                if n.layer is layer and not isinstance(layer, InputLayer):
                    for t in n.inputs:
                        src = t.node.layer
                        k = [m for m in g.nodes if m.layer is src].index(t.node)
                        connected.append(f"{src.name}[{k}][{t.index}]")
        rows.append((f"{layer.name} ({type(layer).__name__})", shape, params, connected))
    return rows, sequential


def summary(model, print_fn=None, line_length=None):
    """Print the summary (through print_fn, default print); returns the parameter totals."""
    print_fn = print_fn or print
    rows, sequential = _rows(model)
    cols = [("Layer (type)", 42), ("Output Shape", 26), ("Param #", 14)]
    if not sequential:
        cols.append(("Connected to", 30))
    widths = [w for _, w in cols]
    if line_length:
        widths[-1] = max(10, line_length - sum(widths[:-1]))
    total_w = sum(widths)

    def line(values):
        out = ""
        for v, w in zip(values, widths):
            cell = f" {v}" if v != "" else ""
            out += cell.ljust(w) if len(cell) < w else cell + " "
        return out.rstrip()

    print_fn(f'Model: "{model.name}"')
    print_fn("_" * total_w)
    print_fn(line([c for c, _ in cols]))
    print_fn("=" * total_w)
    for i, (name, shape, params, connected) in enumerate(rows):
        print_fn(line([name, shape, params] + ([connected[0] if connected else ""] if not sequential else [])))
        for extra in connected[1:]:
            print_fn(line(["", "", "", extra]))
        if i + 1 < len(rows):
            print_fn("")
    print_fn("=" * total_w)
    weights = model.weights
    trainable = {id(w) for w in model.trainable_weights}
    t_n = sum(w.size for w in weights if id(w) in trainable)
    nt_n = sum(w.size for w in weights if id(w) not in trainable)
    t_b = sum(w.size * w.dtype.itemsize for w in weights if id(w) in trainable)
    nt_b = sum(w.size * w.dtype.itemsize for w in weights if id(w) not in trainable)
    print_fn(f"Total params: {t_n + nt_n:,} ({_size(t_b + nt_b)})")
    print_fn(f"Trainable params: {t_n:,} ({_size(t_b)})")
    print_fn(f"Non-trainable params: {nt_n:,} ({_size(nt_b)})")
    print_fn("_" * total_w)
    return {"total": t_n + nt_n, "trainable": t_n, "non_trainable": nt_n}
