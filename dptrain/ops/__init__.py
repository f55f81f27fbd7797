"""`dt.ops`: the Keras 3 `keras.ops` namespace over dptrain Tensors and numpy arrays, so that
code written with `from keras import ops` runs with `from dptrain import ops`.

Floating point ops compose engine primitives: they record on the tape inside
`ag.grad_tape()` (and in a layer's `call` during `fit`) and run on the current device.
Integer and boolean results (argmax, comparisons, one_hot, sort indices, ...) are computed
by numpy and have no gradient. Called on symbolic tensors (`dt.Input` and layer outputs), an
op becomes a node of the functional graph. Ops dptrain cannot compute exactly raise
NotImplementedError naming them.

Submodules as in Keras: `ops.numpy`, `ops.nn`, `ops.math`, `ops.linalg`, `ops.image`,
`ops.core`; every function of numpy, nn, math, linalg and core is also here at the top level.
"""
from . import _symbolic, core, image, linalg, math, nn, numpy
from ._base import not_implemented as _not_implemented

# The functional API: every op records a graph node when it is given KerasTensors.
for _mod, _prefix in ((core, "core."), (numpy, "numpy."), (math, "math."), (nn, "nn."), (linalg, "linalg."),
                      (image, "image.")):
    for _name in _mod.__all__:
        setattr(_mod, _name, _symbolic.symbolic_aware(getattr(_mod, _name), _prefix + _name))

from .core import *  # noqa: E402,F401,F403
from .linalg import *  # noqa: E402,F401,F403
from .math import *  # noqa: E402,F401,F403
from .nn import *  # noqa: E402,F401,F403
from .numpy import *  # noqa: E402,F401,F403


def _unstack(x, num=None, axis=0):
    """The slices of x along `axis`, as a list."""
    t = numpy.moveaxis(x, axis, 0)
    n = t.shape[0] if num is None else int(num)
    return [t[i] for i in range(n)]


unstack = _symbolic.symbolic_aware(_unstack, "unstack")

# keras.ops names dptrain does not compute: calling one raises NotImplementedError naming it.
_MISSING = {
    "associative_scan": "associative scans", "cdist": "pairwise distances (cdist)",
    "corrcoef": "correlation coefficients", "correlate": "correlate", "custom_gradient": "custom gradients",
    "fft": "Fourier transforms", "fft2": "Fourier transforms", "i0": "Bessel functions",
    "ifft2": "Fourier transforms", "irfft": "Fourier transforms", "istft": "Fourier transforms",
    "logdet": "matrix decompositions", "nanmedian": "NaN-ignoring medians", "nanpercentile": "NaN-ignoring percentiles",
    "nanquantile": "NaN-ignoring quantiles", "rearrange": "einops rearrange", "rfft": "Fourier transforms",
    "scatter": "scatter updates", "scatter_update": "scatter updates",
    "segment_max": "segment reductions other than segment_sum", "segment_min": "segment reductions other than "
    "segment_sum", "segment_prod": "segment reductions other than segment_sum", "stft": "Fourier transforms",
    "vectorize": "vectorize", "view": "dtype views", "view_as_complex": "complex tensors",
    "view_as_real": "complex tensors",
}
for _name, _what in _MISSING.items():
    globals()[_name] = _not_implemented(_name, f"{_what}: not supported by dptrain yet")
del _mod, _prefix, _name, _what


def _document_undocumented():
    """Entries without their own docstring follow keras.ops (and numpy) exactly: say so."""
    import inspect
    for _name in list(globals()):
        _fn = globals()[_name]
        if not _name.startswith("_") and inspect.isfunction(_fn) and not (_fn.__doc__ or "").strip():
            _fn.__doc__ = (f"`keras.ops.{_name}` over dptrain tensors and numpy arrays, with Keras' arguments and "
                           f"numpy's semantics; differentiable for float inputs.")


_document_undocumented()
