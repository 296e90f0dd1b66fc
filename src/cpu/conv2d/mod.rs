//! CPU kernels of 2-D convolution (NCHW input, O×I×kH×kW weights, stride, zero or
//! replicate padding): forward, backward-input, backward-weight, backward-bias.
//!
//! Versions, each kept because it measured faster on its shapes:
//! 1. `portable.rs`: tiled im2col + sgemm: output pixels are cut into tiles (rows of one image, or
//!    several whole small images) whose im2col fits in L2; each tile is one GEMM with
//!    `Par::Seq` inside a rayon loop over tiles. No whole-batch buffer is ever built.
//! 2. 1×1 stride-1 unpadded convolutions skip im2col: the image itself is the GEMM operand.
//! 3. `microkernel.rs`: an AVX-512 8×32 register tile whose right operand im2col writes
//!    directly in panel layout (forward, backward-input; backward-weight as dWᵀ with
//!    im2col rows interleaved 8 at a time, for O ≥ 32). ~1.3–1.8× version 1.
//! 4. backward-weight for small K: AVX-512 dot products over pixel rows, no packing.
//! 5. `direct.rs`: direct convolution for stride 1 and rows ≥ 16 wide, no im2col at all:
//!    forward (I·kH·kW ≤ 512; 2–3× version 3 on the first layers), backward-input (a
//!    direct conv of dy with flipped weights, the padded border folded back) and
//!    backward-weight (3- or 5-wide kernels, O < 32).
//!
//! Versions 3–5 run when the CPU has AVX-512F; 1–2 are the portable fallback.
//!
//! Backward-weight sums per-chunk partials over fixed batch chunks in a fixed order, so
//! its result does not depend on the thread count. The naive f64 reference lives in
//! `reference.rs`, used only by tests.

mod direct;
mod im2col;
mod microkernel;
mod packed;
mod portable;
pub mod reference;
#[cfg(test)]
mod tests;

use crate::cpu::gemm::Operand;
pub use crate::kparams::geometry::{Conv2dParams, ConvGeom, PadMode};

use microkernel::NR;
use rayon::prelude::*;
use std::cell::{Cell, RefCell};

thread_local! {
    static MICROKERNEL_OFF: Cell<bool> = const { Cell::new(false) };
}

/// Turns the AVX-512 kernels (micro-kernel and direct) off, or back on, for calls made
/// from this thread, so tests and benchmarks can run and compare the portable sgemm path.
pub fn disable_microkernel(off: bool) {
    MICROKERNEL_OFF.with(|c| c.set(off));
}

fn use_microkernel() -> bool {
    !MICROKERNEL_OFF.with(|c| c.get()) && microkernel::available()
}

/// Whether forward and backward-input take the micro-kernel. A 1×1 convolution with few
/// output channels is bound by reading its input, which sgemm reads in place while the
/// micro-kernel first copies it into panels (measured: sgemm faster below ~48).
fn packed_gemm_pays(g: &ConvGeom) -> bool {
    use_microkernel() && !(g.is_pointwise() && g.o < 48)
}

/// Floats of im2col one tile may hold (512 KiB: a quarter of this machine's L2, leaving
/// room for the GEMM's packed panels).
const TILE_FLOATS: usize = 1 << 17;

/// Batch chunks of backward-weight: fixed, so the summation order never depends on the
/// thread count.
const WEIGHT_CHUNKS: usize = 24;

/// A block of output pixels: rows `r0..r1` of images `n0..n1`.
#[derive(Clone, Copy, Debug)]
struct Tile {
    n0: usize,
    n1: usize,
    r0: usize,
    r1: usize,
}

impl Tile {
    fn pixels(&self, wo: usize) -> usize {
        (self.n1 - self.n0) * (self.r1 - self.r0) * wo
    }
}

/// How output pixels are cut into tiles: several whole images per tile when images
/// are small, otherwise bands of rows of one image.
#[derive(Clone, Copy, Debug)]
struct Plan {
    imgs: usize,
    rows: usize,
}

