"""Bad data and bad compile arguments: clear errors before any training, naming the argument."""
import numpy as np
import pytest

import dptrain as dt
from dptrain import layers as L


@pytest.fixture
def model():
    m = dt.Sequential([L.Dense(4, activation="relu", input_shape=(5,)), L.Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


@pytest.fixture
def data(rng):
    return rng.standard_normal((12, 5)).astype(np.float32), rng.integers(0, 3, 12)


def _unchanged(model, before):
    return all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize("mutate,pattern", [
    (lambda x, y: (x[:, :4], y), r"x \(input '.*'\): expected data of shape \(None, 5\), got .*\(12, 4\)"),
    (lambda x, y: (x.reshape(12, 5, 1), y), r"x \(input '.*'\).*\(None, 5\)"),
    (lambda x, y: (np.where(np.arange(60).reshape(12, 5) == 7, np.nan, x), y), r"x \(input '.*'\): contains NaN"),
    (lambda x, y: (x.astype(str), y), r"x \(input '.*'\): must be numeric"),
    (lambda x, y: (x, y[:10]), r"y: has 10 samples but x has 12"),
    (lambda x, y: (x, np.where(np.arange(12) == 3, 7, y)), r"y: label 7 is out of range for the 3 classes"),
    (lambda x, y: (x, np.where(np.arange(12) == 3, -1, y)), r"y: label -1 is out of range"),
    (lambda x, y: (x, y + 0.5), r"y: .*integer class labels"),
    (lambda x, y: (x, np.where(np.arange(12) == 3, np.nan, y.astype(float))), r"y: labels contain NaN"),
    (lambda x, y: (x, np.eye(3)[y][:, :, None]), r"y: integer labels have shape \(12, 3, 1\)"),
    (lambda x, y: ([x, x], y), r"x: the model has 1 input\(s\).*list of 2"),
    (lambda x, y: (x, None), r"y: no targets given"),
    (lambda x, y: (x[:0], y[:0]), r"fit: there are 0 training samples"),
])
def test_bad_fit_data_fails_before_training(model, data, mutate, pattern):
    x, y = mutate(*data)
    before = model.get_weights()
    with pytest.raises((ValueError, TypeError), match=pattern):
        model.fit(x, y, epochs=1, verbose=0)
    assert _unchanged(model, before)


def test_loss_specific_target_checks(rng):
    x = rng.standard_normal((6, 5)).astype(np.float32)
    m = dt.Sequential([L.Dense(3, activation="softmax", input_shape=(5,))])
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="use loss='sparse_categorical_crossentropy' for integer labels"):
        m.fit(x, rng.integers(0, 3, 6), verbose=0)
    with pytest.raises(ValueError, match=r"one-hot targets have shape \(6, 4\).*\(None, 3\)"):
        m.fit(x, np.eye(4)[rng.integers(0, 4, 6)], verbose=0)
    b = dt.Sequential([L.Dense(1, activation="sigmoid", input_shape=(5,))])
    b.compile(optimizer="sgd", loss="binary_crossentropy")
    with pytest.raises(ValueError, match=r"y: 'binary_crossentropy' targets must lie in \[0, 1\]"):
        b.fit(x, np.arange(6.0), verbose=0)
    r = dt.Sequential([L.Dense(2, input_shape=(5,))])
    r.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"y: targets have shape \(6, 3\).*\(None, 2\).*'mse'"):
        r.fit(x, np.zeros((6, 3)), verbose=0)
    with pytest.raises(ValueError, match="y: targets contain NaN"):
        r.fit(x, np.full((6, 2), np.inf), verbose=0)


def test_validation_data_and_weights_are_checked(model, data):
    x, y = data
    with pytest.raises(ValueError, match=r"validation_data x \(input '.*'\): expected data of shape \(None, 5\)"):
        model.fit(x, y, validation_data=(x[:, :2], y), verbose=0)
    with pytest.raises(ValueError, match="validation_data y: label 11 is out of range"):
        model.fit(x, y, validation_data=(x, y + 9), verbose=0)
    with pytest.raises(ValueError, match=r"validation_data: must be a tuple \(x_val, y_val\)"):
        model.fit(x, y, validation_data=x, verbose=0)
    with pytest.raises(ValueError, match=r"sample_weight: must have shape \(12,\)"):
        model.fit(x, y, sample_weight=np.ones(5), verbose=0)
    with pytest.raises(ValueError, match="sample_weight: weights must be finite and >= 0"):
        model.fit(x, y, sample_weight=-np.ones(12), verbose=0)
    with pytest.raises(ValueError, match=r"class_weight: no weight for class\(es\)"):
        model.fit(x, y, class_weight={0: 1.0}, verbose=0)
    with pytest.raises(ValueError, match=r"validation_split: must be a number in \[0, 1\)"):
        model.fit(x, y, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="batch_size: must be a positive integer"):
        model.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="epochs must be an integer >= 0"):
        model.fit(x, y, epochs=-1, verbose=0)
    with pytest.raises(ValueError, match="verbose must be 0"):
        model.fit(x, y, verbose=3)


