//! The dropout mask: a counter-based hash of (seed, index), so every device that
//! implements the same hash (the CPU loops, `kernels/dropout.cu`) drops the same
//! elements at any thread count, and backward recomputes the mask instead of storing it.

/// The keep/drop decision of every index for one seed and drop probability.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mask {
    k0: u32,
    k1: u32,
    /// Index i is dropped iff hash(i) < threshold (threshold ≈ p·2³²).
    threshold: u32,
    /// Survivors are multiplied by 1/(1 − p) (0 when p = 1: everything is dropped).
    pub scale: f32,
}

/// A 32-bit integer finaliser (xorshift-multiply rounds) with full avalanche; uses only
/// 32-bit lanes so the loops below vectorise with AVX2.
#[inline(always)]
pub fn mix32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

/// splitmix64's finaliser (the seed module's; the kernels' `mix64` twin).
pub use crate::seed::mix64;

impl Mask {
    /// The mask for `seed` and drop probability `p` (the caller checks 0 ≤ p ≤ 1).
    pub fn new(seed: u64, p: f32) -> Mask {
        let key = mix64(seed);
        let threshold = (p as f64 * 4_294_967_296.0).round().min(u32::MAX as f64) as u32;
        Mask {
            k0: key as u32,
            k1: (key >> 32) as u32,
            threshold,
            scale: if p < 1.0 { 1.0 / (1.0 - p) } else { 0.0 },
        }
    }

    /// (k0, k1, threshold, scale): what a device kernel needs to draw the same mask.
    pub fn parts(&self) -> (u32, u32, u32, f32) {
        (self.k0, self.k1, self.threshold, self.scale)
    }

    #[inline(always)]
    fn hash(&self, lo: u32, hi: u32) -> u32 {
        mix32(mix32(lo ^ self.k0) ^ hi ^ self.k1)
    }

    /// Whether index `i` survives.
    pub fn keeps(&self, i: u64) -> bool {
        self.hash(i as u32, (i >> 32) as u32) >= self.threshold
    }

    /// The factor index `i` is multiplied by: `scale` or 0.
    pub fn factor(&self, i: u64) -> f32 {
        if self.keeps(i) {
            self.scale
        } else {
            0.0
        }
    }
}
