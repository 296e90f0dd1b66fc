//! Per-image augmentation and preprocessing on H×W channel planes: flips, rot90, rotation
//! by an arbitrary angle (nearest-neighbour as torchvision's RandomRotation, which the
//! paper uses, or bilinear; about the image centre, zero outside), per-channel max
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
    /// Random rotation by an angle uniform in [0°, 180°).
    pub rotate: bool,
    /// How a rotation samples the source.
    pub interpolation: Interpolation,
}

/// How a rotation by an arbitrary angle samples the source image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interpolation {
    /// The nearest source pixel (torchvision's default, the paper's): pixel values and
    /// the map's noise statistics are kept, nothing is smoothed.
    Nearest,
    /// Bilinear: smooths by up to a pixel, differently at each angle.
    Bilinear,
}

impl Interpolation {
    /// Parses `nearest` or `bilinear`.
    pub fn parse(s: &str) -> anyhow::Result<Interpolation> {
        match s {
            "nearest" => Ok(Interpolation::Nearest),
            "bilinear" => Ok(Interpolation::Bilinear),
            _ => anyhow::bail!("rotation interpolation '{s}': expected nearest or bilinear"),
        }
    }
}

impl AugmentConfig {
    /// The paper's training augmentation: flips and rotation in [0°, 180°).
    pub fn paper() -> AugmentConfig {
        AugmentConfig {
            flips: true,
            rot90: false,
            rotate: true,
            interpolation: Interpolation::Nearest,
        }
    }

