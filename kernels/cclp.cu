// cclp.cu — the CCLP loss and dL/dZ for a batch whose rows all carry a class, without any
// N×N matrix: the CUDA twin of src/cpu/cclp_fused.rs (whose header derives the maths).
//
// Maths (N rows, d ≤ CCLP_MAX_D, a_ij = Σ_k z_ik z_jk in dimension order, no contraction):
//   cclp_row_stats   m_i = max_j a_ij, l_i = Σ_j exp(a_ij − m_i) (online: one pass)
//   cclp_block_build for every same-class pair (a, b) of class c (rows i = perm[off_c + a],
//                    j = perm[off_c + b]): S = exp(a_ij − m_i)·(1/l_i),
//                    B = floor + keep·S                  (block c at boff_c, n_c × n_c)
//   (host)           P_0 = B, P_s = B·P_{s−1} per class with the sgemm kernel
//   cclp_block_terms for one step s: G_s = scale·w_c / P_s; partial[blockIdx] = Σ w_c ln P_s
//                    over the block's entries (f64), w_c = 1/(n_c + δ)
//   cclp_sum         out[0] = scale · Σ partial[0..partials) (one block, fixed order)
//   (host)           dB = Σ_s dP_s P_{s−1}ᵀ, dP_{s−1} = G_{s−1} + Bᵀ dP_s (sgemm)
//   cclp_block_e     E = S · keep · (dB + dP_0)           (in place on dB; dB absent if S = 1)
//   cclp_block_rows  per row: r_i = Σ_b E_ab, g_i = Σ_b (E_ab + E_ba) z_j
//   cclp_dense_grad  dZ_i = g_i − Σ_j [r_i/l_i·exp(a_ij − m_i) + r_j/l_j·exp(a_ij − m_j)] z_j
//
// Layout: z N×d row-major; perm[N] rows sorted by class (u32); offs[C + 1] class starts in
// perm; boff[C + 1] block starts (entries, Σ n_c² < 2³²); max, sum, r N floats; the block
// arrays (S, B, P_s, G_s, dB) Σ n_c² floats each; g, dz N×d.
// Geometry: cclp_row_stats and cclp_dense_grad: one warp per row, blocks of 256 (8 rows),
// grid ⌈N/8⌉; the entry kernels: 1-D grid-stride, blocks of 256; cclp_block_rows: one
// thread per row, grid-stride; cclp_sum: one block of 256.
//
// Versions:
//   1. (this file) warp per row for the O(N²d) passes (lanes stride over j, rows of z read
//      through L1/L2), class blocks through the generic sgemm kernel, one launch per class.
// Ideas for later versions (not written): z tiles in shared memory for the row passes; a
// grouped (batched) sgemm over all classes in one launch; the block build fused with the
// first product.
#include "params.h"

#define CCLP_MAX_D 16
#define CCLP_NEG_INF __int_as_float(0xff800000)

static __device__ __forceinline__ float cclp_dot(const float* zi, const float* zj, u32 d) {
    float s = __fmul_rn(zi[0], zj[0]);
    for (u32 k = 1; k < d; ++k) s = __fadd_rn(s, __fmul_rn(zi[k], zj[k]));
    return s;
}

// The class whose range [start[c], start[c + 1]) holds t (binary search, C small).
static __device__ __forceinline__ u32 cclp_class_of(const u32* start, u32 classes, u32 t) {
    u32 lo = 0, hi = classes;
    while (hi - lo > 1) {
        u32 mid = (lo + hi) / 2;
        if (start[mid] <= t) lo = mid; else hi = mid;
    }
    return lo;
}

extern "C" __global__ void cclp_row_stats(CclpParams p, const float* z, float* max, float* sum) {
    u32 lane = threadIdx.x & 31;
    u32 i = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (i >= p.n) return;
    const float* zi = z + (u64)i * p.d;
    float m = CCLP_NEG_INF, s = 0.0f;
    for (u32 j = lane; j < p.n; j += 32) {
        float a = cclp_dot(zi, z + (u64)j * p.d, p.d);
        if (a > m) {
            s = s * expf(m - a) + 1.0f;
            m = a;
        } else {
            s += expf(a - m);
        }
    }
    for (int off = 16; off > 0; off >>= 1) {
        float mo = __shfl_xor_sync(0xffffffffu, m, off);
        float so = __shfl_xor_sync(0xffffffffu, s, off);
        float mm = fmaxf(m, mo);
        s = (m == CCLP_NEG_INF ? 0.0f : s * expf(m - mm)) + (mo == CCLP_NEG_INF ? 0.0f : so * expf(mo - mm));
        m = mm;
    }
    if (lane == 0) {
        max[i] = m;
        sum[i] = s;
    }
}

