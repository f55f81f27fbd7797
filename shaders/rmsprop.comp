// Fused RMSprop step over a flat parameter buffer, in place, in PyTorch's or Keras 3's form:
// g += wd * p; sq = rho sq + (1 - rho) g^2;
// centered (flag 2): ga = rho ga + (1 - rho) g, var = sq - ga^2, else var = sq;
// torch (flag 4 clear): d = g / (sqrt(var) + eps); keras (flag 4): d = g / sqrt(var + eps);
// momentum (flag 1): mb = momentum mb + lr d (Keras) or momentum mb + d (torch), step = mb (x lr for torch);
// p -= step.
// Push: n, offsets of p, g, sq, mb, ga, flags, lr, rho, eps, weight decay, momentum.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

FBUF(0, P, )
FBUF(1, G, readonly)
FBUF(2, SQ, )
FBUF(3, MB, )
FBUF(4, GA, )

layout(push_constant) uniform Push {
    uint n; uint op; uint og; uint osq; uint omb; uint oga; uint flags;
    float lr; float rho; float eps; float wd; float momentum;
} p;

void main() {
    uint i = linear_id();
    if (i >= p.n) return;
    float w = LD(P, p.op + i);
    float g = LD(G, p.og + i);
    if (p.wd != 0.0) g += p.wd * w;
    float sq = p.rho * LD(SQ, p.osq + i) + (1.0 - p.rho) * g * g;
    ST(SQ, p.osq + i, sq);
    float var = sq;
    if ((p.flags & 2u) != 0u) {
        float ga = p.rho * LD(GA, p.oga + i) + (1.0 - p.rho) * g;
        ST(GA, p.oga + i, ga);
        var = sq - ga * ga;
    }
    bool keras = (p.flags & 4u) != 0u;
    float d = keras ? g / sqrt(var + p.eps) : g / (sqrt(var) + p.eps);
    float step;
    if ((p.flags & 1u) != 0u) {
        float mb = p.momentum * LD(MB, p.omb + i) + (keras ? p.lr * d : d);
        ST(MB, p.omb + i, mb);
        step = keras ? mb : p.lr * mb;
    } else {
        step = p.lr * d;
    }
    ST(P, p.op + i, w - step);
}
