// conv2d.cu — 2-D convolution on the GPU: forward, backward-input, backward-weight, in
// exact f32 (f32 operands, f32 accumulation). The bias gradient is sum_axis1
// (elementwise.cu); the weight-gradient splits are added by sum_splits (elementwise.cu).
//
// Maths (x N×C×H×W, w O×C×kh×kw, y N×O×Ho×Wo, all NCHW row-major; stride s, padding p;
// Ho = (H + 2p − kh)/s + 1, Wo likewise). The padded input is x̂[n, c, Y, X] for
// Y ∈ [−p, H+p), X ∈ [−p, W+p): x inside, outside either 0 (replicate = 0) or the nearest
// edge pixel x[n, c, clamp(Y, 0, H−1), clamp(X, 0, W−1)] (replicate = 1).
//   forward          y[n,o,oy,ox] = b[o] + Σ_{c,ky,kx} w[o,c,ky,kx]·x̂[n,c,oy·s+ky−p,ox·s+kx−p]
//   backward-input   dx[n,c,iy,ix] = Σ_{o,ky,kx} w[o,c,ky,kx] · Σ_{(Y,X) → (iy,ix)} dy[n,o,oy,ox]
//                    over the padded positions (Y, X) that read (iy, ix), with
//                    Y = oy·s + ky − p (so s must divide Y + p − ky and 0 ≤ oy < Ho).
//                    Zero padding: Y = iy only. Replicate: row 0 also collects Y ∈ [−p, 0),
//                    row H−1 also Y ∈ (H−1, H−1+p]; columns likewise (corners get both).
//   backward-weight  dw[o,c,ky,kx] = Σ_{n,oy,ox} dy[n,o,oy,ox] · x̂[n,c,oy·s+ky−p,ox·s+kx−p]
//
// Each pass is one implicit GEMM C[M×N] = A[M×K]·B[K×N], whose im2col operand is gathered
// from x or dy on the fly while a K-tile is staged into shared memory (no im2col buffer
// in global memory):
//   pass             M      N            K            A[m,k]               B[k,n]
//   forward          O      N·Ho·Wo      C·kh·kw      w (row-major O×K)    x̂ gather (im2col)
//   backward-input   C      N·H·W        O·kh·kw      w[o,c,ky,kx]         dy gather (col2im)
//   backward-weight  O      C·kh·kw      N·Ho·Wo/z    dy[n,o,·]            x̂ gather (im2colᵀ)
// The GEMM column index n of forward/backward-input is a pixel (image-major, then row,
// then column), so y and dx are written in NCHW directly. Backward-weight splits its K
// (pixels) into ConvParams.splits equal chunks, one per blockIdx.z, rounded up to whole
// K-tiles; block z writes its partial sums (zeros when its chunk is empty) to
// partial[z·O·C·kh·kw + o·C·kh·kw + (c·kh + ky)·kw + kx] and sum_splits adds them in split
// order, so the result is deterministic.
//
// Tiling (all three kernels share one main loop, `conv_mainloop`): a block of 256 threads
// owns a 64×64 tile of C (blockIdx.y → 64 rows of M, blockIdx.x → 64 columns of N) and
// walks K in tiles of BK = 16. Thread (tx, ty) = (tid % 16, tid / 16) keeps a 4×4 register
// tile: rows 4·ty…4·ty+3, columns 4·tx…4·tx+3, read as one float4 of A and one of B per k
// from shared memory. Shared memory is double-buffered (2 × (A 16×64 + B 16×64), static):
// while tile t is multiplied out of one buffer, each thread's loads of tile t+1 are already
// in flight into registers and are stored into the other buffer afterwards: one barrier per
// K-tile. Every thread loads 4 elements of A and 4 of B per K-tile, always at ONE k of the
// tile, so the (c, ky, kx) / (o, ky, kx) / (n, oy, ox) decomposition of k costs one
// incremental update per tile (no divisions in the loop). Two staging layouts, chosen per
// operand so that global reads are coalesced along the contiguous axis:
//   'T' (operand contiguous along k): k = tid % 16, m = 4·(tid / 16) + 0…3, stored as one
//       float4 into row k; row stride LDT = 68 floats puts the 8 rows a quarter-warp
//       stores into different banks.
//   'N' (operand contiguous along m/n): k = tid / 16, m = tid % 16 + 16·i, four scalar
//       stores; row stride LDN = 80 puts a warp's two k rows into disjoint bank halves.
// Out-of-range k, m or n load 0 into both operands, so any M, N, K works (K < BK, 1×1,
// C = 1, stride 2, 5×5 with pad 2). No thread returns early: every thread reaches every
// __syncthreads (the CPU emulator checks this).
//
// Index widths: per-image offsets and pixel counts are 32-bit (an image C·H·W, a weight
// tensor and N·Ho·Wo, N·H·W each < 2^32 elements); image and split bases are 64-bit.
//
// Launch requirements: exactly 256 threads per block (1-D), grids as in docs/cuda.md;
// partial holds splits·O·C·kh·kw floats. The launcher chooses splits (src/cuda/ops.rs,
// weight_splits: enough blocks to fill the GPU, chunks of ≥ 256 pixels); any splits ≥ 1
// is correct (0 is read as 1), it changes only the summation order.
//
// Versions:
//   1. (this file) f32 implicit GEMM, 64×64×16 tile, 4×4 per thread, register-prefetched
//      double-buffered shared memory, gather on the fly. Estimated, not yet measured: on
//      the inception convs (M = 64–256, K = 64–6400) the main loop issues 2 LDS.128 per 16
//      FFMA plus ~25–35 % integer work for the gather, so perhaps 35–55 % of the H200's
//      f32 FMA peak. The first small-net layers (O = 8, 16; K = 9) fill 8/64 of the M tile
//      and 9/16 of the K-tile: they are bound by tile waste and by reading x, not FLOPs.
// Ideas for later versions (not written):
//   - bf16 operands on tensor cores (mma.sync m16n8k16, f32 accumulate) with the same
//     gather, 128×128 block tiles, ldmatrix from swizzled shared memory;
//   - a cp.async multi-stage pipeline instead of the register prefetch (TMA im2col mode
//     needs sm_90a); 8×8 per thread on the f32 path (halves shared-memory traffic per FMA);
//   - a small-M variant (O ≤ 16: 16×256 tiles) for the first layers; bias + activation
//     fused into the epilogue; __launch_bounds__(256, 3) (forward and backward-weight fit
//     80 registers without spills, backward-input does not) if occupancy proves to matter.
#include "params.h"

