// channels.cu — copies along axis 1 and 2-D matrix rearrangements: the CUDA twins of
// src/cpu/channels.rs (concat / extract / insert_into_zeros / zero_from) and of the
// transpose primitive. Pure data movement: results are bit-identical to the CPU's.
//
// Maths:
//   copy_channels dst[o, dst_start + j, i] = src[o, src_start + j, i]
//                 for o < outer, j < len, i < inner (other dst channels untouched)
//   mask_columns  y[r, j] = j < keep ? x[r, j] : 0      (rows×cols)
//   transpose     y[j, r] = x[r, j]                     (x rows×cols, y cols×rows)
//
// Layout: src outer×src_c×inner, dst outer×dst_c×inner, x/y row-major, contiguous.
// Channels j < len are consecutive in both tensors, so (j, i) is one flat offset
// r = j·inner + i into a run of len·inner elements: one division per element.
// Geometry: 1-D grid-stride, block 256, any grid.
//
// Versions:
// 1. copy_channels / mask_columns: scalar grid-stride loops, coalesced on both sides;
// 2. transpose: (kept) 32×32 tiles through shared memory (padded to 33 columns, no bank
//    conflicts) so that both the reads of x and the writes of y are coalesced; the
//    block loops over tiles with a block-uniform trip count (every thread reaches every
//    barrier). Any grid works; the 1-D grid of docs/cuda.md has more blocks than tiles,
//    and the extra blocks exit at once.
#include "params.h"

// q = a / b and r = a % b, in 32 bits when a fits (the usual case).
static __device__ __forceinline__ u64 chan_divmod(u64 a, u64 b, u64* r) {
    if (((a | b) >> 32) == 0) {
        const u32 q = (u32)a / (u32)b;
        *r = (u32)a - q * (u32)b;
        return q;
    }
    const u64 q = a / b;
    *r = a - q * b;
    return q;
}

extern "C" __global__ void copy_channels(CopyChannelsParams p, const float* src, float* dst) {
    const u64 run = (u64)p.len * p.inner;
    const u64 total = p.outer * run;
    const u64 src_row = (u64)p.src_c * p.inner, dst_row = (u64)p.dst_c * p.inner;
    const u64 src_off = (u64)p.src_start * p.inner, dst_off = (u64)p.dst_start * p.inner;
    const u64 stride = (u64)gridDim.x * blockDim.x;
    for (u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += stride) {
        u64 r;
        const u64 o = chan_divmod(t, run, &r);
        dst[o * dst_row + dst_off + r] = src[o * src_row + src_off + r];
    }
}

extern "C" __global__ void mask_columns(MatrixParams p, const float* x, float* y) {
    const u64 total = (u64)p.rows * p.cols;
    const u64 stride = (u64)gridDim.x * blockDim.x;
    for (u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += stride) {
        u64 j;
        chan_divmod(t, p.cols, &j);
        y[t] = j < p.keep ? x[t] : 0.0f;
    }
}

#define TR_TILE 32
#define TR_ROWS 8  // 256 threads = 32 columns × 8 rows; each thread moves 4 elements

extern "C" __global__ void transpose(MatrixParams p, const float* x, float* y) {
    __shared__ float tile[TR_TILE][TR_TILE + 1];
    const u32 rows = p.rows, cols = p.cols;
    const u32 tiles_c = (cols + TR_TILE - 1) / TR_TILE;
    const u64 tiles = (u64)((rows + TR_TILE - 1) / TR_TILE) * tiles_c;
    const u32 tx = threadIdx.x % TR_TILE, ty = threadIdx.x / TR_TILE;
    for (u64 tile_id = blockIdx.x; tile_id < tiles; tile_id += gridDim.x) {
        const u32 r0 = (u32)(tile_id / tiles_c) * TR_TILE;
        const u32 c0 = (u32)(tile_id % tiles_c) * TR_TILE;
        // Read: thread (ty, tx) reads x[r0 + ty + 8m, c0 + tx] — consecutive tx, one row.
        for (u32 m = ty; m < TR_TILE; m += TR_ROWS) {
            const u32 r = r0 + m, c = c0 + tx;
            if (r < rows && c < cols) tile[m][tx] = x[(u64)r * cols + c];
        }
        __syncthreads();
        // Write: thread (ty, tx) writes y[c0 + ty + 8m, r0 + tx] — consecutive tx, one row.
        for (u32 m = ty; m < TR_TILE; m += TR_ROWS) {
            const u32 c = c0 + m, r = r0 + tx;
            if (c < cols && r < rows) y[(u64)c * rows + r] = tile[tx][m];
        }
        __syncthreads();
    }
}
