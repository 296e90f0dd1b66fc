//! Host-side products for statistics kept off the tape (nearest-neighbour distances): the
//! one door through which `dcc` reaches the CPU GEMM, so layers above `ops` never call a
//! kernel themselves (ARCHITECTURE.md).

use crate::cpu::gemm::{sgemm, Operand, Par};

/// `out[i·ldo + j] = Σ_p q[i·d + p] · r[j·d + p]` for `i < rows`, `j < cols` (Q·Rᵀ of
/// row-major blocks), on the calling thread: callers parallelise over blocks.
pub fn gram_block(
    q: &[f32],
    r: &[f32],
    rows: usize,
    cols: usize,
    d: usize,
    out: &mut [f32],
    ldo: usize,
) {
    sgemm(
        rows,
        cols,
        d,
        Operand::new(q, d),
        Operand::t(r, d),
        out,
        ldo,
        false,
        Par::Seq,
    );
}
