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
