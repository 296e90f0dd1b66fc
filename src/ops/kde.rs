//! Gaussian kernel density estimates in one dimension, many at once: every density the
//! trust test needs (two per target set × class × member for the overlaps, one per set ×
//! member for the σ/m posterior) evaluated in a single parallel pass on the host or a
//! single `kde_grid` launch on a GPU (kernels/kde.cu).

use crate::cuda::dcc_ops;
use crate::kparams::KdeParams;
use crate::tensor::{Pool, Tensor};
use anyhow::{bail, Result};
use rayon::prelude::*;

/// Grid points × samples above which one density spreads its grid points over threads.
const PARALLEL_WORK: usize = 1 << 18;

/// One density: its samples, bandwidth and grid.
#[derive(Clone, Copy, Debug)]
pub struct KdeJob<'a> {
    /// The samples (at least one).
    pub samples: &'a [f64],
    /// The Gaussian's standard deviation.
    pub bandwidth: f64,
    /// Where the density is evaluated.
    pub grid: &'a [f64],
}

/// Density of `samples` with bandwidth `h` at each grid point. Each point sums the samples
/// in order, so the result does not depend on the thread count.
pub fn evaluate(samples: &[f64], h: f64, grid: &[f64]) -> Vec<f64> {
    let norm = 1.0 / (samples.len() as f64 * h * (2.0 * std::f64::consts::PI).sqrt());
    let at = |x: f64| {
        norm * samples
            .iter()
            .map(|&s| {
                let u = (x - s) / h;
                (-0.5 * u * u).exp()
            })
            .sum::<f64>()
    };
    if grid.len() * samples.len() < PARALLEL_WORK {
        return grid.iter().map(|&x| at(x)).collect();
    }
    grid.par_iter().map(|&x| at(x)).collect()
}

/// Every job's density on its grid, on the pool's device. On a GPU all grids must have
/// the same length (one launch); on the host any lengths.
pub fn densities(pool: &Pool, jobs: &[KdeJob]) -> Result<Vec<Vec<f64>>> {
    for (i, j) in jobs.iter().enumerate() {
        if j.samples.is_empty() || !(j.bandwidth > 0.0 && j.bandwidth.is_finite()) {
            bail!(
                "density {i}: {} samples with bandwidth {} (need ≥ 1 sample and a positive bandwidth)",
                j.samples.len(),
                j.bandwidth
            );
        }
    }
    let points = jobs.first().map_or(0, |j| j.grid.len());
    let total: usize = jobs.iter().map(|j| j.samples.len()).sum();
    let Some(gpu) = pool.gpu().filter(|_| {
        points > 0
            && jobs.iter().all(|j| j.grid.len() == points)
            && total < u32::MAX as usize
            && jobs.len() * points < u32::MAX as usize
    }) else {
        return Ok(jobs
            .par_iter()
            .map(|j| evaluate(j.samples, j.bandwidth, j.grid))
            .collect());
    };
    let samples: Vec<f64> = jobs
        .iter()
        .flat_map(|j| j.samples.iter().copied())
        .collect();
    let mut start = vec![0i32];
    for j in jobs {
        start.push((*start.last().expect("starts at 0") as u32 + j.samples.len() as u32) as i32);
    }
    let h: Vec<f64> = jobs.iter().map(|j| j.bandwidth).collect();
    let grid: Vec<f64> = jobs.iter().flat_map(|j| j.grid.iter().copied()).collect();
    let (s_d, st_d) = (
        super::upload_f64(pool, &samples)?,
        super::upload_words(pool, &start)?,
    );
    let (h_d, g_d) = (
        super::upload_f64(pool, &h)?,
        super::upload_f64(pool, &grid)?,
    );
    let out = Tensor::alloc_in(pool, [2 * jobs.len() * points])?;
    let p = KdeParams {
        jobs: jobs.len() as u32,
        points: points as u32,
    };
    dcc_ops::kde_grid(
        gpu,
        &p,
        &[s_d.ptr(), st_d.ptr(), h_d.ptr(), g_d.ptr(), out.ptr()],
    )?;
    let all = super::read_f64(&out, jobs.len() * points)?;
    Ok(all.chunks(points).map(|c| c.to_vec()).collect())
}
