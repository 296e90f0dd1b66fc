//! CCLP in f32 without any N×N matrix, for batches whose rows are all labelled (the
//! paper's training: every set is a class, so U is empty and Φ = Y).
//!
//! With one-hot Φ, Q and M vanish outside the same-class blocks and T′ = T ⊙ M is
//! block-diagonal, so every entry the loss weighs lies in a diagonal block and equals
//! (T_cc)^{s+1} there. The loss therefore needs the row-softmax normalisers (one O(N²D)
//! pass that keeps two numbers per row) and the class blocks (Σ n_c³ work instead of N³).
//! In the backward, the softmax's off-block part is −P_ij r_i; its product with Z is a
//! second O(N²D) pass, and because A = Z Zᵀ is symmetric, P_ji = exp(a_ij − m_j)/l_j can
//! be recomputed from row i's own dot products: each row's gradient is then a fixed
//! sequence of operations, whatever the thread count (bit-identical on 1 or 64 threads).
//!
//! The f64 host version (cpu/cclp.rs) stays the reference and serves batches with
//! unlabelled rows.

use super::cclp::{DELTA, EPSILON};
use super::fastmath;
use super::gemm::{sgemm, Operand, Par};
use anyhow::{bail, Result};
use rayon::prelude::*;

/// Rows per parallel task in the two O(N²D) passes, at least.
const ROWS: usize = 32;
/// Row pairs per parallel task, at least: below this a task costs less than its hand-off.
const PAIRS_PER_TASK: usize = 1 << 16;
/// Batches below this size run their class blocks one after another.
const PAR_CLASSES: usize = 512;

fn rows_per_task(n: usize) -> usize {
    ROWS.max(PAIRS_PER_TASK / n.max(1))
}
/// Class blocks from this size up run their products on the whole pool.
const BIG_BLOCK: usize = 384;

/// Loss and gradient of one fused evaluation.
pub struct Fused {
    /// The loss (f32 terms summed in f64).
    pub loss: f64,
    /// dL/dZ, N×D row-major.
    pub grad: Vec<f32>,
}

/// Z transposed (D×N) so that one row's dot products with all rows vectorise over j.
fn transpose(z: &[f32], n: usize, d: usize) -> Vec<f32> {
    let mut t = vec![0.0; n * d];
    for i in 0..n {
        for k in 0..d {
            t[k * n + i] = z[i * d + k];
        }
    }
    t
}

/// out[j] = z_i · z_j, summed over k in order (so a_ij and a_ji are the same bits).
fn row_dots(zt: &[f32], n: usize, zi: &[f32], out: &mut [f32]) {
    for (k, &v) in zi.iter().enumerate() {
        let col = &zt[k * n..(k + 1) * n];
        if k == 0 {
            out.iter_mut().zip(col).for_each(|(o, &c)| *o = v * c);
        } else {
            out.iter_mut().zip(col).for_each(|(o, &c)| *o += v * c);
        }
    }
}

fn max8(x: &[f32]) -> f32 {
    let mut m = [f32::NEG_INFINITY; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..8 {
            m[l] = if c[l] > m[l] { c[l] } else { m[l] };
        }
    }
    rest.iter()
        .chain(m.iter())
        .fold(f32::NEG_INFINITY, |a, &b| if b > a { b } else { a })
}

fn sum_exp8(x: &[f32], m: f32) -> f32 {
    let mut s = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..8 {
            s[l] += fastmath::exp(c[l] - m);
        }
    }
    let mut total = s.iter().sum::<f32>();
    for &v in rest {
        total += fastmath::exp(v - m);
    }
    total
}

