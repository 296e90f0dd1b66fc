//! Argument parsing and dispatch: one file per subcommand, each with its `Args` and `run`.

use anyhow::Result;
use clap::{Parser, Subcommand};

mod simulate;

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
    /// Show the compute devices this build can use.
    Devices,
    /// Write a synthetic SIDM galaxy-cluster dataset (images.npy + catalog.csv).
    Simulate(Box<simulate::SimulateArgs>),
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
            println!(
                "cpu: {} rayon threads (CUDA backend not built yet)",
                rayon::current_num_threads()
            );
            Ok(())
        }
        Command::Simulate(args) => simulate::run(*args),
    }
}
