// elementwise.cu — pointwise arithmetic, the pointwise activations and the f64 sums.
// The CUDA twins of src/cpu/arith.rs, src/cpu/activation.rs and the bias-gradient sum
// of src/cpu/linear.rs / conv2d backward_bias; they must not hold any state.
//
// Maths (all f32 unless stated):
//   ew_unary     y = x (0), s·x (1), x + s (2), ln x (3), s (4, x unread and may be null)
//   ew_binary    y = a + b (0), a·b (1), a / b (2), a + s·b (3); y may alias a
//   fill_scaled  y = s·g[0]                                    (sum/mean backward)
//   act_forward  relu max(x, 0); elu x > 0 ? x : eˣ − 1; selu x > 0 ? λx : λα(eˣ − 1)
//   act_backward g ← g·act′ read from the output y: relu y > 0 ? g : 0;
//                elu y > 0 ? g : g(y + 1); selu y > 0 ? λg : g(y + λα)
//   reduce_sum   out[0] = s·Σ x[i], accumulated in f64
//   sum_axis1    out[j] = β·out[j] + Σ_{o,i} x[o, j, i], accumulated in f64 (β = 0: out
//                is not read, so it may hold garbage)
//   sum_splits   out[i] = Σ_{s < splits} partial[s·len + i], in s order, in f64
//
// Layout: flat contiguous f32 arrays; x of sum_axis1 is outer×c×inner row-major
// (bias grads: N×O with inner = 1, or N×O×H×W with outer = N, inner = H·W).
//
// Geometry (docs/cuda.md): the pointwise kernels and sum_splits are 1-D grid-stride
// loops with blocks of 256 and work at any grid; reduce_sum is one block of 256;
// sum_axis1 is one block of 256 per output j (both rely on blockDim.x = 256: their
// strides and the warp count of the final sum are constants). Reductions are
// deterministic: every thread sums a fixed subset in index order, then a fixed tree
// (warp xor butterfly, then warps 0..7 in order) combines them; no atomics.
//
// Versions:
// 1. scalar grid-stride loops (one element per thread per trip);
// 2. (kept) 16-byte float4 loads/stores when every pointer of the call is 16-byte
//    aligned (checked at run time, since launchers may pass sub-buffer pointers), the
//    n mod 4 tail scalar; the scalar loop of version 1 serves misaligned pointers.
//    reduce_sum also takes the float4 path, with 4 independent loads per thread in
//    flight, since one block must pull the whole array.
#include "params.h"

#define EW_BLOCK 256
#define EW_WARPS (EW_BLOCK / 32)

static __device__ __forceinline__ bool ew_aligned16(const void* p) {
    return (((u64)p) & 15) == 0;
}

static __device__ __forceinline__ u64 ew_tid() {
    return (u64)blockIdx.x * blockDim.x + threadIdx.x;
}

static __device__ __forceinline__ u64 ew_stride() {
    return (u64)gridDim.x * blockDim.x;
}

// y[i] = f(x[i]) for i < n; float4 when both pointers are 16-byte aligned.
template <class F>
static __device__ __forceinline__ void ew_map1(u64 n, const float* x, float* y, F f) {
    const u64 tid = ew_tid(), stride = ew_stride();
    u64 done = 0;
    if (ew_aligned16(x) && ew_aligned16(y)) {
        const u64 n4 = n >> 2;
        const float4* x4 = (const float4*)x;
        float4* y4 = (float4*)y;
        for (u64 i = tid; i < n4; i += stride) {
            float4 v = x4[i];
            v.x = f(v.x);
            v.y = f(v.y);
            v.z = f(v.z);
            v.w = f(v.w);
            y4[i] = v;
        }
        done = n4 << 2;
    }
    for (u64 i = done + tid; i < n; i += stride) y[i] = f(x[i]);
}

