//! Optimisers with PyTorch's update rules: AdamW (decoupled weight decay, bias-corrected
//! moments) and SGD with momentum. The state is plain vectors, serialisable for checkpoint
//! resume; each step is one fused primitive (`ops::optim`: a host pass or one GPU launch).

use crate::kparams::{AdamWParams, SgdParams};
use crate::ops::optim as op;
use crate::tensor::{Pool, Tensor};
use anyhow::{bail, Result};
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
        op::adamw(
            pool,
            params,
            grads,
            &mut self.m,
            &mut self.v,
            &mut self.device,
            k,
        )
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
        op::adamw_slices(params, grads, &mut self.m, &mut self.v, k);
        Ok(())
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
    /// The kernel parameters of the next step.
    fn params(&self) -> SgdParams {
        SgdParams {
            tensors: 0,
            lr: self.lr,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
        }
    }

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
        let k = self.params();
        op::sgd(pool, params, grads, &mut self.buf, &mut self.device, k)?;
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
        let k = self.params();
        op::sgd_slices(params, grads, &mut self.buf, k);
        self.step += 1;
        Ok(())
    }
}

#[cfg(test)]
#[path = "optim_tests.rs"]
mod tests;
