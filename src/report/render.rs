//! Drawing of x–y axes: data ranges, the data-to-pixel mapping (linear or log10), the
//! layout of margins from the measured tick labels, ticks, grid, series, reference lines,
//! bands, labels and the legend.

use super::canvas::{Canvas, Rect};
use super::color::Color;
use super::draw_items::{draw_item, is_area};
use super::font::Font;
use super::frame::{axis_map, AxisMap, Frame};
use super::legend::{draw_legend, outside_width};
use super::plot::Axes;
use super::series::{Item, LegendPos, Scale};
use super::ticks::Ticks;

/// All x values and all y values that should be visible.
fn extents(ax: &Axes) -> (Vec<f64>, Vec<f64>) {
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for it in &ax.items {
        match it {
            Item::Points { xs: x, ys: y, .. } | Item::Line { xs: x, ys: y, .. } => {
                xs.extend(x);
                ys.extend(y);
            }
            Item::ErrorBars { xs: x, lo, hi, .. } | Item::Fill { xs: x, lo, hi, .. } => {
                xs.extend(x);
                ys.extend(lo);
                ys.extend(hi);
            }
            Item::VLine { x, .. } => xs.push(*x),
            Item::HLine { y, .. } => ys.push(*y),
            Item::VBand { lo, hi, .. } => xs.extend([*lo, *hi]),
            Item::HBand { lo, hi, .. } => ys.extend([*lo, *hi]),
            Item::Text { x, y, .. } => {
                xs.push(*x);
                ys.push(*y);
            }
            Item::Bars { edges, heights, .. } => {
                xs.extend(edges);
                ys.extend(heights);
                // Bars grow from zero, which must be visible on a linear axis.
                if ax.yscale == Scale::Linear {
                    ys.push(0.0);
                }
            }
        }
    }
    (xs, ys)
}

/// The densest x ticks whose labels keep at least two character widths apart on an axis
/// `width` pixels long.
fn fit_x_ticks(map: &AxisMap, width: i32, font: Font) -> Ticks {
    let min_gap = 12.0 * font.scale as f64;
    let fits = |t: &Ticks| {
        let mut last_right = f64::NEG_INFINITY;
        for (v, l) in t.major.iter().zip(&t.labels) {
            let Some(f) = map.frac(*v) else { continue };
            let w = font.measure(l).0 as f64;
            let x = f * width as f64;
            if x - w / 2.0 < last_right + min_gap {
                return false;
            }
            last_right = x + w / 2.0;
        }
        true
    };
    for target in (3..=10).rev() {
        let t = map.ticks(target);
        if fits(&t) {
            return t;
        }
    }
    // The sparsest ticks; on a very narrow axis the caller skips colliding labels.
    map.ticks(2)
}

/// Draws the title centred over `r` at `top`; returns the height used.
pub(crate) fn draw_title(c: &mut Canvas, r: Rect, top: i32, title: &str, s: u32) -> i32 {
    if title.is_empty() {
        return 0;
    }
    let font = Font::bold(s);
    let title = font.fit(title, r.w);
    let (w, h) = font.measure(&title);
    c.text(r.x + (r.w - w as i32) / 2, top, &title, font, Color::INK);
    h as i32 + 3 * s as i32
}

