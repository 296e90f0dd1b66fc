//! The paper's two encoders, as netloader builds them (SCIENCE.md, "Network").

use super::network::{Network, NetworkBuilder};
use crate::ops::conv2d::Conv2dParams;
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

/// network_v10 ("small"): 1→8→16→32→64→128 unpadded 3×3 convs, pools after the first
/// four, Dropout2d(0.1); 512 → 256 (+Dropout 0.1) → 7 = z → 64 (+Dropout 0.1) → n_sets.
pub fn small(input: [usize; 3], n_sets: usize, seed: u64) -> Result<Network> {
    let valid = Conv2dParams::valid();
    let mut b = NetworkBuilder::new("small", input, seed);
    for (i, out) in [8, 16, 32, 64, 128].into_iter().enumerate() {
        b = b.conv(out, 3, valid, 0.1)?;
        if i < 4 {
            b = b.max_pool(2, 2, 0)?;
        }
    }
    b.flatten()?
        .linear(256, 0.1)?
        .linear(LATENT_DIM, 0.0)?
        .latent()?
        .linear(64, 0.1)?
        .linear(n_sets, 0.0)?
        .build()
}

/// network_v8 ("inception"): Inc(64) → pool → Inc(128) → pool → 2×Inc(256) → pool →
/// 2×Inc(256) → pool → 2×Inc(256); flatten → 256 → 7 = z → ordered bottleneck → 64 → n_sets.
pub fn inception(input: [usize; 3], n_sets: usize, seed: u64) -> Result<Network> {
    let p = 0.05;
    NetworkBuilder::new("inception", input, seed)
        .inception(64, p)?
        .max_pool(2, 2, 0)?
        .inception(128, p)?
        .max_pool(2, 2, 0)?
        .inception(256, p)?
        .inception(256, p)?
        .max_pool(2, 2, 0)?
        .inception(256, p)?
        .inception(256, p)?
        .max_pool(2, 2, 0)?
        .inception(256, p)?
        .inception(256, p)?
        .flatten()?
        .linear(256, 0.0)?
        .linear(LATENT_DIM, 0.0)?
        .latent()?
        .bottleneck()?
        .linear(64, 0.0)?
        .linear(n_sets, 0.0)?
        .build()
}
