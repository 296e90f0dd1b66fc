//! Pairwise distances of low-dimensional latents with a fused consumer: the k nearest
//! references of every query, or Gaussian kernel sums over all references, evaluated
//! one reference tile at a time so that no query × reference matrix ever exists.
//!
//! Distances are summed as Σ_k (q_k − r_k)² in f32 in dimension order, not through
//! ‖q‖² + ‖r‖² − 2 q·r: no cancellation, so a squared distance is within (D + 2)·2⁻²⁴ of
//! its exact value relative to itself (and exactly 0 for a point against itself),
//! never negative. For wide features (penultimate activations, D in the hundreds) the
//! Gram form through sgemm is faster; `dcc::knn` picks between the two.

use rayon::prelude::*;

/// References per tile: D × TILE floats stay in L1 with the tile's distances.
const TILE: usize = 512;
/// Queries per parallel task.
const QUERIES: usize = 16;
/// Distances tested at once against the current k-th before any is looked at singly.
const SCAN: usize = 16;

/// References transposed (D × M) so that one query's distances vectorise over them.
pub struct RefsT {
    data: Vec<f32>,
    m: usize,
    d: usize,
}

impl RefsT {
    /// Transposes row-major references (M × D).
    pub fn new(refs: &[f32], d: usize) -> RefsT {
        let m = refs.len() / d.max(1);
        let mut data = vec![0.0; m * d];
        for (j, r) in refs.chunks_exact(d).enumerate() {
            for (k, &v) in r.iter().enumerate() {
                data[k * m + j] = v;
            }
        }
        RefsT { data, m, d }
    }

    /// The transposed values (D × M).
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// Squared distances from `q` to references j0..j0 + out.len(), one dimension at a
    /// time over the whole tile (measured faster than keeping eight sums in registers
    /// across dimensions: the loops stay unit-stride and free of bounds checks). Where
    /// the CPU has AVX-512 the same loop runs 16 lanes wide (same operations, same bits).
    fn tile(&self, q: &[f32], j0: usize, out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if avx512() {
            // SAFETY: the CPU reports AVX-512F, the only feature the variant enables.
            unsafe { tile_avx512(&self.data, self.m, q, j0, out) };
            return;
        }
        tile_body(&self.data, self.m, q, j0, out);
    }
}

#[cfg(target_arch = "x86_64")]
fn avx512() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| std::is_x86_feature_detected!("avx512f"))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tile_avx512(data: &[f32], m: usize, q: &[f32], j0: usize, out: &mut [f32]) {
    tile_body(data, m, q, j0, out)
}

#[inline(always)]
fn tile_body(data: &[f32], m: usize, q: &[f32], j0: usize, out: &mut [f32]) {
    macro_rules! fixed {
        ($($d:literal)*) => {
            match q.len() {
                $($d => return tile_fixed::<$d>(data, m, q, j0, out),)*
                _ => {}
            }
        };
    }
    // D = 5…16 get register-resident sums (measured 1.4× at D = 7); below 5 the
    // compiler's code for them was slower than the dimension-at-a-time loop below
    // (0.30 s against 0.10 s at D = 3), and wider rows take that loop too.
    fixed!(5 6 7 8 9 10 11 12 13 14 15 16);
    let len = out.len();
    for (k, &qk) in q.iter().enumerate() {
        let col = &data[k * m + j0..k * m + j0 + len];
        if k == 0 {
            for (o, &c) in out.iter_mut().zip(col) {
                let t = qk - c;
                *o = t * t;
            }
        } else {
            for (o, &c) in out.iter_mut().zip(col) {
                let t = qk - c;
                *o += t * t;
            }
        }
    }
}

