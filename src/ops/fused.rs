//! ELU → channel dropout → channel concatenation as one op that stores only its output
//! (`cpu/elu_dropout.rs`, `kernels/dropout.cu`): the conv unit's activation and the
//! Inception block's four branches. Built one part at a time, so each part's
//! pre-activation can be released before the next branch's convolution runs.
//!
//! The forward values are the unfused chain's bit for bit (same ELU, same masks: each
//! part draws channel dropout's mask on its own maps). The backward recovers ELU's output
//! from the stored one (e = y / f), within an ulp of the chain's (tested); that is what
//! lets the tape keep one tensor per conv unit instead of two.

use super::concat::axis1;
use super::dropout::check_p;
use super::maxpool::{byte_buffer, bytes_mut};
use crate::autograd::{Backward, BackwardCx, Saves, Tape, Var};
use crate::cpu::elu_dropout::{self as k, Slab};
use crate::cuda::ops as cu;
use crate::kparams::geometry::PoolGeom;
use crate::kparams::mask::Mask;
use crate::tensor::{Shape, Tensor};
use anyhow::{bail, Result};

const NAME: &str = "elu+channel_dropout";

struct Part {
    x: Var,
    slab: Slab,
    mask: Mask,
}

struct EluDropBack {
    parts: Vec<Part>,
    outer: usize,
}

impl Backward for EluDropBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        for part in &self.parts {
            if !cx.needs_grad(part.x) {
                continue;
            }
            let shape = cx.shape(part.x);
            let dx = if let Some(gpu) = super::grad_gpu(cx) {
                let dx = Tensor::alloc_in(cx.pool(), shape)?;
                let (dy, y) = (cx.grad_out().ptr(), cx.output().ptr());
                cu::elu_dropout_slab_backward(
                    &gpu,
                    &part.mask,
                    self.outer,
                    &part.slab,
                    dy,
                    y,
                    dx.ptr(),
                )?;
                dx
            } else {
                let mut dx = Tensor::uninit_in(cx.pool(), shape);
                let (dy, y) = (cx.grad_out().data(), cx.output().data());
                k::backward(&part.mask, part.slab, dy, y, dx.data_mut());
                dx
            };
            cx.accumulate(part.x, dx)?;
        }
        Ok(())
    }
    fn name(&self) -> &'static str {
        NAME
    }
    fn saves(&self) -> Saves {
        Saves::Output
    }
}

/// concat_channels([channel_dropout(elu(xᵢ), p, seedᵢ) …]) built one part at a time:
/// `new`, then `add` each part (its input may be released right after), then `finish`.
pub struct EluDropConcat {
    channels: usize,
    training: bool,
    out: Option<(Tensor, Shape)>,
    parts: Vec<Part>,
    filled: usize,
}

impl EluDropConcat {
    /// An output of `channels` channels in all; dropout only when `training`.
    pub fn new(channels: usize, training: bool) -> Self {
        EluDropConcat {
            channels,
            training,
            out: None,
            parts: Vec::new(),
            filled: 0,
        }
    }

    /// Writes the next part, channel_dropout(elu(x), p, seed), into its channel slab.
    pub fn add(&mut self, tape: &mut Tape, x: Var, p: f32, seed: u64) -> Result<()> {
        check_p("channel_dropout", p)?;
        let shape = tape.shape(x);
        let (n, c, inner) = axis1(shape, NAME)?;
        if self.filled + c > self.channels {
            bail!(
                "{NAME}: parts of {} + {c} channels overflow the {} channels asked for",
                self.filled,
                self.channels
            );
        }
        if self.out.is_none() {
            let mut d = shape.dims().to_vec();
            d[1] = self.channels;
            let whole = Shape::new(&d);
            self.out = Some((Tensor::alloc_in(tape.pool(), whole)?, shape));
        }
        let (out, first) = self.out.as_mut().expect("allocated above");
        if shape.dim(0) != first.dim(0) || shape.dims()[2..] != first.dims()[2..] {
            bail!("concat_channels: shapes {first} and {shape} differ outside axis 1");
        }
        let p = if self.training { p } else { 0.0 };
        let mask = Mask::new(seed, p);
        let slab = Slab {
            inner,
            c,
            c_total: self.channels,
            offset: self.filled,
        };
        let xv = tape.value(x);
        if xv.device() != out.device() {
            bail!(
                "{NAME}: input {} is on {} but the output is on {}",
                x.index(),
                xv.device(),
                out.device()
            );
        }
        match xv.gpu() {
            Some(gpu) => cu::elu_dropout_slab(gpu, &mask, n, &slab, xv.ptr(), out.ptr())?,
            None => k::forward(&mask, slab, xv.data(), out.data_mut()),
        }
        tape.charge(NAME);
        self.parts.push(Part { x, slab, mask });
        self.filled += c;
        Ok(())
    }

