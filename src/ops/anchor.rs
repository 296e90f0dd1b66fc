//! The distance anchor of the DCC loss: for each known set present in the batch, the
//! lower median m_c of latent dimension 0 over its rows is pulled to the set's label
//! y_c; L = mean over those sets of (m_c − y_c)². The gradient reaches only the one
//! median element of each set. Unknown sets (target None) take no part.

use crate::autograd::{Backward, BackwardCx, Saves, Tape, Var};
use crate::tensor::Tensor;
use anyhow::{bail, Result};

struct AnchorBack {
    z: Var,
    /// dL/dz with a unit output gradient: dL/dz[row, 0] at each set's median row.
    pattern: Tensor,
}

impl Backward for AnchorBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        let out = super::scale_by_scalar_grad(cx, &self.pattern)?;
        cx.accumulate(self.z, out)
    }
    fn name(&self) -> &'static str {
        "distance_anchor"
    }
    fn saves(&self) -> Saves {
        Saves::Nothing
    }
}

/// Distance-anchor loss of `z` (N×D): `row_classes[i]` is row i's set, `targets[s]` set s's
/// label (None for an unknown set). Zero, with zero gradient, when no known set is present.
pub fn distance_anchor(
    tape: &mut Tape,
    z: Var,
    row_classes: &[usize],
    targets: &[Option<f32>],
) -> Result<Var> {
    let [n, d] = tape.shape(z).matrix("distance_anchor: Z")?;
    if row_classes.len() != n || d == 0 {
        bail!(
            "distance_anchor: {} set indices for {n} rows of width {d}",
            row_classes.len()
        );
    }
    if let Some((i, &s)) = row_classes
        .iter()
        .enumerate()
        .find(|(_, &s)| s >= targets.len())
    {
        bail!(
            "distance_anchor: row {i} is in set {s}, but only {} sets have targets",
            targets.len()
        );
    }
    super::gpu_of(tape, "distance_anchor", &[z])?;
    let zh = tape.value(z).to_host()?;
    let zv = zh.data();
    let mut terms = Vec::new();
    for (s, target) in targets.iter().enumerate() {
        let Some(y) = target else { continue };
        let mut rows: Vec<usize> = (0..n).filter(|&i| row_classes[i] == s).collect();
        if rows.is_empty() {
            continue;
        }
        rows.sort_by(|&a, &b| zv[a * d].total_cmp(&zv[b * d]).then(a.cmp(&b)));
        let row = rows[(rows.len() - 1) / 2];
        terms.push((row, zv[row * d] - y));
    }
    let k = terms.len().max(1) as f32;
    let loss: f32 = terms.iter().map(|(_, e)| e * e).sum::<f32>() / k;
    let mut pattern = Tensor::zeros([n, d]);
    for &(row, e) in &terms {
        pattern.data_mut()[row * d] = 2.0 * e / k;
    }
    let pattern = pattern.to_pool(tape.pool())?;
    let out = super::scalar_on(tape, loss)?;
    Ok(tape.push(out, &[z], AnchorBack { z, pattern }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Pool;

    #[test]
    fn anchor_uses_the_lower_median_and_skips_unknown_sets() {
        let pool = Pool::new();
        let mut tape = Tape::new(&pool);
        // Set 0 rows (z0): 0.9, 0.1, 0.5, 0.7 → lower median 0.5; set 1 is unknown.
        let z = tape.input(
            Tensor::from_vec([5, 2], vec![0.9, 0., 0.1, 0., 0.5, 0., 3.0, 0., 0.7, 0.]).unwrap(),
        );
        let l = distance_anchor(&mut tape, z, &[0, 0, 0, 1, 0], &[Some(0.2), None]).unwrap();
        assert!((tape.value(l).data()[0] - 0.09).abs() < 1e-6);
        let g = tape.backward(l).unwrap();
        let g = g.get(z).unwrap().data();
        assert!((g[4] - 0.6).abs() < 1e-6, "{g:?}");
        assert_eq!(g.iter().filter(|v| **v != 0.0).count(), 1);
    }

    #[test]
    fn anchor_averages_over_present_known_sets() {
        let pool = Pool::new();
        let mut tape = Tape::new(&pool);
        let z = tape.input(Tensor::from_vec([2, 1], vec![1.0, 0.0]).unwrap());
        let l = distance_anchor(&mut tape, z, &[0, 1], &[Some(0.0), Some(1.0), Some(0.5)]).unwrap();
        assert!((tape.value(l).data()[0] - 1.0).abs() < 1e-6);
        let g = tape.backward(l).unwrap();
        assert_eq!(g.get(z).unwrap().data(), &[1.0, -1.0]);
    }

    #[test]
    fn anchor_without_known_sets_is_zero() {
        let pool = Pool::new();
        let mut tape = Tape::new(&pool);
        let z = tape.input(Tensor::from_vec([2, 1], vec![1.0, 0.0]).unwrap());
        let l = distance_anchor(&mut tape, z, &[0, 0], &[None]).unwrap();
        assert_eq!(tape.value(l).data()[0], 0.0);
        assert!(distance_anchor(&mut tape, z, &[0, 3], &[None]).is_err());
    }
}
