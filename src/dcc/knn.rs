//! Nearest-neighbour distance score (our addition to the paper's overlap test): for each
//! test latent, the distance to its k-th nearest training latent, compared with the
//! same statistic inside the training data (its 95th percentile). Latents (D ≤ 16) go
//! through the tiled direct-difference kernel (cpu/pairwise.rs); wide features through
//! sgemm blocks (‖a‖² + ‖b‖² − 2a·b). Both reduce to a running top-k per row, so no N×M
//! matrix ever exists.

use crate::ops::host::gram_block;
use crate::ops::pairwise::nearest_sq;
use crate::tensor::Pool;
use anyhow::{bail, Result};
use rayon::prelude::*;

/// Test rows per block.
const ROWS: usize = 64;
/// Training rows per block (ROWS × COLS floats ≈ 512 KiB of distances).
const COLS: usize = 2048;
/// Widest rows the direct-difference kernel takes; wider ones are Gram-bound.
const DIRECT_MAX_D: usize = 16;
/// Training latents whose own k-th neighbour distances estimate the threshold, at most:
/// a 95th percentile from 50,000 draws is within ±0.2 percentile points (binomial
/// standard error), and the cost stays linear in the training set.
pub const THRESHOLD_QUERIES: usize = 50_000;

fn norms(x: &[f32], d: usize) -> Vec<f32> {
    x.chunks(d).map(|r| r.iter().map(|v| v * v).sum()).collect()
}

/// Distance from every query row to its k-th nearest reference row (rows of width `d`).
/// `skip_self` drops one zero-distance match per row (queries = references).
pub fn kth_distances(
    queries: &[f32],
    refs: &[f32],
    d: usize,
    k: usize,
    skip_self: bool,
) -> Result<Vec<f32>> {
    kth_distances_on(&Pool::new(), queries, refs, d, k, skip_self)
}

/// `kth_distances` on the pool's device (latents on a GPU go through kernels/knn.cu).
pub fn kth_distances_on(
    pool: &Pool,
    queries: &[f32],
    refs: &[f32],
    d: usize,
    k: usize,
    skip_self: bool,
) -> Result<Vec<f32>> {
    let nb = nearest_on(pool, queries, refs, d, k, skip_self)?;
    Ok(nb.dist.chunks(k).map(|r| r[k - 1]).collect())
}

/// The k nearest references of every query: distances ascending and reference indices,
/// each N×k row-major.
#[derive(Clone, Debug, Default)]
pub struct Neighbours {
    /// Distances, ascending along each row.
    pub dist: Vec<f32>,
    /// Reference rows, in the same order.
    pub index: Vec<u32>,
}

/// The k nearest reference rows of every query row (rows of width `d`). `skip_self` drops
/// the nearest match of each row (queries = references).
pub fn nearest(
    queries: &[f32],
    refs: &[f32],
    d: usize,
    k: usize,
    skip_self: bool,
) -> Result<Neighbours> {
    nearest_on(&Pool::new(), queries, refs, d, k, skip_self)
}

/// `nearest` on the pool's device for latents (D ≤ 16); wide features stay on the host.
pub fn nearest_on(
    pool: &Pool,
    queries: &[f32],
    refs: &[f32],
    d: usize,
    k: usize,
    skip_self: bool,
) -> Result<Neighbours> {
    if d == 0 || !queries.len().is_multiple_of(d) || !refs.len().is_multiple_of(d) {
        bail!(
            "knn: arrays of {} and {} values are not rows of width {d}",
            queries.len(),
            refs.len()
        );
    }
    let m = refs.len() / d;
    let need = k + usize::from(skip_self);
    if k == 0 || m < need {
        bail!("knn: k = {k} needs at least {need} reference latents, found {m}");
    }
    let skip = usize::from(skip_self);
    if d <= DIRECT_MAX_D {
        let (d2, idx) = nearest_sq(pool, queries, refs, d, need)?;
        let mut nb = Neighbours::default();
        for (dr, ir) in d2.chunks(need).zip(idx.chunks(need)) {
            nb.dist.extend(dr[skip..].iter().map(|v| v.sqrt()));
            nb.index.extend_from_slice(&ir[skip..]);
        }
        return Ok(nb);
    }
    let (qn, rn) = (norms(queries, d), norms(refs, d));
    let out: Vec<Neighbours> = queries
        .par_chunks(ROWS * d)
        .zip(qn.par_chunks(ROWS))
        .map(|(qb, qnb)| {
            let rows = qnb.len();
            let mut best = vec![(f32::INFINITY, 0u32); rows * need];
            let mut dots = vec![0.0f32; rows * COLS];
            for (bi, (rb, rnb)) in refs.chunks(COLS * d).zip(rn.chunks(COLS)).enumerate() {
                let cols = rnb.len();
                gram_block(qb, rb, rows, cols, d, &mut dots, COLS);
                for i in 0..rows {
                    let top = &mut best[i * need..(i + 1) * need];
                    for j in 0..cols {
                        let d2 = (qnb[i] + rnb[j] - 2.0 * dots[i * COLS + j]).max(0.0);
                        if d2 < top[need - 1].0 {
                            let mut p = need - 1;
                            while p > 0 && top[p - 1].0 > d2 {
                                top[p] = top[p - 1];
                                p -= 1;
                            }
                            top[p] = (d2, (bi * COLS + j) as u32);
                        }
                    }
                }
            }
            let mut nb = Neighbours::default();
            for t in best.chunks(need) {
                for &(d2, j) in &t[skip..] {
                    nb.dist.push(d2.sqrt());
                    nb.index.push(j);
                }
            }
            nb
        })
        .collect();
    let mut all = Neighbours::default();
    for nb in out {
        all.dist.extend(nb.dist);
        all.index.extend(nb.index);
    }
    Ok(all)
}

