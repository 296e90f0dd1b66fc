//! Elementwise arithmetic (add, mul, scale, add_scalar) and reductions (sum, mean),
//! with their backward rules.

use super::{gpu_of, grad_gpu};
use crate::autograd::{Backward, BackwardCx, Saves, Tape, Var};
use crate::cpu::arith as k;
use crate::cuda::ops as cu;
use crate::kparams::{BinaryOp, UnaryOp};
use crate::tensor::Tensor;
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

/// a + b, same shapes.
pub fn add(tape: &mut Tape, a: Var, b: Var) -> Result<Var> {
    same_shape(tape, a, b, "add")?;
    if let Some(gpu) = gpu_of(tape, "add", &[a, b])? {
        let out = binary_gpu(tape, &gpu, BinaryOp::Add, a, b)?;
        return Ok(tape.push(out, &[a, b], AddBack(a, b)));
    }
    let mut out = Tensor::uninit_in(tape.pool(), tape.shape(a));
    k::zip_map(
        out.data_mut(),
        tape.value(a).data(),
        tape.value(b).data(),
        |x, y| x + y,
    );
    Ok(tape.push(out, &[a, b], AddBack(a, b)))
}

struct MulBack(Var, Var);
impl Backward for MulBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        for (x, other) in [(self.0, self.1), (self.1, self.0)] {
            if cx.needs_grad(x) {
                if let Some(gpu) = grad_gpu(cx) {
                    let gy = cx.grad_out();
                    let g = Tensor::alloc_in(cx.pool(), gy.shape())?;
                    cu::binary(
                        &gpu,
                        BinaryOp::Mul,
                        0.0,
                        gy.ptr(),
                        cx.value(other).ptr(),
                        g.ptr(),
                        g.numel(),
                    )?;
                    cx.accumulate(x, g)?;
                    continue;
                }
                let mut g = Tensor::uninit_in(cx.pool(), cx.grad_out().shape());
                k::zip_map(
                    g.data_mut(),
                    cx.grad_out().data(),
                    cx.value(other).data(),
                    |g, y| g * y,
                );
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
    same_shape(tape, a, b, "mul")?;
    if let Some(gpu) = gpu_of(tape, "mul", &[a, b])? {
        let out = binary_gpu(tape, &gpu, BinaryOp::Mul, a, b)?;
        return Ok(tape.push(out, &[a, b], MulBack(a, b)));
    }
    let mut out = Tensor::uninit_in(tape.pool(), tape.shape(a));
    k::zip_map(
        out.data_mut(),
        tape.value(a).data(),
        tape.value(b).data(),
        |x, y| x * y,
    );
    Ok(tape.push(out, &[a, b], MulBack(a, b)))
}

struct ScaleBack(Var, f32);
impl Backward for ScaleBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        let mut g = cx.take_grad_out();
        let s = self.1;
        match g.gpu().cloned() {
            Some(gpu) => cu::unary(&gpu, UnaryOp::Scale, s, g.ptr(), g.ptr(), g.numel())?,
            None => g.data_mut().iter_mut().for_each(|v| *v *= s),
        }
        cx.accumulate(self.0, g)
    }
    fn name(&self) -> &'static str {
        "scale"
    }
    fn saves(&self) -> Saves {
        Saves::Nothing
    }
}

/// s · a.
pub fn scale(tape: &mut Tape, a: Var, s: f32) -> Result<Var> {
    if let Some(gpu) = gpu_of(tape, "scale", &[a])? {
        let out = unary_gpu(tape, &gpu, UnaryOp::Scale, s, a)?;
        return Ok(tape.push(out, &[a], ScaleBack(a, s)));
    }
    let mut out = Tensor::uninit_in(tape.pool(), tape.shape(a));
    k::map(out.data_mut(), tape.value(a).data(), |x| x * s);
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
    if let Some(gpu) = gpu_of(tape, "add_scalar", &[a])? {
        let out = unary_gpu(tape, &gpu, UnaryOp::AddScalar, s, a)?;
        return Ok(tape.push(out, &[a], PassBack(a)));
    }
    let mut out = Tensor::uninit_in(tape.pool(), tape.shape(a));
    k::map(out.data_mut(), tape.value(a).data(), |x| x + s);
    Ok(tape.push(out, &[a], PassBack(a)))
}