/// Per-row softmax maximum and normaliser of A = Z Zᵀ.
fn row_stats(z: &[f32], zt: &[f32], n: usize, d: usize) -> (Vec<f32>, Vec<f32>) {
    let mut max = vec![0.0f32; n];
    let mut sum = vec![0.0f32; n];
    let rows = rows_per_task(n);
    max.par_chunks_mut(rows)
        .zip(sum.par_chunks_mut(rows))
        .enumerate()
        .for_each(|(b, (mx, sm))| {
            let mut buf = vec![0.0f32; n];
            for (r, (m, s)) in mx.iter_mut().zip(sm.iter_mut()).enumerate() {
                let i = b * rows + r;
                row_dots(zt, n, &z[i * d..(i + 1) * d], &mut buf);
                *m = max8(&buf);
                *s = sum_exp8(&buf, *m);
            }
        });
    (max, sum)
}

/// One class block's share: its loss term, r for its rows, and the in-block part of dZ.
struct BlockOut {
    loss: f64,
    r: Vec<f32>,
    dz: Vec<f32>,
}

#[allow(clippy::too_many_arguments)]
fn class_block(
    z: &[f32],
    d: usize,
    n: usize,
    rows: &[usize],
    max: &[f32],
    sum: &[f32],
    steps: usize,
    scale: f32,
) -> BlockOut {
    let nc = rows.len();
    let par = if nc >= BIG_BLOCK { Par::All } else { Par::Seq };
    let zc: Vec<f32> = rows
        .iter()
        .flat_map(|&i| z[i * d..(i + 1) * d].iter().copied())
        .collect();
    // The softmax block S and the transition block B = ε/N + (1 − ε) S.
    let mut soft = vec![0.0f32; nc * nc];
    for (a, &i) in rows.iter().enumerate() {
        let zi = &zc[a * d..(a + 1) * d];
        let inv = 1.0 / sum[i];
        for b in 0..nc {
            let zj = &zc[b * d..(b + 1) * d];
            let mut dot = zi[0] * zj[0];
            for k in 1..d {
                dot += zi[k] * zj[k];
            }
            soft[a * nc + b] = fastmath::exp(dot - max[i]) * inv;
        }
    }
    let floor = (EPSILON / n as f64) as f32;
    let keep = (1.0 - EPSILON) as f32;
    let b_mat: Vec<f32> = soft.iter().map(|&s| floor + keep * s).collect();
    let mut powers = vec![b_mat.clone()];
    for s in 1..steps {
        let mut next = vec![0.0f32; nc * nc];
        sgemm(
            nc,
            nc,
            nc,
            Operand::new(&b_mat, nc),
            Operand::new(&powers[s - 1], nc),
            &mut next,
            nc,
            false,
            par,
        );
        powers.push(next);
    }
    let w = (1.0 / (nc as f64 + DELTA)) as f32;
    let mut loss = 0.0f64;
    let mut g: Vec<Vec<f32>> = Vec::with_capacity(steps);
    for p in &powers {
        let mut part = 0.0f64;
        for row in p.chunks(nc) {
            part += row.iter().map(|v| v.ln()).sum::<f32>() as f64;
        }
        loss += w as f64 * part;
        g.push(p.iter().map(|&v| scale * w / v).collect());
    }
    // Reverse of P_s = B P_{s−1}: dB collects dP_s P_{s−1}ᵀ, dP_{s−1} gains Bᵀ dP_s.
    let mut d_p = g.pop().expect("steps ≥ 1");
    let mut d_b = vec![0.0f32; nc * nc];
    for s in (1..steps).rev() {
        sgemm(
            nc,
            nc,
            nc,
            Operand::new(&d_p, nc),
            Operand::t(&powers[s - 1], nc),
            &mut d_b,
            nc,
            true,
            par,
        );
        let mut prev = g.pop().expect("one gradient per step");
        sgemm(
            nc,
            nc,
            nc,
            Operand::t(&b_mat, nc),
            Operand::new(&d_p, nc),
            &mut prev,
            nc,
            true,
            par,
        );
        d_p = prev;
    }
    // E = S ⊙ dS with dS = (1 − ε) dB; r_a = Σ_b E_ab; in-block dZ = (E + Eᵀ) Z_c.
    let mut e = d_b;
    for ((ev, &dp), &s) in e.iter_mut().zip(&d_p).zip(&soft) {
        *ev = s * keep * (*ev + dp);
    }
    let r: Vec<f32> = e.chunks(nc).map(|row| row.iter().sum()).collect();
    let mut sym = vec![0.0f32; nc * nc];
    for a in 0..nc {
        for b in 0..nc {
            sym[a * nc + b] = e[a * nc + b] + e[b * nc + a];
        }
    }
    let mut dz = vec![0.0f32; nc * d];
    sgemm(
        nc,
        d,
        nc,
        Operand::new(&sym, nc),
        Operand::new(&zc, d),
        &mut dz,
        d,
        false,
        par,
    );
    BlockOut { loss, r, dz }
}

