//! Differential tests of the CUDA path: every primitive, forward and backward, on a GPU
//! device against the CPU on random shapes and values (`atol + rtol·|cpu|`), the fused
//! optimisers, and whole training steps. They run on the CUDA emulator by default (the
//! same kernels and launchers, on the CPU) and on a real GPU with
//! `DCC_TEST_DEVICE=cuda` (tools/gpu-check.sh), where a missing GPU is a failure.

use dcc::autograd::Tape;
use dcc::nn::network::Mode;
use dcc::nn::optim::{AdamW, Sgd};
use dcc::nn::train::Trainer;
use dcc::nn::zoo::Arch;
use dcc::ops::conv2d::{Conv2dParams, PadMode};
use dcc::ops::{self, arith, concat, select};
use dcc::tensor::{Pool, Tensor};
use dcc::testing::{assert_close, compare_devices, gpu_test_devices, seed_values, Tol};
use proptest::prelude::*;

/// f32 kernels with a different summation order than the CPU's.
const TOL: Tol = Tol::new(2e-5, 2e-4);

fn t(dims: &[usize], salt: u64) -> Tensor {
    let n = dims.iter().product();
    Tensor::from_vec(dims, seed_values(n, salt)).unwrap()
}

fn on_every_gpu(
    what: &str,
    inputs: &[Tensor],
    build: &dyn Fn(&mut Tape, &[dcc::autograd::Var]) -> anyhow::Result<dcc::autograd::Var>,
) -> Result<(), String> {
    for d in gpu_test_devices().map_err(|e| e.to_string())? {
        compare_devices(d, what, inputs, build, TOL)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn conv2d_matches_cpu(n in 1usize..3, c in 1usize..5, o in 1usize..7, h in 3usize..11, w in 3usize..11,
                          k in prop::sample::select(vec![1usize, 3, 5]), stride in 1usize..3, replicate in any::<bool>(), pad in 0usize..3, bias in any::<bool>()) {
        let pad = if k == 1 { 0 } else { pad.min(k / 2) };
        prop_assume!(h + 2 * pad >= k && w + 2 * pad >= k);
        let p = Conv2dParams { stride, padding: pad, pad_mode: if replicate { PadMode::Replicate } else { PadMode::Zeros } };
        let mut ins = vec![t(&[n, c, h, w], 1), t(&[o, c, k, k], 2)];
        if bias { ins.push(t(&[o], 3)); }
        let r = on_every_gpu("conv2d", &ins, &|tp, v| ops::conv2d::conv2d(tp, v[0], v[1], v.get(2).copied(), p));
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    #[test]
    fn max_pool_matches_cpu(n in 1usize..3, c in 1usize..4, h in 2usize..12, w in 2usize..12, same in any::<bool>()) {
        let (k, s, p) = if same { (3, 1, 1) } else { (2, 2, 0) };
        // Rounded values: ties inside windows must resolve to the same element.
        let x = Tensor::from_vec([n, c, h, w], seed_values(n * c * h * w, 5).iter().map(|v| (v * 4.0).round()).collect()).unwrap();
        let r = on_every_gpu("max_pool2d", &[x], &|tp, v| ops::maxpool::max_pool2d(tp, v[0], k, s, p));
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    #[test]
    fn linear_and_activations_match_cpu(n in 1usize..9, i in 1usize..70, o in 1usize..70) {
        let ins = [t(&[n, i], 6), t(&[o, i], 7), t(&[o], 8)];
        let r = on_every_gpu("linear+elu/selu/relu", &ins, &|tp, v| {
            let y = ops::linear::linear(tp, v[0], v[1], Some(v[2]))?;
            let a = ops::activation::elu(tp, y)?;
            let b = ops::activation::selu(tp, a)?;
            ops::activation::relu(tp, b)
        });
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    #[test]
    fn dropout_draws_the_cpu_mask(n in 1usize..4, c in 1usize..6, hw in 1usize..40, seed in any::<u64>(), p in 0.05f32..0.9) {
        let ins = [t(&[n, c, hw, 1], 9)];
        let r = on_every_gpu("dropout+channel_dropout", &ins, &|tp, v| {
            let a = ops::dropout::dropout(tp, v[0], p, seed, true)?;
            ops::dropout::channel_dropout(tp, a, p, seed ^ 1, true)
        });
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    #[test]
    fn fused_elu_dropout_concat_matches_cpu(n in 1usize..4, ca in 1usize..5, cb in 1usize..5, hw in 1usize..40,
                                            seed in any::<u64>(), p in 0.0f32..0.9, training in any::<bool>()) {
        let ins = [t(&[n, ca, hw], 10), t(&[n, cb, hw], 11)];
        let r = on_every_gpu("elu+channel_dropout (concat)", &ins, &|tp, v| {
            let mut op = ops::fused::EluDropConcat::new(ca + cb, training);
            op.add(tp, v[0], p, seed)?;
            op.add(tp, v[1], p, seed ^ 3)?;
            op.finish(tp)
        });
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    #[test]
    fn channels_columns_and_transpose_match_cpu(n in 1usize..4, ca in 1usize..4, cb in 1usize..4, inner in 1usize..9, keep in 0usize..5) {
        let ins = [t(&[n, ca, inner], 10), t(&[n, cb, inner], 11)];
        let r = on_every_gpu("concat/split", &ins, &|tp, v| {
            let cat = concat::concat_channels(tp, &[v[0], v[1], v[0]])?;
            let parts = concat::split_channels(tp, cat, &[cb, ca + ca])?;
            let f = ops::reshape::flatten(tp, parts[1])?;
            arith::mul(tp, f, f)
        });
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
        let d = ca + cb + 1;
        let r = on_every_gpu("columns/transpose", &[t(&[n + 1, d], 12)], &|tp, v| {
            let m = select::mask_columns(tp, v[0], keep.min(d))?;
            let s = select::slice_columns(tp, m, 1, d)?;
            ops::transpose::transpose(tp, s)
        });
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    #[test]
    fn softmax_family_and_cross_entropy_match_cpu(n in 1usize..7, k in 1usize..9, spread in 0.5f32..20.0, unlabelled in 0usize..3) {
        let x = Tensor::from_vec([n, k], seed_values(n * k, 13).iter().map(|v| v * spread).collect()).unwrap();
        let labels: Vec<Option<usize>> = (0..n).map(|r| if r > 0 && r <= unlabelled { None } else { Some((r * 7) % k) }).collect();
        let r = on_every_gpu("softmax family", std::slice::from_ref(&x), &|tp, v| {
            let a = ops::softmax::softmax(tp, v[0])?;
            let b = ops::softmax::log_softmax(tp, a)?;
            let ce = ops::softmax::cross_entropy(tp, v[0], &labels)?;
            let s = arith::sum(tp, b)?;
            let m = arith::mean(tp, a)?;
            let l = arith::add(tp, s, ce)?;
            let l = arith::scale(tp, l, 0.5)?;
            let l = arith::add(tp, l, m)?;
            arith::add_scalar(tp, l, 1.0)
        });
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
        let pos = Tensor::from_vec([n, k], x.data().iter().map(|v| v.abs() + 0.1).collect()).unwrap();
        let r = on_every_gpu("ln", &[pos], &|tp, v| arith::ln(tp, v[0]));
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    #[test]
    fn dcc_loss_terms_match_cpu(n in 4usize..12, d in 2usize..8) {
        let z = t(&[n, d], 14);
        let labels: Vec<Option<usize>> = (0..n).map(|r| Some(r % 3)).collect();
        let sets: Vec<usize> = (0..n).map(|r| r % 3).collect();
        let targets = [Some(0.0f32), Some(0.5), None];
        let r = on_every_gpu("cclp+distance_anchor", &[z], &|tp, v| {
            let c = ops::cclp::cclp_loss(tp, v[0], &labels, 3, 3)?;
            let a = ops::anchor::distance_anchor(tp, v[0], &sets, &targets)?;
            arith::add(tp, c, a)
        });
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5, failure_persistence: None, ..ProptestConfig::default() })]

    /// The device CCLP (all rows labelled; class blocks past the sgemm kernel's 64-tile)
    /// and the host step it falls back to (unlabelled rows) against the CPU.
    #[test]
    fn fused_cclp_matches_cpu(n in 1usize..150, d in 1usize..9, classes in 1usize..5, steps in 1usize..4,
                              unlabelled in any::<bool>(), spread in 0.2f32..2.5) {
        let z = Tensor::from_vec([n, d], seed_values(n * d, 21).iter().map(|v| v * spread).collect()).unwrap();
        let labels: Vec<Option<usize>> = (0..n)
            .map(|r| if unlabelled && r % 5 == 4 { None } else { Some((r * 7 + r / 4) % classes) })
            .collect();
        let r = on_every_gpu("cclp", &[z], &|tp, v| ops::cclp::cclp_loss(tp, v[0], &labels, classes, steps));
        prop_assert!(r.is_ok(), "{}", r.unwrap_err());
    }

    /// Nearest neighbours on the device are the CPU's, bit for bit (same summation order,
    /// no contraction); Gaussian kernel sums agree to f32 rounding.
    #[test]
    fn knn_and_kernel_sums_match_cpu(nq in 1usize..300, nr in 1usize..700, d in 1usize..17, need in 1usize..65, h in 0.1f32..2.0) {
        let need = need.min(nr);
        let q = seed_values(nq * d, 31);
        let r = seed_values(nr * d, 32);
        let host = Pool::new();
        for dev in gpu_test_devices().unwrap() {
            let pool = Pool::on(dev).unwrap();
            let want = ops::pairwise::nearest_sq(&host, &q, &r, d, need).unwrap();
            let got = ops::pairwise::nearest_sq(&pool, &q, &r, d, need).unwrap();
            prop_assert_eq!(&got.0, &want.0);
            prop_assert_eq!(&got.1, &want.1);
            let want = ops::pairwise::gaussian_sums(&host, &q, &r, d, h).unwrap();
            let got = ops::pairwise::gaussian_sums(&pool, &q, &r, d, h).unwrap();
            for (g, w) in got.iter().zip(&want) {
                prop_assert!((g - w).abs() <= 1e-5 * w.abs() + 1e-30, "{g} vs {w}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5, failure_persistence: None, ..ProptestConfig::default() })]

    /// Many 1-D densities in one device launch equal the host's, job by job.
    #[test]
    fn batched_densities_match_cpu(jobs in 1usize..12, points in 1usize..120, n in 1usize..400, h in 0.01f64..2.0) {
        let samples: Vec<Vec<f64>> = (0..jobs)
            .map(|b| seed_values(n + b, 40 + b as u64).iter().map(|&v| v as f64 * (1.0 + b as f64)).collect())
            .collect();
        let grids: Vec<Vec<f64>> = (0..jobs)
            .map(|b| (0..points).map(|g| -3.0 + 6.0 * g as f64 / points as f64 + 0.1 * b as f64).collect())
            .collect();
        let list: Vec<ops::kde::KdeJob> = (0..jobs)
            .map(|b| ops::kde::KdeJob { samples: &samples[b], bandwidth: h * (1.0 + 0.1 * b as f64), grid: &grids[b] })
            .collect();
        let want = ops::kde::densities(&Pool::new(), &list).unwrap();
        for dev in gpu_test_devices().unwrap() {
            let got = ops::kde::densities(&Pool::on(dev).unwrap(), &list).unwrap();
            for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
                prop_assert!((g - w).abs() <= 1e-12 * w.abs() + 1e-300, "{g} vs {w}");
            }
        }
    }
}

#[test]
fn mixing_devices_in_one_op_names_both() {
    let pool = Pool::new();
    let d = gpu_test_devices().unwrap()[0];
    let gpu = Pool::on(d).unwrap();
    let mut tape = Tape::new(&pool);
    let a = tape.input(Tensor::zeros([3]));
    let b = tape.input(Tensor::zeros([3]).to_pool(&gpu).unwrap());
    let e = arith::add(&mut tape, a, b).unwrap_err().to_string();
    assert!(e.contains("cpu") && e.contains(&d.to_string()), "{e}");
}

#[test]
fn fused_optimisers_match_cpu() {
    for d in gpu_test_devices().unwrap() {
        let sizes = [300usize, 7, 1];
        let params: Vec<Tensor> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| t(&[n], 20 + i as u64))
            .collect();
        // The middle parameter has no gradient: it must be left untouched on both devices.
        let grads: Vec<Option<Tensor>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| (i != 1).then(|| t(&[n], 30 + i as u64)))
            .collect();
        let gpu = Pool::on(d).unwrap();
        let (mut cpu_p, mut gpu_p) = (
            params.clone(),
            params
                .iter()
                .map(|p| p.to_pool(&gpu).unwrap())
                .collect::<Vec<_>>(),
        );
        let gpu_g: Vec<Option<Tensor>> = grads
            .iter()
            .map(|g| g.as_ref().map(|g| g.to_pool(&gpu).unwrap()))
            .collect();
        let (mut a1, mut a2) = (
            AdamW::new(&sizes, 1e-2, 0.01),
            AdamW::new(&sizes, 1e-2, 0.01),
        );
        let (mut s1, mut s2) = (
            Sgd::new(&sizes, 1e-2, 0.9, 1e-3),
            Sgd::new(&sizes, 1e-2, 0.9, 1e-3),
        );
        for _ in 0..3 {
            a1.step_tensors(&Pool::new(), &mut cpu_p, &grads).unwrap();
            a2.step_tensors(&gpu, &mut gpu_p, &gpu_g).unwrap();
            s1.step_tensors(&Pool::new(), &mut cpu_p, &grads).unwrap();
            s2.step_tensors(&gpu, &mut gpu_p, &gpu_g).unwrap();
        }
        a2.sync_to_host().unwrap();
        for (i, (c, g)) in cpu_p.iter().zip(&gpu_p).enumerate() {
            assert_close(
                &format!("parameter {i} after AdamW+SGD on {d}"),
                g.to_host().unwrap().data(),
                &c.to_f64(),
                Tol::new(1e-6, 1e-5),
            )
            .unwrap();
        }
        assert_eq!(
            gpu_p[1].to_host().unwrap().data(),
            params[1].data(),
            "no gradient: untouched"
        );
        assert_close(
            "AdamW first moment",
            &a2.m[0],
            &a1.m[0].iter().map(|&v| v as f64).collect::<Vec<_>>(),
            Tol::new(1e-7, 1e-5),
        )
        .unwrap();
    }
}

/// Gradients of every parameter of the small network (dropout on, the bottleneck cut):
/// the same seed draws the same masks, so they agree to rounding.
#[test]
fn small_network_gradients_match_cpu() {
    for d in gpu_test_devices().unwrap() {
        let net = Arch::Small.build([1, 100, 100], 3, 5).unwrap();
        let x = t(&[2, 1, 100, 100], 40);
        let labels = [Some(0), Some(2)];
        let mode = Mode {
            training: true,
            seed: 3,
            keep_latent: Some(4),
        };
        let grads = |pool: &Pool| -> (f32, Vec<Tensor>) {
            let mut params = net.params.clone();
            params.move_to(pool).unwrap();
            let xs = x.to_pool(pool).unwrap();
            let mut tape = Tape::new(pool);
            let bound = params.bind(&mut tape);
            let xv = tape.frozen(&xs);
            let out = net.forward(&mut tape, &bound, xv, &mode).unwrap();
            let l = ops::softmax::cross_entropy(&mut tape, out.logits, &labels).unwrap();
            let loss = tape.value(l).to_host().unwrap().data()[0];
            let mut g = tape.backward(l).unwrap();
            (
                loss,
                bound
                    .vars()
                    .iter()
                    .map(|&v| g.take(v).unwrap().to_host().unwrap())
                    .collect(),
            )
        };
        let (l1, g1) = grads(&Pool::new());
        let (l2, g2) = grads(&Pool::on(d).unwrap());
        assert!(
            (l1 - l2).abs() <= 1e-5 + 1e-4 * l1.abs(),
            "loss {l2} on {d} vs cpu {l1}"
        );
        for (name, (c, g)) in net.params.names().iter().zip(g1.iter().zip(&g2)) {
            let scale = c.data().iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
            assert_close(
                &format!("gradient of {name} on {d}"),
                g.data(),
                &c.to_f64(),
                Tol::new(1e-4 * scale + 1e-7, 1e-3),
            )
            .unwrap();
        }
    }
}

/// Whole training steps (forward, CE, backward, fused AdamW) through `Trainer`: the
/// losses of consecutive steps agree, so the updates did too; the weights stay on the GPU.
#[test]
fn small_network_training_steps_match_cpu() {
    for d in gpu_test_devices().unwrap() {
        let net = Arch::Small.build([1, 100, 100], 3, 5).unwrap();
        let mut cpu = Trainer::new(net.clone(), 1e-3);
        let mut gpu = Trainer::on(net, 1e-3, d).unwrap();
        let x = t(&[2, 1, 100, 100], 40);
        let labels = [Some(0), Some(2)];
        for step in 0..3 {
            let mode = Mode {
                training: true,
                seed: step,
                keep_latent: Some(4),
            };
            let l1 = cpu
                .step(&x, &mode, |tp, out| {
                    ops::softmax::cross_entropy(tp, out.logits, &labels)
                })
                .unwrap()
                .loss;
            let l2 = gpu
                .step(&x, &mode, |tp, out| {
                    ops::softmax::cross_entropy(tp, out.logits, &labels)
                })
                .unwrap()
                .loss;
            assert!(
                (l1 - l2).abs() <= 1e-4 + 1e-3 * l1.abs(),
                "step {step} on {d}: loss {l2} vs cpu {l1}"
            );
        }
        assert_eq!(gpu.net.params.tensors()[0].device(), d);
        gpu.sync_to_host().unwrap();
        assert_eq!(gpu.opt.step, 3);
    }
}

/// Stands for the real-GPU run in every `cargo test` summary: ignored (with this reason
/// printed) where no GPU is used, run by tools/gpu-check.sh with `--include-ignored`.
#[test]
#[ignore = "needs an NVIDIA GPU: DCC_TEST_DEVICE=cuda cargo test --release --test gpu -- --include-ignored"]
fn a_real_gpu_runs_the_kernels() {
    let why = dcc::cuda::probe_cuda();
    assert!(why.is_ok(), "no usable GPU: {}", why.unwrap_err());
    let pool = Pool::on(dcc::tensor::Device::Cuda(0)).unwrap();
    let x = t(&[1000], 50);
    let r = compare_devices(
        dcc::tensor::Device::Cuda(0),
        "elu on cuda:0",
        &[x],
        &|tp, v| ops::activation::elu(tp, v[0]),
        TOL,
    );
    assert!(r.is_ok(), "{}", r.unwrap_err());
    assert_eq!(pool.device(), dcc::tensor::Device::Cuda(0));
}
