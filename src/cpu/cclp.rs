//! The CCLP loss (compact clustering via label propagation, Kamnitsas et al. 2018, as
//! restated in SCIENCE.md) in one fused pass from the latents Z to the loss and dL/dZ.
//!
//! Maths (N rows, D dims, C classes, ε = 1e-5, δ = 1e-5, S steps):
//!   A = Z Zᵀ;  T = ε/N + (1−ε)·softmax_rows(A)
//!   Φ = [Y_L; Φ_U],  Φ_U = (I − T_UU)⁻¹ T_UL Y_L          (rows need not be reordered)
//!   W = Φ ⊘ (colsum Φ + δ);  Q = Φ Wᵀ;  M = Φ Φᵀ;  T′ = T ⊙ M
//!   P_0 = T, P_s = T′ P_{s−1};  L = −1/(S N²) Σ_s Σ_ij Q_ij ln (P_s)_ij
//! The backward is hand-derived and walks the same chain in reverse, through Q, M and Φ_U
//! (not detached). Everything is f64: N is a batch (~120), so the N×N work is small
//! and the extra precision keeps the log and the solve well-behaved.

use anyhow::{bail, Result};
use nalgebra::DMatrix;

/// Floor added to the transition matrix.
pub const EPSILON: f64 = 1e-5;
/// Guard added to class column sums.
pub const DELTA: f64 = 1e-5;

/// Loss and gradient of one CCLP evaluation.
pub struct CclpResult {
    /// The loss.
    pub loss: f64,
    /// dL/dZ, N×D row-major.
    pub grad: Vec<f64>,
}

fn row_softmax(a: &DMatrix<f64>) -> DMatrix<f64> {
    let mut s = a.clone();
    for mut row in s.row_iter_mut() {
        let m = row.max();
        row.apply(|v| *v = (*v - m).exp());
        let sum = row.sum();
        row /= sum;
    }
    s
}

fn check(z: &[f64], n: usize, d: usize, labels: &[Option<usize>], classes: usize) -> Result<()> {
    if z.len() != n * d || labels.len() != n {
        bail!(
            "cclp: Z has {} values for {n}×{d} and {} labels for {n} rows",
            z.len(),
            labels.len()
        );
    }
    if let Some((i, l)) = labels
        .iter()
        .enumerate()
        .find_map(|(i, l)| l.filter(|&l| l >= classes).map(|l| (i, l)))
    {
        bail!("cclp: row {i} has class {l}, but there are only {classes} classes");
    }
    if labels.iter().all(|l| l.is_none()) {
        bail!("cclp: no labelled row in the batch");
    }
    Ok(())
}

/// Loss and dL/dZ for latents `z` (N×D, row-major) with class labels (None = unlabelled).
pub fn cclp(
    z: &[f64],
    n: usize,
    d: usize,
    labels: &[Option<usize>],
    classes: usize,
    steps: usize,
) -> Result<CclpResult> {
    check(z, n, d, labels, classes)?;
    let nf = n as f64;
    let zm = DMatrix::from_row_slice(n, d, z);
    let sm = row_softmax(&(&zm * zm.transpose()));
    let t = sm.map(|v| EPSILON / nf + (1.0 - EPSILON) * v);

    let lab: Vec<usize> = (0..n).filter(|&i| labels[i].is_some()).collect();
    let unl: Vec<usize> = (0..n).filter(|&i| labels[i].is_none()).collect();
    let y_l = DMatrix::from_fn(lab.len(), classes, |r, c| {
        f64::from(labels[lab[r]] == Some(c))
    });
    let mut phi = DMatrix::zeros(n, classes);
    for (r, &i) in lab.iter().enumerate() {
        phi.set_row(i, &y_l.row(r));
    }
    // Label propagation to the unlabelled rows.
    let mut solver = None;
    if !unl.is_empty() {
        let t_uu = DMatrix::from_fn(unl.len(), unl.len(), |a, b| t[(unl[a], unl[b])]);
        let t_ul = DMatrix::from_fn(unl.len(), lab.len(), |a, b| t[(unl[a], lab[b])]);
        let b = DMatrix::identity(unl.len(), unl.len()) - t_uu;
        let lu = b.clone().lu();
        let Some(phi_u) = lu.solve(&(&t_ul * &y_l)) else {
            bail!("cclp: label propagation matrix I − T_UU is singular");
        };
        for (r, &i) in unl.iter().enumerate() {
            phi.set_row(i, &phi_u.row(r));
        }
        solver = Some((b, phi_u));
    }
    let colsum: Vec<f64> = (0..classes).map(|c| phi.column(c).sum() + DELTA).collect();
    let w = DMatrix::from_fn(n, classes, |j, c| phi[(j, c)] / colsum[c]);
    let q = &phi * w.transpose();
    let m = &phi * phi.transpose();
    let tp = t.component_mul(&m);

    let mut powers = vec![t.clone()];
    for s in 1..steps {
        let next = &tp * &powers[s - 1];
        powers.push(next);
    }
    let scale = -1.0 / (steps as f64 * nf * nf);
    let logs: Vec<DMatrix<f64>> = powers.iter().map(|p| p.map(f64::ln)).collect();
    let loss = scale * logs.iter().map(|l| q.component_mul(l).sum()).sum::<f64>();

    // Backward, in reverse order of the forward.
    let g: Vec<DMatrix<f64>> = powers.iter().map(|p| q.component_div(p) * scale).collect();
    let mut d_q = DMatrix::zeros(n, n);
    for l in &logs {
        d_q += l * scale;
    }
    let mut d_p = g[steps - 1].clone();
    let mut d_tp = DMatrix::zeros(n, n);
    for s in (1..steps).rev() {
        d_tp += &d_p * powers[s - 1].transpose();
        d_p = &g[s - 1] + tp.transpose() * &d_p;
    }
    let mut d_t = d_p + d_tp.component_mul(&m);
    let d_m = d_tp.component_mul(&t);
    if let Some((b, phi_u)) = &solver {
        let mut d_phi = (&d_m + d_m.transpose()) * &phi + &d_q * &w;
        let d_w = d_q.transpose() * &phi;
        for c in 0..classes {
            let dsum: f64 =
                -(0..n).map(|j| d_w[(j, c)] * phi[(j, c)]).sum::<f64>() / (colsum[c] * colsum[c]);
            for j in 0..n {
                d_phi[(j, c)] += d_w[(j, c)] / colsum[c] + dsum;
            }
        }
        let d_x = DMatrix::from_fn(unl.len(), classes, |r, c| d_phi[(unl[r], c)]);
        let Some(d_r) = b.transpose().lu().solve(&d_x) else {
            bail!("cclp: label propagation matrix I − T_UU is singular");
        };
        let d_t_uu = &d_r * phi_u.transpose();
        let d_t_ul = &d_r * y_l.transpose();
        for (a, &i) in unl.iter().enumerate() {
            for (bb, &j) in unl.iter().enumerate() {
                d_t[(i, j)] += d_t_uu[(a, bb)];
            }
            for (bb, &j) in lab.iter().enumerate() {
                d_t[(i, j)] += d_t_ul[(a, bb)];
            }
        }
    }
    let d_soft = d_t * (1.0 - EPSILON);
    let mut d_a = d_soft.component_mul(&sm);
    for i in 0..n {
        let dot: f64 = (0..n).map(|k| d_soft[(i, k)] * sm[(i, k)]).sum();
        for j in 0..n {
            d_a[(i, j)] -= sm[(i, j)] * dot;
        }
    }
    let d_z = (&d_a + d_a.transpose()) * &zm;
    let mut grad = vec![0.0; n * d];
    for i in 0..n {
        for k in 0..d {
            grad[i * d + k] = d_z[(i, k)];
        }
    }
    Ok(CclpResult { loss, grad })
}