    /// No augmentation.
    pub fn none() -> AugmentConfig {
        AugmentConfig {
            flips: false,
            rot90: false,
            rotate: false,
            interpolation: Interpolation::Nearest,
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
    /// Extra counter-clockwise rotation in degrees (interpolated when not a multiple of 90).
    pub angle_deg: f64,
    /// How an angle that is not a multiple of 90° samples the source.
    pub interpolation: Interpolation,
}

impl Transform {
    /// The identity.
    pub const IDENTITY: Transform = Transform {
        flip_h: false,
        flip_v: false,
        quarter_turns: 0,
        angle_deg: 0.0,
        interpolation: Interpolation::Bilinear,
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
            interpolation: config.interpolation,
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

    /// Applies the transform to every H×W plane of `src` (C×H×W, any C), writing `dst`
    /// (same shape); the source positions are computed once for all planes.
    pub fn apply(&self, src: &[f32], dst: &mut [f32], h: usize, w: usize) {
        debug_assert_eq!(src.len(), dst.len());
        debug_assert_eq!(src.len() % (h * w), 0);
        if self.is_exact() && (h == w || !self.swaps_axes()) {
            for (s, d) in src.chunks_exact(h * w).zip(dst.chunks_exact_mut(h * w)) {
                remap_exact(self.matrix(), s, d, h, w);
            }
        } else if self.interpolation == Interpolation::Nearest {
            remap_nearest(self.matrix(), src, dst, h, w);
        } else {
            remap_bilinear(self.matrix(), src, dst, h, w);
        }
    }
}

/// Nearest-neighbour remap of every H×W plane of `src` into `dst`, zero where the nearest
/// source pixel lies outside (a source point exactly half-way rounds up).
fn remap_nearest(m: [f64; 4], src: &[f32], dst: &mut [f32], h: usize, w: usize) {
    let hw = h * w;
    let (cx, cy) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
    // Source index per output pixel, computed once for all planes (u32::MAX = outside).
    let mut index = vec![u32::MAX; hw];
    for (y, row) in index.chunks_exact_mut(w).enumerate() {
        let dy = y as f64 - cy;
        for (x, out) in row.iter_mut().enumerate() {
            let dx = x as f64 - cx;
            let sx = (m[0] * dx + m[1] * dy + cx + 0.5).floor();
            let sy = (m[2] * dx + m[3] * dy + cy + 0.5).floor();
            if sx >= 0.0 && sy >= 0.0 && sx < w as f64 && sy < h as f64 {
                *out = (sy as usize * w + sx as usize) as u32;
            }
        }
    }
    for (s, d) in src.chunks_exact(hw).zip(dst.chunks_exact_mut(hw)) {
        for (out, &i) in d.iter_mut().zip(&index) {
            *out = if i == u32::MAX { 0.0 } else { s[i as usize] };
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

/// Pixel-exact remap for matrices with entries in {0, ±1}: a strided gather.
fn remap_exact(m: [f64; 4], src: &[f32], dst: &mut [f32], h: usize, w: usize) {
    let m = m.map(|v| v as i64);
    let (w1, h1) = (w as i64 - 1, h as i64 - 1);
    if m == [1, 0, 0, 1] {
        dst.copy_from_slice(src);
        return;
    }
    // Twice the centred coordinates stay integers for any parity of W and H.
    let src_index = |x: i64, y: i64| -> i64 {
        let (dx2, dy2) = (2 * x - w1, 2 * y - h1);
        let sx = (m[0] * dx2 + m[1] * dy2 + w1) / 2;
        let sy = (m[2] * dx2 + m[3] * dy2 + h1) / 2;
        sy * w as i64 + sx
    };
    let origin = src_index(0, 0);
    let step_x = if w > 1 { src_index(1, 0) - origin } else { 0 };
    let step_y = if h > 1 { src_index(0, 1) - origin } else { 0 };
    if step_x == 1 {
        // Rows stay rows (vertical flip): copy whole rows.
        for (y, row) in dst.chunks_exact_mut(w).enumerate() {
            let s = (origin + y as i64 * step_y) as usize;
            row.copy_from_slice(&src[s..s + w]);
        }
        return;
    }
    for (y, row) in dst.chunks_exact_mut(w).enumerate() {
        let mut s = origin + y as i64 * step_y;
        for out in row.iter_mut() {
            *out = src[s as usize];
            s += step_x;
        }
    }
}

/// Fraction bits of the fixed-point source coordinates.
const FRAC_BITS: u32 = 32;
const ONE: f64 = (1u64 << FRAC_BITS) as f64;

/// Bilinear remap of every H×W plane of `src` into `dst`, zero outside the source.
///
/// Source coordinates are 32.32 fixed point computed per pixel from the row start
/// (error < 10⁻⁷ pixel for any image this size), which turns floor and fraction into a
/// shift and a mask — several times faster than float-to-int conversion per pixel. The
/// interior of each row (all four taps inside) runs in chunks: positions and fractions
/// first (a loop that vectorises), then the taps for every plane.
fn remap_bilinear(m: [f64; 4], src: &[f32], dst: &mut [f32], h: usize, w: usize) {
    let hw = h * w;
    let planes = src.len() / hw;
    let (cx, cy) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
    let (wi, hi) = (w as i64, h as i64);
    let fixed = |v: f64| (v * ONE).round() as i64;
    let (mx, my) = (fixed(m[0]), fixed(m[2]));
    let (xmax, ymax) = ((wi - 1) << FRAC_BITS, (hi - 1) << FRAC_BITS);
    let frac = |v: i64| (((v >> 8) & 0xff_ffff) as i32) as f32 * (1.0 / 16_777_216.0);
    let mut idx = [0u32; CHUNK];
    let mut fxs = [0f32; CHUNK];
    let mut fys = [0f32; CHUNK];
    for y in 0..h {
        let dy = y as f64 - cy;
        let (bx, by) = (cx + m[1] * dy - m[0] * cx, cy + m[3] * dy - m[2] * cx);
        let (fbx, fby) = (fixed(bx), fixed(by));
        // The one formula for a source point, shared by the range search and both paths.
        let at = |x: usize| (fbx + mx * x as i64, fby + my * x as i64);
        let interior = |x: usize| {
            let (sx, sy) = at(x);
            sx >= 0 && sy >= 0 && sx < xmax && sy < ymax
        };
        let (mut lo, mut hi_x) =
            interior_range(bx, m[0], w as f64 - 1.0, by, m[2], h as f64 - 1.0, w);
        // The estimate may be off by a pixel; shrink it until both ends are interior
        // (the interior is an interval along a row, so then all of it is).
        while lo < hi_x && !interior(lo) {
            lo += 1;
        }
        while hi_x > lo && !interior(hi_x - 1) {
            hi_x -= 1;
        }
        let hi_x = hi_x.max(lo);
        for x in (0..lo).chain(hi_x..w) {
            let (sx, sy) = at(x);
            let (x0, y0) = (sx >> FRAC_BITS, sy >> FRAC_BITS);
            let outside = x0 < -1 || y0 < -1 || x0 >= wi || y0 >= hi;
            let (fx, fy) = (frac(sx), frac(sy));
            for p in 0..planes {
                let plane = &src[p * hw..(p + 1) * hw];
                let tap = |x: i64, y: i64| -> f32 {
                    if x >= 0 && y >= 0 && x < wi && y < hi {
                        plane[(y * wi + x) as usize]
                    } else {
                        0.0
                    }
                };
                dst[p * hw + y * w + x] = if outside {
                    0.0
                } else {
                    let top = tap(x0, y0) * (1.0 - fx) + tap(x0 + 1, y0) * fx;
                    let bot = tap(x0, y0 + 1) * (1.0 - fx) + tap(x0 + 1, y0 + 1) * fx;
                    top * (1.0 - fy) + bot * fy
                };
            }
        }
        let (sx0, sy0) = at(lo);
        let mut start = lo;
        while start < hi_x {
            let len = CHUNK.min(hi_x - start);
            let base = (start - lo) as i64;
            for k in 0..len {
                let (sx, sy) = (sx0 + mx * (base + k as i64), sy0 + my * (base + k as i64));
                idx[k] = ((sy >> FRAC_BITS) as usize * w + (sx >> FRAC_BITS) as usize) as u32;
                fxs[k] = frac(sx);
                fys[k] = frac(sy);
            }
            for p in 0..planes {
                let plane = &src[p * hw..(p + 1) * hw];
                let outs = &mut dst[p * hw + y * w + start..p * hw + y * w + start + len];
                bilinear_taps(plane, w, &idx[..len], &fxs[..len], &fys[..len], outs);
            }
            start += len;
        }
    }
}

/// Interpolates one chunk of interior pixels from their top-left source index and fractions.
fn bilinear_taps(plane: &[f32], w: usize, idx: &[u32], fxs: &[f32], fys: &[f32], outs: &mut [f32]) {
    for (((out, &i), &fx), &fy) in outs.iter_mut().zip(idx).zip(fxs).zip(fys) {
        let i = i as usize;
        let (r0, r1) = (&plane[i..i + 2], &plane[i + w..i + w + 2]);
        let top = r0[0] + fx * (r0[1] - r0[0]);
        let bot = r1[0] + fx * (r1[1] - r1[0]);
        *out = top + fy * (bot - top);
    }
}

/// Pixels per chunk of a row's interior.
const CHUNK: usize = 64;

/// An estimate of the x-range [lo, hi) of a row where 0 ≤ ax + bx·x < lx and
/// 0 ≤ ay + by·x < ly (callers verify the ends).
fn interior_range(
    ax: f64,
    bx: f64,
    lx: f64,
    ay: f64,
    by: f64,
    ly: f64,
    w: usize,
) -> (usize, usize) {
    let mut lo = 0.0f64;
    let mut hi = w as f64;
    for (a, b, l) in [(ax, bx, lx), (ay, by, ly)] {
        if b.abs() < 1e-9 {
            // Nearly constant along the row: let the verification decide.
            continue;
        }
        let (t0, t1) = ((0.0 - a) / b, (l - a) / b);
        let (t0, t1) = if b > 0.0 { (t0, t1) } else { (t1, t0) };
        lo = lo.max(t0.ceil() - 1.0);
        hi = hi.min(t1.floor() + 2.0);
    }
    if hi <= lo {
        return (0, 0);
    }
    (lo.max(0.0) as usize, (hi as usize).min(w))
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
