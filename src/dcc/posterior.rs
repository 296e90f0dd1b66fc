//! The σ/m posterior of a set (SCIENCE.md, "Inference of σ/m"): one 500-point grid over
//! latent dimension 0 shared by all sets and ensemble members; per member a Gaussian KDE
//! of the set's z₀; members combined as KDE₁ × Π_{r≥2}(KDE_r + 10⁻⁶); the grid mapped to
//! log10 σ/m; normalised by the trapezoid rule; quantiles off the discrete cumulative sum.

use super::kde::{linspace, quantile, trapezoid, Kde};
use super::labels::LabelMap;
use crate::ops::kde::densities;
use crate::tensor::Pool;
use anyhow::{bail, Result};
use serde::Serialize;

/// Grid points of the posterior.
pub const GRID: usize = 500;
/// Floor added to every member's density but the first.
pub const MEMBER_FLOOR: f64 = 1e-6;

/// One set's σ/m posterior.
#[derive(Clone, Debug, Serialize)]
pub struct Posterior {
    /// Median σ/m (cm²/g).
    pub median: f64,
    /// 5, 16, 84, 95 % quantiles of σ/m.
    pub q05: f64,
    /// 16 % quantile.
    pub q16: f64,
    /// 84 % quantile.
    pub q84: f64,
    /// 95 % quantile.
    pub q95: f64,
    /// The grid in log10 σ/m.
    pub log_sigma: Vec<f64>,
    /// Density per unit log10 σ/m on that grid.
    pub density: Vec<f64>,
}

/// Posteriors of every set. `z0[r][s]` holds member r's latent-0 values of set s.
pub fn posteriors(
    z0: &[Vec<Vec<f64>>],
    names: &[String],
    map: &LabelMap,
) -> Result<Vec<Posterior>> {
    posteriors_on(&Pool::new(), z0, names, map)
}

/// `posteriors` with every (set, member) density evaluated together on the pool's device.
pub fn posteriors_on(
    pool: &Pool,
    z0: &[Vec<Vec<f64>>],
    names: &[String],
    map: &LabelMap,
) -> Result<Vec<Posterior>> {
    if z0.is_empty() {
        bail!("posterior: no ensemble member");
    }
    let all = z0.iter().flatten().flatten();
    let lo = all.clone().cloned().fold(f64::INFINITY, f64::min);
    let hi = all.cloned().fold(f64::NEG_INFINITY, f64::max);
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        bail!("posterior: latent dimension 0 has no spread ({lo} to {hi})");
    }
    let grid = linspace(lo, hi, GRID);
    let log_sigma: Vec<f64> = grid.iter().map(|&y| map.log_sigma(y)).collect();
    let kdes: Vec<Kde> = (0..names.len())
        .flat_map(|s| (0..z0.len()).map(move |r| (s, r)))
        .map(|(s, r)| {
            Kde::new(
                &z0[r][s],
                &format!("posterior of set {} (member {r})", names[s]),
            )
        })
        .collect::<Result<_>>()?;
    let jobs: Vec<_> = kdes.iter().map(|k| k.job(&grid)).collect();
    let dens = densities(pool, &jobs)?;
    // Each set's product runs over the members in order.
    dens.chunks(z0.len())
        .enumerate()
        .map(|(s, members)| {
            let mut combined = vec![1.0; GRID];
            for (r, p) in members.iter().enumerate() {
                let floor = if r == 0 { 0.0 } else { MEMBER_FLOOR };
                for (c, p) in combined.iter_mut().zip(p) {
                    *c *= p + floor;
                }
            }
            let area = trapezoid(&combined, &log_sigma);
            if area.is_nan() || area <= 0.0 || !area.is_finite() {
                bail!(
                    "posterior of set {}: the ensemble members' densities share no support",
                    names[s]
                );
            }
            let density: Vec<f64> = combined.iter().map(|p| p / area).collect();
            let q = |p| 10f64.powf(quantile(&log_sigma, &density, p));
            Ok(Posterior {
                median: q(0.5),
                q05: q(0.05),
                q16: q(0.16),
                q84: q(0.84),
                q95: q(0.95),
                log_sigma: log_sigma.clone(),
                density,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(centre: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| centre + 0.05 * ((i * 7919 % n) as f64 / n as f64 - 0.5))
            .collect()
    }

    #[test]
    fn a_set_centred_on_a_label_recovers_its_sigma() {
        let map = LabelMap::fit(&[0.0, 0.1, 1.0]).unwrap();
        let names = vec!["cdm".to_string(), "0.1".to_string(), "1".to_string()];
        let member = vec![spread(0.0, 300), spread(0.5, 300), spread(1.0, 300)];
        let post = posteriors(&[member.clone(), member], &names, &map).unwrap();
        assert!(
            (post[1].median / 0.1 - 1.0).abs() < 0.05,
            "{}",
            post[1].median
        );
        assert!(post[1].q16 < 0.1 && post[1].q84 > 0.1);
        assert!(post[1].q05 <= post[1].q16 && post[1].q84 <= post[1].q95);
        let area = trapezoid(&post[2].density, &post[2].log_sigma);
        assert!((area - 1.0).abs() < 1e-9);
    }

    #[test]
    fn disjoint_members_leave_the_first_members_shape() {
        let map = LabelMap::fit(&[0.0, 1.0]).unwrap();
        let names = vec!["x".to_string()];
        let a = vec![spread(0.0, 50)];
        let b = vec![spread(50.0, 50)];
        // The 1e-6 floor keeps the product non-zero: the posterior follows member 1.
        let p = posteriors(&[a, b], &names, &map).unwrap();
        assert!(p[0].median < 0.02, "{}", p[0].median);
    }
}
