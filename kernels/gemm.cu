// gemm.cu — dense f32 matrix multiply for the Linear layers, and the row-bias add.
// Exact f32: f32 operands, f32 accumulation (no tensor cores).
//
// Maths: C = alpha·op(A)·op(B) + beta·C, all row-major; op(A) is m×k, op(B) is k×n, C is
// m×n with row stride ldc. trans_a = 0: A stored m×k, A[i, l] = a[i·lda + l];
// trans_a = 1: A stored k×m, op(A)[i, l] = a[l·lda + i]. trans_b = 0: B stored k×n,
// B[l, j] = b[l·ldb + j]; trans_b = 1: B stored n×k, op(B)[l, j] = b[j·ldb + l].
// beta = 0 never reads C (it may hold NaN). A Linear layer uses
//   forward  y = x·wᵀ       (trans_b; m = batch, n = out, k = in), bias by add_bias_rows
//   backward dx = dy·w      (no trans; m = batch, n = in, k = out)
//            dw = dyᵀ·x     (trans_a; m = out, n = in, k = batch), beta = 1 to accumulate.
// add_bias_rows: y[r, j] += b[j] for an rows×cols matrix (MatrixParams; keep unused).
//
// Tiling: a block of 256 threads owns a 64×64 tile of C (blockIdx.x → 64 columns,
// blockIdx.y → 64 rows) and walks k in tiles of 16. Thread (tx, ty) = (tid % 16, tid / 16)
// keeps a 4×4 register tile (rows 4·ty…+3, columns 4·tx…+3), reading one float4 of A and
// one of B per k from shared memory. Shared memory is double-buffered and static; the next
// K-tile's global loads are issued into registers before the current tile's FMAs and
// stored into the other buffer after them (one barrier per K-tile). Each operand is staged
// so that global reads are coalesced along its contiguous axis:
//   'T' (contiguous along k: A when !trans_a, B when trans_b): k = tid % 16, the thread's
//       4 consecutive rows/columns stored as one float4; row stride 68 floats.
//   'N' (contiguous along m/n: A when trans_a, B when !trans_b): k = tid / 16, columns
//       tid % 16 + 16·i, four scalar stores; row stride 80 floats.
// The four (trans_a, trans_b) combinations are four template instantiations behind a
// uniform branch. Out-of-range rows, columns and k load zeros: any m, n, k (k < 16 too).
// Indices: m·lda, k·ldb etc. are 64-bit; each of m, n, k, ld* < 2^32.
//
// Launch requirements: exactly 256 threads per block (1-D), grid (⌈n/64⌉, ⌈m/64⌉).
//
// Versions:
//   1. (this file) 64×64×16 f32 tile, 4×4 per thread, register-prefetched double buffer.
//      The Linear layers here are small (batch 120, a few thousand features at most), so a
//      launch is a few to a few hundred blocks: latency-bound, not FLOP-bound.
// Ideas for later versions (not written): split-k along blockIdx.z for the weight
// gradient (k = batch, few output tiles); bf16 mma.sync with f32 accumulation; the bias
// fused into the epilogue (a separate add_bias_rows launch by contract today).
#include "params.h"

#define SG_TILE 64  // block tile, m and n
#define SG_BK 16    // K-tile
#define SG_LDT 68   // row stride (floats) of a 'T'-staged K-tile
#define SG_LDN 80   // row stride (floats) of an 'N'-staged K-tile

// 'T': row k = tid % 16, columns 4·(tid/16) … +3 as one float4.
static __device__ __forceinline__ void sgemm_store_t(float4* buf, int tid, const float v[4]) {
    float4 f;
    f.x = v[0];
    f.y = v[1];
    f.z = v[2];
    f.w = v[3];
    buf[(tid & 15) * (SG_LDT / 4) + (tid >> 4)] = f;
}
// 'N': row k = tid / 16, columns tid % 16 + 16·i.
static __device__ __forceinline__ void sgemm_store_n(float4* buf, int tid, const float v[4]) {
    float* row = reinterpret_cast<float*>(buf) + (tid >> 4) * SG_LDN + (tid & 15);
#pragma unroll
    for (int i = 0; i < 4; ++i) row[16 * i] = v[i];
}

