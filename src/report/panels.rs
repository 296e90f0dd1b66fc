//! Heatmap and image panels: what they show and how values map to colours (drawing is
//! in panel_draw.rs).

use super::color::{Color, Colormap};

/// A matrix drawn as coloured cells with optional numbers in them and a colour bar
/// (e.g. the overlap between simulation sets).
#[derive(Clone, Debug)]
pub struct Heatmap {
    pub(crate) values: Vec<f64>,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) row_labels: Vec<String>,
    pub(crate) col_labels: Vec<String>,
    pub(crate) colormap: Colormap,
    pub(crate) range: Option<(f64, f64)>,
    pub(crate) decimals: Option<usize>,
    pub(crate) colorbar_label: String,
}

impl Heatmap {
    /// A `rows`×`cols` matrix from row-major `values`; cells annotated with 2 decimals.
    pub fn new(values: &[f64], rows: usize, cols: usize) -> Heatmap {
        Heatmap {
            values: values.to_vec(),
            rows,
            cols,
            row_labels: Vec::new(),
            col_labels: Vec::new(),
            colormap: Colormap::Blues,
            range: None,
            decimals: Some(2),
            colorbar_label: String::new(),
        }
    }
    /// Labels for the rows (left) and columns (bottom).
    pub fn labels(mut self, rows: &[impl AsRef<str>], cols: &[impl AsRef<str>]) -> Heatmap {
        self.row_labels = rows.iter().map(|s| s.as_ref().to_string()).collect();
        self.col_labels = cols.iter().map(|s| s.as_ref().to_string()).collect();
        self
    }
    /// The colour map (default `Blues`).
    pub fn colormap(mut self, c: Colormap) -> Heatmap {
        self.colormap = c;
        self
    }
    /// A fixed value range instead of the data's min..max.
    pub fn range(mut self, lo: f64, hi: f64) -> Heatmap {
        self.range = Some((lo, hi));
        self
    }
    /// Write each value in its cell with `decimals` decimals (`None`: no numbers).
    pub fn annotate(mut self, decimals: Option<usize>) -> Heatmap {
        self.decimals = decimals;
        self
    }
    /// Label beside the colour bar.
    pub fn colorbar_label(mut self, s: &str) -> Heatmap {
        self.colorbar_label = s.to_string();
        self
    }
}

/// A 2-D array drawn through a colour map, keeping its aspect ratio (a map, a saliency map).
#[derive(Clone, Debug)]
pub struct ImagePanel {
    pub(crate) data: Vec<f64>,
    pub(crate) height: usize,
    pub(crate) width: usize,
    pub(crate) colormap: Colormap,
    pub(crate) range: Option<(f64, f64)>,
    pub(crate) colorbar: bool,
}

impl ImagePanel {
    /// A `height`×`width` image from row-major `data` (row 0 at the top), viridis colours,
    /// range min..max (symmetric ±max|v| for diverging maps), no colour bar.
    pub fn new(data: &[f64], height: usize, width: usize) -> ImagePanel {
        ImagePanel {
            data: data.to_vec(),
            height,
            width,
            colormap: Colormap::Viridis,
            range: None,
            colorbar: false,
        }
    }
    /// The colour map.
    pub fn colormap(mut self, c: Colormap) -> ImagePanel {
        self.colormap = c;
        self
    }
    /// A fixed value range.
    pub fn range(mut self, lo: f64, hi: f64) -> ImagePanel {
        self.range = Some((lo, hi));
        self
    }
    /// Show a colour bar to the right.
    pub fn colorbar(mut self, on: bool) -> ImagePanel {
        self.colorbar = on;
        self
    }
}

/// Finite min..max of `v`, or 0..1 when there is none.
fn finite_range(v: &[f64]) -> (f64, f64) {
    let lo = v
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .fold(f64::INFINITY, f64::min);
    let hi = v
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    if lo.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    }
}

/// The value range a map is drawn with: the fixed one, ±max|v| for diverging maps, else
/// the data's min..max.
pub(crate) fn value_range(v: &[f64], fixed: Option<(f64, f64)>, cmap: Colormap) -> (f64, f64) {
    if let Some(r) = fixed {
        return r;
    }
    let (lo, hi) = finite_range(v);
    if cmap.is_diverging() {
        let m = lo.abs().max(hi.abs());
        let m = if m > 0.0 { m } else { 1.0 };
        (-m, m)
    } else if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, hi + 0.5)
    }
}

/// The colour a heatmap gives `v` (exposed for tests and for legends drawn elsewhere).
pub fn heatmap_color(h: &Heatmap, v: f64) -> Color {
    let (lo, hi) = value_range(&h.values, h.range, h.colormap);
    h.colormap.map(v, lo, hi)
}
