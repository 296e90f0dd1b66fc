//! Dark-matter haloes: NFW and SIDM-cored NFW (the mass-conserving coreNFW of Read, Agertz
//! & Collins 2016: M(<r) = M_NFW(<r)·tanh(r/r_c)) density profiles, the Duffy and Dutton–Macciò
//! concentration relations, the r_c(σ/m, M200) core scaling, the radius-dependent SIDM
//! rounding, and projection to surface density — analytic for NFW (Bartelmann 1996;
//! Wright & Brainerd 2000) and a line-of-sight integral into a 1-D table for cored haloes.
//! Units: kpc, M☉. Rendering onto pixels lives in `render.rs`.

use super::cosmology;
use super::table::RadialTable;
use std::f64::consts::PI;

/// m(x) = ln(1 + x) − x/(1 + x): the NFW enclosed-mass shape.
pub fn nfw_mass_shape(x: f64) -> f64 {
    (1.0 + x).ln() - x / (1.0 + x)
}

/// The concentration–mass relation a set uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ConcentrationRelation {
    /// Duffy et al. 2008 [S:0804.2486], full sample, c200.
    Duffy,
    /// Dutton & Macciò 2014 [S:1402.7073], NFW c200 (Planck cosmology): higher at cluster
    /// masses; stands in for "a different simulation code" (DARKSKIES-like sets) [E].
    DuttonMaccio,
}

impl ConcentrationRelation {
    /// Median c200 at mass `m200` (M☉) and redshift z.
    pub fn median(self, m200: f64, z: f64) -> f64 {
        let mh = m200 * cosmology::H; // h⁻¹ M☉
        match self {
            ConcentrationRelation::Duffy => {
                5.71 * (mh / 2.0e12).powf(-0.084) * (1.0 + z).powf(-0.47)
            }
            ConcentrationRelation::DuttonMaccio => {
                let b = -0.101 + 0.026 * z;
                let a = 0.520 + (0.905 - 0.520) * (-0.617 * z.powf(1.21)).exp();
                10f64.powf(a + b * (mh / 1.0e12).log10())
            }
        }
    }
}

/// Reference SIDM core radii (kpc) at M200 = 3×10¹⁴ M☉ from SCIENCE.md, as (σ/m, r_c).
const CORE_TABLE: [(f64, f64); 5] = [(0.05, 0.5), (0.1, 1.6), (0.2, 5.6), (0.3, 9.9), (1.0, 35.0)];

/// Median SIDM core radius (kpc) for σ/m (cm²/g) and M200 (M☉): the reference values of
/// the isothermal-Jeans fit interpolated as a piecewise power law in σ/m (power-law
/// extrapolation with the end slopes), times (M200/3×10¹⁴)^0.7. Zero for CDM.
pub fn core_radius_median(sigma: f64, m200: f64) -> f64 {
    if sigma <= 0.0 {
        return 0.0;
    }
    let ls = sigma.ln();
    let t = &CORE_TABLE;
    let seg = if sigma <= t[1].0 {
        0
    } else if sigma >= t[3].0 {
        3
    } else {
        (1..3).find(|&i| sigma <= t[i + 1].0).unwrap_or(2)
    };
    let (s0, r0) = t[seg];
    let (s1, r1) = t[seg + 1];
    let slope = (r1.ln() - r0.ln()) / (s1.ln() - s0.ln());
    let ln_rc = r0.ln() + slope * (ls - s0.ln());
    ln_rc.exp() * (m200 / 3.0e14).powf(0.7)
}

/// How an SIDM core reshapes the NFW profile.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum CoreModel {
    /// Mass-conserving coreNFW, M(<r) = M_NFW(<r)·tanh(r/(k·r_c)): unchanged beyond
    /// r₁ ≈ 3k·r_c. k = 1.5 gives the central density of SCIENCE.md's profile.
    Conserving(f64),
    /// SCIENCE.md's ρ0 r_s³/[(r + r_c)(r + r_s)²] renormalised to M200: depressed out to
    /// ~10 r_c, outskirts raised by a few percent.
    #[default]
    Extended,
}

