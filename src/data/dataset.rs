//! Dataset directories: `images.npy` (N×C×H×W) beside `catalog.csv` (one row per image).

pub use super::catalog::{read_catalog, write_catalog, Catalog};