/// The training reference statistic: the 95th percentile of each training latent's
/// distance to its k-th nearest other training latent (over an evenly strided subset of
/// at most THRESHOLD_QUERIES latents, each searched against all of them).
pub fn training_threshold(train: &[f32], d: usize, k: usize) -> Result<f32> {
    training_threshold_on(&Pool::new(), train, d, k)
}

/// `training_threshold` on the pool's device.
pub fn training_threshold_on(pool: &Pool, train: &[f32], d: usize, k: usize) -> Result<f32> {
    if d == 0 || !train.len().is_multiple_of(d) {
        bail!("knn: {} values are not rows of width {d}", train.len());
    }
    let n = train.len() / d;
    let step = n.div_ceil(THRESHOLD_QUERIES).max(1);
    let queries: Vec<f32> = if step == 1 {
        train.to_vec()
    } else {
        train.chunks(d).step_by(step).flatten().copied().collect()
    };
    let mut inside = kth_distances_on(pool, &queries, train, d, k, true)?;
    inside.sort_by(f32::total_cmp);
    let idx = ((inside.len() - 1) as f64 * 0.95).round() as usize;
    Ok(inside[idx])
}

/// Naive reference of `kth_distances` (full sort per row), for tests.
pub fn kth_distances_reference(
    queries: &[f32],
    refs: &[f32],
    d: usize,
    k: usize,
    skip_self: bool,
) -> Vec<f32> {
    queries
        .chunks(d)
        .map(|q| {
            let mut ds: Vec<f64> = refs
                .chunks(d)
                .map(|r| {
                    q.iter()
                        .zip(r)
                        .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                        .sum::<f64>()
                        .sqrt()
                })
                .collect();
            ds.sort_by(f64::total_cmp);
            ds[k - 1 + usize::from(skip_self)] as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::seed_values;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10))]
        #[test]
        fn blocked_knn_matches_full_sort(nq in 1usize..150, nr in 12usize..2500, d in 1usize..8, k in 1usize..10) {
            let q = seed_values(nq * d, 5);
            let r = seed_values(nr * d, 9);
            let fast = kth_distances(&q, &r, d, k, false).unwrap();
            let slow = kth_distances_reference(&q, &r, d, k, false);
            for (a, b) in fast.iter().zip(&slow) {
                prop_assert!((a - b).abs() < 2e-3 * (1.0 + b), "{a} vs {b}");
            }
            let fast = kth_distances(&r, &r, d, k, true).unwrap();
            let slow = kth_distances_reference(&r, &r, d, k, true);
            for (a, b) in fast.iter().zip(&slow) {
                prop_assert!((a - b).abs() < 2e-3 * (1.0 + b), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn far_points_score_above_the_training_threshold() {
        let train = seed_values(400 * 3, 1);
        let thr = training_threshold(&train, 3, 5).unwrap();
        let far = kth_distances(&[5.0, 5.0, 5.0], &train, 3, 5, false).unwrap()[0];
        let near = kth_distances(&[0.0, 0.0, 0.0], &train, 3, 5, false).unwrap()[0];
        assert!(
            far > 3.0 * thr && near < thr,
            "far {far} near {near} thr {thr}"
        );
    }

    #[test]
    fn nearest_returns_the_indices_of_the_closest_rows() {
        let refs = [0.0, 10.0, 1.0, 3.0, 2.5];
        let nb = nearest(&[2.0, 9.0], &refs, 1, 2, false).unwrap();
        assert_eq!(nb.index, vec![4, 2, 1, 3]);
        assert_eq!(nb.dist, vec![0.5, 1.0, 1.0, 6.0]);
        let own = nearest(&refs, &refs, 1, 1, true).unwrap();
        assert_eq!(own.index, vec![2, 3, 0, 4, 3]);
    }

    #[test]
    fn too_few_references_are_an_error() {
        assert!(kth_distances(&[0.0], &[1.0, 2.0], 1, 2, true).is_err());
    }
}
