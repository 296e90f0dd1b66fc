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

use super::batch::{rng_for, EpochJob, STREAM_ORDER, STREAM_SPLIT};
pub use super::batch::{Batch, Mix};
use super::dataset::Dataset;
pub use super::loader_config::{LoaderConfig, MixUp, Split};
use anyhow::{bail, Result};
use rand::seq::SliceRandom;
use std::sync::mpsc::{sync_channel, Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
    /// Seed of the epoch orders and augmentations (the config's seed unless restreamed).
    stream: u64,
}

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
        if let Some(&bad) = config
            .sets
            .iter()
            .flatten()
            .find(|&&k| k >= dataset.sets().len())
        {
            bail!(
                "loader: set {bad} selected but {dir} has {} sets",
                dataset.sets().len()
            );
        }
        for (k, set) in dataset.sets().iter().enumerate() {
            if config.sets.as_ref().is_some_and(|s| !s.contains(&k)) {
                train_by_set.push(Vec::new());
                continue;
            }
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
        let stream = config.seed;
        Ok(Loader {
            dataset,
            config: Arc::new(config),
            channels: Arc::new(channels),
            train,
            validation,
            train_by_set: Arc::new(train_by_set),
            total: Arc::new(Mutex::new(LoaderStats::default())),
            stream,
        })
    }

    /// The same split with its own epoch orders and augmentations drawn from `seed`
    /// (ensemble members trained on independent shuffles, as separate runs would be).
    pub fn restreamed(&self, seed: u64) -> Loader {
        Loader {
            dataset: self.dataset.clone(),
            config: self.config.clone(),
            channels: self.channels.clone(),
            train: self.train.clone(),
            validation: self.validation.clone(),
            train_by_set: self.train_by_set.clone(),
            total: Arc::new(Mutex::new(LoaderStats::default())),
            stream: seed,
        }
    }

    /// The dataset being loaded.
    pub fn dataset(&self) -> &Arc<Dataset> {
        &self.dataset
    }

    /// The configuration in force.
    pub fn config(&self) -> &LoaderConfig {
        &self.config
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
            order.shuffle(&mut rng_for(&[self.stream, STREAM_ORDER, epoch]));
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
            stream: self.stream,
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
