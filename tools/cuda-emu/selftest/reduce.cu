// Self-test kernels: block-level reductions with shared memory and __syncthreads, and
// kernels that misuse barriers (the emulator must report them, not hang).
#include "st_params.h"

// out[blockIdx.x] = sum of this block's 256-element slice of x (tree in shared memory).
extern "C" __global__ void __launch_bounds__(256) block_sum(StParams p, const float* __restrict__ x,
                                                             float* __restrict__ out) {
    __shared__ float s[256];
    const unsigned t = threadIdx.x;
    const u64 i = (u64)blockIdx.x * blockDim.x + t;
    s[t] = i < p.n ? x[i] : 0.0f;
    __syncthreads();
    for (unsigned k = blockDim.x / 2; k > 0; k >>= 1) {
        if (t < k) s[t] += s[t + k];
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = s[0];
}

static __device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}

// Whole-array sum with 1024-thread blocks: warp shuffles, shared partials, a barrier,
// then one double atomicAdd per block. Also counts x > s with __syncthreads_count/and/or.
extern "C" __global__ void __launch_bounds__(1024) big_block_sum(StParams p, const float* x, double* total,
                                                                  int* flags) {
    __shared__ float partial[32];
    float v = 0.0f;
    for (u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x; i < p.n; i += (u64)gridDim.x * blockDim.x) v += x[i];
    v = warp_sum(v);
    const unsigned lane = threadIdx.x % warpSize, warp = threadIdx.x / warpSize;
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < blockDim.x / warpSize ? partial[lane] : 0.0f;
        v = warp_sum(v);
        if (lane == 0) atomicAdd(total, (double)v);
    }
    const u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    const int pos = i < p.n && x[i] > p.s;
    const int cnt = __syncthreads_count(pos);
    const int all = __syncthreads_and(pos);
    const int any = __syncthreads_or(pos);
    if (threadIdx.x == 0) {
        atomicAdd(&flags[0], cnt);
        atomicAdd(&flags[1], all);
        atomicAdd(&flags[2], any);
    }
}

// Even threads wait at a barrier that odd threads never reach.
extern "C" __global__ void divergent_sync(StParams p, float* y) {
    if (threadIdx.x % 2 == 0) __syncthreads();
    y[threadIdx.x] = p.s;
}

// Threads past n return before the barrier the others wait at.
extern "C" __global__ void early_return_sync(StParams p, float* y) {
    __shared__ float s[128];
    if (threadIdx.x >= p.n) return;
    s[threadIdx.x] = p.s;
    __syncthreads();
    y[threadIdx.x] = s[(threadIdx.x + 1) % p.n];
}

// Fails its assert in block 2.
extern "C" __global__ void assert_kernel(StParams p, float* y) {
    assert(blockIdx.x != p.k);
    y[blockIdx.x * blockDim.x + threadIdx.x] = 1.0f;
}

extern "C" __global__ void trap_kernel(StParams p, float* y) {
    if (threadIdx.x == p.k) __trap();
    y[threadIdx.x] = 1.0f;
}
