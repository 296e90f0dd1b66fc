//! Conv passes on the AVX-512 micro-kernel: im2col and output gradients are written
//! straight into the kernel's panels, so no general GEMM packs them a second time.

use super::im2col::{col2im_tile, im2col_row, im2col_tile_packed};
use super::microkernel::{gemm_packed, interleave, pack_a, pack_b_row, packed_len, Init, MR, NR};
use super::{gather_tile, scatter_tile, weight_chunk, with_scratch, ConvGeom, Plan, SendPtr, Tile};
use rayon::prelude::*;

/// Copies row `o` of a tile's output gradient (its `pt` pixels) into `dst`.
fn dy_row(g: &ConvGeom, t: &Tile, dy: &[f32], o: usize, dst: &mut [f32]) {
    let (hwo, seg) = (g.ho() * g.wo(), (t.r1 - t.r0) * g.wo());
    for n in t.n0..t.n1 {
        let src = &dy[(n * g.o + o) * hwo + t.r0 * g.wo()..][..seg];
        dst[(n - t.n0) * seg..][..seg].copy_from_slice(src);
    }
}

/// Forward through the micro-kernel: im2col straight into B panels.
pub(super) fn forward(g: &ConvGeom, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) {
    let plan = Plan::new(g, true);
    let (k, wo) = (g.k(), g.wo());
    let mut ap = vec![0.0; packed_len(g.o, k, MR)];
    pack_a(w, g.o, k, false, &mut ap);
    let yp = SendPtr(y.as_mut_ptr());
    plan.tiles(g, 0, g.n).par_iter().for_each(|t| {
        let pt = t.pixels(wo);
        let bl = packed_len(pt, k, NR);
        with_scratch(pt + bl + g.o * pt, |buf| {
            let (row, rest) = buf.split_at_mut(pt);
            let (bp, out) = rest.split_at_mut(bl);
            im2col_tile_packed(g, x, t, row, bp);
            gemm_packed(
                g.o,
                pt,
                k,
                &ap,
                bp,
                b.map_or(Init::Zero, Init::Bias),
                out,
                pt,
            );
            // SAFETY: tiles partition the output pixels; yp covers all of y.
            unsafe { scatter_tile(g, t, out, yp) };
        });
    });
}

/// Backward-input through the micro-kernel: dcols = Wᵀ·dY with dY gathered into panels.
pub(super) fn backward_input(g: &ConvGeom, w: &[f32], dy: &[f32], dx: &mut [f32]) {
    let plan = Plan::new(g, true);
    let (k, wo, chw) = (g.k(), g.wo(), g.c * g.h * g.w);
    let mut ap = vec![0.0; packed_len(k, g.o, MR)];
    pack_a(w, k, g.o, true, &mut ap);
    dx.par_chunks_mut(plan.imgs * chw)
        .enumerate()
        .for_each(|(i, dxg)| {
            let n0 = i * plan.imgs;
            dxg.fill(0.0);
            for t in plan.tiles(g, n0, n0 + dxg.len() / chw) {
                let pt = t.pixels(wo);
                let bl = packed_len(pt, g.o, NR);
                with_scratch(pt + bl + k * pt, |buf| {
                    let (row, rest) = buf.split_at_mut(pt);
                    let (bp, dcols) = rest.split_at_mut(bl);
                    for o in 0..g.o {
                        dy_row(g, &t, dy, o, row);
                        pack_b_row(row, o, g.o, bp);
                    }
                    gemm_packed(k, pt, g.o, &ap, bp, Init::Zero, dcols, pt);
                    col2im_tile(g, dcols, &t, n0, dxg);
                });
            }
        });
}

/// Backward-weight through the micro-kernel as dWᵀ (K×O) += cols (K×P) · dYᵀ (P×O):
/// im2col rows are interleaved eight at a time into MR panels and dY rows 32 at a time
/// into NR panels, so depth runs over pixels.
pub(super) fn backward_weight(g: &ConvGeom, x: &[f32], dy: &[f32], dw: &mut [f32]) {
    let plan = Plan::new(g, true);
    let (k, wo, hwo) = (g.k(), g.wo(), g.ho() * g.wo());
    let chunk = weight_chunk(g, &plan);
    let starts: Vec<usize> = (0..g.n).step_by(chunk).collect();
    let partials: Vec<Vec<f32>> = starts
        .par_iter()
        .map(|&n0| {
            let mut acc = vec![0.0f32; k * g.o];
            for t in plan.tiles(g, n0, (n0 + chunk).min(g.n)) {
                let pt = t.pixels(wo);
                let (al, bl) = (packed_len(k, pt, MR), packed_len(g.o, pt, NR));
                let gather = if t.n1 - t.n0 > 1 { g.o * pt } else { 0 };
                with_scratch(MR * pt + al + bl + gather, |buf| {
                    let (rows, rest) = buf.split_at_mut(MR * pt);
                    let (ap, rest) = rest.split_at_mut(al);
                    let (bp, dyb) = rest.split_at_mut(bl);
                    for (i, panel) in ap.chunks_mut(pt * MR).enumerate() {
                        let kk0 = i * MR;
                        let nrows = (k - kk0).min(MR);
                        for r in 0..nrows {
                            let kk = kk0 + r;
                            let (c, ky, kx) = (kk / (g.kh * g.kw), kk / g.kw % g.kh, kk % g.kw);
                            im2col_row(g, x, &t, c, ky, kx, &mut rows[r * pt..][..pt]);
                        }
                        interleave(rows, pt, nrows, MR, pt, panel);
                    }
                    let (src, ld) = if gather > 0 {
                        gather_tile(g, &t, dy, dyb);
                        (&dyb[..], pt)
                    } else {
                        (&dy[t.n0 * g.o * hwo + t.r0 * wo..], hwo)
                    };
                    for (j, panel) in bp.chunks_mut(pt * NR).enumerate() {
                        let nrows = (g.o - j * NR).min(NR);
                        interleave(&src[j * NR * ld..], ld, nrows, NR, pt, panel);
                    }
                    gemm_packed(k, g.o, pt, ap, bp, Init::Accumulate, &mut acc, g.o);
                });
            }
            acc
        })
        .collect();
    dw.fill(0.0);
    for p in &partials {
        for (o, row) in dw.chunks_mut(k).enumerate() {
            for (kk, d) in row.iter_mut().enumerate() {
                *d += p[kk * g.o + o];
            }
        }
    }
}
