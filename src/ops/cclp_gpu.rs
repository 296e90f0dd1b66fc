//! The fused CCLP on a GPU (kernels/cclp.cu): the same algorithm as cpu/cclp_fused.rs,
//! every step on the device — the row statistics and the off-block gradient as
//! warp-per-row passes, the class blocks' Markov products through the sgemm kernel, the
//! loss reduced on the device. Nothing is read back.

use crate::cpu::cclp::EPSILON;
use crate::cuda::dcc_ops::{self as dk, MAX_D};
use crate::cuda::ops::sgemm;
use crate::cuda::Gpu;
use crate::kparams::CclpParams;
use crate::tensor::{Pool, Tensor};
use anyhow::{bail, Result};

/// Whether the device kernels take this batch (rows of width ≤ 16).
pub fn supported(d: usize) -> bool {
    d <= MAX_D
}

fn words(pool: &Pool, v: &[u32]) -> Result<Tensor> {
    let w: Vec<i32> = v.iter().map(|&x| x as i32).collect();
    super::upload_words(pool, &w)
}

fn at(t: &Tensor, offset: usize) -> u64 {
    t.ptr() + 4 * offset as u64
}

/// Loss ([1]) and dL/dZ (N×D) on the device for device latents `z` whose rows all carry
/// a class.
#[allow(clippy::too_many_arguments)]
pub fn cclp_labelled_gpu(
    gpu: &Gpu,
    pool: &Pool,
    z: &Tensor,
    n: usize,
    d: usize,
    labels: &[usize],
    classes: usize,
    steps: usize,
) -> Result<(Tensor, Tensor)> {
    if !supported(d) || steps == 0 || n == 0 {
        bail!("cclp on the GPU takes 1 ≤ D ≤ {MAX_D} and steps ≥ 1 (found D = {d}, steps {steps})");
    }
    if let Some((i, l)) = labels.iter().enumerate().find(|(_, &l)| l >= classes) {
        bail!("cclp: row {i} has class {l}, but there are only {classes} classes");
    }
    // Rows sorted by class; only classes present in the batch are kept.
    let mut perm = Vec::with_capacity(n);
    let mut offs = vec![0u32];
    let mut boff = vec![0u32];
    let mut sizes = Vec::new();
    for c in 0..classes {
        let before = perm.len();
        perm.extend((0..n).filter(|&i| labels[i] == c).map(|i| i as u32));
        let nc = perm.len() - before;
        if nc > 0 {
            offs.push(perm.len() as u32);
            let total = *boff.last().expect("starts at 0") as u64 + (nc * nc) as u64;
            if total > u32::MAX as u64 {
                bail!("cclp on the GPU: the class blocks hold {total} entries, more than 2³²");
            }
            boff.push(total as u32);
            sizes.push(nc);
        }
    }
    let used = sizes.len();
    let total = *boff.last().expect("starts at 0") as usize;
    let term_blocks = dk::term_blocks(total) as usize;
    let p = CclpParams {
        n: n as u32,
        d: d as u32,
        classes: used as u32,
        steps: steps as u32,
        partials: (term_blocks * steps) as u32,
        pad_: 0,
        floor: (EPSILON / n as f64) as f32,
        keep: (1.0 - EPSILON) as f32,
        scale: (-1.0 / (steps as f64 * n as f64 * n as f64)) as f32,
        pad2_: 0,
    };
    let (perm_d, offs_d, boff_d) = (
        words(pool, &perm)?,
        words(pool, &offs)?,
        words(pool, &boff)?,
    );
    let alloc = |len: usize| Tensor::alloc_in(pool, [len.max(1)]);
    let (max, sum) = (alloc(n)?, alloc(n)?);
    dk::cclp_rows(gpu, "cclp_row_stats", &p, &[z.ptr(), max.ptr(), sum.ptr()])?;
    let (soft, bmat) = (alloc(total)?, alloc(total)?);
    let build = [
        z.ptr(),
        perm_d.ptr(),
        offs_d.ptr(),
        boff_d.ptr(),
        max.ptr(),
        sum.ptr(),
        soft.ptr(),
        bmat.ptr(),
    ];
    dk::cclp_entries(gpu, "cclp_block_build", &p, total, &build)?;

    // Per class c: C_c = op(A_c)·op(B_c) + beta·C_c on the blocks at boff[c].
    let per_class =
        |ta: bool, tb: bool, beta: f32, a: &Tensor, b: &Tensor, c: &Tensor| -> Result<()> {
            for (k, &nc) in sizes.iter().enumerate() {
                let o = boff[k] as usize;
                sgemm(
                    gpu,
                    nc,
                    nc,
                    nc,
                    ta,
                    tb,
                    1.0,
                    beta,
                    at(a, o),
                    at(b, o),
                    at(c, o),
                )?;
            }
            Ok(())
        };
    let mut powers = vec![bmat];
    for s in 1..steps {
        let next = alloc(total)?;
        per_class(false, false, 0.0, &powers[0], &powers[s - 1], &next)?;
        powers.push(next);
    }
    let partial = alloc(2 * term_blocks * steps)?;
    let mut g = Vec::with_capacity(steps);
    for (s, pw) in powers.iter().enumerate() {
        let gs = alloc(total)?;
        let part = partial.ptr() + (8 * term_blocks * s) as u64;
        let args = [offs_d.ptr(), boff_d.ptr(), pw.ptr(), gs.ptr(), part];
        dk::cclp_terms(gpu, &p, total, &args)?;
        g.push(gs);
    }
    let loss = Tensor::alloc_in(pool, [1])?;
    dk::cclp_sum(gpu, &p, partial.ptr(), loss.ptr())?;

    // Reverse of P_s = B·P_{s−1}: dB += dP_s·P_{s−1}ᵀ, dP_{s−1} = G_{s−1} + Bᵀ·dP_s.
    let mut d_p = g.pop().expect("steps ≥ 1");
    let d_b = if steps > 1 {
        alloc(total)?
    } else {
        d_p.clone()
    };
    for s in (1..steps).rev() {
        let beta = if s == steps - 1 { 0.0 } else { 1.0 };
        per_class(false, true, beta, &d_p, &powers[s - 1], &d_b)?;
        let prev = g.pop().expect("one gradient per step");
        per_class(true, false, 1.0, &powers[0], &d_p, &prev)?;
        d_p = prev;
    }
    dk::cclp_entries(
        gpu,
        "cclp_block_e",
        &p,
        total,
        &[boff_d.ptr(), soft.ptr(), d_p.ptr(), d_b.ptr()],
    )?;
    let (r, gblock) = (alloc(n)?, alloc(n * d)?);
    let rows = [
        z.ptr(),
        perm_d.ptr(),
        offs_d.ptr(),
        boff_d.ptr(),
        d_b.ptr(),
        r.ptr(),
        gblock.ptr(),
    ];
    dk::cclp_entries(gpu, "cclp_block_rows", &p, n, &rows)?;
    let dz = Tensor::alloc_in(pool, [n, d])?;
    let dense = [
        z.ptr(),
        max.ptr(),
        sum.ptr(),
        r.ptr(),
        gblock.ptr(),
        dz.ptr(),
    ];
    dk::cclp_rows(gpu, "cclp_dense_grad", &p, &dense)?;
    Ok((loss, dz))
}
