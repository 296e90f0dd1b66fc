//! The batch loader: a stratified train/validation split, seeded shuffling per epoch, and
//! batches (channel selection, augmentation, max normalisation, optional mix-up) assembled
//! by background threads a bounded number of batches ahead of the consumer.
//!
//! Determinism: an epoch's order comes from (seed, epoch) and each image's augmentation
//! from (seed, epoch, image index), and worker t builds batches t, t+T, … into its own
//! channel, which the consumer drains round-robin. Batch contents therefore depend only on
//! (seed, epoch), never on thread timing or the number of threads.
//!
//! Mix-up is delivered as a per-row pair (`Batch::mix`: the second image's set and index
//! and the first image's weight) rather than as a float target, because the label scale
//! (log10 σ/m, CDM floor, min–max over known sets) belongs to the loss; `Batch::targets`
//! turns per-set labels into the mixed float targets with `mixup_label`.

use super::augment::{mixup_label, normalise_max, AugmentConfig, Transform};
use super::dataset::Dataset;
use crate::tensor::Tensor;
use anyhow::{bail, Result};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::mpsc::{sync_channel, Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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

/// The second image of a mixed row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mix {
    /// Set of the second image.
    pub set_b: usize,
    /// Dataset index of the second image.
    pub index_b: usize,
    /// Weight of the row's own image (set `set_index`); the second gets 1 − weight.
    pub weight_a: f64,
}

/// One batch of images with their sets.
#[derive(Debug)]
pub struct Batch {
    /// N×C×H×W, channels selected, augmented and normalised.
    pub images: Tensor,
    /// Set of each row (of the first image when mixed).
    pub set_index: Vec<usize>,
    /// The mixed-in image of each row, if any.
    pub mix: Vec<Option<Mix>>,
    /// Dataset index of each row.
    pub indices: Vec<usize>,
}

impl Batch {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Float targets from per-set labels (log10 units): the set's label, or for a mixed
    /// row log10(w·10^a + (1−w)·10^b).
    pub fn targets(&self, label_of_set: &[f64]) -> Vec<f64> {
        self.set_index
            .iter()
            .zip(&self.mix)
            .map(|(&a, m)| match m {
                None => label_of_set[a],
                Some(m) => mixup_label(label_of_set[a], label_of_set[m.set_b], m.weight_a),
            })
            .collect()
    }
}

/// How long the consumer waited for batches, and how many it received.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LoaderStats {
    /// Total time `next()` blocked because no batch was ready.
    pub waited: Duration,
    /// Batches delivered.
    pub batches: usize,
    /// Images delivered.
    pub images: usize,
}

impl LoaderStats {
    fn add(&mut self, o: &LoaderStats) {
        self.waited += o.waited;
        self.batches += o.batches;
        self.images += o.images;
    }
}

/// Splits a dataset and produces batches per epoch.
pub struct Loader {
    dataset: Arc<Dataset>,
    config: Arc<LoaderConfig>,
    channels: Arc<Vec<usize>>,
    train: Vec<usize>,
    validation: Vec<usize>,
    /// Training indices per set, for drawing mix-up partners.
    train_by_set: Arc<Vec<Vec<usize>>>,
    total: Arc<Mutex<LoaderStats>>,
}

/// A 64-bit mix (splitmix64 finaliser) for deriving independent seeds.
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// An RNG for one purpose identified by a tuple of numbers.
fn rng_for(parts: &[u64]) -> ChaCha8Rng {
    let s = parts.iter().fold(0x5eed_u64, |h, &p| mix64(h ^ mix64(p)));
    ChaCha8Rng::seed_from_u64(s)
}

const STREAM_SPLIT: u64 = 1;
const STREAM_ORDER: u64 = 2;
const STREAM_IMAGE: u64 = 3;

