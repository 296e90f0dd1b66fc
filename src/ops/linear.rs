//! The fully connected layer y = x·wᵀ + b (PyTorch layout: x N×I, w O×I, b O) with its
//! backward rule (dx = dy·w, dw = dyᵀ·x, db = column sums of dy).

use crate::autograd::{Backward, BackwardCx, Saves, Tape, Var};
use crate::cpu::linear as k;
use crate::cuda::ops as cu;
use crate::cuda::Gpu;
use crate::tensor::Tensor;
use anyhow::{bail, Result};

impl LinearBack {
    fn backward_gpu(&self, cx: &mut BackwardCx, gpu: &Gpu) -> Result<()> {
        let [n, i, o] = self.dims;
        let dy = cx.grad_out().ptr();
        if cx.needs_grad(self.x) {
            let dx = Tensor::alloc_in(cx.pool(), [n, i])?;
            cu::sgemm(
                gpu,
                n,
                i,
                o,
                false,
                false,
                1.0,
                0.0,
                dy,
                cx.value(self.w).ptr(),
                dx.ptr(),
            )?;
            cx.accumulate(self.x, dx)?;
        }
        if cx.needs_grad(self.w) {
            let dw = Tensor::zeros_on(cx.pool(), [o, i])?;
            cu::sgemm(
                gpu,
                o,
                i,
                n,
                true,
                false,
                1.0,
                0.0,
                dy,
                cx.value(self.x).ptr(),
                dw.ptr(),
            )?;
            cx.accumulate(self.w, dw)?;
        }
        if let Some(b) = self.b.filter(|&b| cx.needs_grad(b)) {
            let db = Tensor::zeros_on(cx.pool(), [o])?;
            cu::sum_axis1(gpu, dy, n, o, 1, 0.0, db.ptr())?;
            cx.accumulate(b, db)?;
        }
        Ok(())
    }
}

struct LinearBack {
    x: Var,
    w: Var,
    b: Option<Var>,
    dims: [usize; 3],
}

impl Backward for LinearBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        if let Some(gpu) = super::grad_gpu(cx) {
            return self.backward_gpu(cx, &gpu);
        }
        let [n, i, o] = self.dims;
        if cx.needs_grad(self.x) {
            let mut dx = Tensor::uninit_in(cx.pool(), [n, i]);
            k::backward_input(
                dx.data_mut(),
                cx.grad_out().data(),
                cx.value(self.w).data(),
                n,
                i,
                o,
            );
            cx.accumulate(self.x, dx)?;
        }
        if cx.needs_grad(self.w) {
            let mut dw = Tensor::uninit_in(cx.pool(), [o, i]);
            k::backward_weight(
                dw.data_mut(),
                cx.grad_out().data(),
                cx.value(self.x).data(),
                n,
                i,
                o,
            );
            cx.accumulate(self.w, dw)?;
        }
        if let Some(b) = self.b.filter(|&b| cx.needs_grad(b)) {
            let mut db = Tensor::uninit_in(cx.pool(), [o]);
            k::bias_grad(db.data_mut(), cx.grad_out().data(), n, o);
            cx.accumulate(b, db)?;
        }
        Ok(())
    }
    fn name(&self) -> &'static str {
        "linear"
    }
    fn saves(&self) -> Saves {
        Saves::Inputs
    }
}

