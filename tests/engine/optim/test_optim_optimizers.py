"""Optimisers: first steps against hand-computed values and torch, flat buffers, checkpoints."""
import numpy as np
import pytest

from dptrain import ag
from engine import backend

P0 = np.array([1.0, -2.0, 0.5])
G1 = np.array([0.5, -1.0, 2.0])
G2 = np.array([-0.3, 0.2, 1.0])


def run(opt_cls, grads_seq, p0=P0, **kw):
    p = ag.param(p0.copy(), name="p")
    opt = opt_cls([p], **kw)
    out = []
    for g in grads_seq:
        opt.step({"p": g})
        out.append(p.numpy().copy())
    return out


# --- hand-computed first steps ---------------------------------------------------
def test_sgd_plain_and_weight_decay():
    (p1,) = run(ag.optim.SGD, [G1], lr=0.1)
    np.testing.assert_allclose(p1, [0.95, -1.9, 0.3], rtol=1e-15)
    (p1,) = run(ag.optim.SGD, [G1], lr=0.1, weight_decay=0.1)
    np.testing.assert_allclose(p1, P0 - 0.1 * (G1 + 0.1 * P0), rtol=1e-15)


def test_sgd_momentum_and_nesterov():
    p1, p2 = run(ag.optim.SGD, [G1, G2], lr=0.1, momentum=0.9)
    np.testing.assert_allclose(p1, P0 - 0.1 * G1, rtol=1e-15)           # buffer starts as the gradient
    np.testing.assert_allclose(p2, p1 - 0.1 * (0.9 * G1 + G2), rtol=1e-15)
    p1, p2 = run(ag.optim.SGD, [G1, G2], lr=0.1, momentum=0.9, nesterov=True)
    np.testing.assert_allclose(p1, P0 - 0.1 * (G1 + 0.9 * G1), rtol=1e-15)
    buf = 0.9 * G1 + G2
    np.testing.assert_allclose(p2, p1 - 0.1 * (G2 + 0.9 * buf), rtol=1e-15)


def _adam_ref(p, grads, lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, decoupled=False):
    m = v = 0
    out = []
    for t, g in enumerate(grads, 1):
        if decoupled:
            p = p * (1 - lr * wd)
        elif wd:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        out.append(p)
    return out


def test_adam_first_steps():
    p1, p2 = run(ag.optim.Adam, [G1, G2], lr=0.01)
    np.testing.assert_allclose(p1, P0 - 0.01 * np.sign(G1), rtol=1e-7)  # step 1 moves by lr * sign(g)
    for got, ref in zip((p1, p2), _adam_ref(P0, [G1, G2], 0.01)):
        np.testing.assert_allclose(got, ref, rtol=1e-14)


def test_adam_l2_and_adamw_decoupled_decay():
    got = run(ag.optim.Adam, [G1, G2], lr=0.01, weight_decay=0.1)
    for a, b in zip(got, _adam_ref(P0, [G1, G2], 0.01, wd=0.1)):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    got = run(ag.optim.AdamW, [G1, G2], lr=0.01)                          # default weight_decay=1e-2
    for a, b in zip(got, _adam_ref(P0, [G1, G2], 0.01, wd=1e-2, decoupled=True)):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    assert ag.optim.AdamW([ag.param(P0)]).weight_decay == 1e-2


def test_rmsprop_first_steps():
    p1, p2 = run(ag.optim.RMSprop, [G1, G2], lr=0.01)
    sq = 0.01 * G1 ** 2
    r1 = P0 - 0.01 * G1 / (np.sqrt(sq) + 1e-8)
    np.testing.assert_allclose(p1, r1, rtol=1e-14)
    sq = 0.99 * sq + 0.01 * G2 ** 2
    np.testing.assert_allclose(p2, r1 - 0.01 * G2 / (np.sqrt(sq) + 1e-8), rtol=1e-14)


