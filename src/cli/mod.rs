//! Argument parsing and dispatch: one file per subcommand, each with its `Args` and `run`.

pub mod bench;
pub mod demo;
pub mod infer;
pub mod inspect;
pub mod kernels;
pub mod op;
pub mod shifts;
pub mod simulate;
pub mod train;
pub mod validate;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Deep Compact Clustering for galaxy-cluster maps.
#[derive(Parser)]
#[command(name = "dcc", version, about)]
pub struct Cli {
    /// Worker threads (default: all cores).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// The main job: simulate, train, infer and report an offline replica of the paper.
    Demo(demo::Args),
    /// Show the compute devices this build can use.
    Devices,
    /// Compile every CUDA kernel with NVRTC and print registers, shared memory and spills.
    Kernels(kernels::Args),
    /// Benchmarks: training throughput, primitives, the sgemm ceiling.
    Bench(bench::Args),
    /// Run one primitive forward and backward on .npy inputs.
    Op(op::Args),
    /// Train a DCC ensemble on a dataset directory.
    Train(train::Args),
    /// σ/m posteriors and trust tests (overlap, nearest neighbours) for every set given.
    Infer(infer::Args),
    /// Write the report (plots + HTML) of a run.
    Report(infer::ReportArgs),
    /// Summarise a dataset directory per set and write a PNG mosaic of example maps.
    Inspect(inspect::InspectArgs),
    /// Write a synthetic SIDM galaxy-cluster dataset (images.npy + catalog.csv).
    Simulate(Box<simulate::SimulateArgs>),
    /// Coverage of the σ/m intervals over withheld sets (optionally leave-one-out retraining).
    Validate(validate::Args),
    /// The trust test's shift suite: in-domain, shifted and near-domain sets made from a
    /// run's data, scored by its out-of-domain test (AUROC, flagged sets per kind).
    Shifts(shifts::Args),
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    if let Some(n) = cli.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| anyhow::anyhow!("--threads {n}: {e}"))?;
    }
    match cli.command {
        Command::Devices => {
            println!("cpu: {} rayon threads", rayon::current_num_threads());
            match dcc::cuda::probe_cuda() {
                Ok(_) => match dcc::cuda::open(dcc::tensor::Device::Cuda(0)) {
                    Ok(g) => println!("cuda:0: {}", g.describe()),
                    Err(e) => println!("cuda: present but unusable: {e:#}"),
                },
                Err(why) => println!("cuda: none ({why})"),
            }
            match dcc::cuda::nvrtc::version() {
                Ok(v) => println!("nvrtc: {v}"),
                Err(e) => println!("nvrtc: {e:#}"),
            }
            println!("cuda-emu: the CUDA kernels on the CPU (needs g++; slow, for tests)");
            Ok(())
        }
        Command::Kernels(a) => kernels::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Op(a) => op::run(a),
        Command::Train(a) => train::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Infer(a) => infer::run(a),
        Command::Report(a) => infer::report(a),
        Command::Inspect(args) => inspect::run(args),
        Command::Simulate(args) => simulate::run(*args),
        Command::Validate(a) => validate::run(a),
        Command::Shifts(a) => shifts::run(a),
    }
}
