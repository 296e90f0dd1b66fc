//! Interpretation: saliency (the gradient of one latent dimension with respect to the
//! input image) and Pearson correlations of latent dimensions with catalog columns.

use super::latents::read_batch;
use crate::autograd::Tape;
use crate::data::dataset::Dataset;
use crate::nn::network::{Mode, Network};
use crate::tensor::{Pool, Tensor};
use anyhow::{bail, Result};

/// ∂z_dim/∂x for images `indices` of `ds` (N×C×H×W, row-major), in inference mode.
pub fn saliency(
    net: &Network,
    ds: &Dataset,
    indices: &[usize],
    channels: &[usize],
    dim: usize,
    pool: &Pool,
) -> Result<Vec<f32>> {
    if dim >= net.latent_dim {
        bail!("saliency: latent dimension {dim} ≥ {}", net.latent_dim);
    }
    let net = net.on_pool(pool)?;
    let x = read_batch(ds, indices, channels)?.to_pool(pool)?;
    let mut tape = Tape::new(pool);
    let p = net.params.bind_frozen(&mut tape);
    let xv = tape.input(x);
    let out = net.forward(&mut tape, &p, xv, &Mode::eval())?;
    // Rows are independent in inference mode, so one backward gives every image's map.
    let n = indices.len();
    let mut seed = Tensor::zeros([n, net.latent_dim]);
    for i in 0..n {
        seed.data_mut()[i * net.latent_dim + dim] = 1.0;
    }
    let grads = tape.backward_with(out.latent, seed.to_pool(pool)?)?;
    match grads.get(xv) {
        Some(g) => Ok(g.to_host()?.into_vec()),
        None => Ok(vec![0.0; tape.value(xv).numel()]),
    }
}

/// Pearson correlation over the pairs where `y` is present; None with < 3 pairs or no spread.
pub fn pearson(x: &[f64], y: &[Option<f64>]) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = x
        .iter()
        .zip(y)
        .filter_map(|(a, b)| b.filter(|v| v.is_finite()).map(|b| (*a, b)))
        .collect();
    if pairs.len() < 3 {
        return None;
    }
    let n = pairs.len() as f64;
    let (mx, my) = pairs
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in &pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_of_linear_relations_is_plus_or_minus_one() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let up: Vec<Option<f64>> = x.iter().map(|v| Some(2.0 * v + 1.0)).collect();
        let down: Vec<Option<f64>> = x.iter().map(|v| Some(-v)).collect();
        assert!((pearson(&x, &up).unwrap() - 1.0).abs() < 1e-12);
        assert!((pearson(&x, &down).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&x, &[Some(1.0), None, None, Some(2.0)]), None);
        assert_eq!(pearson(&x, &[Some(1.0); 4]), None);
    }
}
