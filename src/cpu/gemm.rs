//! Single-precision matrix multiply on row-major slices, through the `gemm` crate (the
//! fastest pure-Rust sgemm; it picks AVX-512/AVX2 at run time). Every matmul in the
//! engine — linear layers and the GEMM cores of convolution — goes through here.

use gemm::Parallelism;

/// How many threads one GEMM call may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Par {
    /// The calling thread only (use inside an outer rayon loop).
    Seq,
    /// Every thread of the current rayon pool.
    All,
}

/// One operand: row-major storage, optionally read as its transpose.
#[derive(Clone, Copy)]
pub struct Operand<'a> {
    /// The elements.
    pub data: &'a [f32],
    /// Read the stored matrix transposed.
    pub trans: bool,
    /// Distance between stored rows (the stored row length for a dense matrix).
    pub ld: usize,
}

impl<'a> Operand<'a> {
    /// A dense row-major matrix (`cols` = stored row length), not transposed.
    pub fn new(data: &'a [f32], cols: usize) -> Self {
        Operand {
            data,
            trans: false,
            ld: cols,
        }
    }

    /// A dense row-major matrix read as its transpose (`cols` = stored row length).
    pub fn t(data: &'a [f32], cols: usize) -> Self {
        Operand {
            data,
            trans: true,
            ld: cols,
        }
    }

    fn strides(&self) -> (isize, isize) {
        if self.trans {
            (1, self.ld as isize)
        } else {
            (self.ld as isize, 1)
        }
    }

    fn check(&self, rows: usize, cols: usize, what: &str) {
        let (sr, sc) = if self.trans {
            (cols, rows)
        } else {
            (rows, cols)
        };
        if sr > 0 && sc > 0 {
            assert!(
                (sr - 1) * self.ld + sc <= self.data.len() && sc <= self.ld,
                "sgemm: {what} too small for {rows}×{cols} (ld {})",
                self.ld
            );
        }
    }
}

/// C (m×n, row stride `ldc`) = [C +] A (m×k) · B (k×n).
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    a: Operand,
    b: Operand,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    par: Par,
) {
    if m == 0 || n == 0 {
        return;
    }
    a.check(m, k, "A");
    b.check(k, n, "B");
    assert!(
        (m - 1) * ldc + n <= c.len() && n <= ldc,
        "sgemm: C too small"
    );
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                c[i * ldc..i * ldc + n].fill(0.0);
            }
        }
        return;
    }
    let (a_rs, a_cs) = a.strides();
    let (b_rs, b_cs) = b.strides();
    let parallelism = match par {
        Par::Seq => Parallelism::None,
        Par::All => Parallelism::Rayon(rayon::current_num_threads()),
    };
    // SAFETY: the checks above keep every index the kernel touches inside the slices;
    // C is exclusively borrowed and A, B are shared borrows that cannot alias it.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            ldc as isize,
            accumulate,
            a.data.as_ptr(),
            a_cs,
            a_rs,
            b.data.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Naive reference of `sgemm` in f64, for tests.
pub fn sgemm_reference(m: usize, n: usize, k: usize, a: Operand, b: Operand) -> Vec<f64> {
    let at = |i: usize, p: usize| {
        if a.trans {
            a.data[p * a.ld + i]
        } else {
            a.data[i * a.ld + p]
        }
    };
    let bt = |p: usize, j: usize| {
        if b.trans {
            b.data[j * b.ld + p]
        } else {
            b.data[p * b.ld + j]
        }
    };
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|p| at(i, p) as f64 * bt(p, j) as f64).sum();
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, seed_values, Tol};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn sgemm_matches_naive_reference(m in 1usize..40, n in 1usize..40, k in 0usize..40,
                                         ta: bool, tb: bool, acc: bool, all: bool) {
            let a = seed_values(m * k, 1);
            let b = seed_values(k * n, 2);
            let ao = if ta { Operand::t(&a, m) } else { Operand::new(&a, k) };
            let bo = if tb { Operand::t(&b, k) } else { Operand::new(&b, n) };
            let mut c = seed_values(m * n, 3);
            let mut want = sgemm_reference(m, n, k, ao, bo);
            if acc {
                want.iter_mut().zip(&c).for_each(|(w, c)| *w += *c as f64);
            }
            sgemm(m, n, k, ao, bo, &mut c, n, acc, if all { Par::All } else { Par::Seq });
            let r = assert_close("C", &c, &want, Tol::new(1e-5, 1e-5));
            prop_assert!(r.is_ok(), "{}", r.unwrap_err());
        }
    }
}
