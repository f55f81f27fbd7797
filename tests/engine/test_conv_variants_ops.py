"""Dilated, grouped, depthwise, causal and transposed convolutions (engine ops, numpy backend):
forward against loop-based float64 references written here, backward against gradcheck."""
import numpy as np
import pytest

import engine as ag

R = np.random.default_rng(17)


def rn(*shape):
    return R.standard_normal(shape)


def np_conv(x, w, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    """Direct loops: y[n, p, q, o] = sum xpad[n, p*sh + i*dh, q*sw + j*dw, g*Cg + c] w[i, j, c, o]."""
    pt, pb, pl, pr = pads
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    kh, kw, cg, co = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    ho = (xp.shape[1] - (kh - 1) * dh - 1) // sh + 1
    wo = (xp.shape[2] - (kw - 1) * dw - 1) // sw + 1
    fg = co // groups
    y = np.zeros((x.shape[0], ho, wo, co))
    for p in range(ho):
        for q in range(wo):
            for o in range(co):
                g = o // fg
                for i in range(kh):
                    for j in range(kw):
                        y[:, p, q, o] += xp[:, p * sh + i * dh, q * sw + j * dw, g * cg:(g + 1) * cg] @ w[i, j, :, o]
    return y


def keras_transpose_axis(n, k, s, padding, out_pad, d):
    """(output length, crop on the left), from Keras' JAX/TensorFlow padding rules."""
    k = (k - 1) * d + 1
    if padding == "valid":
        out_pad = max(k, s) - k if out_pad is None else out_pad
        left = k - 1
        length = (n - 1) * s + k + out_pad
    else:
        pad_len = s + k - 2 if out_pad is None else k + k % 2 - 2 + out_pad
        left = min(pad_len // 2 + pad_len % 2, k - 1)
        length = n * s if out_pad is None else (n - 1) * s + k % 2 + out_pad
    return length, k - 1 - left


def np_conv_transpose(x, w, stride=(1, 1), padding="valid", output_padding=None, dilation=(1, 1)):
    """Scatter loops: every x[n, p, q, c] * w[i, j, f, c] lands at (p*sh + i*dh, q*sw + j*dw) of
    the full output, which is then cropped / zero-extended to Keras' size."""
    n, h, wd, c = x.shape
    kh, kw, f, _ = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    ops_ = (None, None) if output_padding is None else output_padding
    (oh, ch), (ow, cw) = (keras_transpose_axis(h, kh, sh, padding, ops_[0], dh),
                          keras_transpose_axis(wd, kw, sw, padding, ops_[1], dw))
    full = np.zeros((n, max((h - 1) * sh + (kh - 1) * dh + 1, ch + oh),
                     max((wd - 1) * sw + (kw - 1) * dw + 1, cw + ow), f))
    for p in range(h):
        for q in range(wd):
            for i in range(kh):
                for j in range(kw):
                    full[:, p * sh + i * dh, q * sw + j * dw, :] += x[:, p, q, :] @ w[i, j].T
    return full[:, ch:ch + oh, cw:cw + ow, :]


CONV2D = [
    # (id, kwargs of ag.conv2d, x shape, w shape, reference pads)
    ("dilated_valid", dict(dilation=2), (2, 7, 8, 3), (3, 2, 3, 4), (0, 0, 0, 0)),
    ("dilated_same", dict(dilation=(2, 3), padding="same"), (2, 6, 7, 2), (3, 3, 2, 3), (2, 2, 3, 3)),
    ("dilated_same_even", dict(dilation=2, padding="same"), (1, 5, 6, 2), (2, 2, 2, 2), (1, 1, 1, 1)),
    ("grouped", dict(groups=2), (2, 5, 6, 4), (3, 2, 2, 6), (0, 0, 0, 0)),
    ("grouped_same_stride", dict(groups=3, stride=2, padding="same"), (2, 5, 6, 6), (3, 3, 2, 3), (1, 1, 0, 1)),
    ("grouped_dilated", dict(groups=2, dilation=2, padding="same"), (1, 6, 6, 4), (2, 3, 2, 4), (1, 1, 2, 2)),
    ("depthwise_groups", dict(groups=3, padding="same"), (2, 4, 5, 3), (3, 3, 1, 6), (1, 1, 1, 1)),
    ("grouped_1x1", dict(groups=2), (2, 3, 4, 4), (1, 1, 2, 6), (0, 0, 0, 0)),
    ("explicit_pads", dict(padding=(0, 2, 1, 0)), (1, 4, 4, 2), (2, 2, 2, 3), (0, 2, 1, 0)),
]


@pytest.mark.parametrize("case", CONV2D, ids=[c[0] for c in CONV2D])
def test_conv2d_variants_forward_and_gradcheck(case):
    _, kw, xs, ws, pads = case
    x, w, b = rn(*xs), rn(*ws), rn(ws[3])
    ref = np_conv(x, w, kw.get("stride", 1) * np.ones(2, int), pads,
                  np.broadcast_to(kw.get("dilation", 1), 2), kw.get("groups", 1)) + b
    np.testing.assert_allclose(ag.conv2d(x, w, b, **kw).numpy(), ref, rtol=1e-10, atol=1e-10)
    assert ag.gradcheck(lambda x, w, b: ag.conv2d(x, w, b, **kw), [x, w, b])


def test_conv2d_float32_dilated_grouped():
    x, w = rn(2, 6, 6, 4).astype(np.float32), rn(3, 3, 2, 4).astype(np.float32)
    out = ag.conv2d(x, w, dilation=2, groups=2)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), np_conv(x.astype(np.float64), w, dilation=(2, 2), groups=2),
                               rtol=1e-5, atol=1e-5)


