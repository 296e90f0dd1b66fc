//! Naive f64 convolution, the reference of the fast kernels in tests (its gradients come
//! from finite differences in `testing::check_gradients`).

use super::{ConvGeom, PadMode};

/// The input index read at padded position `i`, or None where zero padding applies.
fn source(i: isize, len: usize, mode: PadMode) -> Option<usize> {
    if i >= 0 && (i as usize) < len {
        Some(i as usize)
    } else {
        match mode {
            PadMode::Zeros => None,
            PadMode::Replicate => Some(i.clamp(0, len as isize - 1) as usize),
        }
    }
}

/// y = conv(x, w) + b in f64, one output element at a time.
pub fn conv2d_reference(g: &ConvGeom, x: &[f64], w: &[f64], b: Option<&[f64]>) -> Vec<f64> {
    let (ho, wo) = (g.ho(), g.wo());
    let (s, p) = (g.p.stride as isize, g.p.padding as isize);
    let mut y = vec![0.0; g.n * g.o * ho * wo];
    for n in 0..g.n {
        for o in 0..g.o {
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut acc = b.map_or(0.0, |b| b[o]);
                    for c in 0..g.c {
                        for ky in 0..g.kh {
                            let iy = source(oy as isize * s + ky as isize - p, g.h, g.p.pad_mode);
                            for kx in 0..g.kw {
                                let ix =
                                    source(ox as isize * s + kx as isize - p, g.w, g.p.pad_mode);
                                if let (Some(iy), Some(ix)) = (iy, ix) {
                                    acc += w[((o * g.c + c) * g.kh + ky) * g.kw + kx]
                                        * x[((n * g.c + c) * g.h + iy) * g.w + ix];
                                }
                            }
                        }
                    }
                    y[((n * g.o + o) * ho + oy) * wo + ox] = acc;
                }
            }
        }
    }
    y
}
