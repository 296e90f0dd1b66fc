//! Branch-free f32 `exp` and `expm1` that LLVM vectorises (x86-64-v3: 8 lanes), used by
//! the activation and softmax kernels. Accurate to a few ulp (tested against f64 over
//! the whole range); inputs are clamped to [-87, 88] so the result never overflows.

const LOG2E: f32 = std::f32::consts::LOG2_E;
// ln 2 split so that n·LN2_HI is exact for |n| < 2^9 (Cody–Waite reduction).
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
// 1.5·2^23: adding it rounds to the nearest integer in the low mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// Splits x = n·ln2 + r with |r| ≤ ln2/2; returns (2^n, r).
#[inline(always)]
fn reduce(x: f32) -> (f32, f32) {
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + ROUND_MAGIC;
    let n = t - ROUND_MAGIC;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    // The low mantissa bits of t hold n (two's complement), so n + 127 shifted into the
    // exponent field is 2^n for n in [-126, 127].
    let bits = (t.to_bits() as i32).wrapping_sub(ROUND_MAGIC.to_bits() as i32);
    let two_n = f32::from_bits((bits.wrapping_add(127) << 23) as u32);
    (two_n, r)
}

/// expm1(r) − r for |r| ≤ ln2/2 as r²·P(r): Taylor to degree 8 (truncation < 2e-9·|r|).
#[inline(always)]
fn expm1_small(r: f32) -> f32 {
    let p = 1.0 / 40320.0;
    let p = p * r + 1.0 / 5040.0;
    let p = p * r + 1.0 / 720.0;
    let p = p * r + 1.0 / 120.0;
    let p = p * r + 1.0 / 24.0;
    let p = p * r + 1.0 / 6.0;
    let p = p * r + 0.5;
    r + r * r * p
}

/// e^x.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let (two_n, r) = reduce(x);
    two_n + two_n * expm1_small(r)
}

/// e^x − 1, accurate relative to the result also near 0 (where exp(x) − 1 cancels).
#[inline(always)]
pub fn expm1(x: f32) -> f32 {
    let (two_n, r) = reduce(x);
    // 2^n − 1 is exact in f32 for the n reached here, so no cancellation near x = 0.
    two_n * expm1_small(r) + (two_n - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep() -> impl Iterator<Item = f32> {
        (0..200_001).map(|i| -87.0 + 175.0 * i as f32 / 200_000.0)
    }

    #[test]
    fn exp_is_within_three_ulp_of_f64_exp() {
        for x in sweep().chain([0.0, -0.0, 1e-30, -1e-7, 88.0, -87.0]) {
            let want = (x as f64).exp();
            let got = exp(x) as f64;
            assert!(
                (got - want).abs() <= 3.0 * f32::EPSILON as f64 * want,
                "exp({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn expm1_is_accurate_relative_to_the_result_near_zero() {
        let tiny = (1..2000).flat_map(|i| {
            let x = i as f32 * 1e-6;
            [x, -x, x * 1e-20, -x * 1e-20]
        });
        for x in sweep().chain(tiny) {
            let want = (x as f64).exp_m1();
            let got = expm1(x) as f64;
            assert!(
                (got - want).abs() <= 3.0 * f32::EPSILON as f64 * want.abs() + 1e-45,
                "expm1({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn exp_saturates_instead_of_overflowing() {
        assert!(exp(1000.0).is_finite());
        assert_eq!(exp(-1000.0), exp(-87.0));
        assert_eq!(expm1(-1000.0), -1.0);
    }
}
