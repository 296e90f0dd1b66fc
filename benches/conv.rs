//! Convolution and max-pool speed on the real layer shapes of both paper networks at
//! batch 120, in GFLOP/s (2·N·O·Ho·Wo·I·kH·kW per pass), against the sgemm ceiling.
//!
//! `cargo bench --bench conv` runs criterion on a few layers; `CONV_TABLE=1 cargo bench
//! --bench conv` instead prints one quick table of every layer (best of a few runs),
//! the sgemm ceiling and the conv-only images/s of each network (`CONV_TABLE=small`,
//! `inception` or `pool` for one part; `CONV_FILTER=<text>` keeps matching layers;
//! `CONV_REPS=n` multiplies the repetitions; `CONV_COMPARE=1` also times the portable
//! sgemm path; `CONV_CPU_TIME=1` reports CPU time / threads instead of wall time, the
//! honest number on a machine shared with other jobs).

use criterion::{criterion_group, Criterion, Throughput};
use dcc::cpu::conv2d::{
    conv2d_backward_input, conv2d_backward_weight, conv2d_forward, disable_microkernel,
    Conv2dParams, ConvGeom,
};
use dcc::cpu::gemm::{sgemm, Operand, Par};
use dcc::cpu::pool2d::{max_pool_backward, max_pool_forward, PoolGeom};
use std::time::Instant;

const BATCH: usize = 120;

/// One layer shape: name, geometry, how many times the network has it, whether its
/// input needs a gradient.
struct Layer {
    name: String,
    g: ConvGeom,
    count: usize,
    needs_dx: bool,
}

fn layer(name: &str, c: usize, o: usize, s: usize, k: usize, p: Conv2dParams) -> Layer {
    let g = ConvGeom::new([BATCH, c, s, s], [o, c, k, k], p).expect("bench shape");
    Layer {
        name: name.to_string(),
        g,
        count: 1,
        needs_dx: true,
    }
}

fn small_net() -> Vec<Layer> {
    let v = Conv2dParams::valid();
    let mut l = vec![
        layer("small 1→8 @100 k3", 1, 8, 100, 3, v),
        layer("small 8→16 @49 k3", 8, 16, 49, 3, v),
        layer("small 16→32 @23 k3", 16, 32, 23, 3, v),
        layer("small 32→64 @10 k3", 32, 64, 10, 3, v),
        layer("small 64→128 @4 k3", 64, 128, 4, 3, v),
    ];
    l[0].needs_dx = false;
    l
}

/// Every conv of the Inception network, one entry per distinct shape with its count.
fn inception_net() -> Vec<Layer> {
    let blocks = [
        (2, 64, 100, 1),
        (64, 128, 50, 1),
        (128, 256, 25, 1),
        (256, 256, 25, 1),
        (256, 256, 12, 2),
        (256, 256, 6, 2),
    ];
    let mut out = Vec::new();
    for (cin, c, s, reps) in blocks {
        let first = cin == 2;
        let mut add = |name: String, ci, co, k, n: usize, dx: bool| {
            let mut l = layer(&name, ci, co, s, k, Conv2dParams::same(k));
            l.count = n * reps;
            l.needs_dx = dx;
            out.push(l);
        };
        let pw = cin;
        add(
            format!("inc 1×1 {pw}→{} @{s}", c / 8),
            pw,
            c / 8,
            1,
            1,
            !first,
        );
        add(
            format!("inc 1×1 {pw}→{} @{s}", c / 16),
            pw,
            c / 16,
            1,
            1,
            !first,
        );
        add(
            format!("inc 5×5 {}→{} @{s}", c / 16, c / 8),
            c / 16,
            c / 8,
            5,
            1,
            true,
        );
        add(
            format!("inc 1×1 {pw}→{} @{s}", 3 * c / 8),
            pw,
            3 * c / 8,
            1,
            1,
            !first,
        );
        add(
            format!("inc 3×3 {}→{} @{s}", 3 * c / 8, c / 2),
            3 * c / 8,
            c / 2,
            3,
            1,
            true,
        );
        add(
            format!("inc 1×1 {pw}→{} @{s}", c / 4),
            pw,
            c / 4,
            1,
            1,
            !first,
        );
    }
    out
}

