//! Elementwise arithmetic (add, mul, scale, add_scalar) and reductions (sum, mean),
//! with their backward rules.

use super::gpu_of;
use crate::autograd::{Backward, BackwardCx, Saves, Tape, Var};
use crate::cpu::arith as k;
use crate::cuda::ops as cu;
use crate::kparams::{BinaryOp, UnaryOp};
use crate::tensor::{Pool, Tensor};
use anyhow::{bail, Result};

fn same_shape(tape: &Tape, a: Var, b: Var, what: &str) -> Result<()> {
    if tape.shape(a) != tape.shape(b) {
        bail!(
            "{what}: operands have shapes {} and {}",
            tape.shape(a),
            tape.shape(b)
        );
    }
    Ok(())
}

/// op(x) on x's device: the one place these primitives choose a backend.
fn unary_on(pool: &Pool, op: UnaryOp, s: f32, x: &Tensor) -> Result<Tensor> {
    match x.gpu() {
        Some(gpu) => {
            let out = Tensor::alloc_in(pool, x.shape())?;
            cu::unary(gpu, op, s, x.ptr(), out.ptr(), out.numel())?;
            Ok(out)
        }
        None => {
            let mut out = Tensor::uninit_in(pool, x.shape());
            k::unary(op, s, out.data_mut(), x.data());
            Ok(out)
        }
    }
}

/// op(a, b) on their device (the caller checked shapes and devices).
fn binary_on(pool: &Pool, op: BinaryOp, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    match a.gpu() {
        Some(gpu) => {
            let out = Tensor::alloc_in(pool, a.shape())?;
            cu::binary(gpu, op, 0.0, a.ptr(), b.ptr(), out.ptr(), out.numel())?;
            Ok(out)
        }
        None => {
            let mut out = Tensor::uninit_in(pool, a.shape());
            k::binary(op, 0.0, out.data_mut(), a.data(), b.data());
            Ok(out)
        }
    }
}

/// Σ x / div as a one-element tensor on x's device (f64 accumulation on both).
fn sum_on(pool: &Pool, x: &Tensor, div: usize) -> Result<Tensor> {
    match x.gpu() {
        Some(gpu) => {
            let out = Tensor::alloc_in(pool, [1])?;
            cu::reduce_sum(gpu, x.ptr(), x.numel(), 1.0 / div as f32, out.ptr())?;
            Ok(out)
        }
        None => {
            let mut out = Tensor::uninit_in(pool, [1]);
            out.data_mut()[0] = (k::sum(x.data()) / div as f64) as f32;
            Ok(out)
        }
    }
}

struct AddBack(Var, Var);
impl Backward for AddBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        let g = cx.take_grad_out();
        if cx.needs_grad(self.0) && cx.needs_grad(self.1) {
            let g2 = g.copy_in(cx.pool());
            cx.accumulate(self.1, g2)?;
        } else if cx.needs_grad(self.1) {
            return cx.accumulate(self.1, g);
        }
        cx.accumulate(self.0, g)
    }
    fn name(&self) -> &'static str {
        "add"
    }
    fn saves(&self) -> Saves {
        Saves::Nothing
    }
}

fn binary(tape: &mut Tape, op: BinaryOp, a: Var, b: Var, what: &str) -> Result<Tensor> {
    same_shape(tape, a, b, what)?;
    gpu_of(tape, what, &[a, b])?;
    binary_on(tape.pool(), op, tape.value(a), tape.value(b))
}

/// a + b, same shapes.
pub fn add(tape: &mut Tape, a: Var, b: Var) -> Result<Var> {
    let out = binary(tape, BinaryOp::Add, a, b, "add")?;
    Ok(tape.push(out, &[a, b], AddBack(a, b)))
}

struct MulBack(Var, Var);
impl Backward for MulBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        for (x, other) in [(self.0, self.1), (self.1, self.0)] {
            if cx.needs_grad(x) {
                let g = binary_on(cx.pool(), BinaryOp::Mul, cx.grad_out(), cx.value(other))?;
                cx.accumulate(x, g)?;
            }
        }
        Ok(())
    }
    fn name(&self) -> &'static str {
        "mul"
    }
    fn saves(&self) -> Saves {
        Saves::Inputs
    }
}

/// a ⊙ b, same shapes.
pub fn mul(tape: &mut Tape, a: Var, b: Var) -> Result<Var> {
    let out = binary(tape, BinaryOp::Mul, a, b, "mul")?;
    Ok(tape.push(out, &[a, b], MulBack(a, b)))
}

struct ScaleBack(Var, f32);
impl Backward for ScaleBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        let g = unary_on(cx.pool(), UnaryOp::Scale, self.1, cx.grad_out())?;
        cx.accumulate(self.0, g)
    }
    fn name(&self) -> &'static str {
        "scale"
    }
    fn saves(&self) -> Saves {
        Saves::Nothing
    }
}

fn unary(tape: &mut Tape, op: UnaryOp, s: f32, a: Var, what: &str) -> Result<Tensor> {
    gpu_of(tape, what, &[a])?;
    unary_on(tape.pool(), op, s, tape.value(a))
}

