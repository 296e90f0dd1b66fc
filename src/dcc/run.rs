//! What a run directory records about its training: the configuration, the training sets,
//! which class (logit) each set trains as, the σ/m label map, and how to rebuild its
//! networks.

use super::labels::{relabel, LabelMap};
use super::loss::{CeBalance, LossWeights};
use crate::data::augment::{AugmentConfig, Interpolation};
use crate::data::dataset::{Dataset, OpenOptions};
use crate::files::write_atomic;
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
    /// Sets trained with σ/m withheld (classes without a σ/m anchor).
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
    /// How rotations sample the image (runs from before this option rotated bilinearly).
    #[serde(default = "bilinear")]
    pub rotation: Interpolation,
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
    /// The plateau schedule's best loss is forgotten when the anchor switches on (the
    /// total jumps by the new term, which would otherwise count as bad epochs).
    #[serde(default)]
    pub dist_warmup: usize,
    /// Epochs over which λ_dist grows linearly to its value after the warm-up (0: the
    /// anchor switches on at full weight). The plateau schedule's best loss is forgotten
    /// at every ramp epoch, since the total grows with λ.
    #[serde(default)]
    pub dist_ramp: usize,
    /// How sets become classes (runs from before this option trained one class per set).
    #[serde(default = "ClassGrouping::by_set")]
    pub classes: ClassGrouping,
    /// Whether ensemble members share each batch or draw their own shuffles and
    /// augmentations (as the paper's separately trained repeats do).
    #[serde(default)]
    pub member_batches: MemberBatches,
    /// How the cross-entropy weighs a batch's rows (runs from before this option: rows).
    #[serde(default)]
    pub ce_balance: CeBalance,
    /// Weights every member starts from: a safetensors file with dcc's tensor names
    /// (another run's `weights-k.safetensors`, or a PyTorch module saved by
    /// tools/dcc_torch.py); None = random initialisation from the seed.
    #[serde(default)]
    pub init: Option<PathBuf>,
}

/// What the ensemble members train on at each step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MemberBatches {
    /// One batch per step for all members (one loader, one upload); members differ in
    /// initialisation and dropout only.
    #[default]
    Shared,
    /// Every member its own epoch order and augmentation draws over the same split.
    Independent,
}

impl MemberBatches {
    /// Parses `shared` or `independent`.
    pub fn parse(s: &str) -> Result<MemberBatches> {
        match s {
            "shared" => Ok(MemberBatches::Shared),
            "independent" => Ok(MemberBatches::Independent),
            _ => bail!("--member-batches '{s}': expected shared or independent"),
        }
    }
}

fn bilinear() -> Interpolation {
    Interpolation::Bilinear
}

/// How the training sets become classes of the cross-entropy and CCLP terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClassGrouping {
    /// One class per distinct σ/m label, as in the paper's code: known sets sharing a σ/m
    /// (CDM and its feedback variants, a BAHAMAS and a DARKSKIES set at 0.1) are one
    /// class; withheld sets sharing a catalog σ/m merge among themselves (never with a
    /// known class); a withheld set without a σ/m is a class of its own.
    BySigma,
    /// One class per set.
    BySet,
}

impl ClassGrouping {
    /// Parses `by-sigma` or `by-set`.
    pub fn parse(s: &str) -> Result<ClassGrouping> {
        match s {
            "by-sigma" => Ok(ClassGrouping::BySigma),
            "by-set" => Ok(ClassGrouping::BySet),
            _ => bail!("--classes '{s}': expected by-sigma or by-set"),
        }
    }

    fn by_set() -> ClassGrouping {
        ClassGrouping::BySet
    }
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
            rotation: Interpolation::Nearest,
            patience: 10,
            // netloader's ReduceLROnPlateau (the paper's code) halves the rate.
            factor: 0.5,
            loader_threads: 2,
            skip_bad: false,
            dist_warmup: 0,
            dist_ramp: 0,
            classes: ClassGrouping::BySigma,
            member_batches: MemberBatches::Shared,
            ce_balance: CeBalance::Rows,
            init: None,
        }
    }
}

