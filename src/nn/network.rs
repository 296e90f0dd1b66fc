//! A sequential encoder + classifier built from primitives: conv units (conv → ELU →
//! channel dropout), max-pools, Inception blocks, linear units (linear → SELU →
//! dropout), the latent marker and the ordered bottleneck. Gradients come from the
//! primitives; this file has no backward rules.

use super::params::{uniform_fan_in, Bound, ParamId, ParamStore};
use crate::autograd::{Tape, Var};
use crate::ops::activation::selu;
use crate::ops::conv2d::{conv2d, Conv2dParams};
use crate::ops::dropout::dropout;
use crate::ops::fused::{elu_channel_dropout, elu_dropout_pool, EluDropConcat};
use crate::ops::linear::linear;
use crate::ops::maxpool::max_pool2d;
use crate::ops::reshape::flatten;
use crate::ops::select::mask_columns;
use anyhow::{bail, Context, Result};
use rand_chacha::ChaCha8Rng;

/// conv → ELU → Dropout2d.
#[derive(Clone, Debug)]
pub struct ConvUnit {
    w: ParamId,
    b: ParamId,
    params: Conv2dParams,
    dropout: f32,
}

/// Four 'same' branches concatenated: [pool → 1×1; 1×1 → 5×5; 1×1 → 3×3; 1×1].
#[derive(Clone, Debug)]
pub struct InceptionBlock {
    pool_proj: ConvUnit,
    reduce5: ConvUnit,
    conv5: ConvUnit,
    reduce3: ConvUnit,
    conv3: ConvUnit,
    conv1: ConvUnit,
}

/// One step of the sequential network.
#[derive(Clone, Debug)]
pub enum Layer {
    /// A conv unit.
    Conv(ConvUnit),
    /// Max-pool (kernel, stride, padding).
    MaxPool(usize, usize, usize),
    /// An Inception block.
    Inception(Box<InceptionBlock>),
    /// N×C×H×W → N×(CHW).
    Flatten,
    /// linear → SELU → dropout.
    Linear {
        /// Weight O×I.
        w: ParamId,
        /// Bias O.
        b: ParamId,
        /// Dropout probability after the activation.
        dropout: f32,
    },
    /// The current activation is the latent z.
    Latent,
    /// Ordered bottleneck on the latent (training only).
    Bottleneck,
}

/// A callback that sees each layer's output during a forward pass.
pub type Probe<'a> = dyn FnMut(&Layer, Var, &Tape) -> Result<()> + 'a;

/// How one forward pass runs.
#[derive(Clone, Copy, Debug)]
pub struct Mode {
    /// Dropout and the bottleneck are active.
    pub training: bool,
    /// Seed of this step's dropout masks.
    pub seed: u64,
    /// Latent dimensions kept by the ordered bottleneck this step (None: all).
    pub keep_latent: Option<usize>,
}

impl Mode {
    /// Inference: no dropout, no bottleneck.
    pub fn eval() -> Mode {
        Mode {
            training: false,
            seed: 0,
            keep_latent: None,
        }
    }
}

/// What a forward pass yields.
#[derive(Clone, Copy, Debug)]
pub struct Outputs {
    /// The latent z (after the bottleneck when there is one), N×D.
    pub latent: Var,
    /// Class logits, N×n_sets.
    pub logits: Var,
}

/// A network: its layers and parameters.
#[derive(Clone)]
pub struct Network {
    /// Name of the architecture.
    pub name: String,
    /// Layers in order.
    pub layers: Vec<Layer>,
    /// Parameters.
    pub params: ParamStore,
    /// Input shape C×H×W.
    pub input: [usize; 3],
    /// Latent dimension.
    pub latent_dim: usize,
    /// Number of classes.
    pub n_classes: usize,
    /// Forward FLOPs per image (multiply-add = 2).
    pub flops_per_image: f64,
}

fn mix(seed: u64, tag: u64) -> u64 {
    crate::seed::derive(seed, 0, tag)
}

impl ConvUnit {
    fn forward(&self, tape: &mut Tape, p: &Bound, x: Var, mode: &Mode, tag: u64) -> Result<Var> {
        let c = self.conv(tape, p, x)?;
        let y = elu_channel_dropout(tape, c, self.dropout, mix(mode.seed, tag), mode.training)?;
        // The pre-activation is read by nothing in backward (conv saves its input, the
        // activation its output): freeing it now cuts the forward's peak memory.
        tape.release(c);
        Ok(y)
    }

