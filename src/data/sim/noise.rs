//! Observational forward models: weak-lensing shape noise through Kaiser–Squires (κ →
//! shear by FFT on a ×2 zero-padded grid, noise per shear component, shear → κ) and X-ray
//! Poisson counts with a Poisson(1) background. Both return maps in the input's units.

use super::cosmology;
use rand::Rng;
use rand_distr::{Distribution, Normal, Poisson};
use rustfft::{num_complex::Complex, FftPlannerScalar};
use std::cell::RefCell;

/// Intrinsic ellipticity dispersion σ_e.
pub const SIGMA_E: f64 = 0.3;

/// Galaxies per pixel for a source density `n_gal` per arcmin² and pixels of `pixel_kpc`.
pub fn galaxies_per_pixel(n_gal: f64, pixel_kpc: f64) -> f64 {
    n_gal * (cosmology::pixel_arcsec(pixel_kpc) / 60.0).powi(2)
}

/// Standard deviation of the noise on each shear component per pixel, σ_e/√(2 n_pix).
pub fn shear_noise_sigma(n_gal: f64, pixel_kpc: f64) -> f64 {
    SIGMA_E / (2.0 * galaxies_per_pixel(n_gal, pixel_kpc)).sqrt()
}

thread_local! {
    /// Plans are cached per thread. The scalar planner gives the same bits on every
    /// x86/ARM CPU, where the SIMD planners would pick CPU-dependent algorithms.
    static PLANNER: RefCell<FftPlannerScalar<f64>> = RefCell::new(FftPlannerScalar::new());
}

/// In-place 2-D FFT of an m×m row-major grid (rows, transpose, rows, transpose).
fn fft2(buf: &mut [Complex<f64>], m: usize, inverse: bool) {
    let fft = PLANNER.with(|p| {
        let mut p = p.borrow_mut();
        if inverse {
            p.plan_fft_inverse(m)
        } else {
            p.plan_fft_forward(m)
        }
    });
    fft.process(buf);
    transpose(buf, m);
    fft.process(buf);
    transpose(buf, m);
}

fn transpose(buf: &mut [Complex<f64>], m: usize) {
    for i in 0..m {
        for j in i + 1..m {
            buf.swap(i * m + j, j * m + i);
        }
    }
}

/// The Kaiser–Squires kernel D(k) = (k1² − k2² + 2i k1 k2)/|k|² on an m×m FFT grid
/// (D(0) = 0: the mean convergence is not measurable from shear).
fn ks_kernel(m: usize) -> Vec<Complex<f64>> {
    let freq = |i: usize| {
        if i <= m / 2 {
            i as f64
        } else {
            i as f64 - m as f64
        }
    };
    let mut d = vec![Complex::new(0.0, 0.0); m * m];
    for iy in 0..m {
        let k2 = freq(iy);
        for ix in 0..m {
            let k1 = freq(ix);
            let kk = k1 * k1 + k2 * k2;
            if kk > 0.0 {
                d[iy * m + ix] = Complex::new((k1 * k1 - k2 * k2) / kk, 2.0 * k1 * k2 / kk);
            }
        }
    }
    d
}

/// Weak-lensing reconstruction of a mass map (M☉/pixel, n×n): κ = Σ/Σ_crit, shear by
/// inverse Kaiser–Squires on a ×2 zero-padded grid, Gaussian shape noise of `sigma_noise`
/// per component on the observed field (shear outside it is unknown and set to zero),
/// then κ by Kaiser–Squires. The mean κ of the field, which shear cannot measure, is
/// restored from the input: the mass-sheet degeneracy fixed by a known total mass [E].
pub fn lensing_reconstruction(
    map: &mut [f64],
    n: usize,
    pixel_kpc: f64,
    sigma_noise: f64,
    rng: &mut impl Rng,
) {
    let m = 2 * n;
    let to_kappa = 1.0 / (cosmology::SIGMA_CRIT * pixel_kpc * pixel_kpc);
    let mut buf = vec![Complex::new(0.0, 0.0); m * m];
    for y in 0..n {
        for x in 0..n {
            buf[y * m + x] = Complex::new(map[y * n + x] * to_kappa, 0.0);
        }
    }
    fft2(&mut buf, m, false);
    let truth: f64 = map.iter().sum();
    let d = ks_kernel(m);
    for (b, k) in buf.iter_mut().zip(&d) {
        *b *= k;
    }
    fft2(&mut buf, m, true);
    let norm = 1.0 / (m * m) as f64;
    let gauss = Normal::new(0.0, sigma_noise.max(0.0)).expect("finite non-negative σ");
    for y in 0..m {
        for x in 0..m {
            let g = &mut buf[y * m + x];
            if y < n && x < n {
                *g = *g * norm + Complex::new(gauss.sample(rng), gauss.sample(rng));
            } else {
                *g = Complex::new(0.0, 0.0);
            }
        }
    }
    fft2(&mut buf, m, false);
    for (b, k) in buf.iter_mut().zip(&d) {
        *b *= k.conj();
    }
    fft2(&mut buf, m, true);
    for y in 0..n {
        for x in 0..n {
            map[y * n + x] = buf[y * m + x].re * norm / to_kappa;
        }
    }
    let sheet = (truth - map.iter().sum::<f64>()) / (n * n) as f64;
    map.iter_mut().for_each(|v| *v += sheet);
}

