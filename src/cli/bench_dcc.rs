//! `dcc bench cclp` and `dcc bench knn`: the DCC-specific kernels on the inputs that
//! tools/torch_dcc_bench.py builds the same way, each result checked against its
//! reference before its time is printed.

use crate::bench::{best_of, peak_rss_bytes};
use crate::cpu::cclp::cclp as cclp_f64;
use crate::cpu::cclp_fused::cclp_labelled;
use crate::cuda::Gpu;
use crate::ops::cclp_gpu::cclp_labelled_gpu;
use crate::tensor::{Device, Pool, Tensor};
use crate::testing::seed_values;
use anyhow::{bail, Result};
use clap::Args as ClapArgs;

/// `dcc bench cclp` arguments.
#[derive(ClapArgs)]
pub struct CclpArgs {
    /// Batch sizes N, comma-separated.
    #[arg(long, default_value = "120,1024,4096")]
    n: String,
    /// Latent dimensions D.
    #[arg(long, default_value_t = 7)]
    d: usize,
    /// Classes (row i has class (5i + i/3) mod C).
    #[arg(long, default_value_t = 9)]
    classes: usize,
    /// Latent values are uniform in ±spread.
    #[arg(long, default_value_t = 1.5)]
    spread: f32,
    /// Timed repetitions (best kept), after one untimed run.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Largest N at which the f64 host version (N³ work) is also run and compared.
    #[arg(long, default_value_t = 1024)]
    check_max: usize,
    /// cpu, cuda, cuda:N or cuda-emu (a device run is checked against the CPU kernel).
    #[arg(long, default_value = "cpu")]
    device: String,
}

fn gib(b: u64) -> f64 {
    b as f64 / (1u64 << 30) as f64
}

/// Times the fused CCLP (and the f64 host version where N ≤ --check-max).
pub fn cclp(a: CclpArgs) -> Result<()> {
    let sizes: Vec<usize> =
        a.n.split(',')
            .map(|v| v.trim().parse())
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow::anyhow!("--n {}: {e}", a.n))?;
    println!(
        "dcc bench cclp: D = {}, {} classes, 3 steps, {} threads",
        a.d,
        a.classes,
        rayon::current_num_threads()
    );
    let pool = Pool::on(Device::select(&a.device)?)?;
    for n in sizes {
        if n == 0 {
            bail!("--n: batch sizes must be positive");
        }
        let z: Vec<f32> = seed_values(n * a.d, 1)
            .iter()
            .map(|v| v * a.spread)
            .collect();
        let labels: Vec<usize> = (0..n).map(|i| (i * 5 + i / 3) % a.classes).collect();
        if let Some(gpu) = pool.gpu() {
            cclp_device(gpu, &pool, &z, n, &labels, &a)?;
            continue;
        }
        let mut out = None;
        let t = best_of(a.reps, || {
            out = Some(cclp_labelled(&z, n, a.d, &labels, a.classes, 3).expect("valid input"))
        });
        let f = out.expect("ran");
        let gmax = f.grad.iter().fold(0f32, |m, v| m.max(v.abs()));
        print!(
            "dcc cclp n={n}: fused f32 {:.3} ms fwd+bwd, loss {:.7e}, |dZ|max {gmax:.4e}",
            t * 1e3,
            f.loss
        );
        if n <= a.check_max {
            let zf: Vec<f64> = z.iter().map(|&v| v as f64).collect();
            let lab: Vec<Option<usize>> = labels.iter().map(|&l| Some(l)).collect();
            let mut exact = None;
            let t64 = best_of(1, || {
                exact = Some(cclp_f64(&zf, n, a.d, &lab, a.classes, 3).expect("valid input"))
            });
            let e = exact.expect("ran");
            let rel = (f.loss - e.loss).abs() / e.loss.abs();
            let emax = e.grad.iter().fold(0f64, |m, v| m.max(v.abs()));
            let gerr = f
                .grad
                .iter()
                .zip(&e.grad)
                .fold(0f64, |m, (&x, &y)| m.max((x as f64 - y).abs()))
                / emax;
            print!(
                "; f64 host {:.3} ms ({:.1}× slower); vs f64: loss rel {rel:.1e}, dZ max err {gerr:.1e} of |dZ|max",
                t64 * 1e3,
                t64 / t
            );
            if rel > 1e-4 || gerr > 1e-3 {
                println!();
                bail!("fused CCLP disagrees with the f64 version at n = {n}");
            }
        }
        println!();
    }
    if let Some(b) = peak_rss_bytes() {
        println!("peak RSS {:.2} GiB", gib(b));
    }
    Ok(())
}