#define CONV_TILE 64   // block tile, M and N
#define CONV_BK 16     // K-tile
#define CONV_LDT 68    // row stride (floats) of a 'T'-staged K-tile
#define CONV_LDN 80    // row stride (floats) of an 'N'-staged K-tile

static __device__ __forceinline__ int conv_clampi(int v, int lo, int hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

// q = t / s when s divides t exactly (t ≥ 0); stride 1 skips the division.
static __device__ __forceinline__ bool conv_div_exact(int t, int s, int& q) {
    if (s == 1) {
        q = t;
        return true;
    }
    q = t / s;
    return q * s == t;
}

// A mixed-radix counter (hi, mid, lo) with radices (·, rmid, rlo) that advances by a fixed
// step (BK) without dividing: the step is pre-split into (dhi, dmid, dlo).
struct ConvCounter {
    int hi, mid, lo;
    int dhi, dmid, dlo;
    int rmid, rlo;
    __device__ __forceinline__ void init(u32 v, u32 rmid_, u32 rlo_) {
        rmid = (int)rmid_;
        rlo = (int)rlo_;
        const u32 inner = rmid_ * rlo_;
        hi = (int)(v / inner);
        u32 r = v - (u32)hi * inner;
        mid = (int)(r / rlo_);
        lo = (int)(r - (u32)mid * rlo_);
        dhi = (int)(CONV_BK / inner);
        r = CONV_BK - (u32)dhi * inner;
        dmid = (int)(r / rlo_);
        dlo = (int)(r - (u32)dmid * rlo_);
    }
    __device__ __forceinline__ void step() {
        lo += dlo;
        if (lo >= rlo) {
            lo -= rlo;
            ++mid;
        }
        mid += dmid;
        if (mid >= rmid) {
            mid -= rmid;
            ++hi;
        }
        hi += dhi;
    }
};

// Stores a thread's 4 staged values into one K-tile buffer.
// 'T': row k = tid % 16, columns 4·(tid/16) … +3 as one float4.
static __device__ __forceinline__ void conv_store_t(float4* buf, int tid, const float v[4]) {
    float4 f;
    f.x = v[0];
    f.y = v[1];
    f.z = v[2];
    f.w = v[3];
    buf[(tid & 15) * (CONV_LDT / 4) + (tid >> 4)] = f;
}
// 'N': row k = tid / 16, columns tid % 16 + 16·i.
static __device__ __forceinline__ void conv_store_n(float4* buf, int tid, const float v[4]) {
    float* row = reinterpret_cast<float*>(buf) + (tid >> 4) * CONV_LDN + (tid & 15);
#pragma unroll
    for (int i = 0; i < 4; ++i) row[16 * i] = v[i];
}

// The shared K-loop: Loader::load() reads the thread's 4 + 4 elements of the current
// K-tile into registers and advances to the next tile; Loader::store(a, b) writes them into
// a pair of shared buffers. LDA, LDB: the row strides the loader stores with.
template <int LDA, int LDB, class Loader>
static __device__ __forceinline__ void conv_mainloop(Loader& ld, u32 ktiles, float4* As, float4* Bs, int tid,
                                              float acc[4][4]) {
    const int tx = tid & 15, ty = tid >> 4;
    if (ktiles > 0) {
        ld.load();
        ld.store(As, Bs);
    }
    __syncthreads();
    for (u32 t = 0; t < ktiles; ++t) {
        const u32 cur = t & 1;
        const bool more = t + 1 < ktiles;
        if (more) ld.load();  // global loads of tile t+1 stay in flight during the FMAs
        const float4* a = As + cur * (CONV_BK * LDA / 4) + ty;
        const float4* b = Bs + cur * (CONV_BK * LDB / 4) + tx;
#pragma unroll
        for (int kk = 0; kk < CONV_BK; ++kk) {
            const float4 av = a[kk * (LDA / 4)];
            const float4 bv = b[kk * (LDB / 4)];
            const float ar[4] = {av.x, av.y, av.z, av.w};
            const float br[4] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] += ar[i] * br[j];
        }
        // The other buffer was last read in iteration t−1, before its closing barrier.
        if (more) ld.store(As + (cur ^ 1) * (CONV_BK * LDA / 4), Bs + (cur ^ 1) * (CONV_BK * LDB / 4));
        __syncthreads();
    }
}