// One C tile for a fixed (trans_a, trans_b).
template <bool TA, bool TB>
static __device__ __forceinline__ void sgemm_tile(const GemmParams& p, const float* __restrict__ a,
                                           const float* __restrict__ b, float* __restrict__ c, float4* As,
                                           float4* Bs) {
    constexpr int LDA = TA ? SG_LDN : SG_LDT;
    constexpr int LDB = TB ? SG_LDT : SG_LDN;
    const int tid = threadIdx.x;
    const u32 bm = blockIdx.y * SG_TILE, bn = blockIdx.x * SG_TILE;

    // A staging: rows ar + i·astep at k = ak.
    const u32 ar = TA ? bm + (tid & 15) : bm + 4 * (tid >> 4);
    const u32 astep = TA ? 16 : 1;
    u32 ak = TA ? (tid >> 4) : (tid & 15);
    const u64 arow_stride = TA ? 1 : p.lda;  // element step between consecutive rows of A
    const u64 acol_stride = TA ? p.lda : 1;  // ... between consecutive k
    const float* ap = a + (u64)ar * arow_stride + (u64)ak * acol_stride;
    // B staging: columns bc + i·bstep at k = bk.
    const u32 bc = TB ? bn + 4 * (tid >> 4) : bn + (tid & 15);
    const u32 bstep = TB ? 1 : 16;
    u32 bk = TB ? (tid & 15) : (tid >> 4);
    const u64 bcol_stride = TB ? p.ldb : 1;  // element step between consecutive columns of op(B)
    const u64 bk_stride = TB ? 1 : p.ldb;    // ... between consecutive k
    const float* bp = b + (u64)bc * bcol_stride + (u64)bk * bk_stride;

    float va[4], vb[4];
    auto load = [&]() {
#pragma unroll
        for (int i = 0; i < 4; ++i)
            va[i] = (ar + i * astep < p.m && ak < p.k) ? ap[(u64)(i * astep) * arow_stride] : 0.f;
#pragma unroll
        for (int i = 0; i < 4; ++i)
            vb[i] = (bc + i * bstep < p.n && bk < p.k) ? bp[(u64)(i * bstep) * bcol_stride] : 0.f;
        ak += SG_BK;
        bk += SG_BK;
        ap += SG_BK * acol_stride;
        bp += SG_BK * bk_stride;
    };
    auto store = [&](float4* as, float4* bs) {
        if (TA)
            sgemm_store_n(as, tid, va);
        else
            sgemm_store_t(as, tid, va);
        if (TB)
            sgemm_store_t(bs, tid, vb);
        else
            sgemm_store_n(bs, tid, vb);
    };

    const int tx = tid & 15, ty = tid >> 4;
    const u32 ktiles = (p.k + SG_BK - 1) / SG_BK;
    float acc[4][4] = {};
    if (ktiles > 0) {
        load();
        store(As, Bs);
    }
    __syncthreads();
    for (u32 t = 0; t < ktiles; ++t) {
        const u32 cur = t & 1;
        const bool more = t + 1 < ktiles;
        if (more) load();  // tile t+1's global loads stay in flight during the FMAs
        const float4* at = As + cur * (SG_BK * LDA / 4) + ty;
        const float4* bt = Bs + cur * (SG_BK * LDB / 4) + tx;
#pragma unroll
        for (int kk = 0; kk < SG_BK; ++kk) {
            const float4 av = at[kk * (LDA / 4)];
            const float4 bv = bt[kk * (LDB / 4)];
            const float ar4[4] = {av.x, av.y, av.z, av.w};
            const float br4[4] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] += ar4[i] * br4[j];
        }
        // The other buffer was last read in iteration t−1, before its closing barrier.
        if (more) store(As + (cur ^ 1) * (SG_BK * LDA / 4), Bs + (cur ^ 1) * (SG_BK * LDB / 4));
        __syncthreads();
    }

#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const u32 row = bm + 4 * ty + i;
        if (row >= p.m) continue;
        float* cr = c + (u64)row * p.ldc;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const u32 col = bn + 4 * tx + j;
            if (col >= p.n) continue;
            const float v = p.alpha * acc[i][j];
            cr[col] = p.beta == 0.f ? v : v + p.beta * cr[col];
        }
    }
}

// Launch: block 256, grid (⌈n/64⌉, ⌈m/64⌉).
extern "C" __global__ __launch_bounds__(256, 2) void sgemm(GemmParams p, const float* __restrict__ a,
                                                           const float* __restrict__ b, float* __restrict__ c) {
    __shared__ float4 As[2 * SG_BK * SG_LDN / 4];
    __shared__ float4 Bs[2 * SG_BK * SG_LDN / 4];
    // Uniform branch: every thread of the block takes the same instantiation.
    if (p.trans_a) {
        if (p.trans_b)
            sgemm_tile<true, true>(p, a, b, c, As, Bs);
        else
            sgemm_tile<true, false>(p, a, b, c, As, Bs);
    } else {
        if (p.trans_b)
            sgemm_tile<false, true>(p, a, b, c, As, Bs);
        else
            sgemm_tile<false, false>(p, a, b, c, As, Bs);
    }
}

// Launch: 1-D grid-stride, block 256. y[r, j] += b[j] over rows·cols elements.
extern "C" __global__ void add_bias_rows(MatrixParams p, const float* __restrict__ b, float* __restrict__ y) {
    const u64 n = (u64)p.rows * p.cols;
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x)
        y[i] += b[i % p.cols];
}
