//! `dcc bench`: the sgemm ceiling, per-primitive throughput and training throughput,
//! each printed beside what it is compared with.

use crate::bench::{gemm_ceiling, peak_rss_bytes, primitive_cases, random_tensor, time_case};
use crate::nn::network::Mode;
use crate::nn::train::Trainer;
use crate::nn::zoo::Arch;
use crate::ops;
use crate::tensor::{Pool, Tensor};
use anyhow::{bail, Result};
use clap::{Args as ClapArgs, Subcommand};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// `dcc bench` arguments.
#[derive(ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Training steps (forward + backward + AdamW) on random inputs.
    Train {
        /// small or inception.
        #[arg(long, default_value = "small")]
        net: String,
        /// Images per step.
        #[arg(long, default_value_t = 120)]
        batch: usize,
        /// Input channels.
        #[arg(long, default_value_t = 1)]
        channels: usize,
        /// Timed steps (after warm-up).
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// Untimed warm-up steps.
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Also print where the time goes, per primitive.
        #[arg(long)]
        profile: bool,
        /// auto, cpu, cuda, cuda:N or cuda-emu.
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// The sgemm ceiling, single thread and all threads.
    Gemm,
    /// The fused CCLP loss and gradient (f32) against the f64 host version, at several
    /// batch sizes; tools/torch_dcc_bench.py cclp times PyTorch on the same inputs.
    Cclp(super::bench_dcc::CclpArgs),
    /// k-nearest-neighbour distances of latents, tiled (tools/torch_dcc_bench.py knn
    /// times torch.cdist + topk on the same inputs).
    Knn(super::bench_dcc::KnnArgs),
    /// Every primitive at the shapes the networks use, against the sgemm ceiling (on a
    /// GPU: against the measured device copy bandwidth and the bf16 tensor-core ceiling,
    /// each result checked against the CPU).
    Ops {
        /// Images per call.
        #[arg(long, default_value_t = 120)]
        batch: usize,
        /// cpu, cuda, cuda:N or cuda-emu.
        #[arg(long, default_value = "cpu")]
        device: String,
    },
}

/// Runs a benchmark.
pub fn run(args: Args) -> Result<()> {
    match args.what {
        What::Train {
            net,
            batch,
            channels,
            steps,
            warmup,
            profile,
            device,
        } => train(
            &net,
            batch,
            channels,
            steps,
            warmup,
            profile,
            crate::tensor::Device::select(&device)?,
        ),
        What::Gemm => {
            let (one, all) = gemm_ceiling();
            println!(
                "sgemm 1024³: {one:.1} GFLOP/s on 1 thread, {all:.1} GFLOP/s on {} threads",
                rayon::current_num_threads()
            );
            Ok(())
        }
        What::Cclp(a) => super::bench_dcc::cclp(a),
        What::Knn(a) => super::bench_dcc::knn(a),
        What::Ops { batch, device } => match crate::tensor::Device::select(&device)? {
            crate::tensor::Device::Cpu => primitives(batch),
            d => gpu_primitives(batch, d),
        },
    }
}

fn train(
    net: &str,
    batch: usize,
    channels: usize,
    steps: usize,
    warmup: usize,
    profile: bool,
    device: crate::tensor::Device,
) -> Result<()> {
    if batch == 0 || steps == 0 {
        bail!("--batch and --steps must be positive");
    }
    let arch = Arch::parse(net)?;
    let n_sets = 4;
    let network = arch.build([channels, 100, 100], n_sets, 0)?;
    let flops = network.flops_per_image;
    let nparams = network.params.numel();
    let mut trainer = Trainer::on(network, 1e-4, device)?;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let inputs: Vec<Tensor> = (0..2)
        .map(|_| random_tensor(&mut rng, &[batch, channels, 100, 100]).to_pool(&trainer.pool))
        .collect::<Result<_>>()?;
    let labels: Vec<Option<usize>> = (0..batch).map(|i| Some(i % n_sets)).collect();
    let step = |i: usize, trainer: &mut Trainer| -> Result<f32> {
        let mode = Mode {
            training: true,
            seed: i as u64,
            keep_latent: Some(2 + i % 6),
        };
        let r = trainer.step(&inputs[i % 2], &mode, |tape, out| {
            ops::softmax::cross_entropy(tape, out.logits, &labels)
        })?;
        Ok(r.loss)
    };
    for i in 0..warmup.max(1) {
        step(i, &mut trainer)?;
    }
    let fresh_before = trainer.pool.stats().fresh;
    if profile {
        trainer.profile = Some(Default::default());
    }
    let t = Instant::now();
    let mut last = 0.0;
    for i in 0..steps {
        last = step(warmup + i, &mut trainer)?;
    }
    if let Some(g) = trainer.pool.gpu() {
        g.synchronize()?;
    }
    let secs = t.elapsed().as_secs_f64();
    let fresh = trainer.pool.stats().fresh - fresh_before;
    let ips = (batch * steps) as f64 / secs;
    let gflops = ips * 3.0 * flops / 1e9;
    println!("dcc bench train: net {net}, {nparams} parameters, batch {batch}, {channels}×100×100, device {}, {} threads",
             trainer.device(), rayon::current_num_threads());
    // On the host, the sgemm ceiling measured now (after the timed steps, so it does not
    // warm or cool what was timed) says how far from the machine's limit the step runs.
    let ceiling = match trainer.pool.gpu() {
        None => {
            let (_, all) = gemm_ceiling();
            format!(
                "; sgemm ceiling {all:.1} GFLOP/s, {:.0} % of it",
                100.0 * gflops / all
            )
        }
        Some(_) => String::new(),
    };
    println!("  {ips:.1} images/s ({:.1} ms/step, ≈{gflops:.1} GFLOP/s at 3× forward FLOPs of {:.2} MFLOP/image{ceiling})",
             1e3 * secs / steps as f64, flops / 1e6);
    println!("  last loss {last:.4}; fresh buffer allocations over {steps} timed steps: {fresh}");
    if let Some(b) = peak_rss_bytes() {
        println!("  peak RSS {:.2} GiB", b as f64 / (1u64 << 30) as f64);
    }
    if let Some(p) = &trainer.profile {
        let per = |s: f64| 1e3 * s / steps as f64;
        let mut rows: Vec<_> = p.by_op.iter().collect();
        rows.sort_by(|a, b| (b.1 .0 + b.1 .1).total_cmp(&(a.1 .0 + a.1 .1)));
        let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(9);
        println!(
            "  {:<w$} {:>12} {:>12} {:>8}",
            "primitive", "fwd ms/step", "bwd ms/step", "calls"
        );
        for (name, (f, b, n)) in rows {
            println!(
                "  {name:<w$} {:>12.2} {:>12.2} {:>8}",
                per(*f),
                per(*b),
                n / steps as u64
            );
        }
    }
    Ok(())
}