// ---------------------------------------------------------------------------------------
// forward: M = O, N = N·Ho·Wo, K = C·kh·kw. A = w ('T': contiguous along k), B = im2col of
// x ('N': contiguous along pixels). The thread's k walks as a (c, ky, kx) counter; its four
// pixel columns (tid % 16 + 16·i) are fixed for the block.
struct ConvFwdLoader {
    int tid;
    // A: rows am … am+3 at column ak of the row-major O×K weight.
    const float* wp;  // w + am·K + ak
    u32 am, ak, K, O;
    // B: x̂[img, c, iy0 + ky, ix0 + kx] for the thread's four pixels.
    const float* xb[4];  // x + img·C·H·W of each pixel
    int iy0[4], ix0[4];  // oy·s − p, ox·s − p
    u32 valid;           // bit i: pixel i < N·Ho·Wo
    u32 bk;              // the thread's k in B
    ConvCounter kc;      // bk as (c, ky, kx)
    u32 H, W, HW;
    int rep;
    float va[4], vb[4];

    __device__ __forceinline__ void load() {
#pragma unroll
        for (int i = 0; i < 4; ++i) va[i] = (am + i < O && ak < K) ? wp[(u64)i * K] : 0.f;
        wp += CONV_BK;
        ak += CONV_BK;
        const bool kin = bk < K;
        const u32 coff = (u32)kc.hi * HW;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            int iy = iy0[i] + kc.mid, ix = ix0[i] + kc.lo;
            if (rep) {
                iy = conv_clampi(iy, 0, (int)H - 1);
                ix = conv_clampi(ix, 0, (int)W - 1);
            }
            const bool ok = kin && ((valid >> i) & 1u) && (u32)iy < H && (u32)ix < W;
            vb[i] = ok ? xb[i][coff + (u32)iy * W + (u32)ix] : 0.f;
        }
        bk += CONV_BK;
        kc.step();
    }
    __device__ __forceinline__ void store(float4* As, float4* Bs) const {
        conv_store_t(As, tid, va);
        conv_store_n(Bs, tid, vb);
    }
};

