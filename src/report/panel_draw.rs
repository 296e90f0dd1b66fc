//! Drawing of heatmap and image panels with their colour bars (the panels' contents are
//! `panels::Heatmap` and `panels::ImagePanel`).

use super::canvas::{Canvas, Rect};
use super::color::{Color, Colormap};
use super::font::Font;
use super::panels::{value_range, Heatmap, ImagePanel};
use super::plot::Axes;
use super::render::draw_title;
use super::ticks::linear_ticks;

/// Width a colour bar with ticks and an optional label needs at magnification `s`.
fn colorbar_width(lo: f64, hi: f64, label: &str, s: u32) -> i32 {
    let font = Font::regular(s);
    let t = linear_ticks(lo, hi, 5);
    let lw = t
        .labels
        .iter()
        .map(|l| font.measure(l).0 as i32)
        .max()
        .unwrap_or(0);
    let si = s as i32;
    6 * si
        + 2 * si
        + 2 * si
        + lw
        + if label.is_empty() {
            0
        } else {
            3 * si + font.height() as i32
        }
}

/// A vertical colour bar in `r` (high values at the top), ticks and labels to its right.
fn draw_colorbar(c: &mut Canvas, r: Rect, cmap: Colormap, lo: f64, hi: f64, label: &str, s: u32) {
    let si = s as i32;
    let font = Font::regular(s);
    let bar = Rect::new(r.x, r.y, 6 * si, r.h);
    // Pixel by pixel, so an SVG holds the gradient as one embedded image (as map panels
    // are) rather than one element per row.
    for y in 0..bar.h {
        let t = 1.0 - y as f64 / (bar.h - 1).max(1) as f64;
        for x in bar.x..bar.right() {
            c.put(x, bar.y + y, cmap.at(t));
        }
    }
    c.stroke_rect(
        Rect::new(bar.x - 1, bar.y - 1, bar.w + 2, bar.h + 2),
        Color::INK,
    );
    let ticks = linear_ticks(lo, hi, 5);
    let mut lw = 0;
    for (v, l) in ticks.major.iter().zip(&ticks.labels) {
        if *v < lo - 1e-9 * (hi - lo).abs() || *v > hi + 1e-9 * (hi - lo).abs() {
            continue;
        }
        let y = bar.bottom() - 1 - ((v - lo) / (hi - lo) * (bar.h - 1) as f64).round() as i32;
        c.line(bar.right(), y, bar.right() + 2 * si, y, Color::INK);
        lw = lw.max(c.text(bar.right() + 4 * si, y - 7 * si / 2, l, font, Color::INK) as i32);
    }
    if !label.is_empty() {
        let len = font.measure(label).0 as i32;
        let x = bar.right() + 4 * si + lw + 3 * si;
        c.text_vertical(x, r.y + (r.h - len) / 2, label, font, Color::INK);
    }
}

