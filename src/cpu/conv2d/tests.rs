//! The fast kernels against the naive f64 reference on shapes large enough to tile, and
//! thread-count independence.

use super::reference::conv2d_reference;
use super::*;
use crate::testing::{assert_close, seed_values, Tol};

/// Naive f64 backward: (dx, dw) of Σ dy ⊙ conv(x, w), by scattering every product.
fn backward_reference(g: &ConvGeom, x: &[f32], w: &[f32], dy: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let (ho, wo) = (g.ho(), g.wo());
    let (s, p) = (g.p.stride as isize, g.p.padding as isize);
    let src = |i: isize, len: usize| -> Option<usize> {
        match g.p.pad_mode {
            _ if i >= 0 && (i as usize) < len => Some(i as usize),
            PadMode::Zeros => None,
            PadMode::Replicate => Some(i.clamp(0, len as isize - 1) as usize),
        }
    };
    let mut dx = vec![0.0; x.len()];
    let mut dw = vec![0.0; w.len()];
    for n in 0..g.n {
        for o in 0..g.o {
            for oy in 0..ho {
                for ox in 0..wo {
                    let d = dy[((n * g.o + o) * ho + oy) * wo + ox] as f64;
                    for c in 0..g.c {
                        for ky in 0..g.kh {
                            for kx in 0..g.kw {
                                let iy = src(oy as isize * s + ky as isize - p, g.h);
                                let ix = src(ox as isize * s + kx as isize - p, g.w);
                                if let (Some(iy), Some(ix)) = (iy, ix) {
                                    let wi = ((o * g.c + c) * g.kh + ky) * g.kw + kx;
                                    let xi = ((n * g.c + c) * g.h + iy) * g.w + ix;
                                    dw[wi] += d * x[xi] as f64;
                                    dx[xi] += d * w[wi] as f64;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    (dx, dw)
}

fn check_against_reference(x: [usize; 4], w: [usize; 4], p: Conv2dParams, bias: bool) {
    let g = ConvGeom::new(x, w, p).unwrap();
    let xs = seed_values(x.iter().product(), 11);
    let ws = seed_values(w.iter().product(), 12);
    let bs = seed_values(g.o, 13);
    let b = bias.then_some(bs.as_slice());
    let mut y = vec![f32::NAN; g.out_dims().iter().product()];
    conv2d_forward(&g, &xs, &ws, b, &mut y);
    let f64v = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<_>>();
    let b64 = b.map(f64v);
    let want = conv2d_reference(&g, &f64v(&xs), &f64v(&ws), b64.as_deref());
    let tol = Tol::new(1e-4, 1e-4);
    assert_close("forward", &y, &want, tol).unwrap_or_else(|e| panic!("{g:?}: {e}"));

    let dy = seed_values(y.len(), 14);
    let (dx_ref, dw_ref) = backward_reference(&g, &xs, &ws, &dy);
    let mut dx = vec![f32::NAN; xs.len()];
    conv2d_backward_input(&g, &ws, &dy, &mut dx);
    assert_close("dx", &dx, &dx_ref, tol).unwrap_or_else(|e| panic!("{g:?}: {e}"));
    let mut dw = vec![f32::NAN; ws.len()];
    conv2d_backward_weight(&g, &xs, &dy, &mut dw);
    let tol_w = Tol::new(1e-3, 1e-4);
    assert_close("dw", &dw, &dw_ref, tol_w).unwrap_or_else(|e| panic!("{g:?}: {e}"));
    let mut db = vec![f32::NAN; g.o];
    conv2d_backward_bias(&g, &dy, &mut db);
    let db_ref: Vec<f64> = (0..g.o)
        .map(|o| {
            let hwo = g.ho() * g.wo();
            (0..g.n)
                .map(|n| {
                    dy[(n * g.o + o) * hwo..][..hwo]
                        .iter()
                        .map(|&v| v as f64)
                        .sum::<f64>()
                })
                .sum()
        })
        .collect();
    assert_close("db", &db, &db_ref, tol_w).unwrap_or_else(|e| panic!("{g:?}: {e}"));
}

#[test]
fn conv2d_kernels_match_reference_on_tiled_shapes() {
    let zeros = |stride, padding| Conv2dParams {
        stride,
        padding,
        pad_mode: PadMode::Zeros,
    };
    // Row-band tiles (large K·pixels), several whole images per tile, and 1×1 GEMMs.
    check_against_reference([2, 5, 37, 23], [7, 5, 3, 3], Conv2dParams::same(3), true);
    check_against_reference([2, 5, 37, 23], [7, 5, 5, 5], zeros(2, 2), false);
    check_against_reference([3, 40, 30, 29], [6, 40, 3, 3], Conv2dParams::valid(), true);
    check_against_reference([20, 3, 5, 4], [4, 3, 3, 3], Conv2dParams::same(3), true);
    check_against_reference([3, 6, 17, 13], [5, 6, 1, 1], Conv2dParams::valid(), true);
    check_against_reference([2, 3, 9, 11], [4, 3, 5, 5], Conv2dParams::same(5), false);
    // Channel counts that fill whole micro-kernel panels.
    check_against_reference([2, 32, 40, 30], [8, 32, 3, 3], zeros(1, 1), true);
    check_against_reference([20, 32, 6, 5], [16, 32, 3, 3], Conv2dParams::same(3), false);
    check_against_reference([3, 32, 9, 7], [12, 32, 1, 1], Conv2dParams::valid(), true);
    // Many output channels: backward-weight runs on the packed micro-kernel.
    check_against_reference(
        [2, 12, 19, 23],
        [100, 12, 3, 3],
        Conv2dParams::same(3),
        true,
    );
    check_against_reference([20, 6, 5, 6], [97, 6, 3, 3], zeros(2, 1), false);
    check_against_reference([2, 3, 16, 16], [32, 3, 5, 5], Conv2dParams::same(5), false);
    // Wide rows, few channels: the direct kernels (both kernel widths they serve).
    check_against_reference([2, 3, 17, 19], [6, 3, 5, 5], Conv2dParams::same(5), true);
    check_against_reference([3, 2, 20, 40], [9, 2, 3, 3], zeros(1, 2), false);
    // Stride 2 and 1×1 with long pixel rows: backward-weight by dot products.
    check_against_reference([2, 3, 70, 64], [5, 3, 3, 3], zeros(2, 1), true);
    check_against_reference([2, 4, 30, 30], [6, 4, 1, 1], Conv2dParams::valid(), false);
    // A non-square kernel.
    let rep1 = Conv2dParams {
        padding: 1,
        ..Conv2dParams::same(3)
    };
    check_against_reference([2, 3, 12, 20], [5, 3, 3, 5], rep1, true);
    check_against_reference([2, 3, 12, 20], [5, 3, 5, 3], rep1, false);
    // 1×1 on a two-channel image: direct forward and backward-input.
    check_against_reference([3, 2, 7, 37], [11, 2, 1, 1], Conv2dParams::valid(), true);
}

#[test]
fn conv2d_sgemm_path_matches_reference_on_tiled_shapes() {
    disable_microkernel(true);
    check_against_reference([2, 5, 37, 23], [7, 5, 3, 3], Conv2dParams::same(3), true);
    check_against_reference([3, 40, 30, 29], [6, 40, 3, 3], Conv2dParams::valid(), true);
    check_against_reference([20, 3, 5, 4], [4, 3, 3, 3], Conv2dParams::same(3), true);
    check_against_reference([3, 6, 17, 13], [5, 6, 1, 1], Conv2dParams::valid(), true);
    disable_microkernel(false);
}

#[test]
fn conv2d_without_input_values_outputs_the_bias() {
    let p = Conv2dParams {
        stride: 1,
        padding: 1,
        pad_mode: PadMode::Zeros,
    };
    let g = ConvGeom::new([2, 0, 20, 20], [3, 0, 3, 3], p).unwrap();
    let mut y = vec![f32::NAN; 2 * 3 * 20 * 20];
    conv2d_forward(&g, &[], &[], Some(&[1.0, 2.0, 3.0]), &mut y);
    assert!(y
        .chunks(400)
        .enumerate()
        .all(|(i, c)| c.iter().all(|&v| v == (i % 3 + 1) as f32)));
}

#[test]
fn conv2d_large_padding_replicates_edges() {
    // Padding wider than the image: every padded pixel repeats an edge pixel.
    check_against_reference(
        [1, 2, 3, 2],
        [3, 2, 3, 3],
        Conv2dParams {
            stride: 1,
            padding: 4,
            pad_mode: PadMode::Replicate,
        },
        false,
    );
}

#[test]
fn conv2d_results_are_identical_for_one_and_two_threads() {
    // Direct kernels (wide rows, O < 32) and packed micro-kernel paths (narrow rows, O ≥ 32).
    for (xd, wd) in [
        ([13, 16, 21, 19], [8, 16, 3, 3]),
        ([13, 8, 11, 9], [40, 8, 3, 3]),
    ] {
        let g = ConvGeom::new(xd, wd, Conv2dParams::same(3)).unwrap();
        let x = seed_values(xd.iter().product(), 1);
        let w = seed_values(wd.iter().product(), 2);
        let dy = seed_values(g.out_dims().iter().product(), 3);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut y = vec![0.0; dy.len()];
                let mut dx = vec![0.0; x.len()];
                let mut dw = vec![0.0; w.len()];
                let mut db = vec![0.0; g.o];
                conv2d_forward(&g, &x, &w, Some(&w[..g.o]), &mut y);
                conv2d_backward_input(&g, &w, &dy, &mut dx);
                conv2d_backward_weight(&g, &x, &dy, &mut dw);
                conv2d_backward_bias(&g, &dy, &mut db);
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                (bits(&y), bits(&dx), bits(&dw), bits(&db))
            })
        };
        let one = run(1);
        assert!(one.2.iter().any(|&b| b != 0));
        assert_eq!(one, run(2), "{g:?}");
    }
}
