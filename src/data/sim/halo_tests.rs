use super::*;

fn simpson(f: impl Fn(f64) -> f64, a: f64, b: f64, n: usize) -> f64 {
    let h = (b - a) / n as f64;
    let mut s = f(a) + f(b);
    for i in 1..n {
        s += if i % 2 == 1 { 4.0 } else { 2.0 } * f(a + i as f64 * h);
    }
    s * h / 3.0
}

#[test]
fn line_of_sight_integral_matches_the_analytic_projected_nfw() {
    let h = Halo::new(3e14, 4.0, 0.0, 0.2);
    for &r in &[0.5, 5.0, 50.0, 300.0, h.rs, 1000.0, 3000.0] {
        let (a, n) = (h.sigma_nfw(r), h.sigma_numeric(r));
        assert!(
            (a - n).abs() < 2e-3 * a,
            "R = {r}: analytic {a}, numeric {n}"
        );
    }
}

#[test]
fn projected_mass_formula_integrates_the_surface_density() {
    let h = Halo::new(5e14, 3.5, 0.0, 0.1);
    for &r in &[20.0, h.rs, 900.0] {
        // Substituting R = e^u makes the integrand smooth at the cusp.
        let m = simpson(
            |u: f64| {
                let rr = u.exp();
                2.0 * PI * rr * rr * h.sigma_nfw(rr)
            },
            (1e-4f64).ln(),
            r.ln(),
            2000,
        );
        let want = h.mass_2d_nfw(r);
        assert!((m - want).abs() < 1e-4 * want, "R = {r}: {m} vs {want}");
    }
}

#[test]
fn cored_halo_keeps_m200_and_its_mass_integrates_the_density() {
    for (&rc, core) in [0.0, 1.6, 35.0, 120.0, 35.0].iter().zip([
        CoreModel::Conserving(1.5),
        CoreModel::Conserving(1.5),
        CoreModel::Conserving(3.0),
        CoreModel::Conserving(1.5),
        CoreModel::Extended,
    ]) {
        let h = Halo::new(3e14, 4.0, rc, 0.0).with_core(core);
        assert!((h.mass_3d(h.r200) - 3e14).abs() < 1e-9 * 3e14);
        let m = simpson(
            |u: f64| {
                let r = u.exp();
                4.0 * PI * r.powi(3) * h.density(r)
            },
            (1e-5f64).ln(),
            500f64.ln(),
            4000,
        );
        let want = h.mass_3d(500.0);
        assert!((m - want).abs() < 1e-5 * want, "rc = {rc}: {m} vs {want}");
    }
}

#[test]
fn a_core_lowers_the_central_surface_density_and_keeps_the_outskirts() {
    let cusp = Halo::new(3e14, 4.0, 0.0, 0.2);
    let core = Halo::new(3e14, 4.0, 35.0, 0.2).with_core(CoreModel::Conserving(1.5));
    let (pc, pk) = (cusp.projected(), core.projected());
    assert!(pk.at(1.0) < 0.6 * pc.at(1.0));
    for &r in &[0.3, 8.0, 35.0, 140.0, 900.0] {
        let (t, n) = (pk.at(r), core.sigma_numeric(r));
        assert!(
            (t / n - 1.0).abs() < 1e-3,
            "R = {r}: table {t} vs integral {n}"
        );
    }
    // Mass-conserving: beyond r₁ ≈ 3k·r_c (k = 1.5) the core leaves the profile as it was.
    for &r in &[350.0, 1500.0] {
        let ratio = pk.at(r) / pc.at(r);
        assert!((ratio - 1.0).abs() < 0.01, "R = {r}: ratio {ratio}");
    }
    for &r in &[4.5 * 35.0, 10.0 * 35.0, 2000.0] {
        let (m, mc) = (core.mass_3d(r), cusp.mass_3d(r));
        assert!(m <= mc && m > 0.99 * mc, "r = {r}: {m} vs {mc}");
        let (d, dc) = (core.density(r), cusp.density(r));
        assert!((d / dc - 1.0).abs() < 0.02, "r = {r}: density {d} vs {dc}");
    }
    // The core is flat: the density at 0.01 r_c and at r_c/10 differ by little, and the
    // centre has the density of SCIENCE.md's profile with the same r_c (within 15 %).
    let (d0, d1) = (core.density(0.35), core.density(3.5));
    assert!(d0.is_finite() && d1 < d0 && d1 > 0.8 * d0, "{d0} {d1}");
    let old = core.with_core(CoreModel::Extended);
    assert!(
        (old.density(0.35) / d0 - 1.0).abs() < 0.15,
        "{} {d0}",
        old.density(0.35)
    );
    // That profile keeps M200 too but reaches far out.
    assert!((old.mass_3d(old.r200) / 3e14 - 1.0).abs() < 1e-9);
    assert!(old.density(105.0) < 0.9 * cusp.density(105.0));
}

