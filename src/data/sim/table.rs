//! Radial profiles as lookup tables: every component's surface density is tabulated once
//! per map on a log-spaced radius grid and read back per pixel sample with a fast
//! logarithm and linear interpolation, so rendering costs no `pow`, `exp` or `ln` from libm.

/// Smallest tabulated radius (kpc); the profile is held constant inside it.
pub const R_MIN: f64 = 0.01;
/// Largest tabulated radius (kpc); beyond it the profile falls as R⁻³.
pub const R_MAX: f64 = 2.0e4;
/// Nodes of a table: linear interpolation in ln R is then good to ~5×10⁻⁴.
const N: usize = 800;
/// 1 / (ln-radius step of an `N`-node table), written out because `ln` is not `const`:
/// (N − 1) / ln(R_MAX / R_MIN) = 799 / ln(2×10⁶).
const INV_STEP: f64 = 799.0 / 14.508_657_738_524_219;
/// Nodes where an expensive profile is evaluated before refinement to `N`.
const N_COARSE: usize = 160;

/// ln x to ~10⁻⁸ from the exponent bits and an atanh series on [√½, √2).
#[inline]
pub fn fast_ln(x: f64) -> f64 {
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let series = s * (2.0 + s2 * (2.0 / 3.0 + s2 * (0.4 + s2 * (2.0 / 7.0 + s2 * (2.0 / 9.0)))));
    e as f64 * std::f64::consts::LN_2 + series
}

/// Σ(R) on `N` log-spaced radii, interpolated linearly in ln R.
#[derive(Clone, Debug)]
pub struct RadialTable {
    values: Vec<f64>,
}

impl RadialTable {
    fn step(n: usize) -> f64 {
        (R_MAX / R_MIN).ln() / (n - 1) as f64
    }

    fn radius(i: usize, n: usize) -> f64 {
        R_MIN * (i as f64 * Self::step(n)).exp()
    }

    /// Tabulates a cheap profile at every node.
    pub fn from_fn(f: impl Fn(f64) -> f64) -> RadialTable {
        RadialTable {
            values: (0..N).map(|i| f(Self::radius(i, N))).collect(),
        }
    }

    /// Tabulates two profiles that share their expensive part.
    pub fn pair_from_fn(f: impl Fn(f64) -> (f64, f64)) -> (RadialTable, RadialTable) {
        let (a, b) = (0..N).map(|i| f(Self::radius(i, N))).unzip();
        (RadialTable { values: a }, RadialTable { values: b })
    }

    /// Tabulates an expensive, positive profile at `N_COARSE` nodes and refines by
    /// interpolation in (ln R, ln Σ).
    pub fn from_fn_coarse(f: impl Fn(f64) -> f64) -> RadialTable {
        let coarse: Vec<f64> = (0..N_COARSE)
            .map(|i| f(Self::radius(i, N_COARSE)).max(1e-300).ln())
            .collect();
        let ratio = Self::step(N) / Self::step(N_COARSE);
        let values = (0..N)
            .map(|i| {
                let u = i as f64 * ratio;
                let j = (u as usize).min(N_COARSE - 2);
                let t = u - j as f64;
                (coarse[j] * (1.0 - t) + coarse[j + 1] * t).exp()
            })
            .collect();
        RadialTable { values }
    }

    /// The profile at radius `r` (kpc).
    #[inline]
    pub fn at(&self, r: f64) -> f64 {
        self.at_squared(r * r)
    }

    /// The profile at the radius whose square is `r2` (kpc²): saves the square root.
    #[inline]
    pub fn at_squared(&self, r2: f64) -> f64 {
        if r2 <= R_MIN * R_MIN {
            return self.values[0];
        }
        let u = fast_ln(r2 * (1.0 / (R_MIN * R_MIN))) * (0.5 * INV_STEP);
        let i = u as usize;
        if i >= N - 1 {
            return self.values[N - 1] * (R_MAX * R_MAX / r2).powf(1.5);
        }
        let t = u - i as f64;
        self.values[i] + (self.values[i + 1] - self.values[i]) * t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_step_constant_matches_the_grid() {
        assert!((INV_STEP * RadialTable::step(N) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn fast_ln_matches_libm_to_1e_8() {
        for &x in &[1e-6, 0.01, 0.7, 0.99, 1.0, 1.4143, 2.0, 3.7, 1234.5, 2e7] {
            assert!(
                (fast_ln(x) - x.ln()).abs() < 1e-8,
                "x = {x}: {} vs {}",
                fast_ln(x),
                x.ln()
            );
        }
    }

    #[test]
    fn table_reproduces_smooth_profiles_to_five_parts_in_ten_thousand() {
        let f = |r: f64| 1e9 / (r * (1.0 + r / 300.0).powi(2)).max(1e-3);
        let t = RadialTable::from_fn(f);
        let c = RadialTable::from_fn_coarse(f);
        for &r in &[0.05, 0.9, 17.0, 256.0, 999.0, 7777.0] {
            assert!(
                (t.at(r) / f(r) - 1.0).abs() < 5e-4,
                "R = {r}: {}",
                t.at(r) / f(r)
            );
            assert!(
                (c.at(r) / f(r) - 1.0).abs() < 5e-4,
                "R = {r}: {}",
                c.at(r) / f(r)
            );
        }
    }
}
