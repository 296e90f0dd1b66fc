// Self-test kernels: warp shuffles, votes and warp-level reductions.
#include "st_params.h"

// Each warp of the block reduces its 32 values: lane 0 writes the shfl_down sum to
// sums[global warp]; every lane writes the shfl_xor (butterfly) sum to allsum[i].
extern "C" __global__ void warp_reduce(StParams p, const float* __restrict__ x, float* __restrict__ sums,
                                       float* __restrict__ allsum) {
    const u64 i = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    const float v = i < p.n ? x[i] : 0.0f;
    float d = v, b = v;
    for (int o = warpSize / 2; o > 0; o /= 2) {
        d += __shfl_down_sync(0xffffffffu, d, o);
        b += __shfl_xor_sync(0xffffffffu, b, o);
    }
    if (threadIdx.x % 32 == 0) sums[i / 32] = d;
    allsum[i] = b;
}

// Inclusive prefix sum within segments of 16 lanes (shfl_up with width 16), in int and
// in double; lane p.k's value is broadcast to the whole warp with __shfl_sync.
extern "C" __global__ void warp_scan(StParams p, const int* x, int* y, double* yd, int* bcast) {
    const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    int v = x[i];
    double dv = x[i];
    const unsigned seg_lane = threadIdx.x % 16;
    for (unsigned o = 1; o < 16; o *= 2) {
        int t = __shfl_up_sync(0xffffffffu, v, o, 16);
        double dt = __shfl_up_sync(0xffffffffu, dv, o, 16);
        if (seg_lane >= o) {
            v += t;
            dv += dt;
        }
    }
    y[i] = v;
    yd[i] = dv;
    bcast[i] = __shfl_sync(0xffffffffu, x[i], (int)p.k);
}

// Votes: ballot / any / all of x > 0, the warp sum with __reduce_add_sync and the number
// of lanes holding the same value with __match_any_sync.
extern "C" __global__ void warp_vote(StParams p, const int* x, unsigned* ballot, int* anyall, unsigned* red,
                                     unsigned* match) {
    const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    const int pos = x[i] > 0;
    const unsigned b = __ballot_sync(0xffffffffu, pos);
    const int any = __any_sync(0xffffffffu, pos), all = __all_sync(0xffffffffu, pos);
    const unsigned r = __reduce_add_sync(0xffffffffu, (unsigned)x[i]);
    const unsigned m = __match_any_sync(0xffffffffu, x[i] % 3);
    __syncwarp();
    if (threadIdx.x % 32 == 0) {
        ballot[i / 32] = b;
        anyall[i / 32] = any + 2 * all;
        red[i / 32] = r;
    }
    match[i] = __popc(m);
}

// blockDim 48: warp 1 has only 16 lanes; full-mask collectives work on the lanes that
// exist. Also two half-warp groups shuffling with disjoint masks at the same time.
extern "C" __global__ void warp_partial(StParams p, float* y, unsigned* ballot) {
    const unsigned t = threadIdx.x;
    float v = (float)t;
    for (int o = 8; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);  // sum of its 16-lane half
    y[t] = v;
    const unsigned half = (t % 32) < 16 ? 0x0000ffffu : 0xffff0000u;
    float h = 1.0f;
    for (int o = 8; o > 0; o /= 2) h += __shfl_xor_sync(half, h, o);
    y[48 + t] = h;  // 16
    const unsigned b = __ballot_sync(0xffffffffu, t % 2 == 0);
    if (t % 32 == 0) ballot[t / 32] = b;
    if (t % 32 == 0) ballot[2 + t / 32] = __activemask();
}

// Lanes 16..31 exit while lanes 0..15 wait in a full-warp shuffle.
extern "C" __global__ void warp_diverge(StParams p, float* y) {
    if (threadIdx.x % 32 >= 16) return;
    y[threadIdx.x] = __shfl_down_sync(0xffffffffu, p.s, 1);
}

// Lanes call different collectives with overlapping masks.
extern "C" __global__ void warp_mismatch(StParams p, unsigned* y) {
    if (threadIdx.x < 16) {
        __syncwarp();
        y[threadIdx.x] = 0;
    } else {
        y[threadIdx.x] = __ballot_sync(0xffffffffu, 1);
    }
}
