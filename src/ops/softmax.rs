//! Softmax, log-softmax and the fused softmax cross-entropy along the last axis. The
//! cross-entropy never records the probabilities: it saves the per-row log-sum-exp and
//! rebuilds softmax − onehot in backward (llm.c's fused classifier).

use crate::autograd::{Backward, BackwardCx, Saves, Tape, Var};
use crate::cpu::softmax as k;
use crate::cuda::ops as cu;
use crate::tensor::Tensor;
use anyhow::{bail, Result};

fn last_axis(tape: &Tape, x: Var, what: &str) -> Result<usize> {
    let s = tape.shape(x);
    match s.dims().last() {
        Some(&k) if k > 0 => Ok(k),
        _ => bail!("{what}: expected a tensor with a non-empty last axis, found shape {s}"),
    }
}

struct SoftmaxBack {
    x: Var,
    k: usize,
    log: bool,
}

impl Backward for SoftmaxBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        let gpu = super::grad_gpu(cx);
        let mut g = cx.take_grad_out();
        if let Some(gpu) = gpu {
            let rows = g.numel() / self.k;
            cu::softmax_backward(&gpu, self.log, rows, self.k, cx.output().ptr(), g.ptr())?;
        } else if self.log {
            k::log_softmax_backward(g.data_mut(), cx.output().data(), self.k);
        } else {
            k::softmax_backward(g.data_mut(), cx.output().data(), self.k);
        }
        cx.accumulate(self.x, g)
    }
    fn name(&self) -> &'static str {
        if self.log {
            "log_softmax"
        } else {
            "softmax"
        }
    }
    fn saves(&self) -> Saves {
        Saves::Output
    }
}

/// Softmax or log-softmax along the last axis, on the input's device.
fn softmax_any(tape: &mut Tape, x: Var, log: bool) -> Result<Var> {
    let what = if log { "log_softmax" } else { "softmax" };
    let kk = last_axis(tape, x, what)?;
    let out = match super::gpu_of(tape, what, &[x])? {
        Some(gpu) => {
            let out = Tensor::alloc_in(tape.pool(), tape.shape(x))?;
            let rows = out.numel() / kk;
            cu::softmax(&gpu, log, rows, kk, tape.value(x).ptr(), out.ptr())?;
            out
        }
        None => {
            let mut out = Tensor::uninit_in(tape.pool(), tape.shape(x));
            if log {
                k::log_softmax(out.data_mut(), tape.value(x).data(), kk);
            } else {
                k::softmax(out.data_mut(), tape.value(x).data(), kk);
            }
            out
        }
    };
    Ok(tape.push(out, &[x], SoftmaxBack { x, k: kk, log }))
}

/// Softmax along the last axis.
pub fn softmax(tape: &mut Tape, x: Var) -> Result<Var> {
    softmax_any(tape, x, false)
}

/// Log-softmax along the last axis.
pub fn log_softmax(tape: &mut Tape, x: Var) -> Result<Var> {
    softmax_any(tape, x, true)
}

/// What the cross-entropy backward keeps: host rows, or device copies of the labels
/// (as i32, −1 = unlabelled) and of the per-row log-sum-exp.
enum CeSaved {
    Host {
        labels: Vec<Option<usize>>,
        lse: Vec<f32>,
    },
    Gpu {
        labels: Tensor,
        lse: Tensor,
    },
}

struct CrossEntropyBack {
    logits: Var,
    saved: CeSaved,
    count: usize,
}

impl Backward for CrossEntropyBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        let x = cx.value(self.logits);
        let shape = x.shape();
        let [n, kk] = [shape.dims()[0], shape.dims()[1]];
        match &self.saved {
            CeSaved::Gpu { labels, lse } => {
                let gpu = x.gpu().expect("device logits").clone();
                let dx = Tensor::alloc_in(cx.pool(), shape)?;
                let scale = 1.0 / self.count as f32;
                cu::cross_entropy_backward(
                    &gpu,
                    n,
                    kk,
                    scale,
                    x.ptr(),
                    lse.ptr(),
                    labels.ptr(),
                    cx.grad_out().ptr(),
                    dx.ptr(),
                )?;
                cx.accumulate(self.logits, dx)
            }
            CeSaved::Host { labels, lse } => {
                let scale = cx.grad_out().data()[0] / self.count as f32;
                let mut dx = Tensor::uninit_in(cx.pool(), shape);
                k::cross_entropy_backward(dx.data_mut(), x.data(), lse, labels, kk, scale);
                cx.accumulate(self.logits, dx)
            }
        }
    }
    fn name(&self) -> &'static str {
        "cross_entropy"
    }
    fn saves(&self) -> Saves {
        Saves::Inputs
    }
}

