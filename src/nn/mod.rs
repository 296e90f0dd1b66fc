//! Layers, the parameter store, the paper's networks, optimisers and LR schedules.

pub mod network;
pub mod params;
pub mod train;
pub mod zoo;
