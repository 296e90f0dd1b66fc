//! Putting surface densities onto pixels: the pixel grid, midpoint sampling with 4×4
//! supersampling near cusps, mass-normalised stamps for compact objects, pixel-integrated
//! Gaussians, and the error function they need. Knows no physics beyond "Σ(x, y)".

/// A square map of `n`×`n` pixels of side `pixel_kpc`, centred on the cluster.
#[derive(Clone, Copy, Debug)]
pub struct Grid {
    /// Pixels per side.
    pub n: usize,
    /// Pixel side in kpc.
    pub pixel_kpc: f64,
}

/// Sub-samples per pixel side where supersampling applies.
const SUPERSAMPLE: usize = 4;

impl Grid {
    /// Centre coordinate (kpc) of pixel column or row `i`; the cluster sits at 0.
    #[inline]
    pub fn coord(&self, i: usize) -> f64 {
        (i as f64 + 0.5 - self.n as f64 / 2.0) * self.pixel_kpc
    }

    /// Pixel area in kpc².
    pub fn area(&self) -> f64 {
        self.pixel_kpc * self.pixel_kpc
    }

    /// Half the side of the field in kpc.
    pub fn half_width(&self) -> f64 {
        self.n as f64 * self.pixel_kpc / 2.0
    }

    /// Pixel index (possibly outside 0..n) holding coordinate `x`.
    #[inline]
    fn index_of(&self, x: f64) -> isize {
        (x / self.pixel_kpc + self.n as f64 / 2.0).floor() as isize
    }

    /// Calls `f(pixel, dx, dy, weight)` for every sample point of every pixel, with
    /// (dx, dy) relative to `centre` and weight the sample's share of the pixel area
    /// (kpc²). Pixels whose centre lies within `ss_radius` of `centre` are sampled 4×4,
    /// the four around it 12×12.
    pub fn for_each_sample(
        &self,
        centre: (f64, f64),
        ss_radius: f64,
        mut f: impl FnMut(usize, f64, f64, f64),
    ) {
        let area = self.area();
        let ss2 = ss_radius * ss_radius;
        for iy in 0..self.n {
            let dy = self.coord(iy) - centre.1;
            for ix in 0..self.n {
                let dx = self.coord(ix) - centre.0;
                let p = iy * self.n + ix;
                let d2 = dx * dx + dy * dy;
                if d2 < ss2 {
                    // The pixels touching the cusp get 12×12: a log cusp needs them.
                    let k = if d2 < 2.0 * area {
                        3 * SUPERSAMPLE
                    } else {
                        SUPERSAMPLE
                    };
                    let w = area / (k * k) as f64;
                    for sy in 0..k {
                        let oy = ((sy as f64 + 0.5) / k as f64 - 0.5) * self.pixel_kpc;
                        for sx in 0..k {
                            let ox = ((sx as f64 + 0.5) / k as f64 - 0.5) * self.pixel_kpc;
                            f(p, dx + ox, dy + oy, w);
                        }
                    }
                } else {
                    f(p, dx, dy, area);
                }
            }
        }
    }

    /// Adds a compact object of total `mass` with profile shape `shape(r)` (any
    /// normalisation, zero beyond `radius`) centred at `centre`: the stamp is normalised
    /// over all its pixels, inside the field or not, so the map holds exactly the part of
    /// `mass` that falls in the field. Sub-pixel objects are sampled finely enough to
    /// be seen; one that no sample hits lands in the pixel holding its centre.
    pub fn add_stamp(
        &self,
        map: &mut [f64],
        centre: (f64, f64),
        radius: f64,
        mass: f64,
        shape: impl Fn(f64) -> f64,
    ) {
        let (x0, x1) = (
            self.index_of(centre.0 - radius),
            self.index_of(centre.0 + radius),
        );
        let (y0, y1) = (
            self.index_of(centre.1 - radius),
            self.index_of(centre.1 + radius),
        );
        let n = self.n as isize;
        if x1 < 0 || y1 < 0 || x0 >= n || y0 >= n {
            return;
        }
        let k = ((3.0 * self.pixel_kpc / radius).ceil() as usize).clamp(1, 8);
        let (w, h) = ((x1 - x0 + 1) as usize, (y1 - y0 + 1) as usize);
        let mut weights = vec![0.0f64; w * h];
        let mut total = 0.0;
        let pc = |i: isize| (i as f64 + 0.5 - self.n as f64 / 2.0) * self.pixel_kpc;
        for (j, iy) in (y0..=y1).enumerate() {
            for (i, ix) in (x0..=x1).enumerate() {
                let mut s = 0.0;
                for sy in 0..k {
                    let y = pc(iy) + ((sy as f64 + 0.5) / k as f64 - 0.5) * self.pixel_kpc;
                    for sx in 0..k {
                        let x = pc(ix) + ((sx as f64 + 0.5) / k as f64 - 0.5) * self.pixel_kpc;
                        let r = ((x - centre.0).powi(2) + (y - centre.1).powi(2)).sqrt();
                        if r < radius {
                            s += shape(r);
                        }
                    }
                }
                weights[j * w + i] = s;
                total += s;
            }
        }
        if total <= 0.0 {
            let (ix, iy) = (self.index_of(centre.0), self.index_of(centre.1));
            if (0..n).contains(&ix) && (0..n).contains(&iy) {
                map[iy as usize * self.n + ix as usize] += mass;
            }
            return;
        }
        let scale = mass / total;
        for (j, iy) in (y0..=y1).enumerate() {
            if !(0..n).contains(&iy) {
                continue;
            }
            for (i, ix) in (x0..=x1).enumerate() {
                if (0..n).contains(&ix) {
                    map[iy as usize * self.n + ix as usize] += weights[j * w + i] * scale;
                }
            }
        }
    }

