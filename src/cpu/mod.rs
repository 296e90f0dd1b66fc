//! CPU kernels (rayon), one file per primitive, each with a naive reference beside the
//! fast version where the fast version is not itself the naive loop.

pub mod activation;
pub mod arith;
pub mod cclp;
pub mod cclp_fused;
pub mod channels;
pub mod conv2d;
pub mod dropout;
pub mod elu_dropout;
pub mod fastmath;
pub mod gemm;
pub mod linear;
pub mod optim;
pub mod pairwise;
pub mod pool2d;
pub mod softmax;
