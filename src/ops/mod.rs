//! Primitives: one file per primitive with its shape checks, device dispatch and
//! backward rule. Composite layers live in `nn` and get gradients for free.

pub mod activation;
pub mod anchor;
pub mod arith;
pub mod cclp;
pub mod concat;
pub mod conv2d;
pub mod dropout;
pub mod linear;
pub mod maxpool;
pub mod reshape;
pub mod select;
pub mod softmax;
pub mod transpose;
