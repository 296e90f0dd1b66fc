//! The raster canvas every plot draws on: an RGB pixel buffer with a clip rectangle,
//! plain (Bresenham) and anti-aliased thick lines, filled shapes and markers, bitmap text
//! (horizontal and rotated 90°), and atomic PNG output. A recording canvas also keeps
//! every call as an SVG element (`svg`), so one drawing gives both. It knows nothing
//! about axes.

use super::color::Color;
use super::font::{glyph, Font, CELL_HEIGHT};
pub use super::geom::Rect;
use super::output::write_atomic;
use super::svg::{self, Recorder};
use anyhow::{Context, Result};
use std::path::Path;

/// Marker shapes for scatter points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    /// Filled disc.
    Circle,
    /// Filled square.
    Square,
    /// Filled upward triangle.
    Triangle,
    /// Filled diamond.
    Diamond,
    /// Diagonal cross (stroke only).
    Cross,
}

/// An RGB raster image with a clip rectangle that every drawing call respects.
#[derive(Clone, Debug)]
pub struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
    clip: Rect,
    /// The SVG twin of the drawing, when recording.
    svg: Option<Box<Recorder>>,
    /// Depth of drawing calls in progress: only the outermost call is recorded.
    nested: u32,
}

impl Canvas {
    /// A `width`×`height` canvas filled with `background`.
    pub fn new(width: u32, height: u32, background: Color) -> Canvas {
        let mut c = Canvas {
            width,
            height,
            pixels: vec![0; width as usize * height as usize * 3],
            clip: Rect::new(0, 0, width as i32, height as i32),
            svg: None,
            nested: 0,
        };
        c.fill(background);
        c
    }

    /// A canvas that records every drawing call as SVG too (`to_svg`).
    pub fn recording(width: u32, height: u32, background: Color) -> Canvas {
        let mut c = Canvas::new(width, height, Color::WHITE);
        c.svg = Some(Box::new(Recorder::new(width, height)));
        c.fill(background);
        c
    }

    /// The drawing so far as an SVG document (None unless the canvas records).
    pub fn to_svg(&self) -> Option<String> {
        self.svg.as_ref().map(|r| r.finish())
    }

