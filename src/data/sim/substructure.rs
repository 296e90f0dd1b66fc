//! Substructure: subhalo infall masses from dN/dm ∝ m^−1.9 [S:0809.0898] between 10¹¹ M☉
//! and 0.1 M200 until they reach about 10 % of M200, positions following an
//! NFW profile with c/3, each an NFW stripped at its tidal (Jacobi) radius: the profile
//! inside r_t is the infall halo's, the mass outside is lost to the host (so a subhalo's
//! centre is as dense as before infall, not brighter). Projected through a shared 2-D
//! table. Units: kpc, M☉.

use super::halo::{nfw_mass_shape, ConcentrationRelation, Halo};
use super::table::fast_ln;
use super::{cosmology, render::Grid};
use rand::Rng;
use std::sync::OnceLock;

/// Slope of the subhalo mass function dN/dm ∝ m^−α.
pub const MASS_FUNCTION_SLOPE: f64 = 1.9;
/// Lightest subhalo drawn (M☉).
pub const M_MIN: f64 = 1.0e11;

/// One subhalo, in projection.
#[derive(Clone, Copy, Debug)]
pub struct Subhalo {
    /// Bound mass (M☉): the infall NFW's mass inside r_t.
    pub mass: f64,
    /// Mass before infall, M200 of the subhalo (M☉).
    pub infall_mass: f64,
    /// Projected position relative to the host centre (kpc).
    pub pos: (f64, f64),
    /// Scale radius (kpc).
    pub rs: f64,
    /// Truncation radius (kpc), at most the subhalo's own r200.
    pub rt: f64,
    /// Stellar mass of its satellite galaxy (M☉).
    pub stellar_mass: f64,
}

/// Inverse-CDF draw from m^−α between `lo` and `hi`.
pub fn draw_power_law(rng: &mut impl Rng, lo: f64, hi: f64, alpha: f64) -> f64 {
    let e = 1.0 - alpha;
    let u: f64 = rng.gen();
    (lo.powf(e) + u * (hi.powf(e) - lo.powf(e))).powf(1.0 / e)
}

