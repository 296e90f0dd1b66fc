//! The `dcc inspect` mosaic: one row per simulation set, one column group per channel,
//! each tile log-stretched (`data::mosaic::log_stretch`) and drawn in viridis, rows
//! labelled with the set's name as written and its σ/m, columns with the channel names.
//! Drawn with the report's canvas and font, so names keep their case and Unicode.

use super::canvas::{Canvas, Rect};
use super::color::{Color, Colormap};
use super::font::Font;
use crate::data::dataset::Dataset;
use crate::data::mosaic::log_stretch;
use anyhow::Result;
use std::path::Path;

/// Pixels between tiles and around groups.
const GAP: i32 = 4;
/// Font magnification.
const SCALE: u32 = 2;
/// The widest a row label may be before it is shortened with an ellipsis.
const MAX_LABEL_W: i32 = 420;

/// Tile size for H×W maps: 64–128 pixels whatever the map size (integer up- or
/// down-sampling), as (height, width, up, down).
fn tile(h: usize, w: usize) -> (usize, usize, usize, usize) {
    let big = h.max(w).max(1);
    let (up, down) = if big < 64 {
        (64 / big, 1)
    } else {
        (1, big.div_ceil(128))
    };
    (h * up / down, w * up / down, up, down)
}

/// The label under a set's name: its σ/m, or that it is withheld.
fn sigma_label(sigma: Option<f64>) -> String {
    match sigma {
        Some(s) => format!("σ/m = {s} cm²/g"),
        None => "σ/m unknown".to_string(),
    }
}

/// Writes the mosaic of `examples` images per set to `path` (atomically); returns its
/// width and height in pixels.
pub fn write_mosaic(ds: &Dataset, path: &Path, examples: usize) -> Result<(usize, usize)> {
    let [_, c, h, w] = ds.dims();
    let examples = examples.max(1);
    let (th, tw, up, down) = tile(h, w);
    let (font, bold) = (Font::regular(SCALE), Font::bold(SCALE));
    let line = font.height() as i32;
    let sets = ds.sets();
    let label_w = sets
        .iter()
        .flat_map(|s| {
            [
                bold.measure(&s.name).0 as i32,
                font.measure(&sigma_label(s.sigma)).0 as i32,
            ]
        })
        .max()
        .unwrap_or(0)
        .min(MAX_LABEL_W);
    let left = label_w + 3 * GAP;
    let top = line + 2 * GAP;
    let group_w = examples as i32 * (tw as i32 + GAP) + 2 * GAP;
    let width = left + c as i32 * group_w;
    let row_h = (th as i32).max(2 * line + 2) + GAP;
    let height = top + sets.len() as i32 * row_h + GAP;
    let mut canvas = Canvas::new(width as u32, height as u32, Color::rgb(24, 24, 24));
    let (white, grey) = (Color::rgb(235, 235, 235), Color::rgb(170, 170, 170));
    let names = ds.channel_names();
    for (ch, name) in names.iter().enumerate() {
        let x = left + ch as i32 * group_w;
        canvas.text(x, GAP, &font.fit(name, group_w - GAP), font, white);
    }
    let mut plane = vec![0f32; h * w];
    for (r, set) in sets.iter().enumerate() {
        let y0 = top + r as i32 * row_h;
        canvas.text(GAP, y0, &bold.fit(&set.name, label_w), bold, white);
        let sigma = font.fit(&sigma_label(set.sigma), label_w);
        canvas.text(GAP, y0 + line + 2, &sigma, font, grey);
        let n = set.indices.len();
        for e in 0..examples.min(n) {
            let index = set.indices[e * n / examples.min(n)];
            for ch in 0..c {
                ds.read_channel(index, ch, &mut plane);
                let t = log_stretch(&plane);
                let x0 = left + ch as i32 * group_w + e as i32 * (tw as i32 + GAP);
                for ty in 0..th {
                    for tx in 0..tw {
                        let v = t[(ty * down / up) * w + tx * down / up];
                        let v = if v.is_finite() { v as f64 } else { 0.0 };
                        canvas.put(x0 + tx as i32, y0 + ty as i32, Colormap::Viridis.at(v));
                    }
                }
            }
        }
        // A hairline under each row keeps long rows apart.
        let y = y0 + row_h - GAP / 2 - 1;
        canvas.fill_rect(Rect::new(0, y, width, 1), Color::rgb(48, 48, 48));
    }
    canvas.save_png(path)?;
    Ok((width as usize, height as usize))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::{tests::make_dataset, OpenOptions};

    #[test]
    fn mosaic_has_a_row_per_set_a_tile_per_channel_and_example_and_names_as_written() {
        let d = crate::data::npy::tests::tempdir::Dir::new("mosaic-report");
        make_dataset(
            d.path(),
            &[("cdm-Bahamas σ", Some(0.0)), ("sidm1", None)],
            3,
            [2, 8, 8],
        );
        let ds = Dataset::open(d.path(), &OpenOptions::default()).unwrap();
        let out = d.path().join("m.png");
        let (w, h) = write_mosaic(&ds, &out, 2).unwrap();
        let (font, bold) = (Font::regular(SCALE), Font::bold(SCALE));
        let label_w = [
            bold.measure("cdm-Bahamas σ").0,
            font.measure(&sigma_label(Some(0.0))).0,
            font.measure(&sigma_label(None)).0,
        ]
        .into_iter()
        .max()
        .unwrap() as i32;
        let left = label_w + 3 * GAP;
        // 8×8 maps are upscaled ×8 to 64-pixel tiles.
        assert_eq!(w as i32, left + 2 * (2 * (64 + GAP) + 2 * GAP));
        let line = font.height() as i32;
        assert_eq!(
            h as i32,
            line + 2 * GAP + 2 * (64.max(2 * line + 2) + GAP) + GAP
        );
        let dec = png::Decoder::new(std::fs::File::open(&out).unwrap());
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width as usize, info.height as usize), (w, h));
        // Pixel values grow along each row, so a tile's bottom-right is its maximum.
        let (x, y) = (left + 63, line + 2 * GAP + 63);
        let i = ((y * w as i32 + x) * 3) as usize;
        let top = Colormap::Viridis.at(1.0);
        assert_eq!(buf[i..i + 3], [top.r, top.g, top.b]);
        // The first row's label is the name as written, pixel for pixel.
        let mut want = Canvas::new(w as u32, h as u32, Color::rgb(24, 24, 24));
        let y0 = line + 2 * GAP;
        want.text(GAP, y0, "cdm-Bahamas σ", bold, Color::rgb(235, 235, 235));
        for y in y0..y0 + line {
            for x in 0..left {
                let i = ((y * w as i32 + x) * 3) as usize;
                let p = want.pixel(x, y).unwrap();
                assert_eq!(buf[i..i + 3], [p.r, p.g, p.b], "label pixel ({x}, {y})");
            }
        }
    }

    #[test]
    fn tiles_are_64_to_128_pixels() {
        assert_eq!(tile(8, 8), (64, 64, 8, 1));
        assert_eq!(tile(100, 100), (100, 100, 1, 1));
        assert_eq!(tile(300, 150), (100, 50, 1, 3));
    }
}
