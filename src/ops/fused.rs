//! Fused chains of primitives for the CPU training step: each is one pass where the
//! unfused chain makes several DRAM-bound passes, with the same operations in the same
//! order, so results are bit-identical to the chain it replaces (tested). On a GPU the
//! chain runs unfused (its kernels are launched one after another).

use super::activation::elu;
use super::dropout::{channel_dropout, check_p};
use crate::autograd::{Backward, BackwardCx, Saves, Tape, Var};
use crate::cpu::activation::{elu_blocks_backward, elu_blocks_forward};
use crate::cpu::dropout::Mask;
use crate::tensor::Tensor;
use anyhow::{bail, Result};

struct EluDropBack {
    x: Var,
    /// ELU's output before the mask (what ELU's backward reads).
    e: Tensor,
    mask: Mask,
    inner: usize,
}

impl Backward for EluDropBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        let mut dx = Tensor::uninit_in(cx.pool(), self.e.shape());
        elu_blocks_backward(
            &self.mask,
            self.inner,
            cx.grad_out().data(),
            self.e.data(),
            dx.data_mut(),
        );
        cx.accumulate(self.x, dx)
    }
    fn name(&self) -> &'static str {
        "elu+channel_dropout"
    }
    fn saves(&self) -> Saves {
        Saves::Nothing
    }
}

/// channel_dropout(elu(x)) in one pass over x (forward) and one over the gradient
/// (backward) on the host; the two primitives in turn on a GPU.
pub fn elu_channel_dropout(
    tape: &mut Tape,
    x: Var,
    p: f32,
    seed: u64,
    training: bool,
) -> Result<Var> {
    check_p("channel_dropout", p)?;
    if !training || p == 0.0 || super::gpu_of(tape, "elu+channel_dropout", &[x])?.is_some() {
        let e = elu(tape, x)?;
        return channel_dropout(tape, e, p, seed, training);
    }
    let shape = tape.shape(x);
    if shape.rank() < 2 {
        bail!("channel_dropout: expected an N×C×… tensor of rank ≥ 2, found shape {shape}");
    }
    let inner: usize = shape.dims()[2..].iter().product();
    let mask = Mask::new(seed, p);
    let mut e = Tensor::uninit_in(tape.pool(), shape);
    let mut y = Tensor::uninit_in(tape.pool(), shape);
    elu_blocks_forward(
        &mask,
        inner,
        tape.value(x).data(),
        e.data_mut(),
        y.data_mut(),
    );
    Ok(tape.push(y, &[x], EluDropBack { x, e, mask, inner }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Pool;
    use crate::testing::{check_gradients, seed_values, GradCheck, Tol};
    use proptest::prelude::*;

    fn run(x: &Tensor, p: f32, seed: u64, fused: bool) -> (Vec<u32>, Vec<u32>) {
        let pool = Pool::new();
        let mut tape = Tape::new(&pool);
        let v = tape.input(x.clone());
        let y = if fused {
            elu_channel_dropout(&mut tape, v, p, seed, true).unwrap()
        } else {
            let e = elu(&mut tape, v).unwrap();
            channel_dropout(&mut tape, e, p, seed, true).unwrap()
        };
        let g = Tensor::from_vec(tape.shape(y), seed_values(x.numel(), 77)).unwrap();
        let grads = tape.backward_with(y, g).unwrap();
        let bits = |t: &Tensor| t.data().iter().map(|v| v.to_bits()).collect();
        (bits(tape.value(y)), bits(grads.get(v).unwrap()))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Bit for bit the unfused chain, forward and backward, across the task split.
        #[test]
        fn fused_elu_channel_dropout_is_the_chain_bit_for_bit(
            n in 1usize..4, c in 1usize..9, hw in 1usize..3000, p in 0.0f32..0.95, seed in any::<u64>(),
        ) {
            let x = Tensor::from_vec([n, c, hw], seed_values(n * c * hw, seed).iter().map(|v| v * 4.0).collect()).unwrap();
            prop_assert_eq!(run(&x, p, seed, true), run(&x, p, seed, false));
        }
    }

    #[test]
    fn fused_elu_channel_dropout_matches_finite_differences() {
        let x = Tensor::from_vec(
            [2, 3, 5],
            seed_values(30, 3).iter().map(|v| v * 3.0 + 0.05).collect(),
        )
        .unwrap();
        let mask = Mask::new(9, 0.4);
        let r = check_gradients(
            &[x],
            &|t, v| elu_channel_dropout(t, v[0], 0.4, 9, true),
            &|x| {
                x[0].iter()
                    .enumerate()
                    .map(|(i, &v)| {
                        let e = if v > 0.0 { v } else { v.exp_m1() };
                        e * mask.factor((i / 5) as u64) as f64
                    })
                    .collect()
            },
            &GradCheck {
                forward: Tol::new(1e-6, 1e-5),
                ..Default::default()
            },
        );
        assert!(r.is_ok(), "{}", r.unwrap_err());
    }
}
