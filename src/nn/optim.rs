//! Optimisers with PyTorch's update rules: AdamW (decoupled weight decay, bias-corrected
//! moments) and SGD with momentum. Each step is one fused in-place pass per parameter
//! (rayon over fixed chunks for large tensors, so results do not depend on the thread
//! count). The state is plain vectors, serialisable for checkpoint resume.

use crate::cpu::arith::CHUNK;
use crate::cuda::ops as cu;
use crate::kparams::{AdamWParams, ParamSlot, SgdParams};
use crate::tensor::{Pool, Tensor};
use anyhow::{bail, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Checks that params and grads match the sizes the optimiser was built for.
fn check(
    what: &str,
    sizes: impl ExactSizeIterator<Item = usize>,
    params: &[&mut [f32]],
    grads: &[&[f32]],
) -> Result<()> {
    if params.len() != sizes.len() || grads.len() != sizes.len() {
        bail!(
            "{what}: built for {} parameters, step got {} parameters and {} gradients",
            sizes.len(),
            params.len(),
            grads.len()
        );
    }
    for (i, ((n, p), g)) in sizes.zip(params).zip(grads).enumerate() {
        if p.len() != n || g.len() != n {
            bail!(
                "{what}: parameter {i} should have {n} values, found {} (gradient {})",
                p.len(),
                g.len()
            );
        }
    }
    Ok(())
}

/// Runs `f` over matching chunks of four equally long slices, in parallel when large.
fn for_chunks(
    p: &mut [f32],
    a: &mut [f32],
    b: &mut [f32],
    g: &[f32],
    f: impl Fn(&mut [f32], &mut [f32], &mut [f32], &[f32]) + Sync,
) {
    if p.len() <= CHUNK {
        return f(p, a, b, g);
    }
    p.par_chunks_mut(CHUNK)
        .zip(a.par_chunks_mut(CHUNK))
        .zip(b.par_chunks_mut(CHUNK))
        .zip(g.par_chunks(CHUNK))
        .for_each(|(((p, a), b), g)| f(p, a, b, g));
}

/// AdamW as in PyTorch: p ← p(1 − lr·wd), then the bias-corrected Adam step.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AdamW {
    /// Learning rate.
    pub lr: f32,
    /// Decay of the first moment.
    pub beta1: f32,
    /// Decay of the second moment.
    pub beta2: f32,
    /// Added to √v̂ in the denominator.
    pub eps: f32,
    /// Decoupled weight decay coefficient.
    pub weight_decay: f32,
    /// Steps taken so far.
    pub step: u64,
    /// First moments, one vector per parameter.
    pub m: Vec<Vec<f32>>,
    /// Second moments, one vector per parameter.
    pub v: Vec<Vec<f32>>,
    /// The moments on the parameters' GPU (authoritative while present; `sync_to_host`
    /// copies them into `m`, `v`).
    #[serde(skip)]
    device: Option<(Vec<Tensor>, Vec<Tensor>)>,
}

/// Uploads host state vectors next to the parameters.
fn upload(pool: &Pool, host: &[Vec<f32>]) -> Result<Vec<Tensor>> {
    host.iter()
        .map(|v| Tensor::from_vec([v.len()], v.clone())?.to_pool(pool))
        .collect()
}

/// Downloads device state into host vectors.
fn download(dev: &[Tensor], host: &mut [Vec<f32>]) -> Result<()> {
    for (d, h) in dev.iter().zip(host) {
        *h = d.to_host()?.into_vec();
    }
    Ok(())
}

/// Checks a device step's parameters and gradients against the optimiser's sizes.
fn check_tensors(
    what: &str,
    sizes: &[usize],
    params: &[Tensor],
    grads: &[Option<Tensor>],
) -> Result<()> {
    if params.len() != sizes.len() || grads.len() != sizes.len() {
        bail!(
            "{what}: built for {} parameters, step got {} parameters and {} gradients",
            sizes.len(),
            params.len(),
            grads.len()
        );
    }
    for (i, ((&n, p), g)) in sizes.iter().zip(params).zip(grads).enumerate() {
        if p.numel() != n
            || g.as_ref()
                .is_some_and(|g| g.numel() != n || g.device() != p.device())
        {
            bail!(
                "{what}: parameter {i} should have {n} values on {}, found {} (gradient {:?})",
                p.device(),
                p.numel(),
                g.as_ref().map(|g| (g.numel(), g.device()))
            );
        }
    }
    Ok(())
}

