//! Tests of the optimisers against f64 transcriptions of PyTorch.
use super::*;
use crate::cpu::arith::CHUNK;
use crate::testing::seed_values;

/// Naive f64 transcription of torch.optim.AdamW's single-tensor update.
fn adamw_reference(
    p: &mut [f64],
    m: &mut [f64],
    v: &mut [f64],
    g: &[f64],
    t: i32,
    lr: f64,
    wd: f64,
) {
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
    for i in 0..p.len() {
        p[i] *= 1.0 - lr * wd;
        m[i] = m[i] + (g[i] - m[i]) * (1.0 - b1);
        v[i] = v[i] * b2 + (1.0 - b2) * g[i] * g[i];
        let step_size = lr / (1.0 - b1.powi(t));
        let denom = v[i].sqrt() / (1.0 - b2.powi(t)).sqrt() + eps;
        p[i] -= step_size * m[i] / denom;
    }
}

/// Naive f64 transcription of torch.optim.SGD (dampening 0, no Nesterov).
fn sgd_reference(
    p: &mut [f64],
    buf: &mut [f64],
    g: &[f64],
    first: bool,
    lr: f64,
    mu: f64,
    wd: f64,
) {
    for i in 0..p.len() {
        let d = g[i] + wd * p[i];
        let d = if mu == 0.0 {
            d
        } else {
            buf[i] = if first { d } else { mu * buf[i] + d };
            buf[i]
        };
        p[i] -= lr * d;
    }
}

fn close(got: &[f32], want: &[f64], tol: f64) {
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g as f64 - w).abs() <= tol * (1.0 + w.abs()),
            "[{i}] {g} vs {w}"
        );
    }
}

/// Parameters of a small and a large (multi-chunk, parallel) tensor.
fn setup() -> (Vec<usize>, Vec<Vec<f32>>) {
    let sizes = vec![37, 3 * CHUNK + 5];
    let params = sizes.iter().map(|&n| seed_values(n, n as u64)).collect();
    (sizes, params)
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&v| v as f64).collect()
}

#[test]
fn adamw_matches_pytorch_update_over_several_steps() {
    let (sizes, mut params) = setup();
    let mut opt = AdamW::new(&sizes, 1e-2, 0.05);
    let mut want: Vec<Vec<f64>> = params.iter().map(|p| f64s(p)).collect();
    let mut m: Vec<Vec<f64>> = sizes.iter().map(|&n| vec![0.0; n]).collect();
    let mut v = m.clone();
    for t in 1..=6 {
        // Gradients of mixed scale, including exact zeros, change every step.
        let grads: Vec<Vec<f32>> = sizes
            .iter()
            .map(|&n| {
                seed_values(n, 100 + t as u64)
                    .iter()
                    .map(|g| if *g > 0.8 { 0.0 } else { g * 3.0 })
                    .collect()
            })
            .collect();
        let mut ps: Vec<&mut [f32]> = params.iter_mut().map(|p| p.as_mut_slice()).collect();
        let gs: Vec<&[f32]> = grads.iter().map(|g| g.as_slice()).collect();
        opt.step(&mut ps, &gs).unwrap();
        for i in 0..sizes.len() {
            adamw_reference(
                &mut want[i],
                &mut m[i],
                &mut v[i],
                &f64s(&grads[i]),
                t,
                1e-2,
                0.05,
            );
        }
    }
    assert_eq!(opt.step, 6);
    for (p, w) in params.iter().zip(&want) {
        close(p, w, 2e-6);
    }
}

#[test]
fn sgd_matches_pytorch_update_with_and_without_momentum() {
    for (mu, wd) in [(0.0, 0.0), (0.9, 0.0), (0.9, 1e-2), (0.5, 0.1)] {
        let (sizes, mut params) = setup();
        let mut opt = Sgd::new(&sizes, 0.05, mu as f32, wd as f32);
        let mut want: Vec<Vec<f64>> = params.iter().map(|p| f64s(p)).collect();
        let mut buf: Vec<Vec<f64>> = sizes.iter().map(|&n| vec![0.0; n]).collect();
        for t in 0..5 {
            let grads: Vec<Vec<f32>> = sizes.iter().map(|&n| seed_values(n, 7 + t)).collect();
            let mut ps: Vec<&mut [f32]> = params.iter_mut().map(|p| p.as_mut_slice()).collect();
            let gs: Vec<&[f32]> = grads.iter().map(|g| g.as_slice()).collect();
            opt.step(&mut ps, &gs).unwrap();
            for i in 0..sizes.len() {
                sgd_reference(
                    &mut want[i],
                    &mut buf[i],
                    &f64s(&grads[i]),
                    t == 0,
                    0.05,
                    mu,
                    wd,
                );
            }
        }
        for (p, w) in params.iter().zip(&want) {
            close(p, w, 2e-6);
        }
    }
}