// y[i] = f(a[i], b[i]) for i < n; y may alias a (each element is read before it is
// written, by the same thread).
template <class F>
static __device__ __forceinline__ void ew_map2(u64 n, const float* a, const float* b, float* y,
                                               F f) {
    const u64 tid = ew_tid(), stride = ew_stride();
    u64 done = 0;
    if (ew_aligned16(a) && ew_aligned16(b) && ew_aligned16(y)) {
        const u64 n4 = n >> 2;
        const float4* a4 = (const float4*)a;
        const float4* b4 = (const float4*)b;
        float4* y4 = (float4*)y;
        for (u64 i = tid; i < n4; i += stride) {
            const float4 u = a4[i];
            const float4 v = b4[i];
            float4 r;
            r.x = f(u.x, v.x);
            r.y = f(u.y, v.y);
            r.z = f(u.z, v.z);
            r.w = f(u.w, v.w);
            y4[i] = r;
        }
        done = n4 << 2;
    }
    for (u64 i = done + tid; i < n; i += stride) y[i] = f(a[i], b[i]);
}

// y[i] = v for i < n.
static __device__ __forceinline__ void ew_fill(u64 n, float v, float* y) {
    const u64 tid = ew_tid(), stride = ew_stride();
    u64 done = 0;
    if (ew_aligned16(y)) {
        const u64 n4 = n >> 2;
        float4* y4 = (float4*)y;
        const float4 v4 = make_float4(v, v, v, v);
        for (u64 i = tid; i < n4; i += stride) y4[i] = v4;
        done = n4 << 2;
    }
    for (u64 i = done + tid; i < n; i += stride) y[i] = v;
}

struct EwCopy { __device__ float operator()(float v) const { return v; } };
struct EwScale { float s; __device__ float operator()(float v) const { return s * v; } };
struct EwAddScalar { float s; __device__ float operator()(float v) const { return v + s; } };
struct EwLn { __device__ float operator()(float v) const { return logf(v); } };

struct EwAdd { __device__ float operator()(float a, float b) const { return a + b; } };
struct EwMul { __device__ float operator()(float a, float b) const { return a * b; } };
struct EwDiv { __device__ float operator()(float a, float b) const { return a / b; } };
struct EwAxpy {
    float s;
    __device__ float operator()(float a, float b) const { return a + s * b; }
};

extern "C" __global__ void ew_unary(EwParams p, const float* x, float* y) {
    switch (p.op) {
        case 0: ew_map1(p.n, x, y, EwCopy()); break;
        case 1: ew_map1(p.n, x, y, EwScale{p.s}); break;
        case 2: ew_map1(p.n, x, y, EwAddScalar{p.s}); break;
        case 3: ew_map1(p.n, x, y, EwLn()); break;
        case 4: ew_fill(p.n, p.s, y); break;
        default: break;
    }
}

extern "C" __global__ void ew_binary(EwParams p, const float* a, const float* b, float* y) {
    switch (p.op) {
        case 0: ew_map2(p.n, a, b, y, EwAdd()); break;
        case 1: ew_map2(p.n, a, b, y, EwMul()); break;
        case 2: ew_map2(p.n, a, b, y, EwDiv()); break;
        case 3: ew_map2(p.n, a, b, y, EwAxpy{p.s}); break;
        default: break;
    }
}

extern "C" __global__ void fill_scaled(EwParams p, const float* g, float* y) {
    ew_fill(p.n, p.s * g[0], y);
}

// SELU constants as the f32 values of src/cpu/activation.rs (PyTorch's).
#define EW_SELU_ALPHA 1.6732632f
#define EW_SELU_SCALE 1.050701f

struct ActRelu { __device__ float operator()(float x) const { return fmaxf(x, 0.0f); } };
struct ActElu {
    __device__ float operator()(float x) const { return x > 0.0f ? x : expm1f(x); }
};
struct ActSelu {
    __device__ float operator()(float x) const {
        return x > 0.0f ? EW_SELU_SCALE * x : (EW_SELU_SCALE * EW_SELU_ALPHA) * expm1f(x);
    }
};

struct ActReluBack {
    __device__ float operator()(float g, float y) const { return y > 0.0f ? g : 0.0f; }
};
struct ActEluBack {
    __device__ float operator()(float g, float y) const { return y > 0.0f ? g : g * (y + 1.0f); }
};
struct ActSeluBack {
    __device__ float operator()(float g, float y) const {
        return y > 0.0f ? g * EW_SELU_SCALE : g * (y + EW_SELU_SCALE * EW_SELU_ALPHA);
    }
};

extern "C" __global__ void act_forward(ActParams p, const float* x, float* y) {
    switch (p.kind) {
        case 0: ew_map1(p.n, x, y, ActRelu()); break;
        case 1: ew_map1(p.n, x, y, ActElu()); break;
        case 2: ew_map1(p.n, x, y, ActSelu()); break;
        default: break;
    }
}

