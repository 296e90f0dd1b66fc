//! `dcc train`: trains a DCC ensemble on a dataset directory into a run directory.

use anyhow::{bail, Context, Result};
use clap::Args as ClapArgs;
use dcc::data::augment::Interpolation;
use dcc::data::dataset::{Dataset, OpenOptions};
use dcc::data::npy::write_atomic;
use dcc::dcc::loss::LossWeights;
use dcc::dcc::run::{ClassGrouping, MemberBatches, RunInfo, TrainConfig};
use dcc::dcc::train::train;
use dcc::nn::config::NetConfig;
use dcc::tensor::Device;
use std::path::PathBuf;

/// `dcc train` arguments.
#[derive(ClapArgs)]
pub struct Args {
    /// Dataset directory (images.npy + catalog.csv).
    #[arg(long, required_unless_present = "resume")]
    pub data: Option<PathBuf>,
    /// Run directory to create (or resume).
    #[arg(long)]
    pub run: PathBuf,
    /// Network: small, inception, or a TOML file.
    #[arg(long, default_value = "small")]
    pub config: String,
    /// Known sets (comma-separated set names); their σ/m anchors latent dimension 0.
    #[arg(long, value_delimiter = ',', required_unless_present = "resume")]
    pub known: Vec<String>,
    /// Unknown sets: trained as classes with σ/m withheld.
    #[arg(long, value_delimiter = ',')]
    pub unknown: Vec<String>,
    /// by-sigma: one class per σ/m label (the paper's code: known sets sharing a σ/m are
    /// one class); by-set: one class per set.
    #[arg(long, default_value = "by-sigma")]
    pub classes: String,
    /// shared: every ensemble member trains on the same batches; independent: each draws
    /// its own shuffles and augmentations (the paper's separately trained repeats).
    #[arg(long, default_value = "shared")]
    pub member_batches: String,
    /// Ensemble members.
    #[arg(long, default_value_t = 3)]
    pub ensemble: usize,
    /// Epochs (with --resume: the new total).
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

/// Runs `dcc train`.
pub fn run(a: Args) -> Result<()> {
    let device = Device::select(&a.device)?;
    let info = if a.resume {
        let mut info = RunInfo::load(&a.run)?;
        if let Some(e) = a.epochs {
            info.config.epochs = e;
        }
        info.save(&a.run)?;
        info
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
        let data = a.data.expect("clap requires --data without --resume");
        let mut cfg = TrainConfig::new(data, NetConfig::load(&a.config)?);
        cfg.known = a.known;
        cfg.unknown = a.unknown;
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
        cfg.flips = !a.no_flips;
        cfg.rotate = !a.no_rotate;
        cfg.rotation = Interpolation::parse(&a.rotation)?;
        cfg.skip_bad = a.skip_bad;
        cfg.dist_warmup = a.dist_warmup;
        let options = OpenOptions {
            skip_bad: cfg.skip_bad,
        };
        let info = RunInfo::plan(cfg.clone(), &Dataset::open(&cfg.data, &options)?)?;
        std::fs::create_dir_all(&a.run).with_context(|| format!("creating {}", a.run.display()))?;
        info.save(&a.run)?;
        let network = toml::to_string(&info.config.network)?;
        write_atomic(&a.run.join("network.toml"), network.as_bytes())?;
        info
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
    let log = train(&info, &a.run, a.resume, true, device)?;
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
