//! `dcc train`: trains a DCC ensemble on a dataset directory into a run directory.

use crate::data::augment::Interpolation;
use crate::data::dataset::{split_set_names, Dataset, OpenOptions};
use crate::data::loader::{Loader, LoaderConfig, Split};
use crate::dcc::lock::RunLock;
use crate::dcc::loss::{CeBalance, LossWeights};
use crate::dcc::run::{ClassGrouping, MemberBatches, RunInfo, TrainConfig};
use crate::dcc::train::has_checkpoint;
use crate::dcc::train::train;
use crate::nn::config::NetConfig;
use crate::tensor::Device;
use anyhow::{bail, Context, Result};
use clap::Args as ClapArgs;
use std::path::{Path, PathBuf};

/// `dcc train` arguments.
#[derive(ClapArgs)]
pub struct Args {
    /// Dataset directory (images.npy + catalog.csv).
    #[arg(long, required_unless_present = "resume")]
    pub data: Option<PathBuf>,
    /// Run directory to create (or resume).
    #[arg(long)]
    pub run: PathBuf,
    /// Start every member from these weights (a safetensors file with dcc's tensor names:
    /// another run's weights-K.safetensors, or tools/dcc_torch.py's save_member).
    #[arg(long, value_name = "FILE")]
    pub init: Option<PathBuf>,
    /// Network: small (maps ≥ 78×78), small-same (≥ 16×16), inception (≥ 16×16), or a
    /// TOML file (docs/data.md).
    #[arg(long, default_value = "small")]
    pub config: String,
    /// Known sets (comma-separated, or the flag repeated; a value that names a set whole
    /// may hold commas); their σ/m anchors latent dimension 0.
    #[arg(long, required_unless_present = "resume")]
    pub known: Vec<String>,
    /// Unknown sets (as --known): trained as classes with σ/m withheld.
    #[arg(long)]
    pub unknown: Vec<String>,
    /// by-sigma: one class per σ/m label (the paper's code: known sets sharing a σ/m are
    /// one class); by-set: one class per set.
    #[arg(long, default_value = "by-sigma")]
    pub classes: String,
    /// shared: every ensemble member trains on the same batches; independent: each draws
    /// its own shuffles and augmentations (the paper's separately trained repeats).
    #[arg(long, default_value = "shared")]
    pub member_batches: String,
    /// rows: every image counts the same in the cross-entropy (the paper's); classes: every
    /// class in the batch counts the same, so a class merged from several sets (CDM and
    /// its feedback variants) does not pull ambiguous images towards itself.
    #[arg(long, default_value = "rows")]
    pub ce_balance: String,
    /// Ensemble members.
    #[arg(long, default_value_t = 3)]
    pub ensemble: usize,
    /// Epochs [default: 150] (with --resume: the new total).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Images per batch.
    #[arg(long, default_value_t = 120)]
    pub batch: usize,
    /// Initial learning rate (AdamW; ReduceLROnPlateau lowers it).
    #[arg(long, default_value_t = 1e-4)]
    pub lr: f32,
    /// Fraction of each set held out for validation.
    #[arg(long, default_value_t = 0.2)]
    pub validation: f64,
    /// Seed of everything random.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Input channels to use, e.g. 0 or 0,1 (default: all).
    #[arg(long, value_delimiter = ',')]
    pub channels: Option<Vec<usize>>,
    /// λ_class, λ_cclp, λ_dist.
    #[arg(long, value_delimiter = ',', default_value = "1,2.2,1")]
    pub lambda: Vec<f32>,
    /// Epochs with λ_dist = 0 before the distance anchor starts (short runs need it).
    #[arg(long, default_value_t = 0)]
    pub dist_warmup: usize,
    /// Epochs over which λ_dist grows linearly after the warm-up (0: a hard switch).
    #[arg(long, default_value_t = 0)]
    pub dist_ramp: usize,
    /// ReduceLROnPlateau patience in epochs.
    #[arg(long, default_value_t = 10)]
    pub patience: u32,
    /// ReduceLROnPlateau factor (the paper's code halves the rate).
    #[arg(long, default_value_t = 0.5)]
    pub factor: f64,
    /// Turn off random flips.
    #[arg(long)]
    pub no_flips: bool,
    /// Turn off random rotations.
    #[arg(long)]
    pub no_rotate: bool,
    /// How rotations sample the image: nearest (the paper's torchvision default) or
    /// bilinear.
    #[arg(long, default_value = "nearest")]
    pub rotation: String,
    /// Skip images with NaN/Inf pixels instead of refusing the dataset.
    #[arg(long)]
    pub skip_bad: bool,
    /// auto, cpu, cuda, cuda:N or cuda-emu (the CUDA kernels emulated on the CPU; slow).
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Continue the run in --run from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
}

