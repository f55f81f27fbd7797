"""Shape mismatches are ValueErrors at model build time, naming the layer and both shapes."""
import numpy as np
import pytest

import dptrain as dt
from dptrain import layers as L


def test_shared_dense_called_on_another_feature_size():
    d = L.Dense(4, name="shared")
    d(dt.Input((8,)))
    with pytest.raises(ValueError, match=r"Dense layer 'shared'.*\(None, 5\).*expected \(None, 8\)"):
        d(dt.Input((5,)))


def test_sequential_add_reports_mismatch_immediately():
    model = dt.Sequential([L.Dense(4, input_shape=(3,)), L.Flatten()])
    with pytest.raises(ValueError, match=r"Conv2D layer 'c'.*\(None, 4\)"):
        model.add(L.Conv2D(2, 3, name="c"))
    assert len(model.layers) == 2          # the failing layer was not added


@pytest.mark.parametrize("layer,shape,pattern", [
    (lambda: L.Conv2D(2, 3, name="c2"), (5, 5), r"Conv2D layer 'c2'.*\(None, 5, 5\).*rank 4"),
    (lambda: L.Conv2D(2, 7, name="c2"), (5, 5, 1), r"Conv2D layer 'c2'.*\(None, 5, 5, 1\).*does not fit"),
    (lambda: L.Conv1D(2, 3, name="c1"), (5, 5, 1), r"Conv1D layer 'c1'.*\(None, 5, 5, 1\)"),
    (lambda: L.MaxPooling2D(name="mp"), (4, 4), r"MaxPooling2D layer 'mp'.*\(None, 4, 4\)"),
    (lambda: L.MaxPooling2D(pool_size=5, name="mp"), (4, 4, 1), r"MaxPooling2D layer 'mp'.*does not fit"),
    (lambda: L.GlobalAveragePooling2D(name="g"), (4, 4), r"GlobalAveragePooling2D layer 'g'.*\(None, 4, 4\)"),
    (lambda: L.LSTM(3, name="rnn"), (4,), r"LSTM layer 'rnn'.*\(None, 4\).*\[batch, time, features\]"),
    (lambda: L.Flatten(name="f"), (None, 3), r"Flatten layer 'f'.*\(None, None, 3\)"),
])
def test_incompatible_input_shapes(layer, shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        layer()(dt.Input(shape))


def test_merge_layers_name_both_shapes():
    with pytest.raises(ValueError, match=r"Add layer 'a'.*\(None, 3\) and \(None, 4\)"):
        L.Add(name="a")([dt.Input((3,)), dt.Input((4,))])
    with pytest.raises(ValueError, match=r"Concatenate layer 'cat'.*\(None, 2, 3\), \(None, 4, 5\)"):
        L.Concatenate(name="cat")([dt.Input((2, 3)), dt.Input((4, 5))])
    with pytest.raises(ValueError, match="Add layer 'a2'.*list of at least 2 inputs"):
        L.Add(name="a2")(dt.Input((3,)))


def test_shared_recurrent_and_batchnorm_check_built_sizes():
    bn = L.BatchNormalization(name="bn")
    bn(dt.Input((6,)))
    with pytest.raises(ValueError, match=r"BatchNormalization layer 'bn'.*\(None, 5\)"):
        bn(dt.Input((5,)))
    gru = L.GRU(2, name="g")
    gru(dt.Input((3, 4)))
    with pytest.raises(ValueError, match=r"GRU layer 'g'.*\(None, 3, 5\).*\(None, None, 4\)"):
        gru(dt.Input((3, 5)))


@pytest.mark.parametrize("make,pattern", [
    (lambda: L.Dense(0), "units must be a positive integer"),
    (lambda: L.Dense(2.5), "units must be a positive integer"),
    (lambda: L.Dropout(1.0), r"rate must be a number in \[0, 1\)"),
    (lambda: L.Conv2D(3, 3, padding="full"), "padding must be 'valid' or 'same'"),
    (lambda: L.Conv2D(3, (3, 3, 3)), "kernel_size"),
    (lambda: L.Embedding(0, 3), "input_dim"),
    (lambda: L.Dense(3, input_shape=(0,)), "input_shape"),
    (lambda: L.BatchNormalization(axis=1), "axis=-1"),
    (lambda: L.Dense(3, name="a/b"), "name"),
    (lambda: dt.Input((3,), dtype="complex64"), "dtype"),
])
def test_bad_arguments(make, pattern):
    with pytest.raises((ValueError, TypeError), match=pattern):
        make()


def test_mixing_symbolic_and_data_is_an_error():
    with pytest.raises(TypeError, match="mix of symbolic inputs"):
        L.Add()([dt.Input((3,)), np.zeros((1, 3))])


def test_unbuilt_layer_weights():
    d = L.Dense(3, name="lazy")
    assert d.get_weights() == [] and not d.built
    with pytest.raises(ValueError, match="Dense layer 'lazy'.*not built"):
        d.count_params()
    with pytest.raises(ValueError, match="Dense layer 'lazy'.*not built"):
        d.set_weights([np.zeros((2, 3))])
    d(np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"weight 'lazy/kernel' has shape \(2, 3\).*\(3, 3\)"):
        d.set_weights([np.zeros((3, 3)), np.zeros(3)])
    with pytest.raises(ValueError, match="got 1 arrays.*2 weights"):
        d.set_weights([np.zeros((2, 3))])
