//! One cluster map from its set: `draw_cluster` draws every physical parameter from the
//! set's distributions (in a fixed order, so that σ/m and feedback change no other draw),
//! `render_cluster` projects the components onto the mass, X-ray and stellar channels in
//! physical units, and `simulate_map` adds PSF and noise, normalises each channel by its
//! maximum and returns the catalog record.

use super::config::{Centring, Channel, SetConfig};
use super::galaxies::SATELLITE_SIGMA_KPC;
use super::galaxies::{bcg_mass_median, bcg_offset_median, Bcg};
use super::gas::{central_density_median, feedback_strength, gas_fraction, BetaModel};
use super::halo::{axis_ratio, core_radius_median, draw_log_mass, halo_r_delta, Halo};
use super::noise;
use super::render::{gaussian_blur, Grid};
use super::substructure::{add_subhalo, draw_subhaloes, Subhalo, SubhaloSettings};
use super::table::RadialTable;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Log-normal scatter of the SIDM core radius (±40 %), in dex.
const CORE_SCATTER_DEX: f64 = 0.146;
/// Scale radius r1 of the SIDM rounding q(R) (kpc) [E].
const ROUNDING_R1_KPC: f64 = 150.0;
/// Supersampling radius around every cusp, in pixels.
const SUPERSAMPLE_PX: f64 = 2.5;

/// A merging secondary: its dark matter, gas and galaxies at separate positions.
#[derive(Clone, Debug)]
pub struct Merger {
    /// Dark-matter halo of the secondary.
    pub halo: Halo,
    /// Axis ratio and position angle of its dark matter.
    pub q0: f64,
    /// Position angle (radians).
    pub pa: f64,
    /// Dark-matter centre (kpc from the host centre).
    pub dm_pos: (f64, f64),
    /// Gas centre: trails the dark matter.
    pub gas_pos: (f64, f64),
    /// Its gas.
    pub gas: BetaModel,
    /// Its central galaxy (offset = the galaxies' position).
    pub bcg: Bcg,
}

/// Every drawn parameter of one map.
#[derive(Clone, Debug)]
pub struct ClusterParams {
    /// Redshift.
    pub z: f64,
    /// Total mass M200 (M☉).
    pub m200: f64,
    /// M500 (M☉).
    pub m500: f64,
    /// Concentration c200.
    pub concentration: f64,
    /// SIDM core radius (kpc).
    pub core_kpc: f64,
    /// Smooth host dark matter (M200 less gas, BCG and subhaloes, same shape).
    pub host: Halo,
    /// Outer axis ratio of the dark matter.
    pub q0: f64,
    /// Position angle (radians).
    pub pa: f64,
    /// σ/m used for the rounding (cm²/g).
    pub sigma: f64,
    /// Feedback strength a.
    pub feedback_a: f64,
    /// Host gas.
    pub gas: BetaModel,
    /// Gas axis ratio (1 + q0)/2.
    pub gas_q: f64,
    /// Whether the gas has a cool core.
    pub cool_core: bool,
    /// Central galaxy, offset from the halo centre by its wobble.
    pub bcg: Bcg,
    /// Subhaloes with their satellites.
    pub subhaloes: Vec<Subhalo>,
    /// Merging secondary, if any.
    pub merger: Option<Merger>,
    /// X-ray peak counts when X-ray noise is on.
    pub xray_peak_counts: Option<f64>,
    /// Where the cluster centre lies on the grid (kpc from the field's centre), per the
    /// set's `centre`.
    pub centre: (f64, f64),
}

impl ClusterParams {
    /// Stellar mass (BCGs and satellites) over M200.
    pub fn stellar_fraction(&self) -> f64 {
        let sats: f64 = self.subhaloes.iter().map(|s| s.stellar_mass).sum();
        let sec = self.merger.as_ref().map_or(0.0, |m| m.bcg.mass);
        (self.bcg.mass + sats + sec) / self.m200
    }

