//! Matrix transpose (N×M → M×N) and its backward (the transpose of the gradient).

use crate::autograd::{Backward, BackwardCx, Saves, Tape, Var};
use crate::tensor::Tensor;
use anyhow::Result;
use rayon::prelude::*;

/// xᵀ of an r×c tensor on its device.
fn transposed(pool: &crate::tensor::Pool, x: &Tensor, r: usize, c: usize) -> Result<Tensor> {
    if let Some(gpu) = x.gpu() {
        let y = Tensor::alloc_in(pool, [c, r])?;
        crate::cuda::ops::transpose(gpu, r, c, x.ptr(), y.ptr())?;
        return Ok(y);
    }
    let mut y = Tensor::uninit_in(pool, [c, r]);
    transpose_into(x.data(), r, c, y.data_mut());
    Ok(y)
}

fn transpose_into(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    dst.par_chunks_mut(rows.max(1))
        .enumerate()
        .for_each(|(j, out)| {
            for (i, o) in out.iter_mut().enumerate() {
                *o = src[i * cols + j];
            }
        });
}

struct TransposeBack(Var);
impl Backward for TransposeBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        let [r, c] = cx.grad_out().shape().matrix("transpose gradient")?;
        let g = transposed(cx.pool(), cx.grad_out(), r, c)?;
        cx.accumulate(self.0, g)
    }
    fn name(&self) -> &'static str {
        "transpose"
    }
    fn saves(&self) -> Saves {
        Saves::Nothing
    }
}

/// xᵀ of a 2-D tensor.
pub fn transpose(tape: &mut Tape, x: Var) -> Result<Var> {
    let [r, c] = tape.shape(x).matrix("transpose")?;
    super::gpu_of(tape, "transpose", &[x])?;
    let y = transposed(tape.pool(), tape.value(x), r, c)?;
    Ok(tape.push(y, &[x], TransposeBack(x)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{check_gradients, seed_values, GradCheck};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn transpose_matches_finite_differences(r in 1usize..7, c in 1usize..7) {
            let x = Tensor::from_vec([r, c], seed_values(r * c, 4)).unwrap();
            let res = check_gradients(&[x], &|t, v| transpose(t, v[0]),
                &|x| (0..r * c).map(|k| x[0][(k % r) * c + k / r]).collect(), &GradCheck::default());
            prop_assert!(res.is_ok(), "{}", res.unwrap_err());
        }
    }
}
