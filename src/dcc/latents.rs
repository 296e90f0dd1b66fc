//! Latent vectors of dataset images through a trained network, in inference mode
//! (nothing recorded, no dropout, no bottleneck), with the training preprocessing:
//! channel selection and per-image per-channel max normalisation.

use crate::autograd::Tape;
use crate::data::augment::{normalise_max, AugmentConfig, Transform};
use crate::data::dataset::Dataset;
use crate::data::mapstats::{map_statistics, PER_CHANNEL};
use crate::nn::network::{Layer, Mode, Network};
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
        let mut rng =
            ChaCha8Rng::seed_from_u64(crate::seed::derive(self.seed, 0x7474, image as u64));
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

/// Latents (N × latent_dim, row-major) of in-memory images `data` (N×C×H×W, the data's
/// own channels): `channels` selected and each plane divided by its maximum, as dcc feeds
/// the network, with no augmentation. For callers holding arrays rather than a dataset
/// (the Python module).
pub fn encode(
    net: &Network,
    data: &[f32],
    dims: [usize; 4],
    channels: &[usize],
    pool: &Pool,
) -> Result<Vec<f32>> {
    let [n, c, h, w] = dims;
    if data.len() != n * c * h * w {
        bail!("{} values do not make {n}×{c}×{h}×{w} images", data.len());
    }
    if let Some(&bad) = channels.iter().find(|&&k| k >= c) {
        bail!(
            "channel {bad} requested but the images have {c} (0..{})",
            c.max(1) - 1
        );
    }
    if [channels.len(), h, w] != net.input {
        bail!(
            "images are {}×{h}×{w} after channel selection; the network takes {}×{}×{}",
            channels.len(),
            net.input[0],
            net.input[1],
            net.input[2]
        );
    }
    let net = net.on_pool(pool)?;
    let hw = h * w;
    let mut latent = Vec::with_capacity(n * net.latent_dim);
    for start in (0..n).step_by(BATCH) {
        let rows = BATCH.min(n - start);
        let per = channels.len() * hw;
        let mut x = vec![0.0f32; rows * per];
        x.par_chunks_mut(per).enumerate().for_each(|(i, out)| {
            let img = &data[(start + i) * c * hw..(start + i + 1) * c * hw];
            for (plane, &k) in out.chunks_mut(hw).zip(channels) {
                plane.copy_from_slice(&img[k * hw..(k + 1) * hw]);
                normalise_max(plane);
            }
        });
        let x = Tensor::from_vec([rows, channels.len(), h, w], x)?.to_pool(pool)?;
        let mut tape = Tape::inference(pool);
        let p = net.params.bind(&mut tape);
        let xv = tape.constant(x);
        let o = net.forward(&mut tape, &p, xv, &Mode::eval())?;
        latent.extend_from_slice(tape.value(o.latent).to_host()?.data());
    }
    Ok(latent)
}

/// What the network makes of a batch of images, each N×width row-major.
#[derive(Clone, Debug, Default)]
pub struct Features {
    /// The latent z (N × latent_dim).
    pub latent: Vec<f32>,
    /// The out-of-domain test's spaces, in `ood::SPACES` order: the penultimate
    /// representation (the input of the Linear that makes z) at unit length; each input
    /// channel's and each convolutional block's per-channel mean and standard deviation;
    /// the input maps' profile and detail statistics (`data::mapstats`).
    pub spaces: [Vec<f32>; 3],
    /// Widths: the latent's, then each space's.
    pub dims: [usize; 4],
}

impl Features {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.latent.len().checked_div(self.dims[0]).unwrap_or(0)
    }

    /// True when no image is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows `rows` of every space.
    pub fn rows(&self, rows: &[usize]) -> Features {
        let pick = |m: &[f32], d: usize| -> Vec<f32> {
            rows.iter()
                .flat_map(|&r| m[r * d..(r + 1) * d].iter().copied())
                .collect()
        };
        Features {
            latent: pick(&self.latent, self.dims[0]),
            spaces: std::array::from_fn(|s| pick(&self.spaces[s], self.dims[s + 1])),
            dims: self.dims,
        }
    }
}

/// Appends per image (of an N×C×H×W host tensor) each channel's mean and standard
/// deviation over H×W.
fn channel_moments(t: &Tensor, out: &mut [Vec<f32>]) {
    let dims = t.dims();
    let (c, hw) = (dims[1], dims[2..].iter().product::<usize>().max(1));
    for (img, row) in t.data().chunks(c * hw).zip(out.iter_mut()) {
        for plane in img.chunks(hw) {
            let mean = plane.iter().map(|&v| v as f64).sum::<f64>() / hw as f64;
            let var = plane
                .iter()
                .map(|&v| (v as f64 - mean).powi(2))
                .sum::<f64>()
                / hw as f64;
            row.push(mean as f32);
            row.push(var.sqrt() as f32);
        }
    }
}

/// The latent, penultimate and layer-statistics features of images `indices` of `ds`.
pub fn features(
    net: &Network,
    ds: &Dataset,
    indices: &[usize],
    channels: &[usize],
    augment: Option<&TestAugment>,
    pool: &Pool,
) -> Result<Features> {
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
    let mut out = Features::default();
    for chunk in indices.chunks(BATCH) {
        let x = read_batch_with(ds, chunk, channels, augment)?;
        let mut stats: Vec<Vec<f32>> = vec![Vec::new(); chunk.len()];
        channel_moments(&x, &mut stats);
        let [c, ih, iw] = [channels.len(), h, w];
        for img in x.data().chunks(c * ih * iw) {
            out.spaces[2].extend(map_statistics(img, c, ih, iw));
        }
        let x = x.to_pool(pool)?;
        let mut tape = Tape::inference(pool);
        let p = net.params.bind(&mut tape);
        let xv = tape.constant(x);
        // The penultimate representation is the second-to-last flat (Flatten or Linear)
        // output before the latent marker: the input of the Linear that makes z.
        let mut flat: Vec<Tensor> = Vec::new();
        let mut seen_latent = false;
        let o = net.forward_probed(&mut tape, &p, xv, &Mode::eval(), &mut |layer, v, tape| {
            match layer {
                Layer::Conv(_) | Layer::Inception(_) => {
                    channel_moments(&tape.value(v).to_host()?, &mut stats)
                }
                Layer::Flatten | Layer::Linear { .. } if !seen_latent => {
                    flat.push(tape.value(v).to_host()?);
                    if flat.len() > 2 {
                        flat.remove(0);
                    }
                }
                Layer::Latent => seen_latent = true,
                _ => {}
            }
            Ok(())
        })?;
        if flat.len() < 2 {
            bail!(
                "{}: no flat layer precedes the Linear that makes the latent",
                net.name
            );
        }
        let pen = &flat[0];
        let pd = pen.data().len() / chunk.len();
        for row in pen.data().chunks(pd) {
            let norm = row.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
            let inv = if norm > 0.0 { 1.0 / norm } else { 0.0 };
            out.spaces[0].extend(row.iter().map(|&v| (v as f64 * inv) as f32));
        }
        out.latent
            .extend_from_slice(tape.value(o.latent).to_host()?.data());
        let sd = stats[0].len();
        for row in &stats {
            out.spaces[1].extend_from_slice(row);
        }
        out.dims = [net.latent_dim, pd, sd, c * PER_CHANNEL];
    }
    Ok(out)
}
