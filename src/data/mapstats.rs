//! Summary statistics of one map that a change of instrument, pixel scale or generator
//! moves: each channel's azimuthal profile around its peak in octave-wide annuli, and its
//! detail energy at octave scales (a Laplacian pyramid of 2×2 means). Both are compressed
//! with asinh so noisy (negative) values and many decades of dynamic range stay usable.

/// Radii (pixels) bounding the profile's annuli: [0, 1), [1, 2), [2, 4), … [32, 64).
const EDGES: [f64; 8] = [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];
/// Pyramid levels whose detail energy is kept.
const LEVELS: usize = 5;
/// Statistics per channel.
pub const PER_CHANNEL: usize = EDGES.len() - 1 + LEVELS;

/// The statistics of a C×H×W image, `PER_CHANNEL` per channel.
pub fn map_statistics(img: &[f32], c: usize, h: usize, w: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(c * PER_CHANNEL);
    for plane in img.chunks(h * w).take(c) {
        profile(plane, h, w, &mut out);
        pyramid(plane, h, w, &mut out);
    }
    out
}

fn squash(v: f64, unit: f64) -> f32 {
    (v / unit).asinh() as f32
}

/// The peak of the 3×3 box-smoothed plane (a single hot pixel does not move it).
fn peak(p: &[f32], h: usize, w: usize) -> (f64, f64) {
    let mut best = (f64::NEG_INFINITY, h / 2, w / 2);
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let mut s = 0.0;
            for dy in 0..3 {
                for dx in 0..3 {
                    s += p[(y + dy - 1) * w + x + dx - 1] as f64;
                }
            }
            if s > best.0 {
                best = (s, y, x);
            }
        }
    }
    (best.1 as f64, best.2 as f64)
}

fn profile(p: &[f32], h: usize, w: usize, out: &mut Vec<f32>) {
    let (cy, cx) = peak(p, h, w);
    let n = EDGES.len() - 1;
    let (mut sum, mut cnt) = (vec![0.0f64; n], vec![0usize; n]);
    for y in 0..h {
        for x in 0..w {
            let r = ((y as f64 - cy).powi(2) + (x as f64 - cx).powi(2)).sqrt();
            if let Some(k) = (0..n).find(|&k| r >= EDGES[k] && r < EDGES[k + 1]) {
                sum[k] += p[y * w + x] as f64;
                cnt[k] += 1;
            }
        }
    }
    let mut last = 0.0;
    for k in 0..n {
        // An annulus outside a small map repeats the last one it reached.
        if cnt[k] > 0 {
            last = sum[k] / cnt[k] as f64;
        }
        out.push(squash(last, 1e-3));
    }
}

fn pyramid(p: &[f32], h: usize, w: usize, out: &mut Vec<f32>) {
    let (mut cur, mut ch, mut cw) = (p.iter().map(|&v| v as f64).collect::<Vec<_>>(), h, w);
    for _ in 0..LEVELS {
        let (nh, nw) = (ch / 2, cw / 2);
        if nh == 0 || nw == 0 {
            out.push(0.0);
            continue;
        }
        let mut down = vec![0.0f64; nh * nw];
        for y in 0..nh {
            for x in 0..nw {
                down[y * nw + x] = (cur[2 * y * cw + 2 * x]
                    + cur[2 * y * cw + 2 * x + 1]
                    + cur[(2 * y + 1) * cw + 2 * x]
                    + cur[(2 * y + 1) * cw + 2 * x + 1])
                    / 4.0;
            }
        }
        let mut energy = 0.0;
        for y in 0..2 * nh {
            for x in 0..2 * nw {
                energy += (cur[y * cw + x] - down[(y / 2) * nw + x / 2]).powi(2);
            }
        }
        out.push(squash((energy / (4 * nh * nw) as f64).sqrt(), 1e-4));
        (cur, ch, cw) = (down, nh, nw);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(h: usize, w: usize, s: f64) -> Vec<f32> {
        (0..h * w)
            .map(|i| {
                let (y, x) = ((i / w) as f64 - 20.0, (i % w) as f64 - 24.0);
                (-(y * y + x * x) / (2.0 * s * s)).exp() as f32
            })
            .collect()
    }

    #[test]
    fn profile_is_centred_on_the_peak_and_falls_with_radius() {
        let s = map_statistics(&blob(48, 48, 3.0), 1, 48, 48);
        assert_eq!(s.len(), PER_CHANNEL);
        assert!(s[..7].windows(2).all(|w| w[0] >= w[1]), "{s:?}");
        assert!((s[0] - (1.0f64 / 1e-3).asinh() as f32).abs() < 1e-4);
    }

    #[test]
    fn pixel_scale_detail_and_a_wider_profile_show_up_where_expected() {
        let smooth = blob(48, 48, 3.0);
        let rough: Vec<f32> = smooth
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v + if (i / 48 + i % 48) % 2 == 0 {
                    0.01
                } else {
                    -0.01
                }
            })
            .collect();
        let (a, b) = (
            map_statistics(&smooth, 1, 48, 48),
            map_statistics(&rough, 1, 48, 48),
        );
        // A checkerboard lives at the finest level only.
        assert!(b[7] > a[7] + 0.1, "finest level {} vs {}", b[7], a[7]);
        assert!(
            (b[9] - a[9]).abs() < 0.05,
            "coarser level {} vs {}",
            b[9],
            a[9]
        );
        let wide = map_statistics(&blob(48, 48, 6.0), 1, 48, 48);
        assert!(wide[4] > a[4], "profile at 8–16 px {} vs {}", wide[4], a[4]);
    }

    #[test]
    fn tiny_maps_do_not_panic() {
        let s = map_statistics(&[1.0, 0.5, 0.25, 0.0], 1, 2, 2);
        assert_eq!(s.len(), PER_CHANNEL);
        assert!(s.iter().all(|v| v.is_finite()));
    }
}
