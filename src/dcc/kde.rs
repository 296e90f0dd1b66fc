//! 1-D Gaussian kernel density estimates with Scott's rule (scipy.stats.gaussian_kde's
//! default: bandwidth = std(ddof = 1) · n^(−1/5)), grids, the trapezoid rule and
//! quantiles read off a discrete cumulative sum — the numerics behind the σ/m posterior
//! and the overlap test.

use anyhow::{bail, Result};

/// Sample standard deviation (ddof = 1).
pub fn std_ddof1(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    if x.len() < 2 {
        return 0.0;
    }
    let m = x.iter().sum::<f64>() / n;
    (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// A Gaussian KDE of 1-D samples with Scott's bandwidth.
#[derive(Debug)]
pub struct Kde<'a> {
    samples: &'a [f64],
    bandwidth: f64,
}

impl<'a> Kde<'a> {
    /// A KDE; errors on fewer than two samples or zero spread (the bandwidth would be 0).
    pub fn new(samples: &'a [f64], what: &str) -> Result<Kde<'a>> {
        if samples.len() < 2 {
            bail!(
                "{what}: a density needs at least 2 samples, found {}",
                samples.len()
            );
        }
        if let Some(v) = samples.iter().find(|v| !v.is_finite()) {
            bail!("{what}: non-finite sample {v}");
        }
        let bandwidth = std_ddof1(samples) * (samples.len() as f64).powf(-0.2);
        if bandwidth <= 0.0 {
            bail!(
                "{what}: all {} samples are equal; the density is degenerate",
                samples.len()
            );
        }
        Ok(Kde { samples, bandwidth })
    }

    /// The bandwidth.
    pub fn bandwidth(&self) -> f64 {
        self.bandwidth
    }

    /// Density at each grid point (in parallel over grid points when the work is large;
    /// the same numbers at any thread count).
    pub fn evaluate(&self, grid: &[f64]) -> Vec<f64> {
        crate::ops::kde::evaluate(self.samples, self.bandwidth, grid)
    }

    /// This density as a job for `ops::kde::densities` (many densities in one pass).
    pub fn job<'g>(&'g self, grid: &'g [f64]) -> crate::ops::kde::KdeJob<'g> {
        crate::ops::kde::KdeJob {
            samples: self.samples,
            bandwidth: self.bandwidth,
            grid,
        }
    }
}

/// `n` evenly spaced points from `lo` to `hi` inclusive.
pub fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![lo];
    }
    (0..n)
        .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
        .collect()
}

/// ∫ y dx by the trapezoid rule on a (possibly uneven) grid.
pub fn trapezoid(y: &[f64], x: &[f64]) -> f64 {
    y.windows(2)
        .zip(x.windows(2))
        .map(|(y, x)| 0.5 * (y[0] + y[1]) * (x[1] - x[0]))
        .sum()
}

/// The grid point whose discrete cumulative sum of `density` (normalised to 1) is
/// nearest to `q`.
pub fn quantile(grid: &[f64], density: &[f64], q: f64) -> f64 {
    let total: f64 = density.iter().sum();
    let mut acc = 0.0;
    let mut best = (f64::INFINITY, grid[0]);
    for (&x, &p) in grid.iter().zip(density) {
        acc += p / total;
        let d = (acc - q).abs();
        if d < best.0 {
            best = (d, x);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kde_of_a_wide_sample_integrates_to_one_and_uses_scott_bandwidth() {
        let s: Vec<f64> = (0..200)
            .map(|i| ((i * 37 % 200) as f64 / 200.0 - 0.5) * 2.0)
            .collect();
        let k = Kde::new(&s, "t").unwrap();
        let want = std_ddof1(&s) * 200f64.powf(-0.2);
        assert!((k.bandwidth() - want).abs() < 1e-12);
        let g = linspace(-4.0, 4.0, 2001);
        let area = trapezoid(&k.evaluate(&g), &g);
        assert!((area - 1.0).abs() < 1e-3, "{area}");
    }

    #[test]
    fn quantiles_of_a_symmetric_density_are_symmetric() {
        let g = linspace(-5.0, 5.0, 1001);
        let p: Vec<f64> = g.iter().map(|x| (-0.5 * x * x).exp()).collect();
        assert!(quantile(&g, &p, 0.5).abs() < 0.02);
        let q16 = quantile(&g, &p, 0.16);
        assert!((q16 + 0.994).abs() < 0.03, "{q16}");
        assert!((quantile(&g, &p, 0.84) + q16).abs() < 0.03);
    }

    #[test]
    fn degenerate_samples_are_refused() {
        assert!(Kde::new(&[1.0], "x").is_err());
        assert!(Kde::new(&[2.0, 2.0, 2.0], "x")
            .unwrap_err()
            .to_string()
            .contains("equal"));
        assert!(Kde::new(&[1.0, f64::NAN], "x").is_err());
    }
}
