//! Per-image augmentation and preprocessing on H×W channel planes: flips, rot90, rotation
//! by an arbitrary angle (bilinear, about the image centre, zero outside), per-channel max
//! normalisation and the mix-up label. Owns the pixel maths only; which transform an image
//! gets (the seeded draw) is decided here too, from an RNG the loader hands in.
//!
//! A transform maps every output pixel d (relative to the centre c = ((W−1)/2, (H−1)/2))
//! to the source point F·R(θ)·d + c, where R(θ) = [[cos, −sin], [sin, cos]] and F flips
//! axes. θ = 90° reproduces `np.rot90(img)` (counter-clockwise as displayed, row 0 on top).

use rand::Rng;

/// Which augmentations a training image gets; each is drawn per image.
#[derive(Clone, Debug, PartialEq)]
pub struct AugmentConfig {
    /// Random horizontal and vertical flips (each with probability ½).
    pub flips: bool,
    /// Random rotation by a multiple of 90° (square images only).
    pub rot90: bool,
    /// Random rotation by an angle uniform in [0°, 180°), bilinear.
    pub rotate: bool,
}

impl AugmentConfig {
    /// The paper's training augmentation: flips and rotation in [0°, 180°).
    pub fn paper() -> AugmentConfig {
        AugmentConfig {
            flips: true,
            rot90: false,
            rotate: true,
        }
    }

    /// No augmentation.
    pub fn none() -> AugmentConfig {
        AugmentConfig {
            flips: false,
            rot90: false,
            rotate: false,
        }
    }
}

/// One image's geometric transform.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transform {
    /// Mirror left–right.
    pub flip_h: bool,
    /// Mirror top–bottom.
    pub flip_v: bool,
    /// Counter-clockwise quarter turns, 0..4.
    pub quarter_turns: u8,
    /// Extra counter-clockwise rotation in degrees (bilinear when not a multiple of 90).
    pub angle_deg: f64,
}

impl Transform {
    /// The identity.
    pub const IDENTITY: Transform = Transform {
        flip_h: false,
        flip_v: false,
        quarter_turns: 0,
        angle_deg: 0.0,
    };

    /// Draws a transform for one image from `rng`; the draws are made in a fixed order
    /// whatever the config, so enabling one augmentation does not reshuffle the others.
    pub fn draw<R: Rng>(config: &AugmentConfig, rng: &mut R) -> Transform {
        let (fh, fv, q, a): (bool, bool, u8, f64) = (
            rng.gen(),
            rng.gen(),
            rng.gen_range(0..4),
            rng.gen_range(0.0..180.0),
        );
        Transform {
            flip_h: config.flips && fh,
            flip_v: config.flips && fv,
            quarter_turns: if config.rot90 { q } else { 0 },
            angle_deg: if config.rotate { a } else { 0.0 },
        }
    }

    /// The 2×2 matrix M (row-major) with source = M·d + c.
    fn matrix(&self) -> [f64; 4] {
        let total = self.angle_deg + 90.0 * self.quarter_turns as f64;
        let (s, c) = exact_sin_cos(total);
        let fx = if self.flip_h { -1.0 } else { 1.0 };
        let fy = if self.flip_v { -1.0 } else { 1.0 };
        [fx * c, -fx * s, fy * s, fy * c]
    }

    /// Whether the transform maps pixels onto pixels (no interpolation needed).
    fn is_exact(&self) -> bool {
        let r = self.angle_deg.rem_euclid(90.0);
        r == 0.0
    }

    /// Whether the output swaps the axes (needs a square image to keep the shape).
    pub fn swaps_axes(&self) -> bool {
        let m = self.matrix();
        m[0] == 0.0 && self.is_exact()
    }

    /// Applies the transform to one H×W plane, writing `dst` (same shape as `src`).
    pub fn apply(&self, src: &[f32], dst: &mut [f32], h: usize, w: usize) {
        debug_assert_eq!(src.len(), h * w);
        debug_assert_eq!(dst.len(), h * w);
        if self.is_exact() && (h == w || !self.swaps_axes()) {
            remap_exact(self.matrix(), src, dst, h, w);
        } else {
            remap_bilinear(self.matrix(), src, dst, h, w);
        }
    }
}

/// sin and cos of `deg` degrees, exact at multiples of 90°.
fn exact_sin_cos(deg: f64) -> (f64, f64) {
    let r = deg.rem_euclid(360.0);
    match r {
        0.0 => (0.0, 1.0),
        90.0 => (1.0, 0.0),
        180.0 => (0.0, -1.0),
        270.0 => (-1.0, 0.0),
        _ => r.to_radians().sin_cos(),
    }
}