/// Mean over rows with a label of −log softmax(logits)[label], for N×K logits; rows
/// with `None` contribute nothing. Returns a one-element tensor.
pub fn cross_entropy(tape: &mut Tape, logits: Var, labels: &[Option<usize>]) -> Result<Var> {
    let shape = tape.shape(logits);
    let [n, kk] = shape.matrix("cross_entropy logits")?;
    if labels.len() != n {
        bail!(
            "cross_entropy: {} labels for logits of shape {shape} ({n} rows)",
            labels.len()
        );
    }
    if let Some((row, c)) = labels
        .iter()
        .enumerate()
        .find_map(|(r, l)| l.filter(|&c| c >= kk).map(|c| (r, c)))
    {
        bail!("cross_entropy: row {row} has label {c}, but logits of shape {shape} have only {kk} classes");
    }
    let count = labels.iter().flatten().count();
    if count == 0 {
        bail!("cross_entropy: none of the {n} rows has a label");
    }
    if let Some(gpu) = super::gpu_of(tape, "cross_entropy", &[logits])? {
        let words: Vec<i32> = labels.iter().map(|l| l.map_or(-1, |c| c as i32)).collect();
        let dev_labels = super::upload_words(tape.pool(), &words)?;
        let lse = Tensor::alloc_in(tape.pool(), [n])?;
        let out = Tensor::alloc_in(tape.pool(), [1])?;
        let scale = 1.0 / count as f32;
        cu::cross_entropy_forward(
            &gpu,
            n,
            kk,
            scale,
            tape.value(logits).ptr(),
            dev_labels.ptr(),
            lse.ptr(),
            out.ptr(),
        )?;
        let rule = CrossEntropyBack {
            logits,
            saved: CeSaved::Gpu {
                labels: dev_labels,
                lse,
            },
            count,
        };
        return Ok(tape.push(out, &[logits], rule));
    }
    let mut lse = vec![0.0; n];
    let total = k::cross_entropy(&mut lse, tape.value(logits).data(), labels, kk);
    let mut out = Tensor::uninit_in(tape.pool(), [1]);
    out.data_mut()[0] = (total / count as f64) as f32;
    let rule = CrossEntropyBack {
        logits,
        saved: CeSaved::Host {
            labels: labels.to_vec(),
            lse,
        },
        count,
    };
    Ok(tape.push(out, &[logits], rule))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Pool;
    use crate::testing::{check_gradients, seed_values, GradCheck};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn softmax_family_matches_finite_differences(n in 1usize..5, kk in 1usize..7, spread in 0.5f32..8.0,
                                                     salt in 0u64..1000, label_bits in 1u32..32) {
            let xs: Vec<f32> = seed_values(n * kk, salt).iter().map(|v| v * spread).collect();
            let ins = [Tensor::from_vec([n, kk], xs).unwrap()];
            let cfg = GradCheck::default();
            let r = check_gradients(&ins, &|tp, v| log_softmax(tp, v[0]),
                &|x| k::log_softmax_reference(&x[0], kk), &cfg);
            prop_assert!(r.is_ok(), "log_softmax: {}", r.unwrap_err());
            let r = check_gradients(&ins, &|tp, v| softmax(tp, v[0]),
                &|x| k::log_softmax_reference(&x[0], kk).iter().map(|v| v.exp()).collect(), &cfg);
            prop_assert!(r.is_ok(), "softmax: {}", r.unwrap_err());
            // Row r is labelled iff bit r of label_bits is set (row 0 always, if n = 1).
            let labels: Vec<Option<usize>> = (0..n)
                .map(|r| (label_bits >> r & 1 == 1 || n == 1).then_some((r * 5 + salt as usize) % kk))
                .collect();
            prop_assume!(labels.iter().any(|l| l.is_some()));
            let r = check_gradients(&ins, &|tp, v| cross_entropy(tp, v[0], &labels),
                &|x| vec![k::cross_entropy_reference(&x[0], &labels, kk)], &cfg);
            prop_assert!(r.is_ok(), "cross_entropy: {}", r.unwrap_err());
        }
    }

    #[test]
    fn cross_entropy_is_stable_for_huge_logits_and_records_one_small_node() {
        let pool = Pool::new();
        let mut tape = Tape::new(&pool);
        let x = tape
            .input(Tensor::from_vec([2, 3], vec![1000.0, 0.0, -1000.0, 5.0, 5.0, 5.0]).unwrap());
        let loss = cross_entropy(&mut tape, x, &[Some(0), Some(2)]).unwrap();
        let want = (0.0 + 3f64.ln()) / 2.0;
        assert!((tape.value(loss).data()[0] as f64 - want).abs() < 1e-6);
        assert_eq!(tape.node_count(), 1);
        let g = tape.backward(loss).unwrap();
        let dx = g.get(x).unwrap().data();
        let third = 1.0 / 3.0 / 2.0;
        let want = [0.0, 0.0, 0.0, third, third, third - 0.5];
        assert!(
            dx.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{dx:?}"
        );
    }

    #[test]
    fn cross_entropy_errors_name_row_and_label() {
        let pool = Pool::new();
        let mut tape = Tape::new(&pool);
        let x = tape.input(Tensor::zeros([3, 4]));
        let e = cross_entropy(&mut tape, x, &[Some(0), Some(4), None])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("row 1") && e.contains("label 4") && e.contains("[3×4]"),
            "{e}"
        );
        let e = cross_entropy(&mut tape, x, &[None, None, None])
            .unwrap_err()
            .to_string();
        assert!(e.contains("none"), "{e}");
        assert!(cross_entropy(&mut tape, x, &[Some(0)])
            .unwrap_err()
            .to_string()
            .contains("1 labels"));
        let v = tape.input(Tensor::zeros([3, 0]));
        assert!(softmax(&mut tape, v).is_err());
    }
}
