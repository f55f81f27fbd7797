"""MultiheadAttention: numpy reference, masks (causal, padding), gradcheck, torch parity."""
import numpy as np
import pytest

from dptrain import ag
from module_gradcheck_helpers import module_gradcheck

RNG = np.random.default_rng(2)


def reference(m, q, k, v, keep=None):
    sd = m.state_dict()
    h, dh = m.n_heads, m.head_dim
    proj = lambda x, n: x @ sd[f"{n}.weight"] + sd[f"{n}.bias"]
    split = lambda x: x.reshape(x.shape[0], x.shape[1], h, dh).transpose(0, 2, 1, 3)
    Q, K, V = split(proj(q, "q_proj")), split(proj(k, "k_proj")), split(proj(v, "v_proj"))
    s = Q @ K.transpose(0, 1, 3, 2) / np.sqrt(dh)
    if keep is not None:
        s = np.where(keep, s, -np.inf)
    a = np.exp(s - s.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    o = (a @ V).transpose(0, 2, 1, 3).reshape(q.shape[0], q.shape[1], h * dh)
    return proj(o, "out_proj")


def make(d=8, h=2, **kw):
    m = ag.MultiheadAttention(d, h, dtype=np.float64, **kw)
    for n, p in m.parameters().items():        # non-zero biases so that they are tested too
        if n.endswith("bias"):
            m.load_state_dict({n: RNG.standard_normal(p.shape)}, strict=False)
    return m


def test_self_and_cross_attention_match_numpy():
    m = make()
    x = RNG.standard_normal((2, 5, 8))
    np.testing.assert_allclose(m(x).numpy(), reference(m, x, x, x), rtol=1e-10)
    q, kv = RNG.standard_normal((2, 3, 8)), RNG.standard_normal((2, 6, 8))
    out = m(q, kv, kv)
    assert out.shape == (2, 3, 8)
    np.testing.assert_allclose(out.numpy(), reference(m, q, kv, kv), rtol=1e-10)


def test_causal_output_ignores_future_positions():
    m = make()
    x = RNG.standard_normal((2, 6, 8))
    base = m(x, causal=True).numpy()
    for t in range(5):
        x2 = x.copy()
        x2[:, t + 1:] = RNG.standard_normal(x2[:, t + 1:].shape)
        out = m(x2, causal=True).numpy()
        np.testing.assert_allclose(out[:, :t + 1], base[:, :t + 1], rtol=1e-12, atol=1e-12)
        assert not np.allclose(out[:, t + 1:], base[:, t + 1:])
    keep = np.tril(np.ones((6, 6), bool))
    np.testing.assert_allclose(base, reference(m, x, x, x, keep), rtol=1e-10)


def test_causal_attention_weights_are_lower_triangular():
    m = make()
    _, attn = m(RNG.standard_normal((1, 4, 8)), causal=True, return_attention=True)
    a = attn.numpy()
    assert a.shape == (1, 2, 4, 4)
    assert np.all(a[..., np.triu_indices(4, 1)[0], np.triu_indices(4, 1)[1]] == 0)
    np.testing.assert_allclose(a.sum(-1), 1.0, rtol=1e-12)


def test_padding_mask_true_means_attend():
    m = make()
    x = RNG.standard_normal((2, 5, 8))
    lengths = [5, 3]
    pad = np.arange(5)[None, :] < np.array(lengths)[:, None]        # [B, Tk], True = real token
    out = m(x, mask=pad[:, None, :]).numpy()                         # [B, 1, Tk] broadcasts over queries
    for b, n in enumerate(lengths):                                  # same as attending to the first n keys only
        ref = m(x[b:b + 1], x[b:b + 1, :n], x[b:b + 1, :n]).numpy()
        np.testing.assert_allclose(out[b:b + 1], ref, rtol=1e-10)
    out01 = m(x, mask=pad[:, None, :].astype(np.float32)).numpy()   # 0/1 arrays work the same
    np.testing.assert_array_equal(out, out01)


def test_mask_and_causal_combine():
    m = make()
    x = RNG.standard_normal((1, 4, 8))
    mask = np.array([[True, False, True, True]])
    keep = np.tril(np.ones((4, 4), bool)) & mask
    np.testing.assert_allclose(m(x, causal=True, mask=mask).numpy(), reference(m, x, x, x, keep), rtol=1e-10)


def test_fully_masked_query_averages_values_without_nan():
    m = make()
    x = RNG.standard_normal((1, 3, 8))
    mask = np.ones((3, 3), bool)
    mask[1] = False
    out, attn = m(x, mask=mask, return_attention=True)
    assert np.all(np.isfinite(out.numpy()))
    np.testing.assert_allclose(attn.numpy()[0, :, 1], 1 / 3, rtol=1e-12)


def test_gradcheck_with_causal_mask():
    m = make(d=4, h=2)
    x = RNG.standard_normal((2, 3, 4))
    assert module_gradcheck(m, [x], lambda x: m(x, causal=True))


def test_gradcheck_cross_attention_with_mask():
    m = make(d=4, h=2)
    q, kv = RNG.standard_normal((1, 2, 4)), RNG.standard_normal((1, 3, 4))
    mask = np.array([[1, 0, 1], [1, 1, 0]])
    assert module_gradcheck(m, [q, kv], lambda q, kv: m(q, kv, kv, mask=mask))


def test_attention_dropout_only_in_training():
    ag.manual_seed(0)
    m = make(dropout=0.5)
    x = RNG.standard_normal((2, 4, 8))
    assert not np.allclose(m(x).numpy(), m(x).numpy())
    m.eval()
    np.testing.assert_allclose(m(x).numpy(), reference(m, x, x, x), rtol=1e-10)


def test_errors_name_the_module():
    m = ag.MultiheadAttention(8, 2)
    with pytest.raises(ValueError, match=r"MultiheadAttention 'multiheadattention\d+': q must be \[batch, time, 8\]"):
        m(np.zeros((5, 8), np.float32))
    with pytest.raises(ValueError, match="does not broadcast"):
        m(np.zeros((2, 5, 8), np.float32), mask=np.ones((4, 4), bool))
    with pytest.raises(ValueError, match="not divisible"):
        ag.MultiheadAttention(6, 4)


def test_matches_torch_multihead_attention():
    torch = pytest.importorskip("torch")
    d, h = 8, 4
    m = make(d, h)
    sd = m.state_dict()
    t = torch.nn.MultiheadAttention(d, h, batch_first=True).double()
    with torch.no_grad():
        t.in_proj_weight.copy_(torch.from_numpy(np.concatenate([sd[f"{n}_proj.weight"].T for n in "qkv"])))
        t.in_proj_bias.copy_(torch.from_numpy(np.concatenate([sd[f"{n}_proj.bias"] for n in "qkv"])))
        t.out_proj.weight.copy_(torch.from_numpy(sd["out_proj.weight"].T))
        t.out_proj.bias.copy_(torch.from_numpy(sd["out_proj.bias"]))
    x = RNG.standard_normal((2, 5, d))
    keep = np.tril(np.ones((5, 5), bool))
    xt = torch.from_numpy(x)
    ref, _ = t(xt, xt, xt, attn_mask=torch.from_numpy(~keep))     # torch: True = masked out
    np.testing.assert_allclose(m(x, causal=True).numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