/// X-ray photon noise: the map is scaled so that its peak is `peak_counts`, each pixel
/// drawn from Poisson(counts) + Poisson(1) background, and scaled back to map units.
/// An empty map is treated as counts directly (only the background remains).
pub fn xray_counts(map: &mut [f64], peak_counts: f64, rng: &mut impl Rng) {
    let max = map.iter().cloned().fold(0.0f64, f64::max);
    let scale = if max > 0.0 { peak_counts / max } else { 1.0 };
    let background = Poisson::new(1.0).expect("λ = 1 is valid");
    for v in map.iter_mut() {
        let lambda = *v * scale;
        let signal = if lambda > 0.0 {
            Poisson::new(lambda).map(|p| p.sample(rng)).unwrap_or(0.0)
        } else {
            0.0
        };
        *v = (signal + background.sample(rng)) / scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn blob(n: usize) -> Vec<f64> {
        let mut m = vec![0.0; n * n];
        for y in 0..n {
            for x in 0..n {
                let r2 = (x as f64 - n as f64 / 2.0).powi(2) + (y as f64 - n as f64 / 2.0).powi(2);
                m[y * n + x] = 1e13 * (-r2 / 50.0).exp() + 1e11;
            }
        }
        m
    }

    #[test]
    fn noiseless_kaiser_squires_round_trip_recovers_the_centre_of_the_map() {
        let n = 64;
        let truth = blob(n);
        let mut map = truth.clone();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        lensing_reconstruction(&mut map, n, 20.0, 0.0, &mut rng);
        // Masking the shear outside the field only disturbs the edges.
        let c = (n / 2) * n + n / 2;
        assert!(
            (map[c] / truth[c] - 1.0).abs() < 0.05,
            "{} vs {}",
            map[c],
            truth[c]
        );
        let total: f64 = map.iter().sum();
        let want: f64 = truth.iter().sum();
        assert!((total / want - 1.0).abs() < 1e-9, "{total} vs {want}");
    }

    #[test]
    fn shape_noise_in_an_empty_field_has_the_expected_amplitude() {
        let n = 64;
        let mut map = vec![0.0; n * n];
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let s = shear_noise_sigma(30.0, 20.0);
        assert!((s - 0.3 / (2.0f64 * 0.16).sqrt()).abs() < 0.03, "σ = {s}");
        lensing_reconstruction(&mut map, n, 20.0, s, &mut rng);
        let to_kappa = 1.0 / (cosmology::SIGMA_CRIT * 400.0);
        let inner: Vec<f64> = (16..48)
            .flat_map(|y| (16..48).map(move |x| (y, x)))
            .map(|(y, x)| map[y * n + x] * to_kappa)
            .collect();
        let mean = inner.iter().sum::<f64>() / inner.len() as f64;
        let var = inner.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / inner.len() as f64;
        let ratio = var.sqrt() / s;
        // κ noise per pixel ≈ the per-component shear noise (KS is unitary off k = 0).
        assert!(
            (0.6..1.2).contains(&ratio),
            "κ noise / shear noise = {ratio}"
        );
    }

    #[test]
    fn xray_counts_keep_the_mean_and_add_the_expected_background() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 10_000;
        let mut map = vec![2.0; n];
        map[0] = 4.0;
        xray_counts(&mut map, 100.0, &mut rng);
        // 50 counts + 1 background, divided by the scale 25.
        let mean = map[1..].iter().sum::<f64>() / (n - 1) as f64;
        assert!((mean - 51.0 / 25.0).abs() < 0.01, "{mean}");
        let var = map[1..].iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        assert!((var * 625.0 / 51.0 - 1.0).abs() < 0.06, "{}", var * 625.0);
        let mut empty = vec![0.0; 1000];
        xray_counts(&mut empty, 100.0, &mut rng);
        let m = empty.iter().sum::<f64>() / 1000.0;
        assert!((m - 1.0).abs() < 0.1, "background mean {m}");
    }
}