// Launch: block 256, grid (⌈N·Ho·Wo/64⌉, ⌈O/64⌉). y = conv(x, w) + b (b may be null).
extern "C" __global__ __launch_bounds__(256, 2) void conv2d_forward(ConvParams p, const float* __restrict__ x,
                                                                     const float* __restrict__ w,
                                                                     const float* __restrict__ b,
                                                                     float* __restrict__ y) {
    __shared__ float4 As[2 * CONV_BK * CONV_LDT / 4];
    __shared__ float4 Bs[2 * CONV_BK * CONV_LDN / 4];
    const int tid = threadIdx.x;
    const u32 khw = p.kh * p.kw, K = p.c * khw, HW = p.h * p.w, HoWo = p.ho * p.wo, NP = p.n * HoWo;
    const u32 bm = blockIdx.y * CONV_TILE, bn = blockIdx.x * CONV_TILE;
    const u64 CHW = (u64)p.c * HW;

    ConvFwdLoader ld;
    ld.tid = tid;
    ld.K = K;
    ld.O = p.o;
    ld.ak = tid & 15;
    ld.am = bm + 4 * (tid >> 4);
    ld.wp = w + (u64)ld.am * K + ld.ak;
    ld.bk = tid >> 4;
    ld.kc.init(ld.bk, p.kh, p.kw);
    ld.H = p.h;
    ld.W = p.w;
    ld.HW = HW;
    ld.rep = p.replicate != 0;
    ld.valid = 0;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const u32 col = bn + (tid & 15) + 16 * i;
        const bool v = col < NP;
        const u32 img = v ? col / HoWo : 0;
        const u32 q = v ? col - img * HoWo : 0;
        const u32 oy = q / p.wo, ox = q - oy * p.wo;
        ld.valid |= (v ? 1u : 0u) << i;
        ld.xb[i] = x + img * CHW;
        ld.iy0[i] = (int)(oy * p.stride) - (int)p.pad;
        ld.ix0[i] = (int)(ox * p.stride) - (int)p.pad;
    }

    float acc[4][4] = {};
    conv_mainloop<CONV_LDT, CONV_LDN>(ld, (K + CONV_BK - 1) / CONV_BK, As, Bs, tid, acc);

    const int tx = tid & 15, ty = tid >> 4;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
        const u32 col = bn + 4 * tx + j;
        if (col >= NP) continue;
        const u32 img = col / HoWo, q = col - img * HoWo;
        float* yp = y + (u64)img * p.o * HoWo + q;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const u32 o = bm + 4 * ty + i;
            if (o < p.o) yp[(u64)o * HoWo] = acc[i][j] + (b ? b[o] : 0.f);
        }
    }
}

// ---------------------------------------------------------------------------------------
// backward-input: M = C, N = N·H·W, K = O·kh·kw. A[c, (o, ky, kx)] = w[o, c, ky, kx]
// ('N': 16 consecutive c per half-warp, stride kh·kw — the weights sit in L1/L2),
// B[(o, ky, kx), pixel] = Σ dy over the padded positions that read the pixel ('N': along
// pixels). Both operands use the same k = tid / 16, one (o, ky, kx) counter.
struct ConvBwdInputLoader {
    int tid;
    const float* w;
    u32 ac[4];   // A rows (input channels) of this thread: bm + tid % 16 + 16·i
    u32 C, khw, kw, K;
    const float* dyb[4];  // dy + img·O·Ho·Wo of each pixel
    int iy[4], ix[4];
    u32 valid;  // bit i: pixel i < N·H·W
    u32 k;
    ConvCounter kc;  // k as (o, ky, kx)
    int H, W, Ho, Wo, s, pad, rep;
    u32 HoWo;
    float va[4], vb[4];

    __device__ __forceinline__ void load() {
        const bool kin = k < K;
        const float* wrow = w + (u64)kc.hi * C * khw + (u32)kc.mid * kw + (u32)kc.lo;
#pragma unroll
        for (int i = 0; i < 4; ++i) va[i] = (kin && ac[i] < C) ? wrow[(u64)ac[i] * khw] : 0.f;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            float v = 0.f;
            if (kin && ((valid >> i) & 1u)) {
                const float* d = dyb[i] + (u64)kc.hi * HoWo;
                // The padded rows / columns whose value is this pixel.
                const int ylo = (rep && iy[i] == 0) ? -pad : iy[i];
                const int yhi = (rep && iy[i] == H - 1) ? H - 1 + pad : iy[i];
                const int xlo = (rep && ix[i] == 0) ? -pad : ix[i];
                const int xhi = (rep && ix[i] == W - 1) ? W - 1 + pad : ix[i];
                for (int Y = ylo; Y <= yhi; ++Y) {
                    const int ty = Y + pad - kc.mid;  // = oy·s
                    int oy;
                    if (ty < 0 || !conv_div_exact(ty, s, oy) || oy >= Ho) continue;
                    for (int X = xlo; X <= xhi; ++X) {
                        const int tx = X + pad - kc.lo;  // = ox·s
                        int ox;
                        if (tx < 0 || !conv_div_exact(tx, s, ox) || ox >= Wo) continue;
                        v += d[oy * Wo + ox];
                    }
                }
            }
            vb[i] = v;
        }
        k += CONV_BK;
        kc.step();
    }
    __device__ __forceinline__ void store(float4* As, float4* Bs) const {
        conv_store_n(As, tid, va);
        conv_store_n(Bs, tid, vb);
    }
};

