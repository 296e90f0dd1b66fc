// optim.cu — one fused in-place optimiser step over every parameter tensor: the CUDA
// twin of the loops in src/nn/optim.rs (AdamW and SGD with momentum, PyTorch's rules).
//
// Maths, in f32, operation for operation as on the CPU:
//   AdamW  m = b1·m + (1 − b1)·g;  v = b2·v + ((1 − b2)·g)·g;
//          p = p·decay − (step_size·m) / (√v·inv_bc2_sqrt + eps)
//          (decay = 1 − lr·wd, step_size = lr / (1 − b1ᵗ), inv_bc2_sqrt = 1/√(1 − b2ᵗ)
//          are computed by the launcher in f64 as on the CPU)
//   SGD    m = μ·m + (g + wd·p);  p = p − lr·m   (m is the momentum buffer; v unused)
// Every product, sum, quotient and root is an explicitly rounded intrinsic (__fmul_rn,
// __fadd_rn, __fsub_rn, __fdiv_rn, __fsqrt_rn), which the compiler never fuses into an
// FMA: the GPU step is bit-identical to the CPU's (Rust never contracts either).
//
// Layout: slots[t] describes tensor t (p, g, m, v, n; f32, contiguous); a slot whose g
// is null is skipped (no gradient this step, as in PyTorch).
// Geometry: block 256, grid (min(⌈max n/256⌉, 1024), tensors): blockIdx.y picks the
// tensor, blockIdx.x/threadIdx.x grid-stride over its elements. No barriers, so the
// early exits are safe.
//
// Versions:
// 1. scalar grid-stride loop;
// 2. (kept) 16-byte float4 loads/stores when every pointer of the slot is 16-byte aligned
//    (checked at run time per slot), scalar tail and scalar fallback.
#include "params.h"

struct AdamWElem {
    float b1, one_m_b1, b2, one_m_b2, eps, decay, step_size, inv_bc2_sqrt;
    __device__ __forceinline__ void operator()(float& p, float g, float& m, float& v) const {
        m = __fadd_rn(__fmul_rn(b1, m), __fmul_rn(one_m_b1, g));
        v = __fadd_rn(__fmul_rn(b2, v), __fmul_rn(__fmul_rn(one_m_b2, g), g));
        const float denom = __fadd_rn(__fmul_rn(__fsqrt_rn(v), inv_bc2_sqrt), eps);
        p = __fsub_rn(__fmul_rn(p, decay), __fdiv_rn(__fmul_rn(step_size, m), denom));
    }
};

struct SgdElem {
    float lr, momentum, weight_decay;
    __device__ __forceinline__ void operator()(float& p, float g, float& m, float&) const {
        m = __fadd_rn(__fmul_rn(momentum, m), __fadd_rn(g, __fmul_rn(weight_decay, p)));
        p = __fsub_rn(p, __fmul_rn(lr, m));
    }
};

// Applies f to every element of the slot; v may be null when f ignores it (SGD).
template <class F>
static __device__ __forceinline__ void optim_slot(const ParamSlot& s, F f, bool uses_v) {
    const u64 n = s.n;
    const u64 tid = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    const u64 stride = (u64)gridDim.x * blockDim.x;
    u64 done = 0;
    const u64 bits = (u64)s.p | (u64)s.g | (u64)s.m | (uses_v ? (u64)s.v : 0);
    if ((bits & 15) == 0) {
        const u64 n4 = n >> 2;
        float4* p4 = (float4*)s.p;
        const float4* g4 = (const float4*)s.g;
        float4* m4 = (float4*)s.m;
        float4* v4 = (float4*)s.v;
        for (u64 i = tid; i < n4; i += stride) {
            float4 p = p4[i], m = m4[i];
            const float4 g = g4[i];
            float4 v = uses_v ? v4[i] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            f(p.x, g.x, m.x, v.x);
            f(p.y, g.y, m.y, v.y);
            f(p.z, g.z, m.z, v.z);
            f(p.w, g.w, m.w, v.w);
            p4[i] = p;
            m4[i] = m;
            if (uses_v) v4[i] = v;
        }
        done = n4 << 2;
    }
    for (u64 i = done + tid; i < n; i += stride) {
        float p = s.p[i], m = s.m[i], v = uses_v ? s.v[i] : 0.0f;
        f(p, s.g[i], m, v);
        s.p[i] = p;
        s.m[i] = m;
        if (uses_v) s.v[i] = v;
    }
}

extern "C" __global__ void adamw_step(AdamWParams a, const ParamSlot* slots) {
    if (blockIdx.y >= a.tensors) return;
    const ParamSlot s = slots[blockIdx.y];
    if (s.g == nullptr) return;
    AdamWElem f;
    f.b1 = a.beta1;
    f.one_m_b1 = __fsub_rn(1.0f, a.beta1);
    f.b2 = a.beta2;
    f.one_m_b2 = __fsub_rn(1.0f, a.beta2);
    f.eps = a.eps;
    f.decay = a.decay;
    f.step_size = a.step_size;
    f.inv_bc2_sqrt = a.inv_bc2_sqrt;
    optim_slot(s, f, true);
}

extern "C" __global__ void sgd_step(SgdParams a, const ParamSlot* slots) {
    if (blockIdx.y >= a.tensors) return;
    const ParamSlot s = slots[blockIdx.y];
    if (s.g == nullptr) return;
    SgdElem f;
    f.lr = a.lr;
    f.momentum = a.momentum;
    f.weight_decay = a.weight_decay;
    optim_slot(s, f, false);
}