#[test]
fn optimisers_reject_mismatched_parameters_without_changing_them() {
    let mut opt = AdamW::new(&[3, 4], 1e-3, 0.01);
    let mut a = [1.0f32; 3];
    let mut b = [1.0f32; 5];
    let g = [0.5f32; 5];
    let e = opt
        .step(&mut [&mut a, &mut b], &[&g[..3], &g])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("parameter 1") && e.contains('4') && e.contains('5'),
        "{e}"
    );
    assert_eq!(opt.step, 0);
    assert_eq!(a, [1.0; 3]);
    let mut sgd = Sgd::new(&[3], 0.1, 0.9, 0.0);
    assert!(sgd
        .step(&mut [&mut a], &[])
        .unwrap_err()
        .to_string()
        .contains("0 gradients"));
}

#[test]
fn adamw_state_survives_a_json_round_trip() {
    let mut opt = AdamW::new(&[2], 1e-3, 0.01);
    let mut p = [1.0f32, -1.0];
    opt.step(&mut [&mut p], &[&[0.5, 0.25]]).unwrap();
    let back: AdamW = serde_json::from_str(&serde_json::to_string(&opt).unwrap()).unwrap();
    assert_eq!((back.step, &back.m, &back.v), (1, &opt.m, &opt.v));
}

#[test]
fn adamw_trains_a_small_mlp_built_from_the_primitives() {
    use crate::autograd::Tape;
    use crate::ops::{activation::selu, dropout::dropout, linear::linear, softmax::cross_entropy};
    use crate::tensor::{Pool, Tensor};
    // Four well-separated 2-D blobs, one per class.
    let n = 64;
    let centres = [(2.0, 2.0), (-2.0, 2.0), (-2.0, -2.0), (2.0, -2.0)];
    let noise = seed_values(2 * n, 77);
    let mut xs = Vec::with_capacity(2 * n);
    let labels: Vec<Option<usize>> = (0..n).map(|i| Some(i % 4)).collect();
    for i in 0..n {
        let (cx, cy) = centres[i % 4];
        xs.extend([cx + noise[2 * i], cy + noise[2 * i + 1]]);
    }
    let x = Tensor::from_vec([n, 2], xs).unwrap();
    let shapes: [&[usize]; 4] = [&[16, 2], &[16], &[4, 16], &[4]];
    let mut params: Vec<Tensor> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let fan_in = if s.len() == 2 { s[1] } else { 16 };
            let v = seed_values(s.iter().product(), 3 + i as u64);
            Tensor::from_vec(*s, v.iter().map(|v| v / (fan_in as f32).sqrt()).collect()).unwrap()
        })
        .collect();
    let sizes: Vec<usize> = params.iter().map(|p| p.numel()).collect();
    let mut opt = AdamW::new(&sizes, 0.05, 0.01);
    let pool = Pool::new();
    let mut losses = Vec::new();
    for step in 0..60 {
        let (loss, grads) = {
            let mut tape = Tape::new(&pool);
            let xv = tape.constant(x.clone());
            let p: Vec<_> = params.iter().map(|t| tape.param(t)).collect();
            let h = linear(&mut tape, xv, p[0], Some(p[1])).unwrap();
            let h = selu(&mut tape, h).unwrap();
            let h = dropout(&mut tape, h, 0.1, step, true).unwrap();
            let logits = linear(&mut tape, h, p[2], Some(p[3])).unwrap();
            let loss = cross_entropy(&mut tape, logits, &labels).unwrap();
            let mut g = tape.backward(loss).unwrap();
            let grads: Vec<Vec<f32>> = p.iter().map(|&v| g.take(v).unwrap().into_vec()).collect();
            (tape.value(loss).data()[0], grads)
        };
        losses.push(loss);
        let mut ps: Vec<&mut [f32]> = params.iter_mut().map(|t| t.data_mut()).collect();
        let gs: Vec<&[f32]> = grads.iter().map(|g| g.as_slice()).collect();
        opt.step(&mut ps, &gs).unwrap();
    }
    assert!(losses[0] > 1.0, "{losses:?}");
    assert!(*losses.last().unwrap() < 0.1, "{losses:?}");
}