// Launch: block 256, grid (⌈N·H·W/64⌉, ⌈C/64⌉). Every element of dx is written.
extern "C" __global__ __launch_bounds__(256, 2) void conv2d_backward_input(ConvParams p,
                                                                            const float* __restrict__ w,
                                                                            const float* __restrict__ dy,
                                                                            float* __restrict__ dx) {
    __shared__ float4 As[2 * CONV_BK * CONV_LDN / 4];
    __shared__ float4 Bs[2 * CONV_BK * CONV_LDN / 4];
    const int tid = threadIdx.x;
    const u32 khw = p.kh * p.kw, K = p.o * khw, HW = p.h * p.w, HoWo = p.ho * p.wo, NP = p.n * HW;
    const u32 bm = blockIdx.y * CONV_TILE, bn = blockIdx.x * CONV_TILE;

    ConvBwdInputLoader ld;
    ld.tid = tid;
    ld.w = w;
    ld.C = p.c;
    ld.khw = khw;
    ld.kw = p.kw;
    ld.K = K;
    ld.k = tid >> 4;
    ld.kc.init(ld.k, p.kh, p.kw);
    ld.H = (int)p.h;
    ld.W = (int)p.w;
    ld.Ho = (int)p.ho;
    ld.Wo = (int)p.wo;
    ld.s = (int)p.stride;
    ld.pad = (int)p.pad;
    ld.rep = p.replicate != 0;
    ld.HoWo = HoWo;
    ld.valid = 0;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        ld.ac[i] = bm + (tid & 15) + 16 * i;
        const u32 col = bn + (tid & 15) + 16 * i;
        const bool v = col < NP;
        const u32 img = v ? col / HW : 0;
        const u32 q = v ? col - img * HW : 0;
        const u32 iy = v ? q / p.w : 0;
        ld.valid |= (v ? 1u : 0u) << i;
        ld.dyb[i] = dy + (u64)img * p.o * HoWo;
        ld.iy[i] = (int)iy;
        ld.ix[i] = (int)(q - iy * p.w);
    }

    float acc[4][4] = {};
    conv_mainloop<CONV_LDN, CONV_LDN>(ld, (K + CONV_BK - 1) / CONV_BK, As, Bs, tid, acc);

    const int tx = tid & 15, ty = tid >> 4;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
        const u32 col = bn + 4 * tx + j;
        if (col >= NP) continue;
        const u32 img = col / HW, q = col - img * HW;
        float* xp = dx + (u64)img * p.c * HW + q;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const u32 c = bm + 4 * ty + i;
            if (c < p.c) xp[(u64)c * HW] = acc[i][j];
        }
    }
}

// ---------------------------------------------------------------------------------------
// backward-weight: M = O, N = C·kh·kw, K = the pixels of split z. A[o, pixel] = dy and
// B[pixel, (c, ky, kx)] = x̂ are both contiguous along the pixel ('T': k = tid % 16), so one
// (img, oy, ox) counter serves both; the thread's four B columns (c, ky, kx) are fixed.
struct ConvBwdWeightLoader {
    int tid;
    const float* dy;
    const float* x;
    u32 am;  // A rows (output channels) am … am+3
    u32 O, HoWo, Wo;
    u64 CHW;
    u32 coff[4];      // c·H·W of each B column
    int ky[4], kx[4];
    u32 valid;        // bit i: B column i < C·kh·kw
    u64 pix, pend;    // the thread's pixel and the end of the split
    ConvCounter pc;   // pix as (img, oy, ox)
    int H, W, s, pad, rep;
    float va[4], vb[4];

