use super::*;
use crate::ops::activation::elu;
use crate::ops::concat::concat_channels;
use crate::ops::dropout::channel_dropout;
use crate::tensor::Pool;
use crate::testing::{check_gradients, seed_values, GradCheck, Tol};
use proptest::prelude::*;

/// (output bits, input gradients) of the fused op or of the chain it replaces.
fn run(xs: &[Tensor], p: f32, seed: u64, training: bool, fused: bool) -> (Vec<u32>, Vec<Vec<f32>>) {
    let pool = Pool::new();
    let mut tape = Tape::new(&pool);
    let vs: Vec<Var> = xs.iter().map(|x| tape.input(x.clone())).collect();
    let seeds: Vec<u64> = (0..xs.len() as u64).map(|i| seed ^ (i * 77)).collect();
    let y = if fused {
        let total = xs.iter().map(|x| x.shape().dim(1)).sum();
        let mut op = EluDropConcat::new(total, training);
        for (&v, &s) in vs.iter().zip(&seeds) {
            op.add(&mut tape, v, p, s).unwrap();
        }
        op.finish(&mut tape).unwrap()
    } else {
        let parts: Vec<Var> = vs
            .iter()
            .zip(&seeds)
            .map(|(&v, &s)| {
                let e = elu(&mut tape, v).unwrap();
                channel_dropout(&mut tape, e, p, s, training).unwrap()
            })
            .collect();
        concat_channels(&mut tape, &parts).unwrap()
    };
    let g = Tensor::from_vec(tape.shape(y), seed_values(tape.shape(y).numel(), 77)).unwrap();
    let grads = tape.backward_with(y, g).unwrap();
    let out = tape.value(y).data().iter().map(|v| v.to_bits()).collect();
    (
        out,
        vs.iter()
            .map(|&v| grads.get(v).unwrap().data().to_vec())
            .collect(),
    )
}

