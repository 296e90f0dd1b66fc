//! The DCC loss: λ_class·CE + λ_cclp·CCLP + λ_dist·distance anchor (SCIENCE.md, "Loss"),
//! composed from primitives. Every class (a σ/m label or a set, `--classes`), known or
//! withheld, is a class of CE and CCLP; only known classes anchor latent dimension 0 to
//! their σ/m label, through the median element of their rows.

use crate::autograd::{Tape, Var};
use crate::nn::network::Outputs;
use crate::ops;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The three loss weights.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossWeights {
    /// λ_class.
    pub class: f32,
    /// λ_cclp.
    pub cclp: f32,
    /// λ_dist.
    pub dist: f32,
}

impl Default for LossWeights {
    fn default() -> Self {
        LossWeights {
            class: 1.0,
            cclp: 2.2,
            dist: 1.0,
        }
    }
}

/// How the cross-entropy term weighs a batch's rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CeBalance {
    /// Every row counts the same (the paper's): a class made of several sets (CDM and its
    /// feedback variants) outweighs the others in proportion.
    #[default]
    Rows,
    /// Every class present in the batch counts the same (the mean of per-class means), so
    /// a large class does not pull ambiguous images towards itself.
    Classes,
}

impl CeBalance {
    /// Parses `rows` or `classes`.
    pub fn parse(s: &str) -> anyhow::Result<CeBalance> {
        match s {
            "rows" => Ok(CeBalance::Rows),
            "classes" => Ok(CeBalance::Classes),
            _ => anyhow::bail!("--ce-balance '{s}': expected rows or classes"),
        }
    }
}

/// The loss terms of one batch (unweighted), for logging.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct LossTerms {
    /// Weighted total.
    pub total: f32,
    /// Cross-entropy.
    pub ce: f32,
    /// CCLP.
    pub cclp: f32,
    /// Distance anchor.
    pub dist: f32,
    /// Fraction of rows whose largest logit is their own class.
    pub accuracy: f32,
}

/// What the loss needs to know about a batch.
pub struct BatchLabels<'a> {
    /// Class index of every row.
    pub row_classes: &'a [usize],
    /// Number of classes (known and withheld).
    pub classes: usize,
    /// σ/m label of each class; None for withheld classes.
    pub targets: &'a [Option<f32>],
    /// How the cross-entropy weighs the rows.
    pub balance: CeBalance,
}

/// Records the DCC loss of one forward pass. `keep_latent` is the ordered bottleneck's
/// cut for this batch (Z is cut before the first zeroed column).
pub fn dcc_loss(
    tape: &mut Tape,
    out: &Outputs,
    keep_latent: Option<usize>,
    labels: &BatchLabels,
    w: &LossWeights,
) -> Result<(Var, LossTerms)> {
    let rows: Vec<Option<usize>> = labels.row_classes.iter().map(|&s| Some(s)).collect();
    let ce = class_term(tape, out.logits, &rows, labels.balance).context("DCC loss, class term")?;
    let [_, d] = tape.shape(out.latent).matrix("latent")?;
    let z = match keep_latent {
        Some(k) if k < d => ops::select::slice_columns(tape, out.latent, 0, k)?,
        _ => out.latent,
    };
    let cclp = ops::cclp::cclp_loss(tape, z, &rows, labels.classes, ops::cclp::STEPS)
        .context("DCC loss, CCLP term")?;
    let dist = ops::anchor::distance_anchor(tape, out.latent, labels.row_classes, labels.targets)
        .context("DCC loss, distance term")?;
    let a = ops::arith::scale(tape, ce, w.class)?;
    let b = ops::arith::scale(tape, cclp, w.cclp)?;
    let c = ops::arith::scale(tape, dist, w.dist)?;
    let ab = ops::arith::add(tape, a, b)?;
    let total = ops::arith::add(tape, ab, c)?;
    // Every logged number in one read (one device synchronisation on a GPU).
    let v = ops::read_back(tape, &[ce, cclp, dist, total, out.logits])?;
    Ok((
        total,
        LossTerms {
            ce: v[0][0],
            cclp: v[1][0],
            dist: v[2][0],
            total: v[3][0],
            accuracy: accuracy(&v[4], labels.row_classes),
        },
    ))
}

