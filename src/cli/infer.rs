//! `dcc infer` and `dcc report`: σ/m posteriors and trust tests for every set given, the
//! JSON and table outputs, and the report page.

use crate::dcc::export::export_latents;
use crate::dcc::infer::{infer, table, Thresholds};
use crate::dcc::report_data::report_data;
use crate::dcc::run::RunInfo;
use crate::report::run_report::write_report;
use crate::report::save_json;
use crate::tensor::Device;
use anyhow::Result;
use clap::Args as ClapArgs;
use std::path::{Path, PathBuf};

/// `dcc infer` arguments.
#[derive(ClapArgs)]
pub struct Args {
    /// The trained run directory.
    #[arg(long)]
    pub run: PathBuf,
    /// Dataset directories to infer on (default: the training dataset).
    #[arg(long, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Only these sets (comma-separated, or the flag repeated; a value that names a set
    /// whole may hold commas).
    #[arg(long)]
    pub sets: Option<Vec<String>>,
    /// Confidence (largest overlap with a known class) needed to call a set recognised.
    #[arg(long, default_value_t = 0.1)]
    pub min_confidence: f64,
    /// k of the nearest-neighbour distance score.
    #[arg(long, default_value_t = 10)]
    pub knn_k: usize,
    /// Largest fraction of images allowed beyond the training 95th percentile distance.
    #[arg(long, default_value_t = 0.5)]
    pub max_far_fraction: f64,
    /// False-alarm rate of the per-set out-of-domain test (a set is out-of-domain when its
    /// Mann–Whitney p-value against the held-out in-domain images is below this).
    #[arg(long, default_value_t = 0.01)]
    pub ood_alpha: f64,
    /// Per-image level: an image is flagged when its conformal p-value is at most this.
    #[arg(long, default_value_t = 0.05)]
    pub ood_image_alpha: f64,
    /// What stands for a training class in the overlap and kNN tests: `validation` (half
    /// of its held-out images; the other half is what the class is tested on) or `train`
    /// (its training images, which CCLP compacted).
    #[arg(long, default_value = "validation")]
    pub references: String,
    /// Infer on the raw images; by default they get the training's random flips and
    /// rotation (drawn per image from the run's seed), as the paper's loader does on every
    /// access, so train and test see the same preprocessing.
    #[arg(long)]
    pub no_augment: bool,
    /// Where to write the JSON (default: RUN/infer.json).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Skip the report (PNG plots and RUN/report/index.html).
    #[arg(long)]
    pub no_report: bool,
    /// Also write every member's latents of every inferred image: latents.npy (members ×
    /// N × D, float32) and latents.csv (set, sigma, row, data, image_index, role and the
    /// catalog's columns per row), into DIR (default: the run directory).
    #[arg(long, value_name = "DIR")]
    pub export_latents: Option<Option<PathBuf>>,
    /// auto, cpu, cuda, cuda:N or cuda-emu.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// Runs `dcc infer`.
pub fn run(a: Args) -> Result<()> {
    let data = if a.data.is_empty() {
        vec![RunInfo::load(&a.run)?.config.data]
    } else {
        a.data
    };
    let th = Thresholds {
        min_confidence: a.min_confidence,
        knn_k: a.knn_k,
        max_far_fraction: a.max_far_fraction,
        references: crate::dcc::infer::References::parse(&a.references)?,
        augment: !a.no_augment,
        ood_alpha: a.ood_alpha,
        ood_image_alpha: a.ood_image_alpha,
    };
    th.check()?;
    let (inf, details) = infer(
        &a.run,
        &data,
        a.sets.as_deref(),
        &th,
        Device::select(&a.device)?,
    )?;
    if let Some(dir) = &a.export_latents {
        let dir = dir.as_ref().unwrap_or(&a.run);
        let (npy, csv, [m, n, d]) = export_latents(dir, &inf, &details)?;
        let shape = format!("{m} members × {n} images × {d}");
        eprintln!("latents: {} ({shape}) and {}", npy.display(), csv.display());
    }
    // RUN/infer.json and RUN/report/ describe the same inference: --json elsewhere
    // leaves both alone, and `-` keeps stdout for the JSON alone.
    match a.json.as_deref() {
        Some(p) if p == Path::new("-") => {
            eprint!("{}", table(&inf));
            println!("{}", serde_json::to_string_pretty(&inf)?);
            eprintln!("report not written (--json -); RUN/infer.json left as it was");
        }
        Some(p) => {
            print!("{}", table(&inf));
            save_json(p, &inf)?;
            println!("JSON: {}", p.display());
            println!(
                "report not written (--json writes elsewhere); {} left as it was",
                a.run.join("infer.json").display()
            );
        }
        None => {
            print!("{}", table(&inf));
            let json = a.run.join("infer.json");
            save_json(&json, &inf)?;
            println!("JSON: {}", json.display());
            if !a.no_report {
                let data = report_data(&a.run, &inf, &details)?;
                let page = write_report(&a.run, &inf, &data)?;
                println!("report: {}", page.display());
            }
        }
    }
    Ok(())
}

/// `dcc report` arguments.
#[derive(ClapArgs)]
pub struct ReportArgs {
    /// The trained run directory.
    #[arg(long)]
    pub run: PathBuf,
    /// Dataset directories (default: those of the last `dcc infer`, else the training set).
    #[arg(long, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// auto, cpu, cuda, cuda:N or cuda-emu.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// Runs `dcc report`: the page of the last `dcc infer` (its data, sets and thresholds,
/// read from RUN/infer.json; without one, the training data with default thresholds).
pub fn report(a: ReportArgs) -> Result<()> {
    let previous: Option<serde_json::Value> = std::fs::read_to_string(a.run.join("infer.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut sets: Vec<String> = Vec::new();
    for s in previous
        .as_ref()
        .and_then(|v| v["sets"].as_array())
        .into_iter()
        .flatten()
    {
        if let (Some(d), Some(n)) = (s["data"].as_str(), s["name"].as_str()) {
            if !dirs.contains(&PathBuf::from(d)) {
                dirs.push(PathBuf::from(d));
            }
            sets.push(n.to_string());
        }
    }
    let th: Thresholds = previous
        .as_ref()
        .and_then(|v| serde_json::from_value(v["thresholds"].clone()).ok())
        .unwrap_or_default();
    let (data, only) = if !a.data.is_empty() {
        (a.data, None)
    } else if !dirs.is_empty() {
        (dirs, Some(sets))
    } else {
        (vec![RunInfo::load(&a.run)?.config.data], None)
    };
    let (inf, details) = infer(
        &a.run,
        &data,
        only.as_deref(),
        &th,
        Device::select(&a.device)?,
    )?;
    // The page and RUN/infer.json describe the same inference.
    save_json(a.run.join("infer.json"), &inf)?;
    let data = report_data(&a.run, &inf, &details)?;
    let page = write_report(&a.run, &inf, &data)?;
    println!("report: {}", page.display());
    Ok(())
}
