//! The set-level σ/m estimate beside the paper's product posterior: the median over a
//! set's images of the ensemble-mean z₀, with a bootstrap interval that resamples both
//! the images and the ensemble members. The product of per-image KDEs treats correlated
//! members as independent evidence and does not narrow with the number of clusters; this
//! estimate does both honestly, and `dcc validate` measures how often each covers the truth.

use super::labels::LabelMap;
use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Bootstrap resamples per set.
pub const RESAMPLES: usize = 1000;

/// One set's set-level σ/m estimate (cm²/g).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetEstimate {
    /// σ/m at the median over images of the members' mean z₀.
    pub median: f64,
    /// 2.5 % bootstrap quantile.
    pub q025: f64,
    /// 16 % bootstrap quantile.
    pub q16: f64,
    /// 84 % bootstrap quantile.
    pub q84: f64,
    /// 97.5 % bootstrap quantile.
    pub q975: f64,
}

/// Median of a slice (sorted in place; mean of the two middle values for even lengths;
/// NaN when empty).
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Linear-interpolated quantile `p` of sorted values.
fn quantile_sorted(v: &[f64], p: f64) -> f64 {
    let x = p * (v.len() - 1) as f64;
    let (i, f) = (x.floor() as usize, x - x.floor());
    if i + 1 < v.len() {
        v[i] * (1.0 - f) + v[i + 1] * f
    } else {
        v[i]
    }
}

/// The estimate from `z0[r][i]`, member r's z₀ of image i (every member sees the same
/// images), drawn with `seed`.
pub fn set_estimate(z0: &[&[f64]], map: &LabelMap, seed: u64, what: &str) -> Result<SetEstimate> {
    let members = z0.len();
    let n = z0.first().map_or(0, |m| m.len());
    if members == 0 || n < 2 {
        bail!("{what}: a set-level estimate needs at least 2 images, found {n}");
    }
    if z0.iter().any(|m| m.len() != n) {
        bail!("{what}: the ensemble members saw different numbers of images");
    }
    if let Some(v) = z0.iter().flat_map(|m| m.iter()).find(|v| !v.is_finite()) {
        bail!("{what}: non-finite latent value {v}");
    }
    let stat = |pick_m: &[usize], pick_i: &[usize], buf: &mut Vec<f64>| -> f64 {
        buf.clear();
        buf.extend(
            pick_i
                .iter()
                .map(|&i| pick_m.iter().map(|&r| z0[r][i]).sum::<f64>() / pick_m.len() as f64),
        );
        median(buf)
    };
    let mut buf = Vec::with_capacity(n);
    let all_m: Vec<usize> = (0..members).collect();
    let all_i: Vec<usize> = (0..n).collect();
    let point = stat(&all_m, &all_i, &mut buf);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut draws = Vec::with_capacity(RESAMPLES);
    let (mut pm, mut pi) = (vec![0; members], vec![0; n]);
    for _ in 0..RESAMPLES {
        pm.iter_mut().for_each(|r| *r = rng.gen_range(0..members));
        pi.iter_mut().for_each(|i| *i = rng.gen_range(0..n));
        draws.push(stat(&pm, &pi, &mut buf));
    }
    draws.sort_by(f64::total_cmp);
    let s = |y: f64| map.sigma(y);
    Ok(SetEstimate {
        median: s(point),
        q025: s(quantile_sorted(&draws, 0.025)),
        q16: s(quantile_sorted(&draws, 0.16)),
        q84: s(quantile_sorted(&draws, 0.84)),
        q975: s(quantile_sorted(&draws, 0.975)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noisy(centre: f64, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| centre + 0.2 * (rng.gen::<f64>() - 0.5))
            .collect()
    }

    #[test]
    fn recovers_the_label_and_narrows_with_more_images() {
        let map = LabelMap::fit(&[0.0, 0.1, 1.0]).unwrap();
        let width = |n: usize| {
            let (a, b) = (noisy(0.5, n, 1), noisy(0.5, n, 2));
            let e = set_estimate(&[&a, &b], &map, 7, "t").unwrap();
            assert!((e.median / 0.1 - 1.0).abs() < 0.1, "{e:?}");
            assert!(e.q025 <= e.q16 && e.q16 <= e.median && e.median <= e.q84);
            assert!(e.q84 <= e.q975);
            e.q84.log10() - e.q16.log10()
        };
        let (small, large) = (width(25), width(400));
        assert!(
            large < 0.5 * small,
            "16× the images should about quarter the width: {small} → {large}"
        );
    }

    #[test]
    fn disagreeing_members_widen_the_interval() {
        let map = LabelMap::fit(&[0.0, 1.0]).unwrap();
        let a = noisy(0.4, 200, 3);
        let b: Vec<f64> = a.iter().map(|v| v + 0.2).collect();
        let agree = set_estimate(&[&a, &a, &a], &map, 1, "t").unwrap();
        let split = set_estimate(&[&a, &b, &a], &map, 1, "t").unwrap();
        let w = |e: &SetEstimate| e.q84.log10() - e.q16.log10();
        assert!(w(&split) > 2.0 * w(&agree), "{agree:?} {split:?}");
    }

    #[test]
    fn bad_input_is_an_error() {
        let map = LabelMap::fit(&[0.0, 1.0]).unwrap();
        assert!(set_estimate(&[&[0.1]], &map, 1, "t").is_err());
        assert!(set_estimate(&[&[0.1, 0.2], &[0.1]], &map, 1, "t").is_err());
        assert!(set_estimate(&[&[0.1, f64::NAN]], &map, 1, "t").is_err());
        assert!(set_estimate(&[], &map, 1, "t").is_err());
    }
}
