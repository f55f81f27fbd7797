"""Merging layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot) and their
functional forms: numpy float64 references, Keras broadcasting, shapes, configs, save/load,
gradients and errors."""
import numpy as np
import pytest

import dptrain as dt
from dptrain import layers as L
from dptrain.layers import merge


def _keras_align(arrays):
    """Keras' rank alignment: a lower-rank input gains unit axes right after its batch axis."""
    rank = max(a.ndim for a in arrays)
    return [a.reshape(a.shape[:1] + (1,) * (rank - a.ndim) + a.shape[1:]) for a in arrays]


def _fold(fn):
    def ref(arrays):
        arrays = _keras_align([np.asarray(a, np.float64) for a in arrays])
        out = arrays[0]
        for a in arrays[1:]:
            out = fn(out, a)
        return out
    return ref


ELEMENTWISE = {
    "Add": _fold(np.add),
    "Subtract": _fold(np.subtract),
    "Multiply": _fold(np.multiply),
    "Average": lambda arrays: _fold(np.add)(arrays) / len(arrays),
    "Maximum": _fold(np.maximum),
    "Minimum": _fold(np.minimum),
}
FUNCTIONAL = {"Add": merge.add, "Subtract": merge.subtract, "Multiply": merge.multiply, "Average": merge.average,
              "Maximum": merge.maximum, "Minimum": merge.minimum}

# input shapes without the batch axis, and the output shape Keras gives
BROADCASTS = [
    ([(4, 3), (4, 3)], (None, 4, 3)),
    ([(4, 3), (1, 3)], (None, 4, 3)),
    ([(4, 3), (3,)], (None, 4, 3)),          # (batch, 3) -> (batch, 1, 3)
    ([(4, 1), (4, 3)], (None, 4, 3)),
    ([(2, 4, 3), (4, 1), (3,)], (None, 2, 4, 3)),
]


def _arrays(shapes, rng, n=3):
    return [rng.standard_normal((n,) + s).astype(np.float32) for s in shapes]


ELEMENTWISE_CASES = [pytest.param(name, shapes, out, id=f"{name}-{shapes}") for name in sorted(ELEMENTWISE)
                     for shapes, out in BROADCASTS if name != "Subtract" or len(shapes) == 2]


@pytest.mark.parametrize("name,shapes,out_shape", ELEMENTWISE_CASES)
def test_elementwise_forward_and_shapes(name, shapes, out_shape, rng):
    cls = getattr(L, name)
    assert cls()([dt.Input(s) for s in shapes]).shape == out_shape               # symbolic
    xs = _arrays(shapes, rng)
    y = cls()(xs).numpy()                                                        # eager
    assert y.shape == (3,) + out_shape[1:]
    np.testing.assert_allclose(y, ELEMENTWISE[name](xs), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_functional_form_builds_the_layer(name, rng):
    xs = _arrays([(2, 3), (2, 3)], rng)
    kts = [dt.Input((2, 3)), dt.Input((2, 3))]
    out = FUNCTIONAL[name](kts, name=f"f_{name.lower()}")
    assert out.shape == (None, 2, 3)
    model = dt.Model(kts, out)
    assert type(model.layers[-1]) is getattr(L, name) and model.layers[-1].name == f"f_{name.lower()}"
    np.testing.assert_allclose(model.predict(xs, verbose=0), ELEMENTWISE[name](xs), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(FUNCTIONAL[name](xs).numpy(), ELEMENTWISE[name](xs), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["Add", "Multiply", "Average", "Maximum", "Minimum"])
def test_three_inputs_and_a_single_input_list(name, rng):
    xs = _arrays([(5,), (5,), (5,)], rng)
    np.testing.assert_allclose(getattr(L, name)()(xs).numpy(), ELEMENTWISE[name](xs), rtol=1e-6, atol=1e-6)
    assert getattr(L, name)()([dt.Input((5,))]).shape == (None, 5)          # Keras accepts a 1-list
    np.testing.assert_array_equal(getattr(L, name)()(xs[:1]).numpy(), xs[0])


def test_maximum_and_minimum_ties_split_the_gradient_like_torch():
    a = dt.ag.param(np.array([[1.0, 2.0, 3.0]]))
    b = dt.ag.param(np.array([[1.0, 0.0, 3.0]]))
    with dt.ag.grad_tape():
        y = dt.ag.sum(L.Maximum()([a, b]))
    dt.ag.backward(y)
    np.testing.assert_array_equal(np.asarray(a.grad), [[0.5, 1.0, 0.5]])
    np.testing.assert_array_equal(np.asarray(b.grad), [[0.5, 0.0, 0.5]])


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_gradcheck(name, rng):
    layer = getattr(L, name)()
    xs = [rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4))]
    assert dt.ag.gradcheck(lambda a, b: layer([a, b]), xs)


def _dot_ref(x, y, axes, normalize=False):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    a1, a2 = ([axes, axes] if isinstance(axes, int) else list(axes))
    a1, a2 = a1 % x.ndim, a2 % y.ndim
    if normalize:
        x = x / np.maximum(np.sqrt((x * x).sum(axis=a1, keepdims=True)), 1e-7)
        y = y / np.maximum(np.sqrt((y * y).sum(axis=a2, keepdims=True)), 1e-7)
    out = np.stack([np.tensordot(x[i], y[i], axes=(a1 - 1, a2 - 1)) for i in range(x.shape[0])])
    return out.reshape(out.shape[0], 1) if out.ndim == 1 else out


