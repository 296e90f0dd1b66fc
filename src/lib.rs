//! dcc: Deep Compact Clustering for galaxy-cluster maps — an engine that owns its tensor
//! runtime (CPU kernels with rayon; CUDA kernels compiled by NVRTC), an explicit autograd
//! tape, the DCC loss, the synthetic SIDM simulator and the σ/m inference with its
//! latent-space trust test.

pub mod autograd;
pub mod bench;
pub mod cli;
pub mod cpu;
pub mod cuda;
pub mod data;
pub mod dcc;
pub mod files;
pub mod kparams;
pub mod nn;
pub mod ops;
pub mod report;
pub mod seed;
pub mod tensor;
#[doc(hidden)]
pub mod testing;
