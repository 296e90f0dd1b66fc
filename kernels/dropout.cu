// dropout.cu — applies a dropout mask: the CUDA twin of src/cpu/dropout.rs (apply and
// apply_blocks). It owns no state: the mask is a counter-based hash of (key, index),
// recomputed by forward and backward alike, so it is bit-identical to the CPU's.
//
// Maths: for index b (b = i for elementwise dropout, b = i / inner for channel dropout,
// where one draw covers a block of `inner` consecutive elements),
//   mix32(x) = xorshift-multiply finaliser: x ^= x >> 16; x *= 0x7feb352d;
//              x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16
//   hash(b)  = mix32(mix32(lo ^ k0) ^ hi ^ k1), lo/hi the low/high 32 bits of b
//   y[i]     = x[i]·(hash(b) ≥ threshold ? scale : 0)
// (x·0 keeps IEEE semantics: a dropped inf or NaN gives NaN, as on the CPU.)
//
// Layout: flat contiguous f32 x and y (y may alias x), n elements.
// Geometry: 1-D grid-stride, block 256, any grid.
//
// elu_dropout_slab_forward / _backward (src/cpu/elu_dropout.rs): ELU, channel dropout and
// concatenation in one pass; one part of the output at a time. Index i runs over the
// part's outer×c×inner elements, map b = i / inner, (o, j) = (b / c, b % c), and the
// output element is (o·c_total + offset + j)·inner + i % inner. Backward never reads
// ELU's output: e = y / f where the map was kept; where dropped, dx = dy·0.
// Geometry: one block of 256 per feature map (grid.x = outer·c), threads over inner.
//
// Versions:
// 1. scalar grid-stride loop, one hash per element (inner > 1: one u64 division each);
// 2. (kept, inner = 1) 16-byte float4 loads/stores when x and y are 16-byte aligned
//    (checked at run time), four hashes per thread, scalar tail.
#include "params.h"

static __device__ __forceinline__ u32 dropout_mix32(u32 x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    return x ^ (x >> 16);
}

static __device__ __forceinline__ float mask_factor(u32 k0, u32 k1, u32 threshold, float scale,
                                                   u64 b) {
    const u32 h = dropout_mix32(dropout_mix32((u32)b ^ k0) ^ (u32)(b >> 32) ^ k1);
    return h >= threshold ? scale : 0.0f;
}

static __device__ __forceinline__ float dropout_factor(const DropoutParams& p, u64 b) {
    return mask_factor(p.k0, p.k1, p.threshold, p.scale, b);
}

extern "C" __global__ void dropout_apply(DropoutParams p, const float* x, float* y) {
    const u64 n = p.n;
    const u64 tid = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    const u64 stride = (u64)gridDim.x * blockDim.x;
    if (p.inner > 1) {
        for (u64 i = tid; i < n; i += stride) y[i] = x[i] * dropout_factor(p, i / p.inner);
        return;
    }
    if (p.inner == 0) return;
    u64 done = 0;
    if ((((u64)x | (u64)y) & 15) == 0) {
        const u64 n4 = n >> 2;
        const float4* x4 = (const float4*)x;
        float4* y4 = (float4*)y;
        for (u64 i = tid; i < n4; i += stride) {
            float4 v = x4[i];
            const u64 b = i << 2;
            v.x = v.x * dropout_factor(p, b);
            v.y = v.y * dropout_factor(p, b + 1);
            v.z = v.z * dropout_factor(p, b + 2);
            v.w = v.w * dropout_factor(p, b + 3);
            y4[i] = v;
        }
        done = n4 << 2;
    }
    for (u64 i = done + tid; i < n; i += stride) y[i] = x[i] * dropout_factor(p, i);
}

// One block per feature map b = blockIdx.x of the part, (o, j) = (b / c, b % c): one hash
// per map, threads stride over its inner elements.
extern "C" __global__ void elu_dropout_slab_forward(SlabParams p, const float* x, float* y) {
    const u64 b = blockIdx.x;
    const u64 o = b / p.c, j = b - o * p.c;
    const float f = mask_factor(p.k0, p.k1, p.threshold, p.scale, b);
    const float* src = x + b * p.inner;
    float* dst = y + (o * p.c_total + p.offset + j) * p.inner;
    for (u64 k = threadIdx.x; k < p.inner; k += blockDim.x) {
        const float v = src[k];
        dst[k] = (v > 0.0f ? v : expm1f(v)) * f;
    }
}

extern "C" __global__ void elu_dropout_slab_backward(SlabParams p, const float* dy, const float* y,
                                                     float* dx) {
    const u64 b = blockIdx.x;
    const u64 o = b / p.c, j = b - o * p.c;
    const float f = mask_factor(p.k0, p.k1, p.threshold, p.scale, b);
    const u64 at = (o * p.c_total + p.offset + j) * p.inner;
    float* out = dx + b * p.inner;
    for (u64 k = threadIdx.x; k < p.inner; k += blockDim.x) {
        const float g = dy[at + k] * f;
        const float e = f != 0.0f ? __fdiv_rn(y[at + k], f) : 0.0f;
        out[k] = e > 0.0f ? g : g * (e + 1.0f);
    }
}