    /// `forward` then the max-pool `pool` (kernel, stride, padding), as one fused op.
    fn forward_pooled(
        &self,
        tape: &mut Tape,
        p: &Bound,
        x: Var,
        mode: &Mode,
        tag: u64,
        pool: (usize, usize, usize),
    ) -> Result<Var> {
        let c = self.conv(tape, p, x)?;
        let y = elu_dropout_pool(
            tape,
            c,
            self.dropout,
            mix(mode.seed, tag),
            mode.training,
            pool,
        )?;
        tape.release(c);
        Ok(y)
    }

    fn conv(&self, tape: &mut Tape, p: &Bound, x: Var) -> Result<Var> {
        conv2d(tape, x, p.var(self.w), Some(p.var(self.b)), self.params)
    }

    /// Convolves `x` and writes the activation into the next slab of `out`.
    fn forward_into(
        &self,
        tape: &mut Tape,
        p: &Bound,
        x: Var,
        out: &mut EluDropConcat,
        mode: &Mode,
        tag: u64,
    ) -> Result<()> {
        let c = self.conv(tape, p, x)?;
        out.add(tape, c, self.dropout, mix(mode.seed, tag))?;
        tape.release(c);
        Ok(())
    }

    fn out_channels(&self, p: &Bound, tape: &Tape) -> usize {
        tape.shape(p.var(self.w)).dim(0)
    }
}

impl InceptionBlock {
    fn forward(&self, tape: &mut Tape, p: &Bound, x: Var, mode: &Mode, tag: u64) -> Result<Var> {
        let t = |i: u64| tag * 8 + i;
        // The four branches write ELU + channel dropout straight into the block's output
        // (no concatenation copy, one stored tensor for all four).
        let total = [&self.pool_proj, &self.conv5, &self.conv3, &self.conv1]
            .iter()
            .map(|u| u.out_channels(p, tape))
            .sum();
        let mut out = EluDropConcat::new(total, mode.training);
        let pooled = max_pool2d(tape, x, 3, 1, 1)?;
        self.pool_proj
            .forward_into(tape, p, pooled, &mut out, mode, t(0))?;
        tape.release(pooled);
        let r5 = self.reduce5.forward(tape, p, x, mode, t(1))?;
        self.conv5.forward_into(tape, p, r5, &mut out, mode, t(2))?;
        tape.release(r5);
        let r3 = self.reduce3.forward(tape, p, x, mode, t(3))?;
        self.conv3.forward_into(tape, p, r3, &mut out, mode, t(4))?;
        tape.release(r3);
        self.conv1.forward_into(tape, p, x, &mut out, mode, t(5))?;
        out.finish(tape)
    }
}

impl Network {
    /// This network with its parameters on `pool`'s device: itself when they are
    /// already there, else a copy whose parameters were uploaded (inference on a GPU).
    pub fn on_pool(&self, pool: &crate::tensor::Pool) -> Result<std::borrow::Cow<'_, Network>> {
        if self
            .params
            .tensors()
            .iter()
            .all(|t| t.device() == pool.device())
        {
            return Ok(std::borrow::Cow::Borrowed(self));
        }
        let mut copy = self.clone();
        copy.params.move_to(pool)?;
        Ok(std::borrow::Cow::Owned(copy))
    }

    /// Runs the network on `x` (N×C×H×W) with parameters bound on `tape`.
    /// A conv unit followed by a max-pool runs as one fused op here (nothing reads the
    /// unit's unpooled output).
    pub fn forward(&self, tape: &mut Tape, p: &Bound, x: Var, mode: &Mode) -> Result<Outputs> {
        self.run(tape, p, x, mode, None)
    }

    /// `forward`, calling `probe` with each layer and its output while that output is
    /// still on the tape (the trust test reads intermediate features this way).
    pub fn forward_probed(
        &self,
        tape: &mut Tape,
        p: &Bound,
        x: Var,
        mode: &Mode,
        probe: &mut Probe,
    ) -> Result<Outputs> {
        self.run(tape, p, x, mode, Some(probe))
    }

    fn run(
        &self,
        tape: &mut Tape,
        p: &Bound,
        x: Var,
        mode: &Mode,
        mut probe: Option<&mut Probe>,
    ) -> Result<Outputs> {
        let mut h = x;
        let mut latent = None;
        let mut skip = false;
        for (i, layer) in self.layers.iter().enumerate() {
            if std::mem::take(&mut skip) {
                continue;
            }
            let tag = i as u64 + 1;
            let input = h;
            let pool_next = match (layer, self.layers.get(i + 1)) {
                (Layer::Conv(_), Some(Layer::MaxPool(k, s, pad))) if probe.is_none() => {
                    Some((*k, *s, *pad))
                }
                _ => None,
            };
            h = match layer {
                Layer::Conv(u) => match pool_next {
                    Some(pool) => {
                        skip = true;
                        u.forward_pooled(tape, p, h, mode, tag, pool)
                    }
                    None => u.forward(tape, p, h, mode, tag),
                },
                Layer::MaxPool(k, s, pad) => max_pool2d(tape, h, *k, *s, *pad),
                Layer::Inception(b) => b.forward(tape, p, h, mode, tag),
                Layer::Flatten => flatten(tape, h),
                Layer::Linear { w, b, dropout: pd } => {
                    let y = linear(tape, h, p.var(*w), Some(p.var(*b)))?;
                    let y = selu(tape, y)?;
                    if *pd > 0.0 && mode.training {
                        dropout(tape, y, *pd, mix(mode.seed, tag), true)
                    } else {
                        Ok(y)
                    }
                }
                Layer::Latent => {
                    latent = Some(h);
                    Ok(h)
                }
                Layer::Bottleneck => match (mode.training, mode.keep_latent) {
                    (true, Some(k)) if k < self.latent_dim => {
                        let g = mask_columns(tape, h, k)?;
                        latent = Some(g);
                        Ok(g)
                    }
                    _ => Ok(h),
                },
            }
            .with_context(|| format!("{} layer {i} ({})", self.name, layer.kind()))?;
            if let Some(probe) = probe.as_mut() {
                probe(layer, h, tape)?;
            }
            // Each layer's input is read by no later layer: free it unless a backward
            // rule needs it, it is the latent (an output) or it is not the tape's own.
            if input != h && Some(input) != latent {
                tape.release(input);
            }
        }
        let Some(latent) = latent else {
            bail!("{}: no layer is marked as the latent", self.name);
        };
        Ok(Outputs { latent, logits: h })
    }
}