/// s · a.
pub fn scale(tape: &mut Tape, a: Var, s: f32) -> Result<Var> {
    let out = unary(tape, UnaryOp::Scale, s, a, "scale")?;
    Ok(tape.push(out, &[a], ScaleBack(a, s)))
}

struct PassBack(Var);
impl Backward for PassBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        let g = cx.take_grad_out();
        cx.accumulate(self.0, g)
    }
    fn name(&self) -> &'static str {
        "add_scalar"
    }
    fn saves(&self) -> Saves {
        Saves::Nothing
    }
}

/// a + s.
pub fn add_scalar(tape: &mut Tape, a: Var, s: f32) -> Result<Var> {
    let out = unary(tape, UnaryOp::AddScalar, s, a, "add_scalar")?;
    Ok(tape.push(out, &[a], PassBack(a)))
}

struct LnBack(Var);
impl Backward for LnBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        let g = binary_on(cx.pool(), BinaryOp::Div, cx.grad_out(), cx.value(self.0))?;
        cx.accumulate(self.0, g)
    }
    fn name(&self) -> &'static str {
        "ln"
    }
    fn saves(&self) -> Saves {
        Saves::Inputs
    }
}

/// Natural logarithm, elementwise (non-positive inputs give -inf or NaN, as in IEEE).
pub fn ln(tape: &mut Tape, a: Var) -> Result<Var> {
    let out = unary(tape, UnaryOp::Ln, 0.0, a, "ln")?;
    Ok(tape.push(out, &[a], LnBack(a)))
}

struct SumBack(Var, f32);
impl Backward for SumBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        let shape = cx.shape(self.0);
        let out = match super::grad_gpu(cx) {
            Some(gpu) => {
                let out = Tensor::alloc_in(cx.pool(), shape)?;
                cu::fill_scaled(&gpu, cx.grad_out().ptr(), self.1, out.ptr(), out.numel())?;
                out
            }
            None => {
                let mut out = Tensor::uninit_in(cx.pool(), shape);
                out.data_mut().fill(cx.grad_out().data()[0] * self.1);
                out
            }
        };
        cx.accumulate(self.0, out)
    }
    fn name(&self) -> &'static str {
        "sum"
    }
    fn saves(&self) -> Saves {
        Saves::Nothing
    }
}

/// Σ a, as a one-element tensor (accumulated in f64).
pub fn sum(tape: &mut Tape, a: Var) -> Result<Var> {
    gpu_of(tape, "sum", &[a])?;
    let out = sum_on(tape.pool(), tape.value(a), 1)?;
    Ok(tape.push(out, &[a], SumBack(a, 1.0)))
}

/// Mean of a, as a one-element tensor.
pub fn mean(tape: &mut Tape, a: Var) -> Result<Var> {
    let n = tape.value(a).numel();
    if n == 0 {
        bail!("mean of an empty tensor");
    }
    gpu_of(tape, "mean", &[a])?;
    let out = sum_on(tape.pool(), tape.value(a), n)?;
    Ok(tape.push(out, &[a], SumBack(a, 1.0 / n as f32)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{check_gradients, GradCheck};
    use proptest::prelude::*;

    fn t(v: Vec<f32>) -> Tensor {
        let n = v.len();
        Tensor::from_vec([n], v).unwrap()
    }

    proptest! {
        #[test]
        fn arithmetic_matches_finite_differences(
            (a, b) in (1usize..40).prop_flat_map(|n| (
                prop::collection::vec(-3.0f32..3.0, n),
                prop::collection::vec(-3.0f32..3.0, n))),
            s in -2.0f32..2.0,
        ) {
            let cfg = GradCheck::default();
            let ins = [t(a), t(b)];
            let r = check_gradients(&ins, &|tp, v| {
                let x = add(tp, v[0], v[1])?;
                let y = mul(tp, x, v[0])?;
                let y = scale(tp, y, s)?;
                add_scalar(tp, y, 0.5)
            }, &|x| x[0].iter().zip(&x[1]).map(|(a, b)| s as f64 * (a + b) * a + 0.5).collect(), &cfg);
            prop_assert!(r.is_ok(), "{}", r.unwrap_err());
            let pos = [t(ins[0].data().iter().map(|v| v.abs() + 0.5).collect())];
            let r = check_gradients(&pos, &|tp, v| ln(tp, v[0]), &|x| x[0].iter().map(|v| v.ln()).collect(), &cfg);
            prop_assert!(r.is_ok(), "{}", r.unwrap_err());
            let r = check_gradients(&ins, &|tp, v| { let m = mean(tp, v[0])?; let s = sum(tp, v[1])?; add(tp, m, s) },
                &|x| vec![x[0].iter().sum::<f64>() / x[0].len() as f64 + x[1].iter().sum::<f64>()], &cfg);
            prop_assert!(r.is_ok(), "{}", r.unwrap_err());
        }
    }

    #[test]
    fn add_rejects_mismatched_shapes() {
        let pool = crate::tensor::Pool::new();
        let mut tape = Tape::new(&pool);
        let a = tape.input(Tensor::zeros([3]));
        let b = tape.input(Tensor::zeros([4]));
        let e = add(&mut tape, a, b).unwrap_err().to_string();
        assert!(e.contains("[3]") && e.contains("[4]"), "{e}");
    }
}
