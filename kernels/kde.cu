// kde.cu — many 1-D Gaussian KDEs, each on its own grid, in one launch: the densities of
// the overlap test (two per target set × class × member) and of the σ/m posterior (one per
// set × member). The CUDA twin of src/ops/kde.rs's host loop.
//
// Maths (job b with samples s_0…s_{n−1}, bandwidth h, grid x_0…x_{G−1}):
//   out[b·G + g] = 1/(n·h·√(2π)) · Σ_i exp(−½((x_g − s_i)/h)²)     (f64 throughout,
//   samples summed in order)
//
// Layout: samples all jobs' samples back to back (f64); start[b]…start[b + 1] (u32, jobs + 1
// entries) delimit job b's; bandwidth[b] (f64); grid jobs×G (f64); out jobs×G (f64).
// Geometry: one thread per (job, grid point): 1-D grid-stride over jobs·G, block 256.
//
// Versions:
//   1. (this file) thread per grid point, samples read from global memory (each job's
//      samples are read by G threads of the same or neighbouring blocks: L1/L2 hits).
// Ideas for later versions (not written): samples staged in shared memory per job; a
// sorted-sample cut-off at 9 bandwidths (exp(−40) is below f64 resolution of the sum).
#include "params.h"

extern "C" __global__ void kde_grid(KdeParams p, const double* samples, const u32* start,
                                    const double* bandwidth, const double* grid, double* out) {
    u64 total = (u64)p.jobs * p.points;
    for (u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x; t < total;
         t += (u64)gridDim.x * blockDim.x) {
        u32 b = (u32)(t / p.points);
        u32 lo = start[b], hi = start[b + 1];
        double h = bandwidth[b], x = grid[t];
        double s = 0.0;
        for (u32 i = lo; i < hi; ++i) {
            double u = (x - samples[i]) / h;
            s += exp(-0.5 * u * u);
        }
        out[t] = s / ((double)(hi - lo) * h * 2.5066282746310002);
    }
}
