//! Typed launchers, one per kernel of docs/cuda.md: they fill the parameter struct,
//! choose the launch geometry the contract names and pass device addresses. The ops
//! call these from their device `match`; nothing else launches kernels.

use super::{grid_1d, Gpu, BLOCK};
use crate::kparams::geometry::{ConvGeom, PoolGeom, Slab};
use crate::kparams::mask::Mask;
use crate::kparams::*;
use crate::tensor::{Pool, Tensor};
use anyhow::Result;

/// Every kernel a launcher here may name (checked against the sources by a test).
pub const KERNELS: &[&str] = &[
    "ew_unary",
    "ew_binary",
    "fill_scaled",
    "act_forward",
    "act_backward",
    "reduce_sum",
    "sum_axis1",
    "sum_splits",
    "dropout_apply",
    "elu_dropout_slab_forward",
    "elu_dropout_slab_backward",
    "maxpool_forward",
    "maxpool_backward",
    "copy_channels",
    "mask_columns",
    "transpose",
    "softmax_forward",
    "log_softmax_forward",
    "softmax_backward",
    "log_softmax_backward",
    "cross_entropy_forward",
    "cross_entropy_backward",
    "sgemm",
    "add_bias_rows",
    "conv2d_forward",
    "conv2d_backward_input",
    "conv2d_backward_weight",
    "adamw_step",
    "sgd_step",
    "knn_topk",
    "kde_grid",
    "gaussian_sums",
    "cclp_row_stats",
    "cclp_block_build",
    "cclp_block_terms",
    "cclp_sum",
    "cclp_block_e",
    "cclp_block_rows",
    "cclp_dense_grad",
];

const B1: [u32; 3] = [BLOCK, 1, 1];

fn u32_of(v: usize, what: &str) -> Result<u32> {
    u32::try_from(v)
        .map_err(|_| anyhow::anyhow!("{what} = {v} exceeds the CUDA kernels' 32-bit index range"))
}

/// y = op(x) elementwise (y may be x).
pub fn unary(gpu: &Gpu, op: UnaryOp, s: f32, x: u64, y: u64, n: usize) -> Result<()> {
    let p = EwParams {
        n: n as u64,
        op: op as i32,
        s,
    };
    gpu.launch("ew_unary", grid_1d(n as u64), B1, &p, &[x, y])
}

/// y = op(a, b) elementwise (y may be a).
pub fn binary(gpu: &Gpu, op: BinaryOp, s: f32, a: u64, b: u64, y: u64, n: usize) -> Result<()> {
    let p = EwParams {
        n: n as u64,
        op: op as i32,
        s,
    };
    gpu.launch("ew_binary", grid_1d(n as u64), B1, &p, &[a, b, y])
}

/// y[i] = s·g[0].
pub fn fill_scaled(gpu: &Gpu, g: u64, s: f32, y: u64, n: usize) -> Result<()> {
    let p = EwParams {
        n: n as u64,
        op: 0,
        s,
    };
    gpu.launch("fill_scaled", grid_1d(n as u64), B1, &p, &[g, y])
}

/// y = act(x).
pub fn act_forward(gpu: &Gpu, kind: i32, x: u64, y: u64, n: usize) -> Result<()> {
    let p = ActParams {
        n: n as u64,
        kind,
        pad_: 0,
    };
    gpu.launch("act_forward", grid_1d(n as u64), B1, &p, &[x, y])
}

/// g ← g·act′, from the forward output y.
pub fn act_backward(gpu: &Gpu, kind: i32, y: u64, g: u64, n: usize) -> Result<()> {
    let p = ActParams {
        n: n as u64,
        kind,
        pad_: 0,
    };
    gpu.launch("act_backward", grid_1d(n as u64), B1, &p, &[y, g])
}

/// out[0] = s·Σx (f64 inside, one block: deterministic).
pub fn reduce_sum(gpu: &Gpu, x: u64, n: usize, s: f32, out: u64) -> Result<()> {
    let p = EwParams {
        n: n as u64,
        op: 0,
        s,
    };
    gpu.launch("reduce_sum", [1, 1, 1], B1, &p, &[x, out])
}

