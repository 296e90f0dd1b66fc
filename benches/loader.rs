//! Loader throughput with the paper's augmentation (flips + bilinear rotation) on
//! 1×100×100 and 3×100×100 images, compared with the target of 6,000 images/s
//! (5× the ~1,200 images/s the small network trains at on 2 CPU cores).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dcc::data::dataset::{write_dataset, Catalog, Dataset, OpenOptions};
use dcc::data::loader::{Loader, LoaderConfig, Split};
use std::sync::Arc;
use std::time::Instant;

const TARGET: f64 = 6000.0;

/// CPU seconds this process has used (user + system), from /proc (Linux only; 0 elsewhere).
/// The shared build machine is oversubscribed, so images per CPU-second says more about
/// the loader than wall time does.
fn cpu_seconds() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some(rest) = s.rsplit(')').next() else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn make(dir: &std::path::Path, n: usize, c: usize) {
    let hw = 100 * 100;
    let images: Vec<f32> = (0..n * c * hw)
        .map(|i| ((i % 9973) as f32 * 0.37).sin().abs() + 0.01)
        .collect();
    let rows = (0..n)
        .map(|i| {
            vec![
                format!("set{}", i % 4),
                format!("{}", [0.0, 0.1, 0.3, 1.0][i % 4]),
            ]
        })
        .collect();
    let cat = Catalog {
        columns: vec!["set".into(), "sigma".into()],
        rows,
    };
    write_dataset(dir, [n, c, 100, 100], &images, &cat).unwrap();
}

fn bench(c: &mut Criterion) {
    let root = std::env::temp_dir().join(format!("dcc-bench-loader-{}", std::process::id()));
    for channels in [1usize, 3] {
        let n = 960 / channels;
        let dir = root.join(format!("c{channels}"));
        make(&dir, n, channels);
        let ds = Arc::new(Dataset::open(&dir, &OpenOptions::default()).unwrap());
        for threads in [1usize, 2] {
            let cfg = LoaderConfig {
                threads,
                validation_fraction: 0.0,
                ..LoaderConfig::default()
            };
            let loader = Loader::new(ds.clone(), cfg).unwrap();
            let mut epoch = 0;
            // One plain measurement printed against the target, then criterion's.
            let (start, cpu0) = (Instant::now(), cpu_seconds());
            let mut imgs = 0;
            for e in 0..4 {
                imgs += loader
                    .epoch(Split::Train, 100 + e)
                    .map(|b| b.len())
                    .sum::<usize>();
            }
            let rate = imgs as f64 / start.elapsed().as_secs_f64();
            let per_cpu = imgs as f64 / (cpu_seconds() - cpu0).max(1e-9);
            println!(
                "loader {channels}×100×100, {threads} thread(s), flips+rotation: {rate:.0} images/s wall \
                 = {:.2}× the {TARGET} images/s target; {per_cpu:.0} images per CPU-second \
                 (2 cores ⇒ {:.2}× the target)",
                rate / TARGET,
                2.0 * per_cpu / TARGET
            );
            let imgs = imgs / 4;
            let mut g = c.benchmark_group(format!("loader_{channels}x100x100"));
            g.throughput(Throughput::Elements(imgs as u64));
            g.sample_size(10);
            g.bench_function(format!("epoch_threads{threads}"), |b| {
                b.iter(|| {
                    epoch += 1;
                    loader
                        .epoch(Split::Train, epoch)
                        .map(|b| b.len())
                        .sum::<usize>()
                })
            });
            g.finish();
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}

criterion_group!(benches, bench);
criterion_main!(benches);