/// Draws a heatmap panel: cells filling the panel (up to twice as wide as tall), row labels left, column labels below (rotated
/// when they would not fit), numbers in the cells, colour bar on the right.
pub(crate) fn draw_heatmap(c: &mut Canvas, cell: Rect, ax: &Axes, h: &Heatmap, s: u32) {
    let si = s as i32;
    let font = Font::regular(s);
    let fh = font.height() as i32;
    let (pad, gap) = (5 * si, 3 * si);
    let (lo, hi) = value_range(&h.values, h.range, h.colormap);
    let title_h = draw_title(c, cell, cell.y + pad, &ax.title, s);
    // Long labels are shortened so that the matrix keeps most of the panel.
    let row_labels: Vec<String> = h
        .row_labels
        .iter()
        .map(|l| font.fit(l, cell.w / 3))
        .collect();
    let col_labels: Vec<String> = h
        .col_labels
        .iter()
        .map(|l| font.fit(l, cell.h / 3))
        .collect();
    let row_w = row_labels
        .iter()
        .map(|l| font.measure(l).0 as i32)
        .max()
        .unwrap_or(0);
    let col_w = col_labels
        .iter()
        .map(|l| font.measure(l).0 as i32)
        .max()
        .unwrap_or(0);
    let ylab = if ax.ylabel.is_empty() { 0 } else { fh + gap };
    let xlab = if ax.xlabel.is_empty() { 0 } else { fh + gap };
    let left = pad + ylab + row_w + gap;
    let right = pad + 2 * gap + colorbar_width(lo, hi, &h.colorbar_label, s);
    let top = pad + title_h + fh / 2;
    let avail_w = cell.w - left - right;
    // Cells fill the panel: at most twice as wide as tall, never taller than wide.
    let side = |bottom: i32| {
        let ch = (cell.h - top - bottom) / h.rows as i32;
        let cw = (avail_w / h.cols as i32).min(2 * ch);
        (cw, ch.min(cw))
    };
    let flat_bottom = pad + xlab + fh + gap;
    let (mut cw, mut ch) = side(flat_bottom);
    let rotate = col_labels
        .iter()
        .any(|l| font.measure(l).0 as i32 > cw - gap);
    if rotate {
        (cw, ch) = side(pad + xlab + col_w + gap);
    }
    if cw < 2 || ch < 2 {
        return;
    }
    // Centred in the width it may take, so a tall matrix leaves no blank side.
    let grid = Rect::new(
        cell.x + left + (avail_w - cw * h.cols as i32).max(0) / 2,
        cell.y + top,
        cw * h.cols as i32,
        ch * h.rows as i32,
    );
    for i in 0..h.rows {
        for j in 0..h.cols {
            let v = h.values[i * h.cols + j];
            let col = if v.is_finite() {
                h.colormap.map(v, lo, hi)
            } else {
                Color::LIGHT_GREY
            };
            let r = Rect::new(grid.x + j as i32 * cw, grid.y + i as i32 * ch, cw, ch);
            c.fill_rect(r, col);
            if let (Some(d), true) = (h.decimals, v.is_finite()) {
                let text = format!("{v:.d$}");
                // The largest magnification that fits in the cell, down to 1.
                let fit = (1..=s).rev().map(Font::regular).find(|f| {
                    let (tw, th) = f.measure(&text);
                    (tw as i32) < cw - 2 && (th as i32) < ch
                });
                if let Some(f) = fit {
                    let (tw, _) = f.measure(&text);
                    let cap = 7 * f.scale as i32;
                    let (tx, ty) = (r.x + (cw - tw as i32) / 2, r.y + (ch - cap) / 2);
                    c.text(tx, ty, &text, f, col.contrasting_text());
                }
            }
        }
    }
    c.stroke_rect(
        Rect::new(grid.x - 1, grid.y - 1, grid.w + 2, grid.h + 2),
        Color::INK,
    );
    for (i, l) in row_labels.iter().enumerate() {
        let w = font.measure(l).0 as i32;
        let y = grid.y + i as i32 * ch + (ch - 7 * si) / 2;
        c.text(grid.x - gap - w, y, l, font, Color::INK);
    }
    for (j, l) in col_labels.iter().enumerate() {
        let (w, _) = font.measure(l);
        let cx = grid.x + j as i32 * cw + cw / 2;
        if rotate {
            c.text_vertical(cx - 7 * si / 2, grid.bottom() + gap, l, font, Color::INK);
        } else {
            c.text(cx - w as i32 / 2, grid.bottom() + gap, l, font, Color::INK);
        }
    }
    let below = grid.bottom() + gap + if rotate { col_w } else { fh } + gap;
    if !ax.xlabel.is_empty() {
        let xlabel = font.fit(&ax.xlabel, grid.w.max(cell.w / 2));
        let w = font.measure(&xlabel).0 as i32;
        c.text(grid.x + (grid.w - w) / 2, below, &xlabel, font, Color::INK);
    }
    if !ax.ylabel.is_empty() {
        let ylabel = font.fit(&ax.ylabel, grid.h.max(cell.h / 2));
        let len = font.measure(&ylabel).0 as i32;
        c.text_vertical(
            grid.x - gap - row_w - gap - fh,
            grid.y + (grid.h - len) / 2,
            &ylabel,
            font,
            Color::INK,
        );
    }
    let bar = Rect::new(grid.right() + 2 * gap, grid.y, 0, grid.h);
    draw_colorbar(c, bar, h.colormap, lo, hi, &h.colorbar_label, s);
}

/// Draws an image panel: the array scaled (nearest neighbour) to fit while keeping its
/// aspect ratio, centred under the title, with an optional colour bar.
pub(crate) fn draw_image(c: &mut Canvas, cell: Rect, ax: &Axes, im: &ImagePanel, s: u32) {
    let si = s as i32;
    let pad = 4 * si;
    let (lo, hi) = value_range(&im.data, im.range, im.colormap);
    let title_h = draw_title(c, cell, cell.y + pad, &ax.title, s);
    let cb_w = if im.colorbar {
        colorbar_width(lo, hi, "", s) + 3 * si
    } else {
        0
    };
    let area = Rect::new(
        cell.x + pad,
        cell.y + pad + title_h,
        cell.w - 2 * pad - cb_w,
        cell.h - 2 * pad - title_h,
    );
    if area.w < 2 || area.h < 2 || im.width == 0 || im.height == 0 {
        return;
    }
    let zoom = (area.w as f64 / im.width as f64).min(area.h as f64 / im.height as f64);
    let (w, h) = (
        (im.width as f64 * zoom).floor() as i32,
        (im.height as f64 * zoom).floor() as i32,
    );
    let x0 = area.x + (area.w - w) / 2;
    let y0 = area.y;
    for y in 0..h {
        let sy = (((y as f64 + 0.5) / zoom) as usize).min(im.height - 1);
        for x in 0..w {
            let sx = (((x as f64 + 0.5) / zoom) as usize).min(im.width - 1);
            let v = im.data[sy * im.width + sx];
            let col = if v.is_finite() {
                im.colormap.map(v, lo, hi)
            } else {
                Color::LIGHT_GREY
            };
            c.put(x0 + x, y0 + y, col);
        }
    }
    c.stroke_rect(Rect::new(x0 - 1, y0 - 1, w + 2, h + 2), Color::INK);
    if im.colorbar {
        let bar = Rect::new(x0 + w + 3 * si, y0, 0, h);
        draw_colorbar(c, bar, im.colormap, lo, hi, "", s);
    }
}
