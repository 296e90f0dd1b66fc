//! Dropout (elementwise) and channel dropout (Dropout2d: whole feature maps), with
//! survivors scaled by 1/(1 − p). Masks come from a counter-based hash of (seed, index)
//! and are recomputed in backward, so nothing but the seed is saved. With `training`
//! false or p = 0 both return their input unchanged and record nothing.

use crate::autograd::{Backward, BackwardCx, Saves, Tape, Var};
use crate::cpu::dropout::{self as k, Mask};
use crate::cuda::ops as cu;
use crate::tensor::{Pool, Tensor};
use anyhow::{bail, Result};

/// x ⊙ mask on x's device: per element (inner None) or per block of `inner` elements.
fn apply_mask(pool: &Pool, mask: &Mask, inner: Option<usize>, x: &Tensor) -> Result<Tensor> {
    if let Some(gpu) = x.gpu() {
        let out = Tensor::alloc_in(pool, x.shape())?;
        cu::dropout(gpu, mask, inner.unwrap_or(1), x.ptr(), out.ptr(), x.numel())?;
        return Ok(out);
    }
    let mut out = Tensor::uninit_in(pool, x.shape());
    match inner {
        None => k::apply(mask, out.data_mut(), x.data()),
        Some(inner) => k::apply_blocks(mask, out.data_mut(), x.data(), inner),
    }
    Ok(out)
}

struct DropoutBack {
    x: Var,
    mask: Mask,
    /// Elements per mask draw: 1 for dropout, H·W for channel dropout.
    inner: Option<usize>,
}

impl Backward for DropoutBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        let dx = apply_mask(cx.pool(), &self.mask, self.inner, cx.grad_out())?;
        cx.accumulate(self.x, dx)
    }
    fn name(&self) -> &'static str {
        if self.inner.is_some() {
            "channel_dropout"
        } else {
            "dropout"
        }
    }
    fn saves(&self) -> Saves {
        Saves::Nothing
    }
}

/// A dropout seed for one layer at one training step, derived from the run's seed:
/// distinct layers and steps get unrelated masks, and a resumed run gets the same ones.
pub fn layer_seed(run_seed: u64, step: u64, layer: u64) -> u64 {
    crate::seed::derive(run_seed, step, layer)
}

pub(crate) fn check_p(what: &str, p: f32) -> Result<()> {
    if !(0.0..=1.0).contains(&p) {
        bail!("{what}: drop probability p must be in [0, 1], found {p}");
    }
    Ok(())
}

/// Zeroes each element with probability p and scales survivors by 1/(1 − p).
pub fn dropout(tape: &mut Tape, x: Var, p: f32, seed: u64, training: bool) -> Result<Var> {
    check_p("dropout", p)?;
    if !training || p == 0.0 {
        return Ok(x);
    }
    let mask = Mask::new(seed, p);
    super::gpu_of(tape, "dropout", &[x])?;
    let out = apply_mask(tape.pool(), &mask, None, tape.value(x))?;
    Ok(tape.push(
        out,
        &[x],
        DropoutBack {
            x,
            mask,
            inner: None,
        },
    ))
}