/// A spherical (cored) NFW halo. The core moves mass outwards only inside a few r_c:
/// M(<r) = M_NFW(<r)·tanh(r/r_c), so beyond ~3 r_c the profile is the NFW's to < 1 % and
/// the outskirts are untouched (a core that multiplies ρ by r/(r + r_c) instead depresses
/// it out to ~10 r_c and, renormalised, raises the outskirts). r_c = 0 is NFW.
#[derive(Clone, Copy, Debug)]
pub struct Halo {
    /// Mass inside r200 (M☉) that the profile is normalised to.
    pub m200: f64,
    /// Radius enclosing 200× the critical density (kpc).
    pub r200: f64,
    /// Concentration r200/r_s.
    pub c: f64,
    /// Scale radius (kpc).
    pub rs: f64,
    /// Core radius (kpc); 0 is a cusp.
    pub rc: f64,
    /// How the core is shaped.
    pub core: CoreModel,
    /// Density normalisation ρ0 (M☉/kpc³).
    pub rho0: f64,
}

impl Halo {
    /// A halo with total mass `m200`, concentration `c` and core `rc` (SCIENCE.md's
    /// extended shape; `with_core` changes it) at redshift z; ρ0 is set so that the mass
    /// inside r200 stays `m200` whatever the core.
    pub fn new(m200: f64, c: f64, rc: f64, z: f64) -> Halo {
        let r200 = cosmology::r_delta(m200, 200.0, z);
        Halo::with_radius(m200, r200, c, rc)
    }

    /// As `new`, with r200 given (subhaloes and normalisation tricks).
    pub fn with_radius(m200: f64, r200: f64, c: f64, rc: f64) -> Halo {
        let rs = r200 / c;
        Halo {
            m200,
            r200,
            c,
            rs,
            rc: rc.max(0.0),
            core: CoreModel::Extended,
            rho0: 1.0,
        }
        .normalised()
    }

    /// The same halo with its core shaped by `core`, still holding M200 inside r200.
    pub fn with_core(mut self, core: CoreModel) -> Halo {
        self.core = core;
        self.normalised()
    }

    fn normalised(mut self) -> Halo {
        self.rho0 = 1.0;
        self.rho0 = self.m200 / self.mass_3d(self.r200);
        self
    }

    /// The cusp's enclosed mass M_NFW(<r).
    fn mass_nfw(&self, r: f64) -> f64 {
        4.0 * PI * self.rho0 * self.rs.powi(3) * nfw_mass_shape(r / self.rs)
    }

    /// Density at radius r (M☉/kpc³).
    pub fn density(&self, r: f64) -> f64 {
        let r = r.max(1e-9);
        let nfw = self.rho0 * self.rs.powi(3) / (r * (r + self.rs).powi(2));
        if self.rc <= 0.0 {
            return nfw;
        }
        match self.core {
            CoreModel::Extended => {
                self.rho0 * self.rs.powi(3) / ((r + self.rc) * (r + self.rs).powi(2))
            }
            CoreModel::Conserving(k) => {
                // dM/dr / 4πr² of M_NFW·tanh(r/a): f·ρ_NFW + (1 − f²)·M_NFW / (4π r² a).
                let a = k * self.rc;
                let f = (r / a).tanh();
                // Near the centre M_NFW/r² → 2π ρ0 r_s; the series keeps the core exact.
                let m_over_r2 = if r < 1e-4 * self.rs {
                    2.0 * PI * self.rho0 * self.rs * (1.0 - 4.0 * r / (3.0 * self.rs))
                } else {
                    self.mass_nfw(r) / (r * r)
                };
                f * nfw + (1.0 - f * f) * m_over_r2 / (4.0 * PI * a)
            }
        }
    }

