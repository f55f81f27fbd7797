// Shared declarations for every dptrain compute shader.
//
// Float buffers are declared with FBUF(binding, name, qualifier) and accessed with
// LD(name, i) / ST(name, i, value); arithmetic is always f32. Built with -DF16, each
// float binding is also aliased as float16_t and specialization constant 20 + binding
// says which storage the bound array uses, so one pipeline serves any mix of f16 and
// f32 arrays. The plain build needs no 16-bit capability at all.
//
// Each buffer is alone in its own descriptor set (set = slot, binding = 0): the host
// keeps one descriptor set per memory region and binds a dispatch's regions side by side.
//
// Specialization constant ids: 0 = local_size_x, 1 = local_size_y, 2..9 per kernel,
// 20 + b = "buffer slot b holds f16".

#ifdef F16
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define FBUF(B, NAME, QUAL) \
    layout(std430, set = B, binding = 0) QUAL buffer NAME##_F32 { float NAME##_f[]; }; \
    layout(std430, set = B, binding = 0) QUAL buffer NAME##_F16 { float16_t NAME##_h[]; }; \
    layout(constant_id = 20 + B) const bool NAME##_is16 = false;
#define LD(NAME, I) (NAME##_is16 ? float(NAME##_h[I]) : NAME##_f[I])
#define ST(NAME, I, V) { if (NAME##_is16) NAME##_h[I] = float16_t(V); else NAME##_f[I] = (V); }
#else
#define FBUF(B, NAME, QUAL) \
    layout(std430, set = B, binding = 0) QUAL buffer NAME##_F32 { float NAME##_f[]; };
#define LD(NAME, I) NAME##_f[I]
#define ST(NAME, I, V) { NAME##_f[I] = (V); }
#endif

// A uint (index) buffer.
#define UBUF(B, NAME, QUAL) \
    layout(std430, set = B, binding = 0) QUAL buffer NAME##_U32 { uint NAME[]; };

// The workgroup width as a plain specialization constant (the same id as local_size_x).
// Index arithmetic uses it rather than gl_WorkGroupSize, which some drivers (Mesa
// lavapipe 22.x) fold to its default of 1 inside expressions.
layout(constant_id = 0) const uint WG_X = 1;

// Linear invocation index for 1-D kernels dispatched on a 2-D grid of workgroups
// (the host splits more than 65535 workgroups over y).
uint linear_id() {
    return (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * WG_X + gl_LocalInvocationID.x;
}

uint linear_group() {
    return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
}

#define NAN_F uintBitsToFloat(0x7fc00000u)
#define INF_F uintBitsToFloat(0x7f800000u)
const float SQRT_2_OVER_PI = 0.7978845608028654;
const float GELU_C = 0.044715;

// numpy's power for float operands: exact sign for integral exponents of negative
// bases, NaN for fractional ones, and the IEEE cases at zero.
float npow(float x, float y) {
    if (y == 2.0) return x * x;
    if (y == 1.0) return x;
    if (y == 0.0) return 1.0;
    if (x == 0.0) return y > 0.0 ? 0.0 : INF_F;
    float r = exp2(y * log2(abs(x)));
    if (x < 0.0) {
        if (floor(y) != y) return NAN_F;
        if (mod(y, 2.0) == 1.0) r = -r;
    }
    return r;
}

// tanh that stays finite for large |x| whatever the driver's formula.
float tanh_safe(float x) {
    return tanh(clamp(x, -15.0, 15.0));
}

// erf by Abramowitz & Stegun 7.1.26: absolute error below 1.5e-7.
float erf_approx(float x) {
    float s = sign(x);
    float a = abs(x);
    float t = 1.0 / (1.0 + 0.3275911 * a);
    float y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
                     + 0.254829592) * t * exp(-a * a);
    return s * y;
}
