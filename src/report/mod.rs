//! The report layer, layout only: plots drawn by our own rasteriser (canvas, bitmap font
//! metrics, colour maps, figure/axes API) that records every call as SVG too, PNG map
//! panels, and self-contained HTML pages. Callers hand it plain numbers and strings
//! (`dcc::report_data` computes the run report's); it never decides what to plot.

#![warn(missing_docs)]

pub mod canvas;
pub mod color;
pub mod coverage;
mod draw_items;
pub mod figure;
pub mod font;
mod frame;
mod geom;
pub mod html;
#[cfg(test)]
mod html_tests;
mod legend;
pub mod mosaic;
pub mod output;
mod panel_draw;
pub mod panels;
pub mod plot;
mod render;
pub mod series;
mod svg;
pub mod ticks;

#[cfg(test)]
mod canvas_tests;
#[cfg(test)]
mod gallery_tests;
#[cfg(test)]
mod plot_tests;
#[cfg(test)]
mod svg_tests;

pub use canvas::{Canvas, Marker, Rect};
pub use color::{palette, Color, Colormap, PALETTE};
pub use figure::Figure;
pub use font::Font;
pub use html::{Cell, HtmlPage};
pub use output::{save_json, write_atomic};
pub use panels::{Heatmap, ImagePanel};
pub use plot::Axes;
pub use series::{LegendPos, Scale, Style};
pub mod run_figures;
pub mod run_report;
