// y = f(x) elementwise over contiguous arrays; also the f16 <-> f32 copy (OP_COPY).
// Push: n, x offset, y offset, alpha, beta, flags.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 2) const uint OP = 0;

const uint OP_COPY = 0, OP_NEG = 1, OP_SCALE = 2, OP_EXP = 3, OP_LOG = 4, OP_SQRT = 5, OP_ABS = 6,
           OP_SIGN = 7, OP_RELU = 8, OP_SIGMOID = 9, OP_TANH = 10, OP_GELU_TANH = 11, OP_GELU_ERF = 12,
           OP_SILU = 13, OP_POW = 14, OP_CLIP = 15, OP_RECIP = 16, OP_ADD_SCALAR = 17;

FBUF(0, x, readonly)
FBUF(1, y, )

layout(push_constant) uniform Push {
    uint n; uint ox; uint oy; float alpha; float beta; uint flags;
} p;

float sigmoid(float v) { return 0.5 * tanh_safe(0.5 * v) + 0.5; }

void main() {
    uint i = linear_id();
    if (i >= p.n) return;
    float v = LD(x, p.ox + i);
    float r;
    if (OP == OP_COPY) r = v;
    else if (OP == OP_NEG) r = -v;
    else if (OP == OP_SCALE) r = v * p.alpha;
    else if (OP == OP_EXP) r = exp(v);
    else if (OP == OP_LOG) r = v < 0.0 ? NAN_F : (v == 0.0 ? -INF_F : log(v));
    else if (OP == OP_SQRT) r = v < 0.0 ? NAN_F : sqrt(v);
    else if (OP == OP_ABS) r = abs(v);
    else if (OP == OP_SIGN) r = sign(v);
    else if (OP == OP_RELU) r = max(v, 0.0);
    else if (OP == OP_SIGMOID) r = sigmoid(v);
    else if (OP == OP_TANH) r = tanh_safe(v);
    else if (OP == OP_GELU_TANH) r = 0.5 * v * (1.0 + tanh_safe(SQRT_2_OVER_PI * (v + GELU_C * v * v * v)));
    else if (OP == OP_GELU_ERF) r = 0.5 * v * (1.0 + erf_approx(v * 0.7071067811865476));
    else if (OP == OP_SILU) r = v * sigmoid(v);
    else if (OP == OP_POW) r = npow(v, p.alpha);
    else if (OP == OP_CLIP) {
        r = v;
        if ((p.flags & 1u) != 0u) r = max(r, p.alpha);
        if ((p.flags & 2u) != 0u) r = min(r, p.beta);
    }
    else if (OP == OP_RECIP) r = 1.0 / v;
    else r = v + p.alpha;   // OP_ADD_SCALAR
    ST(y, p.oy + i, r);
}
