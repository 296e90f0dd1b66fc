//! The CCLP loss as one fused primitive: the forward pass computes the loss and dL/dZ
//! together (cpu/cclp.rs); the backward only scales the saved gradient.

use crate::autograd::{Backward, BackwardCx, Tape, Var};
use crate::cpu::cclp::cclp;
use crate::tensor::Tensor;
use anyhow::Result;

/// Label-propagation steps of the paper (S).
pub const STEPS: usize = 3;

struct CclpBack {
    z: Var,
    grad: Tensor,
}

impl Backward for CclpBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        let g = cx.grad_out().data()[0];
        let mut out = Tensor::uninit_in(cx.pool(), self.grad.shape());
        for (o, v) in out.data_mut().iter_mut().zip(self.grad.data()) {
            *o = g * v;
        }
        cx.accumulate(self.z, out)
    }
    fn name(&self) -> &'static str {
        "cclp"
    }
}

/// CCLP loss of latents `z` (N×D) with class labels (None = unlabelled), `classes`
/// classes and `steps` propagation steps; a one-element tensor.
pub fn cclp_loss(
    tape: &mut Tape,
    z: Var,
    labels: &[Option<usize>],
    classes: usize,
    steps: usize,
) -> Result<Var> {
    let [n, d] = tape.shape(z).matrix("cclp: Z")?;
    let zf = tape.value(z).to_f64();
    let r = cclp(&zf, n, d, labels, classes, steps)?;
    let mut out = Tensor::uninit_in(tape.pool(), [1]);
    out.data_mut()[0] = r.loss as f32;
    let grad = Tensor::from_f64([n, d], &r.grad)?;
    Ok(tape.push(out, &[z], CclpBack { z, grad }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::cclp::cclp_reference;
    use crate::testing::{check_gradients, GradCheck, Tol};
    use proptest::prelude::*;

    fn labels_from(codes: &[u8], classes: usize) -> Vec<Option<usize>> {
        // Code 255 marks an unlabelled row; row 0 is always labelled.
        codes
            .iter()
            .enumerate()
            .map(|(i, &c)| (c != 255 || i == 0).then_some(c as usize % classes))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn cclp_matches_reference_and_finite_differences(
            (n, d) in (2usize..8, 1usize..5),
            classes in 1usize..4,
            vals in prop::collection::vec(-1.5f32..1.5, 40),
            codes in prop::collection::vec(prop_oneof![0u8..4, Just(255u8)], 8),
            steps in 1usize..4,
        ) {
            let labels = labels_from(&codes[..n], classes);
            let z = Tensor::from_vec([n, d], vals[..n * d].to_vec()).unwrap();
            let cfg = GradCheck { forward: Tol::new(1e-5, 1e-4), grad: Tol::new(2e-5, 2e-3), ..Default::default() };
            let l2 = labels.clone();
            let r = check_gradients(&[z], &|t, v| cclp_loss(t, v[0], &labels, classes, steps),
                &|x| vec![cclp_reference(&x[0], n, d, &l2, classes, steps)], &cfg);
            prop_assert!(r.is_ok(), "{}", r.unwrap_err());
        }
    }

    #[test]
    fn tight_separated_clusters_have_lower_loss_than_mixed_ones() {
        let labels: Vec<Option<usize>> = (0..6).map(|i| Some(i / 3)).collect();
        let tight = [
            3.0, 0.0, 3.1, 0.1, 2.9, -0.1, -3.0, 0.0, -3.1, 0.1, -2.9, -0.1,
        ];
        let mixed = [
            3.0, 0.0, -3.1, 0.1, 2.9, -0.1, -3.0, 0.0, 3.1, 0.1, -2.9, -0.1,
        ];
        let a = cclp(&tight, 6, 2, &labels, 2, STEPS).unwrap().loss;
        let b = cclp(&mixed, 6, 2, &labels, 2, STEPS).unwrap().loss;
        assert!(a < b, "tight {a} vs mixed {b}");
    }

    #[test]
    fn cclp_rejects_bad_labels() {
        let z = [0.0; 4];
        let e = cclp(&z, 2, 2, &[Some(0), Some(5)], 2, 3)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("row 1") && e.contains("class 5"), "{e}");
        let e = cclp(&z, 2, 2, &[None, None], 2, 3)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("no labelled row"), "{e}");
    }
}
