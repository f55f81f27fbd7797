"""dp_train: real worker processes whose averaged steps equal one process on the joint batch."""
import numpy as np
import pytest

import engine as ag
from dptrain.distributed import WorkerFailed, dp_train


def mlp_data(n_items, batch, seed=0, din=20, classes=4):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((din, classes))
    items = []
    for _ in range(n_items):
        x = rng.standard_normal((batch, din)).astype(np.float32)
        items.append({"x": x, "y": np.argmax(x @ w, axis=1)})
    return items


def make_mlp():
    ag.manual_seed(3)
    return ag.Sequential(ag.Linear(20, 32, activation="relu"), ag.Linear(32, 4))


def single_process_reference(data, n, n_iter, lr, max_norm):
    """One process, batch n*B: item group (it*n .. it*n+n-1), Adam, clipping after the mean gradient."""
    model = make_mlp()
    params = model.parameters()
    opt = ag.optim.Adam(params, lr=lr)
    losses, norms = [], []
    for it in range(n_iter):
        items = [data[(it * n + r) % len(data)] for r in range(n)]
        x = np.concatenate([i["x"] for i in items])
        y = np.concatenate([i["y"] for i in items])
        with ag.grad_tape():
            loss = ag.softmax_cross_entropy_loss(model(x), y)
        grads = ag.backward(loss)
        norms.append(ag.clip_grad_norm(params, grads, max_norm))
        opt.step(grads)
        losses.append(loss.item())
    return model, np.array(losses), np.array(norms)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("n", [2, 3])
def test_workers_match_one_process_on_the_joint_batch(n):
    data = mlp_data(12, 8)
    n_iter, lr, max_norm = 15, 0.05, 0.5   # max_norm small enough that clipping acts
    res = dp_train(make_mlp, data, ag.softmax_cross_entropy_loss, n_gpu=n, n_iter=n_iter, lr=lr,
                   max_norm=max_norm)
    ref_model, ref_losses, ref_norms = single_process_reference(data, n, n_iter, lr, max_norm)
    assert (ref_norms > max_norm).any(), "the test must exercise clipping"
    assert res.loss_history.shape == (n_iter,)
    np.testing.assert_allclose(res.loss_history, ref_losses, rtol=2e-4, atol=2e-5)
    for (k, a), b in zip(res.model.state_dict().items(), ref_model.state_dict().values()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5, err_msg=k)
    assert res.skipped_steps == []


@pytest.mark.timeout(120)
def test_regression_loss_falls():
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, (256, 1)).astype(np.float32)
    y = (np.sin(x) * 2).astype(np.float32)
    data = [{"x": x[i:i + 16], "y": y[i:i + 16]} for i in range(0, 256, 16)]

    def make():
        ag.manual_seed(0)
        return ag.Sequential(ag.Linear(1, 32, activation="tanh"), ag.Linear(32, 1))
    res = dp_train(make, data, ag.mse_loss, n_gpu=2, n_iter=120, lr=1e-2)
    assert len(res.loss_history) == 120
    assert res.loss_history[-10:].mean() < 0.3 * res.loss_history[:10].mean()
    pred = res.model(x).numpy()
    assert np.mean((pred - y) ** 2) < 0.3 * np.mean(y ** 2)


@pytest.mark.timeout(120)
def test_a_nan_batch_on_one_rank_skips_the_step_everywhere():
    data = mlp_data(8, 8)
    poisoned = [dict(d) for d in data]
    poisoned[3 * 2 + 1] = {"x": np.full((8, 20), np.nan, np.float32), "y": data[7]["y"]}  # rank 1 at it=3
    res = dp_train(make_mlp, poisoned, ag.softmax_cross_entropy_loss, n_gpu=2, n_iter=6, lr=0.01)
    assert res.skipped_steps == [(3, [1])]
    for v in res.model.state_dict().values():
        assert np.all(np.isfinite(v))


@pytest.mark.timeout(60)
def test_a_failing_worker_names_its_rank():
    data = mlp_data(4, 4)

    def loss_fn(out, y):
        import os
        if os.environ["RANK"] == "1":
            raise RuntimeError("boom on purpose")
        return ag.softmax_cross_entropy_loss(out, y)
    with pytest.raises(WorkerFailed, match=r"rank 1 failed(.|\n)*boom on purpose"):
        dp_train(make_mlp, data, loss_fn, n_gpu=2, n_iter=3, timeout=30)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_gpu"):
        dp_train(make_mlp, mlp_data(2, 2), ag.mse_loss, n_gpu=0)
    with pytest.raises(ValueError, match="data is empty"):
        dp_train(make_mlp, [], ag.mse_loss)


@pytest.mark.timeout(120)
def test_xy_arrays_and_pairs_train_the_same_as_dicts():
    data = mlp_data(4, 8)
    x = np.concatenate([d["x"] for d in data])
    y = np.concatenate([d["y"] for d in data])
    kw = dict(n_gpu=2, n_iter=6, lr=0.05)
    ref = dp_train(make_mlp, data, ag.softmax_cross_entropy_loss, **kw).loss_history
    arrays = dp_train(make_mlp, (x, y), ag.softmax_cross_entropy_loss, batch_size=8, **kw).loss_history
    pairs = dp_train(make_mlp, [(d["x"], d["y"]) for d in data], ag.softmax_cross_entropy_loss, **kw).loss_history
    np.testing.assert_array_equal(arrays, ref)
    np.testing.assert_array_equal(pairs, ref)


def test_bad_data_is_refused_before_any_worker_starts():
    x, y = np.zeros((10, 20), np.float32), np.zeros(9, np.int64)
    with pytest.raises(ValueError, match="10 samples in x but 9 in y"):
        dp_train(make_mlp, (x, y), ag.mse_loss)
    with pytest.raises(ValueError, match="data item 1 has 10 samples in x but 9 in y"):
        dp_train(make_mlp, [(x[:9], y), (x, y)], ag.mse_loss)
    with pytest.raises(ValueError, match=r"data item 0 is a int; expected an \(x, y\) pair"):
        dp_train(make_mlp, [3], ag.mse_loss)
    with pytest.raises(TypeError, match="dp_train: data must be"):
        dp_train(make_mlp, 5, ag.mse_loss)
