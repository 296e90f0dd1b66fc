//! The σ/m label transform: y = log10(σ/m) with CDM (σ/m = 0 exactly) counted as
//! 0.01 cm²/g, min–max scaled to [0, 1] over the known sets only; and its inverse, used
//! to read σ/m back off latent dimension 0. Only σ = 0 is relabelled, as in the paper's
//! code: 0 < σ/m < 0.01 keeps its own value.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// σ/m (cm²/g) that CDM (σ/m = 0) counts as.
pub const CDM_SIGMA: f64 = 0.01;

/// σ/m as labelled: CDM (exactly 0) counts as `CDM_SIGMA`, every other value as itself.
pub fn relabel(sigma: f64) -> f64 {
    if sigma == 0.0 {
        CDM_SIGMA
    } else {
        sigma
    }
}

/// The min–max scaling of log10 σ/m over the known sets.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelMap {
    /// log10 σ/m of label 0.
    pub log_lo: f64,
    /// log10 σ/m of label 1.
    pub log_hi: f64,
}

impl LabelMap {
    /// The scaling fitted to the known sets' σ/m values (at least two distinct ones).
    pub fn fit(known_sigmas: &[f64]) -> Result<LabelMap> {
        if let Some(s) = known_sigmas.iter().find(|s| !s.is_finite() || **s < 0.0) {
            bail!("σ/m must be a finite value ≥ 0, found {s}");
        }
        let logs: Vec<f64> = known_sigmas.iter().map(|&s| relabel(s).log10()).collect();
        let lo = logs.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
            bail!(
                "the known sets need at least two different σ/m values to define the σ/m axis, found {}",
                known_sigmas.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
            );
        }
        Ok(LabelMap {
            log_lo: lo,
            log_hi: hi,
        })
    }

    /// The label of σ/m.
    pub fn label(&self, sigma: f64) -> f64 {
        (relabel(sigma).log10() - self.log_lo) / (self.log_hi - self.log_lo)
    }

    /// log10 σ/m of a label.
    pub fn log_sigma(&self, label: f64) -> f64 {
        self.log_lo + label * (self.log_hi - self.log_lo)
    }

    /// σ/m of a label.
    pub fn sigma(&self, label: f64) -> f64 {
        10f64.powf(self.log_sigma(label))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bahamas_labels_span_zero_to_one_with_cdm_at_zero() {
        let m = LabelMap::fit(&[0.0, 0.1, 1.0]).unwrap();
        assert_eq!(m.label(0.0), 0.0);
        assert!((m.label(0.1) - 0.5).abs() < 1e-12);
        assert!((m.label(1.0) - 1.0).abs() < 1e-12);
        assert!((m.sigma(m.label(0.3)) - 0.3).abs() < 1e-12);
    }

    #[test]
    fn only_cdm_is_relabelled() {
        let m = LabelMap::fit(&[0.0, 0.005, 1.0]).unwrap();
        assert_eq!(m.label(0.005), 0.0, "0.005 stays below CDM's 0.01");
        assert!(m.label(0.0) > 0.0);
        assert!((m.sigma(m.label(0.005)) - 0.005).abs() < 1e-12);
    }

    #[test]
    fn one_known_value_cannot_define_the_axis() {
        assert!(LabelMap::fit(&[0.1, 0.1]).is_err());
        assert!(LabelMap::fit(&[0.0, 0.01]).is_err(), "CDM counts as 0.01");
        assert!(LabelMap::fit(&[-1.0, 0.1]).is_err());
    }
}
