//! The legend box: entries with their swatches, placed in a chosen inside corner or in
//! the corner that covers the fewest data points.

use super::canvas::{Canvas, Rect};
use super::color::Color;
use super::font::Font;
use super::frame::Frame;
use super::plot::Axes;
use super::series::{Item, LegendEntry, LegendPos, Swatch};

/// Unique entries, their (possibly shortened) labels, how many fit, and the box size.
struct Layout<'a> {
    entries: Vec<&'a LegendEntry>,
    labels: Vec<String>,
    shown: usize,
    w: i32,
    h: i32,
}

fn layout(ax: &Axes, s: u32, max_label: i32, max_h: i32) -> Layout<'_> {
    let si = s as i32;
    let font = Font::regular(s);
    let (pad, row_h, sw) = (4 * si, font.height() as i32 + 2 * si, 9 * si);
    let mut entries: Vec<&LegendEntry> = Vec::new();
    for e in &ax.legend_entries {
        if !entries
            .iter()
            .any(|x| x.label == e.label && x.color == e.color)
        {
            entries.push(e);
        }
    }
    let labels: Vec<String> = entries
        .iter()
        .map(|e| font.fit(&e.label, max_label))
        .collect();
    let max_rows = ((max_h - 2 * pad) / row_h).max(1) as usize;
    let shown = entries.len().min(max_rows);
    let label_w = labels[..shown]
        .iter()
        .map(|l| font.measure(l).0 as i32)
        .max()
        .unwrap_or(0);
    let (w, h) = (
        pad * 3 + sw + label_w,
        pad * 2 + shown as i32 * row_h - 2 * si,
    );
    Layout {
        entries,
        labels,
        shown,
        w,
        h,
    }
}

/// Width to reserve right of the plot for an `Outside` legend in a cell `cell_w` wide
/// (0 when the legend is inside or empty).
pub(crate) fn outside_width(ax: &Axes, s: u32, cell_w: i32, max_h: i32) -> i32 {
    if ax.legend != LegendPos::Outside || ax.legend_entries.is_empty() {
        return 0;
    }
    let sw = 9 * s as i32;
    layout(ax, s, cell_w * 2 / 5 - 12 * s as i32 - sw, max_h).w + 4 * s as i32
}

/// Draws the legend box in the requested (or least crowded) inside corner, or to the
/// right of the plot for `Outside`.
pub(crate) fn draw_legend(c: &mut Canvas, f: &Frame, ax: &Axes, s: u32, cell: Rect) {
    let si = s as i32;
    let font = Font::regular(s);
    let (pad, row_h, sw) = (4 * si, font.height() as i32 + 2 * si, 9 * si);
    let max_label = if ax.legend == LegendPos::Outside {
        cell.w * 2 / 5 - 3 * pad - sw
    } else {
        // At most two thirds of the plot width, so long names are shortened.
        f.r.w * 2 / 3 - 3 * pad - sw
    };
    let max_h = if ax.legend == LegendPos::Outside {
        cell.bottom() - f.r.y
    } else {
        f.r.h
    };
    let Layout {
        entries,
        labels,
        shown,
        w: bw,
        h: bh,
    } = layout(ax, s, max_label, max_h);
    let inset = 4 * si;
    let corner = |p: LegendPos| -> Rect {
        let (l, t) = (f.r.x + inset, f.r.y + inset);
        let (rr, b) = (f.r.right() - inset - bw, f.r.bottom() - inset - bh);
        match p {
            LegendPos::TopLeft => Rect::new(l, t, bw, bh),
            LegendPos::BottomLeft => Rect::new(l, b, bw, bh),
            LegendPos::BottomRight => Rect::new(rr, b, bw, bh),
            LegendPos::Outside => Rect::new(f.r.right() + inset, f.r.y, bw, bh),
            _ => Rect::new(rr, t, bw, bh),
        }
    };
    let pos = if ax.legend == LegendPos::Best {
        let order = [
            LegendPos::TopRight,
            LegendPos::TopLeft,
            LegendPos::BottomRight,
            LegendPos::BottomLeft,
        ];
        let crowd = |p: LegendPos| {
            let b = corner(p);
            data_pixels(f, ax)
                .filter(|&(x, y)| b.contains(x as i32, y as i32))
                .count()
        };
        let mut best = order[0];
        let mut best_n = crowd(best);
        for p in order.into_iter().skip(1) {
            let n = crowd(p);
            if n < best_n {
                (best, best_n) = (p, n);
            }
        }
        best
    } else {
        ax.legend
    };
    let b = corner(pos);
    c.fill_rect_alpha(b, Color::WHITE, 0.88);
    c.stroke_rect(b, Color::rgb(190, 190, 190));
    for (i, e) in entries[..shown].iter().enumerate() {
        let y = b.y + pad + i as i32 * row_h;
        let cy = (y + 7 * si / 2) as f64;
        let (x0, x1) = ((b.x + pad) as f64, (b.x + pad + sw) as f64);
        let k = s as f64 / 2.0;
        match e.swatch {
            Swatch::Marker(m) => c.marker((x0 + x1) / 2.0, cy, m, 7.0 * k, e.color, 1.0),
            Swatch::Line {
                width,
                dashed: false,
            } => c.line_aa(x0, cy, x1, cy, width * k, e.color),
            Swatch::Line {
                width,
                dashed: true,
            } => c.dashed_line_aa(x0, cy, x1, cy, width * k, 5.0 * k, 3.0 * k, e.color),
            Swatch::Patch { alpha } => {
                let h = 5 * si;
                let patch = Rect::new(x0 as i32, cy as i32 - h / 2, sw, h);
                c.fill_rect_alpha(patch, e.color, (alpha * 2.0).min(1.0));
            }
        }
        let label = if i + 1 == shown && shown < entries.len() {
            format!("… {} more", entries.len() - shown + 1)
        } else {
            labels[i].clone()
        };
        c.text(b.x + 2 * pad + sw, y, &label, font, Color::INK);
    }
}