/// One CCLP size on a GPU: timed with a synchronisation, checked against the CPU kernel.
fn cclp_device(
    gpu: &Gpu,
    pool: &Pool,
    z: &[f32],
    n: usize,
    labels: &[usize],
    a: &CclpArgs,
) -> Result<()> {
    let zd = Tensor::from_vec([n, a.d], z.to_vec())?.to_pool(pool)?;
    let run = || -> Result<(Tensor, Tensor)> {
        let r = cclp_labelled_gpu(gpu, pool, &zd, n, a.d, labels, a.classes, 3)?;
        gpu.synchronize()?;
        Ok(r)
    };
    run()?;
    let mut out = None;
    let t = best_of(a.reps, || out = Some(run()));
    let (loss, grad) = out.expect("ran")?;
    let loss = loss.to_host()?.data()[0] as f64;
    let grad = grad.to_host()?.into_vec();
    let cpu = cclp_labelled(z, n, a.d, labels, a.classes, 3)?;
    let rel = (loss - cpu.loss).abs() / cpu.loss.abs();
    let gmax = cpu.grad.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
    let gerr = grad
        .iter()
        .zip(&cpu.grad)
        .fold(0f64, |m, (&x, &y)| m.max((x as f64 - y as f64).abs()))
        / gmax;
    println!(
        "dcc cclp n={n} on {}: {:.3} ms fwd+bwd, loss {loss:.7e}; vs the CPU kernel: loss rel {rel:.1e}, dZ max err {gerr:.1e} of |dZ|max",
        gpu.device(),
        t * 1e3
    );
    if rel > 1e-4 || gerr > 1e-3 {
        bail!("the device CCLP disagrees with the CPU kernel at n = {n}");
    }
    Ok(())
}

/// `dcc bench knn` arguments.
#[derive(ClapArgs)]
pub struct KnnArgs {
    /// Query latents.
    #[arg(long, default_value_t = 10_000)]
    queries: usize,
    /// Reference latents.
    #[arg(long, default_value_t = 100_000)]
    refs: usize,
    /// Latent dimensions.
    #[arg(long, default_value_t = 7)]
    d: usize,
    /// Neighbours.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Timed repetitions (best kept), after one untimed run.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// cpu, cuda, cuda:N or cuda-emu (a device run is checked against the CPU kernel).
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Times k-nearest-neighbour distances (with the sqrt and index output `dcc infer`
/// uses), checks a sample of queries against an f64 full sort, and prints the rate
/// beside the sgemm ceiling.
pub fn knn(a: KnnArgs) -> Result<()> {
    if a.queries == 0 || a.d == 0 || a.k == 0 || a.refs < a.k {
        bail!("--queries, --d and --k must be positive and --refs at least --k");
    }
    let (_, ceiling) = crate::bench::gemm_ceiling();
    let q = seed_values(a.queries * a.d, 5);
    let r = seed_values(a.refs * a.d, 9);
    let pool = Pool::on(Device::select(&a.device)?)?;
    let mut out = None;
    let t = best_of(a.reps, || {
        out = Some(crate::dcc::knn::nearest_on(&pool, &q, &r, a.d, a.k, false))
    });
    let nb = out.expect("ran")?;
    let pairs = a.queries as f64 * a.refs as f64;
    // Flops of the direct form: a subtraction, a multiplication and an addition per dim.
    let gflops = 3.0 * a.d as f64 * pairs / t / 1e9;
    let kth: f64 = nb.dist.chunks(a.k).map(|row| row[a.k - 1] as f64).sum();
    println!(
        "dcc knn {}x{} d={} k={} on {} ({} threads): {t:.3} s, {:.2e} pairs/s, {gflops:.1} GFLOP/s (3·D per pair) against an sgemm ceiling of {ceiling:.1}; sum of k-th distances {kth:.6e}",
        a.queries, a.refs, a.d, a.k, pool.device(), rayon::current_num_threads(), pairs / t
    );
    if pool.gpu().is_none() {
        // Each task of 16 queries streams every reference once (from cache or DRAM).
        let bytes = (a.queries.div_ceil(16) * a.refs * a.d * 4) as f64;
        println!(
            "  {:.1} GB/s of reference reads ({:.0} % of the sgemm ceiling's FLOP rate reached)",
            bytes / t / 1e9,
            100.0 * gflops / ceiling
        );
    }
    // Check: 64 evenly spread queries against an f64 full sort.
    let step = a.queries.div_ceil(64);
    let mut worst = 0f64;
    for i in (0..a.queries).step_by(step) {
        let qi = &q[i * a.d..(i + 1) * a.d];
        let mut all: Vec<f64> = r
            .chunks(a.d)
            .map(|rj| {
                let s: f64 = qi
                    .iter()
                    .zip(rj)
                    .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
                    .sum();
                s.sqrt()
            })
            .collect();
        all.select_nth_unstable_by(a.k - 1, f64::total_cmp);
        let mut head = all[..a.k].to_vec();
        head.sort_by(f64::total_cmp);
        for (g, w) in nb.dist[i * a.k..(i + 1) * a.k].iter().zip(&head) {
            worst = worst.max((*g as f64 - w).abs() / w.max(1e-30));
        }
    }
    println!(
        "  checked {} queries against an f64 full sort: max relative error {worst:.1e}",
        a.queries.div_ceil(step)
    );
    if worst > 1e-5 {
        bail!("tiled kNN disagrees with the f64 reference");
    }
    if let Some(b) = peak_rss_bytes() {
        println!("  peak RSS {:.2} GiB", gib(b));
    }
    Ok(())
}