# --- against torch -------------------------------------------------------------
TORCH_CASES = [
    ("SGD", dict(lr=0.1), dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.01), dict(lr=0.05, momentum=0.9, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True), dict(lr=0.05, momentum=0.8, nesterov=True)),
    ("Adam", dict(lr=1e-2), dict(lr=1e-2)),
    ("Adam", dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1), dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1)),
    ("AdamW", dict(lr=1e-2), dict(lr=1e-2)),
    ("RMSprop", dict(lr=1e-2), dict(lr=1e-2)),
    ("RMSprop", dict(lr=1e-2, alpha=0.9, weight_decay=0.05), dict(lr=1e-2, alpha=0.9, weight_decay=0.05)),
    ("RMSprop", dict(lr=1e-2, momentum=0.9), dict(lr=1e-2, momentum=0.9)),
    ("RMSprop", dict(lr=1e-2, centered=True), dict(lr=1e-2, centered=True)),
    ("RMSprop", dict(lr=1e-2, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01),
     dict(lr=1e-2, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01)),
]


@pytest.mark.parametrize("name,ours,theirs", TORCH_CASES)
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 2e-6)])
def test_matches_torch(name, ours, theirs, dtype, rtol):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    shapes = [(4, 3), (3,), (2, 2, 2)]
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ps = {f"w{i}": ag.param(a) for i, a in enumerate(init)}
    opt = getattr(ag.optim, name)(ps, **ours)
    tps = [torch.tensor(a, requires_grad=True) for a in init]
    topt = getattr(torch.optim, name)(tps, **theirs)
    for _ in range(5):
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        opt.step({f"w{i}": g for i, g in enumerate(grads)})
        for t, g in zip(tps, grads):
            t.grad = torch.from_numpy(g.copy())
        topt.step()
    for p, t in zip(ps.values(), tps):
        assert p.dtype == dtype
        np.testing.assert_allclose(p.numpy(), t.detach().numpy(), rtol=rtol, atol=rtol)


# --- flat buffers ----------------------------------------------------------------
def _mlp(dtype=np.float32):
    ag.manual_seed(0)
    return ag.Sequential(ag.Linear(4, 8, activation="relu", dtype=dtype), ag.Linear(8, 2, dtype=dtype))


def test_params_and_grads_are_views_of_one_flat_buffer():
    m = _mlp()
    before = {k: v.copy() for k, v in m.state_dict().items()}
    opt = ag.optim.Adam(m.parameters())
    flat, gflat = opt.flat_params(), opt.flat_grads()
    assert flat.shape == (4 * 8 + 8 + 8 * 2 + 2,) and flat.dtype == np.float32
    off = 0
    for name, p in m.parameters().items():
        np.testing.assert_array_equal(p.numpy(), before[name])
        assert np.shares_memory(p.data, flat) and np.shares_memory(p.grad, gflat)
        np.testing.assert_array_equal(flat[off:off + p.size], before[name].ravel())
        off += p.size
    x = np.ones((3, 4), np.float32)
    with ag.grad_tape():
        loss = ag.sum(m(x))
    grads = ag.backward(loss)                   # written straight into the flat grad buffer
    for p in m.parameters().values():
        assert grads[p.name] is p.grad and np.shares_memory(p.grad, gflat)
    assert gflat.any()


def test_step_is_one_fused_kernel_call_per_dtype(monkeypatch):
    m = _mlp()
    extra = ag.param(np.ones(3), name="extra64")             # float64: a second buffer
    params = dict(m.parameters(), extra=extra)
    opt = ag.optim.Adam(params)
    calls = []
    real = backend.current.adam_update
    monkeypatch.setattr(backend.current, "adam_update", lambda p, g, *a, **k: (calls.append(p.dtype), real(p, g, *a, **k)))
    x = np.ones((2, 4), np.float32)
    with ag.grad_tape():
        loss = ag.sum(m(x)) + ag.sum(extra * extra)
    opt.step(ag.backward(loss))
    assert sorted(map(str, calls)) == ["float32", "float64"]
    assert opt.flat_params(np.float64).shape == (3,) and extra.dtype == np.float64
    with pytest.raises(ValueError, match="several dtypes"):
        opt.flat_params()