struct LnBack(Var);
impl Backward for LnBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        if let Some(gpu) = grad_gpu(cx) {
            let gy = cx.grad_out();
            let g = Tensor::alloc_in(cx.pool(), gy.shape())?;
            cu::binary(
                &gpu,
                BinaryOp::Div,
                0.0,
                gy.ptr(),
                cx.value(self.0).ptr(),
                g.ptr(),
                g.numel(),
            )?;
            return cx.accumulate(self.0, g);
        }
        let mut g = Tensor::uninit_in(cx.pool(), cx.grad_out().shape());
        k::zip_map(
            g.data_mut(),
            cx.grad_out().data(),
            cx.value(self.0).data(),
            |g, x| g / x,
        );
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
    if let Some(gpu) = gpu_of(tape, "ln", &[a])? {
        let out = unary_gpu(tape, &gpu, UnaryOp::Ln, 0.0, a)?;
        return Ok(tape.push(out, &[a], LnBack(a)));
    }
    let mut out = Tensor::uninit_in(tape.pool(), tape.shape(a));
    k::map(out.data_mut(), tape.value(a).data(), f32::ln);
    Ok(tape.push(out, &[a], LnBack(a)))
}

struct SumBack(Var, f32);
impl Backward for SumBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        if let Some(gpu) = grad_gpu(cx) {
            let out = Tensor::alloc_in(cx.pool(), cx.shape(self.0))?;
            cu::fill_scaled(&gpu, cx.grad_out().ptr(), self.1, out.ptr(), out.numel())?;
            return cx.accumulate(self.0, out);
        }
        let g = cx.grad_out().data()[0] * self.1;
        let mut out = Tensor::uninit_in(cx.pool(), cx.shape(self.0));
        out.data_mut().fill(g);
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
    if let Some(gpu) = gpu_of(tape, "sum", &[a])? {
        let out = sum_gpu(tape, &gpu, a, 1.0)?;
        return Ok(tape.push(out, &[a], SumBack(a, 1.0)));
    }
    let s = k::sum(tape.value(a).data());
    let mut out = Tensor::uninit_in(tape.pool(), [1]);
    out.data_mut()[0] = s as f32;
    Ok(tape.push(out, &[a], SumBack(a, 1.0)))
}

/// Mean of a, as a one-element tensor.
pub fn mean(tape: &mut Tape, a: Var) -> Result<Var> {
    let n = tape.value(a).numel();
    if n == 0 {
        bail!("mean of an empty tensor");
    }
    if let Some(gpu) = gpu_of(tape, "mean", &[a])? {
        let out = sum_gpu(tape, &gpu, a, 1.0 / n as f32)?;
        return Ok(tape.push(out, &[a], SumBack(a, 1.0 / n as f32)));
    }
    let s = k::sum(tape.value(a).data()) / n as f64;
    let mut out = Tensor::uninit_in(tape.pool(), [1]);
    out.data_mut()[0] = s as f32;
    Ok(tape.push(out, &[a], SumBack(a, 1.0 / n as f32)))
}

fn binary_gpu(tape: &Tape, gpu: &crate::cuda::Gpu, op: BinaryOp, a: Var, b: Var) -> Result<Tensor> {
    let out = Tensor::alloc_in(tape.pool(), tape.shape(a))?;
    cu::binary(
        gpu,
        op,
        0.0,
        tape.value(a).ptr(),
        tape.value(b).ptr(),
        out.ptr(),
        out.numel(),
    )?;
    Ok(out)
}

fn unary_gpu(tape: &Tape, gpu: &crate::cuda::Gpu, op: UnaryOp, s: f32, a: Var) -> Result<Tensor> {
    let out = Tensor::alloc_in(tape.pool(), tape.shape(a))?;
    cu::unary(gpu, op, s, tape.value(a).ptr(), out.ptr(), out.numel())?;
    Ok(out)
}

fn sum_gpu(tape: &Tape, gpu: &crate::cuda::Gpu, a: Var, s: f32) -> Result<Tensor> {
    let out = Tensor::alloc_in(tape.pool(), [1])?;
    let x = tape.value(a);
    cu::reduce_sum(gpu, x.ptr(), x.numel(), s, out.ptr())?;
    Ok(out)
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
