//! A PNG mosaic of example maps: one row per simulation set, one column group per channel,
//! each tile log-stretched and colour-mapped, rows labelled with the set name and σ/m in a
//! small embedded 5×7 bitmap font. Written so a person can look at what was simulated.

use super::dataset::Dataset;
use super::npy::temp_path;
use anyhow::{Context, Result};
use std::path::Path;

/// 5×7 glyphs, one byte per row, bit 4 = leftmost column.
fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        'A' => [14, 17, 17, 31, 17, 17, 17],
        'B' => [30, 17, 17, 30, 17, 17, 30],
        'C' => [14, 17, 16, 16, 16, 17, 14],
        'D' => [30, 17, 17, 17, 17, 17, 30],
        'E' => [31, 16, 16, 30, 16, 16, 31],
        'F' => [31, 16, 16, 30, 16, 16, 16],
        'G' => [14, 17, 16, 23, 17, 17, 15],
        'H' => [17, 17, 17, 31, 17, 17, 17],
        'I' => [14, 4, 4, 4, 4, 4, 14],
        'J' => [7, 2, 2, 2, 2, 18, 12],
        'K' => [17, 18, 20, 24, 20, 18, 17],
        'L' => [16, 16, 16, 16, 16, 16, 31],
        'M' => [17, 27, 21, 21, 17, 17, 17],
        'N' => [17, 17, 25, 21, 19, 17, 17],
        'O' => [14, 17, 17, 17, 17, 17, 14],
        'P' => [30, 17, 17, 30, 16, 16, 16],
        'Q' => [14, 17, 17, 17, 21, 18, 13],
        'R' => [30, 17, 17, 30, 20, 18, 17],
        'S' => [15, 16, 16, 14, 1, 1, 30],
        'T' => [31, 4, 4, 4, 4, 4, 4],
        'U' => [17, 17, 17, 17, 17, 17, 14],
        'V' => [17, 17, 17, 17, 17, 10, 4],
        'W' => [17, 17, 17, 21, 21, 21, 10],
        'X' => [17, 17, 10, 4, 10, 17, 17],
        'Y' => [17, 17, 17, 10, 4, 4, 4],
        'Z' => [31, 1, 2, 4, 8, 16, 31],
        '0' => [14, 17, 19, 21, 25, 17, 14],
        '1' => [4, 12, 4, 4, 4, 4, 14],
        '2' => [14, 17, 1, 2, 4, 8, 31],
        '3' => [31, 2, 4, 2, 1, 17, 14],
        '4' => [2, 6, 10, 18, 31, 2, 2],
        '5' => [31, 16, 30, 1, 1, 17, 14],
        '6' => [6, 8, 16, 30, 17, 17, 14],
        '7' => [31, 1, 2, 4, 8, 8, 8],
        '8' => [14, 17, 17, 14, 17, 17, 14],
        '9' => [14, 17, 17, 15, 1, 2, 12],
        '.' => [0, 0, 0, 0, 0, 12, 12],
        ',' => [0, 0, 0, 0, 12, 4, 8],
        '-' => [0, 0, 0, 31, 0, 0, 0],
        '_' => [0, 0, 0, 0, 0, 0, 31],
        '(' => [2, 4, 8, 8, 8, 4, 2],
        ')' => [8, 4, 2, 2, 2, 4, 8],
        '=' => [0, 0, 31, 0, 31, 0, 0],
        '+' => [0, 4, 4, 31, 4, 4, 0],
        '/' => [0, 1, 2, 4, 8, 16, 0],
        ':' => [0, 12, 12, 0, 12, 12, 0],
        ' ' => [0; 7],
        _ => [14, 17, 1, 2, 4, 0, 4], // '?'
    }
}

/// An RGB canvas.
struct Canvas {
    w: usize,
    h: usize,
    rgb: Vec<u8>,
}

impl Canvas {
    fn new(w: usize, h: usize, bg: [u8; 3]) -> Canvas {
        Canvas {
            w,
            h,
            rgb: bg.iter().copied().cycle().take(w * h * 3).collect(),
        }
    }

