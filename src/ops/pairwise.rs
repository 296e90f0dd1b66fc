//! Pairwise distances of low-dimensional latents on the pool's device: the tiled CPU
//! kernels (cpu/pairwise.rs) on the host, their CUDA twins (kernels/knn.cu) on a GPU.
//! Both sum squared differences in the same order without contraction, so the nearest
//! neighbours found are the same bits on either device.

use crate::cpu::pairwise::{self as host, RefsT};
use crate::cuda::dcc_ops::{self as dk, MAX_D, MAX_K};
use crate::kparams::KnnParams;
use crate::tensor::{Pool, Tensor};
use anyhow::{bail, Result};

fn check(queries: &[f32], refs: &[f32], d: usize) -> Result<(usize, usize)> {
    if d == 0 || !queries.len().is_multiple_of(d) || !refs.len().is_multiple_of(d) {
        bail!(
            "pairwise distances: arrays of {} and {} values are not rows of width {d}",
            queries.len(),
            refs.len()
        );
    }
    let (nq, nr) = (queries.len() / d, refs.len() / d);
    if nq > u32::MAX as usize || nr > u32::MAX as usize {
        bail!("pairwise distances: {nq} queries × {nr} references exceed 2³² rows");
    }
    Ok((nq, nr))
}

/// Uploads queries and transposed references; the launch parameters.
fn upload(
    pool: &Pool,
    queries: &[f32],
    refs: &[f32],
    d: usize,
    need: usize,
    scale: f32,
) -> Result<(Tensor, Tensor, KnnParams)> {
    let (nq, nr) = check(queries, refs, d)?;
    let rt = RefsT::new(refs, d).into_vec();
    let q = Tensor::from_vec([queries.len().max(1)], pad(queries))?.to_pool(pool)?;
    let rt = Tensor::from_vec([rt.len().max(1)], pad(&rt))?.to_pool(pool)?;
    let p = KnnParams {
        nq: nq as u32,
        nr: nr as u32,
        d: d as u32,
        need: need as u32,
        scale,
        pad_: 0,
    };
    Ok((q, rt, p))
}

fn pad(v: &[f32]) -> Vec<f32> {
    if v.is_empty() {
        vec![0.0]
    } else {
        v.to_vec()
    }
}

/// Whether the device kernels take rows of width `d` with `need` neighbours.
pub fn on_device(pool: &Pool, d: usize, need: usize) -> bool {
    pool.gpu().is_some() && d <= MAX_D && need <= MAX_K
}

/// The `need` nearest references of every query: squared distances ascending and
/// reference indices, N × need row-major (ties: lower index first).
pub fn nearest_sq(
    pool: &Pool,
    queries: &[f32],
    refs: &[f32],
    d: usize,
    need: usize,
) -> Result<(Vec<f32>, Vec<u32>)> {
    let (nq, nr) = check(queries, refs, d)?;
    if need == 0 || need > nr {
        bail!("pairwise distances: {need} neighbours asked of {nr} references");
    }
    let Some(gpu) = pool.gpu().filter(|_| nq > 0 && on_device(pool, d, need)) else {
        return Ok(host::nearest_sq(queries, &RefsT::new(refs, d), need));
    };
    let (q, rt, p) = upload(pool, queries, refs, d, need, 0.0)?;
    let dist = Tensor::alloc_in(pool, [(nq * need).max(1)])?;
    let index = Tensor::alloc_in(pool, [(nq * need).max(1)])?;
    dk::knn_topk(gpu, &p, q.ptr(), rt.ptr(), dist.ptr(), index.ptr())?;
    let mut dist = dist.to_host()?.into_vec();
    let mut index: Vec<u32> = index
        .to_host()?
        .into_vec()
        .iter()
        .map(|v| v.to_bits())
        .collect();
    dist.truncate(nq * need);
    index.truncate(nq * need);
    Ok((dist, index))
}

/// For each query, Σ_j exp(−‖q − r_j‖² / (2h²)) over all references.
pub fn gaussian_sums(
    pool: &Pool,
    queries: &[f32],
    refs: &[f32],
    d: usize,
    bandwidth: f32,
) -> Result<Vec<f64>> {
    let (nq, _) = check(queries, refs, d)?;
    if !(bandwidth > 0.0 && bandwidth.is_finite()) {
        bail!("Gaussian kernel sums: the bandwidth must be positive, found {bandwidth}");
    }
    let Some(gpu) = pool.gpu().filter(|_| nq > 0 && on_device(pool, d, 0)) else {
        return Ok(host::gaussian_sums(
            queries,
            &RefsT::new(refs, d),
            bandwidth,
        ));
    };
    let scale = -0.5 / (bandwidth * bandwidth);
    let (q, rt, p) = upload(pool, queries, refs, d, 0, scale)?;
    let out = Tensor::alloc_in(pool, [(2 * nq).max(1)])?;
    dk::gaussian_sums(gpu, &p, q.ptr(), rt.ptr(), out.ptr())?;
    super::read_f64(&out, nq)
}
