//! CPU kernels of 2-D max-pooling (NCHW, square window, stride, -inf padding, floor
//! output size): forward records the argmax of every window as a u8 offset within the
//! window (first maximum in row-major window order, as PyTorch), backward routes each
//! output gradient to it. A fast path serves 2×2 stride 2; the naive f64 reference is
//! beside them for tests.

use rayon::prelude::*;

pub use crate::kparams::geometry::PoolGeom;

/// Updates the running maximum like PyTorch: a larger value or a NaN wins.
#[inline(always)]
fn better(v: f32, best: f32) -> bool {
    v > best || v.is_nan()
}

/// One plane, any window: scans every window in row-major order.
fn forward_plane_generic(g: &PoolGeom, x: &[f32], y: &mut [f32], arg: &mut [u8]) {
    let (ho, wo, w) = (g.ho(), g.wo(), g.w);
    for oy in 0..ho {
        let (y0, ylo, yhi) = g.window(oy, g.h);
        for ox in 0..wo {
            let (x0, xlo, xhi) = g.window(ox, g.w);
            let mut best = f32::NEG_INFINITY;
            let mut bi = (ylo * g.k + xlo) as u8;
            for ky in ylo..yhi {
                let row = &x[(y0 + ky as isize) as usize * w..][..w];
                for kx in xlo..xhi {
                    let v = row[(x0 + kx as isize) as usize];
                    if better(v, best) {
                        best = v;
                        bi = (ky * g.k + kx) as u8;
                    }
                }
            }
            y[oy * wo + ox] = best;
            arg[oy * wo + ox] = bi;
        }
    }
}

/// One plane, 2×2 stride 2 without padding (every window inside the image); branchless
/// with the argmax kept as a byte (a float index converted with `as u8` — a saturating
/// conversion — kept this loop scalar: 28 ms for 120×64×50×50 on 2 threads), so the
/// compiler vectorises it with deinterleaving loads.
fn forward_plane_2x2(g: &PoolGeom, x: &[f32], y: &mut [f32], arg: &mut [u8]) {
    let (ho, wo, w) = (g.ho(), g.wo(), g.w);
    #[inline(always)]
    fn take(best: &mut f32, idx: &mut u8, v: f32, i: u8) {
        let t = (v > *best) | v.is_nan();
        *best = if t { v } else { *best };
        *idx = if t { i } else { *idx };
    }
    for oy in 0..ho {
        let r0 = &x[2 * oy * w..][..2 * wo];
        let r1 = &x[(2 * oy + 1) * w..][..2 * wo];
        let (yr, ar) = (&mut y[oy * wo..][..wo], &mut arg[oy * wo..][..wo]);
        for (((yv, av), p0), p1) in yr
            .iter_mut()
            .zip(ar.iter_mut())
            .zip(r0.chunks_exact(2))
            .zip(r1.chunks_exact(2))
        {
            let (mut best, mut bi) = (p0[0], 0u8);
            take(&mut best, &mut bi, p0[1], 1);
            take(&mut best, &mut bi, p1[0], 2);
            take(&mut best, &mut bi, p1[1], 3);
            *yv = best;
            *av = bi;
        }
    }
}

/// Row maxima of three neighbours (the interior of a 3-wide stride-1 window) and their
/// offsets 0..2. Its own function: inlined into `forward_plane_s1` the loop stayed scalar
/// (15 ms for the Inception pool at batch 120); alone it vectorises.
#[inline(never)]
fn max3_row(row: &[f32], m: &mut [f32], id: &mut [f32]) {
    let n = m.len();
    let (a, b, c) = (&row[..n], &row[1..n + 1], &row[2..n + 2]);
    let id = &mut id[..n];
    for x in 0..n {
        let (mut best, mut i) = (a[x], 0.0);
        step(&mut best, &mut i, b[x], 1.0);
        step(&mut best, &mut i, c[x], 2.0);
        m[x] = best;
        id[x] = i;
    }
}

/// Maxima over three rows of row maxima (`m`, their offsets `c`) into one output row and
/// its argmax bytes; its own function for the same reason as `max3_row`.
#[inline(never)]
fn max3_column(m: [&[f32]; 3], c: [&[f32]; 3], y: &mut [f32], arg: &mut [u8]) {
    let n = y.len();
    let (m0, m1, m2) = (&m[0][..n], &m[1][..n], &m[2][..n]);
    let (c0, c1, c2) = (&c[0][..n], &c[1][..n], &c[2][..n]);
    let arg = &mut arg[..n];
    for x in 0..n {
        let (mut b, mut i) = (m0[x], c0[x]);
        step(&mut b, &mut i, m1[x], 3.0 + c1[x]);
        step(&mut b, &mut i, m2[x], 6.0 + c2[x]);
        y[x] = b;
        arg[x] = index_byte(i);
    }
}

