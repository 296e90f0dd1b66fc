//! `dcc report`'s layout: the figures and the HTML page of a trained and inferred run —
//! latent space (PCA to 2-D), σ/m posteriors, the overlap heatmap, nearest-neighbour
//! scores, saliency maps, latent–catalog correlations and training curves. The numbers
//! come computed (`dcc::report_data`); nothing here runs a network or reads the run.

use super::{palette, Cell, Figure, Heatmap, HtmlPage, LegendPos, Scale, Style};
use crate::dcc::infer::{table, Inference};
use crate::dcc::report_data::ReportData;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Whether `v` has a finite value to draw.
fn finite(v: &[f64]) -> bool {
    v.iter().any(|x| x.is_finite())
}

/// The report's plots: each written as `NAME.svg` beside the page and kept to be inlined
/// in it (vector output for papers; PNG is left to map panels).
struct Plots {
    dir: PathBuf,
    svg: HashMap<&'static str, String>,
}

impl Plots {
    fn save(&mut self, name: &'static str, f: &Figure) -> Result<()> {
        let svg = f.save_svg(self.dir.join(format!("{name}.svg")))?;
        // A PNG of the same plot from a report written before plots were SVG.
        let _ = std::fs::remove_file(self.dir.join(format!("{name}.png")));
        self.svg.insert(name, svg);
        Ok(())
    }

    fn remove(&mut self, name: &'static str) {
        for ext in ["svg", "png"] {
            let _ = std::fs::remove_file(self.dir.join(format!("{name}.{ext}")));
        }
        self.svg.remove(name);
    }

    fn get(&self, name: &str) -> &str {
        self.svg.get(name).map_or("", String::as_str)
    }
}