    /// Distance of the BCG from the halo centre (kpc).
    pub fn bcg_offset_kpc(&self) -> f64 {
        self.bcg.offset.0.hypot(self.bcg.offset.1)
    }
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    StandardNormal.sample(rng)
}

fn uniform(rng: &mut ChaCha8Rng, (lo, hi): (f64, f64)) -> f64 {
    lo + (hi - lo) * rng.gen::<f64>()
}

/// Draws all parameters of one cluster of `set`. The sequence of draws does not depend
/// on σ/m or feedback: the same seed gives the same cluster whatever they are.
pub fn draw_cluster(set: &SetConfig, rng: &mut ChaCha8Rng) -> ClusterParams {
    let z = uniform(rng, set.z_range);
    let m200 = 10f64.powf(draw_log_mass(
        rng.gen::<f64>(),
        set.log_m200_range,
        set.mass_cutoff,
    ));
    let c_scatter = 10f64.powf(set.concentration_scatter_dex * normal(rng));
    let concentration = set.concentration.median(m200, z) * set.concentration_factor * c_scatter;
    let core_kpc = core_radius_median(set.sigma, m200) * 10f64.powf(CORE_SCATTER_DEX * normal(rng));
    let q0 = (0.65 + 0.12 * normal(rng)).clamp(0.35, 1.0);
    let pa = rng.gen::<f64>() * std::f64::consts::PI;
    let full = Halo::new(m200, concentration, core_kpc, z).with_core(set.core);
    // Gas and galaxies scale with the halo's M500, taken from the cuspy profile so that
    // the dark-matter core changes nothing but the dark matter.
    let cusp = Halo::new(m200, concentration, 0.0, z);
    let r500 = halo_r_delta(&cusp, 500.0, z);
    let m500 = cusp.mass_3d(r500);
    let a = feedback_strength(set.log_dt);

    let cool_core = rng.gen::<f64>() < set.cool_core_fraction;
    let beta = (set.gas_beta + set.gas_beta_scatter * normal(rng)).clamp(0.4, 1.2);
    let rc_gas = if cool_core {
        uniform(rng, (20.0, 60.0))
    } else {
        uniform(rng, (0.1, 0.2)) * r500
    } * 10f64.powf(0.1 * a);
    let n0 = central_density_median(m200, cool_core)
        * 10f64.powf(0.15 * normal(rng))
        * 10f64.powf(-0.15 * a);
    let f_gas = gas_fraction(m500) * (1.0 - 0.08 * a);
    let gas = BetaModel::new(beta, rc_gas, n0, f_gas * m200, full.r200, z);

    let bcg_mass = bcg_mass_median(m500, a) * 10f64.powf(0.1 * normal(rng));
    let r_eff = uniform(rng, (10.0, 30.0));
    let wobble = bcg_offset_median(core_kpc) * 10f64.powf(0.3 * normal(rng));
    let angle = rng.gen::<f64>() * std::f64::consts::TAU;
    let bcg = Bcg {
        mass: bcg_mass,
        r_eff,
        offset: (wobble * angle.cos(), wobble * angle.sin()),
    };

    let k = set.satellite_stellar_factor;
    let subs = SubhaloSettings {
        mass_fraction: set.subhalo_fraction,
        relation: set.concentration,
        concentration_factor: set.concentration_factor,
        stellar_fraction: (0.01 * k, 0.03 * k),
        strip: set.strip_subhaloes,
    };
    let subhaloes = draw_subhaloes(rng, &full, z, &subs);
    let m_subs: f64 = subhaloes.iter().map(|s| s.mass).sum();
    let m_smooth = (m200 - f_gas * m200 - bcg_mass - m_subs).max(0.3 * m200);
    let host = Halo::with_radius(m_smooth, full.r200, concentration, core_kpc).with_core(set.core);

    let merger = if rng.gen::<f64>() < set.merger_fraction {
        Some(draw_merger(set, rng, m200, z, a, beta, f_gas))
    } else {
        None
    };
    let xray_peak_counts = set
        .xray_counts
        .map(|(lo, hi)| (lo.ln() + (hi.ln() - lo.ln()) * rng.gen::<f64>()).exp());
    // Drawn last, and only when jittered: every other draw stays as it was.
    let on_pixel = if set.pixels.is_multiple_of(2) {
        0.5 * set.pixel_kpc
    } else {
        0.0
    };
    let centre = match set.centre {
        Centring::Field => (0.0, 0.0),
        Centring::Pixel => (on_pixel, on_pixel),
        Centring::Jitter => (
            on_pixel + (rng.gen::<f64>() - 0.5) * set.pixel_kpc,
            on_pixel + (rng.gen::<f64>() - 0.5) * set.pixel_kpc,
        ),
    };
    ClusterParams {
        z,
        m200,
        m500,
        concentration,
        core_kpc,
        host,
        q0,
        pa,
        sigma: set.sigma,
        feedback_a: a,
        gas,
        gas_q: 0.5 * (1.0 + q0),
        cool_core,
        bcg,
        subhaloes,
        merger,
        xray_peak_counts,
        centre,
    }
}

