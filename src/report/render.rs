//! Drawing of x–y axes: data ranges, the data-to-pixel mapping (linear or log10), the
//! layout of margins from the measured tick labels, ticks, grid, series, reference lines,
//! bands, labels and the legend.

use super::canvas::{Canvas, Rect};
use super::color::Color;
use super::font::Font;
use super::plot::Axes;
use super::series::{Item, LegendPos, Scale, Swatch};
use super::ticks::{linear_ticks, log_ticks, Ticks};

/// One axis: the scale and the visible range in transformed units (log10 for log axes).
#[derive(Clone, Copy, Debug)]
pub(crate) struct AxisMap {
    pub scale: Scale,
    pub lo: f64,
    pub hi: f64,
}

impl AxisMap {
    fn t(&self, v: f64) -> Option<f64> {
        match self.scale {
            Scale::Linear if v.is_finite() => Some(v),
            Scale::Log10 if v.is_finite() && v > 0.0 => Some(v.log10()),
            _ => None,
        }
    }

    /// Fraction along the axis (0 at `lo`, 1 at `hi`), `None` for unplottable values.
    fn frac(&self, v: f64) -> Option<f64> {
        self.t(v).map(|t| (t - self.lo) / (self.hi - self.lo))
    }

    fn ticks(&self, target: usize) -> Ticks {
        match self.scale {
            Scale::Linear => linear_ticks(self.lo, self.hi, target),
            Scale::Log10 => log_ticks(10f64.powf(self.lo), 10f64.powf(self.hi)),
        }
    }
}

/// The visible range of an axis: the fixed limits, or the data's range padded by 5 %.
fn axis_map(values: &[f64], scale: Scale, lim: Option<(f64, f64)>) -> AxisMap {
    let probe = AxisMap {
        scale,
        lo: 0.0,
        hi: 1.0,
    };
    if let Some((a, b)) = lim {
        if let (Some(lo), Some(hi)) = (probe.t(a), probe.t(b)) {
            if hi > lo {
                return AxisMap { scale, lo, hi };
            }
        }
    }
    let ts: Vec<f64> = values.iter().filter_map(|&v| probe.t(v)).collect();
    let lo = ts.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = ts.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi - lo <= 1e-12 * (lo.abs() + hi.abs()).max(1e-300) {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - pad, hi + pad)
    } else {
        (lo, hi)
    };
    let pad = 0.05 * (hi - lo);
    AxisMap {
        scale,
        lo: lo - pad,
        hi: hi + pad,
    }
}

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
        }
    }
    (xs, ys)
}

/// Pixel mapping of the plot rectangle.
struct Frame {
    r: Rect,
    x: AxisMap,
    y: AxisMap,
}

impl Frame {
    fn px(&self, v: f64) -> Option<f64> {
        self.x
            .frac(v)
            .map(|f| self.r.x as f64 + f * (self.r.w - 1) as f64)
    }
    fn py(&self, v: f64) -> Option<f64> {
        self.y
            .frac(v)
            .map(|f| (self.r.bottom() - 1) as f64 - f * (self.r.h - 1) as f64)
    }
    fn point(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        Some((self.px(x)?, self.py(y)?))
    }
}

/// Draws the title centred over `r` at `top`; returns the height used.
pub(crate) fn draw_title(c: &mut Canvas, r: Rect, top: i32, title: &str, s: u32) -> i32 {
    if title.is_empty() {
        return 0;
    }
    let font = Font::bold(s);
    let (w, h) = font.measure(title);
    c.text(r.x + (r.w - w as i32) / 2, top, title, font, Color::INK);
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
    let left =
        pad + if ax.ylabel.is_empty() {
            0
        } else {
            fh + gap * 2
        } + ylab_w
            + gap
            + tick;
    let est_w = (cell.w - left - pad).max(1);
    let xt = xmap.ticks((est_w / (fh * 6)).clamp(2, 10) as usize);
    let last_w = xt
        .labels
        .last()
        .map(|l| font.measure(l).0 as i32)
        .unwrap_or(0);
    let right = pad.max(last_w / 2 + gap);
    let r = Rect::new(
        cell.x + left,
        cell.y + top,
        cell.w - left - right,
        cell.h - top - bottom,
    );
    draw_title(c, cell, cell.y + pad, &ax.title, s);
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
    c.set_clip(Some(r));
    for it in ax.items.iter().filter(|it| is_area(it)) {
        draw_item(c, &f, it, s);
    }
    for it in ax.items.iter().filter(|it| !is_area(it)) {
        draw_item(c, &f, it, s);
    }
    c.set_clip(None);
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
        let w = font.measure(&ax.xlabel).0 as i32;
        c.text(
            r.x + (r.w - w) / 2,
            r.bottom() + tick + gap * 2 + fh,
            &ax.xlabel,
            font,
            Color::INK,
        );
    }
    if !ax.ylabel.is_empty() {
        let len = font.measure(&ax.ylabel).0 as i32;
        c.text_vertical(
            cell.x + pad,
            r.y + (r.h - len) / 2,
            &ax.ylabel,
            font,
            Color::INK,
        );
    }
    if ax.legend != LegendPos::Hidden && !ax.legend_entries.is_empty() {
        draw_legend(c, &f, ax, s);
    }
}

fn is_area(it: &Item) -> bool {
    matches!(
        it,
        Item::VBand { .. } | Item::HBand { .. } | Item::Fill { .. }
    )
}

fn draw_item(c: &mut Canvas, f: &Frame, it: &Item, s: u32) {
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
        for x in x0.round() as i32..x1.round() as i32 {
            let t = ((x as f64 - x0) / (x1 - x0)).clamp(0.0, 1.0);
            let (ya, yb) = (a0 + t * (a1 - a0), b0 + t * (b1 - b0));
            let (y0, y1) = (ya.min(yb).round() as i32, ya.max(yb).round() as i32);
            for y in y0..=y1 {
                c.blend(x, y, col, alpha);
            }
        }
    }
}

/// Draws the legend box in the requested (or least crowded) inside corner.
fn draw_legend(c: &mut Canvas, f: &Frame, ax: &Axes, s: u32) {
    let si = s as i32;
    let font = Font::regular(s);
    let fh = font.height() as i32;
    let (pad, row_h, sw) = (4 * si, fh + 2 * si, 9 * si);
    let mut entries: Vec<_> = Vec::new();
    for e in &ax.legend_entries {
        if !entries
            .iter()
            .any(|x: &&super::series::LegendEntry| x.label == e.label && x.color == e.color)
        {
            entries.push(e);
        }
    }
    let max_rows = ((f.r.h - 2 * pad) / row_h).max(1) as usize;
    let shown = entries.len().min(max_rows);
    let label_w = entries[..shown]
        .iter()
        .map(|e| font.measure(&e.label).0 as i32)
        .max()
        .unwrap_or(0);
    let (bw, bh) = (
        pad * 3 + sw + label_w,
        pad * 2 + shown as i32 * row_h - 2 * si,
    );
    let inset = 4 * si;
    let corner = |p: LegendPos| -> Rect {
        let (l, t) = (f.r.x + inset, f.r.y + inset);
        let (rr, b) = (f.r.right() - inset - bw, f.r.bottom() - inset - bh);
        match p {
            LegendPos::TopLeft => Rect::new(l, t, bw, bh),
            LegendPos::BottomLeft => Rect::new(l, b, bw, bh),
            LegendPos::BottomRight => Rect::new(rr, b, bw, bh),
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
            e.label.clone()
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
            _ => Vec::new(),
        };
        pts
    })
}
