//! 2-D convolution: shape checks, dispatch to the CPU kernels and the backward rule
//! (dedicated backward-input, backward-weight and backward-bias kernels).

use crate::autograd::{Backward, BackwardCx, Saves, Tape, Var};
use crate::cpu::conv2d as k;
pub use crate::cpu::conv2d::{Conv2dParams, ConvGeom, PadMode};
use crate::cuda::ops as cu;
use crate::cuda::Gpu;
use crate::tensor::{Pool, Tensor};
use anyhow::{bail, Result};

/// Checks shapes and returns the geometry of conv(x, w) + b.
fn geometry(x: &Tensor, w: &Tensor, b: Option<&Tensor>, p: Conv2dParams) -> Result<ConvGeom> {
    let xs = x.shape().nchw("conv2d input")?;
    let ws = w.shape().nchw("conv2d weight (O×I×kH×kW)")?;
    let g = ConvGeom::new(xs, ws, p)?;
    if let Some(b) = b {
        if b.dims() != [g.o] {
            bail!(
                "conv2d: bias has shape {}, expected [{}] (one per output channel)",
                b.shape(),
                g.o
            );
        }
    }
    Ok(g)
}

/// conv(x, w) + b without recording anything (inference).
pub fn conv2d_forward(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    p: Conv2dParams,
    pool: &Pool,
) -> Result<Tensor> {
    let g = geometry(x, w, b, p)?;
    if let Some(gpu) = pool.gpu() {
        for (t, what) in [(Some(x), "input"), (Some(w), "weight"), (b, "bias")] {
            if let Some(t) = t.filter(|t| t.device() != gpu.device()) {
                bail!(
                    "conv2d: the {what} is on {} but the computation on {}",
                    t.device(),
                    gpu.device()
                );
            }
        }
        let y = Tensor::alloc_in(pool, g.out_dims())?;
        cu::conv2d_forward(gpu, &g, x.ptr(), w.ptr(), b.map_or(0, |b| b.ptr()), y.ptr())?;
        return Ok(y);
    }
    let mut y = Tensor::uninit_in(pool, g.out_dims());
    k::conv2d_forward(&g, x.data(), w.data(), b.map(|b| b.data()), y.data_mut());
    Ok(y)
}

struct Conv2dBack {
    x: Var,
    w: Var,
    b: Option<Var>,
    g: ConvGeom,
}

impl Conv2dBack {
    fn backward_gpu(&self, cx: &mut BackwardCx, gpu: &Gpu) -> Result<()> {
        let g = &self.g;
        let dy = cx.grad_out().ptr();
        if cx.needs_grad(self.x) {
            let dx = Tensor::alloc_in(cx.pool(), cx.shape(self.x))?;
            cu::conv2d_backward_input(gpu, g, cx.value(self.w).ptr(), dy, dx.ptr())?;
            cx.accumulate(self.x, dx)?;
        }
        if cx.needs_grad(self.w) {
            let dw = Tensor::alloc_in(cx.pool(), cx.shape(self.w))?;
            cu::conv2d_backward_weight(gpu, cx.pool(), g, cx.value(self.x).ptr(), dy, dw.ptr())?;
            cx.accumulate(self.w, dw)?;
        }
        if let Some(b) = self.b.filter(|&b| cx.needs_grad(b)) {
            let db = Tensor::alloc_in(cx.pool(), [g.o])?;
            cu::sum_axis1(gpu, dy, g.n, g.o, g.ho() * g.wo(), 0.0, db.ptr())?;
            cx.accumulate(b, db)?;
        }
        Ok(())
    }
}

impl Backward for Conv2dBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        if let Some(gpu) = super::grad_gpu(cx) {
            return self.backward_gpu(cx, &gpu);
        }
        let g = &self.g;
        if cx.needs_grad(self.x) {
            let mut dx = Tensor::uninit_in(cx.pool(), cx.shape(self.x));
            let (w, dy) = (cx.value(self.w).data(), cx.grad_out().data());
            k::conv2d_backward_input(g, w, dy, dx.data_mut());
            cx.accumulate(self.x, dx)?;
        }
        if cx.needs_grad(self.w) {
            let mut dw = Tensor::uninit_in(cx.pool(), cx.shape(self.w));
            let (x, dy) = (cx.value(self.x).data(), cx.grad_out().data());
            k::conv2d_backward_weight(g, x, dy, dw.data_mut());
            cx.accumulate(self.w, dw)?;
        }
        if let Some(b) = self.b.filter(|&b| cx.needs_grad(b)) {
            let mut db = Tensor::uninit_in(cx.pool(), [g.o]);
            k::conv2d_backward_bias(g, cx.grad_out().data(), db.data_mut());
            cx.accumulate(b, db)?;
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        "conv2d"
    }
    fn saves(&self) -> Saves {
        Saves::Inputs
    }
}