/// A secondary of mass ratio 1:2–1:10 at 0.2–0.8 Mpc [E]. Galaxies lead, the gas trails
/// by a star–gas offset of 20–80 kpc [E], and the dark matter lags the galaxies by
/// β = 0.1 σ/m of that offset [E after S:1503.07675].
fn draw_merger(
    set: &SetConfig,
    rng: &mut ChaCha8Rng,
    m200: f64,
    z: f64,
    a: f64,
    beta: f64,
    f_gas: f64,
) -> Merger {
    let ratio = 10f64.powf(uniform(rng, (2f64.log10(), 1.0)));
    let mass = m200 / ratio;
    let sep = uniform(rng, (200.0, 800.0));
    let dir = rng.gen::<f64>() * std::f64::consts::TAU;
    let (ux, uy) = (dir.cos(), dir.sin());
    let star_gas = uniform(rng, (20.0, 80.0));
    let c = set.concentration.median(mass, z)
        * set.concentration_factor
        * 10f64.powf(set.concentration_scatter_dex * normal(rng));
    let core = core_radius_median(set.sigma, mass) * 10f64.powf(CORE_SCATTER_DEX * normal(rng));
    let q0 = (0.65 + 0.12 * normal(rng)).clamp(0.35, 1.0);
    let pa = rng.gen::<f64>() * std::f64::consts::PI;
    let halo = Halo::new(mass, c, core, z).with_core(set.core);
    let cusp = Halo::new(mass, c, 0.0, z);
    let r500 = halo_r_delta(&cusp, 500.0, z);
    let m500 = cusp.mass_3d(r500);
    let bcg_mass = bcg_mass_median(m500, a) * 10f64.powf(0.1 * normal(rng));
    let r_eff = uniform(rng, (10.0, 30.0));
    let n0 = 0.5 * central_density_median(mass, false) * 10f64.powf(-0.15 * a);
    let rc_gas = 0.1 * r500 * 10f64.powf(0.1 * a);
    let gas = BetaModel::new(beta, rc_gas, n0, 0.5 * f_gas * mass, halo.r200, z);
    let stars = (sep * ux, sep * uy);
    let lag = (0.1 * set.sigma).min(1.0) * star_gas;
    Merger {
        halo,
        q0,
        pa,
        dm_pos: (stars.0 - lag * ux, stars.1 - lag * uy),
        gas_pos: (stars.0 - star_gas * ux, stars.1 - star_gas * uy),
        gas,
        bcg: Bcg {
            mass: bcg_mass,
            r_eff,
            offset: stars,
        },
    }
}