    /// Adds a circular Gaussian of total `mass` and width `sigma` integrated exactly over
    /// each pixel (out to 5σ), so a sub-pixel galaxy keeps its mass.
    pub fn add_gaussian(&self, map: &mut [f64], centre: (f64, f64), sigma: f64, mass: f64) {
        let n = self.n as isize;
        let reach = 5.0 * sigma;
        let (x0, x1) = (
            self.index_of(centre.0 - reach).max(0),
            self.index_of(centre.0 + reach).min(n - 1),
        );
        let (y0, y1) = (
            self.index_of(centre.1 - reach).max(0),
            self.index_of(centre.1 + reach).min(n - 1),
        );
        if x0 > x1 || y0 > y1 {
            return;
        }
        let half = self.pixel_kpc / 2.0;
        let cdf = |a: f64| 0.5 * (1.0 + erf(a / (sigma * std::f64::consts::SQRT_2)));
        let frac = |c: f64, i: isize| {
            let x = (i as f64 + 0.5 - self.n as f64 / 2.0) * self.pixel_kpc - c;
            cdf(x + half) - cdf(x - half)
        };
        let fy: Vec<f64> = (y0..=y1).map(|iy| frac(centre.1, iy)).collect();
        for ix in x0..=x1 {
            let fx = frac(centre.0, ix);
            for (j, iy) in (y0..=y1).enumerate() {
                map[iy as usize * self.n + ix as usize] += mass * fx * fy[j];
            }
        }
    }
}

/// The error function (Abramowitz & Stegun 7.1.26, |error| < 1.5×10⁻⁷).
pub fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-x * x).exp();
    if x >= 0.0 {
        y
    } else {
        -y
    }
}

/// Gaussian blur with standard deviation `sigma_px` pixels, edges repeated (a PSF).
pub fn gaussian_blur(map: &mut [f64], n: usize, sigma_px: f64) {
    if sigma_px <= 0.0 {
        return;
    }
    let r = (3.0 * sigma_px).ceil() as isize;
    let kernel: Vec<f64> = (-r..=r)
        .map(|i| (-(i * i) as f64 / (2.0 * sigma_px * sigma_px)).exp())
        .collect();
    let norm: f64 = kernel.iter().sum();
    let clamp = |i: isize| i.clamp(0, n as isize - 1) as usize;
    let mut tmp = vec![0.0; map.len()];
    for y in 0..n {
        for x in 0..n {
            let mut s = 0.0;
            for (k, w) in kernel.iter().enumerate() {
                s += w * map[y * n + clamp(x as isize + k as isize - r)];
            }
            tmp[y * n + x] = s / norm;
        }
    }
    for y in 0..n {
        for x in 0..n {
            let mut s = 0.0;
            for (k, w) in kernel.iter().enumerate() {
                s += w * tmp[clamp(y as isize + k as isize - r) * n + x];
            }
            map[y * n + x] = s / norm;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_keeps_exactly_the_mass_of_a_sub_pixel_object() {
        let g = Grid {
            n: 20,
            pixel_kpc: 20.0,
        };
        let mut map = vec![0.0; 400];
        g.add_stamp(&mut map, (13.0, -7.0), 6.0, 1e11, |r| 1.0 / (r + 0.1));
        let total: f64 = map.iter().sum();
        assert!((total - 1e11).abs() < 1e-6 * 1e11, "{total}");
        // Half outside the field: only the inside part stays.
        let mut map = vec![0.0; 400];
        g.add_stamp(&mut map, (200.0, 0.0), 50.0, 1e11, |_| 1.0);
        let total: f64 = map.iter().sum();
        assert!((total - 0.5e11).abs() < 0.05e11, "{total}");
    }

    #[test]
    fn pixel_integrated_gaussian_keeps_its_mass() {
        let g = Grid {
            n: 10,
            pixel_kpc: 20.0,
        };
        let mut map = vec![0.0; 100];
        g.add_gaussian(&mut map, (3.0, 4.0), 5.0, 2.0e10);
        let total: f64 = map.iter().sum();
        assert!((total - 2.0e10).abs() < 1e-5 * 2.0e10, "{total}");
    }

    #[test]
    fn erf_matches_known_values() {
        assert!((erf(0.5) - 0.520_499_877_8).abs() < 2e-7);
        assert!((erf(-1.0) + 0.842_700_792_9).abs() < 2e-7);
        assert!((erf(3.0) - 0.999_977_909_5).abs() < 2e-7);
    }

    #[test]
    fn blur_conserves_the_mean_of_a_flat_map_and_spreads_a_point() {
        let n = 16;
        let mut flat = vec![2.0; n * n];
        gaussian_blur(&mut flat, n, 1.5);
        assert!(flat.iter().all(|v| (v - 2.0).abs() < 1e-12));
        let mut point = vec![0.0; n * n];
        point[8 * n + 8] = 1.0;
        gaussian_blur(&mut point, n, 1.0);
        assert!((point.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(point[8 * n + 8] < 0.2 && point[8 * n + 9] > 0.05);
    }
}