    /// Mass inside the sphere of radius r.
    pub fn mass_3d(&self, r: f64) -> f64 {
        if self.rc <= 0.0 {
            return self.mass_nfw(r);
        }
        match self.core {
            CoreModel::Conserving(k) => self.mass_nfw(r) * (r / (k * self.rc)).tanh(),
            CoreModel::Extended => {
                // Partial fractions of r²/[(r + a)(r + b)²], a = r_c, b = r_s; a core equal
                // to r_s makes the fraction degenerate, so nudge it.
                let b = self.rs;
                let a = if (self.rc - b).abs() < 1e-6 * b {
                    b * (1.0 - 1e-6)
                } else {
                    self.rc
                };
                let ca = a * a / ((b - a) * (b - a));
                let cb = 1.0 - ca;
                let cc = b * b / (a - b);
                let shape = ca * ((r + a) / a).ln()
                    + cb * ((r + b) / b).ln()
                    + cc * (1.0 / b - 1.0 / (r + b));
                4.0 * PI * self.rho0 * self.rs.powi(3) * shape
            }
        }
    }

    /// Analytic projected NFW surface density at R (M☉/kpc²); ignores the core.
    pub fn sigma_nfw(&self, r_proj: f64) -> f64 {
        let x = (r_proj / self.rs).max(1e-12);
        2.0 * self.rho0 * self.rs * nfw_sigma_shape(x)
    }

    /// Analytic projected NFW mass inside the cylinder of radius R (M☉); ignores the core.
    pub fn mass_2d_nfw(&self, r_proj: f64) -> f64 {
        let x = r_proj / self.rs;
        4.0 * PI * self.rho0 * self.rs.powi(3) * nfw_mass_2d_shape(x)
    }

    /// Surface density by the line-of-sight integral Σ(R) = 2∫ρ(R cosh t) R cosh t dt
    /// (Simpson's rule out to 10³ r_s): valid for any core.
    pub fn sigma_numeric(&self, r_proj: f64) -> f64 {
        let r_proj = r_proj.max(1e-9);
        let t_max = (2.0e3 * self.rs.max(r_proj) / r_proj).ln().max(1.0);
        let n = 2 * ((t_max / 0.1).ceil() as usize).max(8);
        let h = t_max / n as f64;
        let f = |t: f64| {
            let ch = t.cosh();
            self.density(r_proj * ch) * r_proj * ch
        };
        let mut s = f(0.0) + f(t_max);
        for i in 1..n {
            s += if i % 2 == 1 { 4.0 } else { 2.0 } * f(i as f64 * h);
        }
        2.0 * s * h / 3.0
    }

    /// The projected profile as a table: analytic for a cusp, numeric for a core.
    pub fn projected(&self) -> RadialTable {
        if self.rc <= 0.0 {
            RadialTable::from_fn(|r| self.sigma_nfw(r))
        } else {
            // One t grid for every radius (out to 2×10³ r_s from the smallest), so the
            // cosh values are computed once.
            let t_max = (2.0e3 * self.rs / super::table::R_MIN).ln();
            let n = 2 * (t_max / 0.1).ceil() as usize;
            let h = t_max / n as f64;
            let nodes: Vec<(f64, f64)> = (0..=n)
                .map(|i| {
                    let w = if i == 0 || i == n {
                        1.0
                    } else if i % 2 == 1 {
                        4.0
                    } else {
                        2.0
                    };
                    ((i as f64 * h).cosh(), w * 2.0 * h / 3.0)
                })
                .collect();
            // Beyond 2×10³ r_s along the line of sight the density adds < 10⁻⁶ of Σ.
            let r_cut = 2.0e3 * self.rs;
            RadialTable::from_fn_coarse(|r| {
                nodes
                    .iter()
                    .take_while(|&&(ch, _)| r * ch < r_cut)
                    .map(|&(ch, w)| w * self.density(r * ch) * r * ch)
                    .sum()
            })
        }
    }
}

