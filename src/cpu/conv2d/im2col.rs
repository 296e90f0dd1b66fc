//! im2col of one tile of output pixels and its adjoint col2im, with zero or replicate
//! padding. Row `(c·kH + ky)·kW + kx` of the tile matrix holds input channel `c` shifted
//! by `(ky, kx)` at every output pixel of the tile, images side by side.

use super::microkernel::pack_b_row;
use super::{ConvGeom, PadMode, Tile};

/// The first output index whose source `ox·s + off` is ≥ 0, and the first whose source
/// is ≥ `len`; both clamped to `[0, out]`.
fn valid_range(out: usize, len: usize, s: usize, off: isize) -> (usize, usize) {
    let lo = if off < 0 {
        (off.unsigned_abs()).div_ceil(s).min(out)
    } else {
        0
    };
    let end = len as isize - off;
    let hi = if end <= 0 {
        0
    } else {
        (end as usize).div_ceil(s).min(out)
    };
    (lo, hi.max(lo))
}

/// The input row read by output row `oy` at kernel row `ky`, or None for a zero row.
fn source_row(g: &ConvGeom, oy: usize, ky: usize) -> Option<usize> {
    let iy = (oy * g.p.stride + ky) as isize - g.p.padding as isize;
    if iy >= 0 && (iy as usize) < g.h {
        Some(iy as usize)
    } else if g.p.pad_mode == PadMode::Replicate {
        Some(iy.clamp(0, g.h as isize - 1) as usize)
    } else {
        None
    }
}

/// dst[ox] = src[ox·s + off], padded outside `src`.
fn fill_row(dst: &mut [f32], src: &[f32], s: usize, off: isize, mode: PadMode) {
    let (lo, hi) = valid_range(dst.len(), src.len(), s, off);
    let (left, right) = match mode {
        PadMode::Zeros => (0.0, 0.0),
        PadMode::Replicate => (src[0], src[src.len() - 1]),
    };
    dst[..lo].fill(left);
    dst[hi..].fill(right);
    if hi > lo {
        let a = (lo as isize * s as isize + off) as usize;
        if s == 1 {
            dst[lo..hi].copy_from_slice(&src[a..a + hi - lo]);
        } else {
            for (d, v) in dst[lo..hi].iter_mut().zip(src[a..].iter().step_by(s)) {
                *d = *v;
            }
        }
    }
}

/// The adjoint of `fill_row`: dst[ox·s + off] += src[ox], padding routed to the edges.
fn add_row(dst: &mut [f32], src: &[f32], s: usize, off: isize, mode: PadMode) {
    let (lo, hi) = valid_range(src.len(), dst.len(), s, off);
    if mode == PadMode::Replicate {
        let last = dst.len() - 1;
        dst[0] += src[..lo].iter().sum::<f32>();
        dst[last] += src[hi..].iter().sum::<f32>();
    }
    if hi > lo {
        let a = (lo as isize * s as isize + off) as usize;
        if s == 1 {
            for (d, v) in dst[a..a + hi - lo].iter_mut().zip(&src[lo..hi]) {
                *d += *v;
            }
        } else {
            for (d, v) in dst[a..].iter_mut().step_by(s).zip(&src[lo..hi]) {
                *d += *v;
            }
        }
    }
}

/// Writes row `(c, ky, kx)` of the im2col matrix of tile `t` (its `pt` pixels) into `dst`.
#[allow(clippy::too_many_arguments)]
pub(super) fn im2col_row(
    g: &ConvGeom,
    x: &[f32],
    t: &Tile,
    c: usize,
    ky: usize,
    kx: usize,
    dst: &mut [f32],
) {
    let wo = g.wo();
    let seg = (t.r1 - t.r0) * wo;
    let hw = g.h * g.w;
    let off = kx as isize - g.p.padding as isize;
    for n in t.n0..t.n1 {
        let plane = &x[(n * g.c + c) * hw..][..hw];
        for oy in t.r0..t.r1 {
            let d = &mut dst[(n - t.n0) * seg + (oy - t.r0) * wo..][..wo];
            match source_row(g, oy, ky) {
                Some(iy) => fill_row(d, &plane[iy * g.w..][..g.w], g.p.stride, off, g.p.pad_mode),
                None => d.fill(0.0),
            }
        }
    }
}

/// Writes the K×P im2col matrix of tile `t` of input `x` (N×C×H×W) into `cols`.
pub(super) fn im2col_tile(g: &ConvGeom, x: &[f32], t: &Tile, cols: &mut [f32]) {
    let pt = t.pixels(g.wo());
    for c in 0..g.c {
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let kk = (c * g.kh + ky) * g.kw + kx;
                im2col_row(g, x, t, c, ky, kx, &mut cols[kk * pt..][..pt]);
            }
        }
    }
}

/// Writes the im2col matrix of tile `t` straight into the micro-kernel's NR-column
/// panels; `row` is scratch of the tile's pixel count.
pub(super) fn im2col_tile_packed(
    g: &ConvGeom,
    x: &[f32],
    t: &Tile,
    row: &mut [f32],
    packed: &mut [f32],
) {
    for c in 0..g.c {
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                let kk = (c * g.kh + ky) * g.kw + kx;
                im2col_row(g, x, t, c, ky, kx, row);
                pack_b_row(row, kk, g.k(), packed);
            }
        }
    }
}

/// Adds the K×P tile gradient `dcols` of tile `t` into `dx`, which holds images from
/// `base` on (N×C×H×W layout).
pub(super) fn col2im_tile(g: &ConvGeom, dcols: &[f32], t: &Tile, base: usize, dx: &mut [f32]) {
    let wo = g.wo();
    let pt = t.pixels(wo);
    let seg = (t.r1 - t.r0) * wo;
    let hw = g.h * g.w;
    for n in t.n0..t.n1 {
        for c in 0..g.c {
            let plane = &mut dx[((n - base) * g.c + c) * hw..][..hw];
            for ky in 0..g.kh {
                for kx in 0..g.kw {
                    let row = ((c * g.kh + ky) * g.kw + kx) * pt + (n - t.n0) * seg;
                    let off = kx as isize - g.p.padding as isize;
                    for oy in t.r0..t.r1 {
                        if let Some(iy) = source_row(g, oy, ky) {
                            let src = &dcols[row + (oy - t.r0) * wo..][..wo];
                            let dst = &mut plane[iy * g.w..][..g.w];
                            add_row(dst, src, g.p.stride, off, g.p.pad_mode);
                        }
                    }
                }
            }
        }
    }
}

/// Writes image `x_img` (C×H×W) with its padding into `out` (C×(H+2p)×(W+2p)).
pub(super) fn pad_image(g: &ConvGeom, x_img: &[f32], out: &mut [f32]) {
    let (p, hw) = (g.p.padding, g.h * g.w);
    let (hp, wp) = (g.h + 2 * p, g.w + 2 * p);
    for c in 0..g.c {
        let plane = &x_img[c * hw..][..hw];
        for r in 0..hp {
            let dst = &mut out[(c * hp + r) * wp..][..wp];
            // Padded row r is output row r of a 1-row kernel at stride 1.
            match source_row(g, r, 0) {
                Some(iy) => fill_row(
                    dst,
                    &plane[iy * g.w..][..g.w],
                    1,
                    -(p as isize),
                    g.p.pad_mode,
                ),
                None => dst.fill(0.0),
            }
        }
    }
}
