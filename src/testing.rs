//! Test support shared by unit tests, integration tests and the property tests of every
//! primitive: a gradient check against central finite differences of an f64 reference,
//! and tolerant comparison. Not used by the product itself.

use crate::autograd::{Tape, Var};
use crate::tensor::{Pool, Tensor};
use anyhow::Result;

/// Tolerance `atol + rtol·|reference|`, as in llm.c's `validate_result`.
#[derive(Clone, Copy, Debug)]
pub struct Tol {
    /// Absolute part.
    pub atol: f64,
    /// Relative part.
    pub rtol: f64,
}

impl Tol {
    /// A tolerance from its two parts.
    pub const fn new(atol: f64, rtol: f64) -> Tol {
        Tol { atol, rtol }
    }
}

/// Compares `got` with `want` elementwise; the error names the first mismatch.
pub fn assert_close(what: &str, got: &[f32], want: &[f64], tol: Tol) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!(
            "{what}: {} values, reference has {}",
            got.len(),
            want.len()
        ));
    }
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let g = g as f64;
        if !g.is_finite() || (g - w).abs() > tol.atol + tol.rtol * w.abs() {
            return Err(format!(
                "{what}[{i}]: got {g}, reference {w} (|diff| {:.3e} > {:.1e} + {:.1e}·|ref|)",
                (g - w).abs(),
                tol.atol,
                tol.rtol
            ));
        }
    }
    Ok(())
}

/// Settings of a gradient check.
#[derive(Clone, Debug)]
pub struct GradCheck {
    /// Tolerance of the fast forward against the f64 reference.
    pub forward: Tol,
    /// Tolerance of the analytic gradient against central differences.
    pub grad: Tol,
    /// Finite-difference step (in f64).
    pub step: f64,
    /// Inputs recorded as constants: no gradient expected or checked.
    pub constant: Vec<usize>,
}

impl Default for GradCheck {
    fn default() -> Self {
        GradCheck {
            forward: Tol::new(1e-5, 1e-4),
            grad: Tol::new(1e-4, 1e-3),
            step: 1e-6,
            constant: Vec::new(),
        }
    }
}

/// Deterministic values in [-1, 1) for an upstream gradient.
pub fn seed_values(n: usize, salt: u64) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let mut z = (i as u64 ^ salt.rotate_left(17)).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Runs `build` on a tape over `inputs`, compares its output with `reference` (an f64
/// forward of the same op), then compares every input gradient of L = Σ g ⊙ out
/// (g random) with central finite differences of L computed through `reference`.
pub fn check_gradients(
    inputs: &[Tensor],
    build: &dyn Fn(&mut Tape, &[Var]) -> Result<Var>,
    reference: &dyn Fn(&[Vec<f64>]) -> Vec<f64>,
    cfg: &GradCheck,
) -> Result<(), String> {
    let pool = Pool::new();
    let mut tape = Tape::new(&pool);
    let vars: Vec<Var> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if cfg.constant.contains(&i) {
                tape.constant(t.clone())
            } else {
                tape.input(t.clone())
            }
        })
        .collect();
    let out = build(&mut tape, &vars).map_err(|e| format!("forward failed: {e:#}"))?;
    let x64: Vec<Vec<f64>> = inputs.iter().map(|t| t.to_f64()).collect();
    let want = reference(&x64);
    assert_close("forward", tape.value(out).data(), &want, cfg.forward)?;

    let g = seed_values(want.len(), want.len() as u64);
    let seed = Tensor::from_vec(tape.shape(out), g.clone()).map_err(|e| e.to_string())?;
    let grads = tape
        .backward_with(out, seed)
        .map_err(|e| format!("backward failed: {e:#}"))?;
    let loss = |x: &[Vec<f64>]| -> f64 {
        reference(x)
            .iter()
            .zip(&g)
            .map(|(y, g)| y * *g as f64)
            .sum()
    };
    for (i, v) in vars.iter().enumerate() {
        if cfg.constant.contains(&i) {
            continue;
        }
        let zeros = vec![0.0; inputs[i].numel()];
        let analytic = grads.get(*v).map(|t| t.data().to_vec()).unwrap_or(zeros);
        let mut x = x64.clone();
        let mut numeric = Vec::with_capacity(analytic.len());
        for j in 0..x[i].len() {
            let orig = x[i][j];
            let h = cfg.step * orig.abs().max(1.0);
            x[i][j] = orig + h;
            let up = loss(&x);
            x[i][j] = orig - h;
            let down = loss(&x);
            x[i][j] = orig;
            numeric.push((up - down) / (2.0 * h));
        }
        assert_close(&format!("grad of input {i}"), &analytic, &numeric, cfg.grad)?;
    }
    Ok(())
}
