//! Version 5: direct forward convolution on AVX-512 for stride 1 and few input
//! channels. Each register tile is 8 output channels × 32 output pixels of one row;
//! it walks (c, ky, kx) loading two input vectors straight from the (padded) image and
//! broadcasting 8 weights, so there is no im2col at all — which is what dominates when
//! I·kH·kW is small.

use super::im2col::pad_image;
use super::microkernel::available;
use super::{reduce_partials, weight_chunk_images, with_scratch, Conv2dParams, ConvGeom, PadMode};
use rayon::prelude::*;

/// Output channels per register tile.
const OB: usize = 8;

/// Whether the direct kernel serves this forward: stride 1, rows wide enough to fill
/// most of the 32 lanes, and I·kH·kW small enough that im2col would dominate (measured
/// faster than the micro-kernel up to at least 432; equal at 864). A 1×1 convolution
/// only when its input has very few channels (sgemm reads wider ones better).
pub(super) fn suits(g: &ConvGeom) -> bool {
    suits_up_to(g, 512)
}

/// `suits` with a chosen bound on I·kH·kW.
fn suits_up_to(g: &ConvGeom, max_k: usize) -> bool {
    g.p.stride == 1
        && g.k() <= max_k
        && g.wo() >= 16
        && (g.kh * g.kw > 1 || g.k() <= 16)
        && available()
}

/// Weights as [o-block][c][ky][kx][8], zero rows past O; `at(o, kk)` reads weight
/// (o, kk) of the convolution being run.
fn pack_weights(o: usize, k: usize, at: impl Fn(usize, usize) -> f32) -> Vec<f32> {
    let mut wpk = vec![0.0f32; o.div_ceil(OB) * k * OB];
    for oi in 0..o {
        for kk in 0..k {
            wpk[((oi / OB) * k + kk) * OB + oi % OB] = at(oi, kk);
        }
    }
    wpk
}

/// One image: `img` is the input already padded (C×(H+2p)×(W+2p)), `yi` the O×Ho×Wo output.
fn image(g: &ConvGeom, img: &[f32], wpk: &[f32], b: Option<&[f32]>, yi: &mut [f32]) {
    let (k, ho, wo) = (g.k(), g.ho(), g.wo());
    let (hp, wp) = (g.h + 2 * g.p.padding, g.w + 2 * g.p.padding);
    for ob in 0..g.o.div_ceil(OB) {
        let rows = (g.o - ob * OB).min(OB);
        let mut init = [0.0f32; OB];
        if let Some(b) = b {
            init[..rows].copy_from_slice(&b[ob * OB..ob * OB + rows]);
        }
        let wb = &wpk[ob * k * OB..][..k * OB];
        let yb = &mut yi[ob * OB * ho * wo..];
        for oy in 0..ho {
            for ox in (0..wo).step_by(32) {
                let cols = (wo - ox).min(32);
                // Reads stay inside the image: the last input touched is
                // (c, oy + kh − 1, ox + cols − 1 + kw − 1) < (C, hp, wp).
                assert!(((g.c - 1) * hp + oy + g.kh - 1) * wp + ox + cols + g.kw - 2 < img.len());
                assert!((rows - 1) * ho * wo + oy * wo + ox + cols <= yb.len());
                // SAFETY: AVX-512F checked by the callers' `suits*`; input reads bounded
                // by the first assert (masked lanes are not accessed), output writes by
                // the second.
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    tile(
                        g,
                        img[oy * wp + ox..].as_ptr(),
                        hp * wp,
                        wp,
                        wb.as_ptr(),
                        &init,
                        yb[oy * wo + ox..].as_mut_ptr(),
                        ho * wo,
                        rows,
                        cols,
                    )
                };
            }
        }
    }
}

/// y = conv(x, w) + b for a geometry that `suits`.
pub(super) fn forward(g: &ConvGeom, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) {
    let k = g.k();
    let wpk = pack_weights(g.o, k, |o, kk| w[o * k + kk]);
    let (hp, wp) = (g.h + 2 * g.p.padding, g.w + 2 * g.p.padding);
    let chw = g.c * g.h * g.w;
    let padded = g.p.padding > 0;
    y.par_chunks_mut(g.o * g.ho() * g.wo())
        .zip(x.par_chunks(chw.max(1)))
        .for_each(|(yi, xi)| {
            with_scratch(if padded { g.c * hp * wp } else { 0 }, |buf| {
                if padded {
                    pad_image(g, xi, buf);
                    image(g, buf, &wpk, b, yi);
                } else {
                    image(g, xi, &wpk, b, yi);
                }
            });
        });
}

/// The convolution whose forward is the gradient of `g` with respect to its padded
/// input: dy zero-padded by k − 1, correlated with the flipped, transposed weights.
fn transposed(g: &ConvGeom) -> ConvGeom {
    ConvGeom {
        c: g.o,
        h: g.ho(),
        w: g.wo(),
        o: g.c,
        p: Conv2dParams {
            stride: 1,
            padding: g.kh - 1,
            pad_mode: PadMode::Zeros,
        },
        ..*g
    }
}