/// Radius inside R200 drawn from an NFW profile of concentration `c`, by bisection of the
/// enclosed-mass fraction.
fn draw_nfw_radius(rng: &mut impl Rng, r200: f64, c: f64) -> f64 {
    let target = rng.gen::<f64>() * nfw_mass_shape(c);
    let (mut lo, mut hi) = (0.0, c);
    for _ in 0..40 {
        let mid = 0.5 * (lo + hi);
        if nfw_mass_shape(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi) * r200 / c
}

/// Settings of a subhalo population.
#[derive(Clone, Copy, Debug)]
pub struct SubhaloSettings {
    /// Target mass fraction of M200 in subhaloes.
    pub mass_fraction: f64,
    /// Concentration relation of the set (subhaloes are 1.5× as concentrated) [E].
    pub relation: ConcentrationRelation,
    /// Factor on the concentrations of the set.
    pub concentration_factor: f64,
    /// Satellite stellar mass over subhalo mass, drawn in [lo, hi].
    pub stellar_fraction: (f64, f64),
    /// Strip each subhalo outside r_t (false: its whole infall mass inside r_t).
    pub strip: bool,
}

/// Draws subhaloes of `host` until their infall masses reach `mass_fraction`·M200 (the
/// population, and its satellite galaxies, as before stripping; the stripped mass stays
/// in the host).
pub fn draw_subhaloes(
    rng: &mut impl Rng,
    host: &Halo,
    z: f64,
    s: &SubhaloSettings,
) -> Vec<Subhalo> {
    let target = s.mass_fraction * host.m200;
    let hi = 0.1 * host.m200;
    let mut subs = Vec::new();
    let mut total = 0.0;
    while total < target && subs.len() < 10_000 {
        let infall = draw_power_law(rng, M_MIN, hi, MASS_FUNCTION_SLOPE);
        let r3 = draw_nfw_radius(rng, host.r200, host.c / 3.0).max(1.0);
        let cos_t: f64 = rng.gen_range(-1.0..1.0);
        let phi: f64 = rng.gen_range(0.0..std::f64::consts::TAU);
        let sin_t = (1.0 - cos_t * cos_t).sqrt();
        let pos = (r3 * sin_t * phi.cos(), r3 * sin_t * phi.sin());
        let c = 1.5 * s.relation.median(infall, z) * s.concentration_factor;
        let rs = cosmology::r_delta(infall, 200.0, z) / c;
        let jacobi = r3 * (infall / (3.0 * host.mass_3d(r3))).cbrt();
        let (rt, mass) = if s.strip {
            let rt = jacobi.clamp(0.5 * rs, c * rs);
            (rt, infall * nfw_mass_shape(rt / rs) / nfw_mass_shape(c))
        } else {
            (jacobi.clamp(0.5 * rs, 30.0 * rs), infall)
        };
        // Stars sit deep in the potential: the satellite keeps the infall halo's galaxy.
        let fstar = rng.gen_range(s.stellar_fraction.0..=s.stellar_fraction.1);
        subs.push(Subhalo {
            mass,
            infall_mass: infall,
            pos,
            rs,
            rt,
            stellar_mass: fstar * infall,
        });
        total += infall;
    }
    subs
}

/// Σ of a sharply truncated NFW, up to a constant: ∫ dt / (1 + x cosh t)² over the chord,
/// tabulated on (ln u, ln τ) with u = R/r_t and τ = r_t/r_s.
struct TruncatedTable {
    ln_u: Vec<f64>,
    ln_tau: Vec<f64>,
    values: Vec<f64>,
}

const TAU_RANGE: (f64, f64) = (0.5, 30.0);
const U_MIN: f64 = 1e-3;

fn truncated_table() -> &'static TruncatedTable {
    static TABLE: OnceLock<TruncatedTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let (nu, nt) = (48, 24);
        let ln_u: Vec<f64> = (0..nu)
            .map(|i| U_MIN.ln() * (1.0 - i as f64 / (nu - 1) as f64))
            .collect();
        let ln_tau: Vec<f64> = (0..nt)
            .map(|i| {
                let (a, b) = (TAU_RANGE.0.ln(), TAU_RANGE.1.ln());
                a + (b - a) * i as f64 / (nt - 1) as f64
            })
            .collect();
        let mut values = Vec::with_capacity(nu * nt);
        for &lt in &ln_tau {
            let tau = lt.exp();
            for &lu in &ln_u {
                let x = lu.exp() * tau;
                let t_max = if x >= tau { 0.0 } else { (tau / x).acosh() };
                let n = 128;
                let h = t_max / n as f64;
                let f = |t: f64| 1.0 / (1.0 + x * t.cosh()).powi(2);
                let mut s = f(0.0) + f(t_max);
                for i in 1..n {
                    s += if i % 2 == 1 { 4.0 } else { 2.0 } * f(i as f64 * h);
                }
                values.push(s * h / 3.0);
            }
        }
        TruncatedTable {
            ln_u,
            ln_tau,
            values,
        }
    })
}

/// Unnormalised projected profile of a truncated NFW at u = R/r_t for τ = r_t/r_s.
pub fn truncated_nfw_shape(u: f64, tau: f64) -> f64 {
    if u >= 1.0 {
        return 0.0;
    }
    let t = truncated_table();
    let (nu, nt) = (t.ln_u.len(), t.ln_tau.len());
    let fu =
        ((fast_ln(u.max(U_MIN)) - t.ln_u[0]) / (t.ln_u[1] - t.ln_u[0])).clamp(0.0, (nu - 1) as f64);
    let lt = fast_ln(tau.clamp(TAU_RANGE.0, TAU_RANGE.1));
    let ft = ((lt - t.ln_tau[0]) / (t.ln_tau[1] - t.ln_tau[0])).clamp(0.0, (nt - 1) as f64);
    let (iu, it) = ((fu as usize).min(nu - 2), (ft as usize).min(nt - 2));
    let (a, b) = (fu - iu as f64, ft - it as f64);
    let v = |i: usize, j: usize| t.values[j * nu + i];
    (v(iu, it) * (1.0 - a) + v(iu + 1, it) * a) * (1.0 - b)
        + (v(iu, it + 1) * (1.0 - a) + v(iu + 1, it + 1) * a) * b
}