/// The `train` flags given on the command line (clap ids, e.g. "batch"), to tell a
/// flag the user typed from its default.
fn given_flags() -> Vec<String> {
    use clap::CommandFactory;
    let Ok(m) = super::Cli::command().try_get_matches_from(std::env::args_os()) else {
        return Vec::new();
    };
    let Some(("train", sub)) = m.subcommand() else {
        return Vec::new();
    };
    sub.ids()
        .filter(|id| sub.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine))
        .map(|id| id.to_string())
        .collect()
}

/// A directory as an absolute path (kept as typed when that fails), so a run can be used
/// from any working directory.
fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Points a run at `dir` after checking that it holds the run's sets with its map size.
fn repoint(info: &mut RunInfo, dir: &Path) -> Result<()> {
    let ds = Dataset::open(
        dir,
        &OpenOptions {
            skip_bad: info.config.skip_bad,
        },
    )?;
    let missing: Vec<&str> = info
        .sets
        .iter()
        .map(|s| s.name.as_str())
        .filter(|n| !ds.sets().iter().any(|s| s.name == *n))
        .collect();
    if !missing.is_empty() {
        bail!(
            "--data {}: the run's sets {} are not in it (it has {})",
            dir.display(),
            missing.join(", "),
            ds.sets()
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let [_, _, h, w] = ds.dims();
    if [h, w] != info.input[1..] {
        bail!(
            "--data {}: its maps are {h}×{w}, the run was trained on {}×{}",
            dir.display(),
            info.input[1],
            info.input[2]
        );
    }
    let to = absolute(dir);
    if to != info.config.data {
        eprintln!(
            "training data re-pointed: {} → {}",
            info.config.data.display(),
            to.display()
        );
    }
    info.config.data = to;
    Ok(())
}

/// Everything that would make training fail once the run directory exists, checked
/// before it is created.
fn preflight(info: &RunInfo, ds: &Dataset) -> Result<()> {
    let c = &info.config;
    let [_, channels, h, w] = ds.dims();
    if let Some(list) = &c.channels {
        if let Some(bad) = list.iter().find(|&&k| k >= channels) {
            bail!(
                "--channels: channel {bad} does not exist: the maps of {} have {channels} channel(s), numbered 0 to {}",
                c.data.display(),
                channels - 1
            );
        }
    }
    if let Err(e) = info.network(0) {
        let need = c.network.min_side(info.input[0], info.class_count());
        let small = |name: &str| {
            NetConfig::load(name)
                .ok()
                .and_then(|n| n.min_side(info.input[0], info.class_count()))
                .map_or(String::new(), |s| format!(" (≥ {s}×{s})"))
        };
        bail!(
            "the '{}' network does not fit {h}×{w} maps ({e:#}); {}",
            c.network.name,
            match need {
                Some(s) => format!(
                    "it needs maps of at least {s}×{s}: use a network for smaller maps, --config small-same{} (the small network with padded convolutions) or --config inception{}, or resample your maps (docs/data.md lists each network's map sizes)",
                    small("small-same"),
                    small("inception"),
                ),
                None => "no map size up to 1024×1024 fits it: check the network TOML".into(),
            }
        );
    }
    if let Some(init) = &c.init {
        let mut net = info.network(0)?;
        crate::dcc::checkpoint::load_params(init, &mut net.params).with_context(|| {
            format!(
                "--init {}: its tensors must match the '{}' network on {}×{}×{} maps with {} classes",
                init.display(),
                c.network.name,
                info.input[0],
                info.input[1],
                info.input[2],
                info.class_count()
            )
        })?;
    }
    let loader = Loader::new(
        std::sync::Arc::new(Dataset::open(
            &c.data,
            &OpenOptions {
                skip_bad: c.skip_bad,
            },
        )?),
        LoaderConfig {
            batch_size: c.batch,
            seed: c.seed,
            validation_fraction: c.validation_fraction,
            channels: c.channels.clone(),
            ..LoaderConfig::default()
        },
    )?;
    let train_n = info
        .sets
        .iter()
        .filter_map(|s| ds.sets().iter().position(|d| d.name == s.name))
        .map(|si| {
            loader
                .indices(Split::Train)
                .iter()
                .filter(|&&i| ds.set_of(i) == Some(si))
                .count()
        })
        .sum::<usize>();
    if c.batch > train_n {
        bail!(
            "--batch {}: the training split of the chosen sets has only {train_n} images; pass --batch {} or less",
            c.batch,
            train_n.max(2)
        );
    }
    for s in &info.sets {
        let Some(si) = ds.sets().iter().position(|d| d.name == s.name) else {
            continue;
        };
        let val = loader
            .indices(Split::Validation)
            .iter()
            .filter(|&&i| ds.set_of(i) == Some(si))
            .count();
        if val < 2 {
            eprintln!(
                "warning: set '{}' has {val} validation image(s) (--validation {}): infer will have too few held-out images of it to test; raise --validation",
                s.name, c.validation_fraction
            );
        }
    }
    Ok(())
}

/// Removes what a fresh `train` wrote before failing with nothing trained, so the same
/// command can simply be run again.
fn clear_untrained(run: &Path, created: bool) {
    for f in ["config.json", "network.toml", "log.jsonl"] {
        let _ = std::fs::remove_file(run.join(f));
    }
    let _ = std::fs::remove_dir_all(run.join("checkpoint.staging"));
    if created {
        let _ = std::fs::remove_dir(run);
    }
}

/// Runs `dcc train`.
pub fn run(a: Args) -> Result<()> {
    let device = Device::select(&a.device)?;
    let given = given_flags();
    let fresh = !a.resume;
    let mut created = false;
    let (info, _lock) = if a.resume {
        let mut info = RunInfo::load(&a.run)?;
        let lock = RunLock::acquire(&a.run)?;
        for id in &given {
            if !["run", "resume", "epochs", "data", "device"].contains(&id.as_str()) {
                eprintln!(
                    "warning: --{} is ignored with --resume: the run keeps the settings it was created with ({})",
                    id.replace('_', "-"),
                    a.run.join("config.json").display()
                );
            }
        }
        if let Some(e) = a.epochs {
            info.config.epochs = e;
        }
        if let Some(d) = &a.data {
            repoint(&mut info, d)?;
        }
        info.save(&a.run)?;
        (info, lock)
    } else {
        if a.run.join("config.json").exists() {
            bail!(
                "{}: already holds a run; pass --resume to continue it or choose another --run",
                a.run.display()
            );
        }
        let [class, cclp, dist] = a.lambda[..] else {
            bail!(
                "--lambda takes three values (class, cclp, dist), found {}",
                a.lambda.len()
            );
        };
        let data = absolute(&a.data.expect("clap requires --data without --resume"));
        let mut cfg = TrainConfig::new(data, NetConfig::load(&a.config)?);
        let options = OpenOptions {
            skip_bad: a.skip_bad,
        };
        let ds = Dataset::open(&cfg.data, &options)?;
        let available: Vec<&str> = ds.sets().iter().map(|s| s.name.as_str()).collect();
        cfg.known = split_set_names(&a.known, &available);
        cfg.unknown = split_set_names(&a.unknown, &available);
        cfg.ensemble = a.ensemble;
        cfg.epochs = a.epochs.unwrap_or(150);
        cfg.batch = a.batch;
        cfg.lr = a.lr;
        cfg.validation_fraction = a.validation;
        cfg.seed = a.seed;
        cfg.channels = a.channels;
        cfg.loss = LossWeights { class, cclp, dist };
        cfg.patience = a.patience;
        if !(a.factor > 0.0 && a.factor < 1.0) {
            bail!("--factor must lie in (0, 1), found {}", a.factor);
        }
        cfg.factor = a.factor;
        cfg.classes = ClassGrouping::parse(&a.classes)?;
        cfg.member_batches = MemberBatches::parse(&a.member_batches)?;
        cfg.ce_balance = CeBalance::parse(&a.ce_balance)?;
        cfg.flips = !a.no_flips;
        cfg.rotate = !a.no_rotate;
        cfg.rotation = Interpolation::parse(&a.rotation)?;
        cfg.skip_bad = a.skip_bad;
        cfg.dist_warmup = a.dist_warmup;
        cfg.dist_ramp = a.dist_ramp;
        cfg.init = a.init.as_deref().map(absolute);
        let info = RunInfo::plan(cfg.clone(), &ds)?;
        preflight(&info, &ds)?;
        created = !a.run.exists();
        std::fs::create_dir_all(&a.run).with_context(|| format!("creating {}", a.run.display()))?;
        let lock = RunLock::acquire(&a.run)?;
        info.save_new(&a.run)?;
        (info, lock)
    };
    let c = &info.config;
    eprintln!(
        "training {} × {} on {} ({} classes: {}), {} epochs of batch {}, {} threads",
        c.ensemble,
        c.network.name,
        c.data.display(),
        info.class_count(),
        info.class_names().join(", "),
        c.epochs,
        c.batch,
        rayon::current_num_threads()
    );
    eprintln!("device: {device}");
    let log = match train(
        &info,
        &a.run,
        a.resume,
        &super::progress::Bar::new(),
        device,
    ) {
        Ok(log) => log,
        Err(e) if fresh && !has_checkpoint(&a.run) => {
            clear_untrained(&a.run, created);
            return Err(e.context(format!(
                "nothing was trained, so {} was cleared: fix the cause and run the same command again",
                a.run.display()
            )));
        }
        Err(e) => return Err(e),
    };
    if let Some(last) = log.last() {
        eprintln!(
            "done: epoch {} mean {:.0} images/s; weights in {}",
            last.epoch,
            last.images_per_s,
            a.run.display()
        );
    }
    Ok(())
}
