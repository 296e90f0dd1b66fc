//! The optimisers' fused updates as primitives: the one match on the device for AdamW and
//! SGD (host loops in `cpu::optim`, one launch over every parameter in `kernels/optim.cu`).
//! `nn::optim` owns the state and the schedule; this owns where the arithmetic runs.

use crate::cpu::optim as host;
use crate::cuda::ops as cu;
use crate::kparams::{AdamWParams, ParamSlot, SgdParams};
use crate::tensor::{Pool, Tensor};
use anyhow::Result;

/// Uploads host state vectors next to the parameters.
fn upload(pool: &Pool, state: &[Vec<f32>]) -> Result<Vec<Tensor>> {
    state
        .iter()
        .map(|v| Tensor::from_vec([v.len()], v.clone())?.to_pool(pool))
        .collect()
}

/// One AdamW update of every parameter with a gradient, on the parameters' device. On a
/// GPU the moments live in `device` (uploaded from `m`, `v` on first use, authoritative
/// afterwards); on the CPU `m`, `v` are updated in place.
pub fn adamw(
    pool: &Pool,
    params: &mut [Tensor],
    grads: &[Option<Tensor>],
    m: &mut [Vec<f32>],
    v: &mut [Vec<f32>],
    device: &mut Option<(Vec<Tensor>, Vec<Tensor>)>,
    k: AdamWParams,
) -> Result<()> {
    let Some(gpu) = pool.gpu().cloned() else {
        for (((p, m), v), g) in params.iter_mut().zip(m).zip(v).zip(grads) {
            if let Some(g) = g {
                host::adamw(p.data_mut(), m, v, g.data(), &k);
            }
        }
        return Ok(());
    };
    if device.is_none() {
        *device = Some((upload(pool, m)?, upload(pool, v)?));
    }
    let (dm, dv) = device.as_ref().expect("device moments just made");
    let slots: Vec<ParamSlot> = params
        .iter()
        .zip(dm.iter().zip(dv))
        .zip(grads)
        .filter_map(|((p, (m, v)), g)| {
            g.as_ref().map(|g| ParamSlot {
                p: p.ptr(),
                g: g.ptr(),
                m: m.ptr(),
                v: v.ptr(),
                n: p.numel() as u64,
            })
        })
        .collect();
    cu::adamw(&gpu, pool, k, &slots)
}

/// AdamW on host slices (parameters that are not tensors).
pub fn adamw_slices(
    params: &mut [&mut [f32]],
    grads: &[&[f32]],
    m: &mut [Vec<f32>],
    v: &mut [Vec<f32>],
    k: AdamWParams,
) {
    for (((p, m), v), g) in params.iter_mut().zip(m).zip(v).zip(grads) {
        host::adamw(p, m, v, g, &k);
    }
}

/// One SGD update of every parameter with a gradient, on the parameters' device; the
/// momentum buffers as `adamw`'s moments (`buf` on the host, `device` on a GPU).
pub fn sgd(
    pool: &Pool,
    params: &mut [Tensor],
    grads: &[Option<Tensor>],
    buf: &mut [Vec<f32>],
    device: &mut Option<Vec<Tensor>>,
    k: SgdParams,
) -> Result<()> {
    let Some(gpu) = pool.gpu().cloned() else {
        for ((p, b), g) in params.iter_mut().zip(buf).zip(grads) {
            if let Some(g) = g {
                host::sgd(p.data_mut(), b, g.data(), k.lr, k.momentum, k.weight_decay);
            }
        }
        return Ok(());
    };
    if device.is_none() {
        *device = Some(upload(pool, buf)?);
    }
    let bufs = device.as_ref().expect("device buffers just made");
    let slots: Vec<ParamSlot> = params
        .iter()
        .zip(bufs)
        .zip(grads)
        .filter_map(|((p, b), g)| {
            g.as_ref().map(|g| ParamSlot {
                p: p.ptr(),
                g: g.ptr(),
                m: b.ptr(),
                v: 0,
                n: p.numel() as u64,
            })
        })
        .collect();
    cu::sgd(&gpu, pool, k, &slots)
}

/// SGD on host slices.
pub fn sgd_slices(params: &mut [&mut [f32]], grads: &[&[f32]], buf: &mut [Vec<f32>], k: SgdParams) {
    for ((p, b), g) in params.iter_mut().zip(buf).zip(grads) {
        host::sgd(p, b, g, k.lr, k.momentum, k.weight_decay);
    }
}
