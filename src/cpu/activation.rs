//! CPU kernels for the pointwise activations ELU (α = 1), SELU and ReLU, forward and
//! backward. The backward passes read the saved output only (never the input), so the
//! tape need not keep the pre-activation alive. Loops are branch-free selects over
//! `fastmath::expm1`, chunked for rayon by `arith::map`.

use super::arith::{map, CHUNK};
use super::fastmath::expm1;
use rayon::prelude::*;

/// ELU's α (PyTorch default).
pub const ELU_ALPHA: f32 = 1.0;
/// SELU's α (Klambauer et al. 2017, as in PyTorch).
pub const SELU_ALPHA: f32 = 1.673_263_2;
/// SELU's scale λ (as in PyTorch).
pub const SELU_SCALE: f32 = 1.050_701;
const SELU_ALPHA_F64: f64 = 1.673_263_242_354_377_2;
const SELU_SCALE_F64: f64 = 1.050_700_987_355_480_5;

pub use crate::kparams::Activation;

/// ELU (α = 1) of one value: the loop body every ELU kernel shares, so fused and unfused
/// passes give the same bits.
#[inline(always)]
pub fn elu(x: f32) -> f32 {
    let neg = ELU_ALPHA * expm1(x);
    if x > 0.0 {
        x
    } else {
        neg
    }
}

/// ELU's backward from its output: g for y > 0, g·(y + α) otherwise.
#[inline(always)]
pub fn elu_grad(g: f32, y: f32) -> f32 {
    if y > 0.0 {
        g
    } else {
        g * (y + ELU_ALPHA)
    }
}

/// out = act(x).
pub fn forward(act: Activation, out: &mut [f32], x: &[f32]) {
    match act {
        Activation::Relu => map(out, x, |x| x.max(0.0)),
        Activation::Elu => map(out, x, elu),
        Activation::Selu => map(out, x, |x| {
            let neg = (SELU_SCALE * SELU_ALPHA) * expm1(x);
            if x > 0.0 {
                SELU_SCALE * x
            } else {
                neg
            }
        }),
    }
}

/// g[i] = f(g[i], y[i]), in place.
fn update(g: &mut [f32], y: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) {
    g.par_chunks_mut(CHUNK)
        .zip(y.par_chunks(CHUNK))
        .for_each(|(g, y)| {
            for (g, &y) in g.iter_mut().zip(y) {
                *g = f(*g, y);
            }
        });
}

/// g ← g · act′, in place, written from the output y (y > 0 exactly where x > 0).
pub fn backward(act: Activation, g: &mut [f32], y: &[f32]) {
    match act {
        Activation::Relu => update(g, y, |g, y| if y > 0.0 { g } else { 0.0 }),
        Activation::Elu => update(g, y, elu_grad),
        Activation::Selu => update(g, y, |g, y| {
            if y > 0.0 {
                g * SELU_SCALE
            } else {
                g * (y + SELU_SCALE * SELU_ALPHA)
            }
        }),
    }
}

/// Naive f64 reference of `forward`.
pub fn forward_reference(act: Activation, x: &[f64]) -> Vec<f64> {
    x.iter()
        .map(|&x| match act {
            Activation::Relu => x.max(0.0),
            Activation::Elu if x > 0.0 => x,
            Activation::Elu => ELU_ALPHA as f64 * x.exp_m1(),
            Activation::Selu if x > 0.0 => SELU_SCALE_F64 * x,
            Activation::Selu => SELU_SCALE_F64 * SELU_ALPHA_F64 * x.exp_m1(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, seed_values, Tol};

    #[test]
    fn fast_activations_match_f64_reference_on_large_inputs() {
        let x: Vec<f32> = seed_values(100_003, 9).iter().map(|v| v * 12.0).collect();
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let mut y = vec![0.0; x.len()];
        for act in [Activation::Relu, Activation::Elu, Activation::Selu] {
            forward(act, &mut y, &x);
            let want = forward_reference(act, &x64);
            assert_close(act.name(), &y, &want, Tol::new(1e-7, 1e-6)).unwrap();
        }
    }

    #[test]
    fn selu_constants_match_pytorch() {
        assert_eq!(SELU_ALPHA, SELU_ALPHA_F64 as f32);
        assert_eq!(SELU_SCALE, SELU_SCALE_F64 as f32);
    }
}