    /// The concatenated output, recorded on the tape.
    pub fn finish(self, tape: &mut Tape) -> Result<Var> {
        let Some((out, first)) = self.out else {
            bail!("{NAME}: no parts were added");
        };
        if self.filled != self.channels {
            bail!(
                "{NAME}: parts fill {} of the {} channels",
                self.filled,
                self.channels
            );
        }
        let inputs: Vec<Var> = self.parts.iter().map(|p| p.x).collect();
        let rule = EluDropBack {
            parts: self.parts,
            outer: first.dim(0),
        };
        Ok(tape.push(out, &inputs, rule))
    }
}

/// channel_dropout(elu(x), p, seed) (ELU alone when not training or p = 0), storing only
/// its output.
pub fn elu_channel_dropout(
    tape: &mut Tape,
    x: Var,
    p: f32,
    seed: u64,
    training: bool,
) -> Result<Var> {
    let (_, c, _) = axis1(tape.shape(x), NAME)?;
    let mut op = EluDropConcat::new(c, training);
    op.add(tape, x, p, seed)?;
    op.finish(tape)
}

const POOL_NAME: &str = "elu+channel_dropout+max_pool2d";

struct EluDropPoolBack {
    x: Var,
    g: PoolGeom,
    mask: Mask,
    /// Argmax bytes in a pooled f32 buffer (as `max_pool2d` keeps them).
    arg: Tensor,
    len: usize,
}

impl Backward for EluDropPoolBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        let mut dx = Tensor::uninit_in(cx.pool(), cx.shape(self.x));
        let arg = &bytemuck::cast_slice::<f32, u8>(self.arg.data())[..self.len];
        let (dy, y) = (cx.grad_out().data(), cx.output().data());
        k::pool_backward(&self.mask, &self.g, dy, y, arg, dx.data_mut());
        cx.accumulate(self.x, dx)
    }
    fn name(&self) -> &'static str {
        POOL_NAME
    }
    fn saves(&self) -> Saves {
        Saves::Output
    }
}

/// max_pool2d(channel_dropout(elu(x), p, seed), kernel, stride, padding) storing only the
/// pooled output and its argmax bytes: on the host one pass per feature map (the
/// activation lives in a scratch plane), the chain's bits forward and backward; on a GPU
/// the fused activation then the pool.
pub fn elu_dropout_pool(
    tape: &mut Tape,
    x: Var,
    p: f32,
    seed: u64,
    training: bool,
    pool: (usize, usize, usize),
) -> Result<Var> {
    check_p("channel_dropout", p)?;
    let (kernel, stride, padding) = pool;
    let xs = tape.shape(x).nchw("max_pool2d input")?;
    let g = PoolGeom::new(xs, kernel, stride, padding)?;
    if super::gpu_of(tape, POOL_NAME, &[x])?.is_some() {
        let y = elu_channel_dropout(tape, x, p, seed, training)?;
        return super::maxpool::max_pool2d(tape, y, kernel, stride, padding);
    }
    let mask = Mask::new(seed, if training { p } else { 0.0 });
    let mut y = Tensor::uninit_in(tape.pool(), g.out_dims());
    let len = y.numel();
    let mut arg = byte_buffer(tape.pool(), len);
    let a = bytes_mut(&mut arg, len);
    k::pool_forward(&mask, &g, tape.value(x).data(), y.data_mut(), a);
    Ok(tape.push(
        y,
        &[x],
        EluDropPoolBack {
            x,
            g,
            mask,
            arg,
            len,
        },
    ))
}

#[cfg(test)]
mod tests;
