//! `Figure`: a grid of axes on one canvas with an overall title; lays out the cells,
//! picks the text size, renders every panel and saves the PNG.

use super::canvas::{Canvas, Rect};
use super::color::Color;
use super::font::Font;
use super::output::write_atomic;
use super::panel_draw;
use super::panels::ImagePanel;
use super::plot::{Axes, Content};
use super::render;
use anyhow::{bail, Context, Result};
use std::path::Path;

/// A figure: `rows`×`cols` axes on one canvas, with an optional overall title.
#[derive(Clone, Debug)]
pub struct Figure {
    width: u32,
    height: u32,
    rows: usize,
    cols: usize,
    panels: Vec<Axes>,
    title: String,
    font_scale: Option<u32>,
}

impl Figure {
    /// A `width`×`height` pixel figure with one axes.
    pub fn new(width: u32, height: u32) -> Figure {
        Figure::grid(width, height, 1, 1)
    }

    /// A figure with a `rows`×`cols` grid of axes (subplots), numbered row by row.
    pub fn grid(width: u32, height: u32, rows: usize, cols: usize) -> Figure {
        let (rows, cols) = (rows.max(1), cols.max(1));
        Figure {
            width: width.max(1),
            height: height.max(1),
            rows,
            cols,
            panels: (0..rows * cols).map(|_| Axes::new()).collect(),
            title: String::new(),
            font_scale: None,
        }
    }

    /// A grid of image panels with titles, `cols` per row; the height follows from the
    /// panel aspect ratio of the first image.
    pub fn image_grid(width: u32, cols: usize, images: Vec<(String, ImagePanel)>) -> Figure {
        let cols = cols.clamp(1, images.len().max(1));
        let rows = images.len().div_ceil(cols).max(1);
        let aspect = images
            .first()
            .map(|(_, im)| im.height as f64 / im.width.max(1) as f64)
            .unwrap_or(1.0);
        let cell_w = width as f64 / cols as f64;
        let extra = if images.iter().any(|(_, im)| im.colorbar) {
            0.75
        } else {
            1.0
        };
        let cell_h = cell_w * aspect.clamp(0.2, 5.0) * extra + 30.0;
        let mut f = Figure::grid(width, (cell_h * rows as f64).round() as u32, rows, cols);
        for (i, (title, im)) in images.into_iter().enumerate() {
            f.axes(i).set_title(&title).image(im);
        }
        f
    }

    /// The `i`-th axes (row by row). Panics if `i` ≥ rows × cols: that is a bug in the
    /// calling code, never a property of the data.
    pub fn axes(&mut self, i: usize) -> &mut Axes {
        let n = self.panels.len();
        self.panels
            .get_mut(i)
            .unwrap_or_else(|| panic!("Figure::axes({i}): the figure has {n} axes"))
    }

    /// Overall title above all axes.
    pub fn set_title(&mut self, s: &str) -> &mut Self {
        self.title = s.to_string();
        self
    }

    /// Overrides the automatic text magnification (1 = 5×7-pixel glyphs).
    pub fn set_font_scale(&mut self, scale: u32) -> &mut Self {
        self.font_scale = Some(scale.max(1));
        self
    }

    /// Text magnification: from the override, else from the size of one panel.
    pub fn font_scale(&self) -> u32 {
        self.font_scale.unwrap_or_else(|| {
            let cell = (self.width as usize / self.cols).min(self.height as usize / self.rows);
            match cell {
                0..=179 => 1,
                180..=1099 => 2,
                _ => 3,
            }
        })
    }

    /// Draws the figure; fails if any axes recorded bad input.
    pub fn render(&self) -> Result<Canvas> {
        self.render_on(Canvas::new(self.width, self.height, Color::WHITE))
    }

    /// Draws the figure as an SVG document: the same drawing as `render`, vector
    /// throughout except map panels (embedded PNG).
    pub fn render_svg(&self) -> Result<String> {
        let canvas = self.render_on(Canvas::recording(self.width, self.height, Color::WHITE))?;
        Ok(canvas.to_svg().expect("a recording canvas has an SVG"))
    }

    /// Renders and writes an SVG at `path` (atomically); returns the document.
    pub fn save_svg(&self, path: impl AsRef<Path>) -> Result<String> {
        let path = path.as_ref();
        let svg = self
            .render_svg()
            .with_context(|| format!("rendering figure {}", path.display()))?;
        write_atomic(path, svg.as_bytes())?;
        Ok(svg)
    }

    fn render_on(&self, mut canvas: Canvas) -> Result<Canvas> {
        for (i, ax) in self.panels.iter().enumerate() {
            if let Some(p) = ax.problems.first() {
                bail!("figure axes {i}: {p}");
            }
        }
        let s = self.font_scale();
        let mut top = 0i32;
        if !self.title.is_empty() {
            let font = Font::bold(s);
            let title = font.fit(&self.title, self.width as i32 - 8 * s as i32);
            let (w, h) = font.measure(&title);
            let x = (self.width as i32 - w as i32) / 2;
            canvas.text(x.max(0), 4 * s as i32, &title, font, Color::INK);
            top = (h + 8 * s) as i32;
        }
        let cell_w = self.width as f64 / self.cols as f64;
        let cell_h = (self.height as i32 - top) as f64 / self.rows as f64;
        for (i, ax) in self.panels.iter().enumerate() {
            let (r, c) = (i / self.cols, i % self.cols);
            let x0 = (c as f64 * cell_w).round() as i32;
            let y0 = top + (r as f64 * cell_h).round() as i32;
            let x1 = ((c + 1) as f64 * cell_w).round() as i32;
            let y1 = top + ((r + 1) as f64 * cell_h).round() as i32;
            let cell = Rect::new(x0, y0, x1 - x0, y1 - y0);
            // Nothing a panel draws may spill into its neighbours.
            canvas.set_clip(Some(cell));
            match &ax.content {
                Content::Xy => render::draw_xy(&mut canvas, cell, ax, s),
                Content::Heatmap(h) => panel_draw::draw_heatmap(&mut canvas, cell, ax, h, s),
                Content::Image(im) => panel_draw::draw_image(&mut canvas, cell, ax, im, s),
            }
            canvas.set_clip(None);
        }
        Ok(canvas)
    }

    /// Renders and writes a PNG at `path` (atomically).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let canvas = self
            .render()
            .with_context(|| format!("rendering figure {}", path.display()))?;
        canvas.save_png(path)
    }
}
