// Self-test kernels: atomics across many blocks, 2-D / 3-D grids, a shared-memory tiled
// SGEMM shaped like the project's (256 threads, 64x64 tiles), scalar intrinsics.
#include "st_params.h"

// Histogram of x[i] % k into bins: per-block shared histogram, then global atomicAdd.
extern "C" __global__ void __launch_bounds__(256) histogram(StParams p, const unsigned* __restrict__ x,
                                                             unsigned* __restrict__ bins) {
    __shared__ unsigned local[256];
    for (unsigned b = threadIdx.x; b < p.k; b += blockDim.x) local[b] = 0;
    __syncthreads();
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < p.n; i += (u64)gridDim.x * blockDim.x)
        atomicAdd(&local[x[i] % p.k], 1u);
    __syncthreads();
    for (unsigned b = threadIdx.x; b < p.k; b += blockDim.x)
        if (local[b]) atomicAdd(&bins[b], local[b]);
}

// Float atomicAdd of exact small integers and the other atomics, all blocks together.
extern "C" __global__ void atomics_misc(StParams p, float* fsum, int* imax, unsigned* umin, unsigned long long* cas,
                                        unsigned* inc, int* exch) {
    const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    atomicAdd(fsum, (float)(i % 4));
    atomicMax(imax, (int)i - 1000);
    atomicMin(umin, i + 7);
    unsigned long long old = *cas, seen;
    while ((seen = atomicCAS(cas, old, old + 2)) != old) old = seen;
    atomicInc(inc, 100u);
    atomicExch(exch, 5);
}

// y = transpose(x) for x rows x cols (p.n rows, p.k cols) with a 32x33 shared tile;
// 2-D grid (ceil(cols/32), ceil(rows/32)), block (32, 8).
extern "C" __global__ void transpose2d(StParams p, const float* __restrict__ x, float* __restrict__ y) {
    __shared__ float tile[32][33];
    const unsigned rows = (unsigned)p.n, cols = p.k;
    unsigned c = blockIdx.x * 32 + threadIdx.x;
    for (unsigned r = blockIdx.y * 32 + threadIdx.y, j = threadIdx.y; j < 32; r += 8, j += 8)
        if (r < rows && c < cols) tile[j][threadIdx.x] = x[(u64)r * cols + c];
    __syncthreads();
    const unsigned r = blockIdx.y * 32 + threadIdx.x;
    for (unsigned cc = blockIdx.x * 32 + threadIdx.y, j = threadIdx.y; j < 32; cc += 8, j += 8)
        if (cc < cols && r < rows) y[(u64)cc * rows + r] = tile[threadIdx.x][j];
}

// Every thread of a 3-D grid of 3-D blocks writes its coordinates.
extern "C" __global__ void grid3d(StParams p, uint4* out) {
    const unsigned bl = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    const unsigned tl = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    const unsigned i = bl * (blockDim.x * blockDim.y * blockDim.z) + tl;
    out[i] = make_uint4(blockIdx.x | blockIdx.y << 8 | blockIdx.z << 16, threadIdx.x | threadIdx.y << 8 | threadIdx.z << 16,
                        gridDim.x | gridDim.y << 8 | gridDim.z << 16, blockDim.x | blockDim.y << 8 | blockDim.z << 16);
}