extern "C" __global__ void cclp_block_build(CclpParams p, const float* z, const u32* perm,
                                            const u32* offs, const u32* boff, const float* max,
                                            const float* sum, float* soft, float* bmat) {
    u64 total = boff[p.classes];
    for (u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x; t < total;
         t += (u64)gridDim.x * blockDim.x) {
        u32 c = cclp_class_of(boff, p.classes, (u32)t);
        u32 nc = offs[c + 1] - offs[c];
        u32 e = (u32)t - boff[c];
        u32 i = perm[offs[c] + e / nc], j = perm[offs[c] + e % nc];
        float a = cclp_dot(z + (u64)i * p.d, z + (u64)j * p.d, p.d);
        float s = expf(a - max[i]) * (1.0f / sum[i]);
        soft[t] = s;
        bmat[t] = p.floor + p.keep * s;
    }
}

extern "C" __global__ void cclp_block_terms(CclpParams p, const u32* offs, const u32* boff,
                                            const float* pw, float* g, double* partial) {
    __shared__ double warp_sums[32];
    u64 total = boff[p.classes];
    double acc = 0.0;
    for (u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x; t < total;
         t += (u64)gridDim.x * blockDim.x) {
        u32 c = cclp_class_of(boff, p.classes, (u32)t);
        float w = (float)(1.0 / ((double)(offs[c + 1] - offs[c]) + 1e-5));
        float v = pw[t];
        acc += (double)(w * logf(v));
        g[t] = p.scale * w / v;
    }
    for (int off = 16; off > 0; off >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, off);
    if ((threadIdx.x & 31) == 0) warp_sums[threadIdx.x / 32] = acc;
    __syncthreads();
    if (threadIdx.x == 0) {
        double s = 0.0;
        for (u32 w = 0; w < blockDim.x / 32; ++w) s += warp_sums[w];
        partial[blockIdx.x] = s;
    }
}

extern "C" __global__ void cclp_sum(CclpParams p, const double* partial, float* out) {
    __shared__ double part[256];
    double s = 0.0;
    for (u32 t = threadIdx.x; t < p.partials; t += blockDim.x) s += partial[t];
    part[threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double total = 0.0;
        for (u32 t = 0; t < blockDim.x; ++t) total += part[t];
        out[0] = (float)((double)p.scale * total);
    }
}

extern "C" __global__ void cclp_block_e(CclpParams p, const u32* boff, const float* soft,
                                        const float* dp, float* db) {
    u64 total = boff[p.classes];
    for (u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x; t < total;
         t += (u64)gridDim.x * blockDim.x) {
        float acc = p.steps > 1 ? db[t] + dp[t] : dp[t];
        db[t] = soft[t] * p.keep * acc;
    }
}

extern "C" __global__ void cclp_block_rows(CclpParams p, const float* z, const u32* perm,
                                           const u32* offs, const u32* boff, const float* e,
                                           float* r, float* g) {
    for (u32 pos = blockIdx.x * blockDim.x + threadIdx.x; pos < p.n;
         pos += gridDim.x * blockDim.x) {
        u32 c = cclp_class_of(offs, p.classes, pos);
        u32 nc = offs[c + 1] - offs[c], a = pos - offs[c];
        const float* blk = e + boff[c];
        float acc[CCLP_MAX_D];
#pragma unroll
        for (u32 k = 0; k < CCLP_MAX_D; ++k) acc[k] = 0.0f;
        float rs = 0.0f;
        for (u32 b = 0; b < nc; ++b) {
            float eab = blk[(u64)a * nc + b];
            float sym = eab + blk[(u64)b * nc + a];
            rs += eab;
            const float* zj = z + (u64)perm[offs[c] + b] * p.d;
#pragma unroll
            for (u32 k = 0; k < CCLP_MAX_D; ++k)
                if (k < p.d) acc[k] += sym * zj[k];
        }
        u32 i = perm[pos];
        r[i] = rs;
#pragma unroll
        for (u32 k = 0; k < CCLP_MAX_D; ++k)
            if (k < p.d) g[(u64)i * p.d + k] = acc[k];
    }
}

extern "C" __global__ void cclp_dense_grad(CclpParams p, const float* z, const float* max,
                                           const float* sum, const float* r, const float* g,
                                           float* dz) {
    u32 lane = threadIdx.x & 31;
    u32 i = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (i >= p.n) return;
    const float* zi = z + (u64)i * p.d;
    float mi = max[i], ci = r[i] / sum[i];
    float acc[CCLP_MAX_D];
#pragma unroll
    for (u32 k = 0; k < CCLP_MAX_D; ++k) acc[k] = 0.0f;
    for (u32 j = lane; j < p.n; j += 32) {
        const float* zj = z + (u64)j * p.d;
        float a = cclp_dot(zi, zj, p.d);
        float c = ci * expf(a - mi) + (r[j] / sum[j]) * expf(a - max[j]);
#pragma unroll
        for (u32 k = 0; k < CCLP_MAX_D; ++k)
            if (k < p.d) acc[k] += c * zj[k];
    }
#pragma unroll
    for (u32 k = 0; k < CCLP_MAX_D; ++k) {
        float v = acc[k];
        for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
        if (lane == 0 && k < p.d) dz[(u64)i * p.d + k] = g[(u64)i * p.d + k] - v;
    }
}
