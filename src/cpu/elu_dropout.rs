//! ELU, channel dropout and channel concatenation in one pass (the Inception block's
//! branch outputs and every conv unit's activation). Forward writes one part's
//! y = elu(x)·factor(b) into its channel slab of the concatenated output, b = n·c + j
//! the part's own feature-map index, so the masks are those of channel dropout on the
//! part alone. Backward reads only that output: where a map was kept (factor f > 0)
//! ELU's output is e = y / f, and where it was dropped the gradient is dy·0 whatever e
//! was — so neither ELU's output nor the pre-activation is stored.
//!
//! e = y / f undoes y = e·f to the bit for almost every value and is within one ulp
//! otherwise (tested); ELU's derivative e + 1 then differs from the stored-e chain by at
//! most one ulp of 1. That is the price of not keeping e (Inception: 1.44·C maps per
//! block of C channels).

use super::activation::{elu, elu_grad};
use super::arith::CHUNK;
use super::dropout::Mask;
use super::pool2d::{for_each_argmax, forward_plane, window_offsets, PlaneScratch, PoolGeom};
use rayon::prelude::*;

pub use crate::kparams::geometry::Slab;

/// Runs `body(first map index, part rows, output rows)` over groups of whole feature maps
/// of the part `x` and their slab in `whole`, in parallel.
fn walk_slab(
    s: Slab,
    part: &[f32],
    whole: &mut [f32],
    body: impl Fn(u64, &[f32], &mut [f32]) + Sync,
) {
    let (inner, c) = (s.inner, s.c);
    if inner == 0 || c == 0 {
        return;
    }
    let (img_in, img_out) = (c * inner, s.c_total * inner);
    let lo = s.offset * inner;
    let imgs = (CHUNK / img_in).max(1);
    let per_group = (CHUNK / inner).max(1);
    whole
        .par_chunks_mut(img_out * imgs)
        .zip(part.par_chunks(img_in * imgs))
        .enumerate()
        .for_each(|(t, (o, x))| {
            for (k, (o, x)) in o.chunks_mut(img_out).zip(x.chunks(img_in)).enumerate() {
                let b0 = ((t * imgs + k) * c) as u64;
                let o = &mut o[lo..lo + img_in];
                if img_in < 2 * CHUNK {
                    body(b0, x, o);
                } else {
                    o.par_chunks_mut(per_group * inner)
                        .zip(x.par_chunks(per_group * inner))
                        .enumerate()
                        .for_each(|(g, (o, x))| body(b0 + (g * per_group) as u64, x, o));
                }
            }
        });
}

/// Runs `body(first map index, rows)` over groups of whole feature maps of a part.
fn walk_part(s: Slab, part: &mut [f32], body: impl Fn(u64, &mut [f32]) + Sync) {
    if s.inner == 0 || s.c == 0 {
        return;
    }
    let per_task = (CHUNK / s.inner).max(1);
    part.par_chunks_mut(per_task * s.inner)
        .enumerate()
        .for_each(|(t, p)| body((t * per_task) as u64, p));
}

/// out[n, offset + j, :] = elu(x[n, j, :])·mask.factor(n·c + j) for x N×c×inner and out
/// N×c_total×inner; the rest of `out` is untouched.
pub fn forward(mask: &Mask, s: Slab, x: &[f32], out: &mut [f32]) {
    let m = *mask;
    let inner = s.inner;
    walk_slab(s, x, out, |b0, x, o| {
        for (j, (o, x)) in o.chunks_mut(inner).zip(x.chunks(inner)).enumerate() {
            let f = m.factor(b0 + j as u64);
            for (o, &x) in o.iter_mut().zip(x) {
                *o = elu(x) * f;
            }
        }
    });
}

/// dx[n, j, :] for the part at `s`, from the output's gradient `dy` and the output `y`
/// (both N×c_total×inner): dx = elu′(dy·f) with ELU's output recovered as y / f.
pub fn backward(mask: &Mask, s: Slab, dy: &[f32], y: &[f32], dx: &mut [f32]) {
    let m = *mask;
    let inner = s.inner;
    let (c, ct, lo) = (s.c, s.c_total, s.offset);
    // dx is the part (contiguous); dy and y are read at the same slab positions, so walk
    // dx's maps and index the whole tensors by map.
    walk_part(s, dx, |b0, dx| {
        for (j, dx) in dx.chunks_mut(inner).enumerate() {
            let b = b0 + j as u64;
            let (n, jj) = ((b / c as u64) as usize, (b % c as u64) as usize);
            let at = (n * ct + lo + jj) * inner;
            let (dy, y) = (&dy[at..at + inner], &y[at..at + inner]);
            let f = m.factor(b);
            if f != 0.0 {
                for ((dx, &dy), &y) in dx.iter_mut().zip(dy).zip(y) {
                    *dx = elu_grad(dy * f, y / f);
                }
            } else {
                // Dropped: e is unknown and irrelevant (dy·0 keeps a NaN/inf dy as NaN).
                for (dx, &dy) in dx.iter_mut().zip(dy) {
                    *dx = elu_grad(dy * f, 0.0);
                }
            }
        }
    });
}

