//! Stars: the central galaxy (BCG) as a projected Hernquist profile with its
//! σ/m-dependent wobble around the halo centre, and satellite galaxies as small
//! Gaussians inside subhaloes. Units: kpc, M☉.

use std::f64::consts::PI;

/// R_e / a for a projected Hernquist profile (Hernquist 1990).
pub const HERNQUIST_RE_OVER_A: f64 = 1.8153;
/// Width of a satellite galaxy (kpc).
pub const SATELLITE_SIGMA_KPC: f64 = 5.0;

/// X(s) of Hernquist (1990): arcsech(s)/√(1−s²) inside s = 1, arcsec(s)/√(s²−1) outside.
fn hernquist_x(s: f64) -> f64 {
    if s < 1.0 {
        ((1.0 + (1.0 - s * s).sqrt()) / s).ln() / (1.0 - s * s).sqrt()
    } else if s > 1.0 {
        (1.0 / s).acos() / (s * s - 1.0).sqrt()
    } else {
        1.0
    }
}

/// Σ(s)·2πa²/M of the projected Hernquist profile, s = R/a.
pub fn hernquist_sigma_shape(s: f64) -> f64 {
    const D: f64 = 1e-3;
    let closed = |s: f64| ((2.0 + s * s) * hernquist_x(s) - 3.0) / (1.0 - s * s).powi(2);
    if (s - 1.0).abs() < D {
        // The closed form is 0/0 at s = 1: interpolate across it.
        let (lo, hi) = (closed(1.0 - D), closed(1.0 + D));
        let f = (s - (1.0 - D)) / (2.0 * D);
        return lo * (1.0 - f) + hi * f;
    }
    closed(s.max(1e-9))
}

/// Fraction of a Hernquist galaxy's mass projected inside s = R/a.
pub fn hernquist_mass_2d_fraction(s: f64) -> f64 {
    let s = if (s - 1.0).abs() < 1e-6 {
        1.0 + 2e-6
    } else {
        s
    };
    s * s * (hernquist_x(s) - 1.0) / (1.0 - s * s)
}

/// A central galaxy.
#[derive(Clone, Copy, Debug)]
pub struct Bcg {
    /// Stellar mass (M☉).
    pub mass: f64,
    /// Effective (half-light) radius (kpc).
    pub r_eff: f64,
    /// Position relative to the halo centre (kpc).
    pub offset: (f64, f64),
}

impl Bcg {
    /// Hernquist scale length a (kpc).
    pub fn scale(&self) -> f64 {
        self.r_eff / HERNQUIST_RE_OVER_A
    }

    /// Surface density (M☉/kpc²) at distance R from the galaxy's own centre.
    pub fn sigma(&self, r: f64) -> f64 {
        let a = self.scale();
        self.mass / (2.0 * PI * a * a) * hernquist_sigma_shape(r / a)
    }
}

/// Median BCG stellar mass: 10¹² (M500/3×10¹⁴)^0.4 M☉, times 10^(−0.1a) for feedback a [E].
pub fn bcg_mass_median(m500: f64, feedback_a: f64) -> f64 {
    1.0e12 * (m500 / 3.0e14).powf(0.4) * 10f64.powf(-0.1 * feedback_a)
}

/// Median BCG wobble (kpc): 1.5 kpc + 0.25 r_c [E after S:1703.07365, 1812.06981].
pub fn bcg_offset_median(core_kpc: f64) -> f64 {
    1.5 + 0.25 * core_kpc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hernquist_surface_density_integrates_to_its_projected_mass() {
        // ∫ 2πR Σ dR in ln R, compared with the closed-form cumulative mass.
        let n = 4000;
        let (lo, hi) = ((1e-5f64).ln(), (50f64).ln());
        let h = (hi - lo) / n as f64;
        let f = |u: f64| {
            let s = u.exp();
            s * s * hernquist_sigma_shape(s)
        };
        let mut acc = f(lo) + f(hi);
        for i in 1..n {
            acc += if i % 2 == 1 { 4.0 } else { 2.0 } * f(lo + i as f64 * h);
        }
        // M(<S)/M = ∫ s·shape(s) ds = ∫ s²·shape du with s = e^u.
        let m = acc * h / 3.0;
        let want = hernquist_mass_2d_fraction(50.0);
        assert!((m - want).abs() < 1e-4, "{m} vs {want}");
        assert!((hernquist_sigma_shape(1.0) - 4.0 / 15.0).abs() < 1e-4);
    }

    #[test]
    fn half_the_projected_mass_lies_inside_the_effective_radius() {
        let f = hernquist_mass_2d_fraction(HERNQUIST_RE_OVER_A);
        assert!((f - 0.5).abs() < 1e-3, "{f}");
    }

    #[test]
    fn wobble_median_matches_the_reference_offsets() {
        // ≈ 2, 4, 10 kpc for σ/m = 0.1, 0.3, 1 at the reference core radii.
        assert!((bcg_offset_median(1.6) - 1.9).abs() < 0.01);
        assert!((bcg_offset_median(9.9) - 4.0).abs() < 0.1);
        assert!((bcg_offset_median(35.0) - 10.25).abs() < 0.01);
    }
}
