//! The synthetic SIDM galaxy-cluster simulator (SCIENCE.md, "The synthetic simulator").
pub mod cosmology;
pub mod galaxies;
pub mod gas;
pub mod halo;
pub mod render;
pub mod substructure;