impl AdamW {
    /// AdamW for parameters of the given sizes, with PyTorch's betas (0.9, 0.999) and eps 1e-8.
    pub fn new(param_sizes: &[usize], lr: f32, weight_decay: f32) -> AdamW {
        AdamW {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
            step: 0,
            m: param_sizes.iter().map(|&n| vec![0.0; n]).collect(),
            v: param_sizes.iter().map(|&n| vec![0.0; n]).collect(),
            device: None,
        }
    }

    /// The next step's constants (and counts the step).
    fn next_params(&mut self) -> AdamWParams {
        self.step += 1;
        let t = self.step as f64;
        let (lr, b1, b2) = (self.lr as f64, self.beta1 as f64, self.beta2 as f64);
        AdamWParams {
            tensors: 0,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            decay: (1.0 - lr * self.weight_decay as f64) as f32,
            step_size: (lr / (1.0 - b1.powf(t))) as f32,
            inv_bc2_sqrt: (1.0 / (1.0 - b2.powf(t)).sqrt()) as f32,
            pad_: 0,
        }
    }

    /// One update of every parameter tensor that has a gradient (those without one are
    /// skipped, as in PyTorch), on the parameters' device: the CPU loop, or one fused
    /// kernel launch over all parameters on a GPU.
    pub fn step_tensors(
        &mut self,
        pool: &Pool,
        params: &mut [Tensor],
        grads: &[Option<Tensor>],
    ) -> Result<()> {
        let sizes: Vec<usize> = self.m.iter().map(Vec::len).collect();
        check_tensors("AdamW", &sizes, params, grads)?;
        let k = self.next_params();
        let Some(gpu) = pool.gpu().cloned() else {
            for (((p, m), v), g) in params
                .iter_mut()
                .zip(&mut self.m)
                .zip(&mut self.v)
                .zip(grads)
            {
                if let Some(g) = g {
                    adamw_host(p.data_mut(), m, v, g.data(), &k);
                }
            }
            return Ok(());
        };
        if self.device.is_none() {
            self.device = Some((upload(pool, &self.m)?, upload(pool, &self.v)?));
        }
        let (dm, dv) = self.device.as_ref().expect("device moments just made");
        let slots: Vec<ParamSlot> = params
            .iter()
            .zip(dm.iter().zip(dv))
            .zip(grads)
            .filter_map(|((p, (m, v)), g)| {
                g.as_ref().map(|g| ParamSlot {
                    p: p.ptr(),
                    g: g.ptr(),
                    m: m.ptr(),
                    v: v.ptr(),
                    n: p.numel() as u64,
                })
            })
            .collect();
        cu::adamw(&gpu, pool, k, &slots)
    }

    /// Copies device moments into `m`, `v` (before a checkpoint is written).
    pub fn sync_to_host(&mut self) -> Result<()> {
        if let Some((dm, dv)) = &self.device {
            download(dm, &mut self.m)?;
            download(dv, &mut self.v)?;
        }
        Ok(())
    }

    /// Forgets device moments (after `m`, `v` were replaced on the host, e.g. on resume).
    pub fn invalidate_device(&mut self) {
        self.device = None;
    }

    /// One update of every parameter from its gradient, in place.
    pub fn step(&mut self, params: &mut [&mut [f32]], grads: &[&[f32]]) -> Result<()> {
        check("AdamW", self.m.iter().map(Vec::len), params, grads)?;
        let k = self.next_params();
        for (((p, m), v), g) in params
            .iter_mut()
            .zip(&mut self.m)
            .zip(&mut self.v)
            .zip(grads)
        {
            adamw_host(p, m, v, g, &k);
        }
        Ok(())
    }
}

/// One parameter's AdamW update (the arithmetic the CUDA kernel repeats in f32).
fn adamw_host(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], k: &AdamWParams) {
    let (beta1, beta2, eps, decay, step_size, inv_bc2_sqrt) = (
        k.beta1,
        k.beta2,
        k.eps,
        k.decay,
        k.step_size,
        k.inv_bc2_sqrt,
    );
    for_chunks(p, m, v, g, |p, m, v, g| {
        for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
            *m = beta1 * *m + (1.0 - beta1) * g;
            *v = beta2 * *v + (1.0 - beta2) * g * g;
            let denom = v.sqrt() * inv_bc2_sqrt + eps;
            *p = *p * decay - step_size * *m / denom;
        }
    });
}

