//! What a run directory records about its training: the configuration, the class order
//! (every training set is a class), the σ/m label map, and how to rebuild its networks.

use super::labels::LabelMap;
use super::loss::LossWeights;
use crate::data::dataset::{Dataset, OpenOptions};
use crate::data::npy::write_atomic;
use crate::nn::config::NetConfig;
use crate::nn::network::Network;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Everything `dcc train` was asked to do.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The training dataset directory.
    pub data: PathBuf,
    /// The network description.
    pub network: NetConfig,
    /// Sets whose σ/m anchors latent dimension 0.
    pub known: Vec<String>,
    /// Sets trained as classes of their own, σ/m withheld.
    pub unknown: Vec<String>,
    /// Ensemble members.
    pub ensemble: usize,
    /// Epochs.
    pub epochs: usize,
    /// Images per batch.
    pub batch: usize,
    /// Initial learning rate (AdamW).
    pub lr: f32,
    /// AdamW weight decay.
    pub weight_decay: f32,
    /// Fraction of each set held out for validation.
    pub validation_fraction: f64,
    /// Seed of initialisation, split, shuffles, augmentation, dropout.
    pub seed: u64,
    /// Input channels to use (None = all).
    pub channels: Option<Vec<usize>>,
    /// λ weights of the DCC loss.
    pub loss: LossWeights,
    /// Random flips in training.
    pub flips: bool,
    /// Random rotations in [0°, 180°) in training.
    pub rotate: bool,
    /// ReduceLROnPlateau patience (epochs).
    pub patience: u32,
    /// ReduceLROnPlateau factor.
    pub factor: f64,
    /// Background threads of the loader.
    pub loader_threads: usize,
    /// Skip images with NaN/Inf pixels instead of refusing the dataset.
    pub skip_bad: bool,
    /// Epochs trained with λ_dist = 0 before the distance anchor is switched on (0 = the
    /// paper's schedule). The anchor pulls one median element per set with a gradient far
    /// larger than a row's CE share; before the sets separate those pulls cancel and, through
    /// AdamW's normalisation, drown the classification signal — short runs need the warm-up.
    #[serde(default)]
    pub dist_warmup: usize,
}

impl TrainConfig {
    /// The paper's defaults for `data` and `network`, with every other field to be set.
    pub fn new(data: PathBuf, network: NetConfig) -> TrainConfig {
        TrainConfig {
            data,
            network,
            known: Vec::new(),
            unknown: Vec::new(),
            ensemble: 3,
            epochs: 150,
            batch: 120,
            lr: 1e-4,
            weight_decay: 0.01,
            validation_fraction: 0.2,
            seed: 0,
            channels: None,
            loss: LossWeights::default(),
            flips: true,
            rotate: true,
            patience: 10,
            factor: 0.1,
            loader_threads: 2,
            skip_bad: false,
            dist_warmup: 0,
        }
    }
}

/// One class of the trained networks.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClassSpec {
    /// The set name.
    pub name: String,
    /// σ/m from the catalog (None when the catalog withholds it).
    pub sigma: Option<f64>,
    /// Whether its σ/m anchored the latent axis in training.
    pub known: bool,
}

/// The run's `config.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunInfo {
    /// The configuration.
    pub config: TrainConfig,
    /// Classes in logit order: known sets by σ/m, then unknown sets.
    pub classes: Vec<ClassSpec>,
    /// The σ/m scaling fitted to the known sets.
    pub label_map: LabelMap,
    /// Network input C×H×W.
    pub input: [usize; 3],
}

/// File name of the run description.
pub const RUN_FILE: &str = "config.json";

impl RunInfo {
    /// Works out the classes and the label map of `config` on its dataset.
    pub fn plan(config: TrainConfig, dataset: &Dataset) -> Result<RunInfo> {
        if config.known.len() < 2 {
            bail!(
                "--known needs at least two sets (they define the σ/m axis), found {:?}",
                config.known
            );
        }
        if config.ensemble == 0 || config.batch < 2 || config.epochs == 0 {
            bail!("--ensemble and --epochs must be ≥ 1 and --batch ≥ 2");
        }
        let find = |name: &str| -> Result<&crate::data::dataset::SimulationSet> {
            dataset
                .sets()
                .iter()
                .find(|s| s.name == name)
                .with_context(|| {
                    let have: Vec<&str> = dataset.sets().iter().map(|s| s.name.as_str()).collect();
                    format!(
                        "set '{name}' is not in {} (it has: {})",
                        dataset.dir().display(),
                        have.join(", ")
                    )
                })
        };
        let mut classes = Vec::new();
        for name in &config.known {
            let s = find(name)?;
            let Some(sigma) = s.sigma else {
                bail!("set '{name}' is given as known but its σ/m is empty in the catalog; list it under --unknown");
            };
            classes.push(ClassSpec {
                name: name.clone(),
                sigma: Some(sigma),
                known: true,
            });
        }
        classes.sort_by(|a, b| {
            a.sigma
                .partial_cmp(&b.sigma)
                .expect("σ/m values are finite")
        });
        for name in &config.unknown {
            if config.known.contains(name) {
                bail!("set '{name}' is listed as both known and unknown");
            }
            classes.push(ClassSpec {
                name: name.clone(),
                sigma: find(name)?.sigma,
                known: false,
            });
        }
        let known: Vec<f64> = classes
            .iter()
            .filter_map(|c| c.sigma.filter(|_| c.known))
            .collect();
        let label_map = LabelMap::fit(&known)?;
        let [_, c, h, w] = dataset.dims();
        let channels = config.channels.as_ref().map_or(c, |v| v.len());
        Ok(RunInfo {
            config,
            classes,
            label_map,
            input: [channels, h, w],
        })
    }

    /// Label targets per class (None for unknown classes).
    pub fn targets(&self) -> Vec<Option<f32>> {
        self.classes
            .iter()
            .map(|c| {
                c.sigma
                    .filter(|_| c.known)
                    .map(|s| self.label_map.label(s) as f32)
            })
            .collect()
    }

    /// Builds ensemble member `k` with its initial weights.
    pub fn network(&self, k: usize) -> Result<Network> {
        self.config.network.build(
            self.input,
            self.classes.len(),
            member_seed(self.config.seed, k),
        )
    }

    /// Opens the training dataset.
    pub fn open_dataset(&self) -> Result<Dataset> {
        Dataset::open(
            &self.config.data,
            &OpenOptions {
                skip_bad: self.config.skip_bad,
            },
        )
    }

    /// Writes `config.json` into `run`.
    pub fn save(&self, run: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        write_atomic(&run.join(RUN_FILE), text.as_bytes())
    }

    /// Reads `config.json` from `run`.
    pub fn load(run: &Path) -> Result<RunInfo> {
        let path = run.join(RUN_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("{}: not a dcc run directory (no {RUN_FILE})", run.display())
        })?;
        serde_json::from_str(&text)
            .with_context(|| format!("{}: malformed run description", path.display()))
    }
}

/// The seed of ensemble member `k`.
pub fn member_seed(seed: u64, k: usize) -> u64 {
    crate::ops::dropout::layer_seed(seed, 0x6d656d, k as u64)
}

/// File name of member `k`'s weights.
pub fn weights_file(k: usize) -> String {
    format!("weights-{k}.safetensors")
}
