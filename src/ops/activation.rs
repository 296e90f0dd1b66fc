//! Pointwise activations ELU, SELU and ReLU with backward rules that read the saved
//! output only.

use super::{gpu_of, grad_gpu};
use crate::autograd::{Backward, BackwardCx, Saves, Tape, Var};
use crate::cpu::activation::{self as k, Activation};
use crate::cuda::ops as cu;
use crate::tensor::Tensor;
use anyhow::Result;

struct ActBack(Var, Activation);
impl Backward for ActBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        let gpu = grad_gpu(cx);
        let mut g = cx.take_grad_out();
        match gpu {
            Some(gpu) => cu::act_backward(
                &gpu,
                self.1.kernel_kind(),
                cx.output().ptr(),
                g.ptr(),
                g.numel(),
            )?,
            None => k::backward(self.1, g.data_mut(), cx.output().data()),
        }
        cx.accumulate(self.0, g)
    }
    fn name(&self) -> &'static str {
        self.1.name()
    }
    fn saves(&self) -> Saves {
        Saves::Output
    }
}

fn activate(tape: &mut Tape, x: Var, act: Activation) -> Result<Var> {
    if let Some(gpu) = gpu_of(tape, act.name(), &[x])? {
        let out = Tensor::alloc_in(tape.pool(), tape.shape(x))?;
        cu::act_forward(
            &gpu,
            act.kernel_kind(),
            tape.value(x).ptr(),
            out.ptr(),
            out.numel(),
        )?;
        return Ok(tape.push(out, &[x], ActBack(x, act)));
    }
    let mut out = Tensor::uninit_in(tape.pool(), tape.shape(x));
    k::forward(act, out.data_mut(), tape.value(x).data());
    Ok(tape.push(out, &[x], ActBack(x, act)))
}

/// ELU with α = 1: x for x > 0, eˣ − 1 otherwise.
pub fn elu(tape: &mut Tape, x: Var) -> Result<Var> {
    activate(tape, x, Activation::Elu)
}

/// SELU with PyTorch's constants (α = 1.6732632423543772, λ = 1.0507009873554805).
pub fn selu(tape: &mut Tape, x: Var) -> Result<Var> {
    activate(tape, x, Activation::Selu)
}

/// ReLU: max(x, 0).
pub fn relu(tape: &mut Tape, x: Var) -> Result<Var> {
    activate(tape, x, Activation::Relu)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{check_gradients, GradCheck};
    use proptest::prelude::*;

    // Keep inputs away from the kink at 0, where finite differences straddle it.
    fn away_from_zero() -> impl Strategy<Value = f32> {
        prop_oneof![-6.0f32..-0.01, 0.01f32..6.0]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn activations_match_finite_differences(
            x in prop::collection::vec(away_from_zero(), 1..60)
        ) {
            let n = x.len();
            let ins = [Tensor::from_vec([n], x).unwrap()];
            let cfg = GradCheck::default();
            for act in [Activation::Relu, Activation::Elu, Activation::Selu] {
                let r = check_gradients(&ins, &|tp, v| activate(tp, v[0], act),
                    &|x| k::forward_reference(act, &x[0]), &cfg);
                prop_assert!(r.is_ok(), "{}: {}", act.name(), r.unwrap_err());
            }
        }
    }
}
