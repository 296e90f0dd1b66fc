//! Physics tests of the generator: projected masses, the core–σ/m relation seen in maps,
//! the BCG wobble, and the feedback/σ/m confound.

use super::*;
use crate::data::sim::galaxies::hernquist_mass_2d_fraction;
use crate::data::sim::halo::CoreModel;
use crate::data::sim::presets::named_set;
use rand::SeedableRng;

fn grid_of(set: &SetConfig) -> Grid {
    Grid {
        n: set.pixels,
        pixel_kpc: set.pixel_kpc,
    }
}

/// Mass inside the circle of radius `r` about the map centre, pixels weighted by the
/// fraction of their area inside (16×16 sub-samples).
fn aperture_mass(map: &[f64], grid: &Grid, r: f64) -> f64 {
    let k = 16;
    let mut total = 0.0;
    for iy in 0..grid.n {
        for ix in 0..grid.n {
            let (x, y) = (grid.coord(ix), grid.coord(iy));
            let h = grid.pixel_kpc;
            if x.hypot(y) > r + h || map[iy * grid.n + ix] == 0.0 {
                continue;
            }
            let mut inside = 0;
            for sy in 0..k {
                for sx in 0..k {
                    let px = x + ((sx as f64 + 0.5) / k as f64 - 0.5) * h;
                    let py = y + ((sy as f64 + 0.5) / k as f64 - 0.5) * h;
                    inside += (px.hypot(py) < r) as usize;
                }
            }
            total += map[iy * grid.n + ix] * inside as f64 / (k * k) as f64;
        }
    }
    total
}

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

#[test]
fn projected_nfw_mass_in_an_aperture_matches_the_analytic_m2d_to_one_percent() {
    let set = SetConfig::bahamas("t", 0.0);
    let grid = grid_of(&set);
    for &(m200, c, z) in &[(3e14, 4.0, 0.2), (1.5e15, 3.0, 0.05), (1e14, 6.0, 0.4)] {
        let halo = Halo::new(m200, c, 0.0, z);
        let mut map = vec![0.0; grid.n * grid.n];
        add_halo(&grid, &mut map, &halo, (0.0, 0.0), 1.0, 0.0, 0.0);
        for &r in &[60.0, 200.0, 500.0, 950.0] {
            let got = aperture_mass(&map, &grid, r);
            let want = halo.mass_2d_nfw(r);
            assert!(
                (got / want - 1.0).abs() < 0.01,
                "M200 {m200:e}, R {r}: map {got:e} vs M2D {want:e}"
            );
        }
    }
}

#[test]
fn total_map_mass_matches_the_components_asked_for() {
    // A 4 Mpc field holds the R200 cylinder; round haloes so circles are the right aperture.
    let mut set = named_set("bahamas-cdm").unwrap();
    set.apply("pixel_kpc=40").unwrap();
    set.apply("merger=0").unwrap();
    for seed in 0..4 {
        let mut p = draw_cluster(&set, &mut rng(seed));
        p.q0 = 1.0;
        p.gas_q = 1.0;
        let maps = render_cluster(&p, &set);
        let grid = grid_of(&set);
        let r200 = p.host.r200;
        let got = aperture_mass(&maps.mass, &grid, r200);
        let mut want = p.host.mass_2d_nfw(r200) + gas_mass_inside(&p.gas, r200);
        want += p.bcg.mass * hernquist_mass_2d_fraction(r200 / p.bcg.scale());
        for s in &p.subhaloes {
            want += s.mass * fraction_inside(s, r200);
            if s.pos.0.hypot(s.pos.1) < r200 {
                want += s.stellar_mass;
            }
        }
        assert!(
            (got / want - 1.0).abs() < 0.01,
            "seed {seed}: map {got:e} vs components {want:e}"
        );
        // And the cylinder holds about M200 (plus the NFW's projected outskirts).
        let ratio = got / p.m200;
        assert!((1.0..1.6).contains(&ratio), "M_cyl/M200 = {ratio}");
    }
}

/// Fraction of a subhalo's projected mass inside the aperture of radius `r` about the
/// host centre, by a polar quadrature over its truncation disc (independent of pixels).
fn fraction_inside(s: &Subhalo, r: f64) -> f64 {
    let tau = s.rt / s.rs;
    let (nr, nt) = (200, 256);
    let (mut inside, mut total) = (0.0, 0.0);
    for i in 0..nr {
        let u = (i as f64 + 0.5) / nr as f64;
        let w = crate::data::sim::substructure::truncated_nfw_shape(u, tau) * u;
        for j in 0..nt {
            let th = (j as f64 + 0.5) / nt as f64 * std::f64::consts::TAU;
            let (x, y) = (s.pos.0 + u * s.rt * th.cos(), s.pos.1 + u * s.rt * th.sin());
            total += w;
            if x.hypot(y) < r {
                inside += w;
            }
        }
    }
    inside / total
}

