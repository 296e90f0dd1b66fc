//! `Axes`, the unit of the figure API: x–y series (scatter by category, lines, error
//! bars, reference lines, shaded bands), or one heatmap, or one image, plus titles,
//! labels, scales and legend placement. Nothing is drawn here; bad input (mismatched
//! lengths, wrong matrix sizes) is recorded when added and reported by `Figure::render`.

use super::canvas::Marker;
use super::color::{palette, Color};
use super::panels::{Heatmap, ImagePanel};
use super::series::{Item, LegendEntry, LegendPos, Scale, Style, Swatch};

#[derive(Clone, Debug)]
pub(crate) enum Content {
    Xy,
    Heatmap(Heatmap),
    Image(ImagePanel),
}

/// One plotting area: x–y series with axes, ticks, labels and legend; or a heatmap or
/// an image (set by `heatmap` / `image`, which replace any series).
#[derive(Clone, Debug)]
pub struct Axes {
    pub(crate) title: String,
    pub(crate) xlabel: String,
    pub(crate) ylabel: String,
    pub(crate) xscale: Scale,
    pub(crate) yscale: Scale,
    pub(crate) xlim: Option<(f64, f64)>,
    pub(crate) ylim: Option<(f64, f64)>,
    pub(crate) legend: LegendPos,
    pub(crate) grid: bool,
    pub(crate) items: Vec<Item>,
    pub(crate) legend_entries: Vec<LegendEntry>,
    pub(crate) content: Content,
    pub(crate) problems: Vec<String>,
    next_color: usize,
}

impl Axes {
    pub(crate) fn new() -> Axes {
        Axes {
            title: String::new(),
            xlabel: String::new(),
            ylabel: String::new(),
            xscale: Scale::Linear,
            yscale: Scale::Linear,
            xlim: None,
            ylim: None,
            legend: LegendPos::Best,
            grid: true,
            items: Vec::new(),
            legend_entries: Vec::new(),
            content: Content::Xy,
            problems: Vec::new(),
            next_color: 0,
        }
    }

    fn pick_color(&mut self, style: &Style) -> Color {
        style.color.unwrap_or_else(|| {
            self.next_color += 1;
            palette(self.next_color - 1)
        })
    }

    fn check_len(&mut self, what: &str, label: &str, n: usize, others: &[(&str, usize)]) -> bool {
        for &(name, m) in others {
            if m != n {
                self.problems.push(format!(
                    "{what} '{label}': xs has {n} values but {name} has {m}"
                ));
                return false;
            }
        }
        true
    }

    fn add_entry(&mut self, label: &str, color: Color, swatch: Swatch) {
        if !label.is_empty() {
            self.legend_entries.push(LegendEntry {
                label: label.to_string(),
                color,
                swatch,
            });
        }
    }

    /// Points coloured by category: point `i` gets palette colour `categories[i]` and the
    /// legend lists `names[c]` for every category `c` (out-of-range categories are an error).
    pub fn scatter(
        &mut self,
        xs: &[f64],
        ys: &[f64],
        categories: &[usize],
        names: &[impl AsRef<str>],
    ) -> &mut Self {
        if !self.check_len(
            "scatter",
            "",
            xs.len(),
            &[("ys", ys.len()), ("categories", categories.len())],
        ) {
            return self;
        }
        if let Some(&bad) = categories.iter().find(|&&c| c >= names.len()) {
            self.problems.push(format!(
                "scatter: category {bad} has no name (expected < {} names)",
                names.len()
            ));
            return self;
        }
        let style = Style::default().marker(Marker::Circle, 6.0).alpha(0.8);
        let colors = categories.iter().map(|&c| palette(c)).collect();
        self.items.push(Item::Points {
            xs: xs.to_vec(),
            ys: ys.to_vec(),
            colors,
            style,
        });
        for (c, name) in names.iter().enumerate() {
            self.add_entry(name.as_ref(), palette(c), Swatch::Marker(Marker::Circle));
        }
        self
    }

    /// Points in one colour (next palette colour), with a legend entry unless `label` is "".
    pub fn points(&mut self, xs: &[f64], ys: &[f64], label: &str) -> &mut Self {
        self.points_styled(xs, ys, label, Style::default())
    }

    /// `points` with an explicit style.
    pub fn points_styled(
        &mut self,
        xs: &[f64],
        ys: &[f64],
        label: &str,
        style: Style,
    ) -> &mut Self {
        if self.check_len("points", label, xs.len(), &[("ys", ys.len())]) {
            let color = self.pick_color(&style);
            let colors = vec![color; xs.len()];
            self.items.push(Item::Points {
                xs: xs.to_vec(),
                ys: ys.to_vec(),
                colors,
                style,
            });
            self.add_entry(label, color, Swatch::Marker(style.marker));
        }
        self
    }

    /// A connected line (next palette colour).
    pub fn line(&mut self, xs: &[f64], ys: &[f64], label: &str) -> &mut Self {
        self.line_styled(xs, ys, label, Style::default())
    }