/// One parameter's SGD update (the arithmetic the CUDA kernel repeats). On the first
/// step PyTorch initialises the buffer to d: μ·0 + d gives the same.
fn sgd_host(p: &mut [f32], b: &mut [f32], g: &[f32], lr: f32, mu: f32, wd: f32) {
    let update = |p: &mut [f32], b: &mut [f32], g: &[f32]| {
        for ((p, b), &g) in p.iter_mut().zip(b.iter_mut()).zip(g) {
            *b = mu * *b + (g + wd * *p);
            *p -= lr * *b;
        }
    };
    if p.len() <= CHUNK {
        update(p, b, g);
    } else {
        p.par_chunks_mut(CHUNK)
            .zip(b.par_chunks_mut(CHUNK))
            .zip(g.par_chunks(CHUNK))
            .for_each(|((p, b), g)| update(p, b, g));
    }
}

/// SGD as in PyTorch (dampening 0, no Nesterov): d = g + wd·p; b ← μb + d (b = d on the
/// first step); p ← p − lr·b (p ← p − lr·d without momentum).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Sgd {
    /// Learning rate.
    pub lr: f32,
    /// Momentum μ (0 for plain SGD).
    pub momentum: f32,
    /// L2 weight decay coefficient (added to the gradient).
    pub weight_decay: f32,
    /// Steps taken so far.
    pub step: u64,
    /// Momentum buffers, one vector per parameter.
    pub buf: Vec<Vec<f32>>,
    /// The momentum buffers on the parameters' GPU (authoritative while present).
    #[serde(skip)]
    device: Option<Vec<Tensor>>,
}

impl Sgd {
    /// SGD for parameters of the given sizes.
    pub fn new(param_sizes: &[usize], lr: f32, momentum: f32, weight_decay: f32) -> Sgd {
        Sgd {
            lr,
            momentum,
            weight_decay,
            step: 0,
            buf: param_sizes.iter().map(|&n| vec![0.0; n]).collect(),
            device: None,
        }
    }

    /// One update of every parameter tensor that has a gradient, on its device (one
    /// fused launch on a GPU); parameters without a gradient are skipped.
    pub fn step_tensors(
        &mut self,
        pool: &Pool,
        params: &mut [Tensor],
        grads: &[Option<Tensor>],
    ) -> Result<()> {
        let sizes: Vec<usize> = self.buf.iter().map(Vec::len).collect();
        check_tensors("Sgd", &sizes, params, grads)?;
        let Some(gpu) = pool.gpu().cloned() else {
            for ((p, b), g) in params.iter_mut().zip(&mut self.buf).zip(grads) {
                if let Some(g) = g {
                    sgd_host(
                        p.data_mut(),
                        b,
                        g.data(),
                        self.lr,
                        self.momentum,
                        self.weight_decay,
                    );
                }
            }
            self.step += 1;
            return Ok(());
        };
        if self.device.is_none() {
            self.device = Some(upload(pool, &self.buf)?);
        }
        let bufs = self.device.as_ref().expect("device buffers just made");
        let slots: Vec<ParamSlot> = params
            .iter()
            .zip(bufs)
            .zip(grads)
            .filter_map(|((p, b), g)| {
                g.as_ref().map(|g| ParamSlot {
                    p: p.ptr(),
                    g: g.ptr(),
                    m: b.ptr(),
                    v: 0,
                    n: p.numel() as u64,
                })
            })
            .collect();
        let k = SgdParams {
            tensors: 0,
            lr: self.lr,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
        };
        cu::sgd(&gpu, pool, k, &slots)?;
        self.step += 1;
        Ok(())
    }

    /// Copies device momentum buffers into `buf`.
    pub fn sync_to_host(&mut self) -> Result<()> {
        if let Some(d) = &self.device {
            download(d, &mut self.buf)?;
        }
        Ok(())
    }

    /// One update of every parameter from its gradient, in place.
    pub fn step(&mut self, params: &mut [&mut [f32]], grads: &[&[f32]]) -> Result<()> {
        check("Sgd", self.buf.iter().map(Vec::len), params, grads)?;
        for ((p, b), g) in params.iter_mut().zip(&mut self.buf).zip(grads) {
            sgd_host(p, b, g, self.lr, self.momentum, self.weight_decay);
        }
        self.step += 1;
        Ok(())
    }
}

#[cfg(test)]
#[path = "optim_tests.rs"]
mod tests;
