//! The paper's networks: sizes, FLOPs, shapes, training-step behaviour.

use dcc::autograd::Tape;
use dcc::nn::network::Mode;
use dcc::nn::train::Trainer;
use dcc::nn::zoo::{inception, small, Arch};
use dcc::ops;
use dcc::tensor::{Pool, Tensor};

fn images(n: usize, c: usize, hw: usize, salt: u64) -> Tensor {
    let v = dcc::testing::seed_values(n * c * hw * hw, salt);
    Tensor::from_vec([n, c, hw, hw], v.iter().map(|x| 0.5 + 0.5 * x).collect()).unwrap()
}

#[test]
fn small_network_matches_pytorch_parameter_count_and_flops() {
    // tools/torch_bench.py's twin counts 232,139 for 1 channel and 4 sets.
    let net = small([1, 100, 100], 4, 0).unwrap();
    assert_eq!(net.params.numel(), 232_139);
    assert!(
        (net.flops_per_image / 1e6 - 13.75).abs() < 0.01,
        "{}",
        net.flops_per_image
    );
    assert_eq!(net.latent_dim, 7);
}

#[test]
fn inception_network_matches_pytorch_parameter_count_and_flops() {
    let net = inception([2, 100, 100], 4, 0).unwrap();
    assert_eq!(net.params.numel(), 3_443_143);
    assert!(
        (net.flops_per_image / 1e6 - 884.06).abs() < 0.1,
        "{}",
        net.flops_per_image
    );
    assert_eq!(
        inception([1, 100, 100], 4, 0).unwrap().params.numel(),
        3_443_091
    );
}

#[test]
fn forward_gives_latent_and_logits_of_the_right_shapes() {
    let net = small([1, 100, 100], 5, 1).unwrap();
    let pool = Pool::new();
    let mut tape = Tape::inference(&pool);
    let p = net.params.bind(&mut tape);
    let x = tape.constant(images(3, 1, 100, 1));
    let out = net.forward(&mut tape, &p, x, &Mode::eval()).unwrap();
    assert_eq!(tape.shape(out.latent).dims(), &[3, 7]);
    assert_eq!(tape.shape(out.logits).dims(), &[3, 5]);
    assert_eq!(tape.node_count(), 0);
}

#[test]
fn wrong_input_size_is_an_error_naming_the_layer() {
    let e = small([1, 20, 20], 4, 0)
        .err()
        .expect("20×20 is too small")
        .to_string();
    assert!(e.contains("small"), "{e}");
}

/// Six noisy maps whose brightness encodes their class (i % 3).
fn class_images() -> Tensor {
    let mut t = images(6, 1, 100, 7);
    let hw = 100 * 100;
    for (i, px) in t.data_mut().chunks_mut(hw).enumerate() {
        px.iter_mut()
            .for_each(|v| *v = 0.3 * *v + 0.35 * (i % 3) as f32);
    }
    t
}

fn train_steps(arch: Arch, threads: usize, steps: usize) -> (Vec<f32>, Vec<f32>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let net = arch.build([1, 100, 100], 3, 42).unwrap();
        let mut t = Trainer::new(net, 1e-3);
        let labels: Vec<Option<usize>> = (0..6).map(|i| Some(i % 3)).collect();
        let mut losses = Vec::new();
        for s in 0..steps {
            let mode = Mode {
                training: true,
                seed: s as u64,
                keep_latent: Some(2 + s % 6),
            };
            let r = t
                .step(&class_images(), &mode, |tape, out| {
                    ops::softmax::cross_entropy(tape, out.logits, &labels)
                })
                .unwrap();
            losses.push(r.loss);
        }
        (losses, t.net.params.tensors()[0].data().to_vec())
    })
}

#[test]
fn training_lowers_the_loss_on_a_fixed_batch() {
    let (losses, _) = train_steps(Arch::Small, 2, 25);
    let first = losses[..3].iter().sum::<f32>() / 3.0;
    let last = losses[losses.len() - 3..].iter().sum::<f32>() / 3.0;
    assert!(last < 0.8 * first, "losses {losses:?}");
}

#[test]
fn same_seed_and_threads_give_bit_identical_weights() {
    let a = train_steps(Arch::Small, 2, 3);
    let b = train_steps(Arch::Small, 2, 3);
    assert_eq!(a.1, b.1);
    let c = train_steps(Arch::Small, 1, 3);
    assert_eq!(a.1, c.1, "results depend on the thread count");
}

#[test]
fn steady_state_steps_allocate_no_new_buffers() {
    let net = small([1, 100, 100], 3, 0).unwrap();
    let mut t = Trainer::new(net, 1e-3);
    let labels: Vec<Option<usize>> = (0..4).map(|i| Some(i % 3)).collect();
    let mut fresh = Vec::new();
    for s in 0..4 {
        let mode = Mode {
            training: true,
            seed: s,
            keep_latent: None,
        };
        t.step(&images(4, 1, 100, 3), &mode, |tape, out| {
            ops::softmax::cross_entropy(tape, out.logits, &labels)
        })
        .unwrap();
        fresh.push(t.pool.stats().fresh);
    }
    assert_eq!(
        fresh[1], fresh[3],
        "allocations per step after the first: {fresh:?}"
    );
}
