// knn.cu — pairwise distances of low-dimensional latents with a fused consumer, never
// writing the query × reference matrix: the CUDA twin of src/cpu/pairwise.rs.
//
// Maths (q a query, r_j the references, d ≤ KNN_MAX_D):
//   d2_j = Σ_k (q_k − r_jk)², summed in dimension order with separate multiply and add
//          (__fmul_rn/__fadd_rn: no contraction, the same bits as the CPU kernel)
//   knn_topk       the `need` smallest d2_j in ascending order with their j; ties keep the
//                  lower j first (references are scanned in order, insertion is strict <)
//   gaussian_sums  s = Σ_j exp(scale · d2_j) (scale = −1/(2h²)), f32 within a tile of
//                  KNN_TILE references, f64 across tiles
//
// Layout: q nq×d row-major; rt d×nr (references transposed: column j of row k is r_jk);
// knn_topk writes dist nq×need (f32) and index nq×need (u32); gaussian_sums writes
// out[nq] (f64).
// Geometry: 1-D blocks of KNN_BLOCK threads, one query per thread, grid ⌈nq/KNN_BLOCK⌉.
// Each block stages a d × KNN_TILE tile of rt in shared memory (coalesced: consecutive
// threads read consecutive references), then every thread scans it.
//
// Versions:
//   1. (this file) one query per thread; the top-k list lives in local memory (indexed
//      dynamically), touched only when a distance beats the current k-th (kept in a
//      register), which after the first tiles is rare.
// Ideas for later versions (not written): several queries per thread to reuse each
// shared-memory read; a warp-cooperative top-k (bitonic merge) for k > 32.
#include "params.h"

#define KNN_BLOCK 128
#define KNN_TILE 256
#define KNN_MAX_D 16
#define KNN_MAX_K 64

static __device__ __forceinline__ void knn_stage(const float* rt, u32 nr, u32 d, u32 j0,
                                                 float* tile) {
    u32 len = nr - j0 < KNN_TILE ? nr - j0 : KNN_TILE;
    for (u32 t = threadIdx.x; t < d * KNN_TILE; t += blockDim.x) {
        u32 k = t / KNN_TILE, j = t % KNN_TILE;
        tile[t] = j < len ? rt[(u64)k * nr + j0 + j] : 0.0f;
    }
}

static __device__ __forceinline__ float knn_d2(const float* q, const float* tile, u32 d, u32 j) {
    float t = __fadd_rn(q[0], -tile[j]);
    float s = __fmul_rn(t, t);
#pragma unroll
    for (u32 k = 1; k < KNN_MAX_D; ++k) {
        if (k < d) {
            t = __fadd_rn(q[k], -tile[k * KNN_TILE + j]);
            s = __fadd_rn(s, __fmul_rn(t, t));
        }
    }
    return s;
}

// Query i's d values into registers (zeros past d, and for a thread with no query).
static __device__ __forceinline__ void knn_load_query(const KnnParams& p, const float* q, u32 i,
                                                      bool live, float* qi) {
#pragma unroll
    for (u32 k = 0; k < KNN_MAX_D; ++k) qi[k] = live && k < p.d ? q[(u64)i * p.d + k] : 0.0f;
}

extern "C" __global__ __launch_bounds__(KNN_BLOCK) void knn_topk(KnnParams p, const float* q,
                                                                 const float* rt, float* dist,
                                                                 u32* index) {
    __shared__ float tile[KNN_MAX_D * KNN_TILE];
    u32 i = blockIdx.x * blockDim.x + threadIdx.x;
    bool live = i < p.nq;
    float qi[KNN_MAX_D];
    knn_load_query(p, q, i, live, qi);
    float best[KNN_MAX_K];
    u32 idx[KNN_MAX_K];
    for (u32 t = 0; t < p.need; ++t) {
        best[t] = __int_as_float(0x7f800000);
        idx[t] = 0;
    }
    float worst = __int_as_float(0x7f800000);
    for (u32 j0 = 0; j0 < p.nr; j0 += KNN_TILE) {
        __syncthreads();
        knn_stage(rt, p.nr, p.d, j0, tile);
        __syncthreads();
        if (!live) continue;
        u32 len = p.nr - j0 < KNN_TILE ? p.nr - j0 : KNN_TILE;
        for (u32 j = 0; j < len; ++j) {
            float d2 = knn_d2(qi, tile, p.d, j);
            if (d2 < worst) {
                u32 at = p.need - 1;
                while (at > 0 && best[at - 1] > d2) {
                    best[at] = best[at - 1];
                    idx[at] = idx[at - 1];
                    --at;
                }
                best[at] = d2;
                idx[at] = j0 + j;
                worst = best[p.need - 1];
            }
        }
    }
    if (!live) return;
    for (u32 t = 0; t < p.need; ++t) {
        dist[(u64)i * p.need + t] = best[t];
        index[(u64)i * p.need + t] = idx[t];
    }
}

extern "C" __global__ __launch_bounds__(KNN_BLOCK) void gaussian_sums(KnnParams p,
                                                                      const float* q,
                                                                      const float* rt,
                                                                      double* out) {
    __shared__ float tile[KNN_MAX_D * KNN_TILE];
    u32 i = blockIdx.x * blockDim.x + threadIdx.x;
    bool live = i < p.nq;
    float qi[KNN_MAX_D];
    knn_load_query(p, q, i, live, qi);
    double total = 0.0;
    for (u32 j0 = 0; j0 < p.nr; j0 += KNN_TILE) {
        __syncthreads();
        knn_stage(rt, p.nr, p.d, j0, tile);
        __syncthreads();
        if (!live) continue;
        u32 len = p.nr - j0 < KNN_TILE ? p.nr - j0 : KNN_TILE;
        float s = 0.0f;
        for (u32 j = 0; j < len; ++j) s += expf(p.scale * knn_d2(qi, tile, p.d, j));
        total += (double)s;
    }
    if (live) out[i] = total;
}