def test_flat_update_equals_per_tensor_reference():
    m = _mlp(np.float64)
    init = {k: v.copy() for k, v in m.state_dict().items()}
    opt = ag.optim.Adam(m.parameters(), lr=0.01, weight_decay=0.1)
    rng = np.random.default_rng(1)
    seq = [{k: rng.standard_normal(v.shape) for k, v in init.items()} for _ in range(3)]
    for g in seq:
        opt.step(g)                                     # dict keyed by dotted names, not views: copied in
    for k, v in m.parameters().items():
        ref = _adam_ref(init[k], [g[k] for g in seq], 0.01, wd=0.1)[-1]
        np.testing.assert_allclose(v.numpy(), ref, rtol=1e-13)


def test_step_without_grads_reads_dot_grad_and_zero_grad():
    m = _mlp(np.float64)
    opt = ag.optim.SGD(m.parameters(), lr=0.1)
    x = np.ones((2, 4))
    w0 = m[1].bias.numpy().copy()
    for _ in range(2):                       # Tensor.backward accumulates: the bias gradient is 2 + 2
        with ag.grad_tape():
            loss = ag.sum(m(x))
        loss.backward()
    opt.step()
    np.testing.assert_allclose(m[1].bias.numpy(), w0 - 0.1 * 4.0, rtol=1e-14)
    opt.zero_grad()
    assert not opt.flat_grads().any() and m[1].bias.grad is not None
    m[1].bias.zero_grad()                    # grad set to None by the user: backward makes a new array
    with ag.grad_tape():
        loss = ag.sum(m(x))
    loss.backward()
    w1 = m[1].bias.numpy().copy()
    opt.step()
    np.testing.assert_allclose(m[1].bias.numpy(), w1 - 0.1 * 2.0, rtol=1e-14)
    assert np.shares_memory(m[1].bias.grad, opt.flat_grads())


def test_missing_gradient_counts_as_zero_and_unknown_names_are_an_error():
    a, b = ag.param(np.ones(2), name="a"), ag.param(np.ones(2), name="b")
    opt = ag.optim.SGD([a, b], lr=0.5)
    opt.step({"a": np.ones(2)})
    np.testing.assert_array_equal(a.numpy(), [0.5, 0.5])
    np.testing.assert_array_equal(b.numpy(), [1.0, 1.0])
    with pytest.raises(ValueError, match="none of the gradient names"):
        opt.step({"zzz": np.ones(2)})
    with pytest.raises(ValueError, match=r"gradient for 'a' has shape \(3,\)"):
        opt.step({"a": np.ones(3)})


def test_rebound_param_data_is_taken_back_into_the_buffer():
    p = ag.param(np.zeros(3), name="p")
    opt = ag.optim.SGD([p], lr=1.0)
    p.data = np.array([5.0, 5.0, 5.0])
    opt.step({"p": np.ones(3)})
    np.testing.assert_array_equal(p.numpy(), [4.0, 4.0, 4.0])
    assert np.shares_memory(p.data, opt.flat_params())


def test_lr_attribute_is_used_each_step():
    p = ag.param(np.zeros(1), name="p")
    opt = ag.optim.SGD([p], lr=1.0)
    opt.step({"p": np.ones(1)})
    opt.lr = 0.25
    opt.step({"p": np.ones(1)})
    np.testing.assert_array_equal(p.numpy(), [-1.25])


def test_constructor_errors():
    p = ag.param(np.zeros(2), name="p")
    with pytest.raises(ValueError, match="empty"):
        ag.optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="'x' is a Tensor without requires_grad"):
        ag.optim.Adam({"x": ag.tensor(np.zeros(2))})
    with pytest.raises(ValueError, match="appears twice"):
        ag.optim.Adam({"a": p, "b": p})
    with pytest.raises(ValueError, match="lr must be"):
        ag.optim.Adam([p], lr=-1)
    with pytest.raises(ValueError, match="nesterov"):
        ag.optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        ag.optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="single Tensor"):
        ag.optim.Adam(p)