impl Plan {
    /// `copy_pointwise`: a 1×1 convolution still copies its operand (the micro-kernel
    /// path packs it), so it tiles like any other.
    fn new(g: &ConvGeom, copy_pointwise: bool) -> Plan {
        let (ho, wo) = (g.ho(), g.wo());
        if g.is_pointwise() && !copy_pointwise {
            return Plan { imgs: 1, rows: ho };
        }
        let budget = (TILE_FLOATS / g.k().max(1)).max(wo);
        let per_img = ho * wo;
        if per_img <= budget {
            let imgs = (budget / per_img.max(1)).min(g.n.div_ceil(8)).max(1);
            Plan { imgs, rows: ho }
        } else {
            let tiles = ho.div_ceil(budget / wo);
            Plan {
                imgs: 1,
                rows: ho.div_ceil(tiles),
            }
        }
    }

    /// The tiles covering images `n0..n1` in a fixed order.
    fn tiles(&self, g: &ConvGeom, n0: usize, n1: usize) -> Vec<Tile> {
        let ho = g.ho();
        let mut out = Vec::new();
        let mut n = n0;
        while n < n1 {
            let m = (n + self.imgs).min(n1);
            let mut r = 0;
            while r < ho {
                let r1 = (r + self.rows).min(ho);
                out.push(Tile {
                    n0: n,
                    n1: m,
                    r0: r,
                    r1,
                });
                r = r1;
            }
            n = m;
        }
        out
    }
}

thread_local! {
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's scratch buffer of at least `len` floats (contents
/// unspecified). `f` must not re-enter (no nested rayon work inside).
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < len {
            s.resize(len, 0.0);
        }
        f(&mut s[..len])
    })
}

/// A raw pointer that may cross threads; every use writes a region no other task writes.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: the pointer is only used to write disjoint regions from different tasks.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

/// Copies a tile's O×P block (`src`, row stride = tile pixels) into N×O×Ho×Wo `dst`.
///
/// # Safety
/// `dst` must point to the whole output and no other thread may write this tile's pixels.
unsafe fn scatter_tile(g: &ConvGeom, t: &Tile, src: &[f32], dst: SendPtr) {
    let (ho, wo) = (g.ho(), g.wo());
    let pt = t.pixels(wo);
    let seg = (t.r1 - t.r0) * wo;
    for n in t.n0..t.n1 {
        for o in 0..g.o {
            let s = &src[o * pt + (n - t.n0) * seg..][..seg];
            let d = dst.0.add((n * g.o + o) * ho * wo + t.r0 * wo);
            std::ptr::copy_nonoverlapping(s.as_ptr(), d, seg);
        }
    }
}

/// Copies a tile's pixels of N×O×Ho×Wo `src` into an O×P block.
fn gather_tile(g: &ConvGeom, t: &Tile, src: &[f32], dst: &mut [f32]) {
    let (ho, wo) = (g.ho(), g.wo());
    let pt = t.pixels(wo);
    let seg = (t.r1 - t.r0) * wo;
    for n in t.n0..t.n1 {
        for o in 0..g.o {
            let s = &src[(n * g.o + o) * ho * wo + t.r0 * wo..][..seg];
            dst[o * pt + (n - t.n0) * seg..][..seg].copy_from_slice(s);
        }
    }
}

/// The GEMM operand holding a tile's output gradient: a strided view of `dy` for a
/// single-image tile, else a gathered copy in `buf`.
fn dy_operand<'a>(g: &ConvGeom, t: &Tile, dy: &'a [f32], buf: &'a mut [f32]) -> Operand<'a> {
    let hwo = g.ho() * g.wo();
    if t.n1 - t.n0 == 1 {
        Operand {
            data: &dy[t.n0 * g.o * hwo + t.r0 * g.wo()..],
            trans: false,
            ld: hwo,
        }
    } else {
        gather_tile(g, t, dy, buf);
        Operand::new(buf, t.pixels(g.wo()))
    }
}

fn check_lens(g: &ConvGeom, x: usize, w: usize, y: usize) {
    assert_eq!(x, g.n * g.c * g.h * g.w, "conv2d kernel: input length");
    assert_eq!(w, g.o * g.k(), "conv2d kernel: weight length");
    assert_eq!(
        y,
        g.n * g.o * g.ho() * g.wo(),
        "conv2d kernel: output length"
    );
}

