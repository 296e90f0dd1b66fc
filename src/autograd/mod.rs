//! The explicit autograd tape: every primitive records one node (its input ids and what
//! its backward needs); `backward` walks the nodes once in reverse. Knows primitives
//! only through the `Backward` trait; knows nothing of layers or models.

use crate::tensor::{Pool, Shape, Tensor};
use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::time::Instant;

/// A value recorded on a tape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Var(usize);

impl Var {
    /// Position on the tape.
    pub fn index(self) -> usize {
        self.0
    }
}

enum Slot<'p> {
    Owned(Tensor),
    Borrowed(&'p Tensor),
}

/// Which forward values a backward rule reads (beyond shapes, which the tape keeps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saves {
    /// None: the rule needs only the output gradient (add, dropout, concat, …).
    Nothing,
    /// Its output (activations, softmax).
    Output,
    /// Its inputs (conv, linear, mul, cross-entropy).
    Inputs,
    /// Inputs and output: the conservative default.
    All,
}

/// The backward rule of one recorded primitive.
pub trait Backward: Send {
    /// Reads `cx.grad_out()` and the saved inputs, and accumulates input gradients.
    fn backward(&self, cx: &mut BackwardCx) -> Result<()>;
    /// Primitive name, for error messages.
    fn name(&self) -> &'static str;
    /// The forward values `backward` reads; the others may be released early.
    fn saves(&self) -> Saves {
        Saves::All
    }
}

struct Node {
    out: Var,
    rule: Box<dyn Backward>,
    /// The values `rule` reads (from its `saves`).
    reads: Vec<usize>,
}

/// Records a computation. Parameters are borrowed for the tape's lifetime `'p`;
/// everything else the tape owns and releases to its pool when dropped.
pub struct Tape<'p> {
    values: Vec<Slot<'p>>,
    shapes: Vec<Shape>,
    /// A recorded backward rule reads this value: it must live until backward.
    saved: Vec<bool>,
    released: Vec<bool>,
    needs_grad: Vec<bool>,
    nodes: Vec<Node>,
    pool: Pool,
    recording: bool,
    release_in_backward: bool,
    profile: Option<(Instant, Profile)>,
}

/// Seconds spent per primitive, forward and backward, with call counts.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    /// name → (forward seconds, backward seconds, calls).
    pub by_op: BTreeMap<&'static str, (f64, f64, u64)>,
}

impl Profile {
    /// Adds another profile's figures to this one.
    pub fn merge(&mut self, other: &Profile) {
        for (k, (f, b, n)) in &other.by_op {
            let e = self.by_op.entry(k).or_default();
            e.0 += f;
            e.1 += b;
            e.2 += n;
        }
    }
}

impl<'p> Tape<'p> {
    /// A tape that records backward nodes, allocating from `pool`.
    pub fn new(pool: &Pool) -> Self {
        Tape {
            values: Vec::new(),
            shapes: Vec::new(),
            saved: Vec::new(),
            released: Vec::new(),
            needs_grad: Vec::new(),
            nodes: Vec::new(),
            pool: pool.clone(),
            recording: true,
            release_in_backward: false,
            profile: None,
        }
    }

    /// Starts timing primitives: the forward time of a primitive is the time since the
    /// previous value was recorded (so start right before the first primitive).
    pub fn enable_profile(&mut self) {
        self.profile = Some((Instant::now(), Profile::default()));
    }

    /// Charges the time since the last recorded value to `name` as forward time without
    /// recording anything (an op built in several steps between other primitives).
    pub fn charge(&mut self, name: &'static str) {
        if let Some((last, prof)) = &mut self.profile {
            let now = Instant::now();
            prof.by_op.entry(name).or_default().0 += (now - *last).as_secs_f64();
            *last = now;
        }
    }

    /// The timings so far (forward; backward after `backward` ran).
    pub fn profile(&self) -> Option<&Profile> {
        self.profile.as_ref().map(|p| &p.1)
    }

    /// A tape for inference: values are kept, no backward node is ever recorded.
    pub fn inference(pool: &Pool) -> Self {
        Tape {
            recording: false,
            ..Tape::new(pool)
        }
    }

    /// Whether backward nodes are recorded.
    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// The pool new values are allocated from.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A constant input (data, labels as floats): no gradient is computed for it.
    pub fn constant(&mut self, t: Tensor) -> Var {
        self.record(Slot::Owned(t), false)
    }

    fn record(&mut self, slot: Slot<'p>, needs_grad: bool) -> Var {
        self.shapes.push(match &slot {
            Slot::Owned(t) => t.shape(),
            Slot::Borrowed(t) => t.shape(),
        });
        self.values.push(slot);
        self.saved.push(false);
        self.released.push(false);
        self.needs_grad.push(needs_grad);
        Var(self.values.len() - 1)
    }

