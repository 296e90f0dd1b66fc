//! What the run report shows, computed: the latent projections, saliency maps,
//! latent–catalog correlations and the training log. `report::run_report` lays it out.

use super::infer::{load_member, Details, Inference};
use super::interpret::{pearson, saliency};
use super::latents::read_batch;
use super::train::EpochLog;
use crate::tensor::Pool;
use anyhow::Result;
use nalgebra::DMatrix;
use std::path::Path;

/// Sets shown in the saliency figure.
const SALIENCY_SETS: usize = 4;
/// Channels shown per set.
const SALIENCY_CHANNELS: usize = 3;
/// Latent dimensions shown (z₀, the σ/m axis, first).
const SALIENCY_DIMS: usize = 4;
/// Catalog columns correlated with the latent dimensions (σ/m as log10 of its CDM-relabelled value).
const CORRELATED: [&str; 7] = [
    "sigma",
    "m200",
    "z",
    "concentration",
    "core_kpc",
    "feedback_log_dt",
    "bcg_offset_kpc",
];

/// The report's numbers, one entry per image where per image (inferred sets in order).
pub struct ReportData {
    /// Latent dimensions.
    pub dim: usize,
    /// Index of each image's set in `Inference::sets`.
    pub set_of: Vec<usize>,
    /// Member 0's latents projected onto their first two principal components.
    pub pca: Vec<[f64; 2]>,
    /// Member 0's (z₀, z₁) (z₁ = z₀ for a 1-D latent space).
    pub z01: Vec<[f64; 2]>,
    /// Whether each training class's σ/m was known (false: withheld), in class order.
    pub class_known: Vec<bool>,
    /// Saliency maps of one image of each chosen set.
    pub saliency: Vec<SaliencyMaps>,
    /// Pearson correlations of each latent dimension with the catalog columns present.
    pub correlations: Vec<Correlation>,
    /// The training log (empty without `log.jsonl`).
    pub log: Vec<EpochLog>,
    /// Epoch at which the distance anchor switched on (0: from the start).
    pub dist_warmup: usize,
}

/// One image's maps and the gradients of the first latent dimensions with respect to them.
pub struct SaliencyMaps {
    /// The set's name.
    pub set: String,
    /// Map height and width.
    pub h: usize,
    /// Map width.
    pub w: usize,
    /// Per channel shown: its name, the map (H×W) and ∂z_k/∂map for k = 0.. (H×W each).
    pub channels: Vec<(String, Vec<f64>, Vec<Vec<f64>>)>,
}

/// One catalog column's correlation with each latent dimension.
pub struct Correlation {
    /// The column (σ/m shown as "log10 σ/m").
    pub column: String,
    /// Pearson r per latent dimension; None with fewer than 3 pairs or no spread.
    pub r: Vec<Option<f64>>,
}

/// Computes everything the report draws for inference `inf` on run `run`.
pub fn report_data(run: &Path, inf: &Inference, det: &Details) -> Result<ReportData> {
    // infer() refuses to run without targets, so there is at least one set of ≥ 2 images.
    let dim = det.latents[0].len() / det.targets[0].indices.len();
    let all: Vec<f32> = det.latents.concat();
    let set_of = det
        .latents
        .iter()
        .enumerate()
        .flat_map(|(i, v)| std::iter::repeat_n(i, v.len() / dim))
        .collect();
    let z01 = all
        .chunks(dim)
        .map(|r| [r[0] as f64, r[1.min(dim - 1)] as f64])
        .collect();
    Ok(ReportData {
        dim,
        set_of,
        pca: pca2(&all, dim),
        z01,
        class_known: det.info.sets.iter().map(|s| s.known).collect(),
        saliency: saliency_maps(run, inf, det)?,
        correlations: correlations(det, &all, dim),
        log: read_log(run),
        dist_warmup: det.info.config.dist_warmup,
    })
}

/// Rows projected onto their first two principal components.
pub fn pca2(rows: &[f32], d: usize) -> Vec<[f64; 2]> {
    let n = rows.len() / d;
    let mut m = DMatrix::from_fn(n, d, |i, j| rows[i * d + j] as f64);
    for mut col in m.column_iter_mut() {
        let mean = col.mean();
        col.add_scalar_mut(-mean);
    }
    let svd = m.clone().svd(false, true);
    let Some(vt) = svd.v_t else {
        return vec![[0.0, 0.0]; n];
    };
    // Singular values come unsorted from nalgebra: take the two largest.
    let mut order: Vec<usize> = (0..svd.singular_values.len()).collect();
    order.sort_by(|&a, &b| svd.singular_values[b].total_cmp(&svd.singular_values[a]));
    let pc = |k: usize| -> Vec<f64> {
        order
            .get(k)
            .map_or(vec![0.0; d], |&r| vt.row(r).iter().copied().collect())
    };
    let (a, b) = (pc(0), pc(1));
    (0..n)
        .map(|i| {
            let r = m.row(i);
            [
                r.iter().zip(&a).map(|(x, y)| x * y).sum(),
                r.iter().zip(&b).map(|(x, y)| x * y).sum(),
            ]
        })
        .collect()
}