/// y = conv(x, w) + b, overwriting `y` (N×O×Ho×Wo).
pub fn conv2d_forward(g: &ConvGeom, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32]) {
    check_lens(g, x.len(), w.len(), y.len());
    if g.c * g.h * g.w == 0 {
        // No input values (zero channels, or an empty image inside zero padding): every
        // output is its bias.
        let hwo = g.ho() * g.wo();
        for (i, plane) in y.chunks_mut(hwo.max(1)).enumerate() {
            plane.fill(b.map_or(0.0, |b| b[i % g.o]));
        }
        return;
    }
    if use_microkernel() && direct::suits(g) && g.n > 0 {
        return direct::forward(g, x, w, b, y);
    }
    if packed_gemm_pays(g) && g.k() > 0 {
        return packed::forward(g, x, w, b, y);
    }
    portable::forward(g, x, w, b, y)
}

/// dx = ∂(Σ dy ⊙ conv(x, w))/∂x, overwriting `dx` (N×C×H×W).
pub fn conv2d_backward_input(g: &ConvGeom, w: &[f32], dy: &[f32], dx: &mut [f32]) {
    check_lens(g, dx.len(), w.len(), dy.len());
    if use_microkernel() && direct::suits_backward_input(g) && g.c * g.h * g.w > 0 {
        return direct::backward_input(g, w, dy, dx);
    }
    if packed_gemm_pays(g) && g.c * g.h * g.w > 0 {
        return packed::backward_input(g, w, dy, dx);
    }
    portable::backward_input(g, w, dy, dx)
}

/// Images per backward-weight chunk: fixed by the shapes alone.
fn weight_chunk(g: &ConvGeom, plan: &Plan) -> usize {
    g.n.div_ceil(WEIGHT_CHUNKS).div_ceil(plan.imgs).max(1) * plan.imgs
}

/// Images per backward-weight chunk when work is per image.
fn weight_chunk_images(g: &ConvGeom) -> usize {
    g.n.div_ceil(WEIGHT_CHUNKS).max(1)
}

/// Sums per-chunk partials in chunk order into `dw`.
fn reduce_partials(partials: &[Vec<f32>], dw: &mut [f32]) {
    dw.fill(0.0);
    for p in partials {
        dw.iter_mut().zip(p).for_each(|(d, s)| *d += *s);
    }
}

/// dw = ∂(Σ dy ⊙ conv(x, w))/∂w, overwriting `dw` (O×C×kH×kW). Bit-identical for any
/// thread count.
pub fn conv2d_backward_weight(g: &ConvGeom, x: &[f32], dy: &[f32], dw: &mut [f32]) {
    check_lens(g, x.len(), dw.len(), dy.len());
    // Measured: wins once O fills a whole NR panel; 1×1 convolutions (nothing to
    // im2col, so the interleave is pure overhead) do better on sgemm.
    if use_microkernel() && g.o < NR && direct::suits_backward_weight(g) && g.n > 0 {
        return direct::backward_weight(g, x, dy, dw);
    }
    if use_microkernel() && g.o >= NR && !g.is_pointwise() && g.n > 0 {
        return packed::backward_weight(g, x, dy, dw);
    }
    portable::backward_weight(g, x, dy, dw)
}

/// db[o] = Σ over images and pixels of dy[n, o], overwriting `db`. Bit-identical for
/// any thread count.
pub fn conv2d_backward_bias(g: &ConvGeom, dy: &[f32], db: &mut [f32]) {
    let hwo = g.ho() * g.wo();
    assert_eq!(dy.len(), g.n * g.o * hwo, "conv2d kernel: output length");
    assert_eq!(db.len(), g.o, "conv2d kernel: bias length");
    if hwo == 0 {
        db.fill(0.0);
        return;
    }
    let per_image: Vec<Vec<f64>> = dy
        .par_chunks(g.o * hwo)
        .map(|img| {
            img.chunks(hwo)
                .map(crate::cpu::arith::sum_f64_lanes)
                .collect()
        })
        .collect();
    for (o, d) in db.iter_mut().enumerate() {
        *d = per_image.iter().map(|v| v[o]).sum::<f64>() as f32;
    }
}