/// Writes `RUN/report/` (SVG plots, PNG saliency maps, `index.html` with the plots inline);
/// returns the page path. `RUN/infer.json` is the caller's to write.
pub fn write_report(run: &Path, inf: &Inference, data: &ReportData) -> Result<PathBuf> {
    let out = run.join("report");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let mut plots = Plots {
        dir: out.clone(),
        svg: HashMap::new(),
    };
    let dim = data.dim;
    let names: Vec<String> = inf
        .sets
        .iter()
        .map(|s| format!("{} ({})", s.name, s.role))
        .collect();

    // Latent space: every inferred set, member 0, PCA of all their latents together.
    let proj = &data.pca;
    let cats = &data.set_of;
    let mut f = Figure::new(900, 650);
    f.axes(0)
        .scatter(
            &proj.iter().map(|p| p[0]).collect::<Vec<_>>(),
            &proj.iter().map(|p| p[1]).collect::<Vec<_>>(),
            cats,
            &names,
        )
        .set_title("latent space of member 0 (PCA)")
        .set_xlabel("PC 1")
        .set_ylabel("PC 2")
        .set_legend(LegendPos::Outside);
    plots.save("latent", &f)?;
    // z0 against z1: the σ/m axis is z0.
    let xs: Vec<f64> = data.z01.iter().map(|z| z[0]).collect();
    let ys: Vec<f64> = data.z01.iter().map(|z| z[1]).collect();
    let mut f = Figure::new(900, 650);
    f.axes(0)
        .scatter(&xs, &ys, cats, &names)
        .set_title("σ/m axis z₀ against z₁")
        .set_xlabel("z₀")
        .set_ylabel("z₁")
        .set_legend(LegendPos::Outside);
    plots.save("z0", &f)?;

    // Posteriors, each set's catalogue σ/m dashed in its colour (CDM drawn at 0.01), the
    // axis trimmed to where the densities are.
    let mut f = Figure::new(900, 600);
    let ax = f.axes(0);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (i, s) in inf.sets.iter().enumerate() {
        let sig: Vec<f64> = s
            .posterior
            .log_sigma
            .iter()
            .map(|l| 10f64.powf(*l))
            .collect();
        let peak = s.posterior.density.iter().cloned().fold(0.0, f64::max);
        for (x, d) in sig.iter().zip(&s.posterior.density) {
            if *d > 1e-3 * peak {
                lo = lo.min(*x);
                hi = hi.max(*x);
            }
        }
        // The legend is narrow: short verdict tags.
        let label = match s.verdict.as_str() {
            "out-of-domain" => format!("{} (OOD)", s.name),
            "extrapolating" => format!("{} (extrap.)", s.name),
            "unreliable" => format!("{} (unrel.)", s.name),
            _ => s.name.clone(),
        };
        ax.line_styled(&sig, &s.posterior.density, &label, Style::color(palette(i)));
    }
    for (i, s) in inf.sets.iter().enumerate() {
        if let Some(c) = s.catalog_sigma {
            ax.vline_styled(
                crate::dcc::labels::relabel(c),
                "",
                Style::color(palette(i)).dashed(),
            );
        }
    }
    if lo < hi {
        ax.set_xlim(lo / 1.5, hi * 1.5);
    }
    ax.set_xscale(Scale::Log10)
        .set_xlabel("σ/m [cm²/g]")
        .set_ylabel("density per dex")
        .set_title("σ/m posteriors (ensemble product); dashed: catalogue σ/m, CDM at 0.01")
        .set_legend(LegendPos::Outside);
    plots.save("posteriors", &f)?;

    // Overlap heatmap: sets × training classes.
    let vals: Vec<f64> = inf
        .sets
        .iter()
        .flat_map(|s| s.overlaps.iter().map(|o| o.mean))
        .collect();
    let cols: Vec<String> = inf
        .classes
        .iter()
        .zip(&data.class_known)
        .map(|(c, &known)| if known { c.clone() } else { format!("{c}*") })
        .collect();
    let rows: Vec<&str> = inf.sets.iter().map(|s| s.name.as_str()).collect();
    let mut f = Figure::new(900, 650);
    f.axes(0)
        .heatmap(
            Heatmap::new(&vals, rows.len(), cols.len())
                .labels(&rows, &cols)
                .range(0.0, 1.0)
                .annotate(Some(2)),
        )
        .set_title("overlap with training classes (* = σ/m withheld)");
    plots.save("overlap", &f)?;

    // Nearest-neighbour distance ratios.
    let mut f = Figure::new(900, 600);
    let ax = f.axes(0);
    for s in inf.sets.iter().filter(|s| finite(&s.knn_ratio_per_image)) {
        ax.histogram(&s.knn_ratio_per_image, 30, true, &s.name);
    }
    ax.set_ylabel("share of images per bin");
    ax.vline_styled(1.0, "reference q95", Style::default().dashed())
        .set_xlabel(&format!(
            "{}-th neighbour distance / training 95th percentile",
            inf.thresholds.knn_k
        ))
        .set_title("nearest-neighbour distance score")
        .set_legend(LegendPos::Outside);
    plots.save("knn", &f)?;

    // Out-of-domain scores, with the calibration images' for reference; none when the
    // test was skipped (too few calibration images).
    let cal = &inf.calibration_scores;
    let ood_drawn = finite(cal);
    if ood_drawn {
        let mut f = Figure::new(900, 600);
        let ax = f.axes(0);
        ax.histogram(cal, 30, true, "calibration");
        for s in inf.sets.iter().filter(|s| finite(&s.ood.score_per_image)) {
            ax.histogram(&s.ood.score_per_image, 30, true, &s.name);
        }
        let q95 = cal[((cal.len() - 1) as f64 * 0.95).round() as usize];
        ax.vline_styled(q95, "calibration q95", Style::default().dashed());
        ax.set_xlabel("out-of-domain score (sum over spaces of −ln tail probability)")
            .set_ylabel("share of images per bin")
            .set_title("out-of-domain score per image")
            .set_legend(LegendPos::Outside);
        plots.save("ood", &f)?;
    } else {
        plots.remove("ood");
    }

    super::run_figures::saliency_figure(&data.saliency).save(out.join("saliency.png"))?;
    if !data.log.is_empty() {
        let f = super::run_figures::training_figure(&data.log, data.dist_warmup);
        plots.save("training", &f)?;
    }
    let corr_rows: Vec<Vec<Cell>> = data
        .correlations
        .iter()
        .map(|c| {
            let mut row = vec![Cell::from(c.column.as_str())];
            row.extend(
                c.r.iter()
                    .map(|r| r.map_or(Cell::from("–"), |r| Cell::fixed(r, 2))),
            );
            row
        })
        .collect();

    let mut page = HtmlPage::new(&format!("dcc report — {}", run.display()));
    page.section("Summary").pre(&table(inf));
    let mut rows = Vec::new();
    for s in &inf.sets {
        let p = &s.posterior;
        rows.push(vec![
            Cell::from(s.name.as_str()),
            Cell::from(s.role.as_str()),
            Cell::from(s.catalog_sigma),
            Cell::fixed(p.median, 3),
            Cell::from(format!("{:.3} – {:.3}", p.q16, p.q84)),
            Cell::from(format!("{:.3} – {:.3}", p.q05, p.q95)),
            Cell::fixed(s.set_level.median, 3),
            Cell::from(format!("{:.3} – {:.3}", s.set_level.q16, s.set_level.q84)),
            Cell::from(format!("{:.3} – {:.3}", s.set_level.q025, s.set_level.q975)),
            Cell::fixed(s.confidence, 3),
            Cell::from(s.ood.p_value.map_or("–".into(), crate::dcc::infer::fmt_p)),
            Cell::from(
                s.ood
                    .flagged_fraction
                    .map_or("–".into(), |f| format!("{:.0} %", 100.0 * f)),
            ),
            Cell::from(s.verdict.as_str()),
        ]);
    }
    page.table(
        &[
            "set",
            "role",
            "σ/m (catalog)",
            "median",
            "68 %",
            "90 %",
            "set-level median",
            "set-level 68 %",
            "set-level 95 %",
            "confidence",
            "out-of-domain p",
            "images flagged",
            "verdict",
        ],
        rows,
    );
    page.section("Latent space")
        .svg(plots.get("latent"), "member 0, PCA of every inferred image")
        .svg(plots.get("z0"), "z₀ is the σ/m axis");
    page.section("σ/m posteriors").svg(
        plots.get("posteriors"),
        "KDE per member, product over the ensemble",
    );
    page.section("Trust: overlap").svg(
        plots.get("overlap"),
        "projected-KDE overlap with each training class (mean over members)",
    );
    page.section("Trust: nearest neighbours").svg(
        plots.get("knn"),
        "per-image k-th neighbour distance over the training 95th percentile",
    );
    if ood_drawn {
        page.section("Trust: out-of-domain test").svg(
            plots.get("ood"),
            &format!(
                "per-image score against {} held-out in-domain images; a set is out-of-domain when its scores exceed theirs (one-sided Mann–Whitney p < {}); an image is flagged when its conformal p-value is ≤ {}",
                inf.calibration_images, inf.thresholds.ood_alpha, inf.thresholds.ood_image_alpha
            ),
        );
    } else {
        page.section("Trust: out-of-domain test")
            .paragraph(&format!(
                "skipped: only {} held-out calibration image(s); train with a larger --validation",
                inf.calibration_images
            ));
    }
    page.section("Saliency").image(
        "saliency.png",
        "one image per set (new and withheld sets first), per channel: the map and the gradient of latent dimensions 0–3 (z₀ is the σ/m axis) with respect to it",
    );
    if !corr_rows.is_empty() {
        let mut header = vec!["column".to_string()];
        header.extend((0..dim).map(|k| format!("z{k}")));
        page.section("Latent–catalog correlations (Pearson)")
            .table(&header, corr_rows);
    }
    if !data.log.is_empty() {
        page.section("Training")
            .svg(plots.get("training"), "DCC loss and accuracy per epoch");
    }
    let path = out.join("index.html");
    page.save(&path)?;
    Ok(path)
}