// C = A·B, row-major, m x k times k x n. Block 256 = 16 x 16 threads, 64x64 C tile, each
// thread 4x4 outputs, K tiles of 16 staged in shared memory (two barriers per K tile).
extern "C" __global__ void __launch_bounds__(256) tiled_sgemm(GemmP p, const float* __restrict__ a,
                                                               const float* __restrict__ b, float* __restrict__ c) {
    __shared__ __align__(16) float as[16][64];
    __shared__ __align__(16) float bs[16][64];
    const unsigned tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const unsigned row0 = blockIdx.y * 64, col0 = blockIdx.x * 64;
    float acc[4][4] = {};
    for (unsigned k0 = 0; k0 < p.k; k0 += 16) {
        for (unsigned e = threadIdx.x; e < 16 * 64; e += 256) {
            const unsigned kk = e / 64, mm = e % 64;
            const unsigned ar = row0 + mm, ak = k0 + kk;
            as[kk][mm] = ar < p.m && ak < p.k ? a[(u64)ar * p.k + ak] : 0.0f;
            const unsigned bc = col0 + mm;
            bs[kk][mm] = ak < p.k && bc < p.n ? b[(u64)ak * p.n + bc] : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (unsigned kk = 0; kk < 16; ++kk) {
            float av[4], bv[4];
            for (int i = 0; i < 4; ++i) av[i] = as[kk][ty * 4 + i];
            const float4 b4 = *reinterpret_cast<const float4*>(&bs[kk][tx * 4]);
            bv[0] = b4.x, bv[1] = b4.y, bv[2] = b4.z, bv[3] = b4.w;
            for (int i = 0; i < 4; ++i)
                for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
        __syncthreads();
    }
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
            const unsigned r = row0 + ty * 4 + i, cc = col0 + tx * 4 + j;
            if (r < p.m && cc < p.n) c[(u64)r * p.n + cc] = acc[i][j];
        }
}

// y[i] = s * x[i] + 1, grid-stride (the shape of the project's elementwise kernels).
extern "C" __global__ void axpb(StParams p, const float* __restrict__ x, float* __restrict__ y) {
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < p.n; i += (u64)gridDim.x * blockDim.x)
        y[i] = p.s * __ldg(&x[i]) + 1.0f;
}

// Scalar intrinsics and overloads, one result per slot (checked on the host).
extern "C" __global__ void intrinsics(StParams p, float* f, int* n) {
    if (threadIdx.x != 0 || blockIdx.x != 0) return;
    const float x = p.s;  // 2.5
    f[0] = expf(x) - __expf(x);
    f[1] = rsqrtf(4.0f);
    f[2] = __saturatef(x) + __saturatef(-x) + __saturatef(NAN);
    f[3] = __int_as_float(__float_as_int(x));
    f[4] = fmaxf(x, NAN) + fminf(1.0f, x);
    f[5] = max(1.5f, x) + min(3, 2);  // float/float, int/int
    f[6] = tanhf(0.0f) + log1pf(0.0f) + expm1f(0.0f) + sqrtf(x * x) + fabsf(-1.0f);
    f[7] = sqrt(x) * sqrt(x);  // float overload
    f[8] = __fdividef(1.0f, 4.0f) + __frcp_rn(2.0f) + __fsqrt_rn(16.0f);
    f[9] = INFINITY;
    const float4 v = make_float4(1, 2, 3, 4);
    const float2 w = make_float2(5, 6);
    f[10] = v.x + v.y + v.z + v.w + w.x + w.y;
    f[11] = floorf(x) + ceilf(x) + roundf(x) + powf(2.0f, 3.0f) + fmaf(2.0f, 3.0f, 1.0f);
    n[0] = __popc(0xf0f0u) + __clz(1) * 100 + __ffs(8) * 10000;
    n[1] = (int)__umulhi(0x80000000u, 6u);
    n[2] = __mul24(-3, 1 << 23);  // operands are 24-bit signed: 1<<23 is -2^23
    n[3] = (int)max(3u, -1);  // mixed signedness: unsigned comparison, -1 -> 0xffffffff
    n[4] = (int)min(7LL, 5ULL) + (int)max((u64)2, (u64)9);
    n[5] = __float2int_rn(2.5f) + __float2int_rn(3.5f) * 10 + __float2int_rz(-2.7f) * 100;
    n[6] = __float2int_rn(1e20f) == INT_MAX && __float2uint_rn(-5.0f) == 0u && __float2int_rn(NAN) == 0;
    n[7] = (int)sizeof(float4) * 100 + (int)alignof(float4) * 10000 + (int)alignof(float2);
    n[8] = warpSize;
    n[9] = __brev(1u) == 0x80000000u && __clzll(1) == 63 && __popcll(~0ull) == 64;
}
