//! One training step of a network: bind parameters, forward, loss, backward, AdamW.
//! The loss is supplied by the caller (cross-entropy here; the DCC loss in `dcc`).

use super::network::{Mode, Network, Outputs};
use super::optim::AdamW;
use crate::autograd::{Profile, Tape, Var};
use crate::tensor::{Pool, Tensor};
use anyhow::{bail, Result};

/// A network with its optimiser and the buffer pool its steps reuse.
pub struct Trainer {
    /// The network being trained.
    pub net: Network,
    /// Its optimiser.
    pub opt: AdamW,
    /// Buffers reused across steps.
    pub pool: Pool,
    /// Steps taken.
    pub steps: u64,
    /// Per-primitive timings accumulated over steps, when enabled.
    pub profile: Option<Profile>,
}

/// What one step reports.
#[derive(Clone, Copy, Debug)]
pub struct StepReport {
    /// The loss value.
    pub loss: f32,
    /// Number of nodes the tape recorded.
    pub nodes: usize,
}

impl Trainer {
    /// A trainer with AdamW at learning rate `lr` (PyTorch defaults otherwise).
    pub fn new(net: Network, lr: f32) -> Trainer {
        let sizes: Vec<usize> = net.params.tensors().iter().map(|t| t.numel()).collect();
        Trainer {
            opt: AdamW::new(&sizes, lr, 0.01),
            net,
            pool: Pool::new(),
            steps: 0,
            profile: None,
        }
    }

    /// One step on `images` (N×C×H×W): `loss` turns the network outputs into a scalar.
    pub fn step(
        &mut self,
        images: Tensor,
        mode: &Mode,
        loss: impl FnOnce(&mut Tape, &Outputs) -> Result<Var>,
    ) -> Result<StepReport> {
        let (grads, report) = {
            let mut tape = Tape::new(&self.pool);
            let bound = self.net.params.bind(&mut tape);
            let x = tape.constant(images);
            if self.profile.is_some() {
                tape.enable_profile();
            }
            let out = self.net.forward(&mut tape, &bound, x, mode)?;
            let l = loss(&mut tape, &out)?;
            let value = tape.value(l).data()[0];
            if !value.is_finite() {
                bail!("step {}: the loss is {value}", self.steps);
            }
            let mut grads = tape.backward(l)?;
            let g: Vec<Option<Tensor>> = bound.vars().iter().map(|v| grads.take(*v)).collect();
            if let (Some(acc), Some(p)) = (&mut self.profile, tape.profile()) {
                acc.merge(p);
            }
            let report = StepReport {
                loss: value,
                nodes: tape.node_count(),
            };
            (g, report)
        };
        let zeros: Vec<Vec<f32>> = grads
            .iter()
            .zip(self.net.params.tensors())
            .filter(|(g, _)| g.is_none())
            .map(|(_, p)| vec![0.0; p.numel()])
            .collect();
        let mut zi = zeros.iter();
        let grad_slices: Vec<&[f32]> = grads
            .iter()
            .map(|g| match g {
                Some(t) => t.data(),
                None => zi.next().expect("one zero buffer per missing gradient"),
            })
            .collect();
        let mut params: Vec<&mut [f32]> = self
            .net
            .params
            .tensors_mut()
            .iter_mut()
            .map(|t| t.data_mut())
            .collect();
        let t = std::time::Instant::now();
        self.opt.step(&mut params, &grad_slices)?;
        if let Some(acc) = &mut self.profile {
            let e = acc.by_op.entry("adamw").or_default();
            e.0 += t.elapsed().as_secs_f64();
            e.2 += 1;
        }
        self.steps += 1;
        Ok(report)
    }
}
