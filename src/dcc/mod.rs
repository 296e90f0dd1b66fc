//! Deep Compact Clustering: the σ/m labels, the DCC loss terms' numerics, the σ/m
//! posterior and the trust tests (overlap, nearest-neighbour distance).

pub mod bootstrap;
pub mod checkpoint;
pub mod demo_checks;
pub mod export;
pub mod infer;
pub mod infer_table;
pub mod inference;
pub mod interpret;
pub mod kde;
pub mod knn;
pub mod labels;
pub mod latents;
pub mod learned;
pub mod lock;
pub mod loss;
pub mod ood;
pub mod overlap;
pub mod posterior;
pub mod report_data;
pub mod run;
pub mod shifts;
pub mod train;
pub mod validate;
