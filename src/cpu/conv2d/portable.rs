//! Conv passes on the portable `sgemm` (any CPU), plus the AVX-512 dot-product kernel
//! for backward-weight where K is small and pixel rows are long.

use super::im2col::{col2im_tile, im2col_tile};
use super::microkernel::gemm_nt_acc;
use super::{
    dy_operand, reduce_partials, scatter_tile, use_microkernel, weight_chunk, with_scratch,
    ConvGeom, Plan, SendPtr,
};
use crate::cpu::gemm::{sgemm, Operand, Par};
use rayon::prelude::*;

/// The sgemm path of `conv2d_forward`.
pub(super) fn forward(g: &ConvGeom, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) {
    let plan = Plan::new(g, false);
    let (k, wo, hw) = (g.k(), g.wo(), g.h * g.w);
    let yp = SendPtr(y.as_mut_ptr());
    plan.tiles(g, 0, g.n).par_iter().for_each(|t| {
        let pt = t.pixels(wo);
        let cols_len = if g.is_pointwise() { 0 } else { k * pt };
        with_scratch(cols_len + g.o * pt, |buf| {
            let (cols, out) = buf.split_at_mut(cols_len);
            let bop = if g.is_pointwise() {
                Operand {
                    data: &x[t.n0 * g.c * hw + t.r0 * g.w..],
                    trans: false,
                    ld: hw,
                }
            } else {
                im2col_tile(g, x, t, cols);
                Operand::new(cols, pt)
            };
            if let Some(b) = b {
                for (o, &bo) in b.iter().enumerate() {
                    out[o * pt..(o + 1) * pt].fill(bo);
                }
            }
            sgemm(
                g.o,
                pt,
                k,
                Operand::new(w, k),
                bop,
                out,
                pt,
                b.is_some(),
                Par::Seq,
            );
            // SAFETY: tiles partition the output pixels; yp covers all of y.
            unsafe { scatter_tile(g, t, out, yp) };
        });
    });
}

/// The sgemm path of `conv2d_backward_input`.
pub(super) fn backward_input(g: &ConvGeom, w: &[f32], dy: &[f32], dx: &mut [f32]) {
    let plan = Plan::new(g, false);
    let (k, wo, chw) = (g.k(), g.wo(), g.c * g.h * g.w);
    if chw == 0 {
        return;
    }
    // Tiles of one image overlap in dx (kernel halo), so one task owns whole images.
    dx.par_chunks_mut(plan.imgs * chw)
        .enumerate()
        .for_each(|(i, dxg)| {
            let n0 = i * plan.imgs;
            dxg.fill(0.0);
            for t in plan.tiles(g, n0, n0 + dxg.len() / chw) {
                let pt = t.pixels(wo);
                if g.is_pointwise() {
                    let hw = g.h * g.w;
                    let dyop = Operand {
                        data: &dy[t.n0 * g.o * hw + t.r0 * g.w..],
                        trans: false,
                        ld: hw,
                    };
                    let d = &mut dxg[(t.n0 - n0) * chw + t.r0 * g.w..];
                    sgemm(g.c, pt, g.o, Operand::t(w, k), dyop, d, hw, false, Par::Seq);
                    continue;
                }
                let gather = if t.n1 - t.n0 > 1 { g.o * pt } else { 0 };
                with_scratch(k * pt + gather, |buf| {
                    let (dcols, dyb) = buf.split_at_mut(k * pt);
                    let dyop = dy_operand(g, &t, dy, dyb);
                    sgemm(
                        k,
                        pt,
                        g.o,
                        Operand::t(w, k),
                        dyop,
                        dcols,
                        pt,
                        false,
                        Par::Seq,
                    );
                    col2im_tile(g, dcols, &t, n0, dxg);
                });
            }
        });
}

/// The sgemm path of `conv2d_backward_weight`.
pub(super) fn backward_weight(g: &ConvGeom, x: &[f32], dy: &[f32], dw: &mut [f32]) {
    let fast = use_microkernel();
    let plan = Plan::new(g, false);
    let (k, wo, hw) = (g.k(), g.wo(), g.h * g.w);
    let chunk = weight_chunk(g, &plan);
    let starts: Vec<usize> = (0..g.n).step_by(chunk).collect();
    let partials: Vec<Vec<f32>> = starts
        .par_iter()
        .map(|&n0| {
            let mut acc = vec![0.0f32; g.o * k];
            for t in plan.tiles(g, n0, (n0 + chunk).min(g.n)) {
                let pt = t.pixels(wo);
                // Short dot products spend their time in the final horizontal sums, and
                // sgemm wins once K is large.
                let fast = fast && pt >= 512 && k < 128;
                if g.is_pointwise() {
                    let dyop = Operand {
                        data: &dy[t.n0 * g.o * hw + t.r0 * g.w..],
                        trans: false,
                        ld: hw,
                    };
                    let xop = Operand {
                        data: &x[t.n0 * g.c * hw + t.r0 * g.w..],
                        trans: true,
                        ld: hw,
                    };
                    if fast {
                        gemm_nt_acc(g.o, k, pt, dyop.data, hw, xop.data, hw, &mut acc);
                    } else {
                        sgemm(g.o, k, pt, dyop, xop, &mut acc, k, true, Par::Seq);
                    }
                    continue;
                }
                let gather = if t.n1 - t.n0 > 1 { g.o * pt } else { 0 };
                with_scratch(k * pt + gather, |buf| {
                    let (cols, dyb) = buf.split_at_mut(k * pt);
                    im2col_tile(g, x, &t, cols);
                    let dyop = dy_operand(g, &t, dy, dyb);
                    if fast {
                        gemm_nt_acc(g.o, k, pt, dyop.data, dyop.ld, cols, pt, &mut acc);
                    } else {
                        let colsop = Operand::t(cols, pt);
                        sgemm(g.o, k, pt, dyop, colsop, &mut acc, k, true, Par::Seq);
                    }
                });
            }
            acc
        })
        .collect();
    reduce_partials(&partials, dw);
}
