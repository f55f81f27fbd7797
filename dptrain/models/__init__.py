"""Models: the functional Model, Sequential, training, saving."""
from .functional import Model
from .saving import load_model, save_model
from .sequential import Sequential
from .strategy import SingleProcessStrategy, current_strategy, set_strategy

__all__ = ["Model", "Sequential", "SingleProcessStrategy", "clone_model", "current_strategy", "load_model",
           "save_model", "set_strategy"]


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs):
    """A new model of the same architecture with freshly initialised weights (Keras' clone_model),
    rebuilt from `model.get_config()`; it is not compiled."""
    for name, value in (("input_tensors", input_tensors), ("clone_function", clone_function),
                        ("call_function", call_function)):
        if value is not None:
            raise NotImplementedError(f"clone_model: {name}= is not supported by dptrain yet")
    if recursive or kwargs:
        raise NotImplementedError(f"clone_model: {'recursive=True' if recursive else sorted(kwargs)[0]} is not "
                                  f"supported by dptrain yet")
    return type(model).from_config(model.get_config())