/// Pixel-exact remap for matrices with entries in {0, ±1}.
fn remap_exact(m: [f64; 4], src: &[f32], dst: &mut [f32], h: usize, w: usize) {
    let m = m.map(|v| v as i64);
    let (w1, h1) = (w as i64 - 1, h as i64 - 1);
    // Twice the centred coordinates stay integers for any parity of W and H.
    for y in 0..h {
        let dy2 = 2 * y as i64 - h1;
        let row = &mut dst[y * w..(y + 1) * w];
        if m == [1, 0, 0, 1] {
            row.copy_from_slice(&src[y * w..(y + 1) * w]);
            continue;
        }
        for (x, out) in row.iter_mut().enumerate() {
            let dx2 = 2 * x as i64 - w1;
            let sx = ((m[0] * dx2 + m[1] * dy2 + w1) / 2) as usize;
            let sy = ((m[2] * dx2 + m[3] * dy2 + h1) / 2) as usize;
            *out = src[sy * w + sx];
        }
    }
}

/// Bilinear remap, zero outside the source.
fn remap_bilinear(m: [f64; 4], src: &[f32], dst: &mut [f32], h: usize, w: usize) {
    let (cx, cy) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
    // Truncation is floor for positive numbers; source points lie within one image
    // diagonal of the centre, so this offset keeps them positive.
    let off = (w + h) as f64 + 2.0;
    let (wi, hi) = (w as isize, h as isize);
    let tap = |x: isize, y: isize| -> f32 {
        if x >= 0 && y >= 0 && x < wi && y < hi {
            src[y as usize * w + x as usize]
        } else {
            0.0
        }
    };
    for y in 0..h {
        let dy = y as f64 - cy;
        let bx = cx + m[1] * dy + off;
        let by = cy + m[3] * dy + off;
        let row = &mut dst[y * w..(y + 1) * w];
        for (x, out) in row.iter_mut().enumerate() {
            let dx = x as f64 - cx;
            let sx = bx + m[0] * dx;
            let sy = by + m[2] * dx;
            if sx < 0.0 || sy < 0.0 {
                *out = 0.0;
                continue;
            }
            let (xt, yt) = (sx as isize, sy as isize);
            let (fx, fy) = ((sx - xt as f64) as f32, (sy - yt as f64) as f32);
            let (x0, y0) = (xt - off as isize, yt - off as isize);
            *out = if x0 >= 0 && y0 >= 0 && x0 + 1 < wi && y0 + 1 < hi {
                let i = y0 as usize * w + x0 as usize;
                let (a, b) = (src[i], src[i + 1]);
                let (c, d) = (src[i + w], src[i + w + 1]);
                let top = a + fx * (b - a);
                let bot = c + fx * (d - c);
                top + fy * (bot - top)
            } else if x0 < -1 || y0 < -1 || x0 >= wi || y0 >= hi {
                0.0
            } else {
                let top = tap(x0, y0) * (1.0 - fx) + tap(x0 + 1, y0) * fx;
                let bot = tap(x0, y0 + 1) * (1.0 - fx) + tap(x0 + 1, y0 + 1) * fx;
                top * (1.0 - fy) + bot * fy
            };
        }
    }
}

/// np.rot90(plane, k) for a square plane (counter-clockwise quarter turns).
pub fn rot90(src: &[f32], dst: &mut [f32], n: usize, k: u8) {
    let t = Transform {
        quarter_turns: k % 4,
        ..Transform::IDENTITY
    };
    remap_exact(t.matrix(), src, dst, n, n);
}

/// Rotates an H×W plane by `angle_deg` counter-clockwise about its centre, bilinear,
/// zero where the source falls outside.
pub fn rotate_bilinear(src: &[f32], dst: &mut [f32], h: usize, w: usize, angle_deg: f64) {
    let t = Transform {
        angle_deg,
        ..Transform::IDENTITY
    };
    remap_bilinear(t.matrix(), src, dst, h, w);
}

/// Divides a plane by its maximum so that the maximum becomes exactly 1; a plane whose
/// maximum is not positive (blank or all-negative) is left as it is.
pub fn normalise_max(plane: &mut [f32]) -> f32 {
    let max = plane.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max > 0.0 && max.is_finite() {
        // Division (not a reciprocal product) makes the peak exactly 1.0.
        for v in plane.iter_mut() {
            *v /= max;
        }
    }
    max
}

/// The mix-up target of two images with labels `a` and `b` (log10 units) mixed with
/// weight `weight_a` on the first: log10(w·10^a + (1−w)·10^b); w = ½ is the paper's
/// log10(mean(10^labels)).
pub fn mixup_label(a: f64, b: f64, weight_a: f64) -> f64 {
    // Factor out the larger term so large labels do not overflow.
    let m = a.max(b);
    m + (weight_a * 10f64.powf(a - m) + (1.0 - weight_a) * 10f64.powf(b - m)).log10()
}

#[cfg(test)]
#[path = "augment_tests.rs"]
mod tests;