fn gas_mass_inside(g: &BetaModel, r: f64) -> f64 {
    let p = 1.5 * g.beta - 0.5;
    let x = (r / g.rc).powi(2);
    std::f64::consts::PI * g.rc * g.rc * g.sigma0 * ((1.0 + x).powf(1.0 - p) - 1.0) / (1.0 - p)
}

/// Core radius fitted to the pixels of a round, dark-matter-only map by a grid and then
/// golden-section search in ln r_c, with the amplitude free (least squares in ln Σ over the pixels
/// between 3 pixels and 120 kpc, or the field's edge, from the centre).
fn fit_core(map: &[f64], grid: &Grid, m200: f64, c: f64, z: f64, core: CoreModel) -> f64 {
    let mut pts = Vec::new();
    for iy in 0..grid.n {
        for ix in 0..grid.n {
            let r = grid.coord(ix).hypot(grid.coord(iy));
            if r > 3.0 * grid.pixel_kpc && r < (0.45 * grid.n as f64 * grid.pixel_kpc).min(120.0) {
                pts.push((r, map[iy * grid.n + ix].ln()));
            }
        }
    }
    let cost = |ln_rc: f64| {
        let model = Halo::new(m200, c, ln_rc.exp(), z)
            .with_core(core)
            .projected();
        let d: Vec<f64> = pts.iter().map(|&(r, l)| l - model.at(r).ln()).collect();
        let mean = d.iter().sum::<f64>() / d.len() as f64;
        d.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
    };
    // The cost is not unimodal (a small core's ~1 % bump just outside it fits worse than
    // no core): a coarse grid first, then golden section around its best point.
    let (lo, hi) = ((0.05f64).ln(), (200f64).ln());
    let steps = 48;
    let at = |i: usize| lo + (hi - lo) * i as f64 / steps as f64;
    let costs: Vec<f64> = (0..=steps).map(|i| cost(at(i))).collect();
    let best = (0..=steps)
        .min_by(|&i, &j| costs[i].total_cmp(&costs[j]))
        .expect("a grid");
    let (mut a, mut b) = (at(best.saturating_sub(1)), at((best + 1).min(steps)));
    let g = 0.618_033_988_75;
    for _ in 0..20 {
        let (x1, x2) = (b - g * (b - a), a + g * (b - a));
        if cost(x1) < cost(x2) {
            b = x2;
        } else {
            a = x1;
        }
    }
    (0.5 * (a + b)).exp()
}

/// Fits the core of 4 maps per σ/m of `set_knobs` and checks each against its drawn r_c
/// (±10 %) and the medians against the reference values (±40 %, the scatter).
fn check_fitted_cores(knobs: &[&str], sigmas: &[f64], reference: &[f64]) {
    let mut medians = Vec::new();
    for &sigma in sigmas {
        let mut set = SetConfig::bahamas("t", sigma);
        for k in ["logm=14.4771..14.4771", "z=0.2..0.2"].iter().chain(knobs) {
            set.apply(k).unwrap();
        }
        let grid = grid_of(&set);
        let mut fits = Vec::new();
        for seed in 0..4 {
            let p = draw_cluster(&set, &mut rng(100 + seed));
            let mut map = vec![0.0; grid.n * grid.n];
            add_halo(&grid, &mut map, &p.host, (0.0, 0.0), 1.0, 0.0, 0.0);
            let fit = fit_core(&map, &grid, p.m200, p.concentration, p.z, set.core);
            assert!(
                (fit / p.core_kpc - 1.0).abs() < 0.1,
                "{knobs:?} σ/m {sigma}: fitted {fit} kpc, drawn {}",
                p.core_kpc
            );
            fits.push(fit);
        }
        fits.sort_by(f64::total_cmp);
        medians.push(0.5 * (fits[fits.len() / 2 - 1] + fits[fits.len() / 2]));
    }
    for (m, want) in medians.iter().zip(reference) {
        assert!(
            (m / want - 1.0).abs() < 0.4,
            "{knobs:?}: median fitted core {m} vs {want}"
        );
    }
    assert!(medians.windows(2).all(|w| w[0] < w[1]), "{medians:?}");
}

