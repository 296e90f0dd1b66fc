//! The data-to-pixel mapping of x–y axes (linear or log10): the visible range of each
//! axis and the plot rectangle it maps onto. Items, legend and axes all draw through it.

use super::canvas::Rect;
use super::series::Scale;
use super::ticks::{linear_ticks, log_ticks, Ticks};

/// One axis: the scale and the visible range in transformed units (log10 for log axes).
#[derive(Clone, Copy, Debug)]
pub(crate) struct AxisMap {
    pub scale: Scale,
    pub lo: f64,
    pub hi: f64,
}

impl AxisMap {
    pub(crate) fn t(&self, v: f64) -> Option<f64> {
        match self.scale {
            // Beyond ±1e300 the padding arithmetic would overflow; such values are skipped.
            Scale::Linear if v.is_finite() && v.abs() <= 1e300 => Some(v),
            Scale::Log10 if v.is_finite() && v > 0.0 => Some(v.log10()),
            _ => None,
        }
    }

    /// Fraction along the axis (0 at `lo`, 1 at `hi`), `None` for unplottable values.
    pub(crate) fn frac(&self, v: f64) -> Option<f64> {
        self.t(v).map(|t| (t - self.lo) / (self.hi - self.lo))
    }

    pub(crate) fn ticks(&self, target: usize) -> Ticks {
        match self.scale {
            Scale::Linear => {
                // Small axes asked for 2 intervals can land on a single tick; ask again.
                let t = linear_ticks(self.lo, self.hi, target);
                if t.major.len() < 3 {
                    linear_ticks(self.lo, self.hi, 2 * target + 1)
                } else {
                    t
                }
            }
            Scale::Log10 => log_ticks(10f64.powf(self.lo), 10f64.powf(self.hi)),
        }
    }
}

/// The visible range of an axis: the fixed limits, or the data's range padded by 5 %.
pub(crate) fn axis_map(values: &[f64], scale: Scale, lim: Option<(f64, f64)>) -> AxisMap {
    let probe = AxisMap {
        scale,
        lo: 0.0,
        hi: 1.0,
    };
    if let Some((a, b)) = lim {
        if let (Some(lo), Some(hi)) = (probe.t(a), probe.t(b)) {
            if hi > lo {
                return AxisMap { scale, lo, hi };
            }
        }
    }
    let ts: Vec<f64> = values.iter().filter_map(|&v| probe.t(v)).collect();
    let lo = ts.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = ts.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi - lo <= 1e-12 * (lo.abs() + hi.abs()).max(1e-300) {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - pad, hi + pad)
    } else {
        (lo, hi)
    };
    let pad = 0.05 * (hi - lo);
    AxisMap {
        scale,
        lo: lo - pad,
        hi: hi + pad,
    }
}

/// Pixel mapping of the plot rectangle.
pub(crate) struct Frame {
    pub r: Rect,
    pub x: AxisMap,
    pub y: AxisMap,
}

impl Frame {
    pub fn px(&self, v: f64) -> Option<f64> {
        self.x
            .frac(v)
            .map(|f| self.r.x as f64 + f * (self.r.w - 1) as f64)
    }
    pub fn py(&self, v: f64) -> Option<f64> {
        self.y
            .frac(v)
            .map(|f| (self.r.bottom() - 1) as f64 - f * (self.r.h - 1) as f64)
    }
    pub fn point(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        Some((self.px(x)?, self.py(y)?))
    }
}
