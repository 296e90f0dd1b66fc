//! `dcc infer --export-latents`: every member's latents of every inferred image as one
//! `latents.npy` (members × N × D, float32) with `latents.csv` saying which image each of
//! the N rows is, so a notebook can re-plot and re-analyse them with numpy and pandas.

use super::infer::{Details, Inference};
use crate::data::catalog::{write_catalog, Catalog};
use crate::data::npy::write_npy_f32;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// Columns of latents.csv after `set` and `sigma`, before the catalog's own columns.
const INDEX_COLUMNS: [&str; 4] = ["row", "data", "image_index", "role"];

/// Writes `dir/latents.npy` and `dir/latents.csv`; returns their paths and the array's
/// shape.
pub fn export_latents(
    dir: &Path,
    inf: &Inference,
    det: &Details,
) -> Result<(PathBuf, PathBuf, [usize; 3])> {
    let members = det.member_latents.len();
    let n: usize = det.targets.iter().map(|t| t.indices.len()).sum();
    let Some(first) = det.member_latents.first() else {
        bail!("no latents to export (the run has no ensemble members)");
    };
    let d = first
        .first()
        .zip(det.targets.first())
        .map_or(0, |(z, t)| z.len() / t.indices.len().max(1));
    let mut flat = Vec::with_capacity(members * n * d);
    for member in &det.member_latents {
        for z in member {
            flat.extend_from_slice(z);
        }
    }
    if flat.len() != members * n * d {
        bail!(
            "latents of {} values do not make {members} × {n} × {d}",
            flat.len()
        );
    }
    // Catalog columns of every dataset, in order of first appearance, after set and sigma.
    let mut extra: Vec<String> = Vec::new();
    for t in &det.targets {
        for c in t.ds.catalog().columns.iter().skip(2) {
            if !extra.contains(c) && !INDEX_COLUMNS.contains(&c.as_str()) {
                extra.push(c.clone());
            }
        }
    }
    let mut columns: Vec<String> = vec!["set".into(), "sigma".into()];
    columns.extend(INDEX_COLUMNS.iter().map(|s| s.to_string()));
    columns.extend(extra.iter().cloned());
    let mut rows = Vec::with_capacity(n);
    for (t, s) in det.targets.iter().zip(&inf.sets) {
        let cat = t.ds.catalog();
        let col = |name: &str| cat.columns.iter().position(|c| c == name);
        let at: Vec<Option<usize>> = extra.iter().map(|c| col(c)).collect();
        for &i in &t.indices {
            let cells = &cat.rows[i];
            let mut row = vec![
                cells[0].clone(),
                cells[1].clone(),
                rows.len().to_string(),
                t.data.display().to_string(),
                i.to_string(),
                s.role.clone(),
            ];
            row.extend(
                at.iter()
                    .map(|k| k.map_or(String::new(), |k| cells[k].clone())),
            );
            rows.push(row);
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let npy = dir.join("latents.npy");
    let csv = dir.join("latents.csv");
    write_npy_f32(&npy, &[members, n, d], &flat)?;
    write_catalog(&csv, &Catalog { columns, rows })?;
    Ok((npy, csv, [members, n, d]))
}
