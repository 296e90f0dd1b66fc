//! 2-D max-pooling: shape checks, the CPU kernel and the backward rule, which routes
//! each output gradient to the argmax the forward saved (one byte per output).

use crate::autograd::{Backward, BackwardCx, Saves, Tape, Var};
use crate::cpu::pool2d::{max_pool_backward, max_pool_forward, PoolGeom};
use crate::cuda::ops as cu;
use crate::tensor::Tensor;
use anyhow::Result;

struct MaxPoolBack {
    x: Var,
    g: PoolGeom,
    /// The argmax bytes, stored in a pooled f32 buffer (4 per float) so that steady-state
    /// steps reuse it instead of page-faulting a fresh allocation every step.
    arg: Tensor,
    len: usize,
}

/// A pooled buffer holding at least `len` bytes.
pub(crate) fn byte_buffer(pool: &crate::tensor::Pool, len: usize) -> Tensor {
    Tensor::uninit_in(pool, [len.div_ceil(4).max(1)])
}

pub(crate) fn bytes_mut(t: &mut Tensor, len: usize) -> &mut [u8] {
    &mut bytemuck::cast_slice_mut::<f32, u8>(t.data_mut())[..len]
}

impl Backward for MaxPoolBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        if let Some(gpu) = super::grad_gpu(cx) {
            let dx = Tensor::alloc_in(cx.pool(), cx.shape(self.x))?;
            cu::maxpool_backward(&gpu, &self.g, cx.grad_out().ptr(), self.arg.ptr(), dx.ptr())?;
            return cx.accumulate(self.x, dx);
        }
        let mut dx = Tensor::uninit_in(cx.pool(), cx.shape(self.x));
        let arg = &bytemuck::cast_slice::<f32, u8>(self.arg.data())[..self.len];
        max_pool_backward(&self.g, cx.grad_out().data(), arg, dx.data_mut());
        cx.accumulate(self.x, dx)
    }

    fn name(&self) -> &'static str {
        "max_pool2d"
    }
    fn saves(&self) -> Saves {
        Saves::Nothing
    }
}

/// Max over `kernel`×`kernel` windows of an N×C×H×W input, moved by `stride`; padding
/// counts as -inf and the output size is floored (PyTorch `max_pool2d`).
pub fn max_pool2d(
    tape: &mut Tape,
    x: Var,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> Result<Var> {
    let xs = tape.shape(x).nchw("max_pool2d input")?;
    let g = PoolGeom::new(xs, kernel, stride, padding)?;
    if let Some(gpu) = super::gpu_of(tape, "max_pool2d", &[x])? {
        let y = Tensor::alloc_in(tape.pool(), g.out_dims())?;
        let len = y.numel();
        let arg = Tensor::alloc_in(tape.pool(), [len.div_ceil(4).max(1)])?;
        cu::maxpool_forward(&gpu, &g, tape.value(x).ptr(), y.ptr(), arg.ptr())?;
        return Ok(tape.push(y, &[x], MaxPoolBack { x, g, arg, len }));
    }
    let mut y = Tensor::uninit_in(tape.pool(), g.out_dims());
    let len = y.numel();
    let mut arg = byte_buffer(tape.pool(), len);
    max_pool_forward(
        &g,
        tape.value(x).data(),
        y.data_mut(),
        bytes_mut(&mut arg, len),
    );
    Ok(tape.push(y, &[x], MaxPoolBack { x, g, arg, len }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::pool2d::max_pool_reference;
    use crate::tensor::Pool;
    use crate::testing::{check_gradients, seed_values, GradCheck};
    use proptest::prelude::*;

    /// Distinct values 0.01 apart in a shuffled order: no ties within the FD step.
    fn distinct(dims: [usize; 4], salt: u64) -> Tensor {
        let n: usize = dims.iter().product();
        let keys = seed_values(n, salt);
        let mut idx: Vec<usize> = (0..n).collect();
        idx.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]).then(a.cmp(&b)));
        let mut v = vec![0.0; n];
        for (rank, &i) in idx.iter().enumerate() {
            v[i] = rank as f32 * 0.01 - 1.0;
        }
        Tensor::from_vec(dims, v).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn max_pool2d_backward_matches_finite_differences(
            n in 1usize..=2, c in 1usize..=3, h in 1usize..=9, w in 1usize..=9,
            k in 1usize..=3, s in 1usize..=3, p in 0usize..=1, salt in 0u64..1000,
        ) {
            prop_assume!(p <= k / 2 && h + 2 * p >= k && w + 2 * p >= k);
            let g = PoolGeom::new([n, c, h, w], k, s, p).unwrap();
            let ins = [distinct([n, c, h, w], salt)];
            let r = check_gradients(
                &ins,
                &|tp, v| max_pool2d(tp, v[0], k, s, p),
                &|x| max_pool_reference(&g, &x[0]),
                &GradCheck::default(),
            );
            prop_assert!(r.is_ok(), "{:?}: {}", g, r.unwrap_err());
        }
    }

    #[test]
    fn max_pool2d_floors_odd_sizes_and_keeps_same_size_with_padding() {
        let pool = Pool::new();
        let mut tape = Tape::new(&pool);
        let x = tape.input(distinct([2, 3, 49, 49], 5));
        let y = max_pool2d(&mut tape, x, 2, 2, 0).unwrap();
        assert_eq!(tape.shape(y).dims(), &[2, 3, 24, 24]);
        let z = max_pool2d(&mut tape, x, 3, 1, 1).unwrap();
        assert_eq!(tape.shape(z).dims(), &[2, 3, 49, 49]);
        let g = PoolGeom::new([2, 3, 49, 49], 2, 2, 0).unwrap();
        let want = max_pool_reference(&g, &tape.value(x).to_f64());
        let got: Vec<f64> = tape.value(y).to_f64();
        assert_eq!(got, want);
    }

    #[test]
    fn max_pool2d_ties_go_to_the_first_maximum() {
        let pool = Pool::new();
        let mut tape = Tape::new(&pool);
        let x = tape.input(Tensor::from_vec([1, 1, 2, 4], vec![1.0; 8]).unwrap());
        let y = max_pool2d(&mut tape, x, 2, 2, 0).unwrap();
        let seed = Tensor::from_vec([1, 1, 1, 2], vec![3.0, 5.0]).unwrap();
        let grads = tape.backward_with(y, seed).unwrap();
        let dx = grads.get(x).unwrap().data();
        assert_eq!(dx, &[3.0, 0.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn max_pool2d_rejects_bad_arguments() {
        let pool = Pool::new();
        let mut tape = Tape::new(&pool);
        let x = tape.input(Tensor::zeros([1, 1, 4, 4]));
        let e = max_pool2d(&mut tape, x, 3, 1, 2).unwrap_err().to_string();
        assert!(
            e.contains("padding 2 exceeds half the kernel size 3"),
            "{e}"
        );
        let e = max_pool2d(&mut tape, x, 2, 0, 0).unwrap_err().to_string();
        assert!(e.contains("stride must be at least 1"), "{e}");
        let e = max_pool2d(&mut tape, x, 5, 1, 0).unwrap_err().to_string();
        assert!(
            e.contains("kernel 5×5 is larger than the padded input 4×4"),
            "{e}"
        );
        let v = tape.input(Tensor::zeros([4, 4]));
        let e = max_pool2d(&mut tape, v, 2, 2, 0).unwrap_err().to_string();
        assert!(
            e.contains("max_pool2d input: expected an N×C×H×W tensor"),
            "{e}"
        );
    }
}
