"""StepLR and CosineLR: values per epoch, torch parity, state dicts."""
import math

import numpy as np
import pytest

from dptrain import ag


def _opt(lr=0.1):
    return ag.optim.SGD([ag.param(np.zeros(1))], lr=lr)


def test_step_lr():
    opt = _opt()
    sched = ag.optim.StepLR(opt, step_size=3, gamma=0.5)
    lrs = [sched.step() for _ in range(7)]
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025], rtol=1e-15)
    assert opt.lr == lrs[-1]


def test_cosine_lr_values_and_floor_after_t_max():
    opt = _opt(1.0)
    sched = ag.optim.CosineLR(opt, T_max=4, lr_min=0.2)
    lrs = [sched.step() for _ in range(6)]
    ref = [0.2 + 0.8 * (1 + math.cos(math.pi * e / 4)) / 2 for e in (1, 2, 3, 4)]
    np.testing.assert_allclose(lrs[:4], ref, rtol=1e-15)
    assert lrs[1] == pytest.approx(0.6) and lrs[4:] == [0.2, 0.2]


@pytest.mark.parametrize("kind", ["step", "cosine"])
def test_matches_torch(kind):
    torch = pytest.importorskip("torch")
    opt = _opt(0.3)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.3)
    if kind == "step":
        sched, tsched = ag.optim.StepLR(opt, 2, 0.3), torch.optim.lr_scheduler.StepLR(topt, 2, 0.3)
    else:
        sched = ag.optim.CosineLR(opt, T_max=10, lr_min=0.01)
        tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=10, eta_min=0.01)
    for _ in range(10):
        topt.step()
        tsched.step()
        sched.step()
        assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12, abs=1e-15)


def test_scheduler_state_dict_round_trip():
    opt = _opt()
    sched = ag.optim.CosineLR(opt, T_max=10)
    for _ in range(3):
        sched.step()
    opt2 = _opt(123.0)
    sched2 = ag.optim.CosineLR(opt2, T_max=10)
    sched2.load_state_dict(sched.state_dict())
    assert opt2.lr == opt.lr and sched2.step() == sched.step()
    with pytest.raises(ValueError, match="StepLR"):
        ag.optim.StepLR(opt, 1).load_state_dict(sched.state_dict())


def test_scheduler_argument_errors():
    with pytest.raises(ValueError, match="step_size"):
        ag.optim.StepLR(_opt(), 0)
    with pytest.raises(ValueError, match="T_max"):
        ag.optim.CosineLR(_opt(), 0)
    with pytest.raises(TypeError, match="lr"):
        ag.optim.CosineLR(object(), 5)
