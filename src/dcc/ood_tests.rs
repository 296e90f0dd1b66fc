use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

#[test]
fn erfc_matches_tabulated_values() {
    for (x, want) in [
        (0.0, 1.0),
        (0.5, 0.479_500_122),
        (1.0, 0.157_299_207),
        (2.0, 0.004_677_735),
        (-1.0, 1.842_700_793),
        (3.0, 2.209_049_7e-5),
    ] {
        let got = erfc(x);
        assert!(
            (got - want).abs() <= 2e-7 * want.max(1e-3),
            "erfc({x}) = {got}, want {want}"
        );
    }
}

/// The exact one-sided p-value of the rank-sum statistic, by enumerating every split.
fn exact_p(x: &[f64], y: &[f64]) -> f64 {
    let pooled: Vec<f64> = x.iter().chain(y).copied().collect();
    let n = x.len();
    let stat = |mask: u32| -> f64 {
        let (mut u, mut c) = (0.0, 0);
        for (i, &a) in pooled.iter().enumerate() {
            if mask & (1 << i) != 0 {
                c += 1;
                u += pooled
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| mask & (1 << j) == 0)
                    .map(|(_, &b)| {
                        if a > b {
                            1.0
                        } else if a == b {
                            0.5
                        } else {
                            0.0
                        }
                    })
                    .sum::<f64>();
            }
        }
        debug_assert_eq!(c, n);
        u
    };
    let observed = stat((1u32 << n) - 1);
    let (mut hits, mut total) = (0u64, 0u64);
    for mask in 0u32..(1 << pooled.len()) {
        if mask.count_ones() as usize == n {
            total += 1;
            hits += u64::from(stat(mask) >= observed - 1e-12);
        }
    }
    hits as f64 / total as f64
}

#[test]
fn mann_whitney_agrees_with_the_exact_permutation_test() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for shift in [0.0, 0.5, 1.0, 2.0] {
        let x: Vec<f64> = (0..7).map(|_| rng.gen::<f64>() + shift).collect();
        let y: Vec<f64> = (0..9).map(|_| rng.gen::<f64>()).collect();
        let t = mann_whitney_greater(&x, &y);
        let exact = exact_p(&x, &y);
        assert!(
            (t.p_value - exact).abs() < 0.02,
            "shift {shift}: normal approximation {} vs exact {exact}",
            t.p_value
        );
        let pairs = x
            .iter()
            .flat_map(|a| y.iter().map(move |b| (a, b)))
            .filter(|(a, b)| a > b)
            .count() as f64;
        assert!((t.auc - pairs / 63.0).abs() < 1e-12);
    }
    // Heavy ties: the tie-corrected variance gives scipy.stats.mannwhitneyu's asymptotic
    // value (0.0990365438; the exact permutation p-value of so few tied values is 0.155,
    // which the normal approximation is not meant to reach).
    let x = [1.0, 2.0, 2.0, 3.0, 3.0, 3.0];
    let y = [1.0, 1.0, 2.0, 2.0, 3.0, 1.0, 2.0];
    let t = mann_whitney_greater(&x, &y);
    assert!((t.p_value - 0.099_036_543_8).abs() < 1e-6, "{}", t.p_value);
    assert!((exact_p(&x, &y) - 0.155_011_655).abs() < 1e-6);
}

#[test]
fn tail_score_ranks_beyond_the_calibration_maximum() {
    let sorted: Vec<f64> = (1..=100).map(|v| v as f64).collect();
    assert!((tail_score(&sorted, 0.0) - 0.0).abs() < 1e-12);
    assert!((tail_score(&sorted, 50.5) - (101.0f64 / 51.0).ln()).abs() < 1e-12);
    let at_max = tail_score(&sorted, 100.0);
    assert!((at_max - 101.0f64.ln()).abs() < 1e-12);
    // Beyond the maximum: one more unit per (max − q90) = 9.
    assert!((tail_score(&sorted, 109.0) - at_max - 1.0).abs() < 1e-9);
    let mut last = f64::NEG_INFINITY;
    for r in 0..300 {
        let v = tail_score(&sorted, r as f64 * 0.5);
        assert!(v >= last, "not monotone at {r}");
        last = v;
    }
}

fn draws(rng: &mut ChaCha8Rng, n: usize, scale: f64) -> [Vec<f64>; NS] {
    std::array::from_fn(|_| {
        (0..n)
            .map(|_| {
                let v: f64 = StandardNormal.sample(rng);
                (v * scale).exp()
            })
            .collect()
    })
}

#[test]
fn conformal_p_values_are_uniform_in_domain_and_small_out_of_it() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let cal = Calibration::new(&draws(&mut rng, 400, 0.3), &[0; 400], &["a".into()]).unwrap();
    let test = draws(&mut rng, 4000, 0.3);
    let p: Vec<f64> = cal.score(&test).iter().map(|&s| cal.p_value(s)).collect();
    for alpha in [0.05, 0.1, 0.5] {
        let rate = p.iter().filter(|&&v| v <= alpha).count() as f64 / p.len() as f64;
        assert!(
            (rate - alpha).abs() < 0.25 * alpha + 0.01,
            "rate {rate} at α = {alpha}"
        );
    }
    // Ratios 3× larger in every space: nearly every image beyond the calibration; in one
    // space only, the other two dilute the sum but most are still flagged.
    let flagged = |spaces: &[usize], rng: &mut ChaCha8Rng| -> usize {
        let mut far = draws(rng, 200, 0.3);
        for &s in spaces {
            far[s].iter_mut().for_each(|v| *v *= 3.0);
        }
        cal.score(&far)
            .iter()
            .filter(|&&s| cal.p_value(s) <= 0.05)
            .count()
    };
    let all = flagged(&[0, 1, 2], &mut rng);
    assert!(all >= 195, "{all} of 200 flagged");
    let one = flagged(&[1], &mut rng);
    assert!(one >= 120, "{one} of 200 flagged");
}

