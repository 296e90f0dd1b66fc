//! The synthetic SIDM galaxy-cluster simulator (SCIENCE.md, "The synthetic simulator";
//! user docs in docs/simulate.md). It owns the physics of the synthetic maps and their
//! writing as a dataset; it knows nothing of models or training.
//!
//! - `cosmology`: ΛCDM background, critical density, pixel angles.
//! - `halo`: NFW / cored NFW, concentration relations, r_c(σ/m, M200), SIDM rounding,
//!   analytic and line-of-sight projection.
//! - `substructure`, `galaxies`, `gas`: subhaloes and satellites, the BCG and its wobble,
//!   the beta-model gas with cool cores and feedback.
//! - `render`, `table`: pixel sampling, stamps, PSF; per-map radial lookup tables.
//! - `noise`: Kaiser–Squires weak lensing and X-ray Poisson noise.
//! - `config`, `presets`: a set's knobs, the named sets and the set-spec syntax.
//! - `generate`: draw one cluster, render its channels, observe them.
//! - `output`: per-map seeding, catalog rows, the parallel streaming dataset writer.

pub mod config;
pub mod cosmology;
pub mod galaxies;
pub mod gas;
pub mod generate;
pub mod halo;
pub mod noise;
pub mod output;
pub mod presets;
pub mod render;
pub mod substructure;
pub mod table;
