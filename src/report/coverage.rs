//! The coverage page of `dcc validate`: `coverage.json` and `coverage.html` laid out from
//! the numbers `dcc::validate` computed.

use super::html::{Cell, HtmlPage};
use super::output::save_json;
use crate::dcc::validate::{table, CoverageReport};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// A fraction or bias for the page: a dash for an empty group, as in the table.
fn num(v: f64) -> Cell {
    if v.is_finite() {
        Cell::fixed(v, 2)
    } else {
        Cell::from("–")
    }
}

/// Writes `coverage.json` and `coverage.html` into `out`; returns the page's path.
pub fn write_coverage(out: &Path, r: &CoverageReport) -> Result<PathBuf> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    save_json(out.join("coverage.json"), r)?;
    let mut page = HtmlPage::new("dcc validate — σ/m interval coverage");
    page.section("Coverage").paragraph(
        "Each trial is a set withheld in training whose catalog σ/m is known. Posterior: the paper's product of the ensemble members' KDEs. Set-level: median ensemble-mean z₀ with a bootstrap over images and members. Extrapolation: the truth lies beyond the known σ/m labels.",
    );
    let rows = r
        .coverage
        .iter()
        .map(|c| {
            vec![
                Cell::from(c.group.as_str()),
                Cell::fixed(c.trials as f64, 0),
                num(c.posterior_68),
                num(c.posterior_90),
                num(c.set_68),
                num(c.set_95),
                num(c.posterior_bias_dex),
                num(c.set_bias_dex),
            ]
        })
        .collect();
    page.table(
        &[
            "trials",
            "n",
            "posterior 68 % (nominal 0.68)",
            "posterior 90 % (0.90)",
            "set-level 68 % (0.68)",
            "set-level 95 % (0.95)",
            "posterior bias (dex)",
            "set-level bias (dex)",
        ],
        rows,
    );
    page.section("Trials").pre(&table(r));
    let path = out.join("coverage.html");
    page.save(&path)?;
    Ok(path)
}
