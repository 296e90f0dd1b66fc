//! What `dcc infer` answers: the thresholds it applies and the per-set results, as
//! serialised to `infer.json` (schema `dcc-infer/2`). The computation is in infer.rs.

use super::bootstrap::SetEstimate;
use super::ood::SetOod;
use super::posterior::Posterior;
use anyhow::{bail, Result};
use serde::Serialize;
use std::path::PathBuf;

/// Schema tag of the JSON output.
pub const SCHEMA: &str = "dcc-infer/2";

/// Which latents stand for a training class in the overlap and nearest-neighbour tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum References {
    /// Half of each class's held-out (validation) images; the other half is what the
    /// class itself is tested on (the paper predicts on held-out images: training latents
    /// are compacted by CCLP and bias overlaps low).
    Validation,
    /// The training images (dcc before this option; kept for comparison).
    Train,
}

impl References {
    /// Parses `validation` or `train`.
    pub fn parse(s: &str) -> Result<References> {
        match s {
            "validation" => Ok(References::Validation),
            "train" => Ok(References::Train),
            _ => bail!("--references '{s}': expected validation or train"),
        }
    }
}

/// Fewest held-out images per class on each side of the reference / test split.
pub const MIN_HELD_OUT_REFERENCES: usize = 10;

/// How `infer` judges trust (read back from `infer.json` by `dcc report`; fields an
/// older file lacks take their defaults).
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Thresholds {
    /// A set is recognised when its confidence (largest mean overlap with a known class)
    /// reaches this.
    pub min_confidence: f64,
    /// k of the nearest-neighbour distance.
    pub knn_k: usize,
    /// ... and when at most this fraction of its images lie beyond the training data's
    /// 95th percentile of the k-th neighbour distance.
    pub max_far_fraction: f64,
    /// The class references of both tests.
    pub references: References,
    /// Inference images get the training's random flips and rotation (seeded per image),
    /// as the paper's loader does on every access: train and test see the same
    /// preprocessing (over seeds 0–4 of the demo this moved the withheld σ/m toward its
    /// truth at every seed).
    pub augment: bool,
    /// A set is out-of-domain when the one-sided Mann–Whitney test of its images'
    /// out-of-domain scores against the held-out calibration images' rejects at this level
    /// (the false-alarm rate on in-domain sets).
    pub ood_alpha: f64,
    /// An image counts as flagged when its conformal p-value is at most this.
    pub ood_image_alpha: f64,
}

impl Thresholds {
    /// Rejects settings no test can use (levels outside (0, 1), k = 0).
    pub fn check(&self) -> Result<()> {
        for (name, v) in [
            ("--ood-alpha", self.ood_alpha),
            ("--ood-image-alpha", self.ood_image_alpha),
            ("--max-far-fraction", self.max_far_fraction),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                bail!("{name} {v}: expected a level in (0, 1]");
            }
        }
        if self.knn_k == 0 {
            bail!("--knn-k 0: expected at least 1 neighbour");
        }
        Ok(())
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_confidence: 0.1,
            knn_k: 10,
            max_far_fraction: 0.5,
            references: References::Validation,
            augment: true,
            ood_alpha: 0.01,
            ood_image_alpha: 0.05,
        }
    }
}

/// Overlap of a set with one training class, over the ensemble.
#[derive(Clone, Debug, Serialize)]
pub struct ClassOverlap {
    /// The class.
    pub class: String,
    /// Whether the class was known (σ/m anchored) in training.
    pub known: bool,
    /// Mean overlap over members.
    pub mean: f64,
    /// Standard error over members.
    pub stderr: f64,
}

/// Everything inferred about one set.
#[derive(Clone, Debug, Serialize)]
pub struct SetInference {
    /// Set name.
    pub name: String,
    /// Dataset directory it came from.
    pub data: PathBuf,
    /// Images used (by the posterior).
    pub images: usize,
    /// Of those, the images the overlap and kNN tests use (a training class's own
    /// reference half is left out).
    pub trust_images: usize,
    /// "known", "unknown" (a training class with σ/m withheld; its validation images are
    /// used) or "new" (not seen in training).
    pub role: String,
    /// σ/m in the catalog, if any (never used by the inference).
    pub catalog_sigma: Option<f64>,
    /// The σ/m posterior (the paper's product of per-member KDEs).
    pub posterior: Posterior,
    /// The set-level estimate: median ensemble-mean z₀ with a bootstrap interval over
    /// images and members.
    pub set_level: SetEstimate,
    /// Overlap with every training class.
    pub overlaps: Vec<ClassOverlap>,
    /// Largest mean overlap with a known class.
    pub confidence: f64,
    /// The known class giving the confidence.
    pub closest_known: String,
    /// Median over images of (k-th neighbour distance / training 95th percentile), mean over members.
    pub knn_median_ratio: f64,
    /// Fraction of images beyond the training 95th percentile, mean over members.
    pub knn_far_fraction: f64,
    /// Per image: k-th neighbour distance ratio, mean over members (for AUROCs).
    pub knn_ratio_per_image: Vec<f64>,
    /// The out-of-domain test (`ood_*` fields).
    #[serde(flatten)]
    pub ood: SetOod,
    /// "out-of-domain", "recognised", "extrapolating" or "unreliable" (would be recognised,
    /// but the model failed a did-it-learn check: see the warnings).
    pub verdict: String,
}

/// The whole inference.
#[derive(Clone, Debug, Serialize)]
pub struct Inference {
    /// `dcc-infer/1`.
    pub schema: String,
    /// The run directory.
    pub run: PathBuf,
    /// Ensemble members used.
    pub members: usize,
    /// Training classes in logit order.
    pub classes: Vec<String>,
    /// The verdict thresholds.
    pub thresholds: Thresholds,
    /// Held-out in-domain images calibrating the out-of-domain test.
    pub calibration_images: usize,
    /// The calibration images' own out-of-domain scores (each against the others).
    pub calibration_scores: Vec<f64>,
    /// The same per training set (the set test's other references).
    pub calibration_groups: Vec<super::ood::CalibrationGroup>,
    /// Signs that the model did not learn (`learned.rs`); empty when none.
    pub warnings: Vec<String>,
    /// One entry per set.
    pub sets: Vec<SetInference>,
}