/// out[j] = beta·out[j] + Σ_{o,i} x[o, j, i].
pub fn sum_axis1(
    gpu: &Gpu,
    x: u64,
    outer: usize,
    c: usize,
    inner: usize,
    beta: f32,
    out: u64,
) -> Result<()> {
    let p = AxisSumParams {
        outer: outer as u64,
        inner: inner as u64,
        c: u32_of(c, "channels")?,
        beta,
    };
    gpu.launch("sum_axis1", [p.c, 1, 1], B1, &p, &[x, out])
}

/// y[i] = x[i]·mask.factor(i / inner).
pub fn dropout(gpu: &Gpu, mask: &Mask, inner: usize, x: u64, y: u64, n: usize) -> Result<()> {
    let (k0, k1, threshold, scale) = mask.parts();
    let p = DropoutParams {
        n: n as u64,
        inner: inner.max(1) as u64,
        k0,
        k1,
        threshold,
        scale,
    };
    gpu.launch("dropout_apply", grid_1d(n as u64), B1, &p, &[x, y])
}

/// One block per feature map of the part.
fn slab_grid(outer: usize, s: &Slab) -> Result<[u32; 3]> {
    let maps = outer * s.c;
    if maps > i32::MAX as usize {
        anyhow::bail!("{maps} feature maps exceed the slab kernels' grid (2³¹ − 1 blocks)");
    }
    Ok([maps.max(1) as u32, 1, 1])
}

/// y[o, offset + j, :] = elu(x[o, j, :])·mask.factor(o·c + j): one part of ELU + channel
/// dropout + concatenation.
pub fn elu_dropout_slab(
    gpu: &Gpu,
    mask: &Mask,
    outer: usize,
    s: &Slab,
    x: u64,
    y: u64,
) -> Result<()> {
    let p = s.to_params(outer, mask)?;
    gpu.launch(
        "elu_dropout_slab_forward",
        slab_grid(outer, s)?,
        B1,
        &p,
        &[x, y],
    )
}

/// dx (the part) from the whole output's gradient dy and the output y.
pub fn elu_dropout_slab_backward(
    gpu: &Gpu,
    mask: &Mask,
    outer: usize,
    s: &Slab,
    dy: u64,
    y: u64,
    dx: u64,
) -> Result<()> {
    let p = s.to_params(outer, mask)?;
    let grid = slab_grid(outer, s)?;
    gpu.launch("elu_dropout_slab_backward", grid, B1, &p, &[dy, y, dx])
}

/// Max-pool forward: values and argmax bytes.
pub fn maxpool_forward(gpu: &Gpu, g: &PoolGeom, x: u64, y: u64, arg: u64) -> Result<()> {
    let p = g.to_params()?;
    gpu.launch(
        "maxpool_forward",
        grid_1d((g.n * g.c * g.ho() * g.wo()) as u64),
        B1,
        &p,
        &[x, y, arg],
    )
}

/// Max-pool backward (gather; dx fully written).
pub fn maxpool_backward(gpu: &Gpu, g: &PoolGeom, dy: u64, arg: u64, dx: u64) -> Result<()> {
    let p = g.to_params()?;
    gpu.launch(
        "maxpool_backward",
        grid_1d((g.n * g.c * g.h * g.w) as u64),
        B1,
        &p,
        &[dy, arg, dx],
    )
}

/// dst[o, dst_start + j, i] = src[o, src_start + j, i].
#[allow(clippy::too_many_arguments)]
pub fn copy_channels(
    gpu: &Gpu,
    outer: usize,
    inner: usize,
    src_c: usize,
    dst_c: usize,
    src_start: usize,
    dst_start: usize,
    len: usize,
    src: u64,
    dst: u64,
) -> Result<()> {
    let p = CopyChannelsParams {
        outer: outer as u64,
        inner: inner as u64,
        src_c: u32_of(src_c, "channels")?,
        dst_c: u32_of(dst_c, "channels")?,
        src_start: src_start as u32,
        dst_start: dst_start as u32,
        len: len as u32,
        pad_: 0,
    };
    gpu.launch(
        "copy_channels",
        grid_1d((outer * len * inner) as u64),
        B1,
        &p,
        &[src, dst],
    )
}

/// y = x with columns ≥ keep zeroed.
pub fn mask_columns(
    gpu: &Gpu,
    rows: usize,
    cols: usize,
    keep: usize,
    x: u64,
    y: u64,
) -> Result<()> {
    let p = MatrixParams {
        rows: u32_of(rows, "rows")?,
        cols: u32_of(cols, "columns")?,
        keep: keep.min(cols) as u32,
        pad_: 0,
    };
    gpu.launch(
        "mask_columns",
        grid_1d((rows * cols) as u64),
        B1,
        &p,
        &[x, y],
    )
}

