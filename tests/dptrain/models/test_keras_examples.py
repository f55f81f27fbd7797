"""The Keras examples run as tests, with their accuracies asserted."""
import importlib.util
import pathlib

import pytest

pytest.importorskip("sklearn")

EXAMPLES = pathlib.Path(__file__).resolve().parents[3] / "examples"


def _run(name, capsys, monkeypatch):
    # as `python examples/<name>.py` would: the script's folder is first on sys.path
    monkeypatch.syspath_prepend(str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main()
    out = capsys.readouterr().out
    assert "accuracy" in out        # each example prints its result
    return result


@pytest.mark.parametrize("name,minimums", [
    ("keras_mlp_digits", {"accuracy": 0.96}),
    ("keras_cnn_digits", {"accuracy": 0.97}),
    ("keras_residual", {"accuracy": 0.96}),
    ("keras_embedding_gru", {"accuracy": 0.9}),
    ("keras_multi_input", {"accuracy": 0.95}),
    ("keras_multi_output", {"digit_accuracy": 0.95, "even_accuracy": 0.9}),
    ("keras_siamese", {"accuracy": 0.88}),
])
def test_example(name, minimums, capsys, monkeypatch):
    result = _run(name, capsys, monkeypatch)
    for key, minimum in minimums.items():
        assert result[key] >= minimum, (key, result[key])
