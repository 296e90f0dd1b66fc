//! The synthetic SIDM galaxy-cluster simulator (SCIENCE.md, "The synthetic simulator").
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