/// max_pool(channel_dropout(elu(x))) for x N×C×H×W: each feature map's activation is
/// built in a scratch plane and pooled there, so it never reaches memory; `y` receives the
/// pooled values and `arg` their argmax bytes, as `pool2d::max_pool_forward` would from the
/// unfused activation (same plane kernels, so the same bits).
pub fn pool_forward(mask: &Mask, g: &PoolGeom, x: &[f32], y: &mut [f32], arg: &mut [u8]) {
    let (hw, hwo) = (g.h * g.w, g.ho() * g.wo());
    assert_eq!(x.len(), g.n * g.c * hw, "elu+dropout+pool: input length");
    assert_eq!(y.len(), g.n * g.c * hwo, "elu+dropout+pool: output length");
    assert_eq!(arg.len(), y.len(), "elu+dropout+pool: argmax length");
    if hw == 0 || hwo == 0 {
        return;
    }
    let m = *mask;
    let pp = g.planes_per_task();
    x.par_chunks(pp * hw)
        .zip(y.par_chunks_mut(pp * hwo).zip(arg.par_chunks_mut(pp * hwo)))
        .enumerate()
        .for_each(|(t, (x, (y, a)))| {
            let mut s = PlaneScratch::new(g);
            let mut plane = vec![0.0f32; hw];
            let planes = x.chunks(hw).zip(y.chunks_mut(hwo)).zip(a.chunks_mut(hwo));
            for (k, ((x, y), a)) in planes.enumerate() {
                let f = m.factor((t * pp + k) as u64);
                for (p, &x) in plane.iter_mut().zip(x) {
                    *p = elu(x) * f;
                }
                forward_plane(g, &plane, y, a, &mut s);
            }
        });
}

/// The backward of `pool_forward` from the pooled output `y` and its gradient `dy`: each
/// plane's gradient is routed to the argmax as the pool's backward does, then taken
/// through dropout and ELU with ELU's output recovered there as y / f (the pooled value
/// is the activation at its argmax) — the unfused chain's operations in its order.
pub fn pool_backward(mask: &Mask, g: &PoolGeom, dy: &[f32], y: &[f32], arg: &[u8], dx: &mut [f32]) {
    let (hw, hwo) = (g.h * g.w, g.ho() * g.wo());
    assert_eq!(dx.len(), g.n * g.c * hw, "elu+dropout+pool: input length");
    assert_eq!(dy.len(), g.n * g.c * hwo, "elu+dropout+pool: output length");
    assert_eq!(y.len(), dy.len(), "elu+dropout+pool: output length");
    assert_eq!(arg.len(), dy.len(), "elu+dropout+pool: argmax length");
    if hw == 0 {
        return;
    }
    let m = *mask;
    let pp = g.planes_per_task();
    let offsets = window_offsets(g);
    dx.par_chunks_mut(pp * hw)
        .zip(dy.par_chunks(pp * hwo).zip(y.par_chunks(pp * hwo)))
        .zip(arg.par_chunks(pp * hwo))
        .enumerate()
        .for_each(|(t, ((dx, (dy, y)), a))| {
            let mut e = vec![0.0f32; hw];
            let planes = dx
                .chunks_mut(hw)
                .zip(dy.chunks(hwo))
                .zip(y.chunks(hwo))
                .zip(a.chunks(hwo));
            for (k, (((dx, dy), y), a)) in planes.enumerate() {
                let f = m.factor((t * pp + k) as u64);
                dx.fill(0.0);
                e.fill(0.0);
                // The pool's backward into dx, ELU's output at the same places.
                for_each_argmax(g, a, &offsets, |i, o| {
                    dx[i] += dy[o];
                    e[i] = if f != 0.0 { y[o] / f } else { 0.0 };
                });
                for (d, &e) in dx.iter_mut().zip(&e) {
                    *d = elu_grad(*d * f, e);
                }
            }
        });
}

/// The plain reference: channel dropout of ELU, written into the slab, map by map.
#[cfg(test)]
pub fn forward_reference(mask: &Mask, s: Slab, x: &[f32], out: &mut [f32]) {
    let n = x.len() / (s.c * s.inner).max(1);
    for i in 0..n {
        for j in 0..s.c {
            let f = mask.factor((i * s.c + j) as u64);
            for k in 0..s.inner {
                out[(i * s.c_total + s.offset + j) * s.inner + k] =
                    elu(x[(i * s.c + j) * s.inner + k]) * f;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::seed_values;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// Slab writes equal the map-by-map reference bit for bit, leave the rest of the
        /// output alone, and the backward recovers ELU's output within one ulp.
        #[test]
        fn slab_forward_and_backward_match_the_reference(
            n in 1usize..5, c in 1usize..7, extra in 0usize..5, offset in 0usize..4,
            inner in 1usize..3000, p in 0.0f32..0.95, seed in any::<u64>(),
        ) {
            let offset = offset.min(extra);
            let s = Slab { inner, c, c_total: c + extra, offset };
            let mask = Mask::new(seed, p);
            let x: Vec<f32> = seed_values(n * c * inner, seed).iter().map(|v| v * 4.0).collect();
            let mut out = vec![7.0f32; n * s.c_total * inner];
            let mut want = out.clone();
            forward(&mask, s, &x, &mut out);
            forward_reference(&mask, s, &x, &mut want);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&out), bits(&want));

            let dy = seed_values(out.len(), seed ^ 5);
            let mut dx = vec![0.0f32; x.len()];
            backward(&mask, s, &dy, &out, &mut dx);
            for i in 0..n {
                for j in 0..c {
                    let f = mask.factor((i * c + j) as u64);
                    for k in 0..inner {
                        let xi = x[(i * c + j) * inner + k];
                        let at = (i * s.c_total + offset + j) * inner + k;
                        let chain = elu_grad(dy[at] * f, elu(xi));
                        let got = dx[(i * c + j) * inner + k];
                        prop_assert!((got - chain).abs() <= 2.5e-7 * (dy[at] * f).abs(),
                            "map ({i}, {j}) element {k}: {got} against the chain's {chain}");
                    }
                }
            }
        }
    }
}