/// A window offset held as f32 (exact, 0…k²−1 < 256) as a byte. `as u8` is a saturating
/// conversion that keeps loops scalar; this is one vector truncation.
#[inline(always)]
fn index_byte(i: f32) -> u8 {
    debug_assert!((0.0..256.0).contains(&i) && i.fract() == 0.0);
    // SAFETY: i is a small non-negative integer (a window offset), so it fits an i32.
    (unsafe { i.to_int_unchecked::<i32>() }) as u8
}

/// Running (max, argmax) update written without branches so loops over pixels
/// vectorise; same rule as `better`.
#[inline(always)]
fn step(best: &mut f32, idx: &mut f32, v: f32, i: f32) {
    let t = (v > *best) | v.is_nan();
    *best = if t { v } else { *best };
    *idx = if t { i } else { *idx };
}

/// One plane, stride 1: a row pass (max over kx, first max) then a column pass over
/// the row maxima (first row wins ties), which is the row-major first maximum. `hm`
/// and `hi` hold H×Wo row maxima and their kx.
fn forward_plane_s1(
    g: &PoolGeom,
    x: &[f32],
    y: &mut [f32],
    arg: &mut [u8],
    hm: &mut [f32],
    hi: &mut [f32],
) {
    let (ho, wo, w, k, p) = (g.ho(), g.wo(), g.w, g.k, g.p);
    // Outputs whose window lies inside the row: ox in p..p + w + 1 - k.
    let ilo = p.min(wo);
    let ihi = (p + (w + 1).saturating_sub(k)).clamp(ilo, wo);
    // 'Same' 3×3 (the Inception pool, planes of 6–100 pixels a side): both passes run
    // over the whole plane as one row, so the vector loops are not cut into rows too
    // short to vectorise; the wrapped row ends are redone below, the outer rows by the
    // partial-window path.
    let flat3 = k == 3 && p == 1 && g.h >= 3 && w >= 3;
    if flat3 {
        let hw = g.h * w;
        max3_row(&x[..hw], &mut hm[1..hw - 1], &mut hi[1..hw - 1]);
    }
    for r in 0..g.h {
        let row = &x[r * w..][..w];
        let (m, id) = (&mut hm[r * wo..][..wo], &mut hi[r * wo..][..wo]);
        for ox in (0..ilo).chain(ihi..wo) {
            let (x0, xlo, xhi) = g.window(ox, w);
            let (mut b, mut i) = (f32::NEG_INFINITY, xlo as f32);
            for kx in xlo..xhi {
                step(&mut b, &mut i, row[(x0 + kx as isize) as usize], kx as f32);
            }
            m[ox] = b;
            id[ox] = i;
        }
        if ihi == ilo || flat3 {
            continue;
        }
        // Interior output ox reads row[ox − p + kx]; ilo = p here.
        let (m, id) = (&mut m[ilo..ihi], &mut id[ilo..ihi]);
        if k == 3 {
            // One fused pass (the Inception pool): reads each row once.
            max3_row(row, m, id);
            continue;
        }
        m.copy_from_slice(&row[..ihi - ilo]);
        id.fill(0.0);
        for kx in 1..k {
            let src = &row[kx..kx + ihi - ilo];
            for ((b, i), &v) in m.iter_mut().zip(id.iter_mut()).zip(src) {
                step(b, i, v, kx as f32);
            }
        }
    }
    if flat3 {
        // Every full-window row (oy = 1..h − 1) in one pass.
        let n = (g.h - 2) * wo;
        let m = [&hm[..n], &hm[wo..][..n], &hm[2 * wo..][..n]];
        let c = [&hi[..n], &hi[wo..][..n], &hi[2 * wo..][..n]];
        max3_column(m, c, &mut y[wo..][..n], &mut arg[wo..][..n]);
    }
    let mut best = vec![0.0f32; wo];
    let mut idx = vec![0.0f32; wo];
    for oy in 0..ho {
        if flat3 && (1..ho - 1).contains(&oy) {
            continue;
        }
        let (y0, ylo, yhi) = g.window(oy, g.h);
        if k == 3 && ylo == 0 && yhi == 3 {
            // Full window: one fused pass over the three row maxima.
            let r = y0 as usize * wo;
            let (m0, m1, m2) = (&hm[r..][..wo], &hm[r + wo..][..wo], &hm[r + 2 * wo..][..wo]);
            let (c0, c1, c2) = (&hi[r..][..wo], &hi[r + wo..][..wo], &hi[r + 2 * wo..][..wo]);
            let (yr, ar) = (&mut y[oy * wo..][..wo], &mut arg[oy * wo..][..wo]);
            max3_column([m0, m1, m2], [c0, c1, c2], yr, ar);
            continue;
        }
        best.fill(f32::NEG_INFINITY);
        let r = (y0 + ylo as isize) as usize;
        for (i, &c) in idx.iter_mut().zip(&hi[r * wo..][..wo]) {
            *i = (ylo * k) as f32 + c;
        }
        for ky in ylo..yhi {
            let r = (y0 + ky as isize) as usize;
            let (m, c) = (&hm[r * wo..][..wo], &hi[r * wo..][..wo]);
            for (((b, i), &v), &c) in best.iter_mut().zip(idx.iter_mut()).zip(m).zip(c) {
                step(b, i, v, (ky * k) as f32 + c);
            }
        }
        y[oy * wo..][..wo].copy_from_slice(&best);
        for (a, &i) in arg[oy * wo..][..wo].iter_mut().zip(&idx) {
            *a = index_byte(i);
        }
    }
}