/// Pixel positions of the data points (for choosing the legend corner).
fn data_pixels<'a>(f: &'a Frame, ax: &'a Axes) -> impl Iterator<Item = (f64, f64)> + 'a {
    ax.items.iter().flat_map(move |it| {
        let pts: Vec<(f64, f64)> = match it {
            Item::Points { xs, ys, .. } | Item::ErrorBars { xs, ys, .. } => xs
                .iter()
                .zip(ys)
                .filter_map(|(&x, &y)| f.point(x, y))
                .collect(),
            Item::Line { xs, ys, .. } => {
                // Points every few pixels along each segment, so sparse lines count too.
                let p: Vec<(f64, f64)> = xs
                    .iter()
                    .zip(ys)
                    .filter_map(|(&x, &y)| f.point(x, y))
                    .collect();
                let mut dense = Vec::new();
                for w in p.windows(2) {
                    let n = ((w[1].0 - w[0].0).hypot(w[1].1 - w[0].1) / 4.0)
                        .ceil()
                        .min(1e4) as usize;
                    for i in 0..n.max(1) {
                        let t = i as f64 / n.max(1) as f64;
                        dense.push((
                            w[0].0 + t * (w[1].0 - w[0].0),
                            w[0].1 + t * (w[1].1 - w[0].1),
                        ));
                    }
                }
                dense.extend(p.last());
                dense
            }
            Item::Fill { xs, hi, .. } => xs
                .iter()
                .zip(hi)
                .filter_map(|(&x, &y)| f.point(x, y))
                .collect(),
            Item::Bars { edges, heights, .. } => {
                // A column of points down each bar's middle, so covered bars count.
                let base = f.py(0.0).unwrap_or((f.r.bottom() - 1) as f64);
                let mut pts = Vec::new();
                for (i, &h) in heights.iter().enumerate() {
                    if let Some((x, y)) = f.point(0.5 * (edges[i] + edges[i + 1]), h) {
                        let n = ((base - y).abs() / 4.0).ceil().min(1e4) as usize;
                        pts.extend(
                            (0..=n).map(|k| (x, y + (base - y) * k as f64 / n.max(1) as f64)),
                        );
                    }
                }
                pts
            }
            _ => Vec::new(),
        };
        pts
    })
}
