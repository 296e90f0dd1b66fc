use super::*;
use crate::ops::arith::{add, mul, sum};
use crate::tensor::Pool;

#[test]
fn value_used_twice_accumulates_both_gradients() {
    let pool = Pool::new();
    let mut tape = Tape::new(&pool);
    let x = tape.input(Tensor::from_vec([2], vec![3.0, -2.0]).unwrap());
    let y = mul(&mut tape, x, x).unwrap();
    let z = add(&mut tape, y, x).unwrap();
    let l = sum(&mut tape, z).unwrap();
    let g = tape.backward(l).unwrap();
    assert_eq!(g.get(x).unwrap().data(), &[7.0, -3.0]);
}

#[test]
fn inference_tape_records_nothing() {
    let pool = Pool::new();
    let mut tape = Tape::inference(&pool);
    let x = tape.input(Tensor::from_vec([2], vec![1.0, 2.0]).unwrap());
    let y = mul(&mut tape, x, x).unwrap();
    assert_eq!(tape.node_count(), 0);
    assert_eq!(tape.value(y).data(), &[1.0, 4.0]);
}

#[test]
fn constants_get_no_gradient_and_no_node() {
    let pool = Pool::new();
    let mut tape = Tape::new(&pool);
    let c = tape.constant(Tensor::from_vec([2], vec![1.0, 2.0]).unwrap());
    let y = mul(&mut tape, c, c).unwrap();
    assert_eq!(tape.node_count(), 0);
    assert!(!tape.needs_grad(y));
}

#[test]
fn tape_buffers_return_to_the_pool_between_steps() {
    let pool = Pool::new();
    let w = Tensor::from_vec([1000], vec![0.5; 1000]).unwrap();
    let mut fresh_after_first = 0;
    for step in 0..3 {
        let mut tape = Tape::new(&pool);
        let p = tape.param(&w);
        let y = mul(&mut tape, p, p).unwrap();
        let l = sum(&mut tape, y).unwrap();
        let g = tape.backward(l).unwrap();
        assert_eq!(g.get(p).unwrap().data()[0], 1.0);
        drop(g);
        drop(tape);
        if step == 0 {
            fresh_after_first = pool.stats().fresh;
        }
    }
    assert_eq!(pool.stats().fresh, fresh_after_first);
}

/// A chain whose saved values are each read once: (gradient of x, fresh buffers).
fn chain_grads(releasing: bool) -> (Vec<f32>, u64) {
    let pool = Pool::new();
    let mut tape = Tape::new(&pool);
    let x =
        tape.input(Tensor::from_vec([1000], (0..1000).map(|i| i as f32 * 1e-3).collect()).unwrap());
    let mut h = x;
    for _ in 0..4 {
        // mul saves both inputs; each link's output is read by the next link's rule only.
        h = mul(&mut tape, h, h).unwrap();
        h = add(&mut tape, h, x).unwrap();
    }
    let l = sum(&mut tape, h).unwrap();
    let g = if releasing {
        tape.backward_releasing(l).unwrap()
    } else {
        tape.backward(l).unwrap()
    };
    let out = g.get(x).unwrap().data().to_vec();
    let fresh = pool.stats().fresh;
    drop(g);
    (out, fresh)
}

#[test]
fn releasing_backward_gives_the_same_gradients_and_reuses_freed_values() {
    let (g_keep, fresh_keep) = chain_grads(false);
    let (g_free, fresh_free) = chain_grads(true);
    assert_eq!(g_keep, g_free);
    // Freed forward values serve the later gradients: fewer buffers from the system.
    assert!(fresh_free < fresh_keep, "{fresh_free} vs {fresh_keep}");
}

#[test]
#[should_panic(expected = "was released")]
fn values_freed_by_a_releasing_backward_cannot_be_read() {
    let pool = Pool::new();
    let mut tape = Tape::new(&pool);
    let x = tape.input(Tensor::from_vec([2], vec![3.0, -2.0]).unwrap());
    let y = mul(&mut tape, x, x).unwrap();
    let z = mul(&mut tape, y, y).unwrap();
    let l = sum(&mut tape, z).unwrap();
    tape.backward_releasing(l).unwrap();
    tape.value(y);
}
