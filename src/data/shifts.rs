//! Domain shifts made from maps rather than from the simulator: what another generator or
//! another instrument could hand a trained network (blur, other pixel scales, noise,
//! swapped or inverted channels, other profile families, point-like maps), and a
//! near-domain control (noise far below anything the answer notices). Every transform
//! works on one C×H×W image in whatever units it comes in: amplitudes are relative to
//! each channel's largest absolute value.

use anyhow::{bail, Result};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// One kind of map-level shift.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MapShift {
    /// Gaussian noise of this σ relative to each channel's peak.
    Noise(f64),
    /// Gaussian blur of this σ in pixels.
    Blur(f64),
    /// Magnification about the map centre (2 = zoomed in: half the field fills the map;
    /// 0.5 = zoomed out: the field shrinks into the middle, zero around it).
    Zoom(f64),
    /// Channels in reverse order.
    ChannelSwap,
    /// Each channel mirrored in value: peak − x.
    Invert,
    /// Elliptical cored power laws (β-models) in every channel: another profile family,
    /// no substructure, no galaxies.
    MockBeta,
    /// A few unresolved sources on an empty field: point-like maps.
    MockPoints,
}

impl MapShift {
    /// Applies the shift to one image (`c` planes of `h`×`w`), drawing from `rng`.
    pub fn apply(
        self,
        img: &[f32],
        [c, h, w]: [usize; 3],
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<f32>> {
        let hw = h * w;
        if img.len() != c * hw || hw == 0 {
            bail!(
                "shift {self:?}: an image of {} values is not {c}×{h}×{w}",
                img.len()
            );
        }
        let peaks: Vec<f32> = img
            .chunks(hw)
            .map(|p| {
                p.iter()
                    .fold(0.0f32, |m, v| m.max(v.abs()))
                    .max(f32::MIN_POSITIVE)
            })
            .collect();
        Ok(match self {
            MapShift::Noise(s) => img
                .chunks(hw)
                .zip(&peaks)
                .flat_map(|(p, &pk)| {
                    p.iter()
                        .map(|&v| {
                            let g: f64 = StandardNormal.sample(rng);
                            v + (g * s) as f32 * pk
                        })
                        .collect::<Vec<_>>()
                })
                .collect(),
            MapShift::Blur(sigma) => img.chunks(hw).flat_map(|p| blur(p, h, w, sigma)).collect(),
            MapShift::Zoom(z) => img.chunks(hw).flat_map(|p| zoom(p, h, w, z)).collect(),
            MapShift::ChannelSwap => img.chunks(hw).rev().flatten().copied().collect(),
            MapShift::Invert => img
                .chunks(hw)
                .zip(&peaks)
                .flat_map(|(p, &pk)| p.iter().map(move |&v| pk - v))
                .collect(),
            MapShift::MockBeta => mock_beta([c, h, w], rng),
            MapShift::MockPoints => mock_points([c, h, w], rng),
        })
    }
}

/// Separable Gaussian blur with clamped edges.
fn blur(p: &[f32], h: usize, w: usize, sigma: f64) -> Vec<f32> {
    let r = (3.0 * sigma).ceil() as isize;
    let k: Vec<f64> = (-r..=r)
        .map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let norm: f64 = k.iter().sum();
    let pass = |src: &[f32], along_rows: bool| -> Vec<f32> {
        let mut out = vec![0.0f32; h * w];
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0.0;
                for (j, kv) in k.iter().enumerate() {
                    let o = j as isize - r;
                    let (yy, xx) = if along_rows {
                        (y as isize, (x as isize + o).clamp(0, w as isize - 1))
                    } else {
                        ((y as isize + o).clamp(0, h as isize - 1), x as isize)
                    };
                    acc += kv * src[yy as usize * w + xx as usize] as f64;
                }
                out[y * w + x] = (acc / norm) as f32;
            }
        }
        out
    };
    pass(&pass(p, true), false)
}