# axes, input shapes without batch, output shape
DOTS = [
    (1, [(4,), (4,)], (None, 1)),
    (-1, [(4,), (4,)], (None, 1)),
    ((1, 2), [(3, 5), (10, 3)], (None, 5, 10)),
    (-1, [(4, 5), (6, 5)], (None, 4, 6)),
    ((2, 2), [(2, 3, 4), (5, 3, 6)], (None, 2, 4, 5, 6)),
    ((3, 1), [(2, 3, 4), (4, 5)], (None, 2, 3, 5)),
    ((1, 1), [(4,), (4, 2)], (None, 2)),
]


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("axes,shapes,out_shape", DOTS, ids=[f"{d[0]}-{d[1]}" for d in DOTS])
def test_dot_forward_and_shapes(axes, shapes, out_shape, normalize, rng):
    layer = L.Dot(axes=axes, normalize=normalize)
    assert layer([dt.Input(s) for s in shapes]).shape == out_shape
    x, y = _arrays(shapes, rng)
    got = layer([x, y]).numpy()
    assert got.shape == (3,) + out_shape[1:]
    np.testing.assert_allclose(got, _dot_ref(x, y, axes, normalize), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(merge.dot([x, y], axes=axes, normalize=normalize).numpy(), got, rtol=1e-6)


@pytest.mark.parametrize("normalize", [False, True])
def test_dot_gradcheck(normalize, rng):
    layer = L.Dot(axes=(1, 2), normalize=normalize)
    xs = [rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 3))]
    assert dt.ag.gradcheck(lambda a, b: layer([a, b]), xs)


def test_dot_functional_default_axes_is_last(rng):
    x, y = _arrays([(4, 5), (6, 5)], rng)
    np.testing.assert_allclose(merge.dot([x, y]).numpy(), _dot_ref(x, y, -1), rtol=1e-5, atol=1e-5)


def test_concatenate_forward_functional_and_gradcheck(rng):
    xs = _arrays([(2, 3), (4, 3)], rng)
    out = merge.concatenate([dt.Input((2, 3)), dt.Input((4, 3))], axis=1)
    assert out.shape == (None, 6, 3)
    np.testing.assert_array_equal(merge.concatenate(xs, axis=1).numpy(), np.concatenate(xs, axis=1))
    np.testing.assert_array_equal(L.Concatenate()([xs[0]]).numpy(), xs[0])
    layer = L.Concatenate(axis=-1)
    assert dt.ag.gradcheck(lambda a, b: layer([a, b]), [rng.standard_normal((2, 3)), rng.standard_normal((2, 2))])


LAYERS = [lambda: L.Add(), lambda: L.Subtract(), lambda: L.Multiply(), lambda: L.Average(), lambda: L.Maximum(),
          lambda: L.Minimum(), lambda: L.Concatenate(axis=1), lambda: L.Dot(axes=(1, 1), normalize=True),
          lambda: L.Dot(axes=-1)]


@pytest.mark.parametrize("factory", LAYERS, ids=["add", "subtract", "multiply", "average", "maximum", "minimum",
                                                 "concatenate", "dot_norm", "dot"])
def test_config_round_trip_and_save_load(factory, rng, tmp_path):
    layer = factory()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    a, b = dt.Input((4,), name="a"), dt.Input((4,), name="b")
    merged = layer([a, b])
    model = dt.Model([a, b], L.Dense(2)(merged))
    xs = _arrays([(4,), (4,)], rng, n=5)
    model.save(tmp_path / "m.dpt")
    loaded = dt.load_model(tmp_path / "m.dpt")
    assert type(loaded.layers[-2]) is type(layer) and loaded.layers[-2].get_config() == layer.get_config()
    np.testing.assert_array_equal(loaded.predict(xs, verbose=0), model.predict(xs, verbose=0))


def test_merge_layers_are_exported():
    for name in merge.__all__:
        assert getattr(L, name) is getattr(merge, name)


@pytest.mark.parametrize("call,match", [
    (lambda: L.Add(name="a")([dt.Input((3,)), dt.Input((4,))]), r"Add layer 'a'.*\(None, 3\) and \(None, 4\)"),
    (lambda: L.Multiply(name="m")([dt.Input((2, 3)), dt.Input((2,))]), r"Multiply layer 'm'.*incompatible"),
    (lambda: L.Add(name="a")(dt.Input((3,))), r"Add layer 'a'.*list of at least 2 inputs"),
    (lambda: L.Subtract(name="s")([dt.Input((3,))] * 3), r"Subtract layer 's'.*exactly 2 input"),
    (lambda: L.Subtract(name="s")([dt.Input((3,))]), r"Subtract layer 's'.*exactly 2 input"),
    (lambda: L.Average(name="v")([]), r"Average layer 'v'.*at least 1"),
    (lambda: L.Maximum(name="x")([np.zeros((4, 3)), np.zeros((1, 3))]), r"Maximum layer 'x'.*batch sizes"),
    (lambda: L.Dot(axes=1, name="d")([dt.Input((4,)), dt.Input((5,))]), r"Dot layer 'd'.*size 4.*size 5"),
    (lambda: L.Dot(axes=0, name="d")([dt.Input((4,)), dt.Input((4,))]), r"Dot layer 'd'.*batch axis"),
    (lambda: L.Dot(axes=[1], name="d"), r"Dot layer 'd'.*pair"),
    (lambda: L.Dot(axes=(1, 1), name="d")([dt.Input((4,))] * 3), r"Dot layer 'd'.*exactly 2"),
    (lambda: L.Concatenate(name="c")([dt.Input((2, 3)), dt.Input((4, 5))]), r"Concatenate layer 'c'"),
])
def test_errors_name_the_layer(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_dot_axes_must_be_int_or_pair():
    with pytest.raises(TypeError, match=r"Dot layer 'd'.*int or a pair"):
        L.Dot(axes="1", name="d")
