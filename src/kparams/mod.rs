//! Kernel parameter structs shared by the ops, the CPU kernels' callers and the CUDA
//! launchers; each mirrors a struct of `kernels/params.h` field for field (`#[repr(C)]`,
//! 8-byte fields first), so a launcher passes it by value to the `.cu` kernel unchanged.
//! The geometry types the ops validate (`geometry`), the dropout mask (`mask`) and the
//! activation kinds live here too, so the ops, the CPU kernels and the CUDA launchers
//! all read one definition. A leaf module: it depends on nothing else in the crate.

#![allow(missing_docs)]

pub mod geometry;
pub mod mask;

/// Marker for structs that may be passed by value to a kernel (plain old data).
///
/// # Safety
/// Implementors are `#[repr(C)]`, contain no pointers the kernel could not use, and
/// match their `params.h` twin byte for byte.
pub unsafe trait KernelParams: Copy + Send + Sync + 'static {}

macro_rules! params {
    ($(#[$doc:meta] $name:ident { $($f:ident : $t:ty),* $(,)? })*) => {$(
        #[$doc]
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq)]
        pub struct $name { $(pub $f: $t),* }
        unsafe impl KernelParams for $name {}
    )*};
}

params! {
    /// Elementwise unary/binary ops, `fill_scaled`, `reduce_sum`.
    EwParams { n: u64, op: i32, s: f32 }
    /// `act_forward` / `act_backward`.
    ActParams { n: u64, kind: i32, pad_: i32 }
    /// `dropout_apply`: the counter-hash mask of `cpu::dropout::Mask`.
    DropoutParams { n: u64, inner: u64, k0: u32, k1: u32, threshold: u32, scale: f32 }
    /// `elu_dropout_slab_forward` / `_backward`: one part of a concatenated output.
    SlabParams { outer: u64, inner: u64, c: u32, c_total: u32, offset: u32, k0: u32, k1: u32, threshold: u32, scale: f32, pad_: u32 }
    /// `maxpool_forward` / `maxpool_backward`.
    PoolParams { n: u32, c: u32, h: u32, w: u32, k: u32, s: u32, p: u32, ho: u32, wo: u32, pad_: u32 }
    /// `copy_channels`.
    CopyChannelsParams { outer: u64, inner: u64, src_c: u32, dst_c: u32, src_start: u32, dst_start: u32, len: u32, pad_: u32 }
    /// `mask_columns`, `transpose`, `add_bias_rows`.
    MatrixParams { rows: u32, cols: u32, keep: u32, pad_: u32 }
    /// `sum_axis1`.
    AxisSumParams { outer: u64, inner: u64, c: u32, beta: f32 }
    /// The softmax family and cross-entropy.
    SoftmaxParams { rows: u32, k: u32, scale: f32, pad_: u32 }
    /// `sgemm`.
    GemmParams { m: u32, n: u32, k: u32, lda: u32, ldb: u32, ldc: u32, trans_a: i32, trans_b: i32, alpha: f32, beta: f32 }
    /// The conv2d kernels.
    ConvParams { n: u32, c: u32, h: u32, w: u32, o: u32, kh: u32, kw: u32, stride: u32, pad: u32, replicate: u32, ho: u32, wo: u32, splits: u32, pad_: u32 }
    /// `sum_splits`.
    SplitsParams { len: u64, splits: u32, pad_: u32 }
    /// One parameter tensor of an optimiser launch (device addresses; g = 0: skipped).
    ParamSlot { p: u64, g: u64, m: u64, v: u64, n: u64 }
    /// `adamw_step`.
    AdamWParams { tensors: u32, beta1: f32, beta2: f32, eps: f32, decay: f32, step_size: f32, inv_bc2_sqrt: f32, pad_: u32 }
    /// `sgd_step`.
    SgdParams { tensors: u32, lr: f32, momentum: f32, weight_decay: f32 }
    /// `knn_topk`, `gaussian_sums`.
    KnnParams { nq: u32, nr: u32, d: u32, need: u32, scale: f32, pad_: u32 }
    /// `kde_grid`.
    KdeParams { jobs: u32, points: u32 }
    /// The CCLP kernels.
    CclpParams { n: u32, d: u32, classes: u32, steps: u32, partials: u32, pad_: u32, floor: f32, keep: f32, scale: f32, pad2_: u32 }
}

/// The pointwise activations with a backward rule from the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// max(x, 0).
    Relu,
    /// x for x > 0, α(eˣ − 1) otherwise.
    Elu,
    /// λx for x > 0, λα(eˣ − 1) otherwise.
    Selu,
}

impl Activation {
    /// The `kind` code of `act_forward` / `act_backward` (params.h).
    pub fn kernel_kind(self) -> i32 {
        match self {
            Activation::Relu => 0,
            Activation::Elu => 1,
            Activation::Selu => 2,
        }
    }

    /// Lower-case name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Elu => "elu",
            Activation::Selu => "selu",
        }
    }
}

/// `ew_unary` operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum UnaryOp {
    Copy = 0,
    Scale = 1,
    AddScalar = 2,
    Ln = 3,
    Fill = 4,
}

/// `ew_binary` operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum BinaryOp {
    Add = 0,
    Mul = 1,
    Div = 2,
    Axpy = 3,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    /// The sizes params.h implies (8-byte fields first, no hidden padding).
    #[test]
    fn structs_have_the_sizes_of_their_params_h_twins() {
        assert_eq!(size_of::<EwParams>(), 16);
        assert_eq!(size_of::<ActParams>(), 16);
        assert_eq!(size_of::<DropoutParams>(), 32);
        assert_eq!(size_of::<SlabParams>(), 48);
        assert_eq!(size_of::<PoolParams>(), 40);
        assert_eq!(size_of::<CopyChannelsParams>(), 40);
        assert_eq!(size_of::<MatrixParams>(), 16);
        assert_eq!(size_of::<AxisSumParams>(), 24);
        assert_eq!(size_of::<SoftmaxParams>(), 16);
        assert_eq!(size_of::<GemmParams>(), 40);
        assert_eq!(size_of::<ConvParams>(), 56);
        assert_eq!(size_of::<SplitsParams>(), 16);
        assert_eq!(size_of::<ParamSlot>(), 40);
        assert_eq!(size_of::<AdamWParams>(), 32);
        assert_eq!(size_of::<SgdParams>(), 16);
    }
}
