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

/// Σ a in f64 over 16 interleaved partial sums folded in a fixed order: one dependent
/// f64 add per element is latency-bound (~4 cycles each); sixteen independent ones
/// vectorise and run at memory speed. Deterministic (fixed by the length), not always
/// the sequential sum's bits.
pub fn sum_f64_lanes(a: &[f32]) -> f64 {
    const L: usize = 16;
    if a.len() < 4 * L {
        // Short rows (the last layers' 4×4 maps): the fold would cost more than it saves.
        return a.iter().map(|&v| v as f64).sum();
    }
    let mut acc = [0.0f64; L];
    let mut chunks = a.chunks_exact(L);
    for c in &mut chunks {
        for (s, &v) in acc.iter_mut().zip(c) {
            *s += v as f64;
        }
    }
    for (s, &v) in acc.iter_mut().zip(chunks.remainder()) {
        *s += v as f64;
    }
    // Pairwise fold: 16 → 8 → 4 → 2 → 1, always the same pairs.
    let mut w = L;
    while w > 1 {
        w /= 2;
        for i in 0..w {
            acc[i] += acc[i + w];
        }
    }
    acc[0]
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

#[cfg(test)]
mod lane_sum_tests {
    use super::sum_f64_lanes;
    use proptest::prelude::*;

    proptest! {
        /// Equal to the sequential f64 sum within f64 rounding at every length,
        /// remainders included.
        #[test]
        fn lane_sum_matches_the_sequential_sum(v in prop::collection::vec(-1e3f32..1e3, 0..200)) {
            let want: f64 = v.iter().map(|&x| x as f64).sum();
            let scale: f64 = v.iter().map(|&x| (x as f64).abs()).sum::<f64>() + 1e-30;
            let got = sum_f64_lanes(&v);
            prop_assert!((got - want).abs() <= 1e-14 * scale, "{got} against {want}");
        }
    }

    #[test]
    fn lane_sum_counts_every_element_once() {
        for n in [0usize, 1, 15, 16, 17, 33, 1000] {
            let v: Vec<f32> = (0..n).map(|i| (i + 1) as f32).collect();
            assert_eq!(sum_f64_lanes(&v), (n * (n + 1) / 2) as f64, "n = {n}");
        }
    }
}
