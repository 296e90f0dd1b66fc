//! The run report's saliency and training-curve figures (the rest of the page is in
//! run_report.rs).

use super::color::{palette, Color};
use super::figure::Figure;
use super::panels::ImagePanel;
use super::series::Style;
use super::Colormap;
use crate::dcc::infer::{load_member, Details, Inference};
use crate::dcc::interpret::saliency;
use crate::dcc::train::EpochLog;
use crate::tensor::Pool;
use anyhow::Result;
use std::path::Path;

/// Sets shown in the saliency figure.
const SALIENCY_SETS: usize = 4;
/// Channels shown per set.
const SALIENCY_CHANNELS: usize = 3;
/// Latent dimensions shown (z₀, the σ/m axis, first).
const SALIENCY_DIMS: usize = 4;

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

/// One image of each chosen set, one row per (set, channel): the map and the gradient of
/// latent dimensions 0–3 with respect to that channel, each with its colour bar. The
/// inferred sets' roles are in `inf` (new and withheld sets are preferred).
pub fn saliency_figure(run: &Path, inf: &Inference, det: &Details) -> Result<Figure> {
    let pool = Pool::on(det.device)?;
    let net = load_member(&det.info, run, 0)?;
    let [_, h, w] = net.input;
    let dims = net.latent_dim.min(SALIENCY_DIMS);
    let roles: Vec<&str> = inf.sets.iter().map(|s| s.role.as_str()).collect();
    let mut panels = Vec::new();
    for i in saliency_sets(&roles) {
        let t = &det.targets[i];
        let names = t.ds.channel_names();
        let idx = [t.indices[0]];
        let img = crate::dcc::latents::read_batch(&t.ds, &idx, &det.channels)?;
        let grads: Vec<Vec<f32>> = (0..dims)
            .map(|k| saliency(&net, &t.ds, &idx, &det.channels, k, &pool))
            .collect::<Result<_>>()?;
        for (c, &ch) in det.channels.iter().enumerate().take(SALIENCY_CHANNELS) {
            let plane = |v: &[f32]| -> Vec<f64> {
                v[c * h * w..(c + 1) * h * w]
                    .iter()
                    .map(|&x| x as f64)
                    .collect()
            };
            let channel = names.get(ch).cloned().unwrap_or(format!("channel {ch}"));
            panels.push((
                format!("{}: {channel}", t.name),
                ImagePanel::new(&plane(img.data()), h, w)
                    .colormap(Colormap::Viridis)
                    .colorbar(true),
            ));
            for (k, g) in grads.iter().enumerate() {
                panels.push((
                    format!("∂z{}/∂{channel}", subscript(k)),
                    ImagePanel::new(&plane(g), h, w)
                        .colormap(Colormap::BlueWhiteRed)
                        .colorbar(true),
                ));
            }
        }
    }
    Ok(Figure::image_grid(1500, 1 + dims, panels))
}

/// `k` in Unicode subscript digits.
fn subscript(k: usize) -> String {
    k.to_string()
        .chars()
        .map(|d| char::from_u32(0x2080 + d.to_digit(10).unwrap_or(0)).unwrap_or(d))
        .collect()
}

/// Loss (training solid, validation dashed) and validation accuracy per epoch, one colour
/// per member in both panels, with the epoch the distance anchor switched on marked.
pub fn training_figure(log: &[EpochLog], dist_warmup: usize) -> Figure {
    let ep: Vec<f64> = log.iter().map(|e| e.epoch as f64).collect();
    let mut f = Figure::grid(1200, 500, 1, 2);
    let members = log.first().map_or(0, |e| e.train.len());
    for m in 0..members {
        let color = Style::color(palette(m));
        let train: Vec<f64> = log.iter().map(|e| e.train[m].loss as f64).collect();
        // One legend entry per member: the dashed twin shares its label and colour.
        f.axes(0)
            .line_styled(&ep, &train, &format!("member {m}"), color);
        if log[0].validation[m].is_some() {
            let v: Vec<f64> = log
                .iter()
                .map(|e| e.validation[m].map_or(f64::NAN, |t| t.loss as f64))
                .collect();
            f.axes(0)
                .line_styled(&ep, &v, &format!("member {m}"), color.dashed());
        }
        let acc: Vec<f64> = log
            .iter()
            .map(|e| e.validation[m].unwrap_or(e.train[m]).accuracy as f64)
            .collect();
        f.axes(1)
            .line_styled(&ep, &acc, &format!("member {m}"), color);
    }
    // The anchor's term joins the loss at 0-based epoch `dist_warmup`: 1-based + 1.
    if dist_warmup > 0 && log.iter().any(|e| e.epoch > dist_warmup) {
        for a in 0..2 {
            f.axes(a).vline_styled(
                dist_warmup as f64 + 0.5,
                "distance anchor on",
                Style::color(Color::INK).width(1.5).dashed(),
            );
        }
    }
    f.axes(0)
        .set_xlabel("epoch")
        .set_ylabel("DCC loss")
        .set_title("loss (solid: training, dashed: validation)");
    f.axes(1)
        .set_xlabel("epoch")
        .set_ylabel("accuracy")
        .set_title("classification accuracy (validation)");
    f
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
    fn subscripts_are_unicode_digits() {
        assert_eq!(subscript(0), "₀");
        assert_eq!(subscript(12), "₁₂");
    }
}