/// Bilinear resampling about the centre by magnification `z`; zero outside the field.
fn zoom(p: &[f32], h: usize, w: usize, z: f64) -> Vec<f32> {
    let (cy, cx) = ((h as f64 - 1.0) / 2.0, (w as f64 - 1.0) / 2.0);
    let at = |y: isize, x: isize| -> f64 {
        if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
            0.0
        } else {
            p[y as usize * w + x as usize] as f64
        }
    };
    let mut out = vec![0.0f32; h * w];
    for y in 0..h {
        for x in 0..w {
            let sy = (y as f64 - cy) / z + cy;
            let sx = (x as f64 - cx) / z + cx;
            let (y0, x0) = (sy.floor(), sx.floor());
            let (fy, fx) = (sy - y0, sx - x0);
            let (y0, x0) = (y0 as isize, x0 as isize);
            let v = (1.0 - fy) * ((1.0 - fx) * at(y0, x0) + fx * at(y0, x0 + 1))
                + fy * ((1.0 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
            out[y * w + x] = v as f32;
        }
    }
    out
}

fn mock_beta([c, h, w]: [usize; 3], rng: &mut ChaCha8Rng) -> Vec<f32> {
    let rc = rng.gen_range(2.0..12.0);
    let q: f64 = rng.gen_range(0.6..1.0);
    let th: f64 = rng.gen_range(0.0..std::f64::consts::PI);
    let (cy, cx) = (
        h as f64 / 2.0 + rng.gen_range(-3.0..3.0),
        w as f64 / 2.0 + rng.gen_range(-3.0..3.0),
    );
    let mut out = Vec::with_capacity(c * h * w);
    for k in 0..c {
        // Shallow (isothermal-like, mass) to steep (X-ray-like) slopes channel by channel.
        let slope = 0.5 + 0.8 * k as f64 + rng.gen_range(-0.1..0.1);
        for y in 0..h {
            for x in 0..w {
                let (dy, dx) = (y as f64 - cy, x as f64 - cx);
                let u = dx * th.cos() + dy * th.sin();
                let v = (-dx * th.sin() + dy * th.cos()) / q;
                out.push((1.0 + (u * u + v * v) / (rc * rc)).powf(-slope) as f32);
            }
        }
    }
    out
}

fn mock_points([c, h, w]: [usize; 3], rng: &mut ChaCha8Rng) -> Vec<f32> {
    let n = rng.gen_range(1..=4);
    let src: Vec<(f64, f64, f64)> = (0..n)
        .map(|_| {
            (
                rng.gen_range(0.2..0.8) * h as f64,
                rng.gen_range(0.2..0.8) * w as f64,
                rng.gen_range(0.7..2.0),
            )
        })
        .collect();
    let mut out = Vec::with_capacity(c * h * w);
    for _ in 0..c {
        let amp: Vec<f64> = (0..n).map(|_| rng.gen_range(0.2..1.0)).collect();
        for y in 0..h {
            for x in 0..w {
                let v: f64 = src
                    .iter()
                    .zip(&amp)
                    .map(|(&(sy, sx, s), a)| {
                        a * (-((y as f64 - sy).powi(2) + (x as f64 - sx).powi(2)) / (2.0 * s * s))
                            .exp()
                    })
                    .sum();
                out.push(v as f32);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn disc(h: usize, w: usize) -> Vec<f32> {
        (0..h * w)
            .map(|i| {
                let (y, x) = ((i / w) as f64 - 7.5, (i % w) as f64 - 7.5);
                (-(y * y + x * x) / 8.0).exp() as f32
            })
            .collect()
    }

    #[test]
    fn blur_keeps_the_sum_away_from_edges_and_lowers_the_peak() {
        let p = disc(16, 16);
        let b = blur(&p, 16, 16, 1.5);
        let (s0, s1): (f32, f32) = (p.iter().sum(), b.iter().sum());
        assert!((s0 - s1).abs() < 5e-3 * s0, "{s0} vs {s1}");
        let peak = |v: &[f32]| v.iter().fold(0.0f32, |m, &x| m.max(x));
        assert!(peak(&b) < 0.8 * peak(&p));
    }

    #[test]
    fn zoom_one_is_the_identity_and_zoom_out_empties_the_border() {
        let p = disc(16, 16);
        let same = zoom(&p, 16, 16, 1.0);
        assert!(p.iter().zip(&same).all(|(a, b)| (a - b).abs() < 1e-6));
        let out = zoom(&p, 16, 16, 0.5);
        assert_eq!(out[0], 0.0);
        // Zoomed in, the profile is twice as wide: the value at 2 pixels from the centre
        // is (about) the original's at 1 pixel.
        let zin = zoom(&p, 16, 16, 2.0);
        assert!(zin[7 * 16 + 5] > p[7 * 16 + 5]);
    }

    #[test]
    fn channel_swap_inversion_and_noise_do_what_they_say() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let a = disc(16, 16);
        let img: Vec<f32> = a.iter().copied().chain(a.iter().map(|v| v * 0.5)).collect();
        let sw = MapShift::ChannelSwap
            .apply(&img, [2, 16, 16], &mut rng)
            .unwrap();
        assert_eq!(&sw[..256], &img[256..]);
        let inv = MapShift::Invert.apply(&img, [2, 16, 16], &mut rng).unwrap();
        let peak = img[..256].iter().fold(0.0f32, |m, &x| m.max(x));
        assert!((inv[0] - (peak - img[0])).abs() < 1e-7);
        let noisy = MapShift::Noise(0.1)
            .apply(&img, [2, 16, 16], &mut rng)
            .unwrap();
        let var: f64 = noisy[..256]
            .iter()
            .zip(&img[..256])
            .map(|(n, o)| ((n - o) as f64 / peak as f64).powi(2))
            .sum::<f64>()
            / 256.0;
        assert!((var.sqrt() - 0.1).abs() < 0.02, "noise σ {}", var.sqrt());
        assert!(MapShift::Invert
            .apply(&img[..10], [2, 16, 16], &mut rng)
            .is_err());
    }

    #[test]
    fn mocks_are_finite_and_peaked() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for kind in [MapShift::MockBeta, MapShift::MockPoints] {
            let m = kind
                .apply(&vec![0.0; 2 * 400], [2, 20, 20], &mut rng)
                .unwrap();
            assert_eq!(m.len(), 800);
            assert!(m.iter().all(|v| v.is_finite() && *v >= 0.0));
            assert!(m[..400].iter().fold(0.0f32, |a, &b| a.max(b)) > 0.1);
        }
    }
}
