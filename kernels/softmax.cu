// softmax.cu — softmax, log-softmax and the fused softmax cross-entropy along the last
// axis of a rows×k matrix, forward and backward: the CUDA twin of src/cpu/softmax.rs.
//
// Maths (per row x of length k; max-subtracted, so no overflow):
//   softmax_forward       m = max x; e = exp(x − m); y = e · (1 / Σ e)
//   log_softmax_forward   y = x − (m + ln Σ exp(x − m))
//   softmax_backward      g ← y ⊙ (g − Σ g⊙y)             (in place, from the output y)
//   log_softmax_backward  g ← g − exp(y)·Σ g                (in place, from the output y)
//   cross_entropy_forward lse[r] = m + ln Σ exp(x − m) for labelled rows (0 for rows with
//                         label < 0); loss[0] = scale·Σ_{labelled r} (lse[r] − x[r, label])
//                         with the sum in f64 (scale = 1/count gives the mean)
//   cross_entropy_backward dx[r, j] = gy[0]·scale·(exp(x[r, j] − lse[r]) − [j = label]),
//                         0 on rows with label < 0
// Row sums are f32 (as on the CPU) except the loss total; max ignores NaN like f32::max.
//
// Layout: x, y, g, dx rows×k row-major contiguous; labels, lse one per row.
// Geometry: softmax_* and log_softmax_* are 1-D grid-stride over rows (block 256, any
// grid); cross_entropy_forward is one block of 256 (it writes the single total);
// cross_entropy_backward is 1-D grid-stride over rows·k elements.
//
// Versions (the row kernels pick one at run time from k):
// 1. one thread per row (k ≤ 32): no communication; rows are short, so the strided reads
//    of neighbouring threads still share cache lines;
// 2. one warp per row (k > 32): lanes stride over the row (coalesced), xor-butterfly
//    shuffles reduce; the warp's trip count over rows is warp-uniform, so full-mask
//    shuffles are safe. With the launch of docs/cuda.md (⌈rows/256⌉ blocks) each warp
//    serves about 32 rows; a grid of ⌈rows/8⌉ blocks would give every row its own warp.
// cross_entropy_forward always uses version 2 inside its single block (warp w takes rows
// w, w + 8, …), then combines the per-warp f64 totals in warp order: deterministic.
#include "params.h"

#define SM_NEG_INF __int_as_float(0xff800000)

static __device__ __forceinline__ float sm_warp_max(float v) {
    for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
    return v;
}

// Xor butterfly: every lane ends with the same bits (IEEE addition is commutative).
static __device__ __forceinline__ float sm_warp_sum(float v) {
    for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}

static __device__ __forceinline__ u64 sm_tid() { return (u64)blockIdx.x * blockDim.x + threadIdx.x; }
static __device__ __forceinline__ u64 sm_stride() { return (u64)gridDim.x * blockDim.x; }

// (max, Σ exp(x − max)) of a row held by one warp; every lane gets both.
static __device__ __forceinline__ float sm_warp_row_max(const float* x, u32 k, u32 lane) {
    float m = SM_NEG_INF;
    for (u32 j = lane; j < k; j += 32) m = fmaxf(m, x[j]);
    return sm_warp_max(m);
}

static __device__ __forceinline__ float sm_warp_row_sumexp(const float* x, u32 k, u32 lane,
                                                           float m) {
    float s = 0.0f;
    for (u32 j = lane; j < k; j += 32) s += expf(x[j] - m);
    return sm_warp_sum(s);
}

extern "C" __global__ void softmax_forward(SoftmaxParams p, const float* x, float* y) {
    const u32 k = p.k;
    if (k <= 32) {
        for (u64 r = sm_tid(); r < p.rows; r += sm_stride()) {
            const float* xr = x + r * k;
            float* yr = y + r * k;
            float m = SM_NEG_INF;
            for (u32 j = 0; j < k; ++j) m = fmaxf(m, xr[j]);
            float s = 0.0f;
            for (u32 j = 0; j < k; ++j) s += expf(xr[j] - m);
            const float inv = 1.0f / s;
            for (u32 j = 0; j < k; ++j) yr[j] = expf(xr[j] - m) * inv;
        }
    } else {
        const u32 lane = threadIdx.x & 31;
        const u64 nwarps = sm_stride() >> 5;
        for (u64 r = sm_tid() >> 5; r < p.rows; r += nwarps) {
            const float* xr = x + r * k;
            float* yr = y + r * k;
            const float m = sm_warp_row_max(xr, k, lane);
            const float inv = 1.0f / sm_warp_row_sumexp(xr, k, lane, m);
            for (u32 j = lane; j < k; j += 32) yr[j] = expf(xr[j] - m) * inv;
        }
    }
}