CONV1D = [
    ("causal", dict(padding="causal"), (2, 6, 3), (3, 3, 2), (2, 0)),
    ("causal_dilated", dict(padding="causal", dilation=2), (2, 7, 2), (3, 2, 3), (4, 0)),
    ("same_dilated_grouped", dict(padding="same", dilation=2, groups=2), (1, 7, 4), (3, 2, 4), (2, 2)),
    ("valid_grouped_stride", dict(stride=2, groups=2), (2, 9, 2), (2, 1, 4), (0, 0)),
]


@pytest.mark.parametrize("case", CONV1D, ids=[c[0] for c in CONV1D])
def test_conv1d_variants(case):
    _, kw, xs, ws, (pl, pr) = case
    x, w = rn(*xs), rn(*ws)
    ref = np_conv(x[:, None], w[None], (1, kw.get("stride", 1)), (0, 0, pl, pr), (1, kw.get("dilation", 1)),
                  kw.get("groups", 1))[:, 0]
    np.testing.assert_allclose(ag.conv1d(x, w, **kw).numpy(), ref, rtol=1e-10, atol=1e-10)
    assert ag.gradcheck(lambda x, w: ag.conv1d(x, w, **kw), [x, w])


def test_causal_output_does_not_see_the_future():
    x = rn(1, 8, 2)
    w = rn(3, 2, 1)
    y0 = ag.conv1d(x, w, padding="causal", dilation=2).numpy()
    x2 = x.copy()
    x2[:, 5:] += 10.0
    y1 = ag.conv1d(x2, w, padding="causal", dilation=2).numpy()
    np.testing.assert_array_equal(y0[:, :5], y1[:, :5])
    assert not np.allclose(y0[:, 5:], y1[:, 5:])


def test_depthwise_conv2d_matches_per_channel_convolutions():
    x, w, b = rn(2, 5, 6, 3), rn(3, 2, 3, 2), rn(6)
    y = ag.depthwise_conv2d(x, w, b, padding="same", dilation=(1, 2)).numpy()
    for c in range(3):
        for m in range(2):
            ref = np_conv(x[..., c:c + 1], w[:, :, c:c + 1, m:m + 1], pads=(1, 1, 1, 1), dilation=(1, 2))[..., 0]
            np.testing.assert_allclose(y[..., c * 2 + m], ref + b[c * 2 + m], rtol=1e-10, atol=1e-10)
    assert ag.gradcheck(lambda x, w: ag.depthwise_conv2d(x, w, stride=2), [x, w])


def test_depthwise_conv1d():
    x, w = rn(2, 7, 3), rn(3, 3, 2)
    y = ag.depthwise_conv1d(x, w, padding="causal").numpy()
    ref = np.concatenate([np_conv(x[:, None, :, c:c + 1], w[None, :, c:c + 1], pads=(0, 0, 2, 0))[:, 0]
                          for c in range(3)], axis=-1)
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-10)
    assert ag.gradcheck(lambda x, w: ag.depthwise_conv1d(x, w, padding="same"), [x, w])


TRANSPOSE = [
    # (id, stride, padding, output_padding, dilation, kernel)
    ("valid_s1", (1, 1), "valid", None, (1, 1), (3, 2)),
    ("valid_s2", (2, 2), "valid", None, (1, 1), (3, 3)),
    ("valid_stride_over_kernel", (3, 3), "valid", None, (1, 1), (2, 2)),
    ("same_s2_k3", (2, 2), "same", None, (1, 1), (3, 3)),
    ("same_s2_k4", (2, 2), "same", None, (1, 1), (4, 4)),
    ("same_mixed", (2, 3), "same", None, (1, 1), (3, 2)),
    ("same_stride_over_kernel", (3, 3), "same", None, (1, 1), (2, 2)),
    ("valid_output_padding", (2, 3), "valid", (1, 2), (1, 1), (3, 3)),
    ("same_output_padding", (2, 2), "same", (1, 0), (1, 1), (3, 4)),
    ("same_dilated", (1, 1), "same", None, (2, 2), (3, 2)),
    ("valid_dilated", (1, 1), "valid", None, (2, 3), (2, 3)),
    ("1x1_s1", (1, 1), "valid", None, (1, 1), (1, 1)),
]


