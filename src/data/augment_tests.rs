use super::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn random_plane(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen_range(0.0..1.0)).collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn rot90_matches_numpy_convention() {
    // np.rot90([[1, 2], [3, 4]]) == [[2, 4], [1, 3]]
    let mut out = [0.0; 4];
    rot90(&[1.0, 2.0, 3.0, 4.0], &mut out, 2, 1);
    assert_eq!(out, [2.0, 4.0, 1.0, 3.0]);
    // np.rot90(np.arange(9).reshape(3, 3), 2) is the reversed array.
    let src: Vec<f32> = (0..9).map(|v| v as f32).collect();
    let mut out = [0.0; 9];
    rot90(&src, &mut out, 3, 2);
    assert_eq!(out, [8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0]);
}

#[test]
fn bilinear_rotation_by_quarter_turns_equals_rot90() {
    for (n, seed) in [(100usize, 1u64), (7, 2), (8, 3)] {
        let src = random_plane(n * n, seed);
        for k in 1..4u8 {
            let (mut a, mut b) = (vec![0.0; n * n], vec![0.0; n * n]);
            rot90(&src, &mut a, n, k);
            rotate_bilinear(&src, &mut b, n, n, 90.0 * k as f64);
            assert!(
                max_abs_diff(&a, &b) < 1e-5,
                "n={n} k={k}: {}",
                max_abs_diff(&a, &b)
            );
        }
    }
}

#[test]
fn bilinear_rotation_with_inexact_angle_near_quarter_turn_is_close_to_rot90() {
    // Takes the general bilinear path (no exact-angle shortcut) at 90° ± 1e-9.
    let n = 50;
    let src = random_plane(n * n, 4);
    let mut a = vec![0.0; n * n];
    rot90(&src, &mut a, n, 1);
    let mut b = vec![0.0; n * n];
    let t = Transform {
        angle_deg: 90.0 + 1e-9,
        ..Transform::IDENTITY
    };
    t.apply(&src, &mut b, n, n);
    assert!(max_abs_diff(&a, &b) < 1e-5, "{}", max_abs_diff(&a, &b));
}

#[test]
fn non_square_half_turn_agrees_between_exact_and_bilinear_paths() {
    let (h, w) = (6, 11);
    let src = random_plane(h * w, 10);
    let (mut a, mut b) = (vec![0.0; h * w], vec![0.0; h * w]);
    Transform {
        quarter_turns: 2,
        ..Transform::IDENTITY
    }
    .apply(&src, &mut a, h, w);
    let reversed: Vec<f32> = src.iter().rev().copied().collect();
    assert_eq!(a, reversed);
    Transform {
        angle_deg: 180.0 + 1e-9,
        ..Transform::IDENTITY
    }
    .apply(&src, &mut b, h, w);
    assert!(max_abs_diff(&a, &b) < 1e-5, "{}", max_abs_diff(&a, &b));
}

#[test]
fn flips_and_rotations_compose_to_identity() {
    let (h, w) = (6, 9);
    let src = random_plane(h * w, 5);
    for (fh, fv) in [(true, false), (false, true), (true, true)] {
        let t = Transform {
            flip_h: fh,
            flip_v: fv,
            ..Transform::IDENTITY
        };
        let (mut a, mut b) = (vec![0.0; h * w], vec![0.0; h * w]);
        t.apply(&src, &mut a, h, w);
        assert_ne!(a, src);
        t.apply(&a, &mut b, h, w);
        assert_eq!(b, src, "flip ({fh}, {fv}) is an involution");
    }
    let mut a = vec![0.0; h * w];
    Transform {
        flip_h: true,
        ..Transform::IDENTITY
    }
    .apply(&src, &mut a, h, w);
    assert_eq!(a[0], src[w - 1]);
    assert_eq!(a[w + 2], src[w + w - 3]);
    Transform {
        flip_v: true,
        ..Transform::IDENTITY
    }
    .apply(&src, &mut a, h, w);
    assert_eq!(a[1], src[(h - 1) * w + 1]);
    // Four quarter turns are the identity.
    let n = 5;
    let src = random_plane(n * n, 6);
    let mut cur = src.clone();
    let mut next = vec![0.0; n * n];
    for _ in 0..4 {
        rot90(&cur, &mut next, n, 1);
        std::mem::swap(&mut cur, &mut next);
    }
    assert_eq!(cur, src);
}

