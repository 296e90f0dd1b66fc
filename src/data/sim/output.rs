//! From set definitions to a dataset directory: per-map seeding from (seed, set, index),
//! one normalised multi-channel image and catalog record per map, and the streaming,
//! parallel, order-preserving writer of `images.npy` + `catalog.csv`.

use super::config::{Channel, SetConfig};
use super::generate::{
    channel, draw_cluster, normalise_into, observe, render_cluster, ClusterParams,
};
use crate::data::dataset::{write_catalog, Catalog};
use crate::data::npy::NpyWriter;
use crate::seed::mix64;
use anyhow::{bail, Context, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::path::Path;

/// What to simulate: sets, maps per set, channels and the master seed.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SimulationPlan {
    /// The sets, written in this order.
    pub sets: Vec<SetConfig>,
    /// Maps per set.
    pub per_set: usize,
    /// Channels of each image, in this order.
    pub channels: Vec<Channel>,
    /// Master seed.
    pub seed: u64,
}

/// The seed of map `index` of set `set_name`: a hash of (seed, name, index), so a set's
/// maps do not depend on which other sets are simulated, nor on threads or chunking.
pub fn map_seed(seed: u64, set_name: &str, index: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325; // FNV-1a
    for b in set_name.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    mix64(mix64(seed) ^ mix64(h ^ mix64(index as u64)))
}

/// One simulated image with its parameters and channel norms.
#[derive(Clone, Debug)]
pub struct SimulatedMap {
    /// C×H×W values, each channel divided by its maximum.
    pub pixels: Vec<f32>,
    /// The drawn parameters.
    pub params: ClusterParams,
    /// Each channel's divisor (its maximum before normalisation, physical units).
    pub norms: Vec<f64>,
}

/// Simulates map `index` of `set`: draw, render, observe, normalise.
pub fn simulate_map(
    set: &SetConfig,
    channels: &[Channel],
    seed: u64,
    index: usize,
) -> SimulatedMap {
    let mut rng = ChaCha8Rng::seed_from_u64(map_seed(seed, &set.name, index));
    let params = draw_cluster(set, &mut rng);
    let mut maps = render_cluster(&params, set);
    observe(&mut maps, &params, set, &mut rng);
    let n2 = set.pixels * set.pixels;
    let mut pixels = vec![0.0f32; channels.len() * n2];
    let norms = channels
        .iter()
        .zip(pixels.chunks_mut(n2))
        .map(|(&c, out)| normalise_into(channel(&maps, c), out))
        .collect();
    SimulatedMap {
        pixels,
        params,
        norms,
    }
}

/// Catalog columns for `channels`.
pub fn catalog_columns(channels: &[Channel]) -> Vec<String> {
    let fixed = [
        "set",
        "sigma",
        "m200",
        "z",
        "concentration",
        "core_kpc",
        "feedback_log_dt",
        "bcg_offset_kpc",
        "merger",
        "m500",
        "q0",
        "gas_beta",
        "cool_core",
        "stellar_fraction",
        "n_subhaloes",
        "centre_x_kpc",
        "centre_y_kpc",
        "pixel_kpc",
        "index",
    ];
    let mut cols: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
    cols.extend(channels.iter().map(|c| format!("norm_{}", c.name())));
    cols
}

/// `x` rounded to 7 significant digits, printed in its shortest exact form.
fn sig7(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let r: f64 = format!("{x:.6e}").parse().unwrap_or(x);
    if r.abs() >= 1e7 || r.abs() < 1e-4 {
        format!("{r:e}")
    } else {
        format!("{r}")
    }
}

/// The catalog row of `map` (index `index` of `set`).
pub fn catalog_row(set: &SetConfig, index: usize, map: &SimulatedMap) -> Vec<String> {
    let p = &map.params;
    let mut row = vec![
        set.name.clone(),
        sig7(set.sigma),
        sig7(p.m200),
        sig7(p.z),
        sig7(p.concentration),
        sig7(p.core_kpc),
        sig7(set.log_dt),
        sig7(p.bcg_offset_kpc()),
        (p.merger.is_some() as u8).to_string(),
        sig7(p.m500),
        sig7(p.q0),
        sig7(p.gas.beta),
        (p.cool_core as u8).to_string(),
        sig7(p.stellar_fraction()),
        p.subhaloes.len().to_string(),
        sig7(p.centre.0),
        sig7(p.centre.1),
        sig7(set.pixel_kpc),
        index.to_string(),
    ];
    row.extend(map.norms.iter().map(|&v| sig7(v)));
    row
}

/// Checks a plan: at least one set and map, one image size, unique set names.
pub fn validate_plan(plan: &SimulationPlan) -> Result<()> {
    let Some(first) = plan.sets.first() else {
        bail!("simulate: no sets given");
    };
    if plan.per_set == 0 {
        bail!("simulate: --per-set must be at least 1");
    }
    if plan.channels.is_empty() {
        bail!("simulate: no channels given");
    }
    for (i, s) in plan.sets.iter().enumerate() {
        if s.pixels != first.pixels {
            bail!(
                "simulate: set '{}' has {} pixels per side but '{}' has {}; one dataset holds one image size",
                s.name, s.pixels, first.name, first.pixels
            );
        }
        if plan.sets[..i].iter().any(|o| o.name == s.name) {
            bail!(
                "simulate: set name '{}' appears twice; rename one with :name=…",
                s.name
            );
        }
    }
    Ok(())
}

/// Simulates `plan` into `dir` (created if missing): `images.npy` (N×C×H×W float32,
/// each channel divided by its maximum), `catalog.csv` and `simulation.json`. Maps are
/// generated in parallel chunks of `chunk` and streamed in order, so memory stays
/// bounded and the bytes do not depend on the thread count. `progress` gets the number
/// of maps finished after each chunk.
pub fn simulate_to_dir(
    plan: &SimulationPlan,
    dir: &Path,
    chunk: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<()> {
    validate_plan(plan)?;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create the output directory", dir.display()))?;
    let n = plan.sets[0].pixels;
    let total = plan.sets.len() * plan.per_set;
    let c = plan.channels.len();
    let mut writer = NpyWriter::create(&dir.join("images.npy"), &[total, c, n, n])?;
    let jobs: Vec<(usize, usize)> = (0..plan.sets.len())
        .flat_map(|s| (0..plan.per_set).map(move |i| (s, i)))
        .collect();
    let mut rows = Vec::with_capacity(total);
    let mut done = 0;
    for block in jobs.chunks(chunk.max(1)) {
        let maps: Vec<SimulatedMap> = block
            .par_iter()
            .map(|&(s, i)| simulate_map(&plan.sets[s], &plan.channels, plan.seed, i))
            .collect();
        for (&(s, i), m) in block.iter().zip(&maps) {
            writer.write(&m.pixels)?;
            rows.push(catalog_row(&plan.sets[s], i, m));
        }
        done += block.len();
        progress(done);
    }
    writer.finish()?;
    let catalog = Catalog {
        columns: catalog_columns(&plan.channels),
        rows,
    };
    write_catalog(&dir.join("catalog.csv"), &catalog)?;
    let json = serde_json::to_string_pretty(plan).context("simulate: serialising the plan")?;
    let path = dir.join("simulation.json");
    let tmp = dir.join("simulation.json.tmp");
    std::fs::write(&tmp, json).with_context(|| format!("{}: cannot write", tmp.display()))?;
    std::fs::rename(&tmp, &path)
        .with_context(|| format!("{}: cannot rename into place", path.display()))?;
    Ok(())
}

#[cfg(test)]
#[path = "output_tests.rs"]
mod tests;