/// Σ(x)/(2 ρ_s r_s) of the projected NFW: F(x)/(x² − 1), with Σ(1) = 1/3.
pub fn nfw_sigma_shape(x: f64) -> f64 {
    if (x - 1.0).abs() < 1e-4 {
        // Linear through the limit avoids the 0/0 of the closed form.
        return 1.0 / 3.0 - 0.4 * (x - 1.0);
    }
    let f = if x < 1.0 {
        let s = (1.0 - x * x).sqrt();
        1.0 - 2.0 / s * ((1.0 - x) / (1.0 + x)).sqrt().atanh()
    } else {
        let s = (x * x - 1.0).sqrt();
        1.0 - 2.0 / s * ((x - 1.0) / (x + 1.0)).sqrt().atan()
    };
    f / (x * x - 1.0)
}

/// M2D(<x r_s)/(4π ρ_s r_s³) of the projected NFW: ln(x/2) + arccosh-type term.
pub fn nfw_mass_2d_shape(x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let h = if (x - 1.0).abs() < 1e-7 {
        1.0
    } else if x < 1.0 {
        2.0 / (1.0 - x * x).sqrt() * ((1.0 - x) / (1.0 + x)).sqrt().atanh()
    } else {
        2.0 / (x * x - 1.0).sqrt() * ((x - 1.0) / (x + 1.0)).sqrt().atan()
    };
    (x / 2.0).ln() + h
}

/// log10 M200 for the uniform variate `u`: the inverse CDF of dn/dlnM ∝ M^−0.9·e^(−M/M*)
/// inside `range` (log10 M☉), or uniform in log M without a cut-off. One variate per
/// cluster whatever the mass function, so the rest of a cluster's draws stay put.
pub fn draw_log_mass(u: f64, range: (f64, f64), cutoff: Option<f64>) -> f64 {
    let (lo, hi) = range;
    let Some(m_star) = cutoff.filter(|_| hi > lo) else {
        return lo + (hi - lo) * u;
    };
    const N: usize = 1024;
    let x = |i: usize| lo + (hi - lo) * i as f64 / (N - 1) as f64;
    let pdf = |x: f64| {
        let m = 10f64.powf(x);
        (m / 1e14).powf(-0.9) * (-m / m_star).exp()
    };
    let mut cdf = vec![0.0; N];
    for i in 1..N {
        cdf[i] = cdf[i - 1] + 0.5 * (pdf(x(i - 1)) + pdf(x(i)));
    }
    let target = u * cdf[N - 1];
    let i = cdf.partition_point(|&c| c < target).clamp(1, N - 1);
    let (c0, c1) = (cdf[i - 1], cdf[i]);
    let f = if c1 > c0 {
        (target - c0) / (c1 - c0)
    } else {
        0.0
    };
    x(i - 1) + f * (x(i) - x(i - 1))
}

/// Axis ratio at projected radius R: q(R) = q0 + (1 − q0)·A·e^(−R/r1), the SIDM rounding
/// with A = min(1, 0.6√(σ/m)) [E].
pub fn axis_ratio(q0: f64, sigma: f64, r: f64, r1: f64) -> f64 {
    let a = (0.6 * sigma.max(0.0).sqrt()).min(1.0);
    q0 + (1.0 - q0) * a * (-r / r1).exp()
}

/// Radius inside which the mean density is `delta` × critical, by bisection (kpc).
pub fn halo_r_delta(h: &Halo, delta: f64, z: f64) -> f64 {
    let target = delta * cosmology::rho_crit(z) * 4.0 / 3.0 * PI;
    let (mut lo, mut hi) = (1e-3 * h.r200, 3.0 * h.r200);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if h.mass_3d(mid) > target * mid.powi(3) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
#[path = "halo_tests.rs"]
mod tests;
