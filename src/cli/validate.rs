//! `dcc validate`: coverage of the σ/m intervals over withheld sets (see
//! `crate::dcc::validate`).

use crate::dcc::infer::{References, Thresholds};
use crate::dcc::run::RunInfo;
use crate::dcc::validate::{collect, leave_one_out, report, table, train_run};
use crate::report::coverage::write_coverage;
use crate::tensor::Device;
use anyhow::{bail, Result};
use clap::Args as ClapArgs;
use std::path::PathBuf;

/// `dcc validate` arguments.
#[derive(ClapArgs)]
pub struct Args {
    /// Finished runs to tabulate: each set a run withheld whose catalog has its σ/m is one
    /// trial (e.g. the demo's runs at several seeds).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub runs: Vec<PathBuf>,
    /// Retrain the --from run once per known σ/m label with that label withheld (its
    /// ends included: the table tells interpolation from extrapolation).
    #[arg(long, requires = "from")]
    pub leave_one_out: bool,
    /// The template run of --leave-one-out: its data, sets and training settings.
    #[arg(long)]
    pub from: Option<PathBuf>,
    /// Seeds of the leave-one-out runs (default: the template's seed).
    #[arg(long, value_delimiter = ',')]
    pub seeds: Vec<u64>,
    /// Epochs of the leave-one-out runs (default: the template's).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Output directory: the leave-one-out runs (loo-<σ/m>-seed<k>/, reused or resumed
    /// when run again), coverage.json and coverage.html.
    #[arg(long, default_value = "dcc-validate")]
    pub out: PathBuf,
    /// Infer on raw images instead of the training's flips and rotation.
    #[arg(long)]
    pub no_augment: bool,
    /// Overlap/kNN references of the inference: validation or train.
    #[arg(long, default_value = "validation")]
    pub references: String,
    /// auto, cpu, cuda, cuda:N or cuda-emu.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// Runs `dcc validate`.
pub fn run(a: Args) -> Result<()> {
    if a.runs.is_empty() && !a.leave_one_out {
        bail!("nothing to validate: give --runs RUN,... or --leave-one-out --from RUN");
    }
    let device = Device::select(&a.device)?;
    let th = Thresholds {
        references: References::parse(&a.references)?,
        augment: !a.no_augment,
        ..Default::default()
    };
    let mut runs = a.runs.clone();
    if let (true, Some(from)) = (a.leave_one_out, &a.from) {
        let template = RunInfo::load(from)?;
        let mut base = template.config.clone();
        if let Some(e) = a.epochs {
            base.epochs = e;
        }
        let seeds = if a.seeds.is_empty() {
            vec![base.seed]
        } else {
            a.seeds.clone()
        };
        let plans = leave_one_out(&base, &template)?;
        eprintln!(
            "leave-one-out: {} labels × {} seed(s) = {} trainings of {} epochs into {}",
            plans.len(),
            seeds.len(),
            plans.len() * seeds.len(),
            base.epochs,
            a.out.display()
        );
        for seed in &seeds {
            for (label, cfg) in &plans {
                let mut cfg = cfg.clone();
                cfg.seed = *seed;
                let dir = a.out.join(format!("loo-{label}-seed{seed}"));
                eprintln!(
                    "σ/m = {label} withheld ({}), seed {seed}",
                    cfg.unknown.join(", ")
                );
                train_run(&dir, cfg, device, &super::progress::Bar::new())?;
                runs.push(dir);
            }
        }
    }
    let r = report(collect(&runs, &th, device)?);
    if r.trials.is_empty() {
        bail!("no trial: none of the runs withholds a set with a catalog σ/m");
    }
    print!("{}", table(&r));
    let page = write_coverage(&a.out, &r)?;
    println!("coverage.json and {}", page.display());
    Ok(())
}
