"""`keras.utils` names: seeding, labels, normalisation, padding, splitting, PyDataset, plot_model."""
from __future__ import annotations

import itertools
import os
import random
import warnings

import numpy as np

from engine import manual_seed
from engine.tensor import Tensor

__all__ = ["PyDataset", "Sequence", "get_file", "normalize", "pack_x_y_sample_weight", "pad_sequences", "plot_model",
           "set_random_seed", "split_dataset", "to_categorical", "unpack_x_y_sample_weight"]


def set_random_seed(seed):
    """Seed Python's `random`, numpy's global generator and dptrain's own (weights, dropout, shuffling)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"set_random_seed: seed must be an integer, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2 ** 32)
    manual_seed(int(seed))


def to_categorical(x, num_classes=None):
    """Integer class labels -> one-hot float32 rows: `[2, 0] -> [[0, 0, 1], [1, 0, 0]]`."""
    x = np.asarray(x)
    if x.dtype.kind == "f":
        if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
            raise ValueError("to_categorical: x must hold integer class labels")
        x = x.astype(np.int64)
    if x.dtype.kind not in "iu":
        raise TypeError(f"to_categorical: x must hold integer class labels, got dtype {x.dtype}")
    if x.ndim > 1 and x.shape[-1] == 1:
        x = x.reshape(x.shape[:-1])
    if x.size and x.min() < 0:
        raise ValueError(f"to_categorical: label {int(x.min())} is negative")
    n = int(x.max()) + 1 if num_classes is None and x.size else int(num_classes or 0)
    if x.size and int(x.max()) >= n:
        raise ValueError(f"to_categorical: label {int(x.max())} is out of range for num_classes={n}")
    out = np.zeros(x.shape + (n,), np.float32)
    np.put_along_axis(out, x[..., None], 1.0, axis=-1)
    return out


def normalize(x, axis=-1, order=2):
    """x divided by its `order`-norm along `axis` (zero norms left as 1): a numpy array in, a numpy
    array out; a dptrain tensor gives a tensor (Keras' ops.nn.normalize: x / max(norm, 1e-12)), with gradients."""
    if isinstance(x, Tensor):
        return _normalize_tensor(x, axis, order)
    x = np.asarray(x)
    if x.dtype.kind not in "fc":
        x = x.astype(np.float32)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, -1 if axis is None else axis)


def _normalize_tensor(x, axis, order):
    from engine import ops
    if order == 2:
        norm = ops.sqrt(ops.sum(ops.mul(x, x), axis=axis, keepdims=True))
    elif order == 1:
        norm = ops.sum(ops.abs(x), axis=axis, keepdims=True)
    else:
        raise NotImplementedError(f"normalize: order={order!r} on a tensor is not supported yet (use 1 or 2, or "
                                  f"pass a numpy array)")
    return ops.div(x, ops.clamp(norm, 1e-12, None))


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Lists of sequences -> one array [num_samples, maxlen, ...] (Keras' pad_sequences).

    Sequences longer than `maxlen` lose values at the start ("pre") or the end ("post") per
    `truncating`; shorter ones are filled with `value` before ("pre") or after ("post") per
    `padding`. maxlen=None: the longest sequence's length.
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError("pad_sequences: `sequences` must be iterable.")
    if padding not in ("pre", "post"):
        raise ValueError(f'pad_sequences: Padding type "{padding}" not understood (use "pre" or "post")')
    if truncating not in ("pre", "post"):
        raise ValueError(f'pad_sequences: Truncating type "{truncating}" not understood (use "pre" or "post")')
    if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0):
        raise ValueError(f"pad_sequences: maxlen must be None or an integer >= 0, got {maxlen!r}")
    lengths, sample_shape = [], ()
    found = False
    for s in sequences:
        try:
            lengths.append(len(s))
        except TypeError:
            raise ValueError(f"pad_sequences: `sequences` must be a list of iterables. Found non-iterable: "
                             f"{s!r}") from None
        if not found and len(s):
            sample_shape = np.asarray(s).shape[1:]
            found = True
    if maxlen is None:
        maxlen = int(np.max(lengths)) if lengths else 0
    is_text = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not is_text:
        raise ValueError(f"pad_sequences: `dtype` {dtype} is not compatible with `value`'s type: {type(value)}\n"
                         f"You should set `dtype=object` for variable length strings.")
    out = np.full((len(sequences), maxlen) + sample_shape, value, dtype=dtype)
    for i, s in enumerate(sequences):
        if not len(s) or not maxlen:
            continue
        trunc = np.asarray(s[-maxlen:] if truncating == "pre" else s[:maxlen], dtype=dtype)
        if trunc.shape[1:] != sample_shape:
            raise ValueError(f"pad_sequences: Shape of sample {trunc.shape[1:]} of sequence at position {i} is "
                             f"different from expected shape {sample_shape}")
        if padding == "post":
            out[i, :len(trunc)] = trunc
        else:
            out[i, -len(trunc):] = trunc
    return out


