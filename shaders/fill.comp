// dst[i] = value. Push: n, dst offset, value.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

FBUF(0, dst, )

layout(push_constant) uniform Push { uint n; uint odst; float value; } p;

void main() {
    uint i = linear_id();
    if (i >= p.n) return;
    ST(dst, p.odst + i, p.value);
}
