"""Argument edges of the optimisers and schedulers that a mutation run found untested."""
import math

import numpy as np
import pytest

import engine as ag


def _param():
    return ag.param(np.array([1.0, -2.0]), name="w")


def test_adadelta_rho_outside_zero_one_is_refused():
    for rho in (-0.1, 1.5):
        with pytest.raises(ValueError, match="Adadelta: rho must lie in"):
            ag.optim.Adadelta([_param()], rho=rho)


def test_rmsprop_alpha_zero_is_plain_gradient_scaling():
    """alpha = 0: the square average is g**2, so the step is lr * g / (|g| + eps) (torch's form)."""
    p = _param()
    g = np.array([0.5, -4.0])
    ag.optim.RMSprop([p], lr=0.1, alpha=0.0, eps=1e-8).step({"w": g})
    np.testing.assert_allclose(p.numpy(), np.array([1.0, -2.0]) - 0.1 * g / (np.abs(g) + 1e-8), rtol=1e-12)


def test_rmsprop_alpha_of_one_is_refused():
    with pytest.raises(ValueError, match=r"RMSprop: alpha must lie in \[0, 1\)"):
        ag.optim.RMSprop([_param()], alpha=1.0)


def test_cosine_lr_decays_to_zero_by_default():
    opt = ag.optim.SGD([_param()], lr=0.8)
    sched = ag.optim.CosineLR(opt, T_max=4)
    lrs = []
    for _ in range(5):
        sched.step()
        lrs.append(opt.lr)
    want = [0.8 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(1, 5)] + [0.0]
    np.testing.assert_allclose(lrs, want, atol=1e-12)


def test_betas_that_are_not_a_pair_of_numbers_give_a_value_error():
    for bad in (None, 0.9, ("a", 0.9)):
        with pytest.raises(ValueError, match="Adamax: betas must be a pair of numbers"):
            ag.optim.Adamax([_param()], betas=bad)


def test_lion_accepts_betas_of_one_and_refuses_more():
    ag.optim.Lion([_param()], betas=(1.0, 1.0))
    with pytest.raises(ValueError, match=r"Lion: betas must lie in \[0, 1\]"):
        ag.optim.Lion([_param()], betas=(0.9, 1.01))


def test_step_lr_divides_by_ten_by_default():
    opt = ag.optim.SGD([_param()], lr=0.5)
    sched = ag.optim.StepLR(opt, step_size=2)
    lrs = []
    for _ in range(4):
        sched.step()
        lrs.append(opt.lr)
    np.testing.assert_allclose(lrs, [0.5, 0.05, 0.05, 0.005], rtol=1e-12)


def test_a_checkpoint_with_fewer_params_is_refused():
    a, b = _param(), ag.param(np.zeros(3), name="b")
    state = ag.optim.SGD([a], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="the checkpoint has 1 params, this optimiser 2"):
        ag.optim.SGD([a, b], lr=0.1).load_state_dict(state)


def test_nadam_resumed_from_an_earlier_checkpoint_continues_as_the_uninterrupted_run():
    grads = [np.array([0.3, -1.0]), np.array([-0.2, 0.5]), np.array([1.0, 1.0])]
    p = _param()
    opt = ag.optim.NAdam([p], lr=0.1)
    opt.step({"w": grads[0]})
    saved_state, saved_w = opt.state_dict(), p.numpy().copy()
    opt.step({"w": grads[1]})
    opt.step({"w": grads[2]})
    want = p.numpy().copy()
    p.data[...] = saved_w                          # back to the step-1 checkpoint, same optimiser
    opt.load_state_dict(saved_state)
    opt.step({"w": grads[1]})
    opt.step({"w": grads[2]})
    np.testing.assert_allclose(p.numpy(), want, rtol=1e-12)


def test_adadelta_with_a_small_rho_against_numpy():
    lr, rho, eps = 0.5, 0.3, 1e-6
    p = _param()
    opt = ag.optim.Adadelta([p], lr=lr, rho=rho, eps=eps)
    w, sq, acc = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    for g in (np.array([0.4, -1.0]), np.array([2.0, 0.1])):
        opt.step({"w": g})
        sq = rho * sq + (1 - rho) * g * g
        delta = np.sqrt(acc + eps) / np.sqrt(sq + eps) * g
        acc = rho * acc + (1 - rho) * delta * delta
        w = w - lr * delta
    np.testing.assert_allclose(p.numpy(), w, rtol=1e-10)


def test_a_gradient_of_the_wrong_shape_is_refused():
    for bad in (np.zeros(1), np.zeros(3), np.zeros((2, 1))):
        with pytest.raises(ValueError):
            ag.optim.SGD([_param()], lr=0.1).step({"w": bad})


def test_a_negative_eps_is_named_non_negative():
    with pytest.raises(ValueError, match="Adam: eps must be a finite non-negative number"):
        ag.optim.Adam([_param()], eps=-1.0)


def test_adam_betas_out_of_range_or_not_numbers_are_refused():
    for bad in ((-0.1, 0.9), (0.9, 1.0)):
        with pytest.raises(ValueError, match="Adam"):
            ag.optim.Adam([_param()], betas=bad)
    with pytest.raises(ValueError, match="Adam"):
        ag.optim.Adam([_param()], betas=None)


def test_small_first_moment_coefficients_against_numpy():
    """beta1 / rho below 0.5 (where 1 - b and 1 % b differ): Adamax, centred RMSprop, Lion."""
    g1, g2 = np.array([0.4, -1.0]), np.array([2.0, 0.1])
    w0 = np.array([1.0, -2.0])
    # Adamax (torch's form): m = b1 m + (1 - b1) g, u = max(b2 u, |g| + eps), p -= lr / (1 - b1^t) * m / u
    p = _param()
    opt = ag.optim.Adamax([p], lr=0.1, betas=(0.3, 0.9), eps=1e-8)
    w, m, u = w0.copy(), np.zeros(2), np.zeros(2)
    for t_, g in enumerate((g1, g2), 1):
        opt.step({"w": g})
        m = 0.3 * m + 0.7 * g
        u = np.maximum(0.9 * u, np.abs(g) + 1e-8)
        w = w - 0.1 / (1 - 0.3 ** t_) * m / u
    np.testing.assert_allclose(p.numpy(), w, rtol=1e-10)
    # centred RMSprop (torch's form): v = a v + (1 - a) g^2, mg = a mg + (1 - a) g, p -= lr g / (sqrt(v - mg^2) + eps)
    p = _param()
    opt = ag.optim.RMSprop([p], lr=0.05, alpha=0.3, eps=1e-8, centered=True)
    w, v, mg = w0.copy(), np.zeros(2), np.zeros(2)
    for g in (g1, g2):
        opt.step({"w": g})
        v = 0.3 * v + 0.7 * g * g
        mg = 0.3 * mg + 0.7 * g
        w = w - 0.05 * g / (np.sqrt(v - mg * mg) + 1e-8)
    np.testing.assert_allclose(p.numpy(), w, rtol=1e-10)
    # Lion: p -= lr sign(b1 m + (1 - b1) g); m = b2 m + (1 - b2) g
    p = _param()
    opt = ag.optim.Lion([p], lr=0.01, betas=(0.3, 0.4))
    w, m = w0.copy(), np.zeros(2)
    for g in (g1, np.array([-0.1, 0.5])):
        opt.step({"w": g})
        w = w - 0.01 * np.sign(0.3 * m + 0.7 * g)
        m = 0.4 * m + 0.6 * g
    np.testing.assert_allclose(p.numpy(), w, rtol=1e-12)