fn inputs(n: usize, cs: &[usize], hw: usize, seed: u64) -> Vec<Tensor> {
    cs.iter()
        .enumerate()
        .map(|(i, &c)| {
            let v = seed_values(n * c * hw, seed + i as u64)
                .iter()
                .map(|v| v * 4.0)
                .collect();
            Tensor::from_vec([n, c, hw], v).unwrap()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Forward: the chain's bits. Backward: within an ulp of the chain's ELU derivative
    /// (ELU's output is recovered from the stored output instead of kept).
    #[test]
    fn fused_concat_is_the_chain(
        n in 1usize..4, cs in proptest::collection::vec(1usize..6, 1..5), hw in 1usize..2500,
        p in 0.0f32..0.95, seed in any::<u64>(), training in any::<bool>(),
    ) {
        let xs = inputs(n, &cs, hw, seed);
        let (y_f, g_f) = run(&xs, p, seed, training, true);
        let (y_c, g_c) = run(&xs, p, seed, training, false);
        prop_assert_eq!(y_f, y_c);
        let scale = if training { 1.0 / (1.0 - p) } else { 1.0 };
        for (part, (a, b)) in g_f.iter().zip(&g_c).enumerate() {
            for (i, (a, b)) in a.iter().zip(b).enumerate() {
                prop_assert!((a - b).abs() <= 2.5e-7 * scale, "part {part} element {i}: {a} vs {b}");
            }
        }
    }
}

#[test]
fn without_dropout_the_gradient_is_elus_bit_for_bit() {
    // f = 1: e = y / 1 exactly, so eval-mode gradients are ELU's own.
    let xs = inputs(2, &[3, 2], 50, 4);
    let (y_f, g_f) = run(&xs, 0.3, 8, false, true);
    let (y_c, g_c) = run(&xs, 0.3, 8, false, false);
    assert_eq!(y_f, y_c);
    assert_eq!(g_f, g_c);
}

#[test]
fn fused_concat_matches_finite_differences() {
    let mk = |c: usize, s: u64| {
        let v = seed_values(2 * c * 5, s)
            .iter()
            .map(|v| v * 3.0 + 0.05)
            .collect();
        Tensor::from_vec([2, c, 5], v).unwrap()
    };
    let (ma, mb) = (Mask::new(9, 0.4), Mask::new(10, 0.4));
    let r = check_gradients(
        &[mk(3, 3), mk(2, 4)],
        &|t, v| {
            let mut op = EluDropConcat::new(5, true);
            op.add(t, v[0], 0.4, 9)?;
            op.add(t, v[1], 0.4, 10)?;
            op.finish(t)
        },
        &|x| {
            let f = |v: f64| if v > 0.0 { v } else { v.exp_m1() };
            let mut out = vec![0.0; 2 * 5 * 5];
            for n in 0..2 {
                for (part, c, off, m) in [(0, 3, 0, &ma), (1, 2, 3, &mb)] {
                    for j in 0..c {
                        let fac = m.factor((n * c + j) as u64) as f64;
                        for k in 0..5 {
                            out[(n * 5 + off + j) * 5 + k] = f(x[part][(n * c + j) * 5 + k]) * fac;
                        }
                    }
                }
            }
            out
        },
        &GradCheck {
            forward: Tol::new(1e-6, 1e-5),
            ..Default::default()
        },
    );
    assert!(r.is_ok(), "{}", r.unwrap_err());
}

#[test]
fn parts_that_do_not_fit_are_refused_by_name() {
    let pool = Pool::new();
    let mut tape = Tape::new(&pool);
    let a = tape.input(Tensor::zeros([2, 3, 4]));
    let b = tape.input(Tensor::zeros([2, 3, 5]));
    let mut op = EluDropConcat::new(5, true);
    op.add(&mut tape, a, 0.1, 1).unwrap();
    let e = op.add(&mut tape, a, 0.1, 2).unwrap_err().to_string();
    assert!(e.contains("overflow the 5 channels"), "{e}");
    let mut op = EluDropConcat::new(6, true);
    op.add(&mut tape, a, 0.1, 1).unwrap();
    let e = op.add(&mut tape, b, 0.1, 2).unwrap_err().to_string();
    assert!(e.contains("differ outside axis 1"), "{e}");
    assert!(op.add(&mut tape, a, 1.5, 2).is_err());
    let e = op.finish(&mut tape).unwrap_err().to_string();
    assert!(e.contains("fill 3 of the 6"), "{e}");
}

#[test]
fn only_the_output_is_kept_for_backward() {
    // The pre-activations can be released once their part is written.
    let pool = Pool::new();
    let mut tape = Tape::new(&pool);
    let xs = inputs(2, &[2, 3], 10, 1);
    let a = tape.input(xs[0].clone());
    let b = tape.input(xs[1].clone());
    let mut op = EluDropConcat::new(5, true);
    op.add(&mut tape, a, 0.2, 1).unwrap();
    assert!(tape.release(a));
    op.add(&mut tape, b, 0.2, 2).unwrap();
    assert!(tape.release(b));
    let y = op.finish(&mut tape).unwrap();
    let g = Tensor::full(tape.shape(y), 1.0);
    let grads = tape.backward_with(y, g).unwrap();
    assert!(grads.get(a).unwrap().data().iter().any(|&v| v != 0.0));
}

/// (pooled output bits, input-gradient bits) of the fused op or the chain it replaces.
fn run_pool(
    x: &Tensor,
    p: f32,
    seed: u64,
    training: bool,
    pool: (usize, usize, usize),
    fused: bool,
) -> (Vec<u32>, Vec<u32>) {
    let tp = Pool::new();
    let mut tape = Tape::new(&tp);
    let v = tape.input(x.clone());
    let y = if fused {
        elu_dropout_pool(&mut tape, v, p, seed, training, pool).unwrap()
    } else {
        let a = elu_channel_dropout(&mut tape, v, p, seed, training).unwrap();
        crate::ops::maxpool::max_pool2d(&mut tape, a, pool.0, pool.1, pool.2).unwrap()
    };
    let g = Tensor::from_vec(tape.shape(y), seed_values(tape.shape(y).numel(), 5)).unwrap();
    let grads = tape.backward_with(y, g).unwrap();
    let bits = |t: &Tensor| t.data().iter().map(|v| v.to_bits()).collect();
    (bits(tape.value(y)), bits(grads.get(v).unwrap()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    /// Bit for bit the activation followed by the pool, for the small network's 2×2, the
    /// Inception block's 3×3 'same' and a generic window, with ties inside windows.
    #[test]
    fn fused_pool_is_the_chain_bit_for_bit(
        n in 1usize..3, c in 1usize..5, h in 2usize..40, w in 2usize..40,
        geom in 0usize..3, p in 0.0f32..0.9, seed in any::<u64>(), training in any::<bool>(), ties in any::<bool>(),
    ) {
        let pool = [(2, 2, 0), (3, 1, 1), (3, 2, 1)][geom];
        prop_assume!(h >= pool.0 && w >= pool.0);
        let v: Vec<f32> = seed_values(n * c * h * w, seed).iter()
            .map(|v| if ties { (v * 4.0).round() * 0.5 } else { v * 4.0 }).collect();
        let x = Tensor::from_vec([n, c, h, w], v).unwrap();
        prop_assert_eq!(run_pool(&x, p, seed, training, pool, true), run_pool(&x, p, seed, training, pool, false));
    }
}

#[test]
fn fused_pool_matches_finite_differences() {
    // Distinct values far apart: no argmax changes within the finite-difference step.
    let n = 2 * 3 * 6 * 6;
    let keys = seed_values(n, 11);
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
    let mut v = vec![0.0f32; n];
    for (rank, &i) in idx.iter().enumerate() {
        v[i] = rank as f32 * 0.05 - 3.0;
    }
    let x = Tensor::from_vec([2, 3, 6, 6], v).unwrap();
    let mask = Mask::new(4, 0.3);
    let g = PoolGeom::new([2, 3, 6, 6], 2, 2, 0).unwrap();
    let r = check_gradients(
        &[x],
        &|t, v| elu_dropout_pool(t, v[0], 0.3, 4, true, (2, 2, 0)),
        &|x| {
            let act: Vec<f64> = x[0]
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    (if v > 0.0 { v } else { v.exp_m1() }) * mask.factor((i / 36) as u64) as f64
                })
                .collect();
            crate::cpu::pool2d::max_pool_reference(&g, &act)
        },
        &GradCheck {
            forward: Tol::new(1e-6, 1e-5),
            ..Default::default()
        },
    );
    assert!(r.is_ok(), "{}", r.unwrap_err());
}
