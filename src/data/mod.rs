//! Data: the `.npy` and catalog file formats, dataset directories, the batch loader and
//! its augmentations. Knows nothing of models.

pub mod catalog;
pub mod dataset;
pub mod npy;
pub mod sim;
