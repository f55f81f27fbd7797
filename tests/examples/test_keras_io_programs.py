"""The keras.io programs of examples/keras_io/ run under dptrain (few epochs) and learn: each
reaches a result an untrained model cannot (chance accuracy is 0.1 for the digits, 0.5 for two
classes, 0.25 for four departments)."""
import importlib.util
import pathlib

import pytest

pytest.importorskip("sklearn")

FOLDER = pathlib.Path(__file__).resolve().parents[2] / "examples" / "keras_io"


def _run(name, capsys, monkeypatch, **kwargs):
    monkeypatch.delenv("KERAS_IO_BACKEND", raising=False)
    monkeypatch.setattr("sys.argv", [str(FOLDER / f"{name}.py")])      # no --keras: dptrain
    spec = importlib.util.spec_from_file_location(f"keras_io_{name}", FOLDER / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.keras.__name__ == "dptrain"
    result = module.main(**kwargs)
    out = capsys.readouterr().out
    assert "train seconds:" in out and ("accuracy:" in out or "final loss:" in out)
    return result


@pytest.mark.parametrize("name,epochs,minimums", [
    ("mnist_convnet", 4, {"accuracy": 0.8}),
    ("functional_api", 3, {"accuracy": 0.8}),
    ("sequential_model", 5, {"accuracy": 0.9, "head_accuracy": 0.75}),
    ("customizing_fit", 3, {"accuracy": 0.85, "low_level_accuracy": 0.8, "test_step_accuracy": 0.85}),
    ("making_new_layers_and_models_via_subclassing", 5, {"accuracy": 0.9}),
    ("text_classification_with_transformer", 1, {"accuracy": 0.75}),
])
def test_program_learns(name, epochs, minimums, capsys, monkeypatch):
    result = _run(name, capsys, monkeypatch, epochs=epochs)
    for key, minimum in minimums.items():
        assert result[key] >= minimum, (key, result[key])


@pytest.mark.timeout(300)
def test_timeseries_classification_learns_with_its_callbacks(capsys, monkeypatch):
    result = _run("timeseries_classification_from_scratch", capsys, monkeypatch, epochs=25)
    assert result["accuracy"] >= 0.75          # the best checkpoint (ModelCheckpoint), reloaded


def test_training_with_builtin_methods(capsys, monkeypatch):
    result = _run("training_with_builtin_methods", capsys, monkeypatch, epochs=3)
    assert result["accuracy"] >= 0.85
    assert result["history_keys"] == ["loss", "sparse_categorical_accuracy", "val_loss",
                                      "val_sparse_categorical_accuracy"]
    assert result["true_positives_last_epoch"] > 0
    assert result["class5_recall"] >= 0.8
    assert result["early_stopping_epochs"] < 20 and result["checkpoints"] >= 1


def test_writing_your_own_callbacks(capsys, monkeypatch):
    result = _run("writing_your_own_callbacks", capsys, monkeypatch, epochs=12)
    assert len(result["hooks"]) == 14               # every hook of fit, evaluate and predict fired
    assert result["rates"][3] == 0.005 and result["rates"][-1] == 0.001
    assert result["mae"] < 1.6                      # predicting the mean digit gives an MAE of about 2.5