fn primitives(n: usize) -> Result<()> {
    let (one, all) = gemm_ceiling();
    println!(
        "sgemm ceiling 1024³: {one:.1} GFLOP/s (1 thread), {all:.1} GFLOP/s ({} threads)",
        rayon::current_num_threads()
    );
    println!(
        "{:<28} {:>10} {:>10} {:>9} {:>10} {:>9}",
        format!("primitive (batch {n})"),
        "fwd ms",
        "fwd GF/s",
        "% peak",
        "bwd ms",
        "bwd GF/s"
    );
    let cases = primitive_cases(n);
    let pool = Pool::new();
    for c in &cases {
        let (fwd, bwd) = time_case(c, &pool, 4)?;
        println!(
            "{:<28} {:>10.3} {:>10.1} {:>8.1}% {:>10.3} {:>9.1}",
            c.name,
            fwd * 1e3,
            c.flops / fwd / 1e9,
            100.0 * c.flops / fwd / 1e9 / all,
            bwd * 1e3,
            2.0 * c.flops / bwd / 1e9
        );
    }
    Ok(())
}

/// H200 figures of ../shared/GPU.md, printed beside what was achieved.
const H200_BF16_TFLOPS: f64 = 790.0;
const H200_COPY_GBPS: f64 = 4300.0;

fn gpu_primitives(n: usize, device: crate::tensor::Device) -> Result<()> {
    let pool = Pool::on(device)?;
    let gpu = pool.gpu().expect("GPU pool").clone();
    println!("device {device}: {}", gpu.describe());
    let copy = crate::bench::device_copy_gbps(&pool)?;
    println!(
        "device copy: {copy:.0} GB/s read + written (GPU.md: ≈{H200_COPY_GBPS:.0} on an H200); bf16 tensor-core ceiling ≈{H200_BF16_TFLOPS:.0} TFLOP/s on an H200 (these kernels are f32)"
    );
    println!(
        "{:<28} {:>9} {:>9} {:>9} {:>9} {:>8} {:>7}  check vs cpu",
        format!("primitive (batch {n})"),
        "fwd ms",
        "fwd TF/s",
        "bwd ms",
        "bwd TF/s",
        "fwd GB/s",
        "%bf16"
    );
    let host = Pool::new();
    let mut bad = 0;
    for c in &primitive_cases(n) {
        let (fwd, bwd) = crate::bench::time_case(c, &pool, 5)?;
        // Bytes the forward must move at least: every input read and the output written.
        let out = crate::bench::run_case(c, &pool)?;
        let want = crate::bench::run_case(c, &host)?;
        let bytes =
            4.0 * (c.inputs.iter().map(|t| t.numel()).sum::<usize>() + out[0].numel()) as f64;
        let mut verdict = String::from("ok");
        for (i, (g, w)) in out.iter().zip(&want).enumerate() {
            let scale = w.data().iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
            let tol = crate::testing::Tol::new(1e-5 * scale.max(1.0), 1e-3);
            if let Err(e) =
                crate::testing::assert_close(&format!("tensor {i}"), g.data(), &w.to_f64(), tol)
            {
                verdict = format!("MISMATCH {e}");
                bad += 1;
                break;
            }
        }
        let tf = |flops: f64, s: f64| flops / s / 1e12;
        println!(
            "{:<28} {:>9.3} {:>9.2} {:>9.3} {:>9.2} {:>8.0} {:>6.1}%  {verdict}",
            c.name,
            fwd * 1e3,
            tf(c.flops, fwd),
            bwd * 1e3,
            tf(2.0 * c.flops, bwd),
            bytes / fwd / 1e9,
            100.0 * tf(c.flops, fwd) / H200_BF16_TFLOPS
        );
    }
    if bad > 0 {
        bail!("{bad} primitive(s) disagree with the CPU");
    }
    Ok(())
}
