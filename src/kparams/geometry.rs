//! Geometry of the convolution and pooling calls: validated sizes that the ops check
//! once and every device's kernels read (the CPU kernels directly, the CUDA launchers
//! through `ConvParams` / `PoolParams`). A leaf: it depends on nothing else in the crate.

use super::mask::Mask;
use super::{ConvParams, PoolParams, SlabParams};
use anyhow::{bail, Result};

fn u32_of(v: usize, what: &str) -> Result<u32> {
    u32::try_from(v)
        .map_err(|_| anyhow::anyhow!("{what} = {v} exceeds the CUDA kernels' 32-bit index range"))
}

/// How the border is extended when padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PadMode {
    /// Padded pixels are 0.
    Zeros,
    /// Padded pixels repeat the nearest edge pixel (PyTorch `padding_mode='replicate'`).
    Replicate,
}

/// Stride and padding of a convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dParams {
    /// Step between output pixels, ≥ 1.
    pub stride: usize,
    /// Pixels added on every side.
    pub padding: usize,
    /// What the added pixels hold.
    pub pad_mode: PadMode,
}

impl Conv2dParams {
    /// 'Same' convolution for an odd kernel `k`: stride 1, padding k/2, replicate edges.
    pub fn same(k: usize) -> Self {
        Conv2dParams {
            stride: 1,
            padding: k / 2,
            pad_mode: PadMode::Replicate,
        }
    }

    /// 'Valid' convolution: stride 1, no padding.
    pub fn valid() -> Self {
        Conv2dParams {
            stride: 1,
            padding: 0,
            pad_mode: PadMode::Zeros,
        }
    }
}

/// Every size of one convolution call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    /// Batch size.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub o: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Stride and padding.
    pub p: Conv2dParams,
}

impl ConvGeom {
    /// The geometry of input `x` (N×C×H×W) and weight `w` (O×C×kH×kW); errors name the
    /// mismatch.
    pub fn new(x: [usize; 4], w: [usize; 4], p: Conv2dParams) -> Result<Self> {
        let [n, c, h, wd] = x;
        let [o, wc, kh, kw] = w;
        if wc != c {
            bail!("conv2d: input has {c} channels, weight expects {wc}");
        }
        if p.stride == 0 {
            bail!("conv2d: stride must be at least 1, found 0");
        }
        if o == 0 || kh == 0 || kw == 0 {
            bail!("conv2d: weight shape {o}×{wc}×{kh}×{kw} has an empty dimension");
        }
        if h + 2 * p.padding < kh || wd + 2 * p.padding < kw {
            bail!(
                "conv2d: kernel {kh}×{kw} is larger than the padded input {}×{} (input {h}×{wd}, padding {})",
                h + 2 * p.padding,
                wd + 2 * p.padding,
                p.padding
            );
        }
        if p.pad_mode == PadMode::Replicate && p.padding > 0 && (h == 0 || wd == 0) {
            bail!("conv2d: replicate padding of an empty {h}×{wd} input");
        }
        Ok(ConvGeom {
            n,
            c,
            h,
            w: wd,
            o,
            kh,
            kw,
            p,
        })
    }

    /// Output height.
    pub fn ho(&self) -> usize {
        (self.h + 2 * self.p.padding - self.kh) / self.p.stride + 1
    }

    /// Output width.
    pub fn wo(&self) -> usize {
        (self.w + 2 * self.p.padding - self.kw) / self.p.stride + 1
    }

    /// GEMM depth: I·kH·kW.
    pub fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Output shape N×O×Ho×Wo.
    pub fn out_dims(&self) -> [usize; 4] {
        [self.n, self.o, self.ho(), self.wo()]
    }

    /// Floating-point operations of one pass (forward, backward-input or backward-weight).
    pub fn flops(&self) -> f64 {
        2.0 * (self.n * self.o * self.ho() * self.wo() * self.k()) as f64
    }

    /// Whether im2col would be a plain copy (1×1, stride 1, no padding).
    pub fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.p.stride == 1 && self.p.padding == 0
    }
}

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
    pub(crate) fn planes_per_task(&self) -> usize {
        (8192 / (self.h * self.w).max(1)).max(1)
    }

    /// The first valid window index along one axis and the end, for output index `o`.
    pub(crate) fn window(&self, o: usize, len: usize) -> (isize, usize, usize) {
        let start = (o * self.s) as isize - self.p as isize;
        let lo = (-start).max(0) as usize;
        let hi = ((len as isize - start).max(0) as usize).min(self.k);
        (start, lo, hi)
    }
}

impl ConvGeom {
    /// The kernel parameter struct of this geometry (`splits` K-chunks of the weight
    /// gradient); errors when a size exceeds the kernels' 32-bit indices.
    pub fn to_params(&self, splits: u32) -> Result<ConvParams> {
        Ok(ConvParams {
            n: u32_of(self.n, "batch")?,
            c: u32_of(self.c, "channels")?,
            h: u32_of(self.h, "height")?,
            w: u32_of(self.w, "width")?,
            o: u32_of(self.o, "output channels")?,
            kh: u32_of(self.kh, "kernel height")?,
            kw: u32_of(self.kw, "kernel width")?,
            stride: u32_of(self.p.stride, "stride")?,
            pad: u32_of(self.p.padding, "padding")?,
            replicate: (self.p.pad_mode == PadMode::Replicate) as u32,
            ho: u32_of(self.ho(), "output height")?,
            wo: u32_of(self.wo(), "output width")?,
            splits,
            pad_: 0,
        })
    }
}

impl PoolGeom {
    /// The kernel parameter struct of this geometry.
    pub fn to_params(&self) -> Result<PoolParams> {
        Ok(PoolParams {
            n: u32_of(self.n, "batch")?,
            c: u32_of(self.c, "channels")?,
            h: u32_of(self.h, "height")?,
            w: u32_of(self.w, "width")?,
            k: self.k as u32,
            s: self.s as u32,
            p: self.p as u32,
            ho: self.ho() as u32,
            wo: self.wo() as u32,
            pad_: 0,
        })
    }
}

/// Where one part sits in a channel concatenation (ELU + channel dropout written into
/// its slab): the part is N×c×inner, the whole N×c_total×inner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slab {
    /// Elements per feature map (H·W).
    pub inner: usize,
    /// The part's channels.
    pub c: usize,
    /// The whole's channels.
    pub c_total: usize,
    /// The part's first channel in the whole.
    pub offset: usize,
}

impl Slab {
    /// The kernels' parameters for `outer` images and the part's dropout mask.
    pub fn to_params(&self, outer: usize, mask: &Mask) -> Result<SlabParams> {
        let (k0, k1, threshold, scale) = mask.parts();
        Ok(SlabParams {
            outer: outer as u64,
            inner: self.inner as u64,
            c: u32_of(self.c, "part channels")?,
            c_total: u32_of(self.c_total, "channels")?,
            offset: u32_of(self.offset, "channel offset")?,
            k0,
            k1,
            threshold,
            scale,
            pad_: 0,
        })
    }
}
