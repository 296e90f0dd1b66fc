//! `dcc demo`: the README's main command (see `dcc::dcc::demo`).

use anyhow::Result;
use clap::Args as ClapArgs;
use dcc::dcc::demo::{run_demo, DemoConfig};
use std::path::PathBuf;

/// `dcc demo` arguments.
#[derive(ClapArgs)]
pub struct Args {
    /// Output directory: data/, shifted/, run/ (with run/report/index.html), demo.json.
    #[arg(long, default_value = "dcc-demo")]
    pub out: PathBuf,
    /// Training maps per set.
    #[arg(long, default_value_t = 800)]
    pub per_set: usize,
    /// Epochs.
    #[arg(long, default_value_t = 40)]
    pub epochs: usize,
    /// Ensemble members.
    #[arg(long, default_value_t = 3)]
    pub ensemble: usize,
    /// Images per batch.
    #[arg(long, default_value_t = 60)]
    pub batch: usize,
    /// The domain-shifted set (any `dcc simulate --list` name): by default CDM observed
    /// with weak-lensing noise (30 galaxies/arcmin²), which the network would otherwise
    /// read as a large σ/m.
    #[arg(long, default_value = "shift-lensing-30")]
    pub shifted: String,
    /// Master seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Training device: auto (a GPU if one is usable, else the CPU), cpu, cuda, cuda:N
    /// or cuda-emu.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// Runs `dcc demo`.
pub fn run(a: Args) -> Result<()> {
    let cfg = DemoConfig {
        out: a.out,
        per_set: a.per_set,
        epochs: a.epochs,
        ensemble: a.ensemble,
        batch: a.batch,
        seed: a.seed,
        shifted: a.shifted,
        device: dcc::tensor::Device::select(&a.device)?,
    };
    run_demo(&cfg)?;
    Ok(())
}