impl Loader {
    /// Checks `config` against `dataset` and makes the stratified split.
    pub fn new(dataset: Arc<Dataset>, config: LoaderConfig) -> Result<Loader> {
        let [_, c, h, w] = dataset.dims();
        let dir = dataset.dir().display().to_string();
        if config.batch_size == 0 {
            bail!("loader: batch_size must be at least 1");
        }
        if !(0.0..1.0).contains(&config.validation_fraction) {
            bail!(
                "loader: validation_fraction must be in [0, 1), found {}",
                config.validation_fraction
            );
        }
        let channels = config.channels.clone().unwrap_or_else(|| (0..c).collect());
        if channels.is_empty() {
            bail!("loader: no channels selected");
        }
        if let Some(&bad) = channels.iter().find(|&&k| k >= c) {
            bail!("loader: channel {bad} selected but {dir} has {c} channels (0..{c})");
        }
        if config.augment.rot90 && h != w {
            bail!("loader: rot90 augmentation needs square images, {dir} has {h}×{w}");
        }
        if let Some(m) = &config.mixup {
            if !(0.0..=1.0).contains(&m.probability) || !(0.0..=1.0).contains(&m.weight) {
                bail!("loader: mix-up probability and weight must be in [0, 1], found {m:?}");
            }
        }
        let mut train = Vec::new();
        let mut validation = Vec::new();
        let mut train_by_set = Vec::new();
        for (k, set) in dataset.sets().iter().enumerate() {
            let mut idx = set.indices.clone();
            idx.shuffle(&mut rng_for(&[config.seed, STREAM_SPLIT, k as u64]));
            let n_val = (config.validation_fraction * idx.len() as f64).round() as usize;
            validation.extend_from_slice(&idx[..n_val]);
            let mut t = idx[n_val..].to_vec();
            t.sort_unstable();
            train.extend_from_slice(&t);
            train_by_set.push(t);
        }
        train.sort_unstable();
        validation.sort_unstable();
        if train.is_empty() {
            bail!("loader: the training split of {dir} is empty");
        }
        if config.mixup.is_some() && train_by_set.iter().filter(|t| !t.is_empty()).count() < 2 {
            bail!("loader: mix-up needs at least two sets in the training split of {dir}");
        }
        Ok(Loader {
            dataset,
            config: Arc::new(config),
            channels: Arc::new(channels),
            train,
            validation,
            train_by_set: Arc::new(train_by_set),
            total: Arc::new(Mutex::new(LoaderStats::default())),
        })
    }

    /// The dataset indices of a split, ascending.
    pub fn indices(&self, split: Split) -> &[usize] {
        match split {
            Split::Train => &self.train,
            Split::Validation => &self.validation,
        }
    }

