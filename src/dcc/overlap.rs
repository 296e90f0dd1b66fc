//! The overlap test (SCIENCE.md, "The overlap test"): on latent dimensions 1..D−1, the
//! target set and a known set are projected onto the line through their centres; the
//! overlap is ∫ min(KDE_t, KDE_k) over a 100-point grid. Across the ensemble: mean and
//! standard error. A set's confidence is its largest overlap with any known set.

use super::kde::{linspace, trapezoid, Kde};
use crate::ops::kde::densities;
use crate::tensor::Pool;
use anyhow::{bail, Context, Result};
use rayon::prelude::*;

/// Grid points of the projected densities.
pub const GRID: usize = 100;

fn centre(rows: &[Vec<f64>]) -> Vec<f64> {
    let d = rows[0].len();
    let mut c = vec![0.0; d];
    for r in rows {
        for (c, v) in c.iter_mut().zip(r) {
            *c += v;
        }
    }
    c.iter_mut().for_each(|v| *v /= rows.len() as f64);
    c
}

/// One overlap's projected samples and grid, before its two densities are evaluated.
struct Projected {
    target: Vec<f64>,
    known: Vec<f64>,
    grid: Vec<f64>,
}

fn project(target: &[Vec<f64>], known: &[Vec<f64>]) -> Result<Projected> {
    if target.len() < 2 || known.len() < 2 {
        bail!(
            "overlap needs at least 2 latents per set, found {} and {}",
            target.len(),
            known.len()
        );
    }
    let dims = target[0].len();
    if dims == 0 || known[0].len() != dims {
        bail!(
            "overlap: latent widths {} and {} (need equal, ≥ 1)",
            dims,
            known[0].len()
        );
    }
    let (ct, ck) = (centre(target), centre(known));
    let d: Vec<f64> = ck.iter().zip(&ct).map(|(k, t)| k - t).collect();
    let len = d.iter().map(|v| v * v).sum::<f64>().sqrt();
    // Coinciding centres: any axis separates nothing; the first one is as good as any.
    let dir: Vec<f64> = if len > 0.0 {
        d.iter().map(|v| v / len).collect()
    } else {
        (0..dims).map(|i| f64::from(i == 0)).collect()
    };
    let proj = |rows: &[Vec<f64>], c: &[f64], off: f64| -> Vec<f64> {
        rows.iter()
            .map(|z| {
                off + z
                    .iter()
                    .zip(c)
                    .zip(&dir)
                    .map(|((z, c), u)| (z - c) * u)
                    .sum::<f64>()
            })
            .collect()
    };
    let pt = proj(target, &ct, 0.0);
    let pk = proj(known, &ck, len);
    let lo = pt.iter().chain(&pk).cloned().fold(f64::INFINITY, f64::min);
    let hi = pt
        .iter()
        .chain(&pk)
        .cloned()
        .fold(f64::NEG_INFINITY, f64::max);
    Ok(Projected {
        grid: linspace(lo, hi, GRID),
        target: pt,
        known: pk,
    })
}

/// Overlap of `target` with `known` (rows = latent vectors without dimension 0).
pub fn overlap(target: &[Vec<f64>], known: &[Vec<f64>]) -> Result<f64> {
    Ok(overlaps_on(&Pool::new(), &[("overlap", target, known)])?[0])
}

/// One overlap to compute: a name for its error messages, the target's and the known
/// set's latent rows.
pub type OverlapPair<'a> = (&'a str, &'a [Vec<f64>], &'a [Vec<f64>]);

/// Overlaps of many (target, known) pairs, their densities evaluated together on the
/// pool's device (one pass on the host, one kernel launch on a GPU).
pub fn overlaps_on(pool: &Pool, pairs: &[OverlapPair]) -> Result<Vec<f64>> {
    let projected: Vec<Projected> = pairs
        .par_iter()
        .map(|(what, t, k)| project(t, k).with_context(|| what.to_string()))
        .collect::<Result<_>>()?;
    let kdes: Vec<(Kde, Kde)> = projected
        .iter()
        .zip(pairs)
        .map(|(p, (what, _, _))| {
            Ok((
                Kde::new(&p.target, &format!("{what}: target set"))?,
                Kde::new(&p.known, &format!("{what}: known set"))?,
            ))
        })
        .collect::<Result<_>>()?;
    let jobs: Vec<_> = kdes
        .iter()
        .zip(&projected)
        .flat_map(|((t, k), p)| [t.job(&p.grid), k.job(&p.grid)])
        .collect();
    let dens = densities(pool, &jobs)?;
    Ok(projected
        .iter()
        .zip(dens.chunks(2))
        .map(|(p, f)| {
            let m: Vec<f64> = f[0].iter().zip(&f[1]).map(|(a, b)| a.min(*b)).collect();
            trapezoid(&m, &p.grid)
        })
        .collect())
}

/// Mean and standard error (std ddof = 1 over √R; 0 for one member) of per-member values.
pub fn mean_and_stderr(values: &[f64]) -> (f64, f64) {
    let r = values.len() as f64;
    let mean = values.iter().sum::<f64>() / r;
    (mean, super::kde::std_ddof1(values) / r.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(cx: f64, cy: f64, n: usize) -> Vec<Vec<f64>> {
        (0..n)
            .map(|i| {
                let a = (i * 7919 % n) as f64 / n as f64 - 0.5;
                let b = (i * 104_729 % n) as f64 / n as f64 - 0.5;
                vec![cx + a, cy + b]
            })
            .collect()
    }

    #[test]
    fn identical_sets_overlap_almost_fully_and_distant_ones_not_at_all() {
        let a = blob(0.0, 0.0, 400);
        let same = overlap(&a, &blob(0.0, 0.0, 400)).unwrap();
        assert!(same > 0.9, "{same}");
        let far = overlap(&a, &blob(10.0, 0.0, 400)).unwrap();
        assert!(far < 1e-6, "{far}");
        let mid = overlap(&a, &blob(0.5, 0.0, 400)).unwrap();
        assert!(mid > far && mid < same, "{mid}");
    }

    #[test]
    fn overlap_is_symmetric_in_its_geometry() {
        let a = blob(0.0, 0.0, 200);
        let b = blob(0.3, 0.4, 200);
        let ab = overlap(&a, &b).unwrap();
        let ba = overlap(&b, &a).unwrap();
        assert!((ab - ba).abs() < 1e-9, "{ab} {ba}");
    }

    #[test]
    fn standard_error_uses_ddof_one() {
        let (m, se) = mean_and_stderr(&[0.2, 0.4, 0.6]);
        assert!((m - 0.4).abs() < 1e-12);
        assert!((se - 0.2 / 3f64.sqrt()).abs() < 1e-12);
        assert_eq!(mean_and_stderr(&[0.5]).1, 0.0);
    }
}