@pytest.mark.parametrize("case", TRANSPOSE, ids=[c[0] for c in TRANSPOSE])
def test_conv2d_transpose_forward_and_gradcheck(case):
    _, s, pad, op, d, k = case
    x, w, b = rn(2, 4, 5, 3), rn(*k, 4, 3), rn(4)
    y = ag.conv2d_transpose(x, w, b, stride=s, padding=pad, dilation=d, output_padding=op)
    np.testing.assert_allclose(y.numpy(), np_conv_transpose(x, w, s, pad, op, d) + b, rtol=1e-10, atol=1e-10)
    assert ag.gradcheck(lambda x, w, b: ag.conv2d_transpose(x, w, b, stride=s, padding=pad, dilation=d,
                                                            output_padding=op), [x, w, b])


def test_conv2d_transpose_is_the_adjoint_of_conv2d():
    """<conv2d(u, w), x> == <u, conv2d_transpose(x, w)> for the size-matching geometry."""
    u, w = rn(2, 8, 8, 3), rn(3, 3, 3, 5)
    x = rn(2, 4, 4, 5)
    lhs = np.sum(ag.conv2d(u, w, stride=2, padding="same").numpy() * x)
    rhs = np.sum(u * ag.conv2d_transpose(x, w, stride=2, padding="same").numpy())
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)


@pytest.mark.parametrize("pad,stride,op", [("valid", 2, None), ("same", 2, None), ("same", 3, 1), ("valid", 1, None)])
def test_conv1d_transpose(pad, stride, op):
    x, w = rn(2, 5, 3), rn(3, 2, 3)
    y = ag.conv1d_transpose(x, w, stride=stride, padding=pad, output_padding=op).numpy()
    ref = np_conv_transpose(x[:, None], w[None], (1, stride), pad, None if op is None else (0, op))[:, 0]
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-10)
    assert ag.gradcheck(lambda x, w: ag.conv1d_transpose(x, w, stride=stride, padding=pad, output_padding=op),
                        [x, w])


def test_conv2d_transpose_float32_and_shapes():
    x, w = rn(1, 3, 3, 2).astype(np.float32), rn(3, 3, 5, 2).astype(np.float32)
    y = ag.conv2d_transpose(x, w, stride=2, padding="same")
    assert y.dtype == np.float32 and y.shape == (1, 6, 6, 5)
    assert ag.conv2d_transpose(x, w, stride=2).shape == (1, 7, 7, 5)


@pytest.mark.parametrize("fn,pattern", [
    (lambda: ag.conv2d(rn(1, 5, 5, 4), rn(3, 3, 2, 3), groups=2), r"conv2d.*divisible by groups"),
    (lambda: ag.conv2d(rn(1, 5, 5, 4), rn(3, 3, 3, 4), groups=2), r"conv2d.*4 channels.*expects 6"),
    (lambda: ag.conv2d(rn(1, 4, 4, 1), rn(3, 3, 1, 1), dilation=2), r"conv2d.*dilation 2.*does not fit"),
    (lambda: ag.conv2d(rn(1, 4, 4, 1), rn(3, 3, 1, 1), dilation=0), r"conv2d.*dilation must be positive"),
    (lambda: ag.conv1d(rn(1, 4, 1), rn(3, 1, 1), padding="full"), r"conv1d.*padding"),
    (lambda: ag.conv2d_transpose(rn(1, 4, 4, 2), rn(3, 3, 1, 3)), r"conv2d_transpose.*2 channels.*expects 3"),
    (lambda: ag.conv2d_transpose(rn(1, 4, 4, 2), rn(3, 3, 1, 2), stride=2, output_padding=2),
     r"conv2d_transpose.*output_padding"),
    (lambda: ag.conv2d_transpose(rn(1, 4, 4, 2), rn(3, 3, 1, 2), padding="causal"), r"conv_transpose.*padding"),
    (lambda: ag.depthwise_conv2d(rn(1, 4, 4, 2), rn(3, 3, 2)), r"depthwise_conv2d.*4-D"),
])
def test_errors_name_the_op(fn, pattern):
    with pytest.raises(ValueError, match=pattern):
        fn()
