//! Primitives: one file per primitive with its shape checks, device dispatch and
//! backward rule. Composite layers live in `nn` and get gradients for free.

pub mod anchor;
pub mod arith;
pub mod cclp;
pub mod conv2d;
pub mod maxpool;
