// out = f(a, b) with numpy broadcasting over up to 6 (coalesced) dimensions, plus the
// elementwise gradients that pair an activation input/output with an upstream gradient.
// Strides are in elements and 0 on broadcast dimensions; out is contiguous.
// Push: n, offsets of a/b/out, shape[6], a strides[6], b strides[6], alpha, beta, flags.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 2) const uint OP = 0;
layout(constant_id = 3) const uint NDIM = 1;

const uint OP_ADD = 0, OP_SUB = 1, OP_MUL = 2, OP_DIV = 3, OP_POW = 4, OP_EQ = 5, OP_COPY_B = 6,
           OP_RELU_GRAD = 7, OP_SIGMOID_GRAD = 8, OP_TANH_GRAD = 9, OP_GELU_TANH_GRAD = 10,
           OP_GELU_ERF_GRAD = 11, OP_SILU_GRAD = 12, OP_CLIP_GRAD = 13;

FBUF(0, a, readonly)
FBUF(1, b, readonly)
FBUF(2, c, )

layout(push_constant) uniform Push {
    uint n; uint oa; uint ob; uint oc;
    uint shape[6]; uint sa[6]; uint sb[6];
    float alpha; float beta; uint flags;
} p;

float sigmoid(float v) { return 0.5 * tanh_safe(0.5 * v) + 0.5; }

void main() {
    uint i = linear_id();
    if (i >= p.n) return;
    uint ia = p.oa, ib = p.ob, rem = i;
    for (int d = int(NDIM) - 1; d >= 0; --d) {
        uint k = rem % p.shape[d];
        rem /= p.shape[d];
        ia += k * p.sa[d];
        ib += k * p.sb[d];
    }
    float x = LD(a, ia);
    float g = LD(b, ib);
    float r;
    if (OP == OP_ADD) r = x + g;
    else if (OP == OP_SUB) r = x - g;
    else if (OP == OP_MUL) r = x * g;
    else if (OP == OP_DIV) r = x / g;
    else if (OP == OP_POW) r = npow(x, g);
    else if (OP == OP_EQ) r = x == g ? 1.0 : 0.0;
    else if (OP == OP_COPY_B) r = g;
    else if (OP == OP_RELU_GRAD) r = x > 0.0 ? g : 0.0;
    else if (OP == OP_SIGMOID_GRAD) r = g * x * (1.0 - x);
    else if (OP == OP_TANH_GRAD) r = g * (1.0 - x * x);
    else if (OP == OP_GELU_TANH_GRAD) {
        float t = tanh_safe(SQRT_2_OVER_PI * (x + GELU_C * x * x * x));
        r = g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * x * x));
    }
    else if (OP == OP_GELU_ERF_GRAD) {
        r = g * (0.5 * (1.0 + erf_approx(x * 0.7071067811865476)) + x * exp(-0.5 * x * x) * 0.3989422804014327);
    }
    else if (OP == OP_SILU_GRAD) {
        float s = sigmoid(x);
        r = g * s * (1.0 + x * (1.0 - s));
    }
    else {  // OP_CLIP_GRAD: pass the gradient where lo <= x <= hi
        bool keep = true;
        if ((p.flags & 1u) != 0u) keep = keep && x >= p.alpha;
        if ((p.flags & 2u) != 0u) keep = keep && x <= p.beta;
        r = keep ? g : 0.0;
    }
    ST(c, p.oc + i, r);
}
