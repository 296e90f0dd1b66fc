//! The synthetic SIDM galaxy-cluster simulator (SCIENCE.md, "The synthetic simulator").
pub mod config;
pub mod cosmology;
pub mod galaxies;
pub mod gas;
pub mod halo;
pub mod noise;
pub mod presets;
pub mod render;
pub mod substructure;