/// The run's training log; lines that do not parse (a torn last line) are skipped.
fn read_log(run: &Path) -> Vec<EpochLog> {
    std::fs::read_to_string(run.join("log.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Correlations over all inferred images, for the columns every inferred set has.
fn correlations(det: &Details, all: &[f32], dim: usize) -> Vec<Correlation> {
    let mut out = Vec::new();
    for col in CORRELATED {
        let mut y = Vec::new();
        for t in &det.targets {
            let Ok(v) = t.ds.column_f64(col) else { break };
            let tx = |x: Option<f64>| {
                if col == "sigma" {
                    x.map(|s| super::labels::relabel(s).log10())
                } else {
                    x
                }
            };
            y.extend(t.indices.iter().map(|&i| tx(v[i])));
        }
        if y.len() != all.len() / dim {
            continue;
        }
        let r = (0..dim)
            .map(|k| {
                let x: Vec<f64> = all.chunks(dim).map(|r| r[k] as f64).collect();
                pearson(&x, &y)
            })
            .collect();
        let column = if col == "sigma" { "log10 σ/m" } else { col };
        out.push(Correlation {
            column: column.into(),
            r,
        });
    }
    out
}

/// Which inferred sets the saliency figure shows, in inference order: new and withheld
/// sets first (the ones a reader asks about), up to three of them, the rest known.
pub fn saliency_sets(roles: &[&str]) -> Vec<usize> {
    let (other, known): (Vec<usize>, Vec<usize>) =
        (0..roles.len()).partition(|&i| roles[i] != "known");
    let n_other = other
        .len()
        .min(SALIENCY_SETS - 1)
        .max(SALIENCY_SETS.saturating_sub(known.len()));
    let mut pick: Vec<usize> = other.into_iter().take(n_other).collect();
    pick.extend(
        known
            .into_iter()
            .take(SALIENCY_SETS - pick.len().min(SALIENCY_SETS)),
    );
    pick.truncate(SALIENCY_SETS);
    pick.sort_unstable();
    pick
}

/// Member 0's saliency for the first image of each chosen set, on the inference device.
fn saliency_maps(run: &Path, inf: &Inference, det: &Details) -> Result<Vec<SaliencyMaps>> {
    let pool = Pool::on(det.device)?;
    let net = load_member(&det.info, run, 0)?;
    let [_, h, w] = net.input;
    let dims = net.latent_dim.min(SALIENCY_DIMS);
    let roles: Vec<&str> = inf.sets.iter().map(|s| s.role.as_str()).collect();
    let mut out = Vec::new();
    for i in saliency_sets(&roles) {
        let t = &det.targets[i];
        let names = t.ds.channel_names();
        let idx = [t.indices[0]];
        let img = read_batch(&t.ds, &idx, &det.channels)?;
        let grads: Vec<Vec<f32>> = (0..dims)
            .map(|k| saliency(&net, &t.ds, &idx, &det.channels, k, &pool))
            .collect::<Result<_>>()?;
        let plane = |v: &[f32], c: usize| -> Vec<f64> {
            v[c * h * w..(c + 1) * h * w]
                .iter()
                .map(|&x| x as f64)
                .collect()
        };
        let channels = det
            .channels
            .iter()
            .enumerate()
            .take(SALIENCY_CHANNELS)
            .map(|(c, &ch)| {
                let name = names.get(ch).cloned().unwrap_or(format!("channel {ch}"));
                let g = grads.iter().map(|g| plane(g, c)).collect();
                (name, plane(img.data(), c), g)
            })
            .collect();
        out.push(SaliencyMaps {
            set: t.name.clone(),
            h,
            w,
            channels,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saliency_prefers_new_and_withheld_sets_and_keeps_known_ones() {
        let r = |v: &[&str]| saliency_sets(v);
        assert_eq!(
            r(&["known", "known", "known", "known", "unknown", "new"]),
            [0, 1, 4, 5]
        );
        assert_eq!(r(&["known", "new", "new", "new", "new"]), [0, 1, 2, 3]);
        assert_eq!(r(&["new", "new", "new", "new", "new"]), [0, 1, 2, 3]);
        assert_eq!(r(&["known", "known"]), [0, 1]);
        assert_eq!(r(&["known"; 6]), [0, 1, 2, 3]);
    }

    #[test]
    fn pca_finds_the_direction_of_largest_spread() {
        // Points along (3, 4, 0)/5 with a small spread along z: PC 1 carries the line.
        let t = [-2.0f32, -1.0, 0.0, 1.0, 2.0];
        let rows: Vec<f32> = t
            .iter()
            .enumerate()
            .flat_map(|(i, &t)| [0.6 * t, 0.8 * t, 0.01 * (i as f32 - 2.0).powi(2) - 0.02])
            .collect();
        let p = pca2(&rows, 3);
        for (pi, &ti) in p.iter().zip(&t) {
            // The sign of a principal component is arbitrary.
            assert!((pi[0].abs() - (ti as f64).abs()).abs() < 1e-5, "{p:?}");
            assert!(pi[1].abs() < 0.03, "{p:?}");
        }
        assert!((p[0][0] + p[4][0]).abs() < 1e-5 && p[0][0].signum() != p[4][0].signum());
    }
}
