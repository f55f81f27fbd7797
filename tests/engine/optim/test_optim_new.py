"""Adagrad, Adadelta, Adamax, NAdam, Lion: against torch.optim (where torch has the algorithm),
their Keras 3 forms against the formulas in float64, checkpoints, errors, and the Vulkan kernels
against the numpy ones."""
import os

import numpy as np
import pytest

from dptrain import ag
from engine import backend

NP = backend.numpy_backend
SHAPES = [(4, 3), (3,), (2, 2, 2)]


def _grads(rng, dtype):
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


# --- against torch -------------------------------------------------------------------------
TORCH_CASES = [
    ("Adagrad", dict(lr=0.1), dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1, eps=1e-8),
     dict(lr=0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1, eps=1e-8)),
    ("Adadelta", {}, {}),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1), dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1)),
    ("Adamax", {}, {}),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1), dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ("NAdam", {}, {}),
    ("NAdam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, momentum_decay=1.0),
     dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, momentum_decay=1.0)),
]


@pytest.mark.parametrize("name,ours,theirs", TORCH_CASES)
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-9), (np.float32, 2e-6)])
def test_matches_torch(name, ours, theirs, dtype, rtol):
    # float64 to 1e-9 only: torch keeps NAdam's product of the momentum schedule in float32
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    init = _grads(rng, dtype)
    ps = {f"w{i}": ag.param(a) for i, a in enumerate(init)}
    opt = getattr(ag.optim, name)(ps, **ours)
    tps = [torch.tensor(a, requires_grad=True) for a in init]
    topt = getattr(torch.optim, name)(tps, **theirs)
    for _ in range(6):
        grads = _grads(rng, dtype)
        opt.step({f"w{i}": g for i, g in enumerate(grads)})
        for t, g in zip(tps, grads):
            t.grad = torch.from_numpy(g.copy())
        topt.step()
    for p, t in zip(ps.values(), tps):
        assert p.dtype == dtype
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=rtol, atol=rtol)


# --- Keras 3 forms and Lion, written out in float64 -------------------------------------------
def _run(cls, kw, steps=5, seed=3):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(7)
    p = ag.param(w.copy())
    opt = cls({"w": p}, **kw)
    grads = [rng.standard_normal(7) for _ in range(steps)]
    for g in grads:
        opt.step({"w": g})
    return w, grads, p.numpy()


def test_adagrad_keras_form():
    w, grads, got = _run(ag.optim.Adagrad, dict(lr=0.05, initial_accumulator_value=0.1, eps=1e-7, eps_inside=True))
    acc = np.full(7, 0.1)
    for g in grads:
        acc = acc + g * g
        w = w - 0.05 * g / np.sqrt(acc + 1e-7)
    np.testing.assert_allclose(got, w, rtol=1e-13)


def test_adamax_keras_form():
    w, grads, got = _run(ag.optim.Adamax, dict(lr=0.05, betas=(0.9, 0.99), eps=1e-3, eps_in_max=False))
    m = u = np.zeros(7)
    for t, g in enumerate(grads, 1):
        m = m + (g - m) * 0.1
        u = np.maximum(0.99 * u, np.abs(g))
        w = w - 0.05 * m / ((1 - 0.9 ** t) * (u + 1e-3))
    np.testing.assert_allclose(got, w, rtol=1e-13)


def test_nadam_keras_form():
    w, grads, got = _run(ag.optim.NAdam, dict(lr=0.05, betas=(0.9, 0.99), eps=1e-7, momentum_decay=1.0))
    m = v = np.zeros(7)
    u_product = 1.0
    for t, g in enumerate(grads, 1):
        u_t = 0.9 * (1 - 0.5 * 0.96 ** t)
        u_t1 = 0.9 * (1 - 0.5 * 0.96 ** (t + 1))
        u_product *= u_t
        m = m + (g - m) * 0.1
        v = v + (g * g - v) * 0.01
        m_hat = u_t1 * m / (1 - u_product * u_t1) + (1 - u_t) * g / (1 - u_product)
        w = w - 0.05 * m_hat / (np.sqrt(v / (1 - 0.99 ** t)) + 1e-7)
    np.testing.assert_allclose(got, w, rtol=1e-12)


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_lion(wd):
    w, grads, got = _run(ag.optim.Lion, dict(lr=0.01, betas=(0.9, 0.99), weight_decay=wd))
    m = np.zeros(7)
    for g in grads:
        w = w * (1 - 0.01 * wd)
        w = w - 0.01 * np.sign(0.9 * m + 0.1 * g)
        m = 0.99 * m + 0.01 * g
    np.testing.assert_allclose(got, w, rtol=1e-14)


