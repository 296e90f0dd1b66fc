//! Data: the `.npy` and catalog file formats, dataset directories, the batch loader and
//! its augmentations. Knows nothing of models.

pub mod augment;
mod batch;
pub mod catalog;
pub mod dataset;
pub mod inspect;
pub mod loader;
pub mod mosaic;
pub mod npy;