    /// Frees the storage of `v` now if no recorded backward rule reads it and it is the
    /// tape's own (a forward value no later op will read: the caller knows the dataflow).
    /// Its shape stays known. Returns whether it was freed.
    pub fn release(&mut self, v: Var) -> bool {
        let i = v.0;
        if self.saved[i] || self.released[i] || !matches!(self.values[i], Slot::Owned(_)) {
            return false;
        }
        self.values[i] = Slot::Owned(Tensor::zeros([0]));
        self.released[i] = true;
        true
    }

    /// An owned input whose gradient is wanted.
    pub fn input(&mut self, t: Tensor) -> Var {
        let r = self.recording;
        self.record(Slot::Owned(t), r)
    }

    /// A borrowed input whose gradient is wanted (benchmarks: no copy per run).
    pub fn frozen_input(&mut self, t: &'p Tensor) -> Var {
        let r = self.recording;
        self.record(Slot::Borrowed(t), r)
    }

    /// A borrowed parameter whose gradient is wanted.
    pub fn param(&mut self, t: &'p Tensor) -> Var {
        let r = self.recording;
        self.record(Slot::Borrowed(t), r)
    }

    /// A borrowed value whose gradient is not wanted (frozen parameters).
    pub fn frozen(&mut self, t: &'p Tensor) -> Var {
        self.record(Slot::Borrowed(t), false)
    }

    /// The value of `v`.
    pub fn value(&self, v: Var) -> &Tensor {
        assert!(
            !self.released[v.0],
            "value {} was released: a backward rule reads a value its saves() did not declare",
            v.0
        );
        match &self.values[v.0] {
            Slot::Owned(t) => t,
            Slot::Borrowed(t) => t,
        }
    }

    /// The shape of `v`.
    pub fn shape(&self, v: Var) -> Shape {
        self.shapes[v.0]
    }

    /// Whether a gradient flows to `v`.
    pub fn needs_grad(&self, v: Var) -> bool {
        self.needs_grad[v.0]
    }

    /// Records the output of a primitive. The node is kept only when recording and some
    /// input needs a gradient; otherwise the rule is dropped at once.
    pub fn push(&mut self, out: Tensor, inputs: &[Var], rule: impl Backward + 'static) -> Var {
        if let Some((last, prof)) = &mut self.profile {
            let now = Instant::now();
            let e = prof.by_op.entry(rule.name()).or_default();
            e.0 += (now - *last).as_secs_f64();
            e.2 += 1;
            *last = now;
        }
        let needs = self.recording && inputs.iter().any(|v| self.needs_grad[v.0]);
        let v = self.record(Slot::Owned(out), needs);
        if needs {
            let saves = rule.saves();
            let mut reads = Vec::new();
            if matches!(saves, Saves::Inputs | Saves::All) {
                reads.extend(inputs.iter().map(|i| i.0));
            }
            if matches!(saves, Saves::Output | Saves::All) {
                reads.push(v.0);
            }
            for &i in &reads {
                self.saved[i] = true;
            }
            self.nodes.push(Node {
                out: v,
                rule: Box::new(rule),
                reads,
            });
        }
        v
    }

    /// Takes an owned value out of the tape (e.g. a loss to log); the slot keeps a copy
    /// of its shape only and must not be read again.
    pub fn take(&mut self, v: Var) -> Tensor {
        match std::mem::replace(&mut self.values[v.0], Slot::Owned(Tensor::zeros([0]))) {
            Slot::Owned(t) => t,
            Slot::Borrowed(t) => t.copy_in(&self.pool),
        }
    }

    /// Number of recorded backward nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Gradients of the scalar `loss` (seeded with 1) with respect to every value.
    pub fn backward(&mut self, loss: Var) -> Result<Grads> {
        let shape = self.shape(loss);
        if shape.numel() != 1 {
            bail!("backward: the loss must have one element, found shape {shape}");
        }
        let seed = Tensor::full(shape, 1.0).to_pool(&self.pool)?;
        self.backward_with(loss, seed)
    }

    /// `backward`, returning each forward value's storage to the pool as soon as no
    /// remaining backward rule reads it, so the gradients reuse it (a training step's
    /// peak memory). The tape's values must not be read afterwards.
    pub fn backward_releasing(&mut self, loss: Var) -> Result<Grads> {
        self.release_in_backward = true;
        let r = self.backward(loss);
        self.release_in_backward = false;
        r
    }

    /// Frees value `i` if it is the tape's own (backward no longer needs it).
    fn free(&mut self, i: usize) {
        if !self.released[i] && matches!(self.values[i], Slot::Owned(_)) {
            self.values[i] = Slot::Owned(Tensor::zeros([0]));
            self.released[i] = true;
        }
    }