def test_multi_input_errors_name_the_input(rng):
    a, b = dt.Input((3,), name="left"), dt.Input((2,), name="right")
    m = dt.Model([a, b], L.Dense(1)(L.Concatenate()([a, b])))
    m.compile(optimizer="sgd", loss="mse")
    xa, xb, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2)), np.zeros((4, 1))
    with pytest.raises(ValueError, match=r"x \(input 'right'\): expected data of shape \(None, 2\)"):
        m.fit([xa, xa], y, verbose=0)
    with pytest.raises(ValueError, match=r"x: the model has 2 inputs \['left', 'right'\]"):
        m.fit(xa, y, verbose=0)
    with pytest.raises(ValueError, match=r"missing \['right'\]"):
        m.fit({"left": xa}, y, verbose=0)
    with pytest.raises(ValueError, match="different numbers of samples"):
        m.fit([xa, xb[:3]], y, verbose=0)


def test_integer_inputs_and_token_ranges(rng):
    tok = dt.Input((4,), dtype="int32", name="tokens")
    m = dt.Model(tok, L.Dense(1)(L.Flatten()(L.Embedding(5, 2, name="emb")(tok))))
    m.compile(optimizer="sgd", loss="mse")
    y = np.zeros((3, 1))
    with pytest.raises(ValueError, match=r"Embedding layer 'emb': token 5 in x \(input 'tokens'\).*input_dim=5"):
        m.fit(np.array([[0, 1, 2, 3], [4, 4, 4, 5], [0, 0, 0, 0]]), y, verbose=0)
    with pytest.raises(ValueError, match=r"x \(input 'tokens'\): the input has dtype int32.*fractional"):
        m.fit(np.full((3, 4), 0.5), y, verbose=0)
    m.fit(np.ones((3, 4)), y, verbose=0)        # integral floats are fine


@pytest.mark.parametrize("kwargs,pattern", [
    ({"optimizer": "ftrl", "loss": "mse"}, "unknown optimizer 'ftrl'"),
    ({"optimizer": "sgd", "loss": "hinje"}, "unknown loss 'hinje'"),
    ({"optimizer": "sgd", "loss": "mse", "metrics": ["f1"]}, "unknown metric 'f1'"),
    ({"optimizer": "sgd"}, "loss is required"),
    ({"optimizer": "sgd", "loss": ["mse", "mse"]}, r"loss has 2 entries but the model has 1 output"),
    ({"optimizer": "sgd", "loss": {"nope": "mse"}}, r"keys \['nope'\] that are not output names"),
    ({"optimizer": "sgd", "loss": "mse", "loss_weights": [-1.0]}, "loss_weights.*>= 0"),
    ({"optimizer": 3, "loss": "mse"}, "optimizer name"),
])
def test_compile_errors(kwargs, pattern):
    m = dt.Sequential([L.Dense(2, input_shape=(3,))])
    with pytest.raises((ValueError, TypeError), match=pattern):
        m.compile(**kwargs)


def test_unknown_names_are_checked_even_before_the_model_is_built():
    m = dt.Sequential([L.Dense(2)])
    with pytest.raises(ValueError, match="unknown loss 'msee'"):
        m.compile(optimizer="sgd", loss="msee")


def test_fit_before_compile(rng):
    m = dt.Sequential([L.Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match="must be compiled first"):
        m.fit(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="must be compiled first"):
        m.evaluate(np.zeros((2, 3)), np.zeros((2, 2)), return_dict=True)
    assert m.predict(np.zeros((2, 3))).shape == (2, 2)      # predict needs no compile


def test_fit_with_nothing_left_after_validation_split(model, data):
    x, y = data
    with pytest.raises(ValueError, match=r"validation_split=0.99 leaves 0 training"):
        model.fit(x[:1], y[:1], validation_split=0.99, verbose=0)
