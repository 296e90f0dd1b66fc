//! `dcc simulate`: writes a synthetic SIDM cluster dataset (images.npy, catalog.csv,
//! simulation.json) from named sets, knobs and a seed.

use crate::data::sim::config::{parse_feedback, Channel, KNOBS};
use crate::data::sim::output::{simulate_to_dir, SimulationPlan};
use crate::data::sim::presets::{resolve_set, Preset, SHIFTS};
use anyhow::{bail, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `dcc simulate`.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Output dataset directory (created if missing; its files are replaced).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Family that completes short set names and gives the default sets:
    /// bahamas (cdm,0.1,0.3,1), bahamas-agn (cdm,agn-weak,agn-strong), darkskies (0,0.1,0.2).
    #[arg(long, default_value = "bahamas")]
    pub preset: String,
    /// Comma-separated sets, each NAME[:knob=value...]; NAME is a full name
    /// (bahamas-0.3, darkskies-0.1, bahamas-agn-weak, shift-code, ...) or a short one
    /// (cdm, 0.3, agn-weak) completed by --preset. See --list.
    #[arg(long)]
    pub sets: Option<String>,
    /// Maps per set (default: the paper's count, 3600 for bahamas, 1200 for darkskies).
    #[arg(long)]
    pub per_set: Option<usize>,
    /// Channels of each image, in order: any of mass, xray, stellar.
    #[arg(long, default_value = "mass,xray,stellar")]
    pub channels: String,
    /// AGN feedback for every set: weak, fiducial, strong or log10 ΔT_heat (e.g. 8.4).
    #[arg(long)]
    pub feedback: Option<String>,
    /// Noise for every set: lensing=<galaxies/arcmin²>,xray=<peak counts or lo..hi>.
    #[arg(long)]
    pub noise: Option<String>,
    /// Knobs applied to every set, comma-separated key=value (see --list).
    #[arg(long)]
    pub shift: Option<String>,
    /// Master seed: map i of set S is seeded from (seed, S, i).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Maps generated in parallel before being written, in order.
    #[arg(long, default_value_t = 256)]
    pub chunk: usize,
    /// Print the named sets and knobs, and exit.
    #[arg(long)]
    pub list: bool,
}

fn list() {
    println!("presets (--preset): bahamas, bahamas-agn, darkskies");
    println!("sets:");
    println!("  bahamas-<σ|cdm>       BAHAMAS-SIDM-like, Duffy c(M), log ΔT = 8.0");
    println!("  bahamas-agn-weak      CDM, log ΔT = 7.8");
    println!("  bahamas-agn-strong    CDM, log ΔT = 8.2");
    println!("  darkskies-<σ|cdm>     DARKSKIES-like: Dutton–Macciò c(M), 20 % subhaloes, gas β 0.6, 70 % cool cores");
    for (name, knobs) in SHIFTS {
        println!("  {name:<21} bahamas-cdm with {knobs}");
    }
    println!("knobs (NAME:key=value, --shift key=value,...):");
    for (k, what) in KNOBS {
        println!("  {k:<13} {what}");
    }
}

/// Runs `dcc simulate`.
pub fn run(args: SimulateArgs) -> Result<()> {
    if args.list {
        list();
        return Ok(());
    }
    let Some(out) = args.out.clone() else {
        bail!("simulate: --out DIR is required (or --list to see the sets)");
    };
    let preset = Preset::parse(&args.preset)?;
    let specs: Vec<String> = match &args.sets {
        Some(s) => s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        None => preset
            .default_sets()
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    let mut sets = Vec::with_capacity(specs.len());
    for spec in &specs {
        let mut set = resolve_set(spec, preset)?;
        if let Some(f) = &args.feedback {
            set.log_dt = parse_feedback(f)?;
        }
        if let Some(noise) = &args.noise {
            for k in noise.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                if !(k.starts_with("lensing=") || k.starts_with("xray=")) {
                    bail!("--noise: expected lensing=<n_gal> or xray=<counts>, found '{k}'");
                }
                set.apply(k)?;
            }
        }
        if let Some(shift) = &args.shift {
            for k in shift.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                set.apply(k)?;
            }
        }
        sets.push(set);
    }
    let plan = SimulationPlan {
        sets,
        per_set: args.per_set.unwrap_or(preset.paper_count()),
        channels: Channel::parse_list(&args.channels)?,
        seed: args.seed,
    };
    let total = plan.sets.len() * plan.per_set;
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} maps ({per_sec}, eta {eta})",
        )
        .expect("a valid progress template")
        .progress_chars("=> "),
    );
    let start = Instant::now();
    simulate_to_dir(&plan, &out, args.chunk, &|done| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    let n = plan.sets[0].pixels;
    println!(
        "wrote {total} maps ({} sets × {}) × {} channels × {n}×{n} to {} in {:.1} s",
        plan.sets.len(),
        plan.per_set,
        plan.channels.len(),
        out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