    /// `line` with an explicit style.
    pub fn line_styled(&mut self, xs: &[f64], ys: &[f64], label: &str, style: Style) -> &mut Self {
        if self.check_len("line", label, xs.len(), &[("ys", ys.len())]) {
            let color = self.pick_color(&style);
            self.items.push(Item::Line {
                xs: xs.to_vec(),
                ys: ys.to_vec(),
                color,
                style,
            });
            self.add_entry(
                label,
                color,
                Swatch::Line {
                    width: style.width,
                    dashed: style.dashed,
                },
            );
        }
        self
    }

    /// Points with symmetric vertical error bars `ys ± yerr`.
    pub fn errorbars(&mut self, xs: &[f64], ys: &[f64], yerr: &[f64], label: &str) -> &mut Self {
        let lo: Vec<f64> = ys.iter().zip(yerr).map(|(y, e)| y - e.abs()).collect();
        let hi: Vec<f64> = ys.iter().zip(yerr).map(|(y, e)| y + e.abs()).collect();
        if self.check_len(
            "errorbars",
            label,
            xs.len(),
            &[("ys", ys.len()), ("yerr", yerr.len())],
        ) {
            self.errorbars_between(xs, ys, &lo, &hi, label, Style::default());
        }
        self
    }

    /// Points with vertical bars from `lo[i]` to `hi[i]` (e.g. a 16–84 % interval).
    pub fn errorbars_between(
        &mut self,
        xs: &[f64],
        ys: &[f64],
        lo: &[f64],
        hi: &[f64],
        label: &str,
        style: Style,
    ) -> &mut Self {
        if self.check_len(
            "errorbars",
            label,
            xs.len(),
            &[("ys", ys.len()), ("lo", lo.len()), ("hi", hi.len())],
        ) {
            let color = self.pick_color(&style);
            self.items.push(Item::ErrorBars {
                xs: xs.to_vec(),
                ys: ys.to_vec(),
                lo: lo.to_vec(),
                hi: hi.to_vec(),
                color,
                style,
            });
            self.add_entry(label, color, Swatch::Marker(style.marker));
        }
        self
    }

    /// A dashed dark-grey vertical reference line at `x` (e.g. the true σ/m).
    pub fn vline(&mut self, x: f64, label: &str) -> &mut Self {
        self.vline_styled(x, label, Style::color(Color::INK).width(1.5).dashed())
    }

    /// `vline` with an explicit style.
    pub fn vline_styled(&mut self, x: f64, label: &str, style: Style) -> &mut Self {
        let color = self.pick_color(&style);
        self.items.push(Item::VLine { x, color, style });
        self.add_entry(
            label,
            color,
            Swatch::Line {
                width: style.width,
                dashed: style.dashed,
            },
        );
        self
    }

    /// A dashed dark-grey horizontal reference line at `y`.
    pub fn hline(&mut self, y: f64, label: &str) -> &mut Self {
        self.hline_styled(y, label, Style::color(Color::INK).width(1.5).dashed())
    }

    /// `hline` with an explicit style.
    pub fn hline_styled(&mut self, y: f64, label: &str, style: Style) -> &mut Self {
        let color = self.pick_color(&style);
        self.items.push(Item::HLine { y, color, style });
        self.add_entry(
            label,
            color,
            Swatch::Line {
                width: style.width,
                dashed: style.dashed,
            },
        );
        self
    }

    /// A translucent vertical band between `lo` and `hi` on x (e.g. a 68 % interval).
    pub fn vband(&mut self, lo: f64, hi: f64, label: &str, color: Color) -> &mut Self {
        self.items.push(Item::VBand {
            lo,
            hi,
            color,
            alpha: 0.22,
        });
        self.add_entry(label, color, Swatch::Patch { alpha: 0.22 });
        self
    }

    /// A translucent horizontal band between `lo` and `hi` on y.
    pub fn hband(&mut self, lo: f64, hi: f64, label: &str, color: Color) -> &mut Self {
        self.items.push(Item::HBand {
            lo,
            hi,
            color,
            alpha: 0.22,
        });
        self.add_entry(label, color, Swatch::Patch { alpha: 0.22 });
        self
    }

    /// A translucent area between the curves `lo(x)` and `hi(x)`.
    pub fn fill_between(
        &mut self,
        xs: &[f64],
        lo: &[f64],
        hi: &[f64],
        label: &str,
        color: Color,
    ) -> &mut Self {
        if self.check_len(
            "fill_between",
            label,
            xs.len(),
            &[("lo", lo.len()), ("hi", hi.len())],
        ) {
            let item = Item::Fill {
                xs: xs.to_vec(),
                lo: lo.to_vec(),
                hi: hi.to_vec(),
                color,
                alpha: 0.25,
            };
            self.items.push(item);
            self.add_entry(label, color, Swatch::Patch { alpha: 0.25 });
        }
        self
    }

