//! One training step of a network: bind parameters, forward, loss, backward, AdamW.
//! The loss is supplied by the caller (cross-entropy here; the DCC loss in `dcc`).
//! The step runs on the device of the trainer's pool; parameters live there.

use super::network::{Mode, Network, Outputs};
use super::optim::AdamW;
use crate::autograd::{Profile, Tape, Var};
use crate::tensor::{Device, Pool, Tensor};
use anyhow::{bail, Result};

/// A network with its optimiser and the buffer pool its steps reuse.
pub struct Trainer {
    /// The network being trained.
    pub net: Network,
    /// Its optimiser.
    pub opt: AdamW,
    /// Buffers reused across steps (on the training device).
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
    /// A trainer on the CPU with AdamW at learning rate `lr` (PyTorch defaults otherwise).
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

    /// A trainer on `device`: the parameters are moved there and every step runs there.
    pub fn on(net: Network, lr: f32, device: Device) -> Result<Trainer> {
        let mut t = Trainer::new(net, lr);
        t.pool = Pool::on(device)?;
        t.net.params.move_to(&t.pool)?;
        Ok(t)
    }

    /// The training device.
    pub fn device(&self) -> Device {
        self.pool.device()
    }

    /// Copies device-side optimiser state to the host (before a checkpoint).
    pub fn sync_to_host(&mut self) -> Result<()> {
        self.opt.sync_to_host()
    }

    /// One step on `images` (N×C×H×W): `loss` turns the network outputs into a scalar.
    /// Images already on the training device are used in place (one upload serves every
    /// member of an ensemble); host images are uploaded.
    pub fn step(
        &mut self,
        images: &Tensor,
        mode: &Mode,
        loss: impl FnOnce(&mut Tape, &Outputs) -> Result<Var>,
    ) -> Result<StepReport> {
        let uploaded = if images.device() == self.pool.device() {
            None
        } else {
            Some(images.to_pool(&self.pool)?)
        };
        let images = uploaded.as_ref().unwrap_or(images);
        let (grads, report) = {
            let mut tape = Tape::new(&self.pool);
            let bound = self.net.params.bind(&mut tape);
            let x = tape.frozen(images);
            if self.profile.is_some() {
                tape.enable_profile();
            }
            let out = self.net.forward(&mut tape, &bound, x, mode)?;
            let l = loss(&mut tape, &out)?;
            let value = tape.value(l).to_host()?.data()[0];
            if !value.is_finite() {
                bail!("step {}: the loss is {value}", self.steps);
            }
            let mut grads = tape.backward_releasing(l)?;
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
        let t = std::time::Instant::now();
        self.opt
            .step_tensors(&self.pool, self.net.params.tensors_mut(), &grads)?;
        if let Some(acc) = &mut self.profile {
            if self.pool.gpu().is_some() {
                // Kernels are asynchronous: charge the update its real time.
                self.pool.gpu().expect("checked").synchronize()?;
            }
            let e = acc.by_op.entry("adamw").or_default();
            e.0 += t.elapsed().as_secs_f64();
            e.2 += 1;
        }
        self.steps += 1;
        Ok(report)
    }
}