/// The three channels in physical units: mass and stars in M☉ per pixel, X-ray in the
/// gas model's units per pixel.
#[derive(Clone, Debug)]
pub struct ClusterMaps {
    /// Total projected mass.
    pub mass: Vec<f64>,
    /// X-ray surface brightness.
    pub xray: Vec<f64>,
    /// Stellar mass.
    pub stellar: Vec<f64>,
}

/// Adds an elliptical halo with the SIDM-rounded axis ratio q(R) to `mass`.
#[allow(clippy::too_many_arguments)]
fn add_halo(
    grid: &Grid,
    mass: &mut [f64],
    halo: &Halo,
    centre: (f64, f64),
    q0: f64,
    pa: f64,
    sigma: f64,
) {
    let profile = halo.projected();
    let (c, s) = (pa.cos(), pa.sin());
    let ss = SUPERSAMPLE_PX * grid.pixel_kpc;
    if axis_ratio(q0, sigma, 0.0, ROUNDING_R1_KPC) == q0 {
        // No SIDM rounding: one axis ratio everywhere.
        let inv_q = 1.0 / q0;
        grid.for_each_sample(centre, ss, |p, dx, dy, w| {
            let (x, y) = (dx * c + dy * s, -dx * s + dy * c);
            mass[p] += profile.at_squared(q0 * x * x + y * y * inv_q) * w;
        });
    } else {
        let q_of_r = RadialTable::from_fn(|r| axis_ratio(q0, sigma, r, ROUNDING_R1_KPC));
        grid.for_each_sample(centre, ss, |p, dx, dy, w| {
            let q = q_of_r.at_squared(dx * dx + dy * dy);
            let (x, y) = (dx * c + dy * s, -dx * s + dy * c);
            mass[p] += profile.at_squared(q * x * x + y * y / q) * w;
        });
    }
}

/// Adds a beta-model gas halo (axis ratio q) to the mass and X-ray maps.
fn add_gas(
    grid: &Grid,
    maps: &mut ClusterMaps,
    gas: &BetaModel,
    centre: (f64, f64),
    q: f64,
    pa: f64,
) {
    let (c, s) = (pa.cos(), pa.sin());
    let ss = (SUPERSAMPLE_PX * grid.pixel_kpc).min(gas.rc);
    let (mass, xray) = RadialTable::pair_from_fn(|r| gas.sigma_and_xray(r));
    let inv_q = 1.0 / q;
    grid.for_each_sample(centre, ss, |p, dx, dy, w| {
        let (x, y) = (dx * c + dy * s, -dx * s + dy * c);
        let r2 = q * x * x + y * y * inv_q;
        maps.mass[p] += mass.at_squared(r2) * w;
        maps.xray[p] += xray.at_squared(r2) * w;
    });
}

/// Adds a central galaxy (at its offset from the host centre `c`) to the mass and stellar
/// maps.
fn add_bcg(grid: &Grid, maps: &mut ClusterMaps, bcg: &Bcg, c: (f64, f64)) {
    let profile = RadialTable::from_fn(|r| bcg.sigma(r));
    let ss = SUPERSAMPLE_PX * grid.pixel_kpc;
    let at = (c.0 + bcg.offset.0, c.1 + bcg.offset.1);
    grid.for_each_sample(at, ss, |p, dx, dy, w| {
        let v = profile.at_squared(dx * dx + dy * dy) * w;
        maps.mass[p] += v;
        maps.stellar[p] += v;
    });
}

