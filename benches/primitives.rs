//! Criterion timings of every primitive at the networks' shapes (batch 16 to keep the
//! sweep short), with throughput in FLOPs so criterion prints GFLOP/s; the sgemm
//! ceiling of this machine is printed first for comparison.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dcc::autograd::{Tape, Var};
use dcc::bench::{gemm_ceiling, primitive_cases};
use dcc::tensor::Pool;

fn primitives(c: &mut Criterion) {
    let (one, all) = gemm_ceiling();
    println!("sgemm ceiling 1024³: {one:.1} GFLOP/s on 1 thread, {all:.1} GFLOP/s on all threads");
    let pool = Pool::new();
    let mut g = c.benchmark_group("primitives");
    g.sample_size(10);
    for case in primitive_cases(16) {
        g.throughput(Throughput::Elements(case.flops as u64));
        g.bench_function(format!("{} fwd", case.name), |b| {
            b.iter(|| {
                let mut tape = Tape::new(&pool);
                let v: Vec<Var> = case
                    .inputs
                    .iter()
                    .map(|t| tape.constant(t.clone()))
                    .collect();
                (case.build)(&mut tape, &v).expect("benchmark case runs")
            })
        });
        g.throughput(Throughput::Elements(2 * case.flops as u64));
        g.bench_function(format!("{} fwd+bwd", case.name), |b| {
            b.iter(|| {
                let mut tape = Tape::new(&pool);
                let v: Vec<Var> = case.inputs.iter().map(|t| tape.input(t.clone())).collect();
                let y = (case.build)(&mut tape, &v).expect("benchmark case runs");
                let seed = tape.value(y).clone();
                tape.backward_with(y, seed).expect("backward runs");
            })
        });
    }
    g.finish();
}

criterion_group!(benches, primitives);
criterion_main!(benches);