/// Naive scalar reference of the CCLP forward (explicit loops, Gauss–Jordan inverse),
/// used by the tests only.
pub fn cclp_reference(
    z: &[f64],
    n: usize,
    d: usize,
    labels: &[Option<usize>],
    classes: usize,
    steps: usize,
) -> f64 {
    let nf = n as f64;
    let mut t = vec![vec![0.0; n]; n];
    for i in 0..n {
        let a: Vec<f64> = (0..n)
            .map(|j| (0..d).map(|k| z[i * d + k] * z[j * d + k]).sum())
            .collect();
        let mx = a.iter().cloned().fold(f64::MIN, f64::max);
        let den: f64 = a.iter().map(|v| (v - mx).exp()).sum();
        for j in 0..n {
            t[i][j] = EPSILON / nf + (1.0 - EPSILON) * (a[j] - mx).exp() / den;
        }
    }
    let mut phi = vec![vec![0.0; classes]; n];
    for i in 0..n {
        if let Some(c) = labels[i] {
            phi[i][c] = 1.0;
        }
    }
    let unl: Vec<usize> = (0..n).filter(|&i| labels[i].is_none()).collect();
    if !unl.is_empty() {
        // (I − T_UU) Φ_U = T_UL Y_L by Gauss–Jordan elimination with partial pivoting
        // (a fixed-point iteration stalls when an unlabelled row's self-transition is
        // close to 1: an isolated latent).
        let u = unl.len();
        let mut aug: Vec<Vec<f64>> = unl
            .iter()
            .enumerate()
            .map(|(r, &i)| {
                let mut row: Vec<f64> = unl
                    .iter()
                    .enumerate()
                    .map(|(c, &j)| f64::from(r == c) - t[i][j])
                    .collect();
                row.extend((0..classes).map(|c| {
                    (0..n)
                        .filter(|&j| labels[j].is_some())
                        .map(|j| t[i][j] * phi[j][c])
                        .sum::<f64>()
                }));
                row
            })
            .collect();
        for col in 0..u {
            let piv = (col..u)
                .max_by(|&x, &y| aug[x][col].abs().total_cmp(&aug[y][col].abs()))
                .expect("rows remain");
            aug.swap(col, piv);
            let p = aug[col][col];
            for v in aug[col].iter_mut() {
                *v /= p;
            }
            for r in 0..u {
                if r != col {
                    let f = aug[r][col];
                    let pivot_row = aug[col].clone();
                    for (v, pv) in aug[r].iter_mut().zip(&pivot_row) {
                        *v -= f * pv;
                    }
                }
            }
        }
        for (r, &i) in unl.iter().enumerate() {
            phi[i] = aug[r][u..].to_vec();
        }
    }
    let colsum: Vec<f64> = (0..classes)
        .map(|c| (0..n).map(|j| phi[j][c]).sum::<f64>() + DELTA)
        .collect();
    let dot = |i: usize, j: usize, w: bool| -> f64 {
        (0..classes)
            .map(|c| phi[i][c] * phi[j][c] / if w { colsum[c] } else { 1.0 })
            .sum()
    };
    let mut p = t.clone();
    let mut total = 0.0;
    for s in 0..steps {
        if s > 0 {
            let mut next = vec![vec![0.0; n]; n];
            for i in 0..n {
                for j in 0..n {
                    next[i][j] = (0..n).map(|k| t[i][k] * dot(i, k, false) * p[k][j]).sum();
                }
            }
            p = next;
        }
        for (i, row) in p.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                total += dot(i, j, true) * v.ln();
            }
        }
    }
    -total / (steps as f64 * nf * nf)
}
