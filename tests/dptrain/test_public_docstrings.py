"""Every public class and function a user reaches through the dptrain namespaces has a docstring
(the API reference of the documentation site is built from them)."""
import inspect

import pytest

import dptrain as dt

NAMESPACES = {"dt": dt, "dt.layers": dt.layers, "dt.ag": dt.ag, "dt.distributed": dt.distributed,
              "dt.optimizers": dt.optimizers, "dt.losses": dt.losses, "dt.metrics": dt.metrics,
              "dt.callbacks": dt.callbacks, "dt.utils": dt.utils, "dt.initializers": dt.initializers,
              "dt.regularizers": dt.regularizers, "dt.constraints": dt.constraints, "dt.ops": dt.ops,
              "dt.saving": dt.saving, "dt.config": dt.config}


@pytest.mark.parametrize("name", sorted(NAMESPACES))
def test_public_names_have_docstrings(name):
    mod = NAMESPACES[name]
    public = getattr(mod, "__all__", None) or [n for n in dir(mod) if not n.startswith("_")]
    missing = [n for n in public if (inspect.isclass(getattr(mod, n, None)) or inspect.isfunction(getattr(mod, n, None)))
               and not (getattr(mod, n).__doc__ or "").strip()]
    assert not missing, f"{name}: no docstring on {missing}"
