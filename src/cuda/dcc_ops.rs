//! Typed launchers of the DCC kernels (kernels/cclp.cu, kernels/knn.cu): each fills its
//! parameter struct and the geometry the kernel's header names.

use super::{grid_1d, Gpu, BLOCK};
use crate::kparams::{CclpParams, KdeParams, KnnParams};
use anyhow::Result;

/// Widest latent the kNN and CCLP kernels take.
pub const MAX_D: usize = 16;
/// Most neighbours `knn_topk` keeps.
pub const MAX_K: usize = 64;
const KNN_BLOCK: u32 = 128;
/// Blocks of `cclp_block_terms` (and so loss partial sums per step), at most.
pub const TERM_BLOCKS: u32 = 1024;

/// The `need` nearest references (rt: d × nr, transposed) of every query.
pub fn knn_topk(gpu: &Gpu, p: &KnnParams, q: u64, rt: u64, dist: u64, index: u64) -> Result<()> {
    gpu.launch(
        "knn_topk",
        [p.nq.div_ceil(KNN_BLOCK), 1, 1],
        [KNN_BLOCK, 1, 1],
        p,
        &[q, rt, dist, index],
    )
}

/// Σ_j exp(scale·‖q − r_j‖²) per query, as f64.
pub fn gaussian_sums(gpu: &Gpu, p: &KnnParams, q: u64, rt: u64, out: u64) -> Result<()> {
    gpu.launch(
        "gaussian_sums",
        [p.nq.div_ceil(KNN_BLOCK), 1, 1],
        [KNN_BLOCK, 1, 1],
        p,
        &[q, rt, out],
    )
}

/// A warp-per-row CCLP kernel (`cclp_row_stats`, `cclp_dense_grad`).
pub fn cclp_rows(gpu: &Gpu, name: &'static str, p: &CclpParams, args: &[u64]) -> Result<()> {
    gpu.launch(
        name,
        [p.n.div_ceil(BLOCK / 32), 1, 1],
        [BLOCK, 1, 1],
        p,
        args,
    )
}

/// Blocks of `cclp_block_terms` for `total` block entries.
pub fn term_blocks(total: usize) -> u32 {
    (total.div_ceil(BLOCK as usize) as u32).clamp(1, TERM_BLOCKS)
}

/// A grid-stride CCLP kernel over `total` items (`cclp_block_build`, `cclp_block_e`,
/// `cclp_block_rows`).
pub fn cclp_entries(
    gpu: &Gpu,
    name: &'static str,
    p: &CclpParams,
    total: usize,
    args: &[u64],
) -> Result<()> {
    gpu.launch(name, grid_1d(total as u64), [BLOCK, 1, 1], p, args)
}

/// `cclp_block_terms` over `total` block entries: `term_blocks(total)` blocks, one loss
/// partial sum each.
pub fn cclp_terms(gpu: &Gpu, p: &CclpParams, total: usize, args: &[u64; 5]) -> Result<()> {
    gpu.launch(
        "cclp_block_terms",
        [term_blocks(total), 1, 1],
        [BLOCK, 1, 1],
        p,
        args,
    )
}

/// out[0] = scale · Σ partial[0..p.partials).
pub fn cclp_sum(gpu: &Gpu, p: &CclpParams, partial: u64, out: u64) -> Result<()> {
    gpu.launch("cclp_sum", [1, 1, 1], [BLOCK, 1, 1], p, &[partial, out])
}

/// Every job's density on its grid (f64; see kernels/kde.cu for the layout).
pub fn kde_grid(gpu: &Gpu, p: &KdeParams, args: &[u64; 5]) -> Result<()> {
    let total = p.jobs as u64 * p.points as u64;
    gpu.launch("kde_grid", grid_1d(total), [BLOCK, 1, 1], p, args)
}
