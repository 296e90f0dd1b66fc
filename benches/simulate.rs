//! Simulator throughput: criterion time per map for a CDM, an SIDM (cored: line-of-sight
//! table) and a noisy map, then a parallel run of the four BAHAMAS-like sets extrapolated
//! to the paper-size training set (4 × 3,600 maps, 3 channels, 100×100) and compared with
//! the 60 s target.

use criterion::{black_box, Criterion};
use dcc::data::sim::config::Channel;
use dcc::data::sim::output::simulate_map;
use dcc::data::sim::presets::{resolve_set, Preset};
use rayon::prelude::*;
use std::time::{Duration, Instant};

const CHANNELS: [Channel; 3] = [Channel::Mass, Channel::Xray, Channel::Stellar];

fn per_map(c: &mut Criterion) {
    for name in ["cdm", "1", "cdm:lensing=30:xray=20..1000"] {
        let set = resolve_set(name, Preset::Bahamas).expect("a valid set");
        let mut i = 0;
        c.bench_function(&format!("simulate_map/{name}"), |b| {
            b.iter(|| {
                i += 1;
                black_box(simulate_map(&set, &CHANNELS, 0, i))
            })
        });
    }
}

/// Generates 4 sets × `n` maps on the rayon pool and extrapolates to 4 × 3,600.
fn paper_size_extrapolation(n: usize) {
    let sets: Vec<_> = ["cdm", "0.1", "0.3", "1"]
        .iter()
        .map(|s| resolve_set(s, Preset::Bahamas).expect("a valid set"))
        .collect();
    let jobs: Vec<(usize, usize)> = (0..4).flat_map(|s| (0..n).map(move |i| (s, i))).collect();
    let start = Instant::now();
    let bytes: usize = jobs
        .par_iter()
        .map(|&(s, i)| simulate_map(&sets[s], &CHANNELS, 0, i).pixels.len() * 4)
        .sum();
    let t = start.elapsed().as_secs_f64();
    let per = t / jobs.len() as f64;
    let paper = per * 4.0 * 3600.0;
    println!(
        "paper-size extrapolation: {} maps in {t:.2} s on {} threads = {:.2} ms/map wall \
         → 14,400 maps in {paper:.1} s (target 60 s, ratio {:.2}; {} MB generated)",
        jobs.len(),
        rayon::current_num_threads(),
        per * 1e3,
        paper / 60.0,
        bytes / 1_000_000
    );
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    per_map(&mut c);
    c.final_summary();
    paper_size_extrapolation(200);
}
