//! CPU kernels for elementwise arithmetic and reductions. Parallel above a size where
//! rayon's overhead pays; chunked so results do not depend on the thread count.

use rayon::prelude::*;

/// Elements per parallel chunk: large enough to amortise scheduling.
pub const CHUNK: usize = 1 << 14;

/// out[i] = f(a[i], b[i]).
pub fn zip_map(out: &mut [f32], a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) {
    out.par_chunks_mut(CHUNK)
        .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
        .for_each(|(o, (a, b))| {
            for ((o, &a), &b) in o.iter_mut().zip(a).zip(b) {
                *o = f(a, b);
            }
        });
}

/// out[i] = f(a[i]).
pub fn map(out: &mut [f32], a: &[f32], f: impl Fn(f32) -> f32 + Sync) {
    out.par_chunks_mut(CHUNK)
        .zip(a.par_chunks(CHUNK))
        .for_each(|(o, a)| {
            for (o, &a) in o.iter_mut().zip(a) {
                *o = f(a);
            }
        });
}

/// Sum in f64 over fixed chunks, combined in chunk order: bit-identical at any thread count.
pub fn sum(a: &[f32]) -> f64 {
    let partial: Vec<f64> = a
        .par_chunks(CHUNK)
        .map(|c| c.iter().map(|&v| v as f64).sum::<f64>())
        .collect();
    partial.iter().sum()
}

/// out = op(x) elementwise: the CPU twin of the `ew_unary` kernel.
pub fn unary(op: crate::kparams::UnaryOp, s: f32, out: &mut [f32], x: &[f32]) {
    use crate::kparams::UnaryOp::*;
    match op {
        Copy => map(out, x, |v| v),
        Scale => map(out, x, |v| v * s),
        AddScalar => map(out, x, |v| v + s),
        Ln => map(out, x, f32::ln),
        Fill => out.iter_mut().for_each(|o| *o = s),
    }
}

/// out = op(a, b) elementwise: the CPU twin of the `ew_binary` kernel.
pub fn binary(op: crate::kparams::BinaryOp, s: f32, out: &mut [f32], a: &[f32], b: &[f32]) {
    use crate::kparams::BinaryOp::*;
    match op {
        Add => zip_map(out, a, b, |x, y| x + y),
        Mul => zip_map(out, a, b, |x, y| x * y),
        Div => zip_map(out, a, b, |x, y| x / y),
        Axpy => zip_map(out, a, b, |x, y| x + s * y),
    }
}