/// Zeroes each whole feature map (n, c) of an N×C×… tensor with probability p (one draw
/// per (n, c)) and scales survivors by 1/(1 − p), like PyTorch's Dropout2d.
pub fn channel_dropout(tape: &mut Tape, x: Var, p: f32, seed: u64, training: bool) -> Result<Var> {
    check_p("channel_dropout", p)?;
    let shape = tape.shape(x);
    if shape.rank() < 2 {
        bail!("channel_dropout: expected an N×C×… tensor of rank ≥ 2, found shape {shape}");
    }
    if !training || p == 0.0 {
        return Ok(x);
    }
    let inner: usize = shape.dims()[2..].iter().product();
    let mask = Mask::new(seed, p);
    super::gpu_of(tape, "channel_dropout", &[x])?;
    let out = apply_mask(tape.pool(), &mask, Some(inner), tape.value(x))?;
    Ok(tape.push(
        out,
        &[x],
        DropoutBack {
            x,
            mask,
            inner: Some(inner),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Pool;
    use crate::testing::{check_gradients, seed_values, GradCheck};
    use proptest::prelude::*;

    fn run(x: Tensor, p: f32, seed: u64, channel: bool) -> (Vec<f32>, Vec<f32>) {
        let pool = Pool::new();
        let mut tape = Tape::new(&pool);
        let v = tape.input(x);
        let y = if channel {
            channel_dropout(&mut tape, v, p, seed, true).unwrap()
        } else {
            dropout(&mut tape, v, p, seed, true).unwrap()
        };
        let g = Tensor::from_vec(tape.shape(y), seed_values(tape.value(y).numel(), 5)).unwrap();
        let grads = tape.backward_with(y, g).unwrap();
        (
            tape.value(y).data().to_vec(),
            grads.get(v).unwrap().data().to_vec(),
        )
    }

    #[test]
    fn dropout_drops_a_fraction_p_with_a_repeatable_mask() {
        for p in [0.05f32, 0.1, 0.5, 0.9] {
            let n = 200_000;
            let (y, dx) = run(Tensor::full([n], 1.0), p, 11, false);
            let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / n as f64;
            assert!(
                (dropped - p as f64).abs() < 0.005,
                "p {p}: dropped {dropped}"
            );
            let scale = 1.0 / (1.0 - p);
            assert!(y.iter().all(|&v| v == 0.0 || v == scale));
            let g = seed_values(n, 5);
            for i in 0..n {
                assert_eq!(dx[i], y[i] * g[i], "p {p} index {i}");
            }
            assert_eq!(run(Tensor::full([n], 1.0), p, 11, false).0, y);
            assert_ne!(run(Tensor::full([n], 1.0), p, 12, false).0, y);
        }
    }

    #[test]
    fn channel_dropout_zeroes_whole_feature_maps_at_rate_p() {
        let (n, c, h, w) = (64, 100, 3, 5);
        let p = 0.2;
        let (y, dx) = run(Tensor::full([n, c, h, w], 1.0), p, 3, true);
        let maps: Vec<&[f32]> = y.chunks(h * w).collect();
        assert!(maps.iter().all(|m| m.iter().all(|&v| v == m[0])));
        let dropped = maps.iter().filter(|m| m[0] == 0.0).count() as f64 / (n * c) as f64;
        assert!((dropped - p as f64).abs() < 0.03, "dropped {dropped}");
        let g = seed_values(y.len(), 5);
        assert!((0..y.len()).all(|i| dx[i] == y[i] * g[i]));
        assert_eq!(run(Tensor::full([n, c, h, w], 1.0), p, 3, true).0, y);
    }

    #[test]
    fn layer_seeds_are_the_seed_modules_derivation() {
        // Distinctness and golden values are tested in `seed`; dropout only names its purpose.
        assert_eq!(layer_seed(1, 5, 3), crate::seed::derive(1, 5, 3));
    }

    #[test]
    fn dropout_is_identity_outside_training_and_at_p_zero() {
        let pool = Pool::new();
        let mut tape = Tape::new(&pool);
        let x = tape.input(Tensor::full([2, 3, 4, 4], 1.0));
        assert_eq!(dropout(&mut tape, x, 0.5, 1, false).unwrap(), x);
        assert_eq!(dropout(&mut tape, x, 0.0, 1, true).unwrap(), x);
        assert_eq!(channel_dropout(&mut tape, x, 0.5, 1, false).unwrap(), x);
        assert_eq!(tape.node_count(), 0);
        assert!(dropout(&mut tape, x, 1.5, 1, true)
            .unwrap_err()
            .to_string()
            .contains("1.5"));
        let v = tape.input(Tensor::zeros([5]));
        let e = channel_dropout(&mut tape, v, 0.1, 1, true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("[5]"), "{e}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn dropout_matches_finite_differences(n in 1usize..4, c in 1usize..5, hw in 1usize..6,
                                              seed in 0u64..100, channel: bool) {
            let x = Tensor::from_vec([n, c, hw], seed_values(n * c * hw, seed)).unwrap();
            let mask = Mask::new(seed, 0.4);
            let r = check_gradients(&[x], &|tp, v| if channel {
                channel_dropout(tp, v[0], 0.4, seed, true)
            } else {
                dropout(tp, v[0], 0.4, seed, true)
            }, &|x| x[0].iter().enumerate().map(|(i, &v)| {
                let draw = if channel { i / hw } else { i };
                v * mask.factor(draw as u64) as f64
            }).collect(), &GradCheck::default());
            prop_assert!(r.is_ok(), "{}", r.unwrap_err());
        }
    }
}
