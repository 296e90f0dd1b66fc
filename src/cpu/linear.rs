//! CPU kernels of the fully connected layer y = x·wᵀ + b (x N×I, w O×I in PyTorch's
//! layout, b O): forward and the three gradients through `sgemm`, and the bias gradient
//! as column sums over fixed column blocks so it is bit-identical at any thread count.

use super::gemm::{sgemm, Operand, Par};
use rayon::prelude::*;

/// Columns per parallel block of the bias gradient.
const COL_BLOCK: usize = 64;

/// y (N×O) = x (N×I) · wᵀ (+ b broadcast over rows).
pub fn forward(
    y: &mut [f32],
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    n: usize,
    i: usize,
    o: usize,
) {
    if o == 0 {
        return;
    }
    let accumulate = match b {
        Some(b) => {
            y.chunks_exact_mut(o).for_each(|row| row.copy_from_slice(b));
            true
        }
        None => false,
    };
    sgemm(
        n,
        o,
        i,
        Operand::new(x, i),
        Operand::t(w, i),
        y,
        o,
        accumulate,
        Par::All,
    );
}

/// dx (N×I) = dy (N×O) · w (O×I).
pub fn backward_input(dx: &mut [f32], dy: &[f32], w: &[f32], n: usize, i: usize, o: usize) {
    sgemm(
        n,
        i,
        o,
        Operand::new(dy, o),
        Operand::new(w, i),
        dx,
        i,
        false,
        Par::All,
    );
}

/// dw (O×I) = dyᵀ (O×N) · x (N×I).
pub fn backward_weight(dw: &mut [f32], dy: &[f32], x: &[f32], n: usize, i: usize, o: usize) {
    sgemm(
        o,
        i,
        n,
        Operand::t(dy, o),
        Operand::new(x, i),
        dw,
        i,
        false,
        Par::All,
    );
}

/// db (O) = column sums of dy (N×O), accumulated in f64 row by row.
pub fn bias_grad(db: &mut [f32], dy: &[f32], n: usize, o: usize) {
    db.par_chunks_mut(COL_BLOCK)
        .enumerate()
        .for_each(|(blk, out)| {
            let c0 = blk * COL_BLOCK;
            let mut acc = [0.0f64; COL_BLOCK];
            let acc = &mut acc[..out.len()];
            for r in 0..n {
                let row = &dy[r * o + c0..r * o + c0 + out.len()];
                for (a, &v) in acc.iter_mut().zip(row) {
                    *a += v as f64;
                }
            }
            for (d, a) in out.iter_mut().zip(acc.iter()) {
                *d = *a as f32;
            }
        });
}

/// Naive f64 reference of `forward`.
pub fn forward_reference(
    x: &[f64],
    w: &[f64],
    b: Option<&[f64]>,
    n: usize,
    i: usize,
    o: usize,
) -> Vec<f64> {
    let mut y = vec![0.0; n * o];
    for r in 0..n {
        for c in 0..o {
            let dot: f64 = (0..i).map(|p| x[r * i + p] * w[c * i + p]).sum();
            y[r * o + c] = dot + b.map_or(0.0, |b| b[c]);
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, seed_values, Tol};

    fn f64s(v: &[f32]) -> Vec<f64> {
        v.iter().map(|&v| v as f64).collect()
    }

    #[test]
    fn fast_linear_matches_f64_reference_on_large_shapes() {
        let (n, i, o) = (67, 300, 129);
        let (x, w, b, dy) = (
            seed_values(n * i, 1),
            seed_values(o * i, 2),
            seed_values(o, 3),
            seed_values(n * o, 4),
        );
        let mut y = vec![0.0; n * o];
        forward(&mut y, &x, &w, Some(&b), n, i, o);
        let want = forward_reference(&f64s(&x), &f64s(&w), Some(&f64s(&b)), n, i, o);
        assert_close("y", &y, &want, Tol::new(1e-5, 1e-5)).unwrap();

        let mut dx = vec![0.0; n * i];
        backward_input(&mut dx, &dy, &w, n, i, o);
        let want: Vec<f64> = (0..n * i)
            .map(|e| {
                (0..o)
                    .map(|c| dy[e / i * o + c] as f64 * w[c * i + e % i] as f64)
                    .sum()
            })
            .collect();
        assert_close("dx", &dx, &want, Tol::new(1e-5, 1e-5)).unwrap();

        let mut dw = vec![0.0; o * i];
        backward_weight(&mut dw, &dy, &x, n, i, o);
        let want: Vec<f64> = (0..o * i)
            .map(|e| {
                (0..n)
                    .map(|r| dy[r * o + e / i] as f64 * x[r * i + e % i] as f64)
                    .sum()
            })
            .collect();
        assert_close("dw", &dw, &want, Tol::new(1e-5, 1e-5)).unwrap();

        let mut db = vec![0.0; o];
        bias_grad(&mut db, &dy, n, o);
        let want: Vec<f64> = (0..o)
            .map(|c| (0..n).map(|r| dy[r * o + c] as f64).sum())
            .collect();
        assert_close("db", &db, &want, Tol::new(1e-6, 1e-6)).unwrap();
    }
}
