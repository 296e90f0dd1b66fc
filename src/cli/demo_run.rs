//! The orchestration of `dcc demo` (a command-line concern: it runs every layer and
//! prints): an offline replica of the paper's experiment on synthetic sets — simulate
//! BAHAMAS-like CDM/0.1/0.3/1 with 0.3 withheld, a feedback-only CDM variant (withheld as
//! well) and one domain-shifted set; train a small ensemble; infer; report; and check the
//! science acceptance criteria, printing each with its figure.

use crate::data::dataset::{Dataset, OpenOptions};
use crate::data::sim::config::Channel;
use crate::data::sim::output::{simulate_to_dir, SimulationPlan};
use crate::data::sim::presets::{resolve_set, Preset};
use crate::dcc::demo_checks::{checks, plan, Check, Experiment};
use crate::dcc::infer::{infer, table, Inference, Thresholds};
use crate::dcc::loss::CeBalance;
use crate::dcc::report_data::report_data;
use crate::dcc::run::{weights_file, ClassGrouping, MemberBatches, RunInfo, TrainConfig};
use crate::dcc::train::{train, EpochLog};
use crate::files::save_json;
use crate::nn::config::NetConfig;
use crate::report::run_report::write_report;
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Sizes of the demo.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    /// Output directory (data, run, report).
    pub out: PathBuf,
    /// Training maps per set.
    pub per_set: usize,
    /// Epochs.
    pub epochs: usize,
    /// Ensemble members.
    pub ensemble: usize,
    /// Images per batch.
    pub batch: usize,
    /// Master seed.
    pub seed: u64,
    /// The domain-shifted set (a `dcc simulate` set name).
    pub shifted: String,
    /// Where training runs.
    pub device: crate::tensor::Device,
    /// Keep a finished training of the same configuration in `out` and only infer and
    /// check again (to compare inference settings across seeds without retraining).
    pub reuse: bool,
    /// Inference settings (references, test-time augmentation, verdict thresholds).
    pub thresholds: Thresholds,
    /// The default demo or the paper's headline experiment.
    pub experiment: Experiment,
    /// How sets become classes.
    pub classes: ClassGrouping,
    /// Shared or independent batches per ensemble member.
    pub member_batches: MemberBatches,
    /// How the cross-entropy weighs the rows.
    pub ce_balance: CeBalance,
    /// Epochs of the λ_dist ramp after the warm-up (0: a hard switch).
    pub dist_ramp: usize,
}

fn simulate(dir: &Path, sets: &[&str], per_set: usize, seed: u64) -> Result<()> {
    let plan = SimulationPlan {
        sets: sets
            .iter()
            .map(|s| resolve_set(s, Preset::Bahamas))
            .collect::<Result<_>>()?,
        per_set,
        channels: vec![Channel::Mass, Channel::Xray],
        seed,
    };
    simulate_to_dir(&plan, dir, 256, &|_| {})
}

/// Runs the demo; returns the inference and the checks.
pub fn run_demo(cfg: &DemoConfig) -> Result<(Inference, Vec<Check>)> {
    let t0 = Instant::now();
    let data = cfg.out.join("data");
    let test = cfg.out.join("shifted");
    let run = cfg.out.join("run");
    let (known, withheld) = plan(cfg.experiment, cfg.classes);
    let train_sets: Vec<&str> = known.iter().chain(&withheld).copied().collect();
    let tc = train_config(cfg, &data, &known, &withheld)?;
    let reused = if cfg.reuse {
        finished_training(cfg, &data, &run, &tc, train_sets.len())
    } else {
        None
    };
    let log = match reused {
        Some(log) => {
            eprintln!("[1-2/4] reusing the finished training in {}", run.display());
            log
        }
        None => simulate_and_train(cfg, &data, &test, &run, tc, &train_sets, t0)?,
    };
    let ips = log.iter().map(|e| e.images_per_s).sum::<f64>() / log.len().max(1) as f64;
    eprintln!(
        "      {:.0} s, {:.0} training images/s on average",
        t0.elapsed().as_secs_f64(),
        ips
    );
    infer_and_check(cfg, &data, &test, &run, ips, t0)
}

/// The demo's training configuration.
fn train_config(
    cfg: &DemoConfig,
    data: &Path,
    known: &[&str],
    withheld: &[&str],
) -> Result<TrainConfig> {
    let mut tc = TrainConfig::new(data.to_path_buf(), NetConfig::load("small")?);
    tc.known = known.iter().map(|s| s.to_string()).collect();
    tc.unknown = withheld.iter().map(|s| s.to_string()).collect();
    tc.classes = cfg.classes;
    tc.member_batches = cfg.member_batches;
    tc.ce_balance = cfg.ce_balance;
    tc.ensemble = cfg.ensemble;
    tc.epochs = cfg.epochs;
    tc.batch = cfg.batch;
    tc.lr = 1e-3;
    tc.seed = cfg.seed;
    tc.dist_warmup = cfg.epochs / 2;
    tc.dist_ramp = cfg.dist_ramp;
    tc.patience = 5;
    Ok(tc)
}

