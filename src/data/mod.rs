//! Data: the `.npy` and catalog file formats, dataset directories, the batch loader and
//! its augmentations, and the per-set summary and mosaic behind `dcc inspect`. Knows
//! nothing of models. The format and the CLI are described in docs/data.md.

pub mod augment;
mod batch;
pub mod catalog;
pub mod dataset;
pub mod inspect;
pub mod loader;
pub mod loader_config;
pub mod mapstats;
pub mod mosaic;
pub mod npy;
pub mod shifts;
pub mod sim;
