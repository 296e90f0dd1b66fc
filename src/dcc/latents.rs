//! Latent vectors of dataset images through a trained network, in inference mode
//! (nothing recorded, no dropout, no bottleneck), with the training preprocessing:
//! channel selection and per-image per-channel max normalisation.

use crate::autograd::Tape;
use crate::data::augment::{normalise_max, AugmentConfig, Transform};
use crate::data::dataset::Dataset;
use crate::nn::network::{Mode, Network};
use crate::tensor::{Pool, Tensor};
use anyhow::{bail, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Images per inference batch.
pub const BATCH: usize = 256;

/// The training's random augmentation applied at inference too, as the paper's loader
/// does on every access: each image's transform is drawn from (seed, image index), so a
/// given image always gets the same one.
#[derive(Clone, Debug)]
pub struct TestAugment {
    /// What the training drew from (flips, rotation).
    pub config: AugmentConfig,
    /// Seed of the per-image draws.
    pub seed: u64,
}

impl TestAugment {
    fn transform(&self, image: usize) -> Transform {
        let mut rng = ChaCha8Rng::seed_from_u64(crate::ops::dropout::layer_seed(
            self.seed,
            0x7474,
            image as u64,
        ));
        Transform::draw(&self.config, &mut rng)
    }
}

/// Reads images `indices` of `ds` as one N×C×H×W tensor, channels selected and normalised.
pub fn read_batch(ds: &Dataset, indices: &[usize], channels: &[usize]) -> Result<Tensor> {
    read_batch_with(ds, indices, channels, None)
}

/// `read_batch`, each image transformed by `augment` (before normalisation, as in training).
pub fn read_batch_with(
    ds: &Dataset,
    indices: &[usize],
    channels: &[usize],
    augment: Option<&TestAugment>,
) -> Result<Tensor> {
    let [_, c, h, w] = ds.dims();
    if let Some(&bad) = channels.iter().find(|&&k| k >= c) {
        bail!(
            "{}: channel {bad} requested but the images have {c}",
            ds.dir().display()
        );
    }
    let hw = h * w;
    let per = channels.len() * hw;
    let mut data = vec![0.0f32; indices.len() * per];
    data.par_chunks_mut(per)
        .zip(indices)
        .try_for_each(|(out, &i)| -> Result<()> {
            let mut full = vec![0.0f32; c * hw];
            ds.read_image(i, &mut full)?;
            for (plane, &k) in out.chunks_mut(hw).zip(channels) {
                plane.copy_from_slice(&full[k * hw..(k + 1) * hw]);
            }
            if let Some(t) = augment.map(|a| a.transform(i)) {
                if t != Transform::IDENTITY {
                    let src = out.to_vec();
                    t.apply(&src, out, h, w);
                }
            }
            for plane in out.chunks_mut(hw) {
                normalise_max(plane);
            }
            Ok(())
        })?;
    Tensor::from_vec([indices.len(), channels.len(), h, w], data)
}

/// Latents (N×D, row-major) of images `indices` of `ds`.
pub fn latents(
    net: &Network,
    ds: &Dataset,
    indices: &[usize],
    channels: &[usize],
    augment: Option<&TestAugment>,
    pool: &Pool,
) -> Result<Vec<f32>> {
    let [_, h, w] = net.input;
    let [_, _, dh, dw] = ds.dims();
    if (h, w) != (dh, dw) || channels.len() != net.input[0] {
        bail!(
            "{}: images are {}×{dh}×{dw} after channel selection; the network takes {}×{h}×{w}",
            ds.dir().display(),
            channels.len(),
            net.input[0]
        );
    }
    let net = net.on_pool(pool)?;
    let mut out = Vec::with_capacity(indices.len() * net.latent_dim);
    for chunk in indices.chunks(BATCH) {
        let x = read_batch_with(ds, chunk, channels, augment)?.to_pool(pool)?;
        let mut tape = Tape::inference(pool);
        let p = net.params.bind(&mut tape);
        let xv = tape.constant(x);
        let o = net.forward(&mut tape, &p, xv, &Mode::eval())?;
        out.extend_from_slice(tape.value(o.latent).to_host()?.data());
    }
    Ok(out)
}