/// conv(x, w) + b: x N×I×H×W, w O×I×kH×kW (PyTorch layout), b of length O.
pub fn conv2d(tape: &mut Tape, x: Var, w: Var, b: Option<Var>, p: Conv2dParams) -> Result<Var> {
    let bt = b.map(|b| tape.value(b));
    let g = geometry(tape.value(x), tape.value(w), bt, p)?;
    let inputs: Vec<Var> = [x, w].into_iter().chain(b).collect();
    super::gpu_of(tape, "conv2d", &inputs)?;
    let y = conv2d_forward(tape.value(x), tape.value(w), bt, p, tape.pool())?;
    Ok(tape.push(y, &inputs, Conv2dBack { x, w, b, g }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::conv2d::reference::conv2d_reference;
    use crate::testing::{check_gradients, seed_values, GradCheck, Tol};
    use proptest::prelude::*;

    fn tensor(dims: [usize; 4], salt: u64) -> Tensor {
        let n = dims.iter().product();
        Tensor::from_vec(dims, seed_values(n, salt)).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn conv2d_backward_matches_finite_differences(
            n in 1usize..=3, c in 1usize..=4, o in 1usize..=4,
            h in 1usize..=9, w in 1usize..=9, kk in 0usize..3,
            stride in 1usize..=2, padding in 0usize..=2, replicate: bool, bias: bool,
            salt in 0u64..1000,
        ) {
            let ks = [1, 3, 5][kk];
            let p = Conv2dParams {
                stride,
                padding,
                pad_mode: if replicate { PadMode::Replicate } else { PadMode::Zeros },
            };
            prop_assume!(h + 2 * padding >= ks && w + 2 * padding >= ks);
            let mut ins = vec![tensor([n, c, h, w], salt), tensor([o, c, ks, ks], salt + 1)];
            if bias {
                ins.push(Tensor::from_vec([o], seed_values(o, salt + 2)).unwrap());
            }
            let g = ConvGeom::new([n, c, h, w], [o, c, ks, ks], p).unwrap();
            let cfg = GradCheck { grad: Tol::new(2e-4, 2e-3), ..GradCheck::default() };
            let r = check_gradients(
                &ins,
                &|tp, v| conv2d(tp, v[0], v[1], v.get(2).copied(), p),
                &|x| conv2d_reference(&g, &x[0], &x[1], x.get(2).map(|b| b.as_slice())),
                &cfg,
            );
            prop_assert!(r.is_ok(), "{:?}: {}", g, r.unwrap_err());
        }
    }

    fn err(x: [usize; 4], w: [usize; 4], b: Option<usize>, p: Conv2dParams) -> String {
        let pool = Pool::new();
        let mut tape = Tape::new(&pool);
        let xv = tape.input(Tensor::zeros(x));
        let wv = tape.input(Tensor::zeros(w));
        let bv = b.map(|b| tape.input(Tensor::zeros([b])));
        conv2d(&mut tape, xv, wv, bv, p).unwrap_err().to_string()
    }

    #[test]
    fn conv2d_rejects_mismatched_shapes_with_clear_errors() {
        let v = Conv2dParams::valid();
        let e = err([1, 3, 8, 8], [4, 2, 3, 3], None, v);
        assert_eq!(e, "conv2d: input has 3 channels, weight expects 2");
        let e = err([1, 2, 8, 8], [4, 2, 3, 3], Some(3), v);
        assert!(e.contains("bias has shape [3], expected [4]"), "{e}");
        let e = err([1, 2, 2, 8], [4, 2, 3, 3], None, v);
        assert!(
            e.contains("kernel 3×3 is larger than the padded input 2×8"),
            "{e}"
        );
        let e = err(
            [1, 2, 8, 8],
            [4, 2, 3, 3],
            None,
            Conv2dParams { stride: 0, ..v },
        );
        assert!(e.contains("stride must be at least 1"), "{e}");
        let pool = Pool::new();
        let mut tape = Tape::new(&pool);
        let xv = tape.input(Tensor::zeros([2, 8, 8]));
        let wv = tape.input(Tensor::zeros([4, 2, 3, 3]));
        let e = conv2d(&mut tape, xv, wv, None, v).unwrap_err().to_string();
        assert!(
            e.contains("conv2d input: expected an N×C×H×W tensor, found shape [2×8×8]"),
            "{e}"
        );
    }

    #[test]
    fn conv2d_skips_input_gradient_when_input_is_constant() {
        let pool = Pool::new();
        let mut tape = Tape::new(&pool);
        let x = tape.constant(tensor([2, 1, 6, 6], 1));
        let w = tape.input(tensor([3, 1, 3, 3], 2));
        let y = conv2d(&mut tape, x, w, None, Conv2dParams::same(3)).unwrap();
        assert_eq!(tape.shape(y).dims(), &[2, 3, 6, 6]);
        let seed = tensor([2, 3, 6, 6], 3);
        let grads = tape.backward_with(y, seed).unwrap();
        assert!(grads.get(x).is_none());
        assert_eq!(grads.get(w).unwrap().dims(), &[3, 1, 3, 3]);
    }
}