    __device__ __forceinline__ void load() {
        const bool kin = pix < pend;
        const u32 q = (u32)pc.mid * Wo + (u32)pc.lo;
        const float* d = dy + ((u64)pc.hi * O + am) * HoWo + q;
#pragma unroll
        for (int i = 0; i < 4; ++i) va[i] = (kin && am + i < O) ? d[(u64)i * HoWo] : 0.f;
        const float* xi = x + (u64)pc.hi * CHW;
        const int y0 = pc.mid * s - pad, x0 = pc.lo * s - pad;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            int iy = y0 + ky[i], ix = x0 + kx[i];
            if (rep) {
                iy = conv_clampi(iy, 0, H - 1);
                ix = conv_clampi(ix, 0, W - 1);
            }
            const bool ok = kin && ((valid >> i) & 1u) && (u32)iy < (u32)H && (u32)ix < (u32)W;
            vb[i] = ok ? xi[coff[i] + (u32)iy * (u32)W + (u32)ix] : 0.f;
        }
        pix += CONV_BK;
        pc.step();
    }
    __device__ __forceinline__ void store(float4* As, float4* Bs) const {
        conv_store_t(As, tid, va);
        conv_store_t(Bs, tid, vb);
    }
};

// Launch: block 256, grid (⌈C·kh·kw/64⌉, ⌈O/64⌉, splits). Block z writes partial sums
// over its pixel chunk to partial[z·O·C·kh·kw …] (every element, zeros for an empty chunk).
extern "C" __global__ __launch_bounds__(256, 2) void conv2d_backward_weight(ConvParams p,
                                                                             const float* __restrict__ x,
                                                                             const float* __restrict__ dy,
                                                                             float* __restrict__ partial) {
    __shared__ float4 As[2 * CONV_BK * CONV_LDT / 4];
    __shared__ float4 Bs[2 * CONV_BK * CONV_LDT / 4];
    const int tid = threadIdx.x;
    const u32 khw = p.kh * p.kw, KW = p.c * khw, HW = p.h * p.w, HoWo = p.ho * p.wo;
    const u64 NP = (u64)p.n * HoWo;
    const u32 bm = blockIdx.y * CONV_TILE, bn = blockIdx.x * CONV_TILE, z = blockIdx.z;
    const u64 splits = p.splits > 0 ? p.splits : 1;
    // Pixels per split, rounded up to whole K-tiles.
    const u64 per = ((NP + splits - 1) / splits + CONV_BK - 1) / CONV_BK * CONV_BK;
    const u64 kbeg = (u64)z * per < NP ? (u64)z * per : NP;
    const u64 kend = kbeg + per < NP ? kbeg + per : NP;

    ConvBwdWeightLoader ld;
    ld.tid = tid;
    ld.dy = dy;
    ld.x = x;
    ld.am = bm + 4 * (tid >> 4);
    ld.O = p.o;
    ld.HoWo = HoWo;
    ld.Wo = p.wo;
    ld.CHW = (u64)p.c * HW;
    ld.pix = kbeg + (tid & 15);
    ld.pend = kend;
    // pix < 2^32 whenever a tile is loaded (N·Ho·Wo < 2^32).
    ld.pc.init((u32)(ld.pix < NP ? ld.pix : 0), p.ho, p.wo);
    ld.H = (int)p.h;
    ld.W = (int)p.w;
    ld.s = (int)p.stride;
    ld.pad = (int)p.pad;
    ld.rep = p.replicate != 0;
    ld.valid = 0;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const u32 n = bn + 4 * (tid >> 4) + i;
        const bool v = n < KW;
        const u32 c = v ? n / khw : 0;
        const u32 r = v ? n - c * khw : 0;
        const u32 kyi = r / p.kw;
        ld.valid |= (v ? 1u : 0u) << i;
        ld.coff[i] = c * HW;
        ld.ky[i] = (int)kyi;
        ld.kx[i] = (int)(r - kyi * p.kw);
    }

    float acc[4][4] = {};
    const u32 ktiles = (u32)((kend - kbeg + CONV_BK - 1) / CONV_BK);
    conv_mainloop<CONV_LDT, CONV_LDT>(ld, ktiles, As, Bs, tid, acc);

    const int tx = tid & 15, ty = tid >> 4;
    float* out = partial + (u64)z * p.o * KW;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const u32 o = bm + 4 * ty + i;
        if (o >= p.o) continue;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const u32 n = bn + 4 * tx + j;
            if (n < KW) out[(u64)o * KW + n] = acc[i][j];
        }
    }
}