#[test]
fn table_interpolation_is_accurate_to_a_tenth_of_a_percent() {
    let h = Halo::new(1e15, 3.0, 0.0, 0.3);
    let p = h.projected();
    for &r in &[0.7, 13.3, 97.0, 555.5, 2222.0] {
        let (t, a) = (p.at(r), h.sigma_nfw(r));
        assert!((t - a).abs() < 1e-3 * a, "R = {r}: {t} vs {a}");
    }
}

#[test]
fn nfw_surface_density_is_continuous_through_x_equal_one() {
    let lo = nfw_sigma_shape(1.0 - 2e-4);
    let hi = nfw_sigma_shape(1.0 + 2e-4);
    let mid = nfw_sigma_shape(1.0);
    assert!((mid - 1.0 / 3.0).abs() < 1e-12);
    assert!(
        (lo - mid).abs() < 1e-4 && (hi - mid).abs() < 1e-4,
        "{lo} {mid} {hi}"
    );
    assert!(lo > mid && mid > hi);
}

#[test]
fn core_radius_reproduces_the_reference_values_and_mass_scaling() {
    for &(s, r) in &CORE_TABLE {
        assert!((core_radius_median(s, 3e14) - r).abs() < 1e-9 * r);
    }
    assert_eq!(core_radius_median(0.0, 3e14), 0.0);
    let ratio = core_radius_median(0.3, 6e14) / core_radius_median(0.3, 3e14);
    assert!((ratio - 2f64.powf(0.7)).abs() < 1e-12);
    // Monotone in σ/m, also outside the table.
    let mut last = 0.0;
    for &s in &[0.01, 0.05, 0.07, 0.1, 0.15, 0.3, 0.6, 1.0, 2.0] {
        let r = core_radius_median(s, 3e14);
        assert!(r > last, "σ/m {s}: {r} <= {last}");
        last = r;
    }
}

#[test]
fn cluster_concentrations_are_near_four_and_dutton_maccio_is_higher() {
    let d = ConcentrationRelation::Duffy.median(3e14, 0.2);
    let dm = ConcentrationRelation::DuttonMaccio.median(3e14, 0.2);
    assert!((3.0..4.5).contains(&d), "Duffy c = {d}");
    assert!(dm > d && dm < 6.0, "Dutton–Macciò c = {dm}, Duffy {d}");
    assert!(ConcentrationRelation::Duffy.median(1e15, 0.2) < d);
}

#[test]
fn r500_lies_inside_r200_at_about_two_thirds() {
    let h = Halo::new(3e14, 4.0, 0.0, 0.2);
    let r500 = halo_r_delta(&h, 500.0, 0.2);
    let f = r500 / h.r200;
    assert!((0.6..0.72).contains(&f), "r500/r200 = {f}");
    let r200 = halo_r_delta(&h, 200.0, 0.2);
    assert!((r200 / h.r200 - 1.0).abs() < 1e-9);
}

#[test]
fn sidm_rounding_pulls_the_centre_round_only_for_sidm() {
    assert_eq!(axis_ratio(0.6, 0.0, 0.0, 150.0), 0.6);
    let q1 = axis_ratio(0.6, 1.0, 0.0, 150.0);
    assert!((q1 - (0.6 + 0.4 * 0.6)).abs() < 1e-12);
    assert!(axis_ratio(0.6, 1.0, 1500.0, 150.0) < 0.6001);
    assert!((axis_ratio(0.6, 4.0, 0.0, 150.0) - 1.0).abs() < 1e-12);
}

#[test]
fn masses_follow_the_mass_function_and_a_flat_range_stays_flat() {
    let n = 20000;
    let draws: Vec<f64> = (0..n)
        .map(|i| draw_log_mass((i as f64 + 0.5) / n as f64, (14.0, 15.3), Some(3.5e14)))
        .collect();
    assert!(draws.windows(2).all(|w| w[0] <= w[1]), "monotone in u");
    assert!(draws.iter().all(|x| (14.0..=15.3).contains(x)));
    // Per dex, 10^15 is far rarer than 10^14: most clusters lie in the lowest third.
    let below = |x: f64| draws.iter().filter(|&&v| v < x).count() as f64 / n as f64;
    assert!(below(14.4) > 0.6, "{}", below(14.4));
    assert!(below(15.0) > 0.97, "{}", below(15.0));
    // The density ratio between 10^14.1 and 10^15.1 is the function's own.
    let count = |a: f64| below(a + 0.05) - below(a - 0.05);
    let want = |x: f64| {
        let m = 10f64.powf(x);
        m.powf(-0.9) * (-m / 3.5e14).exp()
    };
    let (got, exact) = (count(14.1) / count(14.6), want(14.1) / want(14.6));
    assert!((got / exact - 1.0).abs() < 0.05, "{got} vs {exact}");
    assert_eq!(draw_log_mass(0.25, (14.0, 15.0), None), 14.25);
    assert_eq!(draw_log_mass(0.7, (14.5, 14.5), Some(3.5e14)), 14.5);
}
