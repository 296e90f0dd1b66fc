//! The run report's saliency and training-curve figures (the rest of the page is in
//! run_report.rs).

use super::color::{palette, Color};
use super::figure::Figure;
use super::panels::ImagePanel;
use super::series::Style;
use super::Colormap;
use crate::dcc::report_data::SaliencyMaps;
use crate::dcc::train::EpochLog;

/// One row per (set, channel): the map and the gradient of each latent dimension with
/// respect to it, each with its colour bar.
pub fn saliency_figure(maps: &[SaliencyMaps]) -> Figure {
    let dims = maps
        .iter()
        .flat_map(|m| m.channels.iter().map(|c| c.2.len()))
        .max()
        .unwrap_or(0);
    let mut panels = Vec::new();
    for m in maps {
        for (channel, map, grads) in &m.channels {
            panels.push((
                format!("{}: {channel}", m.set),
                ImagePanel::new(map, m.h, m.w)
                    .colormap(Colormap::Viridis)
                    .colorbar(true),
            ));
            for (k, g) in grads.iter().enumerate() {
                panels.push((
                    format!("∂z{}/∂{channel}", subscript(k)),
                    ImagePanel::new(g, m.h, m.w)
                        .colormap(Colormap::BlueWhiteRed)
                        .colorbar(true),
                ));
            }
        }
    }
    Figure::image_grid(1500, 1 + dims, panels)
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
    fn subscripts_are_unicode_digits() {
        assert_eq!(subscript(0), "₀");
        assert_eq!(subscript(12), "₁₂");
    }
}
