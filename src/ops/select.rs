//! Column selection on N×D matrices for the ordered bottleneck: `mask_columns` zeroes
//! the columns ≥ keep (Ho et al. 2023), `slice_columns` cuts Z before the first zeroed
//! column (a narrow along axis 1, so its backward scatters into zeros).

use super::concat::narrow_channels;
use crate::autograd::{Backward, BackwardCx, Saves, Tape, Var};
use crate::cpu::channels as k;
use crate::cuda::ops as cu;
use crate::tensor::Tensor;
use anyhow::{bail, Result};

struct MaskBack {
    x: Var,
    keep: usize,
    d: usize,
}

impl Backward for MaskBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        if let Some(gpu) = super::grad_gpu(cx) {
            let gy = cx.grad_out();
            let g = Tensor::alloc_in(cx.pool(), gy.shape())?;
            cu::mask_columns(
                &gpu,
                gy.numel() / self.d.max(1),
                self.d,
                self.keep,
                gy.ptr(),
                g.ptr(),
            )?;
            return cx.accumulate(self.x, g);
        }
        let mut g = Tensor::uninit_in(cx.pool(), cx.grad_out().shape());
        k::zero_from(g.data_mut(), cx.grad_out().data(), self.d, self.keep, 1);
        cx.accumulate(self.x, g)
    }
    fn name(&self) -> &'static str {
        "mask_columns"
    }
    fn saves(&self) -> Saves {
        Saves::Nothing
    }
}

/// An N×D matrix with columns keep..D set to zero (keep ≤ D).
pub fn mask_columns(tape: &mut Tape, x: Var, keep: usize) -> Result<Var> {
    let shape = tape.shape(x);
    let [_, d] = shape.matrix("mask_columns")?;
    if keep > d {
        bail!("mask_columns: keep {keep} exceeds the {d} columns of shape {shape}");
    }
    if let Some(gpu) = super::gpu_of(tape, "mask_columns", &[x])? {
        let out = Tensor::alloc_in(tape.pool(), shape)?;
        cu::mask_columns(&gpu, shape.dim(0), d, keep, tape.value(x).ptr(), out.ptr())?;
        return Ok(tape.push(out, &[x], MaskBack { x, keep, d }));
    }
    let mut out = Tensor::uninit_in(tape.pool(), shape);
    k::zero_from(out.data_mut(), tape.value(x).data(), d, keep, 1);
    Ok(tape.push(out, &[x], MaskBack { x, keep, d }))
}

/// Columns start..end of an N×D matrix.
pub fn slice_columns(tape: &mut Tape, x: Var, start: usize, end: usize) -> Result<Var> {
    let shape = tape.shape(x);
    let [_, d] = shape.matrix("slice_columns")?;
    if start > end || end > d {
        bail!("slice_columns: columns {start}..{end} are not a range within the {d} columns of shape {shape}");
    }
    narrow_channels(tape, x, start, end - start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Pool;
    use crate::testing::{check_gradients, seed_values, GradCheck};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn column_ops_match_finite_differences(n in 1usize..5, d in 1usize..8, a in 0usize..8, b in 0usize..8) {
            let (keep, start, end) = (a.min(d), a.min(b).min(d), a.max(b).min(d));
            let x = Tensor::from_vec([n, d], seed_values(n * d, (n * d + a) as u64)).unwrap();
            let cfg = GradCheck::default();
            let r = check_gradients(std::slice::from_ref(&x), &|tp, v| mask_columns(tp, v[0], keep),
                &|x| x[0].iter().enumerate().map(|(i, &v)| if i % d < keep { v } else { 0.0 }).collect(), &cfg);
            prop_assert!(r.is_ok(), "mask: {}", r.unwrap_err());
            let r = check_gradients(&[x], &|tp, v| slice_columns(tp, v[0], start, end),
                &|x| (0..n).flat_map(|i| x[0][i * d + start..i * d + end].to_vec()).collect(), &cfg);
            prop_assert!(r.is_ok(), "slice: {}", r.unwrap_err());
        }
    }

    #[test]
    fn column_ops_reject_bad_ranges_naming_the_shape() {
        let pool = Pool::new();
        let mut tape = Tape::new(&pool);
        let x = tape.input(Tensor::zeros([4, 7]));
        let e = mask_columns(&mut tape, x, 8).unwrap_err().to_string();
        assert!(e.contains("[4×7]") && e.contains('8'), "{e}");
        let e = slice_columns(&mut tape, x, 3, 2).unwrap_err().to_string();
        assert!(e.contains("3..2"), "{e}");
        assert!(slice_columns(&mut tape, x, 0, 8).is_err());
        let img = tape.input(Tensor::zeros([2, 7, 1, 1]));
        assert!(mask_columns(&mut tape, img, 2)
            .unwrap_err()
            .to_string()
            .contains("2-D"));
    }
}