/// One training set of the run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SetSpec {
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
    /// The training sets: known sets by σ/m, then unknown sets.
    #[serde(alias = "classes")]
    pub sets: Vec<SetSpec>,
    /// The class (logit) each entry of `sets` trains as; empty in runs from before class
    /// grouping, which trained one class per set.
    #[serde(default)]
    pub class_of: Vec<usize>,
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
                "--known needs at least two sets (they define the σ/m axis), found {}",
                if config.known.is_empty() {
                    "none".to_string()
                } else {
                    config.known.join(", ")
                }
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
        let mut sets = Vec::new();
        for name in &config.known {
            let s = find(name)?;
            let Some(sigma) = s.sigma else {
                bail!("set '{name}' is given as known but its σ/m is empty in the catalog; list it under --unknown");
            };
            if sets.iter().any(|c: &SetSpec| &c.name == name) {
                bail!("set '{name}' is listed twice");
            }
            sets.push(SetSpec {
                name: name.clone(),
                sigma: Some(sigma),
                known: true,
            });
        }
        sets.sort_by(|a, b| {
            a.sigma
                .partial_cmp(&b.sigma)
                .expect("σ/m values are finite")
        });
        for name in &config.unknown {
            if config.known.contains(name) {
                bail!("set '{name}' is listed as both known and unknown");
            }
            if sets.iter().any(|c| &c.name == name) {
                bail!("set '{name}' is listed twice");
            }
            sets.push(SetSpec {
                name: name.clone(),
                sigma: find(name)?.sigma,
                known: false,
            });
        }
        let known: Vec<f64> = sets
            .iter()
            .filter_map(|c| c.sigma.filter(|_| c.known))
            .collect();
        let label_map = LabelMap::fit(&known)?;
        let [_, c, h, w] = dataset.dims();
        let channels = config.channels.as_ref().map_or(c, |v| v.len());
        let class_of = group(&sets, config.classes);
        Ok(RunInfo {
            config,
            sets,
            class_of,
            label_map,
            input: [channels, h, w],
        })
    }

    /// The class (logit index) of entry `i` of `sets`.
    pub fn class_of_set(&self, i: usize) -> usize {
        self.class_of.get(i).copied().unwrap_or(i)
    }

    /// Number of classes (logits).
    pub fn class_count(&self) -> usize {
        (0..self.sets.len())
            .map(|i| self.class_of_set(i) + 1)
            .max()
            .unwrap_or(0)
    }

    /// Each class's name: its sets' names joined by '+', withheld ones marked '*'.
    pub fn class_names(&self) -> Vec<String> {
        let mut names = vec![Vec::new(); self.class_count()];
        for (i, s) in self.sets.iter().enumerate() {
            let mark = if s.known { "" } else { "*" };
            names[self.class_of_set(i)].push(format!("{}{mark}", s.name));
        }
        names.into_iter().map(|n| n.join("+")).collect()
    }

    /// Label targets per class (None for classes of withheld sets).
    pub fn targets(&self) -> Vec<Option<f32>> {
        let mut t = vec![None; self.class_count()];
        for (i, s) in self.sets.iter().enumerate() {
            if let Some(sigma) = s.sigma.filter(|_| s.known) {
                t[self.class_of_set(i)] = Some(self.label_map.label(sigma) as f32);
            }
        }
        t
    }

    /// Builds ensemble member `k` with its initial weights.
    pub fn network(&self, k: usize) -> Result<Network> {
        self.config.network.build(
            self.input,
            self.class_count(),
            member_seed(self.config.seed, k),
        )
    }

    /// The training's augmentation (inference's test-time augmentation draws from it too).
    pub fn augment(&self) -> AugmentConfig {
        AugmentConfig {
            flips: self.config.flips,
            rot90: false,
            rotate: self.config.rotate,
            interpolation: self.config.rotation,
        }
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

    /// Writes a new run's `config.json` and `network.toml` (the network alone, for reading
    /// and for `--config FILE` in another run).
    pub fn save_new(&self, run: &Path) -> Result<()> {
        self.save(run)?;
        let network = toml::to_string(&self.config.network)?;
        write_atomic(&run.join("network.toml"), network.as_bytes())
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

/// The class of every set in `sets` (known sets first, sorted by σ/m): by σ/m label, or
/// one per set.
fn group(sets: &[SetSpec], grouping: ClassGrouping) -> Vec<usize> {
    if grouping == ClassGrouping::BySet {
        return (0..sets.len()).collect();
    }
    // A class is keyed by (known, relabelled σ/m); a withheld set without σ/m by its index.
    let mut keys: Vec<(bool, Option<f64>, usize)> = Vec::new();
    sets.iter()
        .enumerate()
        .map(|(i, s)| {
            let key = match s.sigma {
                Some(v) => (s.known, Some(relabel(v)), usize::MAX),
                None => (s.known, None, i),
            };
            keys.iter().position(|k| *k == key).unwrap_or_else(|| {
                keys.push(key);
                keys.len() - 1
            })
        })
        .collect()
}

/// The seed of ensemble member `k`.
pub fn member_seed(seed: u64, k: usize) -> u64 {
    crate::seed::derive(seed, 0x6d656d, k as u64)
}

/// File name of member `k`'s weights.
pub fn weights_file(k: usize) -> String {
    format!("weights-{k}.safetensors")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, sigma: Option<f64>, known: bool) -> SetSpec {
        SetSpec {
            name: name.into(),
            sigma,
            known,
        }
    }

    #[test]
    fn by_sigma_merges_known_sets_sharing_a_label_and_withheld_ones_among_themselves() {
        let sets = vec![
            set("cdm", Some(0.0), true),
            set("agn", Some(0.0), true),
            set("exact-0.01", Some(0.01), true),
            set("b-0.1", Some(0.1), true),
            set("d-0.1", Some(0.1), true),
            set("b-1", Some(1.0), true),
            set("w-0.1", Some(0.1), false),
            set("w2-0.1", Some(0.1), false),
            set("blind", None, false),
            set("blind2", None, false),
        ];
        // CDM counts as 0.01; a withheld 0.1 never joins the known 0.1 class.
        assert_eq!(
            group(&sets, ClassGrouping::BySigma),
            vec![0, 0, 0, 1, 1, 2, 3, 3, 4, 5]
        );
        assert_eq!(
            group(&sets, ClassGrouping::BySet),
            (0..10).collect::<Vec<_>>()
        );
    }

    #[test]
    fn targets_and_names_follow_the_class_map_and_old_runs_have_one_class_per_set() {
        let mut info = RunInfo {
            config: TrainConfig::new("d".into(), NetConfig::load("small").unwrap()),
            sets: vec![
                set("cdm", Some(0.0), true),
                set("agn", Some(0.0), true),
                set("b-1", Some(1.0), true),
                set("w", None, false),
            ],
            class_of: vec![0, 0, 1, 2],
            label_map: LabelMap::fit(&[0.0, 1.0]).unwrap(),
            input: [1, 8, 8],
        };
        assert_eq!(info.class_count(), 3);
        assert_eq!(info.targets(), vec![Some(0.0), Some(1.0), None]);
        assert_eq!(info.class_names(), vec!["cdm+agn", "b-1", "w*"]);
        // A run directory from before class grouping: no class map, one class per set.
        let mut v = serde_json::to_value(&info).unwrap();
        let obj = v.as_object_mut().unwrap();
        obj.remove("class_of");
        let sets = obj.remove("sets").unwrap();
        obj.insert("classes".into(), sets);
        let cfg = obj["config"].as_object_mut().unwrap();
        cfg.remove("classes");
        cfg.remove("rotation");
        info = serde_json::from_value(v).unwrap();
        assert_eq!(info.class_count(), 4);
        assert_eq!(info.config.classes, ClassGrouping::BySet);
        assert_eq!(info.config.rotation, Interpolation::Bilinear);
        assert_eq!(info.targets(), vec![Some(0.0), Some(0.0), Some(1.0), None]);
        assert!(ClassGrouping::parse("by-label").is_err());
    }
}
