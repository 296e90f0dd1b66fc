//! CPU kernels of 2-D max-pooling (NCHW, square window, stride, -inf padding, floor
//! output size): forward records the argmax of every window as a u8 offset within the
//! window (first maximum in row-major window order, as PyTorch), backward routes each
//! output gradient to it. A fast path serves 2×2 stride 2; the naive f64 reference is
//! beside them for tests.

use anyhow::{bail, Result};
use rayon::prelude::*;

/// Sizes of one max-pool call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolGeom {
    /// Batch size.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Window side.
    pub k: usize,
    /// Stride.
    pub s: usize,
    /// Padding on every side (counts as -inf).
    pub p: usize,
}

impl PoolGeom {
    /// The geometry of pooling an N×C×H×W input; errors name the bad argument.
    pub fn new(x: [usize; 4], k: usize, s: usize, p: usize) -> Result<Self> {
        let [n, c, h, w] = x;
        if k == 0 || k > 16 {
            bail!("max_pool2d: kernel must be 1..=16, found {k}");
        }
        if s == 0 {
            bail!("max_pool2d: stride must be at least 1, found 0");
        }
        if p > k / 2 {
            bail!("max_pool2d: padding {p} exceeds half the kernel size {k}");
        }
        if h + 2 * p < k || w + 2 * p < k {
            bail!(
                "max_pool2d: kernel {k}×{k} is larger than the padded input {}×{} (input {h}×{w}, padding {p})",
                h + 2 * p,
                w + 2 * p
            );
        }
        Ok(PoolGeom {
            n,
            c,
            h,
            w,
            k,
            s,
            p,
        })
    }

    /// Output height (floor).
    pub fn ho(&self) -> usize {
        (self.h + 2 * self.p - self.k) / self.s + 1
    }

    /// Output width (floor).
    pub fn wo(&self) -> usize {
        (self.w + 2 * self.p - self.k) / self.s + 1
    }

    /// Output shape N×C×Ho×Wo.
    pub fn out_dims(&self) -> [usize; 4] {
        [self.n, self.c, self.ho(), self.wo()]
    }

    /// Planes per parallel task: enough pixels to amortise scheduling.
    fn planes_per_task(&self) -> usize {
        (8192 / (self.h * self.w).max(1)).max(1)
    }

    /// The first valid window index along one axis and the end, for output index `o`.
    fn window(&self, o: usize, len: usize) -> (isize, usize, usize) {
        let start = (o * self.s) as isize - self.p as isize;
        let lo = (-start).max(0) as usize;
        let hi = ((len as isize - start).max(0) as usize).min(self.k);
        (start, lo, hi)
    }
}

/// Updates the running maximum like PyTorch: a larger value or a NaN wins.
#[inline(always)]
fn better(v: f32, best: f32) -> bool {
    v > best || v.is_nan()
}

fn forward_plane(g: &PoolGeom, x: &[f32], y: &mut [f32], arg: &mut [u8]) {
    let (ho, wo, w) = (g.ho(), g.wo(), g.w);
    if g.k == 2 && g.s == 2 && g.p == 0 {
        for oy in 0..ho {
            let r0 = &x[2 * oy * w..][..w];
            let r1 = &x[(2 * oy + 1) * w..][..w];
            for ox in 0..wo {
                let cand = [r0[2 * ox], r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1]];
                let (mut best, mut bi) = (cand[0], 0u8);
                for (i, &v) in cand.iter().enumerate().skip(1) {
                    if better(v, best) {
                        best = v;
                        bi = i as u8;
                    }
                }
                y[oy * wo + ox] = best;
                arg[oy * wo + ox] = bi;
            }
        }
        return;
    }
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
            for ((x, y), a) in x.chunks(hw).zip(y.chunks_mut(hwo)).zip(a.chunks_mut(hwo)) {
                forward_plane(g, x, y, a);
            }
        });
}

/// dx = gradient routed from `dy` to each window's argmax, overwriting `dx`.
pub fn max_pool_backward(g: &PoolGeom, dy: &[f32], arg: &[u8], dx: &mut [f32]) {
    let (hw, hwo, wo) = (g.h * g.w, g.ho() * g.wo(), g.wo());
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
    dx.par_chunks_mut(pp * hw)
        .zip(dy.par_chunks(pp * hwo).zip(arg.par_chunks(pp * hwo)))
        .for_each(|(dx, (dy, a))| {
            for ((dx, dy), a) in dx.chunks_mut(hw).zip(dy.chunks(hwo)).zip(a.chunks(hwo)) {
                dx.fill(0.0);
                for (i, (&d, &off)) in dy.iter().zip(a).enumerate() {
                    let (oy, ox) = (i / wo, i % wo);
                    let (ky, kx) = (off as usize / g.k, off as usize % g.k);
                    let iy = oy * g.s + ky - g.p;
                    let ix = ox * g.s + kx - g.p;
                    dx[iy * g.w + ix] += d;
                }
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