def _split_size(v, name, n):
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"split_dataset: Invalid `{name}` Type. Expected: int or float or None, "
                        f"Received: type({name})={type(v)}.")
    if isinstance(v, (float, np.floating)):
        if not 0 < v < 1:
            raise ValueError(f"split_dataset: `{name}` should be either a positive integer smaller than {n}, or a "
                             f"float within the range `[0, 1]`. Received: {name}={v}")
        return round(float(v) * n)
    if not 0 < v < n:
        raise ValueError(f"split_dataset: `{name}` should be either a positive integer smaller than {n}, or a "
                         f"float within the range `[0, 1]`. Received: {name}={v}")
    return int(v)


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None, preferred_backend=None):
    """Split an array, or a tuple/list/dict of arrays of one length, into (left, right) along the
    first axis, with the same structure. Sizes are sample counts (int) or fractions (float);
    one of them may be None (the complement). shuffle: a random permutation first (seeded)."""
    if preferred_backend is not None:
        raise NotImplementedError("split_dataset: preferred_backend is not supported by dptrain (the splits "
                                  "are numpy arrays)")
    if isinstance(dataset, dict):
        keys = list(dataset)
        arrays = [np.asarray(dataset[k]) for k in keys]
    elif isinstance(dataset, (list, tuple)):
        arrays = [np.asarray(a) for a in dataset]
    else:
        arrays = [np.asarray(dataset)]
    if not arrays or any(a.ndim == 0 for a in arrays):
        raise TypeError(f"split_dataset: The `dataset` argument must be an array or a list/tuple/dict of arrays "
                        f"with the same length. Received: dataset of type {type(dataset).__name__}")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"split_dataset: the arrays have different lengths {[len(a) for a in arrays]}")
    if left_size is None and right_size is None:
        raise ValueError("split_dataset: At least one of the `left_size` or `right_size` must be specified. "
                         "Received: left_size=None and right_size=None")
    left, right = _split_size(left_size, "left_size", n), _split_size(right_size, "right_size", n)
    left = n - right if left is None else left
    right = n - left if right is None else right
    if left + right > n:
        raise ValueError(f"split_dataset: The sum of `left_size` and `right_size` should be smaller than the {n}. "
                         f"Received: left_size + right_size = {left + right} and total_length = {n}")
    if left == 0 or right == 0:
        raise ValueError(f"split_dataset: With `dataset` of length={n}, `left_size`={left_size} and "
                         f"`right_size`={right_size}, one side of the split would be empty.")
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    parts = [[a[order[:left]] for a in arrays], [a[order[left:left + right]] for a in arrays]]
    if isinstance(dataset, dict):
        return tuple({k: a for k, a in zip(keys, p)} for p in parts)
    if isinstance(dataset, (list, tuple)):
        return tuple(type(dataset)(p) for p in parts)
    return parts[0][0], parts[1][0]