impl Layer {
    /// A short name for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Layer::Conv(_) => "conv",
            Layer::MaxPool(..) => "maxpool",
            Layer::Inception(_) => "inception",
            Layer::Flatten => "flatten",
            Layer::Linear { .. } => "linear",
            Layer::Latent => "latent",
            Layer::Bottleneck => "bottleneck",
        }
    }
}

/// Builds a network layer by layer, tracking the activation shape and the FLOPs.
pub struct NetworkBuilder {
    name: String,
    rng: ChaCha8Rng,
    params: ParamStore,
    layers: Vec<Layer>,
    input: [usize; 3],
    /// C×H×W while spatial, [D] after flatten.
    shape: Vec<usize>,
    latent_dim: Option<usize>,
    flops: f64,
}

impl NetworkBuilder {
    /// Starts a network for C×H×W inputs, initialised from `seed`.
    pub fn new(name: &str, input: [usize; 3], seed: u64) -> Self {
        NetworkBuilder {
            name: name.to_string(),
            rng: super::params::init_rng(seed),
            params: ParamStore::new(),
            layers: Vec::new(),
            input,
            shape: input.to_vec(),
            latent_dim: None,
            flops: 0.0,
        }
    }

    fn spatial(&self, what: &str) -> Result<[usize; 3]> {
        match self.shape[..] {
            [c, h, w] => Ok([c, h, w]),
            _ => bail!(
                "{}: {what} needs a C×H×W activation, found {:?}",
                self.name,
                self.shape
            ),
        }
    }

    fn conv_unit(
        &mut self,
        tag: &str,
        in_shape: [usize; 3],
        out: usize,
        k: usize,
        params: Conv2dParams,
        dropout: f32,
    ) -> Result<(ConvUnit, [usize; 3])> {
        let [c, h, w] = in_shape;
        let span = (k - 1) as isize;
        let ho = (h as isize + 2 * params.padding as isize - span - 1) / params.stride as isize + 1;
        let wo = (w as isize + 2 * params.padding as isize - span - 1) / params.stride as isize + 1;
        if k.is_multiple_of(2) || ho < 1 || wo < 1 {
            bail!(
                "{} {tag}: a {k}×{k} conv does not fit a {c}×{h}×{w} input",
                self.name
            );
        }
        let (ho, wo) = (ho as usize, wo as usize);
        let fan_in = c * k * k;
        let n = self.params.len();
        let wt = uniform_fan_in(&mut self.rng, &[out, c, k, k], fan_in);
        let bt = uniform_fan_in(&mut self.rng, &[out], fan_in);
        let w_id = self.params.add(format!("{tag}.{n}.weight"), wt);
        let b_id = self.params.add(format!("{tag}.{n}.bias"), bt);
        self.flops += 2.0 * (out * ho * wo * fan_in) as f64;
        Ok((
            ConvUnit {
                w: w_id,
                b: b_id,
                params,
                dropout,
            },
            [out, ho, wo],
        ))
    }

    /// conv k×k → ELU → Dropout2d(dropout).
    pub fn conv(
        mut self,
        out: usize,
        k: usize,
        params: Conv2dParams,
        dropout: f32,
    ) -> Result<Self> {
        let s = self.spatial("conv")?;
        let (u, shape) = self.conv_unit("conv", s, out, k, params, dropout)?;
        self.layers.push(Layer::Conv(u));
        self.shape = shape.to_vec();
        Ok(self)
    }