/// Loss and dL/dZ of CCLP for latents `z` (N×D, row-major) whose rows all carry a class.
pub fn cclp_labelled(
    z: &[f32],
    n: usize,
    d: usize,
    labels: &[usize],
    classes: usize,
    steps: usize,
) -> Result<Fused> {
    if n == 0 || d == 0 || z.len() != n * d || labels.len() != n {
        bail!(
            "cclp: Z has {} values for {n}×{d} and {} labels for {n} rows",
            z.len(),
            labels.len()
        );
    }
    if let Some((i, l)) = labels.iter().enumerate().find(|(_, &l)| l >= classes) {
        bail!("cclp: row {i} has class {l}, but there are only {classes} classes");
    }
    if steps == 0 {
        bail!("cclp: steps must be at least 1");
    }
    let zt = transpose(z, n, d);
    let (max, sum) = row_stats(z, &zt, n, d);
    let members: Vec<Vec<usize>> = (0..classes)
        .map(|c| (0..n).filter(|&i| labels[i] == c).collect())
        .filter(|m: &Vec<usize>| !m.is_empty())
        .collect();
    let scale = (-1.0 / (steps as f64 * n as f64 * n as f64)) as f32;
    let blocks: Vec<BlockOut> = members
        .par_iter()
        .with_min_len(if n < PAR_CLASSES { usize::MAX } else { 1 })
        .map(|rows| class_block(z, d, n, rows, &max, &sum, steps, scale))
        .collect();

    let mut r = vec![0.0f32; n];
    let mut grad = vec![0.0f32; n * d];
    let mut loss = 0.0f64;
    for (rows, b) in members.iter().zip(&blocks) {
        loss += b.loss;
        for (a, &i) in rows.iter().enumerate() {
            r[i] = b.r[a];
            grad[i * d..(i + 1) * d].copy_from_slice(&b.dz[a * d..(a + 1) * d]);
        }
    }
    loss *= scale as f64;

    // Off-block softmax gradient: dZ_i −= r_i Σ_j P_ij z_j + Σ_j P_ji r_j z_j.
    let rho: Vec<f32> = r.iter().zip(&sum).map(|(&r, &l)| r / l).collect();
    let rows = rows_per_task(n);
    grad.par_chunks_mut(rows * d)
        .enumerate()
        .for_each(|(b, out)| {
            let mut buf = vec![0.0f32; n];
            for (rr, gi) in out.chunks_mut(d).enumerate() {
                let i = b * rows + rr;
                row_dots(&zt, n, &z[i * d..(i + 1) * d], &mut buf);
                let (mi, ci) = (max[i], r[i] / sum[i]);
                for ((v, &rj), &mj) in buf.iter_mut().zip(&rho).zip(&max) {
                    *v = ci * fastmath::exp(*v - mi) + rj * fastmath::exp(*v - mj);
                }
                for (k, g) in gi.iter_mut().enumerate() {
                    let col = &zt[k * n..(k + 1) * n];
                    let mut acc = [0.0f32; 8];
                    let chunks = buf.chunks_exact(8).zip(col.chunks_exact(8));
                    for (c, zc) in chunks {
                        for l in 0..8 {
                            acc[l] += c[l] * zc[l];
                        }
                    }
                    let tail = n - n % 8;
                    let mut total = acc.iter().sum::<f32>();
                    for j in tail..n {
                        total += buf[j] * col[j];
                    }
                    *g -= total;
                }
            }
        });
    Ok(Fused { loss, grad })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::cclp::cclp;
    use crate::testing::seed_values;
    use proptest::prelude::*;

    fn compare(z: &[f32], n: usize, d: usize, labels: &[usize], classes: usize, steps: usize) {
        let fused = cclp_labelled(z, n, d, labels, classes, steps).unwrap();
        let zf: Vec<f64> = z.iter().map(|&v| v as f64).collect();
        let lab: Vec<Option<usize>> = labels.iter().map(|&l| Some(l)).collect();
        let exact = cclp(&zf, n, d, &lab, classes, steps).unwrap();
        // Relative 2e-5, with a floor of one f32 ulp of 1 (1.2e-7): a loss near zero is a
        // mean of −log p over probabilities within a few ulp of 1, whose f32 logs carry that
        // absolute error (seen: 2.808e-6 vs 2.801e-6 at N = 2).
        let err = (fused.loss - exact.loss).abs();
        assert!(
            err < 2e-5 * exact.loss.abs() + 1.2e-7,
            "loss {} vs {} (|diff| {err:e})",
            fused.loss,
            exact.loss
        );
        let gmax = exact.grad.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        // Nearly separated classes (loss ~1e-6) leave gradients of 1 − p terms, which f32
        // holds to an ulp of the latents' scale: a floor of 2 ulp of max |z| (seen: 1.3e-7
        // off at max |z| 2.5, N = 2).
        let zmax = z.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
        for (i, (&a, &b)) in fused.grad.iter().zip(&exact.grad).enumerate() {
            assert!(
                (a as f64 - b).abs() <= 1e-4 * gmax + 2.4e-7 * zmax + 1e-12,
                "dZ[{i}] {a} vs {b} (max |dZ| {gmax:e})"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn fused_matches_the_f64_host_cclp(
            n in 1usize..40,
            d in 1usize..9,
            classes in 1usize..6,
            steps in 1usize..5,
            seed in 0u64..1000,
            spread in 0.1f32..3.0,
        ) {
            let z: Vec<f32> = seed_values(n * d, seed).iter().map(|v| v * spread).collect();
            let labels: Vec<usize> = (0..n).map(|i| (i * 7 + seed as usize) % classes).collect();
            compare(&z, n, d, &labels, classes, steps);
        }
    }

    #[test]
    fn fused_matches_at_a_training_batch_and_beyond() {
        for (n, classes, seed) in [(120, 4, 1), (333, 7, 2), (400, 1, 3)] {
            let z: Vec<f32> = seed_values(n * 7, seed).iter().map(|v| v * 1.5).collect();
            let labels: Vec<usize> = (0..n).map(|i| (i * 5 + i / 3) % classes).collect();
            compare(&z, n, 7, &labels, classes, 3);
        }
    }

    #[test]
    fn the_gradient_does_not_depend_on_the_thread_count() {
        let n = 700;
        let z = seed_values(n * 7, 4);
        let labels: Vec<usize> = (0..n)
            .map(|i| if i < 450 { 0 } else { 1 + i % 3 })
            .collect();
        let run = |threads| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| cclp_labelled(&z, n, 7, &labels, 4, 3).unwrap())
        };
        let (a, b) = (run(1), run(3));
        assert_eq!(a.loss.to_bits(), b.loss.to_bits());
        assert!(a
            .grad
            .iter()
            .zip(&b.grad)
            .all(|(x, y)| x.to_bits() == y.to_bits()));
    }

    #[test]
    fn bad_labels_are_refused() {
        let e = cclp_labelled(&[0.0; 4], 2, 2, &[0, 3], 2, 3)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("row 1") && e.contains("class 3"), "{e}");
    }
}