    /// Batches one epoch of `split` yields.
    pub fn batches_per_epoch(&self, split: Split) -> usize {
        let n = self.indices(split).len();
        let b = self.config.batch_size;
        if split == Split::Train && self.config.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// Shape of one delivered image: [C selected, H, W].
    pub fn image_dims(&self) -> [usize; 3] {
        let [_, _, h, w] = self.dataset.dims();
        [self.channels.len(), h, w]
    }

    /// Totals over every epoch iterated so far (updated as each epoch is dropped).
    pub fn stats(&self) -> LoaderStats {
        *self.total.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The order of `split` in `epoch`: shuffled by (seed, epoch) for training.
    pub fn epoch_order(&self, split: Split, epoch: u64) -> Vec<usize> {
        let mut order = self.indices(split).to_vec();
        if split == Split::Train {
            order.shuffle(&mut rng_for(&[self.config.seed, STREAM_ORDER, epoch]));
        }
        order
    }

    /// Starts the background threads for one epoch of `split`.
    pub fn epoch(&self, split: Split, epoch: u64) -> Epoch {
        let order = self.epoch_order(split, epoch);
        let n_batches = self.batches_per_epoch(split);
        let threads = self.config.threads.clamp(1, n_batches.max(1));
        let capacity = self.config.prefetch.div_ceil(threads).max(1);
        let job = Arc::new(EpochJob {
            dataset: self.dataset.clone(),
            config: self.config.clone(),
            channels: self.channels.clone(),
            train_by_set: self.train_by_set.clone(),
            order,
            split,
            epoch,
            n_batches,
        });
        let mut receivers = Vec::new();
        let mut handles = Vec::new();
        for t in 0..threads {
            let (tx, rx) = sync_channel(capacity);
            let job = job.clone();
            let handle = std::thread::Builder::new()
                .name(format!("dcc-loader-{t}"))
                .spawn(move || {
                    for b in (t..job.n_batches).step_by(threads) {
                        if tx.send(job.build(b)).is_err() {
                            return; // the consumer dropped the epoch
                        }
                    }
                })
                .expect("cannot spawn a loader thread");
            receivers.push(rx);
            handles.push(handle);
        }
        Epoch {
            receivers,
            handles,
            next: 0,
            n_batches,
            stats: LoaderStats::default(),
            total: self.total.clone(),
        }
    }
}

/// What every worker of one epoch shares.
struct EpochJob {
    dataset: Arc<Dataset>,
    config: Arc<LoaderConfig>,
    channels: Arc<Vec<usize>>,
    train_by_set: Arc<Vec<Vec<usize>>>,
    order: Vec<usize>,
    split: Split,
    epoch: u64,
    n_batches: usize,
}

impl EpochJob {
    /// Builds batch `b`; depends only on the job, never on which thread runs it.
    fn build(&self, b: usize) -> Batch {
        let bs = self.config.batch_size;
        let rows = &self.order[b * bs..((b + 1) * bs).min(self.order.len())];
        let [_, _, h, w] = self.dataset.dims();
        let hw = h * w;
        let per = self.channels.len() * hw;
        let mut data = vec![0f32; rows.len() * per];
        let mut src = vec![0f32; hw];
        let mut partner = vec![0f32; per];
        let mut set_index = Vec::with_capacity(rows.len());
        let mut mix = Vec::with_capacity(rows.len());
        let train = self.split == Split::Train;
        for (r, &index) in rows.iter().enumerate() {
            let mut rng = rng_for(&[self.config.seed, STREAM_IMAGE, self.epoch, index as u64]);
            let set_a = self
                .dataset
                .set_of(index)
                .expect("split holds only usable images");
            let out = &mut data[r * per..(r + 1) * per];
            self.render(index, train, &mut rng, &mut src, out);
            let mut row_mix = None;
            if let (true, Some(m)) = (train, &self.config.mixup) {
                let (u, pick_set, pick_img): (f64, u64, u64) = (rng.gen(), rng.gen(), rng.gen());
                if u < m.probability {
                    let others: Vec<usize> = (0..self.train_by_set.len())
                        .filter(|&k| k != set_a && !self.train_by_set[k].is_empty())
                        .collect();
                    let set_b = others[(pick_set % others.len() as u64) as usize];
                    let pool = &self.train_by_set[set_b];
                    let index_b = pool[(pick_img % pool.len() as u64) as usize];
                    self.render(index_b, train, &mut rng, &mut src, &mut partner);
                    let (wa, wb) = (m.weight as f32, 1.0 - m.weight as f32);
                    for (o, p) in out.iter_mut().zip(&partner) {
                        *o = wa * *o + wb * p;
                    }
                    if self.config.normalise {
                        out.chunks_exact_mut(hw).for_each(|p| {
                            normalise_max(p);
                        });
                    }
                    row_mix = Some(Mix {
                        set_b,
                        index_b,
                        weight_a: m.weight,
                    });
                }
            }
            set_index.push(set_a);
            mix.push(row_mix);
        }
        let images = Tensor::from_vec([rows.len(), self.channels.len(), h, w], data)
            .expect("batch buffer sized from its shape");
        Batch {
            images,
            set_index,
            mix,
            indices: rows.to_vec(),
        }
    }

    /// Writes image `index` (selected channels, transformed, normalised) into `out`.
    fn render(
        &self,
        index: usize,
        augment: bool,
        rng: &mut ChaCha8Rng,
        src: &mut [f32],
        out: &mut [f32],
    ) {
        let [_, _, h, w] = self.dataset.dims();
        let t = if augment {
            Transform::draw(&self.config.augment, rng)
        } else {
            Transform::IDENTITY
        };
        for (plane, &ch) in out.chunks_exact_mut(h * w).zip(self.channels.iter()) {
            if t == Transform::IDENTITY {
                self.dataset.read_channel(index, ch, plane);
            } else {
                self.dataset.read_channel(index, ch, src);
                t.apply(src, plane, h, w);
            }
            if self.config.normalise {
                normalise_max(plane);
            }
        }
    }
}

/// One epoch's batches, in order; dropping it stops the background threads.
pub struct Epoch {
    receivers: Vec<Receiver<Batch>>,
    handles: Vec<JoinHandle<()>>,
    next: usize,
    n_batches: usize,
    stats: LoaderStats,
    total: Arc<Mutex<LoaderStats>>,
}

impl Epoch {
    /// Waiting time and counts of this epoch so far.
    pub fn stats(&self) -> LoaderStats {
        self.stats
    }

    /// Batches this epoch yields in all.
    pub fn len(&self) -> usize {
        self.n_batches
    }

    /// Whether the epoch yields no batches.
    pub fn is_empty(&self) -> bool {
        self.n_batches == 0
    }

    fn worker_failed(&mut self, t: usize) -> ! {
        let handle = self.handles.remove(t);
        match handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => panic!("loader thread {t} stopped before sending its batches"),
        }
    }
}

impl Iterator for Epoch {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.next >= self.n_batches {
            return None;
        }
        let t = self.next % self.receivers.len();
        let batch = match self.receivers[t].try_recv() {
            Ok(b) => b,
            Err(TryRecvError::Disconnected) => self.worker_failed(t),
            Err(TryRecvError::Empty) => {
                let start = Instant::now();
                let b = self.receivers[t].recv();
                self.stats.waited += start.elapsed();
                match b {
                    Ok(b) => b,
                    Err(_) => self.worker_failed(t),
                }
            }
        };
        self.next += 1;
        self.stats.batches += 1;
        self.stats.images += batch.len();
        Some(batch)
    }
}

impl Drop for Epoch {
    fn drop(&mut self) {
        // Dropping the receivers unblocks workers waiting to send, so the joins return.
        self.receivers.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
        self.total
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add(&self.stats);
    }
}

#[cfg(test)]
#[path = "loader_tests.rs"]
mod tests;
