// pool.cu — 2-D max pooling, forward and backward: the CUDA twin of src/cpu/pool2d.rs.
// Square window k (≤ 16, so an offset fits a byte), stride s, padding p counted as
// -inf, floor output size (ho, wo are passed in, computed by the launcher).
//
// Maths:
//   forward   y[n,c,oy,ox] = max over the in-range part of the window at
//             (oy·s − p, ox·s − p); arg = ky·k + kx of the chosen element. The window is
//             scanned in row-major order starting from best = -inf and the offset of the
//             first in-range element; a strictly larger value or a NaN replaces the best
//             (first maximum wins ties, NaN propagates, as in PyTorch and
//             forward_plane_generic), so y and arg are bit-identical to the CPU's.
//   backward  dx[n,c,iy,ix] = Σ dy[n,c,oy,ox] over the windows whose argmax is (iy, ix),
//             summed in (oy, ox) row-major order from 0 — the order in which the CPU
//             scatters, so dx is bit-identical too.
//
// Layout: x, dx N×C×H×W; y, dy, arg N×C×Ho×Wo, all contiguous row-major; arg is bytes.
// Geometry: 1-D grid-stride, block 256: forward one thread per output, backward one
// thread per input pixel (gather form: no atomics, deterministic, dx fully written).
//
// Versions:
// 1. (kept) direct window scan per output / gather over the covering windows per input.
#include "params.h"

// q = a / b and r = a % b, in 32 bits when a fits (the usual case).
static __device__ __forceinline__ u64 pool_divmod(u64 a, u32 b, u32* r) {
    if ((a >> 32) == 0) {
        const u32 q = (u32)a / b;
        *r = (u32)a - q * b;
        return q;
    }
    const u64 q = a / b;
    *r = (u32)(a - q * b);
    return q;
}

static __device__ __forceinline__ int pool_clamp(int v, int lo, int hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

extern "C" __global__ void maxpool_forward(PoolParams p, const float* x, float* y,
                                           unsigned char* arg) {
    const u64 total = (u64)p.n * p.c * p.ho * p.wo;
    const u64 stride = (u64)gridDim.x * blockDim.x;
    const int k = (int)p.k;
    for (u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += stride) {
        u32 ox, oy;
        const u64 rest = pool_divmod(t, p.wo, &ox);
        const u64 plane = pool_divmod(rest, p.ho, &oy);
        const float* xp = x + plane * p.h * p.w;
        // Window origin and its in-range part [lo, hi) along each axis (PoolGeom::window).
        const int y0 = (int)(oy * p.s) - (int)p.p;
        const int x0 = (int)(ox * p.s) - (int)p.p;
        const int ylo = y0 < 0 ? -y0 : 0;
        const int xlo = x0 < 0 ? -x0 : 0;
        const int yhi = pool_clamp((int)p.h - y0, 0, k);
        const int xhi = pool_clamp((int)p.w - x0, 0, k);
        float best = __int_as_float(0xff800000);
        int bi = ylo * k + xlo;
        for (int ky = ylo; ky < yhi; ++ky) {
            const float* row = xp + (u64)(y0 + ky) * p.w + x0;
            for (int kx = xlo; kx < xhi; ++kx) {
                const float v = row[kx];
                if (v > best || v != v) {
                    best = v;
                    bi = ky * k + kx;
                }
            }
        }
        y[t] = best;
        arg[t] = (unsigned char)bi;
    }
}

extern "C" __global__ void maxpool_backward(PoolParams p, const float* dy,
                                            const unsigned char* arg, float* dx) {
    const u64 total = (u64)p.n * p.c * p.h * p.w;
    const u64 stride = (u64)gridDim.x * blockDim.x;
    const int k = (int)p.k, s = (int)p.s, pad = (int)p.p;
    for (u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += stride) {
        u32 ix, iy;
        const u64 rest = pool_divmod(t, p.w, &ix);
        const u64 plane = pool_divmod(rest, p.h, &iy);
        // Outputs whose window covers (iy, ix): o·s − p ≤ i ≤ o·s − p + k − 1.
        const int py = (int)iy + pad, px = (int)ix + pad;
        const int oy_lo = py - k + 1 <= 0 ? 0 : (py - k + s) / s;
        const int ox_lo = px - k + 1 <= 0 ? 0 : (px - k + s) / s;
        const int oy_hi = pool_clamp(py / s, -1, (int)p.ho - 1);
        const int ox_hi = pool_clamp(px / s, -1, (int)p.wo - 1);
        const u64 base = plane * p.ho * p.wo;
        float acc = 0.0f;
        for (int oy = oy_lo; oy <= oy_hi; ++oy) {
            const int ky = py - oy * s;
            const u64 row = base + (u64)oy * p.wo;
            for (int ox = ox_lo; ox <= ox_hi; ++ox) {
                const int kx = px - ox * s;
                if ((int)arg[row + ox] == ky * k + kx) acc += dy[row + ox];
            }
        }
        dx[t] = acc;
    }
}
