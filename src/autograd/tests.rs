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
