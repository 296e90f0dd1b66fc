//! Batch assembly for the loader: the `Batch` a consumer receives and the per-epoch job
//! that builds batch b from the epoch order alone (channel selection, the seeded
//! per-image augmentation, normalisation, mix-up), so that any thread may build it.

use super::augment::{mixup_label, normalise_max, Transform};
use super::dataset::Dataset;
use super::loader_config::{LoaderConfig, Split};
use crate::tensor::Tensor;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

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

/// An RNG for one purpose identified by a tuple of numbers.
pub(super) fn rng_for(parts: &[u64]) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(crate::seed::fold(parts))
}

pub(super) const STREAM_SPLIT: u64 = 1;
pub(super) const STREAM_ORDER: u64 = 2;
pub(super) const STREAM_IMAGE: u64 = 3;

/// What every worker of one epoch shares.
pub(super) struct EpochJob {
    pub(super) dataset: Arc<Dataset>,
    pub(super) config: Arc<LoaderConfig>,
    pub(super) channels: Arc<Vec<usize>>,
    pub(super) train_by_set: Arc<Vec<Vec<usize>>>,
    pub(super) order: Vec<usize>,
    pub(super) split: Split,
    pub(super) epoch: u64,
    pub(super) n_batches: usize,
    /// Seed of the per-image augmentation draws.
    pub(super) stream: u64,
}

impl EpochJob {
    /// Builds batch `b`; depends only on the job, never on which thread runs it.
    pub(super) fn build(&self, b: usize) -> Batch {
        let bs = self.config.batch_size;
        let rows = &self.order[b * bs..((b + 1) * bs).min(self.order.len())];
        let [_, _, h, w] = self.dataset.dims();
        let hw = h * w;
        let per = self.channels.len() * hw;
        let mut data = vec![0f32; rows.len() * per];
        let mut src = vec![0f32; per];
        let mut partner = vec![0f32; per];
        let mut set_index = Vec::with_capacity(rows.len());
        let mut mix = Vec::with_capacity(rows.len());
        let train = self.split == Split::Train;
        for (r, &index) in rows.iter().enumerate() {
            let mut rng = rng_for(&[self.stream, STREAM_IMAGE, self.epoch, index as u64]);
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
        let identity = t == Transform::IDENTITY;
        // Gather the selected channels (straight into `out` when nothing moves pixels).
        let gathered: &mut [f32] = if identity { &mut *out } else { &mut *src };
        for (plane, &ch) in gathered.chunks_exact_mut(h * w).zip(self.channels.iter()) {
            self.dataset.read_channel(index, ch, plane);
        }
        if !identity {
            t.apply(src, out, h, w);
        }
        if self.config.normalise {
            for plane in out.chunks_exact_mut(h * w) {
                normalise_max(plane);
            }
        }
    }
}
