"""`keras.saving`: registering custom classes for `load_model`, and the save/load entry points.

`@register_keras_serializable(package="MyLayers")` on a custom layer (or model, or any class
with get_config/from_config) makes `load_model` rebuild it from its config, as in Keras.
dptrain's configs name classes by their class name, so two registered classes may not share
one; registering a class of the same name again (a re-run notebook cell) replaces it.
"""
from __future__ import annotations

import contextlib
import os

from .layers import base as _base

__all__ = ["CustomObjectScope", "custom_object_scope", "get_custom_objects", "get_registered_name",
           "get_registered_object", "load_model", "register_keras_serializable", "save_model"]

_REGISTERED = {}         # "package>name" -> object, as Keras keys them
_NAMES = {}              # id(object) -> "package>name"
_SCOPES = []             # custom_object_scope stack


def register_keras_serializable(package="Custom", name=None):
    """Decorator: register a class (or function) under "package>name" (name: its __name__) so that
    load_model and deserialization find it."""
    if not isinstance(package, str) or not package:
        raise ValueError(f"register_keras_serializable: package must be a non-empty string, got {package!r}")

    def decorator(obj):
        registered = obj.__name__ if name is None else name
        if not isinstance(registered, str) or not registered:
            raise ValueError(f"register_keras_serializable: name must be a non-empty string, got {name!r}")
        if isinstance(obj, type) and not hasattr(obj, "get_config"):
            raise ValueError(f"register_keras_serializable: Cannot register a class that does not have a "
                             f"get_config() method: {obj.__name__}")
        key = f"{package}>{registered}"
        old = _base._REGISTRY.get(obj.__name__) if isinstance(obj, type) else None
        if old is not None and old is not obj and old.__module__.startswith("dptrain."):
            # checked before anything is registered: a refused class must leave no trace
            raise ValueError(f"register_keras_serializable: {obj.__name__!r} is the name of dptrain's "
                             f"{old.__module__}.{old.__name__}; give your class another name")
        _REGISTERED[key] = obj
        _NAMES[id(obj)] = key
        if isinstance(obj, type):
            # model configs name classes by __name__: a class of the same name registered again (a
            # re-run notebook cell) replaces the old one
            if old is not None and old is not obj:
                del _base._REGISTRY[obj.__name__]
            _base.register(obj)
        return obj
    return decorator


def get_registered_name(obj):
    """"package>name" of a registered object, else its __name__."""
    return _NAMES.get(id(obj), getattr(obj, "__name__", type(obj).__name__))


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object registered (or given in a custom_object_scope / custom_objects / module_objects)
    under `name` ("package>name" or a plain class name), or None."""
    for table in [custom_objects or {}] + _SCOPES[::-1] + [_REGISTERED, module_objects or {}]:
        if name in table:
            return table[name]
    for key, obj in _REGISTERED.items():
        if key.split(">", 1)[-1] == name or getattr(obj, "__name__", None) == name:
            return obj
    return None


def get_custom_objects():
    """The registry of custom objects ("package>name" -> object); adding to it registers the entry."""
    return _REGISTERED


@contextlib.contextmanager
def custom_object_scope(custom_objects):
    """`with custom_object_scope({"MyLayer": MyLayer}): load_model(...)`: the objects are found by name inside."""
    if not isinstance(custom_objects, dict):
        raise TypeError(f"custom_object_scope: expected a dict name -> object, got {type(custom_objects).__name__}")
    _SCOPES.append(dict(custom_objects))
    try:
        yield
    finally:
        _SCOPES.pop()


CustomObjectScope = custom_object_scope


def _all_custom_objects(custom_objects):
    """Every custom object by plain name, for the model loader: registered, then scopes, then the argument."""
    merged = {}
    for key, obj in _REGISTERED.items():
        merged[key.split(">", 1)[-1]] = obj
        if getattr(obj, "__name__", None):
            merged[obj.__name__] = obj
    for scope in _SCOPES:
        merged.update(scope)
    merged.update(custom_objects or {})
    return merged


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Rebuild a model saved with model.save() / save_model. custom_objects: {name: class} for custom
    layers that are not registered. safe_mode is accepted: dptrain's file format never runs code."""
    from .models.saving import load_model as _load
    return _load(filepath, custom_objects=_all_custom_objects(custom_objects), compile=compile)


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """model.save(filepath, **kwargs); with overwrite=False an existing file is an error."""
    if zipped is not None:
        raise NotImplementedError("save_model: zipped= is not supported by dptrain (its files are never zip archives)")
    if not overwrite and os.path.exists(os.fspath(filepath)):
        raise FileExistsError(f"save_model: {os.fspath(filepath)} exists and overwrite=False")
    model.save(filepath, **kwargs)
