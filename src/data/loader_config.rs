//! What the loader is asked for (split, batching, augmentation, mix-up): plain settings
//! shared by the loader and the batch builder, so neither depends on the other.

use super::augment::AugmentConfig;

/// Mix-up of two training images of different sets.
#[derive(Clone, Debug, PartialEq)]
pub struct MixUp {
    /// Fraction of training rows that are mixed.
    pub probability: f64,
    /// Weight of the row's own image (½ gives the paper's mean).
    pub weight: f64,
}

/// How the loader splits, batches and augments.
#[derive(Clone, Debug)]
pub struct LoaderConfig {
    /// Images per batch.
    pub batch_size: usize,
    /// Seed of the split, the shuffles and the augmentations.
    pub seed: u64,
    /// Fraction of each set held out for validation, in [0, 1).
    pub validation_fraction: f64,
    /// Input channels to keep, in this order (None = all).
    pub channels: Option<Vec<usize>>,
    /// Augmentation of training batches (validation batches are never augmented).
    pub augment: AugmentConfig,
    /// Optional mix-up of training rows.
    pub mixup: Option<MixUp>,
    /// Divide every image and channel by its own maximum.
    pub normalise: bool,
    /// Background threads assembling batches.
    pub threads: usize,
    /// Batches assembled ahead of the consumer (at least one per thread).
    pub prefetch: usize,
    /// Drop a final training batch smaller than `batch_size`.
    pub drop_last: bool,
    /// Dataset set indices taking part (None = every set); the others are left out of
    /// both splits and of mix-up.
    pub sets: Option<Vec<usize>>,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig {
            batch_size: 120,
            seed: 0,
            validation_fraction: 0.2,
            channels: None,
            augment: AugmentConfig::paper(),
            mixup: None,
            normalise: true,
            threads: 2,
            prefetch: 4,
            drop_last: false,
            sets: None,
        }
    }
}

/// Which part of the split to iterate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Shuffled each epoch, augmented.
    Train,
    /// Fixed order, not augmented.
    Validation,
}
