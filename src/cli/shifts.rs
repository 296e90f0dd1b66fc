//! `dcc shifts`: the trust test's shift suite (see `crate::dcc::shifts`).

use crate::dcc::infer::Thresholds;
use crate::dcc::shifts::{run_suite, table, SuiteConfig};
use crate::tensor::Device;
use anyhow::Result;
use clap::Args as ClapArgs;
use std::path::PathBuf;

/// `dcc shifts` arguments.
#[derive(ClapArgs)]
pub struct Args {
    /// The trained run.
    #[arg(long)]
    pub run: PathBuf,
    /// Output directory: the suite's datasets, shifts.json, shifts.md and infer.json.
    #[arg(long, default_value = "dcc-shifts")]
    pub out: PathBuf,
    /// Images of each shifted kind per training set.
    #[arg(long, default_value_t = 60)]
    pub per_kind: usize,
    /// Fresh in-domain images per training set (they estimate the false-alarm rate).
    #[arg(long, default_value_t = 400)]
    pub in_domain: usize,
    /// Images per tested set.
    #[arg(long, default_value_t = 20)]
    pub set_size: usize,
    /// Seed of the suite's maps and transforms (must differ from the training data's).
    #[arg(long, default_value_t = 1000)]
    pub seed: u64,
    /// False-alarm rate of the per-set test.
    #[arg(long, default_value_t = 0.01)]
    pub ood_alpha: f64,
    /// Exit with status 3 when a target fails.
    #[arg(long)]
    pub check: bool,
    /// auto, cpu, cuda, cuda:N or cuda-emu.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// Runs `dcc shifts`.
/// Runs the suite; exit status 3 when `--check` finds a target missed.
pub fn run(a: Args) -> Result<i32> {
    let thresholds = Thresholds {
        ood_alpha: a.ood_alpha,
        ..Default::default()
    };
    thresholds.check()?;
    let suite = run_suite(&SuiteConfig {
        run: a.run,
        out: a.out.clone(),
        per_kind: a.per_kind,
        in_domain: a.in_domain,
        set_size: a.set_size,
        seed: a.seed,
        thresholds,
        device: Device::select(&a.device)?,
    })?;
    print!("{}", table(&suite));
    println!(
        "written: {}/shifts.md, shifts.json, infer.json",
        a.out.display()
    );
    if a.check && suite.targets.iter().any(|t| !t.pass) {
        return Ok(3);
    }
    Ok(0)
}