fn values(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5)
        .collect()
}

struct Bufs {
    x: Vec<f32>,
    w: Vec<f32>,
    y: Vec<f32>,
    dx: Vec<f32>,
    dw: Vec<f32>,
}

fn bufs(g: &ConvGeom) -> Bufs {
    let xn = g.n * g.c * g.h * g.w;
    let yn = g.out_dims().iter().product();
    Bufs {
        x: values(xn),
        w: values(g.o * g.k()),
        y: values(yn),
        dx: vec![0.0; xn],
        dw: vec![0.0; g.o * g.k()],
    }
}

/// CPU seconds used so far by every thread of this process (Linux schedstat, ns
/// resolution); None elsewhere.
fn cpu_seconds() -> Option<f64> {
    let mut ns = 0u64;
    for e in std::fs::read_dir("/proc/self/task").ok()? {
        let s = std::fs::read_to_string(e.ok()?.path().join("schedstat")).ok()?;
        ns += s.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(ns as f64 * 1e-9)
}

/// Seconds of one run, best of `reps` after a warm-up. On a shared machine wall time
/// lies, so with `CONV_CPU_TIME` set this is CPU seconds divided by the thread count:
/// the wall time the run would take on otherwise idle cores.
fn best(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let use_cpu = std::env::var_os("CONV_CPU_TIME").is_some();
    let threads = rayon::current_num_threads() as f64;
    (0..reps)
        .map(|_| {
            let (t, c) = (Instant::now(), cpu_seconds());
            f();
            match (use_cpu, c, cpu_seconds()) {
                (true, Some(a), Some(b)) => (b - a) / threads,
                _ => t.elapsed().as_secs_f64(),
            }
        })
        .fold(f64::INFINITY, f64::min)
}

fn sgemm_ceiling() {
    let n = 1024;
    let a = values(n * n);
    let b = values(n * n);
    let mut c = vec![0.0; n * n];
    for par in [Par::Seq, Par::All] {
        let t = best(5, || {
            sgemm(
                n,
                n,
                n,
                Operand::new(&a, n),
                Operand::new(&b, n),
                &mut c,
                n,
                false,
                par,
            )
        });
        // `best` divides CPU time by the pool's thread count; a Seq call uses one thread.
        let t = if par == Par::Seq && std::env::var_os("CONV_CPU_TIME").is_some() {
            t * rayon::current_num_threads() as f64
        } else {
            t
        };
        println!(
            "sgemm 1024³ {par:?}: {:.1} GFLOP/s",
            2.0 * (n * n * n) as f64 / t / 1e9
        );
    }
}

/// Prints per-layer GFLOP/s and returns the network's conv seconds per batch.
fn table(title: &str, layers: &[Layer]) -> f64 {
    println!("\n{title} (batch {BATCH})");
    println!(
        "{:<26} {:>5} {:>9} {:>9} {:>9} {:>9}",
        "layer", "count", "fwd", "bwd-in", "bwd-w", "ms/batch"
    );
    let mut total = 0.0;
    let filter = std::env::var("CONV_FILTER").unwrap_or_default();
    for l in layers.iter().filter(|l| l.name.contains(filter.as_str())) {
        let g = &l.g;
        let mut b = bufs(g);
        // More repetitions give a steadier minimum on a shared machine.
        let scale: usize = std::env::var("CONV_REPS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let reps = scale * if g.flops() > 5e9 { 2 } else { 4 };
        let compare = std::env::var_os("CONV_COMPARE").is_some();
        // Interleaves the micro-kernel and the sgemm path so both see the same load.
        let pair = |f: &mut dyn FnMut()| -> (f64, f64) {
            let (mut a, mut s) = (f64::INFINITY, f64::INFINITY);
            for _ in 0..if compare { reps } else { 1 } {
                a = a.min(best(if compare { 1 } else { reps }, &mut *f));
                if compare {
                    disable_microkernel(true);
                    s = s.min(best(1, &mut *f));
                    disable_microkernel(false);
                }
            }
            (a, s)
        };
        let (tf, sf) = pair(&mut || conv2d_forward(g, &b.x, &b.w, None, &mut b.y));
        let (ti, si) = if l.needs_dx {
            pair(&mut || conv2d_backward_input(g, &b.w, &b.y, &mut b.dx))
        } else {
            (0.0, 0.0)
        };
        let (tw, sw) = pair(&mut || conv2d_backward_weight(g, &b.x, &b.y, &mut b.dw));
        if compare {
            let gs = |t: f64| {
                if t > 0.0 {
                    format!("{:.1}", g.flops() / t / 1e9)
                } else {
                    "-".into()
                }
            };
            println!(
                "{:<26}   sgemm path: fwd {} bwd-in {} bwd-w {}",
                "",
                gs(sf),
                gs(si),
                gs(sw)
            );
        }
        let gf = |t: f64| {
            if t > 0.0 {
                format!("{:.1}", g.flops() / t / 1e9)
            } else {
                "-".into()
            }
        };
        let ms = (tf + ti + tw) * l.count as f64 * 1e3;
        total += ms / 1e3;
        println!(
            "{:<26} {:>5} {:>9} {:>9} {:>9} {:>9.1}",
            l.name,
            l.count,
            gf(tf),
            gf(ti),
            gf(tw),
            ms
        );
    }
    println!(
        "{title}: conv fwd+bwd {:.1} ms/batch → {:.0} images/s (conv only)",
        total * 1e3,
        BATCH as f64 / total
    );
    total
}

fn pool_table() {
    println!("\nmax-pool (batch {BATCH})");
    for (name, c, s, k, st, p) in [
        ("2×2 s2 8ch @98", 8, 98, 2, 2, 0),
        ("2×2 s2 64ch @50", 64, 50, 2, 2, 0),
        ("3×3 s1 p1 64ch @50", 64, 50, 3, 1, 1),
        ("3×3 s1 p1 256ch @25", 256, 25, 3, 1, 1),
    ] {
        let g = PoolGeom::new([BATCH, c, s, s], k, st, p).expect("pool shape");
        let x = values(BATCH * c * s * s);
        let mut y = vec![0.0; g.out_dims().iter().product()];
        let mut a = vec![0u8; y.len()];
        let mut dx = vec![0.0; x.len()];
        let tf = best(4, || max_pool_forward(&g, &x, &mut y, &mut a));
        let tb = best(4, || max_pool_backward(&g, &y, &a, &mut dx));
        let gb = |t: f64| (x.len() * 4) as f64 / t / 1e9;
        println!(
            "{name:<22} fwd {:.2} ms ({:.1} GB/s in)  bwd {:.2} ms",
            tf * 1e3,
            gb(tf),
            tb * 1e3
        );
    }
}

fn criterion_layers(c: &mut Criterion) {
    let mut layers = small_net();
    layers.extend(
        inception_net()
            .into_iter()
            .filter(|l| l.g.h == 100 || l.name.contains("96→128")),
    );
    for l in &layers {
        let g = l.g;
        let mut b = bufs(&g);
        let mut grp = c.benchmark_group(l.name.replace(['→', '×', '@'], "_"));
        grp.throughput(Throughput::Elements(g.flops() as u64));
        grp.sample_size(10);
        grp.bench_function("fwd", |bch| {
            bch.iter(|| conv2d_forward(&g, &b.x, &b.w, None, &mut b.y))
        });
        grp.bench_function("bwd_in", |bch| {
            bch.iter(|| conv2d_backward_input(&g, &b.w, &b.y, &mut b.dx))
        });
        grp.bench_function("bwd_w", |bch| {
            bch.iter(|| conv2d_backward_weight(&g, &b.x, &b.y, &mut b.dw))
        });
        grp.finish();
    }
}

criterion_group!(benches, criterion_layers);

fn main() {
    if std::env::var_os("CONV_TABLE").is_some() {
        let only = std::env::var("CONV_TABLE").unwrap_or_default();
        println!("threads: {}", rayon::current_num_threads());
        sgemm_ceiling();
        if only == "pool" {
            pool_table();
            return;
        }
        if only != "inception" {
            table("small network", &small_net());
        }
        if only != "small" {
            table("inception network", &inception_net());
        }
        pool_table();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
