//! Drawing of the x–y series kinds (points, lines, error bars, reference lines, bands,
//! filled areas, text) inside an axes' plot rectangle.

use super::canvas::{Canvas, Rect};
use super::color::Color;
use super::font::Font;
use super::frame::Frame;
use super::series::Item;

pub(crate) fn is_area(it: &Item) -> bool {
    matches!(
        it,
        Item::VBand { .. } | Item::HBand { .. } | Item::Fill { .. }
    )
}

pub(crate) fn draw_item(c: &mut Canvas, f: &Frame, it: &Item, s: u32) {
    let r = f.r;
    let k = s as f64 / 2.0;
    let (top, bot) = (r.y as f64, (r.bottom() - 1) as f64);
    let (lft, rgt) = (r.x as f64, (r.right() - 1) as f64);
    match it {
        Item::Points {
            xs,
            ys,
            colors,
            style,
        } => {
            for ((&x, &y), &col) in xs.iter().zip(ys).zip(colors) {
                if let Some((px, py)) = f.point(x, y) {
                    c.marker(
                        px,
                        py,
                        style.marker,
                        style.size * k.max(0.75),
                        col,
                        style.alpha,
                    );
                }
            }
        }
        Item::Line {
            xs,
            ys,
            color,
            style,
        } => {
            // Unplottable values break the line rather than joining across them.
            let mut run: Vec<(f64, f64)> = Vec::new();
            for (&x, &y) in xs
                .iter()
                .zip(ys)
                .chain(std::iter::once((&f64::NAN, &f64::NAN)))
            {
                match f.point(x, y) {
                    Some(p) => run.push(p),
                    None => {
                        if style.dashed {
                            c.dashed_polyline_aa(&run, style.width * k, 8.0 * k, 5.0 * k, *color);
                        } else {
                            c.polyline_aa(&run, style.width * k.max(0.75), *color);
                        }
                        run.clear();
                    }
                }
            }
        }
        Item::ErrorBars {
            xs,
            ys,
            lo,
            hi,
            color,
            style,
        } => {
            let cap = style.size * k * 0.8;
            for i in 0..xs.len() {
                let Some(px) = f.px(xs[i]) else { continue };
                if let (Some(a), Some(b)) = (f.py(lo[i]), f.py(hi[i])) {
                    c.line_aa(px, a, px, b, 1.5 * k, *color);
                    c.line_aa(px - cap, a, px + cap, a, 1.5 * k, *color);
                    c.line_aa(px - cap, b, px + cap, b, 1.5 * k, *color);
                }
                if let Some(py) = f.py(ys[i]) {
                    c.marker(px, py, style.marker, style.size * k, *color, style.alpha);
                }
            }
        }
        Item::VLine { x, color, style } => {
            if let Some(px) = f.px(*x) {
                ref_line(
                    c,
                    (px, top),
                    (px, bot),
                    style.width * k,
                    style.dashed,
                    *color,
                    k,
                );
            }
        }
        Item::HLine { y, color, style } => {
            if let Some(py) = f.py(*y) {
                ref_line(
                    c,
                    (lft, py),
                    (rgt, py),
                    style.width * k,
                    style.dashed,
                    *color,
                    k,
                );
            }
        }
        Item::VBand {
            lo,
            hi,
            color,
            alpha,
        } => {
            let a = f.px(*lo).unwrap_or(lft);
            let b = f.px(*hi).unwrap_or(rgt);
            let (a, b) = (a.min(b).round() as i32, a.max(b).round() as i32);
            c.fill_rect_alpha(Rect::new(a, r.y, b - a + 1, r.h), *color, *alpha);
        }
        Item::HBand {
            lo,
            hi,
            color,
            alpha,
        } => {
            let a = f.py(*lo).unwrap_or(bot);
            let b = f.py(*hi).unwrap_or(top);
            let (a, b) = (a.min(b).round() as i32, a.max(b).round() as i32);
            c.fill_rect_alpha(Rect::new(r.x, a, r.w, b - a + 1), *color, *alpha);
        }
        Item::Fill {
            xs,
            lo,
            hi,
            color,
            alpha,
        } => fill_between(c, f, xs, lo, hi, *color, *alpha),
        Item::Bars {
            edges,
            heights,
            color,
            alpha,
        } => {
            for (i, &h) in heights.iter().enumerate() {
                let (Some(a), Some(b), Some(y)) = (f.px(edges[i]), f.px(edges[i + 1]), f.py(h))
                else {
                    continue;
                };
                // From zero on linear axes, from the bottom edge on log axes.
                let base = f.py(0.0).unwrap_or(bot).clamp(top - 1.0, bot + 1.0);
                let y = y.clamp(top - 1.0, bot + 1.0);
                let (x0, x1) = (a.min(b).round() as i32, a.max(b).round() as i32);
                let (y0, y1) = (y.min(base).round() as i32, y.max(base).round() as i32);
                // A one-pixel gap keeps neighbouring bars apart.
                let w = (x1 - x0 - 1).max(1);
                c.fill_rect_alpha(Rect::new(x0 + 1, y0, w, y1 - y0 + 1), *color, *alpha);
            }
        }
        Item::Text { x, y, text, color } => {
            if let Some((px, py)) = f.point(*x, *y) {
                let font = Font::regular(s);
                c.text(
                    px.round() as i32,
                    py.round() as i32 - 7 * s as i32 / 2,
                    text,
                    font,
                    *color,
                );
            }
        }
    }
}

fn ref_line(
    c: &mut Canvas,
    a: (f64, f64),
    b: (f64, f64),
    w: f64,
    dashed: bool,
    col: Color,
    k: f64,
) {
    if dashed {
        c.dashed_line_aa(a.0, a.1, b.0, b.1, w, 8.0 * k, 5.0 * k, col);
    } else {
        c.line_aa(a.0, a.1, b.0, b.1, w, col);
    }
}

/// Fills column by column between the two interpolated curves (x assumed increasing).
fn fill_between(
    c: &mut Canvas,
    f: &Frame,
    xs: &[f64],
    lo: &[f64],
    hi: &[f64],
    col: Color,
    alpha: f64,
) {
    let pts: Vec<(f64, f64, f64)> = (0..xs.len())
        .filter_map(|i| Some((f.px(xs[i])?, f.py(lo[i])?, f.py(hi[i])?)))
        .collect();
    for w in pts.windows(2) {
        let ((x0, a0, b0), (x1, a1, b1)) = (w[0], w[1]);
        if x1 <= x0 {
            continue;
        }
        // Half-open columns so shared end columns are not painted twice.
        let xa = (x0.round() as i32).max(f.r.x);
        let xb = (x1.round() as i32).min(f.r.right());
        for x in xa..xb {
            let t = ((x as f64 - x0) / (x1 - x0)).clamp(0.0, 1.0);
            let (ya, yb) = (a0 + t * (a1 - a0), b0 + t * (b1 - b0));
            let (y0, y1) = (ya.min(yb).round() as i32, ya.max(yb).round() as i32);
            for y in y0..=y1 {
                c.blend(x, y, col, alpha);
            }
        }
    }
}