extern "C" __global__ void act_backward(ActParams p, const float* y, float* g) {
    switch (p.kind) {
        case 0: ew_map2(p.n, g, y, g, ActReluBack()); break;
        case 1: ew_map2(p.n, g, y, g, ActEluBack()); break;
        case 2: ew_map2(p.n, g, y, g, ActSeluBack()); break;
        default: break;
    }
}

// Sum of v over the block in a fixed order: xor butterfly inside each warp (every lane
// ends with the same bits, since IEEE addition is commutative), then warps 0..7 in
// order by thread 0. The result is valid in thread 0 only. Every thread of the block of
// 256 must call it (it holds two barriers).
static __device__ __forceinline__ double ew_block_sum(double v) {
    __shared__ double warp_sums[EW_WARPS];
    for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
    const unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) warp_sums[warp] = v;
    __syncthreads();
    double total = 0.0;
    if (threadIdx.x == 0) {
        for (int w = 0; w < EW_WARPS; ++w) total += warp_sums[w];
    }
    __syncthreads();  // warp_sums may be rewritten by a later call
    return total;
}

extern "C" __global__ void reduce_sum(EwParams p, const float* x, float* out) {
    const u64 n = p.n;
    const unsigned t = threadIdx.x;
    double acc = 0.0;
    u64 done = 0;
    if (ew_aligned16(x)) {
        // Four independent 16-byte loads in flight per thread per trip.
        const u64 n4 = n >> 2;
        const float4* x4 = (const float4*)x;
        u64 i = t;
        for (; i + 3 * EW_BLOCK < n4; i += 4 * EW_BLOCK) {
            const float4 a = x4[i];
            const float4 b = x4[i + EW_BLOCK];
            const float4 c = x4[i + 2 * EW_BLOCK];
            const float4 d = x4[i + 3 * EW_BLOCK];
            acc += (double)a.x; acc += (double)a.y; acc += (double)a.z; acc += (double)a.w;
            acc += (double)b.x; acc += (double)b.y; acc += (double)b.z; acc += (double)b.w;
            acc += (double)c.x; acc += (double)c.y; acc += (double)c.z; acc += (double)c.w;
            acc += (double)d.x; acc += (double)d.y; acc += (double)d.z; acc += (double)d.w;
        }
        for (; i < n4; i += EW_BLOCK) {
            const float4 a = x4[i];
            acc += (double)a.x; acc += (double)a.y; acc += (double)a.z; acc += (double)a.w;
        }
        done = n4 << 2;
    }
    for (u64 i = done + t; i < n; i += EW_BLOCK) acc += (double)x[i];
    const double total = ew_block_sum(acc);
    if (t == 0) out[0] = (float)(total * (double)p.s);
}

extern "C" __global__ void sum_axis1(AxisSumParams p, const float* x, float* out) {
    const u64 j = blockIdx.x;
    const u64 inner = p.inner, total = p.outer * p.inner;
    double acc = 0.0;
    if (total > 0) {
        // Thread t visits flat indices t, t + 256, … of the outer×inner plane of channel j,
        // carrying (o, i) incrementally instead of dividing every trip.
        const u64 step_o = EW_BLOCK / inner, step_i = EW_BLOCK % inner;
        u64 o = threadIdx.x / inner, i = threadIdx.x % inner;
        const u64 row = (u64)p.c * inner;
        const float* xj = x + j * inner;
        for (u64 f = threadIdx.x; f < total; f += EW_BLOCK) {
            acc += (double)xj[o * row + i];
            o += step_o;
            i += step_i;
            if (i >= inner) {
                i -= inner;
                ++o;
            }
        }
    }
    const double sum = ew_block_sum(acc);
    if (threadIdx.x == 0) {
        const float s = (float)sum;
        out[j] = p.beta != 0.0f ? p.beta * out[j] + s : s;
    }
}

extern "C" __global__ void sum_splits(SplitsParams p, const float* partial, float* out) {
    const u64 len = p.len;
    for (u64 i = ew_tid(); i < len; i += ew_stride()) {
        double acc = 0.0;
        for (u32 s = 0; s < p.splits; ++s) acc += (double)partial[(u64)s * len + i];
        out[i] = (float)acc;
    }
}