    /// Max-pool k×k with stride and padding.
    pub fn max_pool(mut self, k: usize, stride: usize, pad: usize) -> Result<Self> {
        let [c, h, w] = self.spatial("maxpool")?;
        if h + 2 * pad < k || w + 2 * pad < k {
            bail!("{}: a {k}×{k} pool does not fit {c}×{h}×{w}", self.name);
        }
        self.layers.push(Layer::MaxPool(k, stride, pad));
        self.shape = vec![
            c,
            (h + 2 * pad - k) / stride + 1,
            (w + 2 * pad - k) / stride + 1,
        ];
        Ok(self)
    }

    /// An Inception block with `out` channels (divisible by 16).
    pub fn inception(mut self, out: usize, dropout: f32) -> Result<Self> {
        let s = self.spatial("inception")?;
        if !out.is_multiple_of(16) {
            bail!(
                "{}: an Inception block needs channels divisible by 16, found {out}",
                self.name
            );
        }
        let same1 = Conv2dParams::same(1);
        let pooled = s; // 3×3 stride-1 'same' max-pool keeps the shape
        let (pool_proj, _) = self.conv_unit("inc.pool", pooled, out / 8, 1, same1, dropout)?;
        let (reduce5, r5) = self.conv_unit("inc.r5", s, out / 16, 1, same1, dropout)?;
        let (conv5, _) =
            self.conv_unit("inc.c5", r5, out / 8, 5, Conv2dParams::same(5), dropout)?;
        let (reduce3, r3) = self.conv_unit("inc.r3", s, 3 * out / 8, 1, same1, dropout)?;
        let (conv3, _) =
            self.conv_unit("inc.c3", r3, out / 2, 3, Conv2dParams::same(3), dropout)?;
        let (conv1, _) = self.conv_unit("inc.c1", s, out / 4, 1, same1, dropout)?;
        self.layers.push(Layer::Inception(Box::new(InceptionBlock {
            pool_proj,
            reduce5,
            conv5,
            reduce3,
            conv3,
            conv1,
        })));
        self.shape = vec![out, s[1], s[2]];
        Ok(self)
    }

    /// Flattens the spatial activation.
    pub fn flatten(mut self) -> Result<Self> {
        let s = self.spatial("flatten")?;
        self.layers.push(Layer::Flatten);
        self.shape = vec![s.iter().product()];
        Ok(self)
    }

    /// linear → SELU → Dropout(dropout).
    pub fn linear(mut self, out: usize, dropout: f32) -> Result<Self> {
        let [i] = self.shape[..] else {
            bail!(
                "{}: linear needs a flat activation, found {:?} (add flatten)",
                self.name,
                self.shape
            );
        };
        let n = self.params.len();
        let wt = uniform_fan_in(&mut self.rng, &[out, i], i);
        let bt = uniform_fan_in(&mut self.rng, &[out], i);
        let w = self.params.add(format!("linear.{n}.weight"), wt);
        let b = self.params.add(format!("linear.{n}.bias"), bt);
        self.flops += 2.0 * (out * i) as f64;
        self.layers.push(Layer::Linear { w, b, dropout });
        self.shape = vec![out];
        Ok(self)
    }

    /// Marks the current activation as the latent z.
    pub fn latent(mut self) -> Result<Self> {
        let [d] = self.shape[..] else {
            bail!(
                "{}: the latent must be a flat activation, found {:?}",
                self.name,
                self.shape
            );
        };
        self.latent_dim = Some(d);
        self.layers.push(Layer::Latent);
        Ok(self)
    }

    /// Adds the ordered bottleneck on the latent.
    pub fn bottleneck(mut self) -> Result<Self> {
        if self.latent_dim.is_none() || !matches!(self.layers.last(), Some(Layer::Latent)) {
            bail!(
                "{}: the ordered bottleneck must follow the latent marker",
                self.name
            );
        }
        self.layers.push(Layer::Bottleneck);
        Ok(self)
    }

    /// Finishes; the last layer's width is the number of classes.
    pub fn build(self) -> Result<Network> {
        let Some(latent_dim) = self.latent_dim else {
            bail!("{}: no layer is marked as the latent", self.name);
        };
        let [n_classes] = self.shape[..] else {
            bail!(
                "{}: the network must end flat (class logits), found {:?}",
                self.name,
                self.shape
            );
        };
        Ok(Network {
            name: self.name,
            layers: self.layers,
            params: self.params,
            input: self.input,
            latent_dim,
            n_classes,
            flops_per_image: self.flops,
        })
    }
}
