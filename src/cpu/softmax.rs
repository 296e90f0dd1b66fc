//! CPU kernels of softmax, log-softmax and the fused softmax cross-entropy along the
//! last axis of a rows×K tensor. Max-subtracted for stability; one rayon task per block
//! of rows; each row is reduced by one task in a fixed order, so results do not depend
//! on the thread count.
//!
//! Versions (cross-entropy forward, 4096×1000, loaded 2-core box):
//! 1. `fold`/`sum` over the row: a single scalar accumulator, 62.9 ms (2 threads);
//! 2. 8 interleaved lane accumulators (`lane_reduce`): vectorised exp and sum, 11.5 ms (1 thread).

use super::arith::CHUNK;
use super::fastmath::exp;
use rayon::prelude::*;

fn rows_per_task(k: usize) -> usize {
    (CHUNK / k.max(1)).max(1)
}

/// Accumulator lanes: a row is reduced in 8 interleaved partial results combined in a
/// fixed order, which lets LLVM keep them in one AVX2 register (a single running f32
/// accumulator must stay scalar because float addition is not associative).
const LANES: usize = 8;

fn lane_reduce(x: &[f32], init: f32, f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [init; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            acc[l] = f(acc[l], c[l]);
        }
    }
    for (a, &v) in acc.iter_mut().zip(rest) {
        *a = f(*a, v);
    }
    acc.iter().fold(init, |a, &b| f(a, b))
}

fn row_max(x: &[f32]) -> f32 {
    lane_reduce(x, f32::NEG_INFINITY, f32::max)
}

fn row_sum(x: &[f32]) -> f32 {
    lane_reduce(x, 0.0, |a, b| a + b)
}

/// (max, ln Σ exp(x − max)) of one row.
fn row_lse(x: &[f32]) -> (f32, f32) {
    let m = row_max(x);
    let mut acc = [0.0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += exp(c[l] - m);
        }
    }
    for (a, &v) in acc.iter_mut().zip(rest) {
        *a += exp(v - m);
    }
    (m, row_sum(&acc).ln())
}

/// out = softmax of each row of x (rows of length k).
pub fn softmax(out: &mut [f32], x: &[f32], k: usize) {
    if k == 0 {
        return;
    }
    out.par_chunks_mut(k)
        .zip(x.par_chunks(k))
        .with_min_len(rows_per_task(k))
        .for_each(|(o, x)| {
            let m = row_max(x);
            for (o, &v) in o.iter_mut().zip(x) {
                *o = exp(v - m);
            }
            let inv = 1.0 / row_sum(o);
            o.iter_mut().for_each(|o| *o *= inv);
        });
}

/// out = log-softmax of each row of x.
pub fn log_softmax(out: &mut [f32], x: &[f32], k: usize) {
    if k == 0 {
        return;
    }
    out.par_chunks_mut(k)
        .zip(x.par_chunks(k))
        .with_min_len(rows_per_task(k))
        .for_each(|(o, x)| {
            let (m, l) = row_lse(x);
            let shift = m + l;
            for (o, &v) in o.iter_mut().zip(x) {
                *o = v - shift;
            }
        });
}

/// g ← y ⊙ (g − Σ g·y) per row, in place (softmax backward from its output y).
pub fn softmax_backward(g: &mut [f32], y: &[f32], k: usize) {
    if k == 0 {
        return;
    }
    g.par_chunks_mut(k)
        .zip(y.par_chunks(k))
        .with_min_len(rows_per_task(k))
        .for_each(|(g, y)| {
            let mut acc = [0.0f32; LANES];
            for (i, (g, y)) in g.iter().zip(y).enumerate() {
                acc[i % LANES] += g * y;
            }
            let dot = row_sum(&acc);
            for (g, &y) in g.iter_mut().zip(y) {
                *g = y * (*g - dot);
            }
        });
}

/// g ← g − exp(y)·Σ g per row, in place (log-softmax backward from its output y).
pub fn log_softmax_backward(g: &mut [f32], y: &[f32], k: usize) {
    if k == 0 {
        return;
    }
    g.par_chunks_mut(k)
        .zip(y.par_chunks(k))
        .with_min_len(rows_per_task(k))
        .for_each(|(g, y)| {
            let s = row_sum(g);
            for (g, &y) in g.iter_mut().zip(y) {
                *g -= exp(y) * s;
            }
        });
}