/// Working memory of one task's planes (the stride-1 path's row maxima).
pub(crate) struct PlaneScratch {
    hm: Vec<f32>,
    hi: Vec<f32>,
}

impl PlaneScratch {
    /// Scratch for planes of geometry `g`.
    pub(crate) fn new(g: &PoolGeom) -> Self {
        let n = if g.s == 1 { g.h * g.wo() } else { 0 };
        PlaneScratch {
            hm: vec![0.0; n],
            hi: vec![0.0; n],
        }
    }
}

/// One plane of `max_pool_forward`.
pub(crate) fn forward_plane(
    g: &PoolGeom,
    x: &[f32],
    y: &mut [f32],
    a: &mut [u8],
    s: &mut PlaneScratch,
) {
    if g.k == 2 && g.s == 2 && g.p == 0 {
        forward_plane_2x2(g, x, y, a);
    } else if g.s == 1 {
        forward_plane_s1(g, x, y, a, &mut s.hm, &mut s.hi);
    } else {
        forward_plane_generic(g, x, y, a);
    }
}

/// Input offset of each window position relative to the window's top-left corner.
pub(crate) fn window_offsets(g: &PoolGeom) -> Vec<isize> {
    (0..g.k * g.k)
        .map(|i| ((i / g.k) * g.w + i % g.k) as isize)
        .collect()
}

/// Calls `visit(input index, output index)` for every output of one plane, in order:
/// where its argmax sits in the plane.
#[inline(always)]
pub(crate) fn for_each_argmax(
    g: &PoolGeom,
    a: &[u8],
    offsets: &[isize],
    mut visit: impl FnMut(usize, usize),
) {
    let wo = g.wo();
    for (oy, a) in a.chunks(wo).enumerate() {
        // Window (0, 0) of this output row sits at input (oy·s − p, −p).
        let base = (oy * g.s * g.w) as isize - (g.p * g.w + g.p) as isize;
        for (ox, &off) in a.iter().enumerate() {
            visit(
                (base + (ox * g.s) as isize + offsets[off as usize]) as usize,
                oy * wo + ox,
            );
        }
    }
}

/// y = maxpool(x) overwriting `y`; `arg` receives each window's argmax offset.
pub fn max_pool_forward(g: &PoolGeom, x: &[f32], y: &mut [f32], arg: &mut [u8]) {
    let (hw, hwo) = (g.h * g.w, g.ho() * g.wo());
    assert_eq!(x.len(), g.n * g.c * hw, "max_pool2d kernel: input length");
    assert_eq!(y.len(), g.n * g.c * hwo, "max_pool2d kernel: output length");
    assert_eq!(arg.len(), y.len(), "max_pool2d kernel: argmax length");
    if hw == 0 || hwo == 0 {
        return;
    }
    let pp = g.planes_per_task();
    x.par_chunks(pp * hw)
        .zip(y.par_chunks_mut(pp * hwo).zip(arg.par_chunks_mut(pp * hwo)))
        .for_each(|(x, (y, a))| {
            let mut s = PlaneScratch::new(g);
            for ((x, y), a) in x.chunks(hw).zip(y.chunks_mut(hwo)).zip(a.chunks_mut(hwo)) {
                forward_plane(g, x, y, a, &mut s);
            }
        });
}

