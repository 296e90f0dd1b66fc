//! Intracluster gas: the isothermal beta model as projected gas mass (for the total-mass
//! map) and X-ray surface brightness, with cool cores and the AGN-feedback rescalings.
//! SIDM does not touch the gas [S:1810.05649]. Units: kpc, M☉; X-ray in arbitrary units
//! ∝ n0² r_c (cm⁻⁶ kpc) per pixel area, dimmed by (1 + z)⁻⁴.

use std::f64::consts::PI;

/// A beta-model gas halo.
#[derive(Clone, Copy, Debug)]
pub struct BetaModel {
    /// Slope β.
    pub beta: f64,
    /// Core radius (kpc).
    pub rc: f64,
    /// Central electron density (cm⁻³).
    pub n0: f64,
    /// Central projected gas mass density (M☉/kpc²).
    pub sigma0: f64,
    /// Cosmological dimming factor (1 + z)⁻⁴.
    pub dimming: f64,
}

impl BetaModel {
    /// A model whose projected gas mass inside the cylinder `r_norm` is `m_gas`.
    pub fn new(beta: f64, rc: f64, n0: f64, m_gas: f64, r_norm: f64, z: f64) -> BetaModel {
        let p = 1.5 * beta - 0.5;
        let x = (r_norm / rc).powi(2);
        // ∫ 2πR (1 + R²/rc²)^(−p) dR from 0 to r_norm.
        let shape = if (p - 1.0).abs() < 1e-6 {
            PI * rc * rc * (1.0 + x).ln()
        } else {
            PI * rc * rc * ((1.0 + x).powf(1.0 - p) - 1.0) / (1.0 - p)
        };
        BetaModel {
            beta,
            rc,
            n0,
            sigma0: m_gas / shape,
            dimming: (1.0 + z).powi(-4),
        }
    }

    /// Projected gas mass density at (elliptical) radius R, M☉/kpc².
    #[inline]
    pub fn sigma(&self, r: f64) -> f64 {
        self.sigma0 * (1.0 + (r / self.rc).powi(2)).powf(0.5 - 1.5 * self.beta)
    }

    /// X-ray surface brightness at R: n0² r_c [1 + (R/r_c)²]^(−3β + 1/2) (1 + z)⁻⁴.
    #[inline]
    pub fn xray(&self, r: f64) -> f64 {
        self.n0
            * self.n0
            * self.rc
            * self.dimming
            * (1.0 + (r / self.rc).powi(2)).powf(0.5 - 3.0 * self.beta)
    }

    /// Both at once, sharing the power (the X-ray exponent is twice the mass one minus ½).
    #[inline]
    pub fn sigma_and_xray(&self, r: f64) -> (f64, f64) {
        let base = 1.0 + (r / self.rc).powi(2);
        let m = base.powf(0.5 - 1.5 * self.beta);
        let x = m * m / base.sqrt();
        (
            self.sigma0 * m,
            self.n0 * self.n0 * self.rc * self.dimming * x,
        )
    }
}

/// Gas fraction inside R200 before feedback: 0.12 (M500/3×10¹⁴)^0.1, at most 0.15 [E].
pub fn gas_fraction(m500: f64) -> f64 {
    (0.12 * (m500 / 3.0e14).powf(0.1)).min(0.15)
}

/// Median central density (cm⁻³): 4×10⁻³ (M200/3×10¹⁴)^0.3, ×4 in a cool core [E].
pub fn central_density_median(m200: f64, cool_core: bool) -> f64 {
    let n = 4.0e-3 * (m200 / 3.0e14).powf(0.3);
    if cool_core {
        4.0 * n
    } else {
        n
    }
}

/// The AGN-feedback strength a = (log10 ΔT_heat − 8)/0.2 [E after S:1603.02702].
pub fn feedback_strength(log_dt: f64) -> f64 {
    (log_dt - 8.0) / 0.2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beta_model_holds_its_gas_mass_inside_the_normalisation_radius() {
        for &beta in &[0.5, 0.67, 0.85, 1.0] {
            let g = BetaModel::new(beta, 150.0, 4e-3, 3e13, 1400.0, 0.2);
            let n = 20000;
            let h = 1400.0 / n as f64;
            let m: f64 = (0..n)
                .map(|i| {
                    let r = (i as f64 + 0.5) * h;
                    2.0 * PI * r * g.sigma(r) * h
                })
                .sum();
            assert!((m / 3e13 - 1.0).abs() < 1e-4, "β = {beta}: {m}");
        }
    }

    #[test]
    fn xray_profile_has_the_projected_beta_model_slope() {
        let g = BetaModel::new(0.67, 50.0, 1e-2, 3e13, 1400.0, 0.0);
        let (r1, r2) = (1000.0, 2000.0);
        let slope = (g.xray(r2) / g.xray(r1)).ln() / (r2 / r1).ln();
        assert!((slope - (1.0 - 6.0 * 0.67)).abs() < 0.01, "slope {slope}");
        let (s, x) = g.sigma_and_xray(77.0);
        assert!((s / g.sigma(77.0) - 1.0).abs() < 1e-12);
        assert!((x / g.xray(77.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn feedback_strength_is_minus_one_zero_one_for_the_bahamas_runs() {
        assert!((feedback_strength(7.8) + 1.0).abs() < 1e-12);
        assert_eq!(feedback_strength(8.0), 0.0);
        assert!((feedback_strength(8.2) - 1.0).abs() < 1e-12);
    }
}