/// Fused cross-entropy forward: writes each labelled row's log-sum-exp into `lse`
/// (0 for unlabelled rows) and returns Σ over labelled rows of lse − x[label], in f64.
/// Labels must be < k (the caller checks).
pub fn cross_entropy(lse: &mut [f32], x: &[f32], labels: &[Option<usize>], k: usize) -> f64 {
    let per_row: Vec<f64> = lse
        .par_iter_mut()
        .zip(x.par_chunks(k))
        .zip(labels.par_iter())
        .with_min_len(rows_per_task(k))
        .map(|((l, x), label)| match label {
            Some(c) => {
                let (m, s) = row_lse(x);
                *l = m + s;
                (*l as f64) - x[*c] as f64
            }
            None => {
                *l = 0.0;
                0.0
            }
        })
        .collect();
    per_row.iter().sum()
}

/// Cross-entropy backward: dx = scale·(softmax(x) − onehot(label)) for labelled rows,
/// 0 for unlabelled ones, with the softmax rebuilt from the saved log-sum-exp.
pub fn cross_entropy_backward(
    dx: &mut [f32],
    x: &[f32],
    lse: &[f32],
    labels: &[Option<usize>],
    k: usize,
    scale: f32,
) {
    if k == 0 {
        return;
    }
    dx.par_chunks_mut(k)
        .zip(x.par_chunks(k))
        .zip(lse.par_iter().zip(labels.par_iter()))
        .with_min_len(rows_per_task(k))
        .for_each(|((d, x), (&l, label))| match label {
            Some(c) => {
                for (d, &v) in d.iter_mut().zip(x) {
                    *d = scale * exp(v - l);
                }
                d[*c] -= scale;
            }
            None => d.fill(0.0),
        });
}

/// Naive f64 reference of `log_softmax` (softmax is its exp).
pub fn log_softmax_reference(x: &[f64], k: usize) -> Vec<f64> {
    x.chunks(k)
        .flat_map(|row| {
            let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            row.iter().map(move |v| v - lse)
        })
        .collect()
}

/// Naive f64 reference of the mean cross-entropy over labelled rows.
pub fn cross_entropy_reference(x: &[f64], labels: &[Option<usize>], k: usize) -> f64 {
    let ls = log_softmax_reference(x, k);
    let (sum, count) = labels
        .iter()
        .enumerate()
        .filter_map(|(r, l)| l.map(|c| -ls[r * k + c]))
        .fold((0.0, 0), |(s, n), v| (s + v, n + 1));
    sum / count as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, seed_values, Tol};

    #[test]
    fn fast_softmax_kernels_match_f64_reference_on_large_shapes() {
        let (n, k) = (300, 129);
        let x: Vec<f32> = seed_values(n * k, 4).iter().map(|v| v * 30.0).collect();
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let want = log_softmax_reference(&x64, k);
        let mut y = vec![0.0; n * k];
        log_softmax(&mut y, &x, k);
        assert_close("log_softmax", &y, &want, Tol::new(1e-5, 1e-6)).unwrap();
        softmax(&mut y, &x, k);
        let p: Vec<f64> = want.iter().map(|v| v.exp()).collect();
        assert_close("softmax", &y, &p, Tol::new(1e-7, 1e-5)).unwrap();

        let labels: Vec<Option<usize>> =
            (0..n).map(|r| (r % 3 != 0).then_some(r * 7 % k)).collect();
        let mut lse = vec![0.0; n];
        let count = labels.iter().flatten().count();
        let loss = cross_entropy(&mut lse, &x, &labels, k) / count as f64;
        let want_loss = cross_entropy_reference(&x64, &labels, k);
        assert!(
            (loss - want_loss).abs() < 1e-5 * want_loss.abs(),
            "{loss} vs {want_loss}"
        );
        let mut dx = vec![1.0; n * k];
        let scale = 1.0 / count as f32;
        cross_entropy_backward(&mut dx, &x, &lse, &labels, k, scale);
        let want_dx: Vec<f64> = (0..n * k)
            .map(|i| match labels[i / k] {
                Some(c) => (p[i] - (i % k == c) as u8 as f64) * scale as f64,
                None => 0.0,
            })
            .collect();
        assert_close("cross_entropy grad", &dx, &want_dx, Tol::new(1e-8, 1e-5)).unwrap();
    }

    #[test]
    fn cross_entropy_and_bias_grad_are_bit_identical_at_any_thread_count() {
        let (n, k) = (2000, 37);
        let x = seed_values(n * k, 8);
        let labels: Vec<Option<usize>> = (0..n).map(|r| Some(r % k)).collect();
        let run = || {
            let mut lse = vec![0.0; n];
            let loss = cross_entropy(&mut lse, &x, &labels, k);
            let mut db = vec![0.0; k];
            crate::cpu::linear::bias_grad(&mut db, &x, n, k);
            let mut y = vec![0.0; n * k];
            softmax(&mut y, &x, k);
            (loss, lse, db, y)
        };
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let three = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        assert!(one.install(run) == three.install(run));
    }
}
