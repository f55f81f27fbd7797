"""The tape: recording, accumulation, reuse, no_grad, deep chains, names."""
import gc
import weakref

import numpy as np
import pytest

import engine as ag


def test_gradients_keyed_by_name_and_grad_filled():
    W = ag.param(np.array([[1.0, 2.0], [3.0, 4.0]]), name="W")
    b = ag.param(np.array([0.5, -0.5]), name="b")
    x = ag.tensor(np.array([[1.0, -1.0]]))
    with ag.grad_tape():
        loss = ag.sum((x @ W + b) ** 2)
    grads = ag.backward(loss)
    assert set(grads) == {"W", "b"}
    h = np.array([[1.0, -1.0]]) @ np.array([[1.0, 2.0], [3.0, 4.0]]) + [0.5, -0.5]
    np.testing.assert_allclose(grads["b"], 2 * h[0])
    np.testing.assert_allclose(grads["W"], np.array([[1.0], [-1.0]]) @ (2 * h))
    np.testing.assert_array_equal(W.grad, grads["W"])


def test_automatic_names_are_unique():
    a, b = ag.param([1.0]), ag.param([2.0])
    assert a.name != b.name
    with ag.grad_tape():
        loss = ag.sum(a * b)
    assert set(ag.backward(loss)) == {a.name, b.name}


def test_reused_tensor_gets_both_contributions():
    x = ag.param(np.array([3.0]), name="x")
    with ag.grad_tape():
        y = x * x + x * 2.0 + ag.exp(x) * 0.0
        loss = ag.sum(y * y)  # y used twice
    g = ag.backward(loss)["x"]
    yv = 9 + 6
    np.testing.assert_allclose(g, [2 * yv * (2 * 3 + 2)])


def test_backward_replaces_grad_but_tensor_backward_accumulates():
    x = ag.param(np.array([2.0]), name="x")
    for _ in range(3):
        with ag.grad_tape():
            loss = ag.sum(x * x)
        g = ag.backward(loss)["x"]
    np.testing.assert_allclose(g, [4.0])
    x.zero_grad()
    for _ in range(3):
        with ag.grad_tape():
            loss = ag.sum(x * x)
        loss.backward()
    np.testing.assert_allclose(x.grad, [12.0])


def test_nothing_recorded_outside_a_tape_or_under_no_grad():
    x = ag.param(np.ones(3))
    y = x * 2.0
    assert y._node is None and not y.requires_grad
    with pytest.raises(RuntimeError, match="grad_tape"):
        ag.backward(ag.sum(y))
    with ag.grad_tape():
        with ag.no_grad():
            z = x * 2.0
        w = x * 3.0
    assert z._node is None
    assert w._node is not None


def test_nothing_retained_outside_a_tape():
    x = ag.param(np.ones(1000))
    t = ag.tensor(np.ones(1000))
    ref = weakref.ref(t)
    y = x * t  # not recorded: y must not keep t alive
    del t
    gc.collect()
    assert ref() is None
    assert y.shape == (1000,)


def test_ten_thousand_op_chain_does_not_recurse():
    x = ag.param(np.array([1.0]), name="x")
    with ag.grad_tape():
        y = x
        for _ in range(10000):
            y = y * 1.0001
        loss = ag.sum(y)
    g = ag.backward(loss)["x"]
    np.testing.assert_allclose(g, [1.0001 ** 10000], rtol=1e-9)


def test_graph_survives_the_with_block_and_constants_get_no_grad():
    a = ag.param(np.array([1.0, 2.0]), name="a")
    c = ag.tensor(np.array([3.0, 4.0]))
    with ag.grad_tape():
        loss = ag.sum(a * c)
    grads = ag.backward(loss)
    assert set(grads) == {"a"}
    assert c.grad is None


def test_nonscalar_backward_needs_grad():
    a = ag.param(np.array([1.0, 2.0]))
    with ag.grad_tape():
        y = a * 3.0
    with pytest.raises(ValueError, match="grad="):
        ag.backward(y)
    g = ag.backward(y, grad=np.array([1.0, 10.0]))[a.name]
    np.testing.assert_allclose(g, [3.0, 30.0])


def test_duplicate_param_names_are_an_error():
    a, b = ag.param([1.0], name="w"), ag.param([2.0], name="w")
    with ag.grad_tape():
        loss = ag.sum(a * b)
    with pytest.raises(ValueError, match="'w'"):
        ag.backward(loss)


def test_float32_grads_stay_float32_with_float64_constants():
    w = ag.param(np.ones((2, 2), np.float32))
    with ag.grad_tape():
        loss = ag.sum(w * np.full((2, 2), 0.5))
    g = ag.backward(loss)[w.name]
    assert g.dtype == np.float32 and loss.dtype == np.float32


def test_tensor_and_param_dtypes():
    assert ag.tensor([1.0, 2.0]).dtype == np.float32
    assert ag.param([1.0]).dtype == np.float32
    assert ag.param(np.ones(2)).dtype == np.float64
    assert ag.tensor(np.arange(3)).dtype.kind == "i"
    assert ag.tensor([[1.0]]).item() == 1.0
    with pytest.raises(TypeError, match="floating"):
        ag.param(np.arange(3))


def test_item_and_numpy():
    t = ag.tensor(np.arange(6.0).reshape(2, 3))
    assert ag.sum(t).item() == 15.0
    assert ag.sum(t).shape == ()
    np.testing.assert_array_equal(np.asarray(t), np.arange(6.0).reshape(2, 3))
    with pytest.raises(ValueError, match="6 elements"):
        t.item()


def test_numpy_on_the_left_of_an_operator():
    w = ag.param(np.ones(3), name="w")
    with ag.grad_tape():
        loss = ag.sum(np.array([1.0, 2.0, 3.0]) * w)
    assert isinstance(loss, ag.Tensor)
    np.testing.assert_allclose(ag.backward(loss)["w"], [1, 2, 3])