#[test]
fn set_test_holds_its_false_alarm_rate_and_catches_a_shift() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let cal = Calibration::new(&draws(&mut rng, 300, 0.3), &[0; 300], &["a".into()]).unwrap();
    let trials = 400;
    let alarms = (0..trials)
        .filter(|_| {
            let s = cal.score(&draws(&mut rng, 30, 0.3));
            mann_whitney_greater(&s, cal.scores()).p_value < 0.05
        })
        .count();
    // Binomial(400, 0.05): mean 20, sd 4.4. The calibration is shared across trials, so
    // allow more than the binomial spread.
    assert!(
        alarms <= 40,
        "{alarms} false alarms in {trials} in-domain sets at α = 0.05"
    );
    let mut shifted = draws(&mut rng, 30, 0.3);
    shifted
        .iter_mut()
        .for_each(|s| s.iter_mut().for_each(|v| *v *= 1.5));
    let t = mann_whitney_greater(&cal.score(&shifted), cal.scores());
    assert!(t.p_value < 1e-4 && t.auc > 0.8, "{t:?}");
}

fn features(rng: &mut ChaCha8Rng, n: usize, shift: f32) -> Features {
    let mut f = Features {
        dims: [2, 8, 6, 3],
        ..Features::default()
    };
    for _ in 0..n {
        let g = |rng: &mut ChaCha8Rng| -> f32 { StandardNormal.sample(rng) };
        f.latent.extend([g(rng), g(rng)]);
        let deep: Vec<f32> = (0..8).map(|_| g(rng) + 3.0).collect();
        let norm = deep.iter().map(|v| v * v).sum::<f32>().sqrt();
        f.spaces[0].extend(deep.iter().map(|v| v / norm));
        // One dead dimension (constant) and widely different scales.
        f.spaces[1].extend([
            1.0,
            g(rng) * 100.0,
            g(rng) * 0.01 + shift * 0.01,
            g(rng),
            g(rng),
            g(rng),
        ]);
        f.spaces[2].extend([g(rng), g(rng) * 1e3, g(rng)]);
    }
    f
}

#[test]
fn references_standardise_the_statistics_and_find_a_shift_in_one_of_them() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let refs = MemberReferences::fit(&features(&mut rng, 500, 0.0), 10).unwrap();
    let cal = Calibration::new(
        &mean_distances(&[refs.distances(&features(&mut rng, 200, 0.0)).unwrap()]),
        &[0; 200],
        &["a".into()],
    )
    .unwrap();
    let score =
        |f: &Features| -> Vec<f64> { cal.score(&mean_distances(&[refs.distances(f).unwrap()])) };
    let inside = score(&features(&mut rng, 100, 0.0));
    // A 4σ shift of the smallest-scale statistic: invisible without standardisation.
    let outside = score(&features(&mut rng, 100, 4.0));
    let t = mann_whitney_greater(&outside, &inside);
    assert!(t.auc > 0.9, "AUROC {}", t.auc);
    let same = mann_whitney_greater(&score(&features(&mut rng, 100, 0.0)), &inside);
    assert!(
        (same.auc - 0.5).abs() < 0.12,
        "in-domain AUROC {}",
        same.auc
    );
    // Mismatched widths are an error, not a panic.
    let mut bad = features(&mut rng, 3, 0.0);
    bad.dims[2] = 5;
    assert!(refs.distances(&bad).is_err());
    let _ = rng.gen::<u8>();
}

#[test]
fn set_test_takes_the_training_set_a_set_is_most_like() {
    let low: Vec<f64> = (0..100).map(|i| i as f64 / 100.0).collect();
    let high: Vec<f64> = (0..100).map(|i| 0.5 + i as f64 / 100.0).collect();
    let mut pooled: Vec<f64> = low.iter().chain(&high).copied().collect();
    pooled.sort_by(f64::total_cmp);
    let groups = vec![
        CalibrationGroup {
            name: "a".into(),
            scores: low,
        },
        CalibrationGroup {
            name: "b".into(),
            scores: high,
        },
        // Too small to be a reference.
        CalibrationGroup {
            name: "c".into(),
            scores: vec![5.0; MIN_GROUP - 1],
        },
    ];
    // Like set b: unusual against everything pooled, ordinary against b.
    let like_b: Vec<f64> = (0..60).map(|i| 0.505 + i as f64 / 60.0).collect();
    assert!(mann_whitney_greater(&like_b, &pooled).p_value < 1e-3);
    let (t, reference) = set_test(&like_b, &pooled, &groups);
    assert!(t.p_value > 0.2, "{t:?}");
    assert_eq!(reference, "b");
    // Like nothing: rejected against every reference; c is never consulted.
    let far: Vec<f64> = (0..20).map(|i| 4.0 + i as f64 / 20.0).collect();
    let (t, _) = set_test(&far, &pooled, &groups);
    assert!(t.p_value < 1e-6, "{t:?}");
    // Calibration scores land in their groups, each sorted.
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let group_of: Vec<usize> = (0..120).map(|i| i % 3).collect();
    let names: Vec<String> = ["x", "y", "z"].iter().map(|s| s.to_string()).collect();
    let cal = Calibration::new(&draws(&mut rng, 120, 0.3), &group_of, &names).unwrap();
    assert_eq!(cal.groups().len(), 3);
    for g in cal.groups() {
        assert_eq!(g.scores.len(), 40);
        assert!(g.scores.windows(2).all(|w| w[0] <= w[1]));
    }
}