/// dx = gradient routed from `dy` to each window's argmax, overwriting `dx`.
pub fn max_pool_backward(g: &PoolGeom, dy: &[f32], arg: &[u8], dx: &mut [f32]) {
    let (hw, hwo) = (g.h * g.w, g.ho() * g.wo());
    assert_eq!(dx.len(), g.n * g.c * hw, "max_pool2d kernel: input length");
    assert_eq!(
        dy.len(),
        g.n * g.c * hwo,
        "max_pool2d kernel: output length"
    );
    assert_eq!(arg.len(), dy.len(), "max_pool2d kernel: argmax length");
    if hw == 0 {
        return;
    }
    if hwo == 0 {
        dx.fill(0.0);
        return;
    }
    let pp = g.planes_per_task();
    let offsets = window_offsets(g);
    dx.par_chunks_mut(pp * hw)
        .zip(dy.par_chunks(pp * hwo).zip(arg.par_chunks(pp * hwo)))
        .for_each(|(dx, (dy, a))| {
            for ((dx, dy), a) in dx.chunks_mut(hw).zip(dy.chunks(hwo)).zip(a.chunks(hwo)) {
                dx.fill(0.0);
                for_each_argmax(g, a, &offsets, |i, o| dx[i] += dy[o]);
            }
        });
}

/// Naive f64 max-pool, for tests.
pub fn max_pool_reference(g: &PoolGeom, x: &[f64]) -> Vec<f64> {
    let (ho, wo) = (g.ho(), g.wo());
    let mut y = Vec::with_capacity(g.n * g.c * ho * wo);
    for plane in x.chunks(g.h * g.w) {
        for oy in 0..ho {
            for ox in 0..wo {
                let mut best = f64::NEG_INFINITY;
                for ky in 0..g.k {
                    for kx in 0..g.k {
                        let iy = (oy * g.s + ky) as isize - g.p as isize;
                        let ix = (ox * g.s + kx) as isize - g.p as isize;
                        if iy >= 0 && ix >= 0 && (iy as usize) < g.h && (ix as usize) < g.w {
                            best = best.max(plane[iy as usize * g.w + ix as usize]);
                        }
                    }
                }
                y.push(best);
            }
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::seed_values;

    #[test]
    fn stride_one_path_picks_the_same_argmax_as_the_window_scan_under_ties() {
        for (k, p) in [(1, 0), (2, 1), (3, 1), (3, 0), (5, 2), (4, 1)] {
            for (h, w) in [
                (1, 1),
                (2, 3),
                (7, 9),
                (6, 4),
                (3, 3),
                (3, 1),
                (1, 5),
                (4, 3),
                (12, 12),
                (25, 25),
            ] {
                let Ok(g) = PoolGeom::new([1, 1, h, w], k, 1, p) else {
                    continue;
                };
                // Three distinct values: many ties in every window.
                let x: Vec<f32> = seed_values(h * w, (k * 31 + h) as u64)
                    .iter()
                    .map(|v| (v * 1.5).round())
                    .collect();
                let n = g.ho() * g.wo();
                let (mut y1, mut a1, mut y2, mut a2) =
                    (vec![0.0; n], vec![0; n], vec![0.0; n], vec![0; n]);
                let (mut hm, mut hi) = (vec![0.0; h * g.wo()], vec![0.0; h * g.wo()]);
                forward_plane_s1(&g, &x, &mut y1, &mut a1, &mut hm, &mut hi);
                forward_plane_generic(&g, &x, &mut y2, &mut a2);
                assert_eq!((y1, a1), (y2, a2), "k {k} p {p} {h}×{w}");
            }
        }
    }

    /// The vectorised 2×2 and stride-1 paths keep the window scan's rule: the first
    /// maximum in row-major order, and a NaN wins (PyTorch).
    #[test]
    fn fast_paths_match_the_window_scan_with_ties_and_nans() {
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for (h, w) in [
            (2, 2),
            (4, 6),
            (9, 7),
            (10, 33),
            (3, 3),
            (3, 5),
            (25, 25),
            (6, 6),
        ] {
            let x: Vec<f32> = seed_values(h * w, (h * w) as u64)
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    if i % 11 == 5 {
                        f32::NAN
                    } else {
                        (v * 1.5).round()
                    }
                })
                .collect();
            for (k, st, p) in [(2, 2, 0), (3, 1, 1)] {
                let g = PoolGeom::new([1, 1, h, w], k, st, p).unwrap();
                let n = g.ho() * g.wo();
                let (mut y1, mut a1, mut y2, mut a2) =
                    (vec![0.0; n], vec![0; n], vec![0.0; n], vec![0; n]);
                if st == 2 {
                    forward_plane_2x2(&g, &x, &mut y1, &mut a1);
                } else {
                    let (mut hm, mut hi) = (vec![0.0; h * g.wo()], vec![0.0; h * g.wo()]);
                    forward_plane_s1(&g, &x, &mut y1, &mut a1, &mut hm, &mut hi);
                }
                forward_plane_generic(&g, &x, &mut y2, &mut a2);
                assert_eq!((bits(&y1), a1), (bits(&y2), a2), "k {k} s {st} {h}×{w}");
            }
        }
    }
}