    fn put(&mut self, x: usize, y: usize, c: [u8; 3]) {
        if x < self.w && y < self.h {
            let i = (y * self.w + x) * 3;
            self.rgb[i..i + 3].copy_from_slice(&c);
        }
    }

    /// Draws `text` with its top-left corner at (x, y), each font pixel `scale`² pixels.
    fn text(&mut self, x: usize, y: usize, text: &str, scale: usize, c: [u8; 3]) {
        for (k, ch) in text.chars().enumerate() {
            let g = glyph(ch);
            for (r, bits) in g.iter().enumerate() {
                for col in 0..5 {
                    if bits & (16 >> col) != 0 {
                        for dy in 0..scale {
                            for dx in 0..scale {
                                self.put(x + (k * 6 + col) * scale + dx, y + r * scale + dy, c);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Viridis-like colour map, piecewise linear through five stops, t in [0, 1].
fn colour(t: f32) -> [u8; 3] {
    const STOPS: [[f32; 3]; 5] = [
        [68.0, 1.0, 84.0],
        [59.0, 82.0, 139.0],
        [33.0, 145.0, 140.0],
        [94.0, 201.0, 98.0],
        [253.0, 231.0, 37.0],
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    } * 4.0;
    let i = (t as usize).min(3);
    let f = t - i as f32;
    let mut out = [0u8; 3];
    for (k, o) in out.iter_mut().enumerate() {
        *o = (STOPS[i][k] + f * (STOPS[i + 1][k] - STOPS[i][k])).round() as u8;
    }
    out
}

/// Log stretch over three decades below the plane's maximum: max → 1, max/1000 → 0.
pub fn log_stretch(plane: &[f32]) -> Vec<f32> {
    let max = plane.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !(max > 0.0 && max.is_finite()) {
        return vec![0.0; plane.len()];
    }
    plane
        .iter()
        .map(|&v| (((v / max).max(1e-3)).log10() + 3.0) / 3.0)
        .collect()
}

/// Layout numbers of the mosaic.
const GAP: usize = 4;
const FONT_SCALE: usize = 2;
const LINE: usize = 8 * FONT_SCALE;

/// Writes the mosaic of `examples` images per set to `path` (atomically); returns its
/// width and height in pixels.
pub fn write_mosaic(ds: &Dataset, path: &Path, examples: usize) -> Result<(usize, usize)> {
    let [_, c, h, w] = ds.dims();
    let examples = examples.max(1);
    // Tiles of 64–128 pixels whatever the map size: integer up- or down-sampling.
    let big = h.max(w);
    let (up, down) = if big < 64 {
        (64 / big, 1)
    } else {
        (1, big.div_ceil(128))
    };
    let (th, tw) = (h * up / down, w * up / down);
    let sets = ds.sets();
    let label_chars = sets
        .iter()
        .map(|s| s.name.chars().count().max(12))
        .max()
        .unwrap_or(12)
        .min(24);
    let left = label_chars * 6 * FONT_SCALE + 2 * GAP;
    let top = LINE + 2 * GAP;
    let group_w = examples * (tw + GAP) + 2 * GAP;
    let width = left + c * group_w;
    let row_h = th.max(2 * LINE) + GAP;
    let height = top + sets.len() * row_h + GAP;
    let mut canvas = Canvas::new(width, height, [24, 24, 24]);
    let white = [235, 235, 235];
    for ch in 0..c {
        canvas.text(
            left + ch * group_w,
            GAP,
            &format!("channel {ch}"),
            FONT_SCALE,
            white,
        );
    }
    let mut plane = vec![0f32; h * w];
    for (r, set) in sets.iter().enumerate() {
        let y0 = top + r * row_h;
        let name: String = set.name.chars().take(label_chars).collect();
        canvas.text(GAP, y0, &name, FONT_SCALE, white);
        let sigma = match set.sigma {
            Some(s) => format!("sigma {s}"),
            None => "sigma ?".to_string(),
        };
        canvas.text(GAP, y0 + LINE + 2, &sigma, FONT_SCALE, [170, 170, 170]);
        let n = set.indices.len();
        for e in 0..examples.min(n) {
            let index = set.indices[e * n / examples.min(n)];
            for ch in 0..c {
                ds.read_channel(index, ch, &mut plane);
                let t = log_stretch(&plane);
                let x0 = left + ch * group_w + e * (tw + GAP);
                for ty in 0..th {
                    for tx in 0..tw {
                        let (sy, sx) = (ty * down / up, tx * down / up);
                        canvas.put(x0 + tx, y0 + ty, colour(t[sy * w + sx]));
                    }
                }
            }
        }
    }
    write_png(path, &canvas)?;
    Ok((width, height))
}

fn write_png(path: &Path, canvas: &Canvas) -> Result<()> {
    let tmp = temp_path(path);
    let result = (|| -> Result<()> {
        let file = std::fs::File::create(&tmp)?;
        let mut enc = png::Encoder::new(
            std::io::BufWriter::new(file),
            canvas.w as u32,
            canvas.h as u32,
        );
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header()?;
        writer.write_image_data(&canvas.rgb)?;
        writer.finish()?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("{}: writing the PNG", path.display()));
    }
    std::fs::rename(&tmp, path)
        .with_context(|| format!("{}: renaming {} into place", path.display(), tmp.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_stretch_maps_three_decades_to_unit_range() {
        let t = log_stretch(&[10.0, 1.0, 0.1, 0.01, 0.0, -5.0]);
        let expect = [1.0, 2.0 / 3.0, 1.0 / 3.0, 0.0, 0.0, 0.0];
        for (a, b) in t.iter().zip(expect) {
            assert!((a - b).abs() < 1e-6, "{t:?}");
        }
        assert_eq!(log_stretch(&[0.0, 0.0]), vec![0.0, 0.0]);
    }

    #[test]
    fn colour_map_runs_from_dark_purple_to_yellow() {
        assert_eq!(colour(0.0), [68, 1, 84]);
        assert_eq!(colour(1.0), [253, 231, 37]);
        assert_eq!(colour(f32::NAN), [68, 1, 84]);
    }

    #[test]
    fn mosaic_png_has_one_row_per_set_and_a_tile_per_channel_and_example() {
        use crate::data::dataset::{tests::make_dataset, OpenOptions};
        let d = crate::data::npy::tests::tempdir::Dir::new("mosaic");
        make_dataset(
            d.path(),
            &[("CDM", Some(0.0)), ("SIDM1", Some(1.0))],
            3,
            [2, 8, 8],
        );
        let ds = Dataset::open(d.path(), &OpenOptions::default()).unwrap();
        let out = d.path().join("m.png");
        let (w, h) = write_mosaic(&ds, &out, 2).unwrap();
        // 8×8 maps are upscaled ×8 to 64-pixel tiles.
        let left = 12 * 6 * FONT_SCALE + 2 * GAP;
        assert_eq!(w, left + 2 * (2 * (64 + GAP) + 2 * GAP));
        assert_eq!(h, LINE + 2 * GAP + 2 * (64 + GAP) + GAP);
        let dec = png::Decoder::new(std::fs::File::open(&out).unwrap());
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width as usize, info.height as usize), (w, h));
        // Pixel values grow along each row, so a tile's bottom-right is its maximum.
        let (x, y) = (left + 63, LINE + 2 * GAP + 63);
        let i = (y * w + x) * 3;
        assert_eq!(buf[i..i + 3], colour(1.0));
    }

    #[test]
    fn text_draws_glyph_pixels() {
        let mut c = Canvas::new(12, 7, [0, 0, 0]);
        c.text(0, 0, "I1", 1, [255, 255, 255]);
        let lit = |x: usize, y: usize| c.rgb[(y * 12 + x) * 3] == 255;
        // 'I' top bar spans columns 1..4, its stem is column 2.
        assert!(lit(1, 0) && lit(3, 0) && !lit(0, 0) && lit(2, 3) && !lit(1, 3));
        // '1' starts at column 6: its stem is column 8.
        assert!(lit(8, 2) && !lit(6, 2));
    }
}