/// The log of a finished training in `run` with exactly this configuration, on data and
/// shifted sets of the demo's size; None when anything differs or is missing.
fn finished_training(
    cfg: &DemoConfig,
    data: &Path,
    run: &Path,
    tc: &TrainConfig,
    sets: usize,
) -> Option<Vec<EpochLog>> {
    let info = RunInfo::load(run).ok()?;
    let same = serde_json::to_value(&info.config).ok()? == serde_json::to_value(tc).ok()?;
    let ds = Dataset::open(data, &OpenOptions::default()).ok()?;
    let shifted = Dataset::open(&cfg.out.join("shifted"), &OpenOptions::default()).ok()?;
    let sized =
        ds.len() == sets * cfg.per_set && shifted.sets().iter().any(|s| s.name == cfg.shifted);
    let log: Vec<EpochLog> = std::fs::read_to_string(run.join("log.jsonl"))
        .ok()?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .ok()?;
    let weights = (0..cfg.ensemble).all(|k| run.join(weights_file(k)).exists());
    (same && sized && weights && log.len() == cfg.epochs).then_some(log)
}

fn simulate_and_train(
    cfg: &DemoConfig,
    data: &Path,
    test: &Path,
    run: &Path,
    tc: TrainConfig,
    train_sets: &[&str],
    t0: Instant,
) -> Result<Vec<EpochLog>> {
    eprintln!(
        "[1/4] simulating {} training sets × {} maps (mass + X-ray) and {} × {} shifted maps",
        train_sets.len(),
        cfg.per_set,
        cfg.shifted,
        cfg.per_set / 2
    );
    simulate(data, train_sets, cfg.per_set, cfg.seed)?;
    simulate(
        test,
        &[cfg.shifted.as_str()],
        (cfg.per_set / 2).max(20),
        cfg.seed + 1,
    )?;
    eprintln!("      {:.0} s", t0.elapsed().as_secs_f64());

    let info = RunInfo::plan(tc, &Dataset::open(data, &OpenOptions::default())?)?;
    if run.exists() {
        std::fs::remove_dir_all(run).with_context(|| format!("clearing {}", run.display()))?;
    }
    std::fs::create_dir_all(run)?;
    info.save_new(run)?;
    eprintln!(
        "[2/4] training {} × small for {} epochs (distance anchor from epoch {})",
        cfg.ensemble,
        cfg.epochs,
        cfg.epochs / 2 + 1
    );
    train(&info, run, false, &super::progress::Bar::new(), cfg.device)
}

fn infer_and_check(
    cfg: &DemoConfig,
    data: &Path,
    test: &Path,
    run: &Path,
    ips: f64,
    t0: Instant,
) -> Result<(Inference, Vec<Check>)> {
    eprintln!("[3/4] inferring on the training sets' validation images and the shifted set");
    let (inf, det) = infer(
        run,
        &[data.to_path_buf(), test.to_path_buf()],
        None,
        &cfg.thresholds,
        cfg.device,
    )?;
    eprintln!("[4/4] writing the report");
    save_json(run.join("infer.json"), &inf)?;
    let page = write_report(run, &inf, &report_data(run, &inf, &det)?)?;
    let (checks, au) = checks(cfg.experiment, &inf, &det)?;
    print!("{}", table(&inf));
    println!();
    for c in &checks {
        println!(
            "[{}] {}: {}",
            if c.pass { "pass" } else { "FAIL" },
            c.claim,
            c.figure
        );
    }
    println!(
        "AUROC in-domain vs shifted: confidence of 20-image subsets {:.3}, nearest-neighbour score per image {:.3}, out-of-domain score per image {:.3}",
        au.confidence, au.knn, au.ood
    );
    println!(
        "training throughput {ips:.0} images/s; report {}; total {:.0} s",
        page.display(),
        t0.elapsed().as_secs_f64()
    );
    #[derive(Serialize)]
    struct Summary<'a> {
        checks: &'a [Check],
        auroc_confidence: f64,
        auroc_knn: f64,
        auroc_ood: f64,
        training_images_per_s: f64,
        seconds: f64,
    }
    save_json(
        cfg.out.join("demo.json"),
        &Summary {
            checks: &checks,
            auroc_confidence: au.confidence,
            auroc_knn: au.knn,
            auroc_ood: au.ood,
            training_images_per_s: ips,
            seconds: t0.elapsed().as_secs_f64(),
        },
    )?;
    Ok((inf, checks))
}
