//! The CCLP loss as one fused primitive: the forward pass computes the loss and dL/dZ
//! together; the backward only scales the saved gradient. Batches whose rows are all
//! labelled (training) take the f32 kernel that never forms an N×N matrix
//! (cpu/cclp_fused.rs); batches with unlabelled rows take the f64 host version
//! (cpu/cclp.rs), which solves for their propagated labels. On a GPU, all-labelled
//! batches run the same algorithm on the device (ops/cclp_gpu.rs); batches with
//! unlabelled rows are a host step there: Z is read back and dL/dZ uploaded once.

use crate::autograd::{Backward, BackwardCx, Saves, Tape, Var};
use crate::cpu::cclp::cclp;
use crate::cpu::cclp_fused::cclp_labelled;
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
        let out = super::scale_by_scalar_grad(cx, &self.grad)?;
        cx.accumulate(self.z, out)
    }
    fn name(&self) -> &'static str {
        "cclp"
    }
    fn saves(&self) -> Saves {
        Saves::Nothing
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
    let gpu = super::gpu_of(tape, "cclp", &[z])?;
    let all_labelled = labels.iter().copied().collect::<Option<Vec<usize>>>();
    if let (Some(gpu), Some(all)) = (&gpu, &all_labelled) {
        if super::cclp_gpu::supported(d) && labels.len() == n {
            let (out, grad) = super::cclp_gpu::cclp_labelled_gpu(
                gpu,
                tape.pool(),
                tape.value(z),
                n,
                d,
                all,
                classes,
                steps,
            )?;
            return Ok(tape.push(out, &[z], CclpBack { z, grad }));
        }
    }
    let host = tape.value(z).to_host()?;
    let (loss, grad) = match all_labelled {
        Some(all) => {
            let r = cclp_labelled(host.data(), n, d, &all, classes, steps)?;
            (r.loss, Tensor::from_vec([n, d], r.grad)?)
        }
        None => {
            let r = cclp(&host.to_f64(), n, d, labels, classes, steps)?;
            (r.loss, Tensor::from_f64([n, d], &r.grad)?)
        }
    };
    let out = super::scalar_on(tape, loss as f32)?;
    let grad = grad.to_pool(tape.pool())?;
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

    /// An isolated unlabelled latent (self-transition 0.9986): the reference once
    /// iterated its way to Φ_U and stopped 0.4 % short; it now solves for it.
    #[test]
    fn an_isolated_unlabelled_row_matches_the_reference() {
        let vals = [
            -1.268_473_5f32,
            -1.061_863_8,
            1.165_801_5,
            0.291_297_64,
            -1.107_896_3,
            -1.338_160_6,
            0.535_168_47,
            0.360_750_14,
            0.938_130_9,
            0.843_661_9,
            -1.268_012_8,
            -0.438_798_64,
        ];
        let labels = [Some(0), Some(0), None];
        let z: Vec<f64> = vals.iter().map(|&v| v as f64).collect();
        let fast = crate::cpu::cclp::cclp(&z, 3, 4, &labels, 1, 1)
            .unwrap()
            .loss;
        let slow = cclp_reference(&z, 3, 4, &labels, 1, 1);
        assert!((fast - slow).abs() < 1e-10 * slow.abs(), "{fast} vs {slow}");
    }

    /// The all-labelled CCLP written with primitives only (linear, softmax, transpose, ln, …).
    fn composed(
        tape: &mut Tape,
        z: Var,
        labels: &[usize],
        classes: usize,
        steps: usize,
    ) -> Result<Var> {
        use crate::ops::{arith, linear::linear, softmax::softmax, transpose::transpose};
        let n = labels.len();
        let counts: Vec<f32> = (0..classes)
            .map(|c| labels.iter().filter(|&&l| l == c).count() as f32)
            .collect();
        let same = |i: usize, j: usize| f32::from(labels[i] == labels[j]);
        let m: Vec<f32> = (0..n * n).map(|k| same(k / n, k % n)).collect();
        let q: Vec<f32> = (0..n * n)
            .map(|k| same(k / n, k % n) / (counts[labels[k / n]] + 1e-5))
            .collect();
        let m = tape.constant(Tensor::from_vec([n, n], m)?);
        let q = tape.constant(Tensor::from_vec([n, n], q)?);
        let a = linear(tape, z, z, None)?;
        let sm = softmax(tape, a)?;
        let sm = arith::scale(tape, sm, 1.0 - 1e-5)?;
        let t = arith::add_scalar(tape, sm, 1e-5 / n as f32)?;
        let tp = arith::mul(tape, t, m)?;
        let mut p = t;
        let mut total = None;
        for s in 0..steps {
            if s > 0 {
                let pt = transpose(tape, p)?;
                p = linear(tape, tp, pt, None)?;
            }
            let lp = arith::ln(tape, p)?;
            let qlp = arith::mul(tape, q, lp)?;
            let term = arith::mean(tape, qlp)?;
            total = Some(match total {
                None => term,
                Some(acc) => arith::add(tape, acc, term)?,
            });
        }
        arith::scale(tape, total.expect("steps ≥ 1"), -1.0 / steps as f32)
    }

    #[test]
    fn fused_cclp_matches_the_loss_composed_from_primitives() {
        let (n, d, classes) = (9, 4, 3);
        let labels: Vec<usize> = (0..n).map(|i| i % classes).collect();
        let z = Tensor::from_vec([n, d], crate::testing::seed_values(n * d, 11)).unwrap();
        let pool = crate::tensor::Pool::new();
        let run = |fused: bool| {
            let mut tape = Tape::new(&pool);
            let v = tape.input(z.clone());
            let l = if fused {
                let lab: Vec<Option<usize>> = labels.iter().map(|&l| Some(l)).collect();
                cclp_loss(&mut tape, v, &lab, classes, STEPS).unwrap()
            } else {
                composed(&mut tape, v, &labels, classes, STEPS).unwrap()
            };
            let value = tape.value(l).data()[0];
            let g = tape.backward(l).unwrap();
            (value, g.get(v).unwrap().data().to_vec())
        };
        let (lf, gf) = run(true);
        let (lc, gc) = run(false);
        assert!(
            (lf - lc).abs() < 1e-5 * lc.abs().max(1.0),
            "fused {lf} composed {lc}"
        );
        let want: Vec<f64> = gc.iter().map(|&v| v as f64).collect();
        crate::testing::assert_close("dL/dZ", &gf, &want, Tol::new(1e-5, 1e-3)).unwrap();
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