/// Sixteen references at a time with their sums kept in registers across the D
/// dimensions (D known at compile time); the tail as in `tile_body`.
#[inline(always)]
fn tile_fixed<const D: usize>(data: &[f32], m: usize, q: &[f32], j0: usize, out: &mut [f32]) {
    let len = out.len();
    let full = len - len % 16;
    let qa: [f32; D] = q.try_into().expect("D values");
    let cols: [&[f32]; D] = std::array::from_fn(|k| &data[k * m + j0..k * m + j0 + len]);
    for j in (0..full).step_by(16) {
        let mut acc = [0.0f32; 16];
        for k in 0..D {
            let c: &[f32; 16] = cols[k][j..j + 16].try_into().expect("16 values");
            for l in 0..16 {
                let t = qa[k] - c[l];
                acc[l] = if k == 0 { t * t } else { acc[l] + t * t };
            }
        }
        out[j..j + 16].copy_from_slice(&acc);
    }
    for j in full..len {
        let mut acc = 0.0f32;
        for k in 0..D {
            let t = qa[k] - cols[k][j];
            acc = if k == 0 { t * t } else { acc + t * t };
        }
        out[j] = acc;
    }
}

/// The smallest value of `x` (+∞ when empty), sixteen lanes at a time.
fn min_of(x: &[f32]) -> f32 {
    let mut m = [f32::INFINITY; 16];
    let chunks = x.chunks_exact(16);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..16 {
            m[l] = if c[l] < m[l] { c[l] } else { m[l] };
        }
    }
    rest.iter()
        .chain(m.iter())
        .fold(f32::INFINITY, |a, &b| if b < a { b } else { a })
}

/// Whether any value of `x` is below `bound` (the top-k's vectorised early-out).
fn any_below(x: &[f32], bound: f32) -> bool {
    let mut hit = [false; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..8 {
            hit[l] |= c[l] < bound;
        }
    }
    hit.iter().any(|&h| h) || rest.iter().any(|&v| v < bound)
}

/// The `need` nearest references of each query: squared distances ascending and indices,
/// N × need row-major. Ties keep the lower reference index first.
pub fn nearest_sq(queries: &[f32], refs: &RefsT, need: usize) -> (Vec<f32>, Vec<u32>) {
    let d = refs.d;
    let n = queries.len() / d.max(1);
    let mut dist = vec![f32::INFINITY; n * need];
    let mut index = vec![0u32; n * need];
    dist.par_chunks_mut(QUERIES * need)
        .zip(index.par_chunks_mut(QUERIES * need))
        .enumerate()
        .for_each(|(b, (dist, index))| {
            let mut buf = vec![0.0f32; TILE];
            let rows = dist.len() / need;
            for j0 in (0..refs.m).step_by(TILE) {
                let len = TILE.min(refs.m - j0);
                for r in 0..rows {
                    let i = b * QUERIES + r;
                    let top_d = &mut dist[r * need..(r + 1) * need];
                    let top_i = &mut index[r * need..(r + 1) * need];
                    refs.tile(&queries[i * d..(i + 1) * d], j0, &mut buf[..len]);
                    // After the first tiles almost none holds a distance below the
                    // current k-th: a vectorised minimum skips the tile, a vectorised
                    // test each chunk of 16, before any distance is looked at singly.
                    if min_of(&buf[..len]) >= top_d[need - 1] {
                        continue;
                    }
                    for (c, chunk) in buf[..len].chunks(SCAN).enumerate() {
                        if !any_below(chunk, top_d[need - 1]) {
                            continue;
                        }
                        for (jj, &d2) in chunk.iter().enumerate() {
                            if d2 < top_d[need - 1] {
                                let mut p = need - 1;
                                while p > 0 && top_d[p - 1] > d2 {
                                    top_d[p] = top_d[p - 1];
                                    top_i[p] = top_i[p - 1];
                                    p -= 1;
                                }
                                top_d[p] = d2;
                                top_i[p] = (j0 + c * SCAN + jj) as u32;
                            }
                        }
                    }
                }
            }
        });
    (dist, index)
}

