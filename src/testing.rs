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

/// The GPU devices the differential tests run on, from `DCC_TEST_DEVICE`: unset or
/// `cuda-emu` → the emulator; `cuda` → the real GPU (an error if none is usable, so a
/// GPU run can never pass by skipping); `all` → both.
pub fn gpu_test_devices() -> Result<Vec<crate::tensor::Device>> {
    use crate::tensor::Device;
    let spec = std::env::var("DCC_TEST_DEVICE").unwrap_or_else(|_| "cuda-emu".into());
    let mut out = Vec::new();
    if spec == "cuda-emu" || spec == "all" {
        out.push(Device::CudaEmu);
    }
    if spec == "cuda" || spec == "all" {
        if let Err(why) = crate::cuda::probe_cuda() {
            anyhow::bail!("DCC_TEST_DEVICE={spec} but no GPU is usable: {why}");
        }
        out.push(Device::Cuda(0));
    }
    if out.is_empty() {
        anyhow::bail!("DCC_TEST_DEVICE={spec}: expected cuda-emu, cuda or all");
    }
    Ok(out)
}

/// Runs `build` on the CPU and on `device` over the same inputs and output gradient and
/// compares the output and every input gradient with `tol`; the error names the
/// quantity, its shape, the first mismatching index and both values.
pub fn compare_devices(
    device: crate::tensor::Device,
    what: &str,
    inputs: &[Tensor],
    build: &dyn Fn(&mut Tape, &[Var]) -> Result<Var>,
    tol: Tol,
) -> Result<(), String> {
    let run = |pool: &Pool| -> Result<(Tensor, Vec<Option<Tensor>>)> {
        let mut tape = Tape::new(pool);
        let vars: Vec<Var> = inputs
            .iter()
            .map(|t| Ok(tape.input(t.to_pool(pool)?)))
            .collect::<Result<_>>()?;
        let out = build(&mut tape, &vars)?;
        let shape = tape.shape(out);
        let seed = Tensor::from_vec(shape, seed_values(shape.numel(), 99))?.to_pool(pool)?;
        let y = tape.value(out).to_host()?;
        let grads = tape.backward_with(out, seed)?;
        let g = vars
            .iter()
            .map(|&v| grads.get(v).map(|g| g.to_host()).transpose())
            .collect::<Result<_>>()?;
        Ok((y, g))
    };
    let (cy, cg) = run(&Pool::new()).map_err(|e| format!("{what} on cpu: {e:#}"))?;
    let pool = Pool::on(device).map_err(|e| format!("{what}: opening {device}: {e:#}"))?;
    let (gy, gg) = run(&pool).map_err(|e| format!("{what} on {device}: {e:#}"))?;
    let close = |name: String, got: &Tensor, want: &Tensor| -> Result<(), String> {
        assert_close(
            &format!("{name} {} ({device} vs cpu)", want.shape()),
            got.data(),
            &want.to_f64(),
            tol,
        )
    };
    close(format!("{what}: output"), &gy, &cy)?;
    for (i, (g, c)) in gg.iter().zip(&cg).enumerate() {
        match (g, c) {
            (Some(g), Some(c)) => close(format!("{what}: gradient of input {i}"), g, c)?,
            (None, None) => {}
            _ => {
                return Err(format!(
                    "{what}: input {i} has a gradient on one device only"
                ))
            }
        }
    }
    Ok(())
}
