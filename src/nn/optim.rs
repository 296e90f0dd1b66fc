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
            let keep: Vec<usize> = (0..params.len()).filter(|&i| grads[i].is_some()).collect();
            let mut ps: Vec<&mut [f32]> = params
                .iter_mut()
                .enumerate()
                .filter(|(i, _)| keep.contains(i))
                .map(|(_, t)| t.data_mut())
                .collect();
            let gs: Vec<&[f32]> = grads.iter().flatten().map(|g| g.data()).collect();
            let mut full = std::mem::take(&mut self.buf);
            let mut sub: Vec<Vec<f32>> =
                keep.iter().map(|&i| std::mem::take(&mut full[i])).collect();
            std::mem::swap(&mut self.buf, &mut sub);
            let r = self.step(&mut ps, &gs);
            for (j, &i) in keep.iter().enumerate() {
                full[i] = std::mem::take(&mut self.buf[j]);
            }
            self.buf = full;
            return r;
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
        let (lr, mu, wd) = (self.lr, self.momentum, self.weight_decay);
        // On the first step PyTorch initialises the buffer to d: μ·0 + d gives the same.
        for ((p, b), g) in params.iter_mut().zip(&mut self.buf).zip(grads) {
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
        self.step += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::seed_values;

    /// Naive f64 transcription of torch.optim.AdamW's single-tensor update.
    fn adamw_reference(
        p: &mut [f64],
        m: &mut [f64],
        v: &mut [f64],
        g: &[f64],
        t: i32,
        lr: f64,
        wd: f64,
    ) {
        let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
        for i in 0..p.len() {
            p[i] *= 1.0 - lr * wd;
            m[i] = m[i] + (g[i] - m[i]) * (1.0 - b1);
            v[i] = v[i] * b2 + (1.0 - b2) * g[i] * g[i];
            let step_size = lr / (1.0 - b1.powi(t));
            let denom = v[i].sqrt() / (1.0 - b2.powi(t)).sqrt() + eps;
            p[i] -= step_size * m[i] / denom;
        }
    }

    /// Naive f64 transcription of torch.optim.SGD (dampening 0, no Nesterov).
    fn sgd_reference(
        p: &mut [f64],
        buf: &mut [f64],
        g: &[f64],
        first: bool,
        lr: f64,
        mu: f64,
        wd: f64,
    ) {
        for i in 0..p.len() {
            let d = g[i] + wd * p[i];
            let d = if mu == 0.0 {
                d
            } else {
                buf[i] = if first { d } else { mu * buf[i] + d };
                buf[i]
            };
            p[i] -= lr * d;
        }
    }

    fn close(got: &[f32], want: &[f64], tol: f64) {
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g as f64 - w).abs() <= tol * (1.0 + w.abs()),
                "[{i}] {g} vs {w}"
            );
        }
    }

    /// Parameters of a small and a large (multi-chunk, parallel) tensor.
    fn setup() -> (Vec<usize>, Vec<Vec<f32>>) {
        let sizes = vec![37, 3 * CHUNK + 5];
        let params = sizes.iter().map(|&n| seed_values(n, n as u64)).collect();
        (sizes, params)
    }

    fn f64s(v: &[f32]) -> Vec<f64> {
        v.iter().map(|&v| v as f64).collect()
    }

    #[test]
    fn adamw_matches_pytorch_update_over_several_steps() {
        let (sizes, mut params) = setup();
        let mut opt = AdamW::new(&sizes, 1e-2, 0.05);
        let mut want: Vec<Vec<f64>> = params.iter().map(|p| f64s(p)).collect();
        let mut m: Vec<Vec<f64>> = sizes.iter().map(|&n| vec![0.0; n]).collect();
        let mut v = m.clone();
        for t in 1..=6 {
            // Gradients of mixed scale, including exact zeros, change every step.
            let grads: Vec<Vec<f32>> = sizes
                .iter()
                .map(|&n| {
                    seed_values(n, 100 + t as u64)
                        .iter()
                        .map(|g| if *g > 0.8 { 0.0 } else { g * 3.0 })
                        .collect()
                })
                .collect();
            let mut ps: Vec<&mut [f32]> = params.iter_mut().map(|p| p.as_mut_slice()).collect();
            let gs: Vec<&[f32]> = grads.iter().map(|g| g.as_slice()).collect();
            opt.step(&mut ps, &gs).unwrap();
            for i in 0..sizes.len() {
                adamw_reference(
                    &mut want[i],
                    &mut m[i],
                    &mut v[i],
                    &f64s(&grads[i]),
                    t,
                    1e-2,
                    0.05,
                );
            }
        }
        assert_eq!(opt.step, 6);
        for (p, w) in params.iter().zip(&want) {
            close(p, w, 2e-6);
        }
    }

    #[test]
    fn sgd_matches_pytorch_update_with_and_without_momentum() {
        for (mu, wd) in [(0.0, 0.0), (0.9, 0.0), (0.9, 1e-2), (0.5, 0.1)] {
            let (sizes, mut params) = setup();
            let mut opt = Sgd::new(&sizes, 0.05, mu as f32, wd as f32);
            let mut want: Vec<Vec<f64>> = params.iter().map(|p| f64s(p)).collect();
            let mut buf: Vec<Vec<f64>> = sizes.iter().map(|&n| vec![0.0; n]).collect();
            for t in 0..5 {
                let grads: Vec<Vec<f32>> = sizes.iter().map(|&n| seed_values(n, 7 + t)).collect();
                let mut ps: Vec<&mut [f32]> = params.iter_mut().map(|p| p.as_mut_slice()).collect();
                let gs: Vec<&[f32]> = grads.iter().map(|g| g.as_slice()).collect();
                opt.step(&mut ps, &gs).unwrap();
                for i in 0..sizes.len() {
                    sgd_reference(
                        &mut want[i],
                        &mut buf[i],
                        &f64s(&grads[i]),
                        t == 0,
                        0.05,
                        mu,
                        wd,
                    );
                }
            }
            for (p, w) in params.iter().zip(&want) {
                close(p, w, 2e-6);
            }
        }
    }

    #[test]
    fn optimisers_reject_mismatched_parameters_without_changing_them() {
        let mut opt = AdamW::new(&[3, 4], 1e-3, 0.01);
        let mut a = [1.0f32; 3];
        let mut b = [1.0f32; 5];
        let g = [0.5f32; 5];
        let e = opt
            .step(&mut [&mut a, &mut b], &[&g[..3], &g])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("parameter 1") && e.contains('4') && e.contains('5'),
            "{e}"
        );
        assert_eq!(opt.step, 0);
        assert_eq!(a, [1.0; 3]);
        let mut sgd = Sgd::new(&[3], 0.1, 0.9, 0.0);
        assert!(sgd
            .step(&mut [&mut a], &[])
            .unwrap_err()
            .to_string()
            .contains("0 gradients"));
    }

    #[test]
    fn adamw_state_survives_a_json_round_trip() {
        let mut opt = AdamW::new(&[2], 1e-3, 0.01);
        let mut p = [1.0f32, -1.0];
        opt.step(&mut [&mut p], &[&[0.5, 0.25]]).unwrap();
        let back: AdamW = serde_json::from_str(&serde_json::to_string(&opt).unwrap()).unwrap();
        assert_eq!((back.step, &back.m, &back.v), (1, &opt.m, &opt.v));
    }

    #[test]
    fn adamw_trains_a_small_mlp_built_from_the_primitives() {
        use crate::autograd::Tape;
        use crate::ops::{
            activation::selu, dropout::dropout, linear::linear, softmax::cross_entropy,
        };
        use crate::tensor::{Pool, Tensor};
        // Four well-separated 2-D blobs, one per class.
        let n = 64;
        let centres = [(2.0, 2.0), (-2.0, 2.0), (-2.0, -2.0), (2.0, -2.0)];
        let noise = seed_values(2 * n, 77);
        let mut xs = Vec::with_capacity(2 * n);
        let labels: Vec<Option<usize>> = (0..n).map(|i| Some(i % 4)).collect();
        for i in 0..n {
            let (cx, cy) = centres[i % 4];
            xs.extend([cx + noise[2 * i], cy + noise[2 * i + 1]]);
        }
        let x = Tensor::from_vec([n, 2], xs).unwrap();
        let shapes: [&[usize]; 4] = [&[16, 2], &[16], &[4, 16], &[4]];
        let mut params: Vec<Tensor> = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let fan_in = if s.len() == 2 { s[1] } else { 16 };
                let v = seed_values(s.iter().product(), 3 + i as u64);
                Tensor::from_vec(*s, v.iter().map(|v| v / (fan_in as f32).sqrt()).collect())
                    .unwrap()
            })
            .collect();
        let sizes: Vec<usize> = params.iter().map(|p| p.numel()).collect();
        let mut opt = AdamW::new(&sizes, 0.05, 0.01);
        let pool = Pool::new();
        let mut losses = Vec::new();
        for step in 0..60 {
            let (loss, grads) = {
                let mut tape = Tape::new(&pool);
                let xv = tape.constant(x.clone());
                let p: Vec<_> = params.iter().map(|t| tape.param(t)).collect();
                let h = linear(&mut tape, xv, p[0], Some(p[1])).unwrap();
                let h = selu(&mut tape, h).unwrap();
                let h = dropout(&mut tape, h, 0.1, step, true).unwrap();
                let logits = linear(&mut tape, h, p[2], Some(p[3])).unwrap();
                let loss = cross_entropy(&mut tape, logits, &labels).unwrap();
                let mut g = tape.backward(loss).unwrap();
                let grads: Vec<Vec<f32>> =
                    p.iter().map(|&v| g.take(v).unwrap().into_vec()).collect();
                (tape.value(loss).data()[0], grads)
            };
            losses.push(loss);
            let mut ps: Vec<&mut [f32]> = params.iter_mut().map(|t| t.data_mut()).collect();
            let gs: Vec<&[f32]> = grads.iter().map(|g| g.as_slice()).collect();
            opt.step(&mut ps, &gs).unwrap();
        }
        assert!(losses[0] > 1.0, "{losses:?}");
        assert!(*losses.last().unwrap() < 0.1, "{losses:?}");
    }
}
