//! Argument parsing and dispatch: one file per subcommand, each with its `Args` and `run`.

pub mod bench;
mod bench_dcc;
pub mod demo;
pub mod demo_run;
pub mod infer;
pub mod inspect;
pub mod kernels;
pub mod op;
pub mod progress;
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

/// Runs one parsed command line; returns its exit status (0, or 3 when a science check or
/// a `--check` target failed). Errors are returned, not printed.
pub fn run(cli: Cli) -> Result<i32> {
    if let Some(n) = cli.threads {
        set_threads(n)?;
    }
    let ok = |r: Result<()>| r.map(|()| 0);
    match cli.command {
        Command::Devices => ok(devices()),
        Command::Kernels(a) => ok(kernels::run(a)),
        Command::Bench(a) => ok(bench::run(a)),
        Command::Op(a) => ok(op::run(a)),
        Command::Train(a) => ok(train::run(a)),
        Command::Demo(a) => demo::run(a),
        Command::Infer(a) => ok(infer::run(a)),
        Command::Report(a) => ok(infer::report(a)),
        Command::Inspect(args) => ok(inspect::run(args)),
        Command::Simulate(args) => ok(simulate::run(*args)),
        Command::Validate(a) => ok(validate::run(a)),
        Command::Shifts(a) => shifts::run(a),
    }
}

/// Sizes rayon's global pool. It can be built once per process: a second call (the Python
/// module runs many commands in one process) succeeds only when it asks for the same size.
pub fn set_threads(n: usize) -> Result<()> {
    if n == 0 {
        anyhow::bail!("--threads 0: at least one thread is needed");
    }
    match rayon::ThreadPoolBuilder::new().num_threads(n).build_global() {
        Ok(()) => Ok(()),
        Err(_) if rayon::current_num_threads() == n => Ok(()),
        Err(_) => anyhow::bail!(
            "--threads {n}: this process already runs {} worker threads (the pool is sized once per process)",
            rayon::current_num_threads()
        ),
    }
}

fn devices() -> Result<()> {
    println!("cpu: {} rayon threads", rayon::current_num_threads());
    match crate::cuda::probe_cuda() {
        Ok(_) => match crate::cuda::open(crate::tensor::Device::Cuda(0)) {
            Ok(g) => println!("cuda:0: {}", g.describe()),
            Err(e) => println!("cuda: present but unusable: {e:#}"),
        },
        Err(why) => println!("cuda: none ({why})"),
    }
    match crate::cuda::nvrtc::version() {
        Ok(v) => println!("nvrtc: {v}"),
        Err(e) => println!("nvrtc: {e:#}"),
    }
    println!("cuda-emu: the CUDA kernels on the CPU (needs g++; slow, for tests)");
    Ok(())
}

/// Worker threads in rayon's global pool.
pub fn current_threads() -> usize {
    rayon::current_num_threads()
}