/// Draws one x–y axes inside `cell` with text at magnification `s`.
pub(crate) fn draw_xy(c: &mut Canvas, cell: Rect, ax: &Axes, s: u32) {
    let si = s as i32;
    let font = Font::regular(s);
    let fh = font.height() as i32;
    let (pad, gap, tick) = (5 * si, 2 * si, 3 * si);
    let (xv, yv) = extents(ax);
    let xmap = axis_map(&xv, ax.xscale, ax.xlim);
    let ymap = axis_map(&yv, ax.yscale, ax.ylim);

    let title_h = if ax.title.is_empty() { 0 } else { fh + 3 * si };
    let top = pad + title_h + fh / 2;
    let bottom = pad + tick + gap + fh + if ax.xlabel.is_empty() { 0 } else { gap + fh };
    let est_h = (cell.h - top - bottom).max(1);
    let yt = ymap.ticks((est_h / (fh * 3)).clamp(2, 8) as usize);
    let ylab_w = yt
        .labels
        .iter()
        .map(|l| font.measure(l).0 as i32)
        .max()
        .unwrap_or(0);
    let ylabel_w = if ax.ylabel.is_empty() {
        0
    } else {
        fh + gap * 2
    };
    let left = pad + ylabel_w + ylab_w + gap + tick;
    let legend_w = outside_width(ax, s, cell.w, cell.h - top);
    let est_w = (cell.w - left - pad - legend_w).max(1);
    let xt = fit_x_ticks(&xmap, est_w, font);
    let last_w = xt
        .labels
        .last()
        .map(|l| font.measure(l).0 as i32)
        .unwrap_or(0);
    let right = pad.max(last_w / 2 + gap) + legend_w;
    let r = Rect::new(
        cell.x + left,
        cell.y + top,
        cell.w - left - right,
        cell.h - top - bottom,
    );
    // Centred over the plot area, as long as it fits inside the cell.
    let tw = Font::bold(s).measure(&ax.title).0 as i32;
    let span = if tw <= r.w {
        Rect::new(r.x, cell.y, r.w, cell.h)
    } else {
        cell
    };
    draw_title(c, span, cell.y + pad, &ax.title, s);
    if r.w < 10 || r.h < 10 {
        return;
    }
    let f = Frame {
        r,
        x: xmap,
        y: ymap,
    };

    if ax.grid {
        for &v in &xt.major {
            if let Some(x) = f.px(v) {
                c.line(
                    x.round() as i32,
                    r.y,
                    x.round() as i32,
                    r.bottom() - 1,
                    Color::LIGHT_GREY,
                );
            }
        }
        for &v in &yt.major {
            if let Some(y) = f.py(v) {
                c.line(
                    r.x,
                    y.round() as i32,
                    r.right() - 1,
                    y.round() as i32,
                    Color::LIGHT_GREY,
                );
            }
        }
    }
    let outer = c.clip();
    c.set_clip(Some(r));
    for it in ax.items.iter().filter(|it| is_area(it)) {
        draw_item(c, &f, it, s);
    }
    for it in ax.items.iter().filter(|it| !is_area(it)) {
        draw_item(c, &f, it, s);
    }
    c.set_clip(Some(outer));
    c.stroke_rect(Rect::new(r.x - 1, r.y - 1, r.w + 2, r.h + 2), Color::INK);

    // X ticks and labels; labels that would touch their neighbour are skipped.
    let mut last_right = i32::MIN;
    for (v, label) in xt.major.iter().zip(&xt.labels) {
        let Some(x) = f.px(*v).map(|x| x.round() as i32) else {
            continue;
        };
        c.line(x, r.bottom(), x, r.bottom() + tick, Color::INK);
        let w = font.measure(label).0 as i32;
        let lx = x - w / 2;
        if lx > last_right + 2 * gap {
            c.text(lx, r.bottom() + tick + gap, label, font, Color::INK);
            last_right = lx + w;
        }
    }
    for v in &xt.minor {
        if let Some(x) = f.px(*v).map(|x| x.round() as i32) {
            c.line(x, r.bottom(), x, r.bottom() + tick / 2, Color::INK);
        }
    }
    let cap = 7 * si;
    let mut last_top: Option<i32> = None;
    for (v, label) in yt.major.iter().zip(&yt.labels) {
        let Some(y) = f.py(*v).map(|y| y.round() as i32) else {
            continue;
        };
        c.line(r.x - 1 - tick, y, r.x - 1, y, Color::INK);
        let w = font.measure(label).0 as i32;
        let ly = y - cap / 2;
        if last_top.is_none_or(|t| ly + fh < t + gap) {
            c.text(r.x - 1 - tick - gap - w, ly, label, font, Color::INK);
            last_top = Some(ly);
        }
    }
    for v in &yt.minor {
        if let Some(y) = f.py(*v).map(|y| y.round() as i32) {
            c.line(r.x - 1 - tick / 2, y, r.x - 1, y, Color::INK);
        }
    }
    if !ax.xlabel.is_empty() {
        // May extend past the plot area, but stays inside the cell.
        let xlabel = font.fit(&ax.xlabel, cell.w - 2 * pad);
        let w = font.measure(&xlabel).0 as i32;
        let x = (r.x + (r.w - w) / 2)
            .min(cell.right() - pad - w)
            .max(cell.x + pad);
        c.text(
            x,
            r.bottom() + tick + gap * 2 + fh,
            &xlabel,
            font,
            Color::INK,
        );
    }
    if !ax.ylabel.is_empty() {
        let ylabel = font.fit(&ax.ylabel, r.h);
        let len = font.measure(&ylabel).0 as i32;
        c.text_vertical(
            cell.x + pad,
            r.y + (r.h - len) / 2,
            &ylabel,
            font,
            Color::INK,
        );
    }
    if ax.legend != LegendPos::Hidden && !ax.legend_entries.is_empty() {
        draw_legend(c, &f, ax, s, cell);
    }
}
