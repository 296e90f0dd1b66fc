//! Background cosmology of the simulator: a flat ΛCDM with h = 0.7, Ωm = 0.3 [E], giving
//! the critical density that sets halo radii and the angular-diameter distance that turns
//! pixels into arcseconds for the weak-lensing galaxy density. Units: kpc, M☉.

/// Dimensionless Hubble parameter.
pub const H: f64 = 0.7;
/// Matter density parameter today.
pub const OMEGA_M: f64 = 0.3;
/// Critical density today in M☉/kpc³ (2.775×10¹¹ h² M☉/Mpc³).
pub const RHO_CRIT0: f64 = 277.5 * H * H;
/// Hubble distance c/H0 in kpc.
pub const HUBBLE_DISTANCE_KPC: f64 = 2.997_925e6 / H;
/// Critical surface density of the lensing model in M☉/kpc² (z_l = 0.3, z_s = 2) [C].
pub const SIGMA_CRIT: f64 = 2.3e15 / 1.0e6;
/// Lens redshift at which galaxy densities per arcmin² are turned into galaxies per pixel.
pub const LENS_Z: f64 = 0.3;

/// E(z) = H(z)/H0 for flat ΛCDM.
pub fn e_of_z(z: f64) -> f64 {
    (OMEGA_M * (1.0 + z).powi(3) + 1.0 - OMEGA_M).sqrt()
}

/// Critical density at redshift z in M☉/kpc³.
pub fn rho_crit(z: f64) -> f64 {
    RHO_CRIT0 * e_of_z(z).powi(2)
}

/// Radius (kpc) inside which the mean density is `delta` times critical for mass `m`.
pub fn r_delta(m: f64, delta: f64, z: f64) -> f64 {
    (3.0 * m / (4.0 * std::f64::consts::PI * delta * rho_crit(z))).cbrt()
}

/// Angular-diameter distance in kpc (Simpson's rule over 1/E(z), 256 intervals).
pub fn angular_diameter_distance(z: f64) -> f64 {
    if z <= 0.0 {
        return 0.0;
    }
    let n = 256;
    let h = z / n as f64;
    let mut s = 1.0 / e_of_z(0.0) + 1.0 / e_of_z(z);
    for i in 1..n {
        let w = if i % 2 == 1 { 4.0 } else { 2.0 };
        s += w / e_of_z(i as f64 * h);
    }
    HUBBLE_DISTANCE_KPC * s * h / 3.0 / (1.0 + z)
}

/// Side of a pixel of `pixel_kpc` seen at the lens redshift, in arcseconds.
pub fn pixel_arcsec(pixel_kpc: f64) -> f64 {
    pixel_kpc / angular_diameter_distance(LENS_Z) * 206_264.806
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_of_20_kpc_is_4_4_arcsec_at_the_lens_redshift() {
        let a = pixel_arcsec(20.0);
        assert!((a - 4.4).abs() < 0.15, "pixel = {a} arcsec");
        // 30 galaxies per arcmin² → 0.16 per pixel, as SCIENCE.md states.
        let n_pix = 30.0 * (a / 60.0).powi(2);
        assert!((n_pix - 0.16).abs() < 0.01, "n_pix = {n_pix}");
    }

    #[test]
    fn r200_of_a_massive_cluster_is_about_1_4_mpc() {
        let r = r_delta(10f64.powf(14.5), 200.0, 0.0);
        assert!((r - 1405.0).abs() < 10.0, "R200 = {r} kpc");
        assert!(r_delta(1e14, 200.0, 0.5) < r_delta(1e14, 200.0, 0.0));
    }
}
