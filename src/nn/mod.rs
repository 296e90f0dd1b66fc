//! Layers, parameters and training machinery built on the autograd tape: optimisers
//! and learning-rate schedules (layers and the network builder to come).

pub mod optim;
pub mod schedule;