    /// A histogram of the finite values in `bins` equal bins over their range (next
    /// palette colour); `density` scales heights so the bars' area is 1.
    pub fn histogram(
        &mut self,
        values: &[f64],
        bins: usize,
        density: bool,
        label: &str,
    ) -> &mut Self {
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if bins == 0 || finite.is_empty() {
            self.problems.push(format!(
                "histogram '{label}': expected at least one bin and one finite value, found {bins} bins and {} finite values",
                finite.len()
            ));
            return self;
        }
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, hi + 0.5)
        };
        let width = (hi - lo) / bins as f64;
        let edges: Vec<f64> = (0..=bins).map(|i| lo + i as f64 * width).collect();
        let mut counts = vec![0.0; bins];
        for v in &finite {
            counts[(((v - lo) / width) as usize).min(bins - 1)] += 1.0;
        }
        if density {
            let norm = finite.len() as f64 * width;
            counts.iter_mut().for_each(|c| *c /= norm);
        }
        self.bars(&edges, &counts, label, None)
    }

    /// Bars between consecutive `edges` with the given `heights` (one fewer than edges).
    pub fn bars(
        &mut self,
        edges: &[f64],
        heights: &[f64],
        label: &str,
        color: Option<Color>,
    ) -> &mut Self {
        if edges.len() != heights.len() + 1 {
            self.problems.push(format!(
                "bars '{label}': expected {} edges for {} heights, found {}",
                heights.len() + 1,
                heights.len(),
                edges.len()
            ));
            return self;
        }
        let color = self.pick_color(&Style {
            color,
            ..Style::default()
        });
        self.items.push(Item::Bars {
            edges: edges.to_vec(),
            heights: heights.to_vec(),
            color,
            alpha: 0.6,
        });
        self.add_entry(label, color, Swatch::Patch { alpha: 0.6 });
        self
    }

    /// Text with its left edge at data point (x, y), vertically centred.
    pub fn text(&mut self, x: f64, y: f64, text: &str, color: Color) -> &mut Self {
        self.items.push(Item::Text {
            x,
            y,
            text: text.to_string(),
            color,
        });
        self
    }

    /// Turns this axes into a heatmap (series already added are dropped).
    pub fn heatmap(&mut self, h: Heatmap) -> &mut Self {
        let n = h.rows.saturating_mul(h.cols);
        if h.values.len() != n || n == 0 {
            self.problems.push(format!(
                "heatmap: expected {}×{} = {n} values, found {}",
                h.rows,
                h.cols,
                h.values.len()
            ));
        } else if (!h.row_labels.is_empty() && h.row_labels.len() != h.rows)
            || (!h.col_labels.is_empty() && h.col_labels.len() != h.cols)
        {
            self.problems.push(format!(
                "heatmap: expected {} row and {} column labels, found {} and {}",
                h.rows,
                h.cols,
                h.row_labels.len(),
                h.col_labels.len()
            ));
        }
        self.content = Content::Heatmap(h);
        self
    }

    /// Turns this axes into an image panel (series already added are dropped).
    pub fn image(&mut self, img: ImagePanel) -> &mut Self {
        let n = img.height.saturating_mul(img.width);
        if img.data.len() != n || n == 0 {
            self.problems.push(format!(
                "image: expected {}×{} = {n} values, found {}",
                img.height,
                img.width,
                img.data.len()
            ));
        }
        self.content = Content::Image(img);
        self
    }

    /// Title above the axes.
    pub fn set_title(&mut self, s: &str) -> &mut Self {
        self.title = s.to_string();
        self
    }
    /// Label under the x axis.
    pub fn set_xlabel(&mut self, s: &str) -> &mut Self {
        self.xlabel = s.to_string();
        self
    }
    /// Label left of the y axis (drawn rotated).
    pub fn set_ylabel(&mut self, s: &str) -> &mut Self {
        self.ylabel = s.to_string();
        self
    }
    /// Linear or log10 x axis.
    pub fn set_xscale(&mut self, s: Scale) -> &mut Self {
        self.xscale = s;
        self
    }
    /// Linear or log10 y axis.
    pub fn set_yscale(&mut self, s: Scale) -> &mut Self {
        self.yscale = s;
        self
    }
    /// Fixed x range instead of the data's (padded) range.
    pub fn set_xlim(&mut self, lo: f64, hi: f64) -> &mut Self {
        self.xlim = Some((lo, hi));
        self
    }
    /// Fixed y range instead of the data's (padded) range.
    pub fn set_ylim(&mut self, lo: f64, hi: f64) -> &mut Self {
        self.ylim = Some((lo, hi));
        self
    }
    /// Legend placement (default `Best`; `Hidden` for none).
    pub fn set_legend(&mut self, pos: LegendPos) -> &mut Self {
        self.legend = pos;
        self
    }
    /// Light grid lines at the major ticks (default on).
    pub fn set_grid(&mut self, on: bool) -> &mut Self {
        self.grid = on;
        self
    }
}