/// For each query, Σ_j exp(−‖q − r_j‖² / (2h²)) over all references (unnormalised
/// Gaussian kernel sums; summed per tile in f32, across tiles in f64).
pub fn gaussian_sums(queries: &[f32], refs: &RefsT, bandwidth: f32) -> Vec<f64> {
    let d = refs.d;
    let n = queries.len() / d.max(1);
    let c = -0.5 / (bandwidth * bandwidth);
    let mut out = vec![0.0f64; n];
    out.par_chunks_mut(QUERIES).enumerate().for_each(|(b, o)| {
        let mut buf = vec![0.0f32; TILE];
        for j0 in (0..refs.m).step_by(TILE) {
            let len = TILE.min(refs.m - j0);
            for (r, acc) in o.iter_mut().enumerate() {
                let i = b * QUERIES + r;
                refs.tile(&queries[i * d..(i + 1) * d], j0, &mut buf[..len]);
                let mut s = [0.0f32; 8];
                let chunks = buf[..len].chunks_exact(8);
                let rest = chunks.remainder();
                for ch in chunks {
                    for l in 0..8 {
                        s[l] += super::fastmath::exp(c * ch[l]);
                    }
                }
                let tail: f32 = rest.iter().map(|&v| super::fastmath::exp(c * v)).sum();
                *acc += (s.iter().sum::<f32>() + tail) as f64;
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::seed_values;
    use proptest::prelude::*;

    fn brute(q: &[f32], r: &[f32], d: usize) -> Vec<Vec<(f64, usize)>> {
        q.chunks(d)
            .map(|qi| {
                let mut all: Vec<(f64, usize)> = r
                    .chunks(d)
                    .enumerate()
                    .map(|(j, rj)| {
                        let s = qi
                            .iter()
                            .zip(rj)
                            .map(|(a, b)| (*a as f64 - *b as f64).powi(2));
                        (s.sum(), j)
                    })
                    .collect();
                all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                all
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn tiled_nearest_matches_a_full_sort(
            nq in 1usize..40, nr in 1usize..1300, d in 1usize..9, need in 1usize..65, seed in 0u64..500,
        ) {
            let need = need.min(nr);
            let q = seed_values(nq * d, seed);
            let r = seed_values(nr * d, seed + 1);
            let (dist, idx) = nearest_sq(&q, &RefsT::new(&r, d), need);
            let want = brute(&q, &r, d);
            for i in 0..nq {
                for p in 0..need {
                    let (wd, _) = want[i][p];
                    let got = dist[i * need + p] as f64;
                    prop_assert!((got - wd).abs() <= 1e-6 * wd + 1e-12, "query {i} rank {p}: {got} vs {wd}");
                    // The index must name a reference at that distance (ties may swap).
                    let j = idx[i * need + p] as usize;
                    let dj: f64 = q[i * d..(i + 1) * d].iter().zip(&r[j * d..(j + 1) * d])
                        .map(|(a, b)| (*a as f64 - *b as f64).powi(2)).sum();
                    prop_assert!((dj - wd).abs() <= 1e-6 * wd + 1e-12);
                }
            }
        }

        #[test]
        fn kernel_sums_match_the_direct_sum(
            nq in 1usize..20, nr in 1usize..1500, d in 1usize..9, h in 0.05f32..2.0, seed in 0u64..500,
        ) {
            let q = seed_values(nq * d, seed);
            let r = seed_values(nr * d, seed + 3);
            let got = gaussian_sums(&q, &RefsT::new(&r, d), h);
            for (i, qi) in q.chunks(d).enumerate() {
                let want: f64 = r.chunks(d).map(|rj| {
                    let d2: f64 = qi.iter().zip(rj).map(|(a, b)| (*a as f64 - *b as f64).powi(2)).sum();
                    (-d2 / (2.0 * h as f64 * h as f64)).exp()
                }).sum();
                prop_assert!((got[i] - want).abs() <= 1e-5 * want + 1e-30, "{} vs {want}", got[i]);
            }
        }
    }

    #[test]
    fn a_point_is_at_distance_zero_from_itself() {
        let r = seed_values(300 * 7, 2)
            .iter()
            .map(|v| v * 1e3 + 5e3)
            .collect::<Vec<_>>();
        let (dist, idx) = nearest_sq(&r, &RefsT::new(&r, 7), 1);
        assert!(dist.iter().all(|&v| v == 0.0));
        assert!(idx.iter().enumerate().all(|(i, &j)| i == j as usize));
    }
}