/// Projects every component of `params` onto the set's grid (no PSF, no noise).
pub fn render_cluster(params: &ClusterParams, set: &SetConfig) -> ClusterMaps {
    let grid = Grid {
        n: set.pixels,
        pixel_kpc: set.pixel_kpc,
    };
    let n2 = grid.n * grid.n;
    let mut maps = ClusterMaps {
        mass: vec![0.0; n2],
        xray: vec![0.0; n2],
        stellar: vec![0.0; n2],
    };
    if set.pure_noise {
        return maps;
    }
    let p = params;
    let c = p.centre;
    let at = |d: (f64, f64)| (c.0 + d.0, c.1 + d.1);
    add_halo(&grid, &mut maps.mass, &p.host, c, p.q0, p.pa, p.sigma);
    add_gas(&grid, &mut maps, &p.gas, c, p.gas_q, p.pa);
    add_bcg(&grid, &mut maps, &p.bcg, c);
    for s in &p.subhaloes {
        add_subhalo(&mut maps.mass, &grid, c, s);
        if s.stellar_mass > 0.0 {
            grid.add_gaussian(
                &mut maps.mass,
                at(s.pos),
                SATELLITE_SIGMA_KPC,
                s.stellar_mass,
            );
            grid.add_gaussian(
                &mut maps.stellar,
                at(s.pos),
                SATELLITE_SIGMA_KPC,
                s.stellar_mass,
            );
        }
    }
    if let Some(m) = &p.merger {
        add_halo(
            &grid,
            &mut maps.mass,
            &m.halo,
            at(m.dm_pos),
            m.q0,
            m.pa,
            p.sigma,
        );
        add_gas(&grid, &mut maps, &m.gas, at(m.gas_pos), 1.0, 0.0);
        add_bcg(&grid, &mut maps, &m.bcg, c);
    }
    if p.feedback_a != 0.0 {
        // AGN feedback flattens the total-mass centre: × [1 − 0.08a·e^(−R/40 kpc)].
        for iy in 0..grid.n {
            for ix in 0..grid.n {
                let r = (grid.coord(ix) - c.0).hypot(grid.coord(iy) - c.1);
                maps.mass[iy * grid.n + ix] *= 1.0 - 0.08 * p.feedback_a * (-r / 40.0).exp();
            }
        }
    }
    maps
}

/// Applies the set's PSF and noise models to rendered maps, drawing from `rng`.
pub fn observe(
    maps: &mut ClusterMaps,
    params: &ClusterParams,
    set: &SetConfig,
    rng: &mut ChaCha8Rng,
) {
    let n = set.pixels;
    if set.psf_sigma_px > 0.0 {
        for m in [&mut maps.mass, &mut maps.xray, &mut maps.stellar] {
            gaussian_blur(m, n, set.psf_sigma_px);
        }
    }
    if let Some(n_gal) = set.lensing_n_gal {
        let sigma = noise::shear_noise_sigma(n_gal, set.pixel_kpc);
        noise::lensing_reconstruction(&mut maps.mass, n, set.pixel_kpc, sigma, rng);
    }
    if let Some(peak) = params.xray_peak_counts {
        noise::xray_counts(&mut maps.xray, peak, rng);
        if set.pure_noise {
            // Empty sky has no stars either: give the stellar channel the same background.
            noise::xray_counts(&mut maps.stellar, peak, rng);
        }
    }
}

/// The channel's map in physical units.
pub fn channel(maps: &ClusterMaps, c: Channel) -> &[f64] {
    match c {
        Channel::Mass => &maps.mass,
        Channel::Xray => &maps.xray,
        Channel::Stellar => &maps.stellar,
    }
}

/// Divides `map` by its maximum (by max |v| if nothing is positive) into `out`, and
/// returns that divisor; 0 for an all-zero map, which stays zero.
pub fn normalise_into(map: &[f64], out: &mut [f32]) -> f64 {
    let max = map.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let norm = if max > 0.0 {
        max
    } else {
        map.iter().fold(0.0f64, |a, v| a.max(v.abs()))
    };
    let inv = if norm > 0.0 { 1.0 / norm } else { 0.0 };
    for (o, v) in out.iter_mut().zip(map) {
        *o = (v * inv) as f32;
    }
    norm
}

#[cfg(test)]
#[path = "physics_tests.rs"]
mod physics_tests;