/// The cross-entropy term: the mean over rows, or the mean over the batch's classes of
/// each class's mean (one cross-entropy per class, rows of other classes unlabelled).
fn class_term(
    tape: &mut Tape,
    logits: Var,
    rows: &[Option<usize>],
    balance: CeBalance,
) -> Result<Var> {
    if balance == CeBalance::Rows {
        return ops::softmax::cross_entropy(tape, logits, rows);
    }
    let mut present: Vec<usize> = rows.iter().flatten().copied().collect();
    present.sort_unstable();
    present.dedup();
    let mut sum: Option<Var> = None;
    for &c in &present {
        let only: Vec<Option<usize>> = rows.iter().map(|r| r.filter(|&k| k == c)).collect();
        let ce = ops::softmax::cross_entropy(tape, logits, &only)?;
        sum = Some(match sum {
            Some(s) => ops::arith::add(tape, s, ce)?,
            None => ce,
        });
    }
    let sum = sum.context("a batch without rows")?;
    ops::arith::scale(tape, sum, 1.0 / present.len() as f32)
}

/// Fraction of rows of `logits` (N×K, row-major) whose argmax is the row's class.
pub fn accuracy(logits: &[f32], classes: &[usize]) -> f32 {
    if classes.is_empty() {
        return 0.0;
    }
    let k = logits.len() / classes.len();
    let hits = logits
        .chunks(k)
        .zip(classes)
        .filter(|(row, &c)| {
            let best = row
                .iter()
                .enumerate()
                .fold(0, |b, (i, v)| if *v > row[b] { i } else { b });
            best == c
        })
        .count();
    hits as f32 / classes.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::{Pool, Tensor};

    #[test]
    fn total_is_the_weighted_sum_of_the_terms() {
        let pool = Pool::new();
        let mut tape = Tape::new(&pool);
        let z = tape.input(
            Tensor::from_vec(
                [4, 3],
                vec![
                    0.1, 0.5, -0.2, 0.2, 0.4, 0.1, 0.9, -0.3, 0.3, 0.8, -0.1, 0.2,
                ],
            )
            .unwrap(),
        );
        let logits = tape
            .input(Tensor::from_vec([4, 2], vec![1.0, 0.0, 0.5, 0.2, 0.0, 1.0, 0.3, 0.1]).unwrap());
        let out = Outputs { latent: z, logits };
        let labels = BatchLabels {
            row_classes: &[0, 0, 1, 1],
            classes: 2,
            targets: &[Some(0.0), None],
            balance: CeBalance::Rows,
        };
        let w = LossWeights::default();
        let (l, t) = dcc_loss(&mut tape, &out, Some(2), &labels, &w).unwrap();
        let want = w.class * t.ce + w.cclp * t.cclp + w.dist * t.dist;
        assert!((t.total - want).abs() < 1e-5, "{t:?}");
        assert!(
            (t.dist - 0.01).abs() < 1e-6,
            "lower median of 0.1 and 0.2 is 0.1: {t:?}"
        );
        assert_eq!(t.accuracy, 0.75);
        let g = tape.backward(l).unwrap();
        // The bottleneck cut: column 2 of Z gets no CCLP gradient (and no anchor gradient).
        let gz = g.get(z).unwrap().data();
        assert!(gz.chunks(3).all(|r| r[2] == 0.0), "{gz:?}");
    }

    #[test]
    fn balanced_cross_entropy_is_the_mean_of_class_means() {
        let pool = Pool::new();
        // Three rows of class 0, one of class 1: per row −ln softmax at the label.
        let raw = vec![2.0f32, 0.0, 1.0, 0.5, 0.3, 0.1, 0.2, 1.2];
        let nll: Vec<f64> = raw
            .chunks(2)
            .zip([0usize, 0, 0, 1])
            .map(|(r, c)| {
                let lse = ((r[0] as f64).exp() + (r[1] as f64).exp()).ln();
                lse - r[c] as f64
            })
            .collect();
        let want_rows = nll.iter().sum::<f64>() / 4.0;
        let want_classes = 0.5 * ((nll[0] + nll[1] + nll[2]) / 3.0 + nll[3]);
        for (balance, want) in [
            (CeBalance::Rows, want_rows),
            (CeBalance::Classes, want_classes),
        ] {
            let mut tape = Tape::new(&pool);
            let z = tape.input(Tensor::from_vec([4, 2], vec![0.1; 8]).unwrap());
            let logits = tape.input(Tensor::from_vec([4, 2], raw.clone()).unwrap());
            let out = Outputs { latent: z, logits };
            let labels = BatchLabels {
                row_classes: &[0, 0, 0, 1],
                classes: 2,
                targets: &[Some(0.0), Some(1.0)],
                balance,
            };
            let (_, t) = dcc_loss(&mut tape, &out, None, &labels, &LossWeights::default()).unwrap();
            assert!(
                (t.ce as f64 - want).abs() < 1e-6,
                "{balance:?}: {} vs {want}",
                t.ce
            );
        }
        assert!((want_rows - want_classes).abs() > 1e-3);
    }
}
