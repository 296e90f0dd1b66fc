//! Reshape and flatten: the same elements in row-major order under a new shape; the
//! backward rule reshapes the gradient back without copying it.

use crate::autograd::{Backward, BackwardCx, Saves, Tape, Var};
use crate::tensor::{Shape, MAX_RANK};
use anyhow::{bail, Result};

struct ReshapeBack(Var, Shape);
impl Backward for ReshapeBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        let g = cx.take_grad_out().reshape(self.1)?;
        cx.accumulate(self.0, g)
    }
    fn name(&self) -> &'static str {
        "reshape"
    }
    fn saves(&self) -> Saves {
        Saves::Nothing
    }
}

/// x with the same elements under `shape` (same element count).
pub fn reshape(tape: &mut Tape, x: Var, shape: &[usize]) -> Result<Var> {
    let from = tape.shape(x);
    if shape.len() > MAX_RANK {
        bail!("reshape: target {shape:?} has more than {MAX_RANK} dimensions (from {from})");
    }
    let to = Shape::new(shape);
    if to.numel() != from.numel() {
        bail!(
            "reshape: cannot reshape {from} ({} elements) to {to} ({} elements)",
            from.numel(),
            to.numel()
        );
    }
    // The tape keeps the input alive, so the output needs its own storage.
    let out = tape.value(x).copy_in(tape.pool()).reshape(to)?;
    Ok(tape.push(out, &[x], ReshapeBack(x, from)))
}

/// N×C×H×W (any rank ≥ 2) → N×(C·H·W), keeping dimension 0.
pub fn flatten(tape: &mut Tape, x: Var) -> Result<Var> {
    let s = tape.shape(x);
    if s.rank() < 2 {
        bail!("flatten: expected a tensor of rank ≥ 2, found shape {s}");
    }
    let n = s.dim(0);
    reshape(tape, x, &[n, s.dims()[1..].iter().product()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::{Pool, Tensor};
    use crate::testing::{check_gradients, seed_values, GradCheck};

    #[test]
    fn flatten_keeps_elements_and_passes_gradients_back() {
        let x = Tensor::from_vec([2, 3, 2, 2], seed_values(24, 1)).unwrap();
        let r = check_gradients(
            &[x],
            &|tp, v| {
                let f = flatten(tp, v[0])?;
                assert_eq!(tp.shape(f).dims(), &[2, 12]);
                reshape(tp, f, &[4, 6])
            },
            &|x| x[0].clone(),
            &GradCheck::default(),
        );
        r.unwrap();
    }

    #[test]
    fn reshape_errors_name_both_shapes() {
        let pool = Pool::new();
        let mut tape = Tape::new(&pool);
        let x = tape.input(Tensor::zeros([2, 3]));
        let e = reshape(&mut tape, x, &[4, 2]).unwrap_err().to_string();
        assert!(e.contains("[2×3]") && e.contains("[4×2]"), "{e}");
        assert!(reshape(&mut tape, x, &[1; 7]).is_err());
        let v = tape.input(Tensor::zeros([3]));
        assert!(flatten(&mut tape, v)
            .unwrap_err()
            .to_string()
            .contains("[3]"));
    }
}