#[test]
fn fitted_core_radius_grows_with_sigma_as_specified() {
    // SCIENCE.md's extended core shows at 2 kpc pixels for every σ/m (reference values
    // at M200 = 3×10¹⁴: 1.6, 9.9, 35 kpc).
    check_fitted_cores(
        &["pixel_kpc=2", "pixels=128"],
        &[0.1, 0.3, 1.0],
        &[1.6, 9.9, 35.0],
    );
    // A mass-conserving core lowers Σ only inside ~r_c (and raises it by ~1 % just
    // outside): 0.5 kpc pixels resolve σ/m = 0.3 and 1; σ/m = 0.1's 1.6 kpc core is
    // checked through the profile (halo_tests) instead.
    check_fitted_cores(
        &["pixel_kpc=0.5", "pixels=256", "core=1.5"],
        &[0.3, 1.0],
        &[9.9, 35.0],
    );
}

#[test]
fn bcg_offsets_follow_the_specified_median() {
    for &(sigma, want) in &[(0.1, 1.9), (0.3, 3.975), (1.0, 10.25)] {
        let mut set = SetConfig::bahamas("t", sigma);
        for k in ["logm=14.4771..14.4771", "sub=0", "merger=0"] {
            set.apply(k).unwrap();
        }
        let mut r = rng(7);
        let mut offs: Vec<f64> = (0..1500)
            .map(|_| draw_cluster(&set, &mut r).bcg_offset_kpc())
            .collect();
        offs.sort_by(f64::total_cmp);
        let median = offs[offs.len() / 2];
        assert!(
            (median / want - 1.0).abs() < 0.08,
            "σ/m {sigma}: median {median} vs {want}"
        );
        // 0.3 dex scatter (plus the core's): the 16–84 % spread is at least ±0.3 dex.
        let spread = (offs[offs.len() * 84 / 100] / offs[offs.len() * 16 / 100]).log10() / 2.0;
        assert!(
            (0.28..0.45).contains(&spread),
            "σ/m {sigma}: spread {spread} dex"
        );
    }
}

/// Mean over clusters of (mass inside 40 kpc) / (mass inside 400 kpc) of the mass map.
fn central_concentration(set: &SetConfig, seeds: std::ops::Range<u64>) -> f64 {
    let grid = grid_of(set);
    let n = seeds.end - seeds.start;
    seeds
        .map(|s| {
            let p = draw_cluster(set, &mut rng(s));
            let m = render_cluster(&p, set);
            aperture_mass(&m.mass, &grid, 40.0) / aperture_mass(&m.mass, &grid, 400.0)
        })
        .sum::<f64>()
        / n as f64
}

#[test]
fn feedback_flattens_the_mass_centre_between_small_and_large_cross_sections() {
    let drops = |core: &str| {
        let mut base = named_set("bahamas-cdm").unwrap();
        base.apply(core).unwrap();
        let conc = |knob: &str| {
            let mut s = base.clone();
            s.apply(knob).unwrap();
            central_concentration(&s, 0..12)
        };
        let (weak, fid, strong) = (conc("log_dt=7.8"), conc("log_dt=8.0"), conc("log_dt=8.2"));
        assert!(
            weak > fid && fid > strong,
            "weak {weak}, fiducial {fid}, strong {strong}"
        );
        let drop = |v: f64| 1.0 - v / fid;
        (drop(strong), drop(conc("sigma=0.1")), drop(conc("sigma=1")))
    };
    // Strong feedback removes more central mass than σ/m = 0.1, less than σ/m = 1, with
    // SCIENCE.md's extended core and with the mass-conserving one (k = 1.5: scale 52 kpc
    // at σ/m = 1, so it still moves mass out of the 40 kpc aperture).
    for core in ["core=extended", "core=1.5"] {
        let (agn, s01, s1) = drops(core);
        assert!(
            agn > s01 && agn < s1,
            "{core}: AGN {agn}, σ/m 0.1 {s01}, σ/m 1 {s1}"
        );
    }
}

#[test]
fn sigma_leaves_the_gas_map_unchanged_while_feedback_changes_it() {
    let cdm = named_set("bahamas-cdm").unwrap();
    let mut sidm = cdm.clone();
    sidm.apply("sigma=1").unwrap();
    let mut hot = cdm.clone();
    hot.apply("log_dt=8.2").unwrap();
    for seed in 0..6 {
        let a = render_cluster(&draw_cluster(&cdm, &mut rng(seed)), &cdm);
        let b = render_cluster(&draw_cluster(&sidm, &mut rng(seed)), &sidm);
        let c = render_cluster(&draw_cluster(&hot, &mut rng(seed)), &hot);
        assert!(a.xray == b.xray, "seed {seed}: σ/m changed the X-ray map");
        assert!(
            a.mass != b.mass,
            "seed {seed}: σ/m left the mass map unchanged"
        );
        let peak = |m: &[f64]| m.iter().cloned().fold(0.0, f64::max);
        assert!(
            peak(&c.xray) < 0.8 * peak(&a.xray),
            "feedback must dim the X-ray core"
        );
    }
}
