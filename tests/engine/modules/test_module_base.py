"""Module base class: registration order, dotted names, unique param names, modes, state dicts."""
import numpy as np
import pytest

from dptrain import ag


class Block(ag.Module):
    def __init__(self):
        super().__init__()
        self.encoder = ag.Linear(3, 4)
        self.scale = ag.param(np.ones(4, np.float32), name="block_scale")
        self.norm = ag.BatchNorm(4)
        self.decoder = ag.Linear(4, 2)

    def forward(self, x):
        return self.decoder(self.norm(self.encoder(x)) * self.scale)


def test_parameters_dotted_names_in_definition_order():
    m = Block()
    assert list(m.parameters()) == ["scale", "encoder.weight", "encoder.bias", "norm.weight", "norm.bias",
                                    "decoder.weight", "decoder.bias"]
    seq = ag.Sequential(ag.Linear(2, 3), ag.Dropout(0.1), Block())
    names = list(seq.parameters())
    assert names[:3] == ["0.weight", "0.bias", "2.scale"]
    assert names[-1] == "2.decoder.bias"
    assert seq.parameters()["0.weight"] is seq[0].weight


def test_param_tensor_names_are_unique_across_instances():
    a, b = ag.Linear(2, 2), ag.Linear(2, 2)
    names = [p.name for p in list(a.parameters().values()) + list(b.parameters().values())]
    assert len(set(names)) == 4
    assert a.weight.name.endswith(".weight") and a.weight.name != b.weight.name
    x = np.ones((1, 2), np.float32)
    with ag.grad_tape():
        loss = ag.sum(b(a(x)))
    grads = ag.backward(loss)        # would raise on a name collision
    assert set(grads) == set(names)


def test_shared_param_listed_once():
    m = ag.Module()
    m.a = ag.Linear(2, 2)
    m.b = ag.Linear(2, 2)
    m.b.weight = m.a.weight
    assert list(m.parameters()) == ["a.weight", "a.bias", "b.bias"]


def test_reassigning_an_attribute_unregisters_it():
    m = ag.Linear(2, 2)
    m.bias = None
    assert list(m.parameters()) == ["weight"]
    del m.weight
    assert list(m.parameters()) == []


def test_train_eval_recursive():
    m = Block()
    assert m.training and m.norm.training
    assert m.eval() is m
    assert not m.training and not m.norm.training and not m.encoder.training
    m.train()
    assert m.norm.training


def test_forward_and_call_agree():
    m = ag.Linear(3, 2)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(m(x).numpy(), m.forward(x).numpy())


def test_missing_super_init_is_reported():
    class Bad(ag.Module):
        def __init__(self):
            self.w = ag.param(np.ones(2))

    with pytest.raises(AttributeError, match=r"super\(\)\.__init__"):
        Bad()


def test_state_dict_has_params_and_buffers_as_arrays():
    m = Block()
    sd = m.state_dict()
    assert list(sd) == ["scale", "encoder.weight", "encoder.bias", "norm.weight", "norm.bias",
                        "norm.running_mean", "norm.running_var", "decoder.weight", "decoder.bias"]
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    sd["encoder.weight"][:] = 123.0           # a copy, not a view
    assert not np.any(m.encoder.weight.numpy() == 123.0)


def test_state_dict_round_trip_restores_outputs():
    ag.manual_seed(1)
    a = Block()
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    a(x)                                      # updates running statistics
    ag.manual_seed(2)
    b = Block()
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    np.testing.assert_array_equal(b.norm.running_mean.numpy(), a.norm.running_mean.numpy())


def test_load_state_dict_keeps_storage():
    m = ag.Linear(2, 3)
    storage = m.weight.data
    m.load_state_dict({"weight": np.full((2, 3), 7.0), "bias": np.zeros(3)})
    assert m.weight.data is storage
    assert m.weight.dtype == np.float32 and np.all(m.weight.numpy() == 7.0)


def test_load_state_dict_errors_name_the_keys():
    m = Block()
    sd = m.state_dict()
    del sd["decoder.bias"]
    sd["extra.weight"] = np.zeros(1)
    with pytest.raises(KeyError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    assert "decoder.bias" in msg and "extra.weight" in msg and "missing" in msg and "unexpected" in msg
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert missing == ["decoder.bias"] and unexpected == ["extra.weight"]


def test_load_state_dict_shape_mismatch_changes_nothing():
    m = ag.Linear(2, 3)
    before = m.state_dict()
    with pytest.raises(ValueError, match=r"weight: checkpoint \(3, 2\) vs module \(2, 3\)"):
        m.load_state_dict({"weight": np.zeros((3, 2)), "bias": np.ones(3)})
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(ValueError, match="bias"):
        m.load_state_dict({"bias": np.zeros(4)}, strict=False)


def test_initialisation_reproducible_from_manual_seed():
    ag.manual_seed(5)
    a = Block().state_dict()
    ag.manual_seed(5)
    b = Block().state_dict()
    ag.manual_seed(6)
    c = Block().state_dict()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["encoder.weight"], c["encoder.weight"])


def test_zero_grad_in_place():
    m = ag.Linear(2, 2)
    x = np.ones((3, 2), np.float32)
    with ag.grad_tape():
        loss = ag.sum(m(x))
    ag.backward(loss)
    g = m.weight.grad
    m.zero_grad()
    assert m.weight.grad is g and not g.any()


def test_repr_lists_children():
    r = repr(ag.Sequential(ag.Linear(4, 8, activation="relu"), ag.Dropout(0.5)))
    assert "(0): Linear(4, 8, activation='relu')" in r and "(1): Dropout(p=0.5)" in r