#[test]
fn flip_then_rotate_matches_the_composed_definition() {
    // Transform = rotate(angle) ∘ flip: check against doing the two steps separately.
    let n = 40;
    let src = random_plane(n * n, 7);
    let t = Transform {
        flip_h: true,
        angle_deg: 33.0,
        ..Transform::IDENTITY
    };
    let mut direct = vec![0.0; n * n];
    t.apply(&src, &mut direct, n, n);
    let mut flipped = vec![0.0; n * n];
    Transform {
        flip_h: true,
        ..Transform::IDENTITY
    }
    .apply(&src, &mut flipped, n, n);
    let mut two_step = vec![0.0; n * n];
    rotate_bilinear(&flipped, &mut two_step, n, n, 33.0);
    assert!(max_abs_diff(&direct, &two_step) < 1e-5);
}

#[test]
fn rotation_of_a_smooth_map_round_trips_in_the_interior() {
    let n = 64;
    let c = (n as f32 - 1.0) / 2.0;
    let src: Vec<f32> = (0..n * n)
        .map(|i| {
            let (x, y) = ((i % n) as f32 - c, (i / n) as f32 - c);
            (-(x * x / 200.0 + y * y / 80.0)).exp() + 0.01 * x
        })
        .collect();
    let (mut a, mut b) = (vec![0.0; n * n], vec![0.0; n * n]);
    rotate_bilinear(&src, &mut a, n, n, 37.0);
    rotate_bilinear(&a, &mut b, n, n, -37.0);
    let mut worst = 0f32;
    for y in 16..48 {
        for x in 16..48 {
            worst = worst.max((b[y * n + x] - src[y * n + x]).abs());
        }
    }
    assert!(worst < 0.01, "{worst}");
    // The centre pixel of an odd image is fixed by any rotation.
    let m = 9;
    let mut p = vec![0.0; m * m];
    p[40] = 1.0;
    let mut q = vec![0.0; m * m];
    rotate_bilinear(&p, &mut q, m, m, 123.0);
    assert!((q[40] - 1.0).abs() < 1e-6);
    // Corners rotated out of the field become zero.
    let ones = vec![1.0; m * m];
    rotate_bilinear(&ones, &mut q, m, m, 45.0);
    assert_eq!(q[0], 0.0);
}

#[test]
fn draw_uses_only_enabled_augmentations_and_angles_in_range() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let cfg = AugmentConfig::paper();
    let mut flipped = 0;
    for _ in 0..200 {
        let t = Transform::draw(&cfg, &mut rng);
        assert_eq!(t.quarter_turns, 0);
        assert!((0.0..180.0).contains(&t.angle_deg));
        flipped += t.flip_h as usize;
    }
    assert!((60..140).contains(&flipped), "{flipped}");
    let t = Transform::draw(&AugmentConfig::none(), &mut rng);
    assert_eq!(
        t,
        Transform {
            interpolation: Interpolation::Nearest,
            ..Transform::IDENTITY
        }
    );
}

#[test]
fn normalise_max_makes_the_peak_exactly_one() {
    let mut p = random_plane(1000, 8);
    p.iter_mut().for_each(|v| *v *= 3.7e14);
    normalise_max(&mut p);
    assert_eq!(p.iter().copied().fold(f32::MIN, f32::max), 1.0);
    let mut z = vec![0.0; 4];
    normalise_max(&mut z);
    assert_eq!(z, vec![0.0; 4]);
}

