//! Host optimiser updates: one fused in-place pass per parameter (rayon over fixed chunks
//! for large tensors; the update is elementwise, so results never depend on the thread
//! count). The CUDA kernels (`kernels/optim.cu`) repeat the same f32 arithmetic.

use super::arith::CHUNK;
use crate::kparams::AdamWParams;
use rayon::prelude::*;

/// Runs `f` over matching chunks of four equally long slices, in parallel when large.
fn for_chunks(
    p: &mut [f32],
    a: &mut [f32],
    b: &mut [f32],
    g: &[f32],
    f: impl Fn(&mut [f32], &mut [f32], &mut [f32], &[f32]) + Sync,
) {
    if p.len() <= CHUNK {
        return f(p, a, b, g);
    }
    p.par_chunks_mut(CHUNK)
        .zip(a.par_chunks_mut(CHUNK))
        .zip(b.par_chunks_mut(CHUNK))
        .zip(g.par_chunks(CHUNK))
        .for_each(|(((p, a), b), g)| f(p, a, b, g));
}

/// One parameter's AdamW update: moments, then p ← p·decay − step_size·m / (√v·c + eps).
pub fn adamw(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], k: &AdamWParams) {
    let (beta1, beta2, eps, decay, step_size, inv_bc2_sqrt) = (
        k.beta1,
        k.beta2,
        k.eps,
        k.decay,
        k.step_size,
        k.inv_bc2_sqrt,
    );
    for_chunks(p, m, v, g, |p, m, v, g| {
        for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
            *m = beta1 * *m + (1.0 - beta1) * g;
            *v = beta2 * *v + (1.0 - beta2) * g * g;
            let denom = v.sqrt() * inv_bc2_sqrt + eps;
            *p = *p * decay - step_size * *m / denom;
        }
    });
}

/// One parameter's SGD update. On the first step PyTorch initialises the buffer to d:
/// μ·0 + d gives the same.
pub fn sgd(p: &mut [f32], b: &mut [f32], g: &[f32], lr: f32, mu: f32, wd: f32) {
    let update = |p: &mut [f32], b: &mut [f32], g: &[f32]| {
        for ((p, b), &g) in p.iter_mut().zip(b.iter_mut()).zip(g) {
            *b = mu * *b + (g + wd * *p);
            *p -= lr * *b;
        }
    };
    if p.len() <= CHUNK {
        update(p, b, g);
    } else {
        p.par_chunks_mut(CHUNK)
            .zip(b.par_chunks_mut(CHUNK))
            .zip(g.par_chunks(CHUNK))
            .for_each(|((p, b), g)| update(p, b, g));
    }
}
