//! CPU kernels that copy or zero ranges along axis 1 of an N×C×inner tensor: channel
//! concat/split of feature maps and column slices/masks of N×D matrices (inner = 1).
//! Parallel over the outer index N once a task has enough elements to pay for itself.

use super::arith::CHUNK;
use rayon::prelude::*;

/// Outer rows per rayon task so each task moves about `CHUNK` elements.
fn rows_per_task(row: usize) -> usize {
    (CHUNK / row.max(1)).max(1)
}

/// Copies each source (N×cᵢ×inner, given as (data, cᵢ)) into consecutive channel
/// ranges of dst (N×Σcᵢ×inner).
pub fn concat(dst: &mut [f32], srcs: &[(&[f32], usize)], inner: usize) {
    let row = srcs.iter().map(|s| s.1).sum::<usize>() * inner;
    if row == 0 {
        return;
    }
    dst.par_chunks_mut(row)
        .with_min_len(rows_per_task(row))
        .enumerate()
        .for_each(|(n, d)| {
            let mut off = 0;
            for &(s, c) in srcs {
                let len = c * inner;
                d[off..off + len].copy_from_slice(&s[n * len..(n + 1) * len]);
                off += len;
            }
        });
}

/// dst (N×c×inner) = channels [start, start + c) of src (N×cs×inner).
pub fn extract(dst: &mut [f32], src: &[f32], cs: usize, start: usize, c: usize, inner: usize) {
    let len = c * inner;
    if len == 0 {
        return;
    }
    dst.par_chunks_mut(len)
        .with_min_len(rows_per_task(len))
        .enumerate()
        .for_each(|(n, d)| {
            let from = n * cs * inner + start * inner;
            d.copy_from_slice(&src[from..from + len]);
        });
}

/// dst (N×cd×inner): channels [start, start + c) = src (N×c×inner), the rest zero.
pub fn insert_into_zeros(
    dst: &mut [f32],
    cd: usize,
    src: &[f32],
    start: usize,
    c: usize,
    inner: usize,
) {
    let row = cd * inner;
    if row == 0 {
        return;
    }
    let len = c * inner;
    dst.par_chunks_mut(row)
        .with_min_len(rows_per_task(row))
        .enumerate()
        .for_each(|(n, d)| {
            let at = start * inner;
            d[..at].fill(0.0);
            d[at..at + len].copy_from_slice(&src[n * len..(n + 1) * len]);
            d[at + len..].fill(0.0);
        });
}

/// out = x with channels ≥ keep of every row zeroed (x is N×c×inner).
pub fn zero_from(out: &mut [f32], x: &[f32], c: usize, keep: usize, inner: usize) {
    let row = c * inner;
    if row == 0 {
        return;
    }
    out.par_chunks_mut(row)
        .zip(x.par_chunks(row))
        .with_min_len(rows_per_task(row))
        .for_each(|(o, x)| {
            let at = keep * inner;
            o[..at].copy_from_slice(&x[..at]);
            o[at..].fill(0.0);
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::seed_values;

    /// Naive index-by-index reference: element (n, ch, j) of an N×C×inner tensor.
    fn at(data: &[f32], c: usize, inner: usize, n: usize, ch: usize, j: usize) -> f32 {
        data[(n * c + ch) * inner + j]
    }

    #[test]
    fn channel_copies_match_index_reference_on_large_shapes() {
        let (n, inner) = (37, 211);
        let (ca, cb) = (5, 9);
        let a = seed_values(n * ca * inner, 1);
        let b = seed_values(n * cb * inner, 2);
        let mut cat = vec![0.0; n * (ca + cb) * inner];
        concat(&mut cat, &[(&a, ca), (&b, cb)], inner);
        for i in 0..n {
            for ch in 0..ca + cb {
                for j in 0..inner {
                    let want = if ch < ca {
                        at(&a, ca, inner, i, ch, j)
                    } else {
                        at(&b, cb, inner, i, ch - ca, j)
                    };
                    assert_eq!(at(&cat, ca + cb, inner, i, ch, j), want);
                }
            }
        }
        let mut back = vec![0.0; b.len()];
        extract(&mut back, &cat, ca + cb, ca, cb, inner);
        assert_eq!(back, b);
        let mut padded = vec![1.0; cat.len()];
        insert_into_zeros(&mut padded, ca + cb, &b, ca, cb, inner);
        let mut want = cat.clone();
        zero_from(&mut want, &cat, ca + cb, 0, inner);
        concat(&mut want, &[(&vec![0.0; a.len()], ca), (&b, cb)], inner);
        assert_eq!(padded, want);
        let mut masked = vec![0.0; cat.len()];
        zero_from(&mut masked, &cat, ca + cb, ca, inner);
        let mut want = vec![0.0; cat.len()];
        concat(&mut want, &[(&a, ca), (&vec![0.0; b.len()], cb)], inner);
        assert_eq!(masked, want);
    }
}