/// y = xᵀ.
pub fn transpose(gpu: &Gpu, rows: usize, cols: usize, x: u64, y: u64) -> Result<()> {
    let p = MatrixParams {
        rows: u32_of(rows, "rows")?,
        cols: u32_of(cols, "columns")?,
        keep: 0,
        pad_: 0,
    };
    gpu.launch("transpose", grid_1d((rows * cols) as u64), B1, &p, &[x, y])
}

/// y[r, j] += b[j].
pub fn add_bias_rows(gpu: &Gpu, rows: usize, cols: usize, b: u64, y: u64) -> Result<()> {
    let p = MatrixParams {
        rows: u32_of(rows, "rows")?,
        cols: u32_of(cols, "columns")?,
        keep: 0,
        pad_: 0,
    };
    gpu.launch(
        "add_bias_rows",
        grid_1d((rows * cols) as u64),
        B1,
        &p,
        &[b, y],
    )
}

fn softmax_params(rows: usize, k: usize, scale: f32) -> Result<SoftmaxParams> {
    Ok(SoftmaxParams {
        rows: u32_of(rows, "rows")?,
        k: u32_of(k, "classes")?,
        scale,
        pad_: 0,
    })
}

/// Row softmax or log-softmax.
pub fn softmax(gpu: &Gpu, log: bool, rows: usize, k: usize, x: u64, y: u64) -> Result<()> {
    let name = if log {
        "log_softmax_forward"
    } else {
        "softmax_forward"
    };
    gpu.launch(
        name,
        grid_1d(rows as u64),
        B1,
        &softmax_params(rows, k, 1.0)?,
        &[x, y],
    )
}

/// Their backward, in place on g.
pub fn softmax_backward(gpu: &Gpu, log: bool, rows: usize, k: usize, y: u64, g: u64) -> Result<()> {
    let name = if log {
        "log_softmax_backward"
    } else {
        "softmax_backward"
    };
    gpu.launch(
        name,
        grid_1d(rows as u64),
        B1,
        &softmax_params(rows, k, 1.0)?,
        &[y, g],
    )
}

/// lse per row and loss[0] = scale·Σ (lse − x[label]) over labelled rows.
#[allow(clippy::too_many_arguments)]
pub fn cross_entropy_forward(
    gpu: &Gpu,
    rows: usize,
    k: usize,
    scale: f32,
    x: u64,
    labels: u64,
    lse: u64,
    loss: u64,
) -> Result<()> {
    gpu.launch(
        "cross_entropy_forward",
        [1, 1, 1],
        B1,
        &softmax_params(rows, k, scale)?,
        &[x, labels, lse, loss],
    )
}

/// dx = gy[0]·scale·(softmax − onehot), zero for unlabelled rows.
#[allow(clippy::too_many_arguments)]
pub fn cross_entropy_backward(
    gpu: &Gpu,
    rows: usize,
    k: usize,
    scale: f32,
    x: u64,
    lse: u64,
    labels: u64,
    gy: u64,
    dx: u64,
) -> Result<()> {
    gpu.launch(
        "cross_entropy_backward",
        grid_1d((rows * k) as u64),
        B1,
        &softmax_params(rows, k, scale)?,
        &[x, lse, labels, gy, dx],
    )
}

/// C = alpha·op(A)·op(B) + beta·C (row-major; see params.h).
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    gpu: &Gpu,
    m: usize,
    n: usize,
    k: usize,
    trans_a: bool,
    trans_b: bool,
    alpha: f32,
    beta: f32,
    a: u64,
    b: u64,
    c: u64,
) -> Result<()> {
    let p = GemmParams {
        m: u32_of(m, "rows")?,
        n: u32_of(n, "columns")?,
        k: u32_of(k, "inner size")?,
        lda: (if trans_a { m } else { k }) as u32,
        ldb: (if trans_b { k } else { n }) as u32,
        ldc: n as u32,
        trans_a: trans_a as i32,
        trans_b: trans_b as i32,
        alpha,
        beta,
    };
    gpu.launch(
        "sgemm",
        [p.n.div_ceil(64), p.m.div_ceil(64), 1],
        B1,
        &p,
        &[a, b, c],
    )
}