    /// Gradients of Σ seed ⊙ out with respect to every value.
    pub fn backward_with(&mut self, out: Var, seed: Tensor) -> Result<Grads> {
        if seed.shape() != self.shape(out) {
            bail!(
                "backward: seed gradient has shape {}, output has {}",
                seed.shape(),
                self.shape(out)
            );
        }
        let mut grads = Grads {
            slots: (0..self.values.len()).map(|_| None).collect(),
        };
        grads.slots[out.0] = Some(seed);
        let mut timings: Vec<(&'static str, f64)> = Vec::new();
        // last[v]: the earliest node that reads v — backward's last use of it.
        let mut last = vec![usize::MAX; self.values.len()];
        if self.release_in_backward {
            for (j, node) in self.nodes.iter().enumerate().rev() {
                for &v in &node.reads {
                    last[v] = j;
                }
            }
            for v in 0..self.values.len() {
                if !self.saved[v] {
                    self.free(v);
                }
            }
        }
        for j in (0..self.nodes.len()).rev() {
            let node = &self.nodes[j];
            let gy = if node.out.0 <= out.0 {
                grads.slots[node.out.0].take()
            } else {
                None
            };
            if let Some(gy) = gy {
                let mut cx = BackwardCx {
                    tape: self,
                    grads: &mut grads,
                    gy,
                    out: node.out,
                };
                let t = self.profile.is_some().then(Instant::now);
                node.rule
                    .backward(&mut cx)
                    .map_err(|e| e.context(format!("backward of {}", node.rule.name())))?;
                if let Some(t) = t {
                    timings.push((node.rule.name(), t.elapsed().as_secs_f64()));
                }
            }
            if self.release_in_backward {
                for k in 0..self.nodes[j].reads.len() {
                    let v = self.nodes[j].reads[k];
                    if last[v] == j {
                        self.free(v);
                    }
                }
            }
        }
        if let Some((_, prof)) = &mut self.profile {
            for (name, secs) in timings {
                prof.by_op.entry(name).or_default().1 += secs;
            }
        }
        Ok(grads)
    }
}

/// What a backward rule sees: the forward values, the output gradient and the store.
pub struct BackwardCx<'a, 'p> {
    tape: &'a Tape<'p>,
    grads: &'a mut Grads,
    gy: Tensor,
    out: Var,
}

impl BackwardCx<'_, '_> {
    /// Gradient of the loss with respect to this node's output.
    pub fn grad_out(&self) -> &Tensor {
        &self.gy
    }

    /// Takes the output gradient (to reuse its buffer in place).
    pub fn take_grad_out(&mut self) -> Tensor {
        std::mem::replace(&mut self.gy, Tensor::zeros([0]))
    }

    /// The forward value of `v`.
    pub fn value(&self, v: Var) -> &Tensor {
        self.tape.value(v)
    }

    /// The shape of `v` (known even when its storage was released).
    pub fn shape(&self, v: Var) -> Shape {
        self.tape.shape(v)
    }

    /// This node's forward output.
    pub fn output(&self) -> &Tensor {
        self.tape.value(self.out)
    }

    /// Whether `v` wants a gradient (skip the work when it does not).
    pub fn needs_grad(&self, v: Var) -> bool {
        self.tape.needs_grad(v)
    }

    /// The pool to allocate gradient buffers from.
    pub fn pool(&self) -> &Pool {
        self.tape.pool()
    }

    /// Adds `g` to the gradient of `v` (a value used twice gets both contributions).
    pub fn accumulate(&mut self, v: Var, g: Tensor) -> Result<()> {
        if !self.tape.needs_grad(v) {
            return Ok(());
        }
        let want = self.tape.shape(v);
        if g.shape() != want {
            bail!(
                "gradient of shape {} for a value of shape {want}",
                g.shape()
            );
        }
        self.grads.accumulate(v, g)
    }
}

/// Gradients by tape position.
pub struct Grads {
    slots: Vec<Option<Tensor>>,
}

impl Grads {
    /// The gradient of `v`, if any flowed to it.
    pub fn get(&self, v: Var) -> Option<&Tensor> {
        self.slots.get(v.0).and_then(|s| s.as_ref())
    }

    /// Takes the gradient of `v` out of the store.
    pub fn take(&mut self, v: Var) -> Option<Tensor> {
        self.slots.get_mut(v.0).and_then(|s| s.take())
    }

    fn accumulate(&mut self, v: Var, g: Tensor) -> Result<()> {
        match &mut self.slots[v.0] {
            Some(acc) => match acc.gpu().cloned() {
                None => {
                    for (a, b) in acc.data_mut().iter_mut().zip(g.data()) {
                        *a += *b;
                    }
                }
                Some(gpu) => {
                    if g.device() != acc.device() {
                        bail!(
                            "gradient on {} added to one on {}",
                            g.device(),
                            acc.device()
                        );
                    }
                    let kp = crate::kparams::BinaryOp::Add;
                    crate::cuda::ops::binary(
                        &gpu,
                        kp,
                        0.0,
                        acc.ptr(),
                        g.ptr(),
                        acc.ptr(),
                        acc.numel(),
                    )?;
                }
            },
            slot @ None => *slot = Some(g),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
