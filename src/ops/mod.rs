//! Primitives: one file per primitive with its shape checks, device dispatch and
//! backward rule. Composite layers live in `nn` and get gradients for free.

pub mod activation;
pub mod anchor;
pub mod arith;
pub mod cclp;
pub mod cclp_gpu;
pub mod concat;
pub mod conv2d;
pub mod dropout;
pub mod fused;
pub mod host;
pub mod kde;
pub mod linear;
pub mod maxpool;
pub mod optim;
pub mod pairwise;
pub mod reshape;
pub mod select;
pub mod softmax;
pub mod transpose;

use crate::autograd::{BackwardCx, Tape, Var};
use crate::cuda::Gpu;
use crate::tensor::{Device, Tensor};
use anyhow::{bail, Result};
use std::sync::Arc;

/// The GPU every input of an op lives on, or None when all are on the host. Inputs on
/// different devices, or a tape whose pool is on another device, are an error naming both.
pub(crate) fn gpu_of(tape: &Tape, what: &str, xs: &[Var]) -> Result<Option<Arc<Gpu>>> {
    let pool_dev = tape.pool().device();
    let mut dev: Option<(Device, Var)> = None;
    for &x in xs {
        let d = tape.value(x).device();
        if let Some((d0, x0)) = dev {
            if d0 != d {
                bail!(
                    "{what}: input {} is on {d0} but input {} is on {d}",
                    x0.index(),
                    x.index()
                );
            }
        }
        dev = Some((d, x));
    }
    let d = dev.map_or(pool_dev, |(d, _)| d);
    if d != pool_dev {
        bail!("{what}: the inputs are on {d} but the tape allocates on {pool_dev}");
    }
    Ok(tape.pool().gpu().cloned())
}

/// The GPU of a backward rule's output gradient (None on the host).
pub(crate) fn grad_gpu(cx: &BackwardCx) -> Option<Arc<Gpu>> {
    cx.grad_out().gpu().cloned()
}

/// Host copies of several values in one synchronisation (device values are read back;
/// host values are copied).
pub fn read_back(tape: &Tape, vars: &[Var]) -> Result<Vec<Vec<f32>>> {
    vars.iter()
        .map(|&v| Ok(tape.value(v).to_host()?.into_vec()))
        .collect()
}

/// A device tensor holding `values` (labels, indices) as raw 32-bit words.
pub(crate) fn upload_words(pool: &crate::tensor::Pool, words: &[i32]) -> Result<Tensor> {
    let t = Tensor::alloc_in(pool, [words.len().max(1)])?;
    t.gpu()
        .expect("upload_words on a GPU pool")
        .driver()
        .htod(t.ptr(), bytemuck::cast_slice(words))?;
    Ok(t)
}

/// A device tensor holding `values` as f64 (two 32-bit words each, low word first).
pub(crate) fn upload_f64(pool: &crate::tensor::Pool, values: &[f64]) -> Result<Tensor> {
    let words: Vec<f32> = values
        .iter()
        .flat_map(|x| {
            let b = x.to_bits();
            [f32::from_bits(b as u32), f32::from_bits((b >> 32) as u32)]
        })
        .collect();
    let words = if words.is_empty() { vec![0.0] } else { words };
    Tensor::from_vec([words.len()], words)?.to_pool(pool)
}

/// The first `n` f64 values a kernel wrote into `t` (the layout of `upload_f64`).
pub(crate) fn read_f64(t: &Tensor, n: usize) -> Result<Vec<f64>> {
    let words = t.to_host()?.into_vec();
    Ok(words
        .chunks_exact(2)
        .take(n)
        .map(|w| f64::from_bits(w[0].to_bits() as u64 | (w[1].to_bits() as u64) << 32))
        .collect())
}

/// grad_out[0]·pattern for a scalar-output op whose gradient pattern was computed on
/// the host (CCLP, the distance anchor): on a GPU the pattern is uploaded and scaled
/// there, so the scalar gradient is never read back.
pub(crate) fn scale_by_scalar_grad(cx: &BackwardCx, pattern: &Tensor) -> Result<Tensor> {
    match grad_gpu(cx) {
        Some(gpu) => {
            use crate::cuda::ops as cu;
            let p = if pattern.gpu().is_some() {
                pattern.try_clone()?
            } else {
                pattern.to_pool(cx.pool())?
            };
            let out = Tensor::alloc_in(cx.pool(), pattern.shape())?;
            cu::fill_scaled(&gpu, cx.grad_out().ptr(), 1.0, out.ptr(), out.numel())?;
            cu::binary(
                &gpu,
                crate::kparams::BinaryOp::Mul,
                0.0,
                out.ptr(),
                p.ptr(),
                out.ptr(),
                out.numel(),
            )?;
            Ok(out)
        }
        None => {
            let g = cx.grad_out().data()[0];
            let mut out = Tensor::uninit_in(cx.pool(), pattern.shape());
            for (o, v) in out.data_mut().iter_mut().zip(pattern.data()) {
                *o = g * v;
            }
            Ok(out)
        }
    }
}

/// A one-element tensor holding `v` on the tape's device.
pub(crate) fn scalar_on(tape: &Tape, v: f32) -> Result<Tensor> {
    match tape.pool().gpu() {
        Some(_) => Tensor::full([1], v).to_pool(tape.pool()),
        None => {
            let mut out = Tensor::uninit_in(tape.pool(), [1]);
            out.data_mut()[0] = v;
            Ok(out)
        }
    }
}