/// y = conv(x, w) + b (b = 0: no bias).
pub fn conv2d_forward(gpu: &Gpu, g: &ConvGeom, x: u64, w: u64, b: u64, y: u64) -> Result<()> {
    let p = g.to_params(1)?;
    let pixels = u32_of(g.n * g.ho() * g.wo(), "output pixels")?;
    gpu.launch(
        "conv2d_forward",
        [pixels.div_ceil(64), p.o.div_ceil(64), 1],
        B1,
        &p,
        &[x, w, b, y],
    )
}

/// dx of a convolution (fully written).
pub fn conv2d_backward_input(gpu: &Gpu, g: &ConvGeom, w: u64, dy: u64, dx: u64) -> Result<()> {
    let p = g.to_params(1)?;
    let pixels = u32_of(g.n * g.h * g.w, "input pixels")?;
    gpu.launch(
        "conv2d_backward_input",
        [pixels.div_ceil(64), p.c.div_ceil(64), 1],
        B1,
        &p,
        &[w, dy, dx],
    )
}

/// How many K-chunks the weight gradient is split into: enough blocks to fill a GPU
/// (~4 per SM of a 132-SM H200) without tiny chunks.
pub fn weight_splits(g: &ConvGeom) -> u32 {
    let k = (g.n * g.ho() * g.wo()) as u64;
    let tiles = ((g.c * g.kh * g.kw).div_ceil(64) * g.o.div_ceil(64)) as u64;
    let want = (528 / tiles.max(1)).max(1);
    want.min(k.div_ceil(256)).clamp(1, 256) as u32
}

/// dw of a convolution: split-K partial sums, then their fixed-order sum.
pub fn conv2d_backward_weight(
    gpu: &Gpu,
    pool: &Pool,
    g: &ConvGeom,
    x: u64,
    dy: u64,
    dw: u64,
) -> Result<()> {
    let splits = weight_splits(g);
    let p = g.to_params(splits)?;
    let len = g.o * g.c * g.kh * g.kw;
    let partial = Tensor::alloc_in(pool, [splits as usize * len])?;
    let tiles = u32_of(g.c * g.kh * g.kw, "weight columns")?.div_ceil(64);
    gpu.launch(
        "conv2d_backward_weight",
        [tiles, p.o.div_ceil(64), splits],
        B1,
        &p,
        &[x, dy, partial.ptr()],
    )?;
    let sp = SplitsParams {
        len: len as u64,
        splits,
        pad_: 0,
    };
    gpu.launch(
        "sum_splits",
        grid_1d(len as u64),
        B1,
        &sp,
        &[partial.ptr(), dw],
    )
}

/// Uploads an optimiser's slot table (small: one entry per parameter tensor).
fn slot_table(gpu: &Gpu, pool: &Pool, slots: &[ParamSlot]) -> Result<Tensor> {
    let bytes: &[u8] = unsafe {
        // SAFETY: ParamSlot is repr(C) plain data (five u64).
        std::slice::from_raw_parts(slots.as_ptr() as *const u8, std::mem::size_of_val(slots))
    };
    let t = Tensor::alloc_in(pool, [bytes.len().div_ceil(4)])?;
    gpu.driver().htod(t.ptr(), bytes)?;
    Ok(t)
}

fn optim_grid(slots: &[ParamSlot]) -> [u32; 3] {
    let most = slots.iter().map(|s| s.n).max().unwrap_or(0);
    [
        most.div_ceil(BLOCK as u64).clamp(1, 1024) as u32,
        slots.len() as u32,
        1,
    ]
}

/// One fused AdamW update of every parameter.
pub fn adamw(gpu: &Gpu, pool: &Pool, p: AdamWParams, slots: &[ParamSlot]) -> Result<()> {
    let table = slot_table(gpu, pool, slots)?;
    gpu.launch(
        "adamw_step",
        optim_grid(slots),
        B1,
        &AdamWParams {
            tensors: slots.len() as u32,
            ..p
        },
        &[table.ptr()],
    )
}

/// One fused SGD update of every parameter.
pub fn sgd(gpu: &Gpu, pool: &Pool, p: SgdParams, slots: &[ParamSlot]) -> Result<()> {
    let table = slot_table(gpu, pool, slots)?;
    gpu.launch(
        "sgd_step",
        optim_grid(slots),
        B1,
        &SgdParams {
            tensors: slots.len() as u32,
            ..p
        },
        &[table.ptr()],
    )
}