# --- checkpoints -----------------------------------------------------------------
def _train(model, opt, sched, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = rng.standard_normal((8, 4)).astype(np.float32)
        y = rng.integers(0, 2, 8)
        with ag.grad_tape():
            loss = ag.softmax_cross_entropy_loss(model(x), y)
        opt.step(ag.backward(loss))
        sched.step()


@pytest.mark.parametrize("name,kw", [("Adam", dict(lr=0.01, weight_decay=0.01)), ("AdamW", {}),
                                     ("SGD", dict(lr=0.1, momentum=0.9)), ("RMSprop", {})])
def test_checkpoint_resumes_bit_for_bit(tmp_path, name, kw):
    model = _mlp()
    opt = getattr(ag.optim, name)(model.parameters(), **kw)
    sched = ag.optim.StepLR(opt, step_size=2, gamma=0.5)
    _train(model, opt, sched, 3, seed=1)
    ag.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "ck.dpt")
    _train(model, opt, sched, 4, seed=2)

    ag.manual_seed(99)
    model2 = ag.Sequential(ag.Linear(4, 8, activation="relu"), ag.Linear(8, 2))
    opt2 = getattr(ag.optim, name)(model2.parameters(), **kw)
    sched2 = ag.optim.StepLR(opt2, step_size=2, gamma=0.5)
    ck = ag.load(tmp_path / "ck.dpt")
    model2.load_state_dict(ck["model"])
    opt2.load_state_dict(ck["opt"])
    sched2.load_state_dict(ck["sched"])
    assert opt2.steps == 3 and sched2.epoch == 3 and opt2.lr == sched2.base_lr * 0.5
    _train(model2, opt2, sched2, 4, seed=2)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(model2.state_dict()[k], v)
    assert opt2.lr == opt.lr and opt2.steps == opt.steps == 7
    for a, b in zip(opt.state_dict()["state"]["float32"].values(), opt2.state_dict()["state"]["float32"].values()):
        np.testing.assert_array_equal(a, b)


def test_load_state_dict_errors():
    opt = ag.optim.Adam(_mlp().parameters())
    with pytest.raises(ValueError, match="for SGD, not Adam"):
        opt.load_state_dict(ag.optim.SGD(_mlp().parameters(), lr=0.1).state_dict())
    other = ag.optim.Adam(ag.Sequential(ag.Linear(4, 3), ag.Linear(3, 2)).parameters())
    with pytest.raises(ValueError, match=r"param 0 is '0.weight' \(4, 3\) float32 in the checkpoint but '0.weight' \(4, 8\)"):
        opt.load_state_dict(other.state_dict())


@pytest.mark.parametrize("momentum,centered", [(0.0, False), (0.9, False), (0.0, True), (0.5, True)])
def test_rmsprop_keras_form_matches_its_formula_in_float64(momentum, centered):
    """eps_inside: Keras 3's RMSprop, written out in float64 numpy."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal(6)
    p = ag.param(w.copy())
    opt = ag.optim.RMSprop({"w": p}, lr=0.05, alpha=0.9, eps=1e-7, momentum=momentum, centered=centered,
                           eps_inside=True)
    v, ga, mb = np.zeros(6), np.zeros(6), np.zeros(6)
    for _ in range(4):
        g = rng.standard_normal(6)
        opt.step({"w": g})
        v = 0.9 * v + 0.1 * g * g
        den = v + 1e-7
        if centered:
            ga = 0.9 * ga + 0.1 * g
            den = v - ga * ga + 1e-7
        inc = 0.05 * g / np.sqrt(den)
        if momentum:
            mb = momentum * mb + inc
            w = w - mb
        else:
            w = w - inc
    np.testing.assert_allclose(p.numpy(), w, rtol=1e-12, atol=1e-12)
