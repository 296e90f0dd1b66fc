//! Benchmark building blocks shared by `dcc bench` and the criterion benches: the
//! sgemm ceiling, the primitive cases at the networks' shapes, peak memory.

use crate::autograd::{Tape, Var};
use crate::cpu::gemm::{sgemm, Operand, Par};
use crate::ops;
use crate::tensor::Tensor;
use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// Peak resident memory of this process, from /proc (None where unavailable).
pub fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Best wall time of `reps` runs of `f`, after one untimed run.
pub fn best_of(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Best sgemm GFLOP/s at 1024³ on one thread and on the whole pool.
pub fn gemm_ceiling() -> (f64, f64) {
    let n = 1024;
    let a: Vec<f32> = (0..n * n)
        .map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.1)
        .collect();
    let b: Vec<f32> = (0..n * n)
        .map(|i| ((i * 5 % 11) as f32 - 5.0) * 0.1)
        .collect();
    let mut c = vec![0.0f32; n * n];
    let flops = 2.0 * (n * n * n) as f64;
    let mut run = |par| {
        let t = best_of(5, || {
            sgemm(
                n,
                n,
                n,
                Operand::new(&a, n),
                Operand::new(&b, n),
                &mut c,
                n,
                false,
                par,
            )
        });
        flops / t / 1e9
    };
    let one = run(Par::Seq);
    let all = run(Par::All);
    // Checked so the timing cannot come from a kernel that skipped work.
    let want: f64 = (0..n).map(|p| a[p] as f64 * b[p * n] as f64).sum();
    assert!(
        (c[0] as f64 - want).abs() < 1e-2 * want.abs().max(1.0),
        "sgemm result wrong"
    );
    (one, all)
}

/// Uniform [0, 1) values of the given shape.
pub fn random_tensor(rng: &mut ChaCha8Rng, dims: &[usize]) -> Tensor {
    let n: usize = dims.iter().product();
    Tensor::from_vec(dims, (0..n).map(|_| rng.gen_range(0.0f32..1.0)).collect())
        .expect("length matches by construction")
}

/// Records one primitive on a tape over its input variables.
pub type BuildFn = Box<dyn Fn(&mut Tape, &[Var]) -> Result<Var>>;

/// One primitive at one shape.
pub struct Case {
    /// What and at which shape.
    pub name: String,
    /// Forward FLOPs (elements for memory-bound primitives).
    pub flops: f64,
    /// The inputs.
    pub inputs: Vec<Tensor>,
    /// Records the primitive on a tape.
    pub build: BuildFn,
}

fn conv_case(
    rng: &mut ChaCha8Rng,
    n: usize,
    i: usize,
    o: usize,
    hw: usize,
    k: usize,
    same: bool,
) -> Case {
    let p = if same {
        ops::conv2d::Conv2dParams::same(k)
    } else {
        ops::conv2d::Conv2dParams::valid()
    };
    let ho = if same { hw } else { hw - k + 1 };
    Case {
        name: format!(
            "conv{k}x{k} {i}→{o} @{hw}{}",
            if same { " same" } else { "" }
        ),
        flops: 2.0 * (n * o * ho * ho * i * k * k) as f64,
        inputs: vec![
            random_tensor(rng, &[n, i, hw, hw]),
            random_tensor(rng, &[o, i, k, k]),
            random_tensor(rng, &[o]),
        ],
        build: Box::new(move |t, v| ops::conv2d::conv2d(t, v[0], v[1], Some(v[2]), p)),
    }
}