/// y = x·wᵀ + b for x N×I, w O×I (PyTorch layout), optional bias b of length O.
pub fn linear(tape: &mut Tape, x: Var, w: Var, b: Option<Var>) -> Result<Var> {
    let (xs, ws) = (tape.shape(x), tape.shape(w));
    let (Ok([n, i]), Ok([o, wi])) = (xs.matrix("linear x"), ws.matrix("linear w")) else {
        bail!("linear: expected x N×I and weight O×I, found x {xs} and weight {ws}");
    };
    if wi != i {
        bail!("linear: x {xs} has {i} features but weight {ws} expects {wi}");
    }
    if let Some(b) = b {
        let bs = tape.shape(b);
        if bs.dims() != [o] {
            bail!("linear: bias must have shape [{o}] for weight {ws}, found {bs}");
        }
    }
    let inputs: Vec<Var> = [x, w].into_iter().chain(b).collect();
    let back = LinearBack {
        x,
        w,
        b,
        dims: [n, i, o],
    };
    if let Some(gpu) = super::gpu_of(tape, "linear", &inputs)? {
        let y = Tensor::zeros_on(tape.pool(), [n, o])?;
        cu::sgemm(
            &gpu,
            n,
            o,
            i,
            false,
            true,
            1.0,
            0.0,
            tape.value(x).ptr(),
            tape.value(w).ptr(),
            y.ptr(),
        )?;
        if let Some(b) = b {
            cu::add_bias_rows(&gpu, n, o, tape.value(b).ptr(), y.ptr())?;
        }
        return Ok(tape.push(y, &inputs, back));
    }
    let mut y = Tensor::uninit_in(tape.pool(), [n, o]);
    k::forward(
        y.data_mut(),
        tape.value(x).data(),
        tape.value(w).data(),
        b.map(|b| tape.value(b).data()),
        n,
        i,
        o,
    );
    Ok(tape.push(y, &inputs, back))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Pool;
    use crate::testing::{check_gradients, seed_values, GradCheck};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn linear_matches_finite_differences(n in 1usize..6, i in 1usize..7, o in 1usize..6,
                                             bias: bool, salt in 0u64..1000) {
            let mut ins = vec![
                Tensor::from_vec([n, i], seed_values(n * i, salt)).unwrap(),
                Tensor::from_vec([o, i], seed_values(o * i, salt + 1)).unwrap(),
            ];
            if bias {
                ins.push(Tensor::from_vec([o], seed_values(o, salt + 2)).unwrap());
            }
            let r = check_gradients(&ins, &|tp, v| linear(tp, v[0], v[1], v.get(2).copied()),
                &|x| k::forward_reference(&x[0], &x[1], x.get(2).map(|b| b.as_slice()), n, i, o),
                &GradCheck::default());
            prop_assert!(r.is_ok(), "{}", r.unwrap_err());
        }
    }

    #[test]
    fn linear_handles_empty_batch_and_outputs() {
        let pool = Pool::new();
        let mut tape = Tape::new(&pool);
        let x = tape.input(Tensor::full([2, 3], 1.0));
        let w = tape.input(Tensor::zeros([0, 3]));
        let b = tape.input(Tensor::zeros([0]));
        let y = linear(&mut tape, x, w, Some(b)).unwrap();
        assert_eq!(tape.shape(y).dims(), &[2, 0]);
        let x0 = tape.input(Tensor::zeros([0, 3]));
        let w1 = tape.input(Tensor::full([4, 3], 1.0));
        let y = linear(&mut tape, x0, w1, None).unwrap();
        assert_eq!(tape.shape(y).dims(), &[0, 4]);
    }

    #[test]
    fn linear_errors_name_both_shapes() {
        let pool = Pool::new();
        let mut tape = Tape::new(&pool);
        let x = tape.input(Tensor::zeros([4, 3]));
        let w = tape.input(Tensor::zeros([5, 2]));
        let e = linear(&mut tape, x, w, None).unwrap_err().to_string();
        assert!(e.contains("[4×3]") && e.contains("[5×2]"), "{e}");
        let w = tape.input(Tensor::zeros([5, 3]));
        let b = tape.input(Tensor::zeros([4]));
        let e = linear(&mut tape, x, w, Some(b)).unwrap_err().to_string();
        assert!(e.contains("[5]") && e.contains("[4]"), "{e}");
        let x3 = tape.input(Tensor::zeros([4, 3, 1]));
        assert!(linear(&mut tape, x3, w, None).is_err());
    }
}
