//! Concatenation, splitting and narrowing along axis 1 (channels of N×C×H×W feature
//! maps, columns of N×D matrices; any rank ≥ 2), with backward rules that slice or
//! scatter the gradient.

use crate::autograd::{Backward, BackwardCx, Saves, Tape, Var};
use crate::cpu::channels as k;
use crate::cuda::ops as cu;
use crate::tensor::{Pool, Shape, Tensor};
use anyhow::{bail, Result};

/// Channels [start, start + len) of `x` (N×C×inner) on x's device.
fn extract(pool: &Pool, x: &Tensor, start: usize, len: usize) -> Result<Tensor> {
    let (n, c, inner) = axis1(x.shape(), "narrow_channels")?;
    let shape = with_axis1(x.shape(), len);
    if let Some(gpu) = x.gpu() {
        let out = Tensor::alloc_in(pool, shape)?;
        cu::copy_channels(gpu, n, inner, c, len, start, 0, len, x.ptr(), out.ptr())?;
        return Ok(out);
    }
    let mut out = Tensor::uninit_in(pool, shape);
    k::extract(out.data_mut(), x.data(), c, start, len, inner);
    Ok(out)
}

/// (N, C, inner) of a rank ≥ 2 shape viewed as N×C×inner.
pub(crate) fn axis1(shape: Shape, what: &str) -> Result<(usize, usize, usize)> {
    if shape.rank() < 2 {
        bail!("{what}: expected a tensor of rank ≥ 2 (N×C×…), found shape {shape}");
    }
    let d = shape.dims();
    Ok((d[0], d[1], d[2..].iter().product()))
}

fn with_axis1(shape: Shape, c: usize) -> Shape {
    let mut d = shape.dims().to_vec();
    d[1] = c;
    Shape::new(&d)
}

struct ConcatBack {
    xs: Vec<Var>,
    cs: Vec<usize>,
}

impl Backward for ConcatBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        let mut start = 0;
        for (&x, &c) in self.xs.iter().zip(&self.cs) {
            if cx.needs_grad(x) {
                let g = extract(cx.pool(), cx.grad_out(), start, c)?;
                cx.accumulate(x, g)?;
            }
            start += c;
        }
        Ok(())
    }
    fn name(&self) -> &'static str {
        "concat_channels"
    }
    fn saves(&self) -> Saves {
        Saves::Nothing
    }
}

/// Concatenates N×Cᵢ×… tensors (equal in every other dimension) along axis 1.
pub fn concat_channels(tape: &mut Tape, xs: &[Var]) -> Result<Var> {
    let Some(&first) = xs.first() else {
        bail!("concat_channels: no tensors to concatenate");
    };
    let s0 = tape.shape(first);
    let (_, _, inner) = axis1(s0, "concat_channels")?;
    let mut cs = Vec::with_capacity(xs.len());
    for &x in xs {
        let s = tape.shape(x);
        if s.rank() != s0.rank() || s.dim(0) != s0.dim(0) || s.dims()[2..] != s0.dims()[2..] {
            bail!("concat_channels: shapes {s0} and {s} differ outside axis 1");
        }
        cs.push(s.dim(1));
    }
    let out_shape = with_axis1(s0, cs.iter().sum());
    if let Some(gpu) = super::gpu_of(tape, "concat_channels", xs)? {
        let out = Tensor::alloc_in(tape.pool(), out_shape)?;
        let (n, total) = (s0.dim(0), out_shape.dim(1));
        let mut start = 0;
        for (&x, &c) in xs.iter().zip(&cs) {
            cu::copy_channels(
                &gpu,
                n,
                inner,
                c,
                total,
                0,
                start,
                c,
                tape.value(x).ptr(),
                out.ptr(),
            )?;
            start += c;
        }
        let rule = ConcatBack {
            xs: xs.to_vec(),
            cs,
        };
        return Ok(tape.push(out, xs, rule));
    }
    let mut out = Tensor::uninit_in(tape.pool(), out_shape);
    let srcs: Vec<(&[f32], usize)> = xs
        .iter()
        .zip(&cs)
        .map(|(&x, &c)| (tape.value(x).data(), c))
        .collect();
    k::concat(out.data_mut(), &srcs, inner);
    let rule = ConcatBack {
        xs: xs.to_vec(),
        cs,
    };
    Ok(tape.push(out, xs, rule))
}

struct NarrowBack {
    x: Var,
    start: usize,
    len: usize,
}

impl Backward for NarrowBack {
    fn backward(&self, cx: &mut BackwardCx) -> Result<()> {
        let shape = cx.shape(self.x);
        let (n, c, inner) = axis1(shape, "narrow_channels")?;
        if let Some(gpu) = super::grad_gpu(cx) {
            let g = Tensor::zeros_on(cx.pool(), shape)?;
            cu::copy_channels(
                &gpu,
                n,
                inner,
                self.len,
                c,
                0,
                self.start,
                self.len,
                cx.grad_out().ptr(),
                g.ptr(),
            )?;
            return cx.accumulate(self.x, g);
        }
        let mut g = Tensor::uninit_in(cx.pool(), shape);
        k::insert_into_zeros(
            g.data_mut(),
            c,
            cx.grad_out().data(),
            self.start,
            self.len,
            inner,
        );
        cx.accumulate(self.x, g)
    }
    fn name(&self) -> &'static str {
        "narrow_channels"
    }
    fn saves(&self) -> Saves {
        Saves::Nothing
    }
}