    /// Records `el` when this is an outermost call of a recording canvas, then runs the
    /// raster drawing with recording of its inner calls suppressed.
    fn draw(&mut self, el: impl FnOnce(&Canvas) -> String, raster: impl FnOnce(&mut Canvas)) {
        if self.nested == 0 && self.svg.is_some() {
            let e = el(self);
            if let Some(r) = self.svg.as_mut() {
                r.element(&e);
            }
        }
        self.nested += 1;
        raster(self);
        self.nested -= 1;
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The raw RGB bytes, row-major.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The colour at (x, y), or `None` outside the canvas.
    pub fn pixel(&self, x: i32, y: i32) -> Option<Color> {
        if x < 0 || y < 0 || x >= self.width as i32 || y >= self.height as i32 {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        Some(Color::rgb(
            self.pixels[i],
            self.pixels[i + 1],
            self.pixels[i + 2],
        ))
    }

    /// Paints every pixel (ignores the clip).
    pub fn fill(&mut self, c: Color) {
        let full = Rect::new(0, 0, self.width as i32, self.height as i32);
        self.draw(
            |_| svg::rect(full, c, 1.0),
            |cv| {
                for px in cv.pixels.chunks_exact_mut(3) {
                    px.copy_from_slice(&[c.r, c.g, c.b]);
                }
            },
        );
    }

    /// Restricts drawing to `r` (intersected with the canvas); `None` lifts the restriction.
    pub fn set_clip(&mut self, r: Option<Rect>) {
        let full = Rect::new(0, 0, self.width as i32, self.height as i32);
        self.clip = match r {
            None => full,
            Some(r) => {
                let x0 = r.x.max(0);
                let y0 = r.y.max(0);
                let x1 = r.right().min(full.w);
                let y1 = r.bottom().min(full.h);
                Rect::new(x0, y0, (x1 - x0).max(0), (y1 - y0).max(0))
            }
        };
        if let Some(rec) = self.svg.as_mut() {
            rec.clip(r.map(|_| self.clip));
        }
    }

    /// The current clip rectangle.
    pub fn clip(&self) -> Rect {
        self.clip
    }

    /// Sets one pixel if it lies inside the clip.
    pub fn put(&mut self, x: i32, y: i32, c: Color) {
        if self.clip.contains(x, y) {
            if self.nested == 0 {
                if let Some(r) = self.svg.as_mut() {
                    r.pixel(x, y, c, 1.0);
                }
            }
            let i = (y as usize * self.width as usize + x as usize) * 3;
            self.pixels[i..i + 3].copy_from_slice(&[c.r, c.g, c.b]);
        }
    }

    /// Blends `c` over one pixel with opacity `alpha` in [0, 1].
    pub fn blend(&mut self, x: i32, y: i32, c: Color, alpha: f64) {
        if alpha <= 0.0 || !self.clip.contains(x, y) {
            return;
        }
        if self.nested == 0 {
            if let Some(r) = self.svg.as_mut() {
                r.pixel(x, y, c, alpha);
            }
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        let under = Color::rgb(self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]);
        let out = under.mix(c, alpha);
        self.pixels[i..i + 3].copy_from_slice(&[out.r, out.g, out.b]);
    }

    fn line_px(&mut self, x0: i32, y0: i32, x1: i32, y1: i32, c: Color) {
        if [x0, y0, x1, y1].iter().any(|v| v.abs() > 1_000_000) {
            return;
        }
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            self.put(x, y, c);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// An anti-aliased line of `width` pixels with round caps between pixel-centre
    /// coordinates (pixel (i, j) has its centre at (i, j)).
    pub fn line_aa(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, width: f64, c: Color) {
        self.line_aa_alpha(x0, y0, x1, y1, width, c, 1.0);
    }

    // Raster part of `line_aa_alpha`.
    #[allow(clippy::too_many_arguments)]
    fn line_aa_alpha_px(
        &mut self,
        x0: f64,
        y0: f64,
        x1: f64,
        y1: f64,
        width: f64,
        c: Color,
        alpha: f64,
    ) {
        if ![x0, y0, x1, y1, width].iter().all(|v| v.is_finite()) {
            return;
        }
        let r = (width / 2.0).max(0.5);
        // Coverage falls from 1 to 0 across one pixel at the capsule's edge.
        let xa = (x0.min(x1) - r - 1.0).floor().max(self.clip.x as f64 - 1.0) as i32;
        let xb = (x0.max(x1) + r + 1.0).ceil().min(self.clip.right() as f64) as i32;
        let ya = (y0.min(y1) - r - 1.0).floor().max(self.clip.y as f64 - 1.0) as i32;
        let yb = (y0.max(y1) + r + 1.0).ceil().min(self.clip.bottom() as f64) as i32;
        let (dx, dy) = (x1 - x0, y1 - y0);
        let len2 = dx * dx + dy * dy;
        for y in ya..=yb {
            for x in xa..=xb {
                let (px, py) = (x as f64 - x0, y as f64 - y0);
                let t = if len2 > 0.0 {
                    ((px * dx + py * dy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (ex, ey) = (px - t * dx, py - t * dy);
                let d = (ex * ex + ey * ey).sqrt();
                let cov = (r + 0.5 - d).clamp(0.0, 1.0);
                self.blend(x, y, c, cov * alpha);
            }
        }
    }

    /// A dashed anti-aliased line: `dash` pixels drawn, `gap` pixels skipped.
    #[allow(clippy::too_many_arguments)]
    pub fn dashed_line_aa(
        &mut self,
        x0: f64,
        y0: f64,
        x1: f64,
        y1: f64,
        width: f64,
        dash: f64,
        gap: f64,
        c: Color,
    ) {
        self.dashed_polyline_aa(&[(x0, y0), (x1, y1)], width, dash, gap, c);
    }

    fn dashed_polyline_aa_px(
        &mut self,
        points: &[(f64, f64)],
        width: f64,
        dash: f64,
        gap: f64,
        c: Color,
    ) {
        if dash <= 0.0 {
            return;
        }
        let gap = gap.max(1.0);
        // `on` = currently inside a dash; `left` = length remaining in the current phase.
        let (mut on, mut left) = (true, dash);
        for w in points.windows(2) {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            let len = ((x1 - x0).powi(2) + (y1 - y0).powi(2)).sqrt();
            if !len.is_finite() || len == 0.0 {
                continue;
            }
            let (ux, uy) = ((x1 - x0) / len, (y1 - y0) / len);
            let mut s = 0.0;
            while s < len {
                let e = (s + left).min(len);
                if on {
                    self.line_aa(x0 + ux * s, y0 + uy * s, x0 + ux * e, y0 + uy * e, width, c);
                }
                left -= e - s;
                s = e;
                if left <= 1e-9 {
                    on = !on;
                    left = if on { dash } else { gap };
                }
            }
        }
    }

    fn polyline_aa_px(&mut self, points: &[(f64, f64)], width: f64, c: Color) {
        if points.len() == 1 {
            let (x, y) = points[0];
            self.line_aa(x, y, x, y, width, c);
        }
        for w in points.windows(2) {
            self.line_aa(w[0].0, w[0].1, w[1].0, w[1].1, width, c);
        }
    }

    fn fill_rect_px(&mut self, r: Rect, c: Color) {
        let r = self.visible(r);
        for y in r.y..r.bottom() {
            for x in r.x..r.right() {
                self.put(x, y, c);
            }
        }
    }

    fn fill_rect_alpha_px(&mut self, r: Rect, c: Color, alpha: f64) {
        let r = self.visible(r);
        for y in r.y..r.bottom() {
            for x in r.x..r.right() {
                self.blend(x, y, c, alpha);
            }
        }
    }

    /// The part of `r` inside the clip rectangle (possibly empty).
    pub fn visible(&self, r: Rect) -> Rect {
        let x0 = r.x.max(self.clip.x);
        let y0 = r.y.max(self.clip.y);
        let x1 = r.right().min(self.clip.right());
        let y1 = r.bottom().min(self.clip.bottom());
        Rect::new(x0, y0, (x1 - x0).max(0), (y1 - y0).max(0))
    }

    fn stroke_rect_px(&mut self, r: Rect, c: Color) {
        if r.w <= 0 || r.h <= 0 {
            return;
        }
        let (x1, y1) = (r.right() - 1, r.bottom() - 1);
        self.line(r.x, r.y, x1, r.y, c);
        self.line(r.x, y1, x1, y1, c);
        self.line(r.x, r.y, r.x, y1, c);
        self.line(x1, r.y, x1, y1, c);
    }

    fn fill_circle_px(&mut self, cx: f64, cy: f64, radius: f64, c: Color, alpha: f64) {
        if !(cx.is_finite() && cy.is_finite() && radius.is_finite()) {
            return;
        }
        let (x0, x1) = (
            ((cx - radius - 1.0).floor() as i32).max(self.clip.x),
            ((cx + radius + 1.0).ceil() as i32).min(self.clip.right()),
        );
        let (y0, y1) = (
            ((cy - radius - 1.0).floor() as i32).max(self.clip.y),
            ((cy + radius + 1.0).ceil() as i32).min(self.clip.bottom()),
        );
        for y in y0..=y1 {
            for x in x0..=x1 {
                let d = ((x as f64 - cx).powi(2) + (y as f64 - cy).powi(2)).sqrt();
                let cov = (radius + 0.5 - d).clamp(0.0, 1.0);
                self.blend(x, y, c, cov * alpha);
            }
        }
    }

    fn fill_polygon_px(&mut self, pts: &[(f64, f64)], c: Color, alpha: f64) {
        if pts.len() < 3 || pts.iter().any(|p| !(p.0.is_finite() && p.1.is_finite())) {
            return;
        }
        let fold = |f: fn(f64, f64) -> f64, init: f64, sel: fn(&(f64, f64)) -> f64| {
            pts.iter().map(sel).fold(init, f)
        };
        let x0 = (fold(f64::min, f64::INFINITY, |p| p.0).floor() as i32).max(self.clip.x);
        let x1 = (fold(f64::max, f64::NEG_INFINITY, |p| p.0).ceil() as i32).min(self.clip.right());
        let y0 = (fold(f64::min, f64::INFINITY, |p| p.1).floor() as i32).max(self.clip.y);
        let y1 = (fold(f64::max, f64::NEG_INFINITY, |p| p.1).ceil() as i32).min(self.clip.bottom());
        for y in y0..=y1 {
            for x in x0..=x1 {
                let mut hits = 0;
                for sy in 0..4 {
                    for sx in 0..4 {
                        let px = x as f64 - 0.375 + sx as f64 * 0.25;
                        let py = y as f64 - 0.375 + sy as f64 * 0.25;
                        hits += inside_polygon(pts, px, py) as u32;
                    }
                }
                self.blend(x, y, c, alpha * hits as f64 / 16.0);
            }
        }
    }

    fn marker_px(&mut self, cx: f64, cy: f64, m: Marker, size: f64, c: Color, alpha: f64) {
        let r = size / 2.0;
        match m {
            Marker::Circle => self.fill_circle(cx, cy, r, c, alpha),
            Marker::Square => {
                let q = r * 0.85;
                let sq = [
                    (cx - q, cy - q),
                    (cx + q, cy - q),
                    (cx + q, cy + q),
                    (cx - q, cy + q),
                ];
                self.fill_polygon(&sq, c, alpha)
            }
            Marker::Triangle => {
                let tri = [
                    (cx, cy - r * 1.1),
                    (cx + r, cy + r * 0.8),
                    (cx - r, cy + r * 0.8),
                ];
                self.fill_polygon(&tri, c, alpha)
            }
            Marker::Diamond => {
                let q = r * 1.15;
                let dia = [(cx, cy - q), (cx + q, cy), (cx, cy + q), (cx - q, cy)];
                self.fill_polygon(&dia, c, alpha)
            }
            Marker::Cross => {
                let w = (size / 4.0).max(1.2);
                self.line_aa(cx - r, cy - r, cx + r, cy + r, w, c);
                self.line_aa(cx - r, cy + r, cx + r, cy - r, w, c);
            }
        }
    }

    fn text_px(&mut self, x: i32, y: i32, text: &str, font: Font, c: Color) -> u32 {
        self.glyph_pixels(text, font, |cv, gx, gy| cv.put(x + gx, y + gy, c));
        font.measure(text).0
    }

    fn text_vertical_px(&mut self, x: i32, y: i32, text: &str, font: Font, c: Color) {
        let len = font.measure(text).0 as i32;
        self.glyph_pixels(text, font, |cv, gx, gy| cv.put(x + gy, y + len - 1 - gx, c));
    }

    // Calls `set(canvas, gx, gy)` for every inked pixel of the text laid out from (0, 0).
    fn glyph_pixels(&mut self, text: &str, font: Font, mut set: impl FnMut(&mut Canvas, i32, i32)) {
        let s = font.scale as i32;
        let mut pen = 0i32;
        for ch in text.chars() {
            let g = glyph(ch);
            for row in 0..CELL_HEIGHT {
                for col in 0..g.width as u32 {
                    if !g.bit(col, row) {
                        continue;
                    }
                    for dy in 0..s {
                        for dx in 0..s + font.bold as i32 {
                            set(self, pen + col as i32 * s + dx, row as i32 * s + dy);
                        }
                    }
                }
            }
            pen += g.advance as i32 * s;
        }
    }

    /// Encodes the canvas as an 8-bit RGB PNG.
    pub fn encode_png(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width, self.height);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc.write_header().context("PNG header")?;
            w.write_image_data(&self.pixels).context("PNG pixel data")?;
        }
        Ok(out)
    }

    /// Writes the canvas as a PNG at `path`, through a temporary file renamed into place
    /// so readers never see a half-written image.
    pub fn save_png(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self
            .encode_png()
            .with_context(|| format!("encoding PNG for {}", path.display()))?;
        write_atomic(path, &bytes)
    }
}

/// The drawing calls: each records its SVG element (when recording) and rasterises.
impl Canvas {
    /// A one-pixel line by Bresenham's algorithm, both end points included.
    /// Lines with an end point beyond ±1,000,000 are not drawn (they would take long
    /// and cannot be on a real canvas anyway).
    pub fn line(&mut self, x0: i32, y0: i32, x1: i32, y1: i32, c: Color) {
        self.draw(
            |_| svg::pixel_line(x0, y0, x1, y1, c),
            |cv| cv.line_px(x0, y0, x1, y1, c),
        );
    }

    /// `line_aa` with an overall opacity.
    #[allow(clippy::too_many_arguments)]
    pub fn line_aa_alpha(
        &mut self,
        x0: f64,
        y0: f64,
        x1: f64,
        y1: f64,
        width: f64,
        c: Color,
        alpha: f64,
    ) {
        self.draw(
            |_| svg::polyline(&[(x0, y0), (x1, y1)], width, c, alpha, None),
            |cv| cv.line_aa_alpha_px(x0, y0, x1, y1, width, c, alpha),
        );
    }

    /// A dashed line through `points`; the dash pattern runs on across vertices so that
    /// densely sampled curves still show dashes.
    pub fn dashed_polyline_aa(
        &mut self,
        points: &[(f64, f64)],
        width: f64,
        dash: f64,
        gap: f64,
        c: Color,
    ) {
        self.draw(
            |_| svg::polyline(points, width, c, 1.0, Some((dash, gap.max(1.0)))),
            |cv| cv.dashed_polyline_aa_px(points, width, dash, gap, c),
        );
    }

    /// A connected anti-aliased line through `points`.
    pub fn polyline_aa(&mut self, points: &[(f64, f64)], width: f64, c: Color) {
        self.draw(
            |_| svg::polyline(points, width, c, 1.0, None),
            |cv| cv.polyline_aa_px(points, width, c),
        );
    }

    /// Fills the integer rectangle `r`.
    pub fn fill_rect(&mut self, r: Rect, c: Color) {
        self.draw(|_| svg::rect(r, c, 1.0), |cv| cv.fill_rect_px(r, c));
    }

    /// Blends `c` with opacity `alpha` over the integer rectangle `r`.
    pub fn fill_rect_alpha(&mut self, r: Rect, c: Color, alpha: f64) {
        self.draw(
            |_| svg::rect(r, c, alpha),
            |cv| cv.fill_rect_alpha_px(r, c, alpha),
        );
    }

    /// A one-pixel outline drawn just inside `r`.
    pub fn stroke_rect(&mut self, r: Rect, c: Color) {
        self.draw(|_| svg::stroke_rect(r, c), |cv| cv.stroke_rect_px(r, c));
    }

    /// An anti-aliased filled disc centred at (cx, cy).
    pub fn fill_circle(&mut self, cx: f64, cy: f64, radius: f64, c: Color, alpha: f64) {
        self.draw(
            |_| svg::circle(cx, cy, radius, c, alpha),
            |cv| cv.fill_circle_px(cx, cy, radius, c, alpha),
        );
    }

    /// A filled polygon, anti-aliased by 4×4 supersampling of each pixel.
    pub fn fill_polygon(&mut self, pts: &[(f64, f64)], c: Color, alpha: f64) {
        self.draw(
            |_| svg::polygon(pts, c, alpha),
            |cv| cv.fill_polygon_px(pts, c, alpha),
        );
    }

    /// A marker of diameter `size` pixels centred at (cx, cy).
    pub fn marker(&mut self, cx: f64, cy: f64, m: Marker, size: f64, c: Color, alpha: f64) {
        self.draw(
            |_| marker_svg(cx, cy, m, size, c, alpha),
            |cv| cv.marker_px(cx, cy, m, size, c, alpha),
        );
    }

    /// Draws `text` with its box's top-left corner at (x, y); returns the box width.
    pub fn text(&mut self, x: i32, y: i32, text: &str, font: Font, c: Color) -> u32 {
        let mut w = 0;
        self.draw(
            |_| svg::text(x, y, text, font, c, false),
            |cv| w = cv.text_px(x, y, text, font, c),
        );
        w
    }

    /// Draws `text` rotated 90° counter-clockwise (reading bottom to top) with its box's
    /// top-left corner at (x, y); the box is `font.height()` wide and as tall as the
    /// text is long.
    pub fn text_vertical(&mut self, x: i32, y: i32, text: &str, font: Font, c: Color) {
        self.draw(
            |_| svg::text(x, y, text, font, c, true),
            |cv| cv.text_vertical_px(x, y, text, font, c),
        );
    }
}

/// The SVG of a marker: the shapes `marker` rasterises, as elements.
fn marker_svg(cx: f64, cy: f64, m: Marker, size: f64, c: Color, alpha: f64) -> String {
    let r = size / 2.0;
    match m {
        Marker::Circle => svg::circle(cx, cy, r, c, alpha),
        Marker::Square => {
            let q = r * 0.85;
            svg::polygon(
                &[
                    (cx - q, cy - q),
                    (cx + q, cy - q),
                    (cx + q, cy + q),
                    (cx - q, cy + q),
                ],
                c,
                alpha,
            )
        }
        Marker::Triangle => svg::polygon(
            &[
                (cx, cy - r * 1.1),
                (cx + r, cy + r * 0.8),
                (cx - r, cy + r * 0.8),
            ],
            c,
            alpha,
        ),
        Marker::Diamond => {
            let q = r * 1.15;
            svg::polygon(
                &[(cx, cy - q), (cx + q, cy), (cx, cy + q), (cx - q, cy)],
                c,
                alpha,
            )
        }
        Marker::Cross => {
            let w = (size / 4.0).max(1.2);
            format!(
                "<g>{}{}</g>",
                svg::polyline(&[(cx - r, cy - r), (cx + r, cy + r)], w, c, 1.0, None),
                svg::polyline(&[(cx - r, cy + r), (cx + r, cy - r)], w, c, 1.0, None)
            )
        }
    }
}

/// Even-odd rule point-in-polygon test.
fn inside_polygon(pts: &[(f64, f64)], x: f64, y: f64) -> bool {
    let mut inside = false;
    let mut j = pts.len() - 1;
    for i in 0..pts.len() {
        let ((xi, yi), (xj, yj)) = (pts[i], pts[j]);
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}