/// Whether `backward_input` serves this geometry (stride 1, square kernel, padding
/// below the kernel size, and the transposed convolution `suits`).
pub(super) fn suits_backward_input(g: &ConvGeom) -> bool {
    // Measured: the alternative (micro-kernel + col2im) pays for its scatter, so the
    // direct path wins up to a larger depth than in forward (O·k² = 800 still 1.35×).
    g.p.stride == 1 && g.kh == g.kw && g.p.padding < g.kh && suits_up_to(&transposed(g), 1024)
}

/// dx for a geometry that `suits_backward_input`: the gradient of the padded input by
/// a direct convolution of dy, then the border folded back (cropped for zero padding,
/// added onto the edge pixels for replicate padding).
pub(super) fn backward_input(g: &ConvGeom, w: &[f32], dy: &[f32], dx: &mut [f32]) {
    let gt = transposed(g);
    let (kh, kw, k) = (g.kh, g.kw, g.k());
    // w'[c][o][ky][kx] = w[o][c][kh−1−ky][kw−1−kx].
    let wpk = pack_weights(g.c, gt.k(), |c, kk| {
        let (o, ky, kx) = (kk / (kh * kw), kk / kw % kh, kk % kw);
        w[o * k + (c * kh + kh - 1 - ky) * kw + kw - 1 - kx]
    });
    let (p, hp, wp) = (g.p.padding, g.h + 2 * g.p.padding, g.w + 2 * g.p.padding);
    let dyp_len = gt.c * (gt.h + 2 * gt.p.padding) * (gt.w + 2 * gt.p.padding);
    let chw = g.c * g.h * g.w;
    dx.par_chunks_mut(chw)
        .zip(dy.par_chunks(g.o * g.ho() * g.wo()))
        .for_each(|(dxi, dyi)| {
            with_scratch(dyp_len + g.c * hp * wp, |buf| {
                let (dyp, dxp) = buf.split_at_mut(dyp_len);
                pad_image(&gt, dyi, dyp);
                image(&gt, dyp, &wpk, None, dxp);
                dxi.fill(0.0);
                for (plane, pplane) in dxi.chunks_mut(g.h * g.w).zip(dxp.chunks(hp * wp)) {
                    for py in 0..hp {
                        let iy = match g.p.pad_mode {
                            _ if py >= p && py < p + g.h => py - p,
                            PadMode::Zeros => continue,
                            PadMode::Replicate => py.saturating_sub(p).min(g.h - 1),
                        };
                        let src = &pplane[py * wp..][..wp];
                        let dst = &mut plane[iy * g.w..][..g.w];
                        dst.iter_mut()
                            .zip(&src[p..p + g.w])
                            .for_each(|(d, s)| *d += s);
                        if g.p.pad_mode == PadMode::Replicate {
                            dst[0] += src[..p].iter().sum::<f32>();
                            dst[g.w - 1] += src[p + g.w..].iter().sum::<f32>();
                        }
                    }
                }
            });
        });
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile(
    g: &ConvGeom,
    x: *const f32,
    ldc: usize,
    ldr: usize,
    w: *const f32,
    init: &[f32; OB],
    y: *mut f32,
    ldo: usize,
    rows: usize,
    cols: usize,
) {
    use std::arch::x86_64::*;
    let m0: __mmask16 = if cols >= 16 {
        0xFFFF
    } else {
        (1u16 << cols) - 1
    };
    let m1: __mmask16 = if cols >= 32 {
        0xFFFF
    } else if cols > 16 {
        (1u16 << (cols - 16)) - 1
    } else {
        0
    };
    let mut acc = [[_mm512_setzero_ps(); 2]; OB];
    for (r, v) in acc.iter_mut().zip(init) {
        let s = _mm512_set1_ps(*v);
        *r = [s, s];
    }
    let mut wp = w;
    for c in 0..g.c {
        for ky in 0..g.kh {
            let row = x.add(c * ldc + ky * ldr);
            for kx in 0..g.kw {
                let x0 = _mm512_maskz_loadu_ps(m0, row.add(kx));
                let x1 = _mm512_maskz_loadu_ps(m1, row.wrapping_add(kx + 16));
                for (i, r) in acc.iter_mut().enumerate() {
                    let wi = _mm512_set1_ps(*wp.add(i));
                    r[0] = _mm512_fmadd_ps(wi, x0, r[0]);
                    r[1] = _mm512_fmadd_ps(wi, x1, r[1]);
                }
                wp = wp.add(OB);
            }
        }
    }
    for (i, r) in acc.iter().enumerate().take(rows) {
        _mm512_mask_storeu_ps(y.wrapping_add(i * ldo), m0, r[0]);
        _mm512_mask_storeu_ps(y.wrapping_add(i * ldo + 16), m1, r[1]);
    }
}

/// Whether `backward_weight` serves this geometry: stride 1, a 3- or 5-wide kernel and
/// rows wide enough to fill most of the 16 lanes.
pub(super) fn suits_backward_weight(g: &ConvGeom) -> bool {
    g.p.stride == 1 && (g.kw == 3 || g.kw == 5) && g.wo() >= 16 && available()
}

/// dw for a geometry that `suits_backward_weight`: for every (c, ky) and block of output
/// channels, vector sums over all pixels of dy ⊙ shifted input rows, one horizontal sum
/// per image. Per-chunk partials over fixed image chunks, summed in chunk order.
pub(super) fn backward_weight(g: &ConvGeom, x: &[f32], dy: &[f32], dw: &mut [f32]) {
    let (hp, wp) = (g.h + 2 * g.p.padding, g.w + 2 * g.p.padding);
    let (chw, ohw) = (g.c * g.h * g.w, g.o * g.ho() * g.wo());
    let chunk = weight_chunk_images(g);
    let starts: Vec<usize> = (0..g.n).step_by(chunk).collect();
    let partials: Vec<Vec<f32>> = starts
        .par_iter()
        .map(|&n0| {
            let mut acc = vec![0.0f32; g.o * g.k()];
            for n in n0..(n0 + chunk).min(g.n) {
                let (xi, dyi) = (&x[n * chw..][..chw], &dy[n * ohw..][..ohw]);
                if g.p.padding > 0 {
                    with_scratch(g.c * hp * wp, |buf| {
                        pad_image(g, xi, buf);
                        weight_image(g, buf, dyi, &mut acc);
                    });
                } else {
                    weight_image(g, xi, dyi, &mut acc);
                }
            }
            acc
        })
        .collect();
    reduce_partials(&partials, dw);
}

/// Adds one image's weight gradient into `acc` (O×K); `xp` is the padded input.
fn weight_image(g: &ConvGeom, xp: &[f32], dyi: &[f32], acc: &mut [f32]) {
    let (ho, wo, k) = (g.ho(), g.wo(), g.k());
    let (hp, wp) = (g.h + 2 * g.p.padding, g.w + 2 * g.p.padding);
    let ob = if g.kw == 3 { 8 } else { 4 };
    assert!(xp.len() >= g.c * hp * wp && dyi.len() >= g.o * ho * wo);
    for c in 0..g.c {
        for ky in 0..g.kh {
            let xr = &xp[(c * hp + ky) * wp..];
            // The last read: row ky + ho − 1, column wo − 1 + kw − 1, inside plane c.
            assert!((ho - 1) * wp + wo + g.kw - 2 < xr.len());
            for o0 in (0..g.o).step_by(ob) {
                let rows = (g.o - o0).min(ob);
                let mut out = [[0.0f32; 5]; 8];
                // SAFETY: AVX-512F checked in `suits_backward_weight`; x reads bounded by
                // the assert above, dy reads by the one before (rows past `rows` reread
                // row o0, their sums are dropped); masked lanes are not accessed.
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    let (xp, dp) = (xr.as_ptr(), dyi[o0 * ho * wo..].as_ptr());
                    if g.kw == 3 {
                        weight_tile::<8, 3>(xp, wp, dp, ho * wo, ho, wo, rows, &mut out);
                    } else {
                        weight_tile::<4, 5>(xp, wp, dp, ho * wo, ho, wo, rows, &mut out);
                    }
                }
                for (i, row) in out.iter().enumerate().take(rows) {
                    let base = (o0 + i) * k + (c * g.kh + ky) * g.kw;
                    for (kx, v) in row.iter().enumerate().take(g.kw) {
                        acc[base + kx] += v;
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn weight_tile<const OBW: usize, const KW: usize>(
    x: *const f32,
    ldr: usize,
    dy: *const f32,
    ldo: usize,
    ho: usize,
    wo: usize,
    rows: usize,
    out: &mut [[f32; 5]; 8],
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); KW]; OBW];
    let d: [*const f32; OBW] = std::array::from_fn(|i| dy.add(if i < rows { i * ldo } else { 0 }));
    for oy in 0..ho {
        let xr = x.add(oy * ldr);
        for ox in (0..wo).step_by(16) {
            let m: __mmask16 = if wo - ox >= 16 {
                0xFFFF
            } else {
                (1u16 << (wo - ox)) - 1
            };
            let xv: [__m512; KW] =
                std::array::from_fn(|kx| _mm512_maskz_loadu_ps(m, xr.add(ox + kx)));
            for (a, &di) in acc.iter_mut().zip(&d) {
                let dv = _mm512_maskz_loadu_ps(m, di.add(oy * wo + ox));
                for (c, xk) in a.iter_mut().zip(&xv) {
                    *c = _mm512_fmadd_ps(dv, *xk, *c);
                }
            }
        }
    }
    for (o, a) in out.iter_mut().zip(&acc) {
        for (v, c) in o.iter_mut().zip(a) {
            *v = _mm512_reduce_add_ps(*c);
        }
    }
}