/// Adds a subhalo's dark matter (its bound mass spread over its truncation disc, which
/// keeps the infall profile's central density) to `map`.
pub fn add_subhalo(map: &mut [f64], grid: &Grid, centre: (f64, f64), s: &Subhalo) {
    let tau = s.rt / s.rs;
    let pos = (centre.0 + s.pos.0, centre.1 + s.pos.1);
    grid.add_stamp(map, pos, s.rt, s.mass, |r| {
        truncated_nfw_shape(r / s.rt, tau)
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn subhalo_masses_follow_the_minus_1_9_power_law() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (lo, hi) = (1e11, 3e13);
        let n = 20000;
        let ms: Vec<f64> = (0..n)
            .map(|_| draw_power_law(&mut rng, lo, hi, 1.9))
            .collect();
        assert!(ms.iter().all(|&m| (lo..=hi).contains(&m)));
        // The fraction above 10¹² follows the CDF of m^−1.9 exactly.
        let cdf = |m: f64| (lo.powf(-0.9) - m.powf(-0.9)) / (lo.powf(-0.9) - hi.powf(-0.9));
        let above = ms.iter().filter(|&&m| m > 1e12).count() as f64 / n as f64;
        let want = 1.0 - cdf(1e12);
        assert!((above - want).abs() < 0.01, "{above} vs {want}");
    }

    /// 10 % of the host in stripped Duffy subhaloes with 1–3 % stars.
    fn stripped_duffy() -> SubhaloSettings {
        SubhaloSettings {
            mass_fraction: 0.1,
            relation: ConcentrationRelation::Duffy,
            concentration_factor: 1.0,
            stellar_fraction: (0.01, 0.03),
            strip: true,
        }
    }

    #[test]
    fn subhaloes_hold_about_ten_percent_of_the_host() {
        let host = Halo::new(5e14, 4.0, 0.0, 0.2);
        let set = stripped_duffy();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..20 {
            let subs = draw_subhaloes(&mut rng, &host, 0.2, &set);
            let total: f64 = subs.iter().map(|s| s.infall_mass).sum();
            assert!(
                (0.1..0.2).contains(&(total / host.m200)),
                "{}",
                total / host.m200
            );
            for s in &subs {
                assert!(s.rt > 0.0 && s.rt <= 30.0 * s.rs);
                let f = s.stellar_mass / s.infall_mass;
                assert!((0.01..=0.03).contains(&f));
                assert!(s.mass <= s.infall_mass && s.mass > 0.0);
                assert!((s.pos.0.powi(2) + s.pos.1.powi(2)).sqrt() <= host.r200 * 1.0001);
            }
        }
    }

    #[test]
    fn stripping_keeps_the_infall_profile_inside_the_tidal_radius() {
        // The bound mass is the infall NFW's mass inside r_t, so the stamp's central
        // surface density (its chord integral out to r_t) is the infall halo's, minus only
        // the line-of-sight tail beyond r_t: never above it.
        let host = Halo::new(8e14, 4.0, 0.0, 0.2);
        let set = stripped_duffy();
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let subs = draw_subhaloes(&mut rng, &host, 0.2, &set);
        let mut stripped = 0;
        for s in subs.iter().take(200) {
            let c = s.infall_mass / s.mass;
            assert!(c >= 1.0 - 1e-12);
            if c > 1.5 {
                stripped += 1;
            }
            // Σ at R = 0.05 r_t: the stamp against the untruncated infall NFW.
            let tau = s.rt / s.rs;
            let (nr, mut norm) = (4000, 0.0);
            for i in 0..nr {
                let u = (i as f64 + 0.5) / nr as f64;
                norm += truncated_nfw_shape(u, tau) * u * 2.0 * std::f64::consts::PI / nr as f64;
            }
            let stamp = s.mass / (s.rt * s.rt) * truncated_nfw_shape(0.05, tau) / norm;
            let r200 = cosmology::r_delta(s.infall_mass, 200.0, 0.2);
            let nfw = Halo::with_radius(s.infall_mass, r200, r200 / s.rs, 0.0);
            let want = nfw.sigma_nfw(0.05 * s.rt);
            assert!(
                stamp <= want * 1.03 && stamp > 0.5 * want,
                "stamp {stamp} vs infall NFW {want} (τ = {tau})"
            );
        }
        assert!(
            stripped > 10,
            "most subhaloes near the centre lose mass: {stripped}"
        );
    }

    #[test]
    fn truncated_profile_falls_to_zero_at_the_truncation_radius() {
        for &tau in &[0.7, 3.0, 20.0] {
            let c = truncated_nfw_shape(0.01, tau);
            let m = truncated_nfw_shape(0.5, tau);
            let e = truncated_nfw_shape(0.995, tau);
            assert!(c > m && m > e && e >= 0.0, "τ = {tau}: {c} {m} {e}");
            assert_eq!(truncated_nfw_shape(1.0, tau), 0.0);
        }
    }
}
