//! The pieces an `Axes` is made of: axis scales, legend placement, series styles, the
//! recorded drawable items (in data coordinates) and legend entries.

use super::canvas::Marker;
use super::color::Color;

/// How an axis maps data to pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Proportional.
    Linear,
    /// Proportional to log10 of the value; values ≤ 0 are skipped.
    Log10,
}

/// Where the legend box goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegendPos {
    /// The inside corner that covers the fewest data points.
    Best,
    /// Inside, upper right.
    TopRight,
    /// Inside, upper left.
    TopLeft,
    /// Inside, lower right.
    BottomRight,
    /// Inside, lower left.
    BottomLeft,
    /// Right of the plot area, top-aligned (the plot narrows to make room).
    Outside,
    /// No legend.
    Hidden,
}

/// Colour and shape of one series. `color: None` takes the next palette colour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Style {
    /// Explicit colour, or the axes' next palette colour.
    pub color: Option<Color>,
    /// Line width in pixels.
    pub width: f64,
    /// Dashed instead of solid lines.
    pub dashed: bool,
    /// Marker shape for points and error-bar centres.
    pub marker: Marker,
    /// Marker diameter in pixels.
    pub size: f64,
    /// Opacity in [0, 1] of markers and shaded areas.
    pub alpha: f64,
}

impl Default for Style {
    fn default() -> Style {
        Style {
            color: None,
            width: 2.0,
            dashed: false,
            marker: Marker::Circle,
            size: 7.0,
            alpha: 1.0,
        }
    }
}

impl Style {
    /// The default style in colour `c`.
    pub fn color(c: Color) -> Style {
        Style {
            color: Some(c),
            ..Style::default()
        }
    }
    /// This style with line width `w`.
    pub fn width(self, w: f64) -> Style {
        Style { width: w, ..self }
    }
    /// This style with dashed lines.
    pub fn dashed(self) -> Style {
        Style {
            dashed: true,
            ..self
        }
    }
    /// This style with marker `m` of diameter `size`.
    pub fn marker(self, m: Marker, size: f64) -> Style {
        Style {
            marker: m,
            size,
            ..self
        }
    }
    /// This style with opacity `a`.
    pub fn alpha(self, a: f64) -> Style {
        Style { alpha: a, ..self }
    }
}

/// One drawable x–y element, in data coordinates.
#[derive(Clone, Debug)]
pub(crate) enum Item {
    Points {
        xs: Vec<f64>,
        ys: Vec<f64>,
        colors: Vec<Color>,
        style: Style,
    },
    Line {
        xs: Vec<f64>,
        ys: Vec<f64>,
        color: Color,
        style: Style,
    },
    ErrorBars {
        xs: Vec<f64>,
        ys: Vec<f64>,
        lo: Vec<f64>,
        hi: Vec<f64>,
        color: Color,
        style: Style,
    },
    VLine {
        x: f64,
        color: Color,
        style: Style,
    },
    HLine {
        y: f64,
        color: Color,
        style: Style,
    },
    VBand {
        lo: f64,
        hi: f64,
        color: Color,
        alpha: f64,
    },
    HBand {
        lo: f64,
        hi: f64,
        color: Color,
        alpha: f64,
    },
    Fill {
        xs: Vec<f64>,
        lo: Vec<f64>,
        hi: Vec<f64>,
        color: Color,
        alpha: f64,
    },
    Text {
        x: f64,
        y: f64,
        text: String,
        color: Color,
    },
    Bars {
        edges: Vec<f64>,
        heights: Vec<f64>,
        color: Color,
        alpha: f64,
    },
}

/// What a legend entry shows beside its label.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Swatch {
    Marker(Marker),
    Line { width: f64, dashed: bool },
    Patch { alpha: f64 },
}

#[derive(Clone, Debug)]
pub(crate) struct LegendEntry {
    pub label: String,
    pub color: Color,
    pub swatch: Swatch,
}
