//! CPU kernels (rayon), one file per primitive, each with a naive reference beside the
//! fast version where the fast version is not itself the naive loop.

pub mod arith;
pub mod cclp;
pub mod conv2d;
pub mod gemm;
pub mod pool2d;