class PyDataset:
    """Base class of a dataset of batches, as Keras' `keras.utils.PyDataset`: subclass it with
    `__len__` (the number of batches) and `__getitem__(index)` returning batch `index` as `x`,
    `(x, y)` or `(x, y, sample_weight)`; `on_epoch_end()` runs after each epoch (to reshuffle).
    `fit(dataset, epochs=...)` reads it batch by batch. `workers` / `use_multiprocessing` /
    `max_queue_size` are accepted; dptrain reads the batches in the training thread."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _warn_if_super_not_called(self):
        missing = [a for a in ("_workers", "_use_multiprocessing", "_max_queue_size") if not hasattr(self, a)]
        if missing:
            self._workers, self._use_multiprocessing, self._max_queue_size = \
                getattr(self, "_workers", 1), getattr(self, "_use_multiprocessing", False), \
                getattr(self, "_max_queue_size", 10)
            warnings.warn("Your `PyDataset` class should call `super().__init__(**kwargs)` in its constructor. "
                          "`**kwargs` can include `workers`, `use_multiprocessing`, `max_queue_size`. Do not pass "
                          "these arguments to `fit()`, as they will be ignored.", stacklevel=3)

    @property
    def workers(self):
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value):
        self._workers = value

    @property
    def use_multiprocessing(self):
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = value

    @property
    def max_queue_size(self):
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = value

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__}: a PyDataset must implement __getitem__(self, index), "
                                  f"returning batch `index`")

    @property
    def num_batches(self):
        """The number of batches (`len(self)`), or None when the dataset is infinite."""
        if type(self).__len__ is not PyDataset.__len__:
            return len(self)
        return None

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__}: a PyDataset must implement __len__(self), the number "
                                  f"of batches per epoch")

    def __iter__(self):
        n = self.num_batches
        for index in (range(n) if n is not None else itertools.count()):
            yield self[index]

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass


Sequence = PyDataset      # Keras 3 keeps the old name


def get_file(*args, **kwargs):
    """Not available: downloads need a network, which dptrain does not assume."""
    raise NotImplementedError("get_file is not supported by dptrain: it downloads files, and dptrain makes no network "
                              "access; download the file yourself and pass its path")


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False, show_layer_names=True, rankdir="TB",
               expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False, **kwargs):
    """Draw the model's layer graph to `to_file` (png, pdf, svg) with matplotlib: one box per layer,
    arrows from each layer to the layers it feeds, inputs at the top (rankdir="TB") or on the left
    ("LR"). Returns an IPython Image of a png/jpg when IPython is there (as Keras), else None."""
    if expand_nested:
        raise NotImplementedError("plot_model: expand_nested=True is not supported yet")
    unknown = sorted(set(kwargs) - {"layer_range"})
    if unknown:
        raise TypeError(f"plot_model() got an unexpected keyword argument {unknown[0]!r}")
    if kwargs.get("layer_range") is not None:
        raise NotImplementedError("plot_model: layer_range is not supported yet")
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"plot_model: rankdir must be 'TB' or 'LR', got {rankdir!r}")
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plot_model draws the graph with matplotlib, which is not installed: install it with "
                          "`pip install matplotlib` (Keras' own renderer needs `pip install pydot` and the "
                          "graphviz program instead; dptrain uses matplotlib)") from None
    if not getattr(model, "built", True) or not getattr(model, "layers", None):
        raise ValueError("plot_model: This model has not yet been built. Build the model first by calling "
                         "`build()` or by calling the model on a batch of data.")
    names, labels, edges = _layer_graph(model, show_shapes, show_dtype, show_layer_names, show_layer_activations,
                                        show_trainable)
    rows = _depths(names, edges)
    width = max(len(r) for r in rows)
    pos = {}
    for d, row in enumerate(rows):
        for i, n in enumerate(row):
            across, down = (i + 0.5) * width / len(row), d
            pos[n] = (across, -down) if rankdir == "TB" else (down, -across)
    w_in = max(3.0, 2.6 * (width if rankdir == "TB" else len(rows)))
    h_in = max(2.0, 1.1 * (len(rows) if rankdir == "TB" else width))
    fig = Figure(figsize=(w_in, h_in))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    xs, ys = [p[0] for p in pos.values()], [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.7, max(xs) + 0.7)
    ax.set_ylim(min(ys) - 0.5, max(ys) + 0.5)
    box = dict(boxstyle="round,pad=0.4", facecolor="#eef3fb", edgecolor="#345")
    texts = {n: ax.text(*pos[n], labels[n], ha="center", va="center", fontsize=8, bbox=box) for n in names}
    out_at, in_at = ((0.5, -0.25), (0.5, 1.25)) if rankdir == "TB" else ((1.1, 0.5), (-0.1, 0.5))
    for src, dst in edges:      # from the edge of one box to the edge of the next, in box coordinates
        ax.annotate("", xy=in_at, xycoords=texts[dst], xytext=out_at, textcoords=texts[src],
                    arrowprops=dict(arrowstyle="-|>", color="#345", shrinkA=0, shrinkB=0))
    fig.savefig(os.fspath(to_file), dpi=dpi)
    if not os.fspath(to_file).lower().endswith((".png", ".jpg", ".jpeg")):
        return None
    try:
        from IPython import display
    except ImportError:
        return None
    return display.Image(filename=os.fspath(to_file))


def _input_names(spec):
    """The layer names in a functional config's node inputs ([name, node, tensor] lists, nested)."""
    if isinstance(spec, (list, tuple)):
        if len(spec) == 3 and isinstance(spec[0], str) and not isinstance(spec[1], (list, tuple)):
            return [spec[0]]
        return [n for s in spec for n in _input_names(s)]
    if isinstance(spec, dict):
        return [n for s in spec.values() for n in _input_names(s)]
    return []