#[test]
fn mixup_label_is_log10_of_the_mean_of_powers() {
    let l = mixup_label(0.1f64.log10(), 1.0f64.log10(), 0.5);
    assert!((l - 0.55f64.log10()).abs() < 1e-12, "{l}");
    assert!((mixup_label(-2.0, -2.0, 0.3) + 2.0).abs() < 1e-12);
    let l = mixup_label(0.0, 1.0, 0.25);
    assert!((l - (0.25f64 + 7.5).log10()).abs() < 1e-12);
    assert!(mixup_label(400.0, 399.0, 0.5).is_finite());
}

#[test]
fn multi_plane_apply_equals_plane_by_plane() {
    let (c, h, w) = (3, 13, 17);
    let src = random_plane(c * h * w, 11);
    for t in [
        Transform {
            flip_h: true,
            angle_deg: 71.0,
            ..Transform::IDENTITY
        },
        Transform {
            flip_v: true,
            quarter_turns: 2,
            ..Transform::IDENTITY
        },
    ] {
        let mut all = vec![0.0; c * h * w];
        t.apply(&src, &mut all, h, w);
        for p in 0..c {
            let mut one = vec![0.0; h * w];
            t.apply(&src[p * h * w..(p + 1) * h * w], &mut one, h, w);
            assert_eq!(
                &all[p * h * w..(p + 1) * h * w],
                &one[..],
                "{t:?} plane {p}"
            );
        }
    }
}

#[test]
fn nearest_rotation_moves_pixels_without_creating_values() {
    let (h, w) = (21, 17);
    let src = random_plane(2 * h * w, 12);
    let t = Transform {
        angle_deg: 37.0,
        interpolation: Interpolation::Nearest,
        ..Transform::IDENTITY
    };
    let mut out = vec![0.0; 2 * h * w];
    t.apply(&src, &mut out, h, w);
    // Every output pixel is a pixel of its own plane or the zero outside.
    for p in 0..2 {
        let plane = &src[p * h * w..(p + 1) * h * w];
        for v in &out[p * h * w..(p + 1) * h * w] {
            assert!(*v == 0.0 || plane.contains(v), "{v} is not a source pixel");
        }
    }
    // The centre pixel (odd H and W) stays put.
    let c = (h / 2) * w + w / 2;
    assert_eq!(out[c], src[c]);
    // Nearly a quarter turn: exactly np.rot90 (bilinear would blend by 1e-9).
    let n = 15;
    let sq = random_plane(n * n, 13);
    let (mut a, mut b) = (vec![0.0; n * n], vec![0.0; n * n]);
    rot90(&sq, &mut a, n, 1);
    Transform {
        angle_deg: 90.0 + 1e-6,
        interpolation: Interpolation::Nearest,
        ..Transform::IDENTITY
    }
    .apply(&sq, &mut b, n, n);
    assert_eq!(a, b);
}

#[test]
fn nearest_and_bilinear_rotations_differ_and_draws_carry_the_choice() {
    let n = 32;
    let src = random_plane(n * n, 14);
    let rotate = |interpolation| {
        let mut out = vec![0.0; n * n];
        Transform {
            angle_deg: 45.0,
            interpolation,
            ..Transform::IDENTITY
        }
        .apply(&src, &mut out, n, n);
        out
    };
    let (near, bil) = (
        rotate(Interpolation::Nearest),
        rotate(Interpolation::Bilinear),
    );
    assert!(max_abs_diff(&near, &bil) > 0.1);
    // Bilinear averages neighbours: its pixel variance is lower than nearest's.
    let var = |v: &[f32]| {
        let inner: Vec<f32> = v.iter().copied().filter(|x| *x != 0.0).collect();
        let m = inner.iter().sum::<f32>() / inner.len() as f32;
        inner.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / inner.len() as f32
    };
    assert!(var(&bil) < 0.8 * var(&near), "{} {}", var(&bil), var(&near));
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let t = Transform::draw(&AugmentConfig::paper(), &mut rng);
    assert_eq!(t.interpolation, Interpolation::Nearest);
    assert_eq!(
        Interpolation::parse("bilinear").unwrap(),
        Interpolation::Bilinear
    );
    assert!(Interpolation::parse("cubic").is_err());
}