extern "C" __global__ void log_softmax_forward(SoftmaxParams p, const float* x, float* y) {
    const u32 k = p.k;
    if (k <= 32) {
        for (u64 r = sm_tid(); r < p.rows; r += sm_stride()) {
            const float* xr = x + r * k;
            float* yr = y + r * k;
            float m = SM_NEG_INF;
            for (u32 j = 0; j < k; ++j) m = fmaxf(m, xr[j]);
            float s = 0.0f;
            for (u32 j = 0; j < k; ++j) s += expf(xr[j] - m);
            const float shift = m + logf(s);
            for (u32 j = 0; j < k; ++j) yr[j] = xr[j] - shift;
        }
    } else {
        const u32 lane = threadIdx.x & 31;
        const u64 nwarps = sm_stride() >> 5;
        for (u64 r = sm_tid() >> 5; r < p.rows; r += nwarps) {
            const float* xr = x + r * k;
            float* yr = y + r * k;
            const float m = sm_warp_row_max(xr, k, lane);
            const float shift = m + logf(sm_warp_row_sumexp(xr, k, lane, m));
            for (u32 j = lane; j < k; j += 32) yr[j] = xr[j] - shift;
        }
    }
}

extern "C" __global__ void softmax_backward(SoftmaxParams p, const float* y, float* g) {
    const u32 k = p.k;
    if (k <= 32) {
        for (u64 r = sm_tid(); r < p.rows; r += sm_stride()) {
            const float* yr = y + r * k;
            float* gr = g + r * k;
            float dot = 0.0f;
            for (u32 j = 0; j < k; ++j) dot += gr[j] * yr[j];
            for (u32 j = 0; j < k; ++j) gr[j] = yr[j] * (gr[j] - dot);
        }
    } else {
        const u32 lane = threadIdx.x & 31;
        const u64 nwarps = sm_stride() >> 5;
        for (u64 r = sm_tid() >> 5; r < p.rows; r += nwarps) {
            const float* yr = y + r * k;
            float* gr = g + r * k;
            float dot = 0.0f;
            for (u32 j = lane; j < k; j += 32) dot += gr[j] * yr[j];
            dot = sm_warp_sum(dot);
            for (u32 j = lane; j < k; j += 32) gr[j] = yr[j] * (gr[j] - dot);
        }
    }
}

extern "C" __global__ void log_softmax_backward(SoftmaxParams p, const float* y, float* g) {
    const u32 k = p.k;
    if (k <= 32) {
        for (u64 r = sm_tid(); r < p.rows; r += sm_stride()) {
            const float* yr = y + r * k;
            float* gr = g + r * k;
            float s = 0.0f;
            for (u32 j = 0; j < k; ++j) s += gr[j];
            for (u32 j = 0; j < k; ++j) gr[j] = gr[j] - expf(yr[j]) * s;
        }
    } else {
        const u32 lane = threadIdx.x & 31;
        const u64 nwarps = sm_stride() >> 5;
        for (u64 r = sm_tid() >> 5; r < p.rows; r += nwarps) {
            const float* yr = y + r * k;
            float* gr = g + r * k;
            float s = 0.0f;
            for (u32 j = lane; j < k; j += 32) s += gr[j];
            s = sm_warp_sum(s);
            for (u32 j = lane; j < k; j += 32) gr[j] = gr[j] - expf(yr[j]) * s;
        }
    }
}

#define CE_WARPS 8  // block of 256

extern "C" __global__ void cross_entropy_forward(SoftmaxParams p, const float* x,
                                                 const int* labels, float* lse, float* loss) {
    __shared__ double warp_total[CE_WARPS];
    const u32 k = p.k;
    const u32 lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    double total = 0.0;  // meaningful in lane 0 of each warp
    for (u32 r = warp; r < p.rows; r += CE_WARPS) {
        const int label = labels[r];
        if (label < 0) {
            if (lane == 0) lse[r] = 0.0f;
            continue;
        }
        const float* xr = x + (u64)r * k;
        const float m = sm_warp_row_max(xr, k, lane);
        const float l = m + logf(sm_warp_row_sumexp(xr, k, lane, m));
        if (lane == 0) {
            lse[r] = l;
            total += (double)l - (double)xr[label];
        }
    }
    if (lane == 0) warp_total[warp] = total;
    __syncthreads();
    if (threadIdx.x == 0) {
        double sum = 0.0;
        for (int w = 0; w < CE_WARPS; ++w) sum += warp_total[w];
        loss[0] = (float)(sum * (double)p.scale);
    }
}

extern "C" __global__ void cross_entropy_backward(SoftmaxParams p, const float* x,
                                                  const float* lse, const int* labels,
                                                  const float* gy, float* dx) {
    const u32 k = p.k;
    const u64 total = (u64)p.rows * k;
    const float s = gy[0] * p.scale;
    for (u64 t = sm_tid(); t < total; t += sm_stride()) {
        u32 r, j;
        if ((t >> 32) == 0) {
            r = (u32)t / k;
            j = (u32)t - r * k;
        } else {
            r = (u32)(t / k);
            j = (u32)(t - (u64)r * k);
        }
        const int label = labels[r];
        float d = 0.0f;
        if (label >= 0) {
            d = s * expf(x[t] - lse[r]);
            if ((int)j == label) d -= s;
        }
        dx[t] = d;
    }
}