def test_adadelta_first_step_by_hand():
    p = ag.param(np.array([1.0, -1.0]))
    ag.optim.Adadelta([p], lr=1.0, rho=0.9, eps=1e-6).step({p.name: np.array([2.0, -0.5])})
    g = np.array([2.0, -0.5])
    d = np.sqrt(1e-6) / np.sqrt(0.1 * g * g + 1e-6) * g
    np.testing.assert_allclose(p.numpy(), [1.0, -1.0] - d, rtol=1e-14)


# --- checkpoints and errors ---------------------------------------------------------------------
ALL = [("Adagrad", dict(lr=0.1, initial_accumulator_value=0.1)), ("Adadelta", dict(lr=1.0)),
       ("Adamax", dict(lr=0.01)), ("NAdam", dict(lr=0.01)), ("Lion", dict(lr=0.01, weight_decay=0.1))]


@pytest.mark.parametrize("name,kw", ALL)
def test_checkpoint_resumes_bit_for_bit(tmp_path, name, kw):
    rng = np.random.default_rng(5)
    w0 = rng.standard_normal((3, 4)).astype(np.float32)
    seq = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(7)]
    a = ag.param(w0.copy(), name="w")
    opt = getattr(ag.optim, name)({"w": a}, **kw)
    for g in seq[:3]:
        opt.step({"w": g})
    ag.save(opt.state_dict(), tmp_path / "opt.dpt")
    state = ag.load(tmp_path / "opt.dpt")
    b = ag.param(a.numpy().copy(), name="w")
    opt2 = getattr(ag.optim, name)({"w": b}, **kw)
    opt2.load_state_dict(state)
    for g in seq[3:]:
        opt.step({"w": g})
        opt2.step({"w": g})
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert opt2.steps == 7


