//! Layers, the parameter store, network descriptions (TOML) and the paper's networks,
//! optimisers and learning-rate schedules, and the training step.

pub mod config;
pub mod network;
pub mod optim;
pub mod params;
pub mod schedule;
pub mod train;
pub mod zoo;