/// The primitives at the shapes of the two networks, batch `n`.
pub fn primitive_cases(n: usize) -> Vec<Case> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut cases = vec![
        conv_case(&mut rng, n, 1, 8, 100, 3, false),
        conv_case(&mut rng, n, 8, 16, 49, 3, false),
        conv_case(&mut rng, n, 16, 32, 23, 3, false),
        conv_case(&mut rng, n, 32, 64, 10, 3, false),
        conv_case(&mut rng, n, 64, 128, 4, 3, false),
        conv_case(&mut rng, n, 2, 32, 100, 1, true),
        conv_case(&mut rng, n, 24, 32, 100, 3, true),
        conv_case(&mut rng, n, 4, 8, 100, 5, true),
        conv_case(&mut rng, n, 96, 128, 25, 3, true),
        conv_case(&mut rng, n, 256, 96, 25, 1, true),
    ];
    let lin = |rng: &mut ChaCha8Rng, i: usize, o: usize| Case {
        name: format!("linear {i}→{o}"),
        flops: 2.0 * (n * i * o) as f64,
        inputs: vec![
            random_tensor(rng, &[n, i]),
            random_tensor(rng, &[o, i]),
            random_tensor(rng, &[o]),
        ],
        build: Box::new(|t, v| ops::linear::linear(t, v[0], v[1], Some(v[2]))),
    };
    cases.push(lin(&mut rng, 9216, 256));
    cases.push(lin(&mut rng, 512, 256));
    cases.push(Case {
        name: "maxpool2x2 64ch @50".into(),
        flops: (n * 64 * 50 * 50) as f64,
        inputs: vec![random_tensor(&mut rng, &[n, 64, 50, 50])],
        build: Box::new(|t, v| ops::maxpool::max_pool2d(t, v[0], 2, 2, 0)),
    });
    cases.push(Case {
        name: "maxpool3x3 same 128ch @25".into(),
        flops: (n * 128 * 25 * 25 * 9) as f64,
        inputs: vec![random_tensor(&mut rng, &[n, 128, 25, 25])],
        build: Box::new(|t, v| ops::maxpool::max_pool2d(t, v[0], 3, 1, 1)),
    });
    cases.push(Case {
        name: "elu 64ch @50".into(),
        flops: (n * 64 * 50 * 50) as f64,
        inputs: vec![random_tensor(&mut rng, &[n, 64, 50, 50])],
        build: Box::new(|t, v| ops::activation::elu(t, v[0])),
    });
    cases
}

/// Best forward and backward seconds of a case over `reps` runs on `pool`'s device
/// (inputs uploaded once; a GPU is synchronised before every clock read).
pub fn time_case(c: &Case, pool: &crate::tensor::Pool, reps: usize) -> Result<(f64, f64)> {
    let sync = || -> Result<()> {
        if let Some(g) = pool.gpu() {
            g.synchronize()?;
        }
        Ok(())
    };
    let inputs: Vec<Tensor> = c
        .inputs
        .iter()
        .map(|t| t.to_pool(pool))
        .collect::<Result<_>>()?;
    let mut fwd = f64::INFINITY;
    let mut bwd = f64::INFINITY;
    for _ in 0..reps {
        let mut tape = Tape::new(pool);
        let vars: Vec<Var> = inputs.iter().map(|t| tape.frozen_input(t)).collect();
        sync()?;
        let t0 = Instant::now();
        let y = (c.build)(&mut tape, &vars)?;
        sync()?;
        fwd = fwd.min(t0.elapsed().as_secs_f64());
        let seed = tape.value(y).try_clone()?;
        sync()?;
        let t1 = Instant::now();
        let g = tape.backward_with(y, seed)?;
        sync()?;
        bwd = bwd.min(t1.elapsed().as_secs_f64());
        drop(g);
    }
    Ok((fwd, bwd))
}

/// The forward output and input gradients of a case on `pool`'s device, read back (to
/// check a device's timed results against the CPU's).
pub fn run_case(c: &Case, pool: &crate::tensor::Pool) -> Result<Vec<Tensor>> {
    let mut tape = Tape::new(pool);
    let vars: Vec<Var> = c
        .inputs
        .iter()
        .map(|t| Ok(tape.input(t.to_pool(pool)?)))
        .collect::<Result<_>>()?;
    let y = (c.build)(&mut tape, &vars)?;
    let seed = tape.value(y).try_clone()?;
    let g = tape.backward_with(y, seed)?;
    let mut out = vec![tape.value(y).to_host()?];
    for v in vars {
        if let Some(t) = g.get(v) {
            out.push(t.to_host()?);
        }
    }
    Ok(out)
}

/// Device-to-device copy bandwidth of `gpu` in GB/s (bytes read + written), best of 5
/// copies of 256 MiB.
pub fn device_copy_gbps(pool: &crate::tensor::Pool) -> Result<f64> {
    let Some(gpu) = pool.gpu() else {
        anyhow::bail!("device copy bandwidth asked of a host pool");
    };
    let n = 64 << 20;
    let a = Tensor::zeros_on(pool, [n])?;
    let b = Tensor::zeros_on(pool, [n])?;
    let mut best = f64::INFINITY;
    for _ in 0..6 {
        gpu.synchronize()?;
        let t = Instant::now();
        gpu.driver().dtod(b.ptr(), a.ptr(), n * 4)?;
        gpu.synchronize()?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(2.0 * (n * 4) as f64 / best / 1e9)
}
