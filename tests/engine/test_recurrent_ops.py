"""The fused recurrent primitives over long sequences, slice gradients that share one buffer,
and the numpy backend's BLAS thread policy."""
import importlib
import os

import numpy as np
import pytest
from test_ops import np_gru, np_lstm

import engine as ag

nb = importlib.import_module("engine.backend.numpy_backend")   # (engine.backend.numpy_backend is the instance)

R = np.random.default_rng(5)


def rn(*shape):
    return R.standard_normal(shape)


def lstm_inputs(b, t, f, h):
    return [rn(b, t, f), rn(f, 4 * h) * 0.5, rn(h, 4 * h) * 0.5, rn(4 * h), rn(b, h), rn(b, h)]


def gru_inputs(b, t, f, h):
    return [rn(b, t, f), rn(f, 3 * h) * 0.5, rn(h, 3 * h) * 0.5, rn(3 * h), rn(3 * h), rn(b, h)]


@pytest.mark.parametrize("t", [1, 16, 37])          # one step, one backward chunk, several and a partial one
@pytest.mark.parametrize("seq", [True, False])
def test_lstm_matches_the_plain_loop(t, seq):
    x, wi, wh, b, h0, c0 = lstm_inputs(3, t, 2, 5)
    out = ag.lstm(x, wi, wh, b, h0, c0, return_sequences=seq)
    np.testing.assert_allclose(out.numpy(), np_lstm(x, wi, wh, b, h0, c0, seq), rtol=1e-10, atol=1e-12)
    out32 = ag.lstm(*[a.astype(np.float32) for a in (x, wi, wh, b)], return_sequences=seq)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32.numpy(), np_lstm(x, wi, wh, b, seq=seq), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("t", [1, 16, 37])
@pytest.mark.parametrize("order", ["rzn", "zrn"])
def test_gru_matches_the_plain_loop(t, order):
    x, wi, wh, bi, bh, h0 = gru_inputs(3, t, 2, 5)
    for args in ((bi, bh, h0), (None, bh, None), (bi, None, h0), (None, None, None)):
        out = ag.gru(x, wi, wh, *args, gate_order=order)
        np.testing.assert_allclose(out.numpy(), np_gru(x, wi, wh, *args, order=order), rtol=1e-10, atol=1e-12)


def test_lstm_gradcheck_across_backward_chunks():
    assert ag.gradcheck(lambda *a: ag.lstm(*a), lstm_inputs(2, 18, 2, 2), atol=1e-6, rtol=1e-5)
    assert ag.gradcheck(lambda x, wi, wh, c0: ag.lstm(x, wi, wh, c0=c0, return_sequences=False),
                        [rn(2, 17, 2), rn(2, 8) * 0.5, rn(2, 8) * 0.5, rn(2, 2)], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("order", ["rzn", "zrn"])
def test_gru_gradcheck_across_backward_chunks(order):
    assert ag.gradcheck(lambda *a: ag.gru(*a, gate_order=order), gru_inputs(2, 18, 2, 2), atol=1e-6, rtol=1e-5)
    assert ag.gradcheck(lambda x, wi, wh, bh: ag.gru(x, wi, wh, None, bh, gate_order=order, return_sequences=False),
                        [rn(2, 17, 2), rn(2, 6) * 0.5, rn(2, 6) * 0.5, rn(6)], atol=1e-6, rtol=1e-5)


def test_a_sequence_is_one_tape_node():
    x = ag.param(rn(2, 50, 3))
    w = [ag.param(rn(3, 8)), ag.param(rn(2, 8))]
    with ag.grad_tape():
        y = ag.lstm(x, *w)
    assert type(y._node).__name__ == "LSTMSeq" and y._node.inputs[0] is x


def test_argument_errors_name_the_op():
    with pytest.raises(ValueError, match="lstm: w_ih must have shape"):
        ag.lstm(rn(2, 3, 4), rn(3, 8), rn(2, 8))
    with pytest.raises(ValueError, match="gru: w_hh must be"):
        ag.gru(rn(2, 3, 4), rn(4, 6), rn(2, 8))
    with pytest.raises(ValueError, match="gru: gate_order"):
        ag.gru(rn(2, 3, 4), rn(4, 6), rn(2, 6), gate_order="nzr")
    with pytest.raises(ValueError, match="lstm: h0 must have shape"):
        ag.lstm(rn(2, 3, 4), rn(4, 8), rn(2, 8), h0=rn(3, 2))
    with pytest.raises(ValueError, match="sequence is empty"):
        ag.lstm(rn(2, 0, 4), rn(4, 8), rn(2, 8))


def test_slices_of_one_tensor_share_one_gradient_buffer(monkeypatch):
    """x[:, t] for every t: the backward allocates one input-sized buffer, not one per slice."""
    calls = []
    real = nb.NumpyBackend.getitem_grad
    monkeypatch.setattr(nb.NumpyBackend, "getitem_grad", lambda self, *a: calls.append(1) or real(self, *a))
    x = ag.param(rn(2, 300, 3))
    with ag.grad_tape():
        loss = ag.sum(ag.concat([x[:, t] * float(t) for t in range(300)], 1)) + ag.sum(x[:, 5] * x[:, 5])
    g = ag.backward(loss)[x.name]
    expect = np.broadcast_to(np.arange(300.0)[None, :, None], (2, 300, 3)).copy()
    expect[:, 5] += 2 * x.numpy()[:, 5]
    np.testing.assert_allclose(g, expect)
    assert len(calls) == 1


def test_dense_gradients_are_not_modified_in_place_when_shared():
    """a + a hands the same array to both inputs; summing into it in place would double-count."""
    a = ag.param(rn(3))
    b = ag.param(rn(3))
    with ag.grad_tape():
        s = a + b
        loss = ag.sum(s * 2.0) + ag.sum(a[1:]) + ag.sum(b)
    g = ag.backward(loss)
    np.testing.assert_allclose(g[a.name], [2.0, 3.0, 3.0])
    np.testing.assert_allclose(g[b.name], [3.0, 3.0, 3.0])


def test_blas_cores_follow_omp_num_threads_then_affinity(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert nb.cores_for_this_process() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert nb.cores_for_this_process() == len(os.sched_getaffinity(0))


def test_blas_single_sets_one_thread_and_restores():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    blas = nb.BlasThreads()
    libs = blas.libs()
    if not libs:
        pytest.skip("no BLAS threadpoolctl can drive")
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before = [lib.get_num_threads() for lib in libs]
        with blas.single():
            assert all(lib.get_num_threads() == 1 for lib in libs)
        assert [lib.get_num_threads() for lib in libs] == before


def test_the_engine_module_uses_the_fused_op():
    m = ag.LSTM(3, 4, return_sequences=True, dtype=np.float64)
    x = rn(2, 6, 3)
    with ag.grad_tape():
        y = m(x)
    assert type(y._node).__name__ == "LSTMSeq"
    sd = m.state_dict()
    np.testing.assert_allclose(y.numpy(), np_lstm(x, sd["weight_ih"], sd["weight_hh"], sd["bias"]), rtol=1e-10)
