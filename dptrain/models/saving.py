"""model.save / dt.load_model, weights-only files, and BackupAndRestore's training state.

Files use the engine's data-only checkpoint format (`ag.save`/`ag.load`: msgpack
plus raw arrays, nothing executed on load). The architecture is a JSON config;
loading rebuilds layers only from registered class names (an unknown name is an
error), then sets the weights. A model saved after compile() also holds the
compile arguments (when they are names) and the optimiser state, so training resumes.
"""
from __future__ import annotations

import json
import os
import warnings

from engine import random as _random
from engine import serialize as _serialize

from .. import losses as _losses
from .. import metrics as _metrics
from .. import optimizers as _optimizers
from ..layers.base import lookup

FORMAT = "dptrain.model"
WEIGHTS_FORMAT = "dptrain.weights"
BACKUP_FORMAT = "dptrain.backup"
VERSION = 1


def _plain(spec, kind):
    """A compile spec (loss/metrics/loss_weights) with names only, or None if it holds callables."""
    if spec is None or isinstance(spec, (str, int, float)) and not isinstance(spec, bool):
        return spec, True
    if isinstance(spec, dict):
        out = {k: _plain(v, kind) for k, v in spec.items()}
        return {k: v for k, (v, _) in out.items()}, all(ok for _, ok in out.values())
    if isinstance(spec, (list, tuple)):
        out = [_plain(v, kind) for v in spec]
        return [v for v, _ in out], all(ok for _, ok in out)
    if kind == "loss" and isinstance(spec, _losses.Loss) and _losses.serialize(spec) is not None:
        return _losses.serialize(spec), True        # Keras' {"class_name", "config"}
    if kind == "metrics" and isinstance(spec, _metrics.Metric) and _metrics.serialize(spec) is not None:
        return _metrics.serialize(spec), True
    return None, False


def _compile_state(model, include_optimizer):
    if not getattr(model, "compiled", False):
        return None, None
    loss, metrics, loss_weights, weighted = model._compile_args
    plain = [_plain(loss, "loss"), _plain(metrics, "metrics"), _plain(loss_weights, "loss_weights"),
             _plain(weighted, "metrics")]
    if not all(ok for _, ok in plain):
        warnings.warn(f"save: model '{model.name}' was compiled with a Python callable loss or metric, which a "
                      f"data-only file cannot hold; the loaded model will need compile() again", stacklevel=3)
        return None, None
    opt = model.optimizer
    cfg = {"loss": plain[0][0], "metrics": plain[1][0], "loss_weights": plain[2][0], "weighted_metrics": plain[3][0],
           "optimizer": {"class_name": type(opt).__name__, "config": opt.get_config()}}
    return cfg, (opt.state_dict() if include_optimizer else None)


def save_model(model, filepath, include_optimizer=True):
    compile_cfg, opt_state = _compile_state(model, include_optimizer)
    state = {
        "format": FORMAT, "version": VERSION,
        "class_name": type(model).__name__,
        "config": json.dumps(model.get_config()),
        "weights": model.get_weights(),
        "compile": None if compile_cfg is None else json.dumps(compile_cfg),
        "optimizer_state": opt_state,
    }
    _serialize.save(state, filepath)


def _read(filepath, fmt, who):
    state = _serialize.load(filepath, who=who)
    if not isinstance(state, dict) or state.get("format") != fmt:
        got = state.get("format") if isinstance(state, dict) else None
        raise ValueError(f"{who}: {os.fspath(filepath)} is not a {fmt!r} file"
                         + (f" (it is a {got!r} file)" if isinstance(got, str) else ""))
    if state.get("version") != VERSION:
        raise ValueError(f"{who}: {os.fspath(filepath)} has version {state.get('version')!r}; "
                         f"this dptrain reads version {VERSION}")
    return state


def _set_weights(model, weights, who, filepath):
    if not weights and not model.weights:
        return
    try:
        model.set_weights(weights)
    except ValueError as e:
        raise ValueError(f"{who}: {os.fspath(filepath)}: the saved weights do not fit the model: {e}") from None


def load_model(filepath, custom_objects=None, compile=True):
    """Rebuild a model saved with model.save(): architecture, weights, and (when saved compiled)
    compile arguments and optimiser state. custom_objects: {class name: your registered layer class}."""
    from .functional import Model
    state = _read(filepath, FORMAT, "load_model")
    cls = lookup(state["class_name"], custom_objects)
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise ValueError(f"load_model: {state['class_name']!r} is not a model class")
    try:
        config = json.loads(state["config"])
    except (TypeError, ValueError) as e:
        raise ValueError(f"load_model: {os.fspath(filepath)}: unreadable model config ({e})") from None
    model = cls.from_config(config, custom_objects)
    _set_weights(model, state["weights"], "load_model", filepath)
    if compile and state.get("compile"):
        cfg = json.loads(state["compile"])
        opt = _optimizers.from_config(cfg["optimizer"]["class_name"], cfg["optimizer"]["config"])
        model.compile(optimizer=opt, loss=cfg["loss"], metrics=cfg["metrics"], loss_weights=cfg["loss_weights"],
                      weighted_metrics=cfg.get("weighted_metrics"))
        if state.get("optimizer_state") is not None:
            opt.build(model.trainable_weights)
            opt.load_state_dict(state["optimizer_state"])
    return model


def save_weights(model, filepath):
    _serialize.save({"format": WEIGHTS_FORMAT, "version": VERSION, "names": [w.name for w in model.weights],
                     "weights": model.get_weights()}, filepath)


def load_weights(model, filepath):
    state = _read(filepath, WEIGHTS_FORMAT, "load_weights")
    _set_weights(model, state["weights"], "load_weights", filepath)


def save_training_state(model, filepath, epoch):
    opt = model.optimizer
    _serialize.save({
        "format": BACKUP_FORMAT, "version": VERSION, "epoch": int(epoch),
        "weights": model.get_weights(),
        "optimizer_state": opt.state_dict() if opt is not None else None,
        "fit_seed": str(model._fit_seed),
        "rng": json.dumps(_random.generator().bit_generator.state),
    }, filepath)


def restore_training_state(model, filepath):
    state = _read(filepath, BACKUP_FORMAT, "BackupAndRestore")
    _set_weights(model, state["weights"], "BackupAndRestore", filepath)
    if state.get("optimizer_state") is not None and model.optimizer is not None:
        model.optimizer.load_state_dict(state["optimizer_state"])
    model._fit_seed = int(state["fit_seed"])
    model._resume_epoch = int(state["epoch"]) + 1
    rng = json.loads(state["rng"])
    gen = _random.generator()
    if rng.get("bit_generator") == type(gen.bit_generator).__name__:
        gen.bit_generator.state = rng
