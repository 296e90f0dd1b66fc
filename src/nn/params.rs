//! The parameter store: named tensors that outlive every step, their initialisation,
//! and their binding onto a step's tape.

use crate::autograd::{Tape, Var};
use crate::tensor::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Index of a parameter in its store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamId(usize);

/// Named parameter tensors, in creation order.
#[derive(Clone, Default)]
pub struct ParamStore {
    names: Vec<String>,
    tensors: Vec<Tensor>,
}

impl ParamStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a parameter.
    pub fn add(&mut self, name: impl Into<String>, t: Tensor) -> ParamId {
        self.names.push(name.into());
        self.tensors.push(t);
        ParamId(self.tensors.len() - 1)
    }

    /// The tensor of `id`.
    pub fn get(&self, id: ParamId) -> &Tensor {
        &self.tensors[id.0]
    }

    /// Names in creation order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Tensors in creation order.
    pub fn tensors(&self) -> &[Tensor] {
        &self.tensors
    }

    /// Tensors, mutable (for optimisers and loading weights).
    pub fn tensors_mut(&mut self) -> &mut [Tensor] {
        &mut self.tensors
    }

    /// Number of parameter tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Moves every parameter onto `pool`'s device (an upload for a GPU pool).
    pub fn move_to(&mut self, pool: &crate::tensor::Pool) -> anyhow::Result<()> {
        for t in &mut self.tensors {
            if t.device() != pool.device() {
                *t = t.to_pool(pool)?;
            }
        }
        Ok(())
    }

    /// Total number of scalars.
    pub fn numel(&self) -> usize {
        self.tensors.iter().map(|t| t.numel()).sum()
    }

    /// Records every parameter on `tape` as frozen: no gradient flows to them (saliency).
    pub fn bind_frozen<'p>(&'p self, tape: &mut Tape<'p>) -> Bound {
        Bound(self.tensors.iter().map(|t| tape.frozen(t)).collect())
    }

    /// Records every parameter on `tape`; the result maps ids to tape variables.
    pub fn bind<'p>(&'p self, tape: &mut Tape<'p>) -> Bound {
        Bound(self.tensors.iter().map(|t| tape.param(t)).collect())
    }
}

/// The tape variables of a store's parameters for one step.
pub struct Bound(Vec<Var>);

impl Bound {
    /// The variable of `id`.
    pub fn var(&self, id: ParamId) -> Var {
        self.0[id.0]
    }

    /// Variables in store order.
    pub fn vars(&self) -> &[Var] {
        &self.0
    }
}

/// PyTorch's default init for conv and linear layers (kaiming-uniform with a = √5, which
/// is U(±1/√fan_in) for weights and biases alike), from a seeded generator.
pub fn uniform_fan_in(rng: &mut ChaCha8Rng, shape: &[usize], fan_in: usize) -> Tensor {
    let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
    let n: usize = shape.iter().product();
    let data = (0..n).map(|_| rng.gen_range(-bound..bound)).collect();
    Tensor::from_vec(shape, data).expect("length matches shape by construction")
}

/// The generator used to initialise a network from `seed`.
pub fn init_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}
