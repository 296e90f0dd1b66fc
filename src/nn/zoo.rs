//! The paper's two encoders by name; their layers live in configs/*.toml.

use super::config::NetConfig;
use super::network::Network;
use anyhow::{bail, Result};

/// Latent dimension of both paper networks.
pub const LATENT_DIM: usize = 7;

/// Which paper network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// network_v10: five unpadded 3×3 convs, 232k parameters.
    Small,
    /// network_v8: Inception blocks, 3.4M parameters.
    Inception,
}

impl Arch {
    /// Parses `small` or `inception`.
    pub fn parse(s: &str) -> Result<Arch> {
        match s {
            "small" => Ok(Arch::Small),
            "inception" => Ok(Arch::Inception),
            _ => bail!("network '{s}': expected small or inception"),
        }
    }

    /// Builds the network for C×H×W inputs and `n_sets` classes.
    pub fn build(self, input: [usize; 3], n_sets: usize, seed: u64) -> Result<Network> {
        match self {
            Arch::Small => small(input, n_sets, seed),
            Arch::Inception => inception(input, n_sets, seed),
        }
    }
}

/// network_v10 ("small"), from configs/small.toml.
pub fn small(input: [usize; 3], n_sets: usize, seed: u64) -> Result<Network> {
    NetConfig::load("small")?.build(input, n_sets, seed)
}

/// network_v8 ("inception"), from configs/inception.toml.
pub fn inception(input: [usize; 3], n_sets: usize, seed: u64) -> Result<Network> {
    NetConfig::load("inception")?.build(input, n_sets, seed)
}