def test_constructor_errors():
    p = ag.param(np.zeros(2), name="p")
    with pytest.raises(ValueError, match="Adadelta: rho"):
        ag.optim.Adadelta([p], rho=1.5)
    with pytest.raises(ValueError, match="Adamax: betas"):
        ag.optim.Adamax([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="NAdam: momentum_decay"):
        ag.optim.NAdam([p], momentum_decay=-1)
    with pytest.raises(ValueError, match="Lion: betas"):
        ag.optim.Lion([p], betas=(1.5, 0.9))
    with pytest.raises(ValueError, match="Adagrad: initial_accumulator_value"):
        ag.optim.Adagrad([p], initial_accumulator_value=-0.1)


def test_one_fused_kernel_call_per_step(monkeypatch):
    calls = []
    for name, kernel in [("Adagrad", "adagrad_update"), ("Adadelta", "adadelta_update"), ("Adamax", "adamax_update"),
                         ("NAdam", "nadam_update"), ("Lion", "lion_update")]:
        ps = [ag.param(np.ones(3, np.float32), name="a"), ag.param(np.ones((2, 2), np.float32), name="b")]
        opt = getattr(ag.optim, name)(ps)
        real = getattr(backend.current, kernel)
        monkeypatch.setattr(backend.current, kernel, lambda *a, _r=real, _k=kernel, **k: (calls.append(_k), _r(*a, **k)))
        opt.step({"a": np.ones(3, np.float32), "b": np.ones((2, 2), np.float32)})
    assert calls == ["adagrad_update", "adadelta_update", "adamax_update", "nadam_update", "lion_update"]


# --- Vulkan kernels against numpy ----------------------------------------------------------------
@pytest.fixture(scope="module")
def vk():
    from engine.device import vulkan_unavailable_reason
    reason = vulkan_unavailable_reason()
    if reason is None:
        from engine.backend.vulkan import VulkanUnavailable, open_backend
        try:
            return open_backend(int(os.environ.get("DPTRAIN_TEST_VULKAN_DEVICE", "0")))
        except VulkanUnavailable as e:
            reason = str(e)
    if os.environ.get("DPTRAIN_REQUIRE_VULKAN", "") == "1":
        pytest.fail(f"Vulkan unavailable: {reason} (DPTRAIN_REQUIRE_VULKAN=1)", pytrace=False)
    pytest.skip(f"Vulkan unavailable: {reason}")


KERNELS = [
    ("adagrad_update", 1, dict(lr=0.05, eps=1e-10)),
    ("adagrad_update", 1, dict(lr=0.05, eps=1e-7, weight_decay=0.1, eps_inside=True)),
    ("adadelta_update", 2, dict(lr=1.0, rho=0.9, eps=1e-6)),
    ("adadelta_update", 2, dict(lr=0.5, rho=0.95, eps=1e-7, weight_decay=0.05)),
    ("adamax_update", 2, dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8)),
    ("adamax_update", 2, dict(lr=1e-2, beta1=0.8, beta2=0.99, eps=1e-7, weight_decay=0.1, eps_in_max=False)),
    ("nadam_update", 2, dict(beta1=0.9, beta2=0.999, eps=1e-8, coef_g=0.004, coef_m=0.02)),
    ("nadam_update", 2, dict(beta1=0.8, beta2=0.99, eps=1e-7, coef_g=0.003, coef_m=0.01, weight_decay=0.1)),
    ("lion_update", 1, dict(lr=1e-2, beta1=0.9, beta2=0.99)),
    ("lion_update", 1, dict(lr=1e-2, beta1=0.95, beta2=0.98, weight_decay=0.1)),
]


def _flat(K, arrays):
    total = sum(a.size for a in arrays)
    flat = K.zeros(total, np.float32)
    views = K.split_views(flat, [a.shape for a in arrays])
    for v, a in zip(views, arrays):
        K.copy_into(v, K.asarray(a))
    return flat, views


@pytest.mark.parametrize("kernel,n_state,hyper", KERNELS, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(KERNELS)])
def test_vulkan_kernel_matches_numpy(vk, kernel, n_state, hyper):
    rng = np.random.default_rng(7)
    shapes = [(7, 33), (33,), (1,)]
    params = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(3)]
    results = []
    for K in (NP, vk):
        p, p_views = _flat(K, params)
        g, g_views = _flat(K, grads[0])
        state = [K.zeros(p.size, np.float32) for _ in range(n_state)]
        for step in range(3):
            for v, a in zip(g_views, grads[step]):
                K.copy_into(v, K.asarray(a))
            kw = dict(hyper)
            if kernel == "adamax_update":
                kw["step"] = step + 1
            if kernel == "nadam_update":
                kw["bc2"] = 1.0 - kw["beta2"] ** (step + 1)
            getattr(K, kernel)(p, g, *state, **kw)
        results.append([np.array(K.to_numpy(v)) for v in p_views] + [np.array(K.to_numpy(s)) for s in state])
    for ref, got in zip(*results):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_vulkan_training_with_each_optimizer_matches_numpy(vk):
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal((5, 3)).astype(np.float32)
    seq = [rng.standard_normal((5, 3)).astype(np.float32) for _ in range(4)]
    for name, kw in ALL:
        out = []
        for K in (NP, vk):
            prev = backend.current
            backend.set_current(K)
            try:
                p = ag.param(w0.copy(), name="w")
                opt = getattr(ag.optim, name)({"w": p}, **kw)
                for g in seq:
                    opt.step({"w": g})
                out.append(np.array(p.numpy()))
            finally:
                backend.set_current(prev)
        np.testing.assert_allclose(out[1], out[0], rtol=1e-5, atol=1e-6, err_msg=name)