/// Channels [start, start + len) of an N×C×… tensor.
pub fn narrow_channels(tape: &mut Tape, x: Var, start: usize, len: usize) -> Result<Var> {
    let shape = tape.shape(x);
    let (_, c, _) = axis1(shape, "narrow_channels")?;
    if start.checked_add(len).is_none_or(|end| end > c) {
        bail!(
            "narrow_channels: range {start}..{} is outside axis 1 of shape {shape}",
            start.saturating_add(len)
        );
    }
    super::gpu_of(tape, "narrow_channels", &[x])?;
    let out = extract(tape.pool(), tape.value(x), start, len)?;
    Ok(tape.push(out, &[x], NarrowBack { x, start, len }))
}

/// Splits an N×C×… tensor along axis 1 into parts of `sizes` channels (Σ sizes = C).
pub fn split_channels(tape: &mut Tape, x: Var, sizes: &[usize]) -> Result<Vec<Var>> {
    let shape = tape.shape(x);
    let (_, c, _) = axis1(shape, "split_channels")?;
    let total: usize = sizes.iter().sum();
    if total != c {
        bail!("split_channels: sizes {sizes:?} add up to {total}, but axis 1 of shape {shape} has {c}");
    }
    let mut start = 0;
    let mut parts = Vec::with_capacity(sizes.len());
    for &len in sizes {
        parts.push(narrow_channels(tape, x, start, len)?);
        start += len;
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Pool;
    use crate::testing::{check_gradients, seed_values, GradCheck};
    use proptest::prelude::*;

    fn reference_concat(parts: &[&[f64]], cs: &[usize], n: usize, inner: usize) -> Vec<f64> {
        let mut out = Vec::new();
        for i in 0..n {
            for (p, &c) in parts.iter().zip(cs) {
                out.extend_from_slice(&p[i * c * inner..(i + 1) * c * inner]);
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn concat_and_split_match_finite_differences(n in 1usize..4, ca in 0usize..4, cb in 1usize..4,
                                                      inner in prop::sample::select(vec![1usize, 3, 6]),
                                                      salt in 0u64..100) {
            let shape = |c: usize| if inner == 1 { vec![n, c] } else { vec![n, c, inner / 3, 3] };
            let ins = [
                Tensor::from_vec(&shape(ca)[..], seed_values(n * ca * inner, salt)).unwrap(),
                Tensor::from_vec(&shape(cb)[..], seed_values(n * cb * inner, salt + 1)).unwrap(),
            ];
            let cfg = GradCheck::default();
            // a and b concatenated twice (b first): each gradient gets two contributions.
            let r = check_gradients(&ins, &|tp, v| concat_channels(tp, &[v[1], v[0], v[1]]),
                &|x| reference_concat(&[&x[1], &x[0], &x[1]], &[cb, ca, cb], n, inner), &cfg);
            prop_assert!(r.is_ok(), "concat: {}", r.unwrap_err());
            // The middle part of a split of b: gradient scattered into zeros.
            let r = check_gradients(&ins[1..], &|tp, v| {
                let parts = split_channels(tp, v[0], &[cb - 1, 1, 0])?;
                concat_channels(tp, &[parts[1], parts[0]])
            }, &|x| {
                let (head, tail) = (cb - 1, 1);
                let pick = |from: usize, len: usize| -> Vec<f64> {
                    (0..n).flat_map(|i| x[0][(i * cb + from) * inner..(i * cb + from + len) * inner].to_vec()).collect()
                };
                reference_concat(&[&pick(head, tail), &pick(0, head)], &[tail, head], n, inner)
            }, &cfg);
            prop_assert!(r.is_ok(), "split: {}", r.unwrap_err());
        }
    }

    #[test]
    fn concat_and_split_errors_name_the_shapes() {
        let pool = Pool::new();
        let mut tape = Tape::new(&pool);
        let a = tape.input(Tensor::zeros([2, 3, 4, 4]));
        let b = tape.input(Tensor::zeros([2, 3, 4, 5]));
        let e = concat_channels(&mut tape, &[a, b]).unwrap_err().to_string();
        assert!(e.contains("[2×3×4×4]") && e.contains("[2×3×4×5]"), "{e}");
        assert!(concat_channels(&mut tape, &[]).is_err());
        let e = split_channels(&mut tape, a, &[1, 1])
            .unwrap_err()
            .to_string();
        assert!(e.contains("[1, 1]") && e.contains("[2×3×4×4]"), "{e}");
        let e = narrow_channels(&mut tape, a, 2, 2).unwrap_err().to_string();
        assert!(e.contains("2..4"), "{e}");
        let v = tape.input(Tensor::zeros([6]));
        assert!(concat_channels(&mut tape, &[v])
            .unwrap_err()
            .to_string()
            .contains("rank"));
    }
}