def _layer_graph(model, show_shapes, show_dtype, show_names, show_activations, show_trainable):
    """(layer names in order, a label per name, edges (src, dst)) of a Sequential or functional model."""
    layers = list(model.layers)
    nodes = model.get_config().get("nodes")
    if nodes is not None:
        edges = [(src, n["layer"]) for n in nodes for src in _input_names(n["inputs"])]
    else:
        edges = list(zip([x.name for x in layers], [x.name for x in layers[1:]]))
    names = [x.name for x in layers]
    for src, dst in edges:
        for n in (src, dst):
            if n not in names:
                names.append(n)
    by_name = {x.name: x for x in layers}
    labels = {}
    for n in names:
        layer = by_name.get(n)
        kind = type(layer).__name__ if layer is not None else "Layer"
        lines = [f"{n} ({kind})" if show_names else kind]
        if layer is not None and show_shapes:
            try:
                lines.append(f"output: {tuple(layer.output.shape)}")
            except Exception:  # noqa: BLE001 - a layer without one symbolic output shows no shape
                pass
        if layer is not None and show_dtype:
            lines.append(f"dtype: {getattr(layer, 'dtype', 'float32')}")
        act = getattr(layer, "activation", None)
        if show_activations and act is not None:
            lines.append(f"activation: {getattr(act, '__name__', act)}")
        if layer is not None and show_trainable:
            lines.append(f"trainable: {getattr(layer, 'trainable', True)}")
        labels[n] = "\n".join(lines)
    return names, labels, edges


def _depths(names, edges):
    """Rows of layer names: each layer one row below the deepest layer feeding it."""
    depth = dict.fromkeys(names, 0)
    for _ in names:              # longest-path relaxation; the graph is acyclic
        changed = False
        for src, dst in edges:
            if depth[dst] < depth[src] + 1:
                depth[dst] = depth[src] + 1
                changed = True
        if not changed:
            break
    rows = [[] for _ in range(max(depth.values()) + 1)]
    for n in names:
        rows[depth[n]].append(n)
    return rows


def unpack_x_y_sample_weight(data):
    """`(x, y, sample_weight)` from `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)` (Keras' utility)."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(f"Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, "
                     f"found a tuple of {len(data)}")


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The batch a step receives: `x` (or `(x,)` for a list x), `(x, y)`, `(x, y, sample_weight)`."""
    if y is None:
        return (x,) if isinstance(x, (list, tuple)) else x
    if sample_weight is None:
        return x, y
    return x, y, sample_weight
