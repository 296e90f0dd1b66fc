//! Axis ticks: "nice" linear ticks on 1-2-5 steps, log10 ticks (decades, with 2 and 5
//! added on short ranges, minor ticks at 2…9), and the number formatting of their labels.

use super::font::superscript;

/// Major tick positions with their labels, and unlabelled minor tick positions.
#[derive(Clone, Debug, PartialEq)]
pub struct Ticks {
    /// Labelled tick positions, ascending, in data units.
    pub major: Vec<f64>,
    /// Labels for `major`, same length.
    pub labels: Vec<String>,
    /// Unlabelled tick positions (log axes only).
    pub minor: Vec<f64>,
}

/// The member of {1, 2, 5} × 10^k nearest to `raw` (for `raw` > 0), rounding up from
/// 1.5, 3 and 7 times a power of ten so tick counts stay close to the request.
pub fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let e = (raw.log10() + 1e-9).floor();
    let base = 10f64.powf(e);
    let frac = raw / base;
    let m = if frac < 1.5 {
        1.0
    } else if frac < 3.0 {
        2.0
    } else if frac < 7.0 {
        5.0
    } else {
        10.0
    };
    m * base
}

/// Widens an empty or reversed range so ticks can be drawn on it.
fn proper_range(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    if hi - lo > 1e-12 * (lo.abs() + hi.abs()).max(1e-300) {
        (lo, hi)
    } else {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - pad, hi + pad)
    }
}

/// Ticks on 1-2-5 steps covering `lo..hi` with about `target` intervals (at least 2).
pub fn linear_ticks(lo: f64, hi: f64, target: usize) -> Ticks {
    let (lo, hi) = proper_range(lo, hi);
    let step = nice_step((hi - lo) / target.max(2) as f64);
    let k0 = (lo / step - 1e-9).ceil() as i64;
    let k1 = (hi / step + 1e-9).floor() as i64;
    if !(hi - lo).is_finite() || k1.saturating_sub(k0) > 100 {
        // Only reachable for ranges near the limits of f64: label the two ends.
        let major = vec![lo, hi];
        let labels = major.iter().map(|&v| format_sig(v, 3)).collect();
        return Ticks {
            major,
            labels,
            minor: Vec::new(),
        };
    }
    // Multiples of an integer count avoid the drift of repeated addition.
    let major: Vec<f64> = (k0..=k1)
        .map(|k| k as f64 * step)
        .map(|v| v + 0.0)
        .collect();
    let labels = major.iter().map(|&v| format_tick(v, step)).collect();
    Ticks {
        major,
        labels,
        minor: Vec::new(),
    }
}

/// Ticks for a log10 axis on `lo..hi` (both > 0): decades, plus 2× and 5× when fewer than
/// three decades are visible, plus linear ticks when not even two of those fit.
pub fn log_ticks(lo: f64, hi: f64) -> Ticks {
    let lo = if lo.is_finite() && lo > 0.0 { lo } else { 1e-3 };
    let hi = if hi.is_finite() && hi > lo {
        hi
    } else {
        lo * 10.0
    };
    let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let inside = |v: f64| v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9);
    let decade = |e: i32| 10f64.powi(e);
    let mut major: Vec<f64> = (e0..=e1).map(decade).filter(|&v| inside(v)).collect();
    // Many decades: label every second or third one so labels do not collide.
    let mut minor: Vec<f64> = (e0..=e1)
        .flat_map(|e| (2..10).map(move |m| m as f64 * decade(e)))
        .filter(|&v| inside(v))
        .collect();
    if major.len() > 8 {
        // Many decades: label every few, mark the others as minor ticks (2…9 would
        // be a solid comb at this density).
        let every = major.len().div_ceil(6) as i32;
        minor = (e0..=e1)
            .filter(|e| e.rem_euclid(every) != 0)
            .map(decade)
            .filter(|&v| inside(v))
            .collect();
        major = (e0..=e1)
            .filter(|e| e.rem_euclid(every) == 0)
            .map(decade)
            .filter(|&v| inside(v))
            .collect();
    }
    if major.len() < 3 {
        major = (e0..=e1)
            .flat_map(|e| [1.0, 2.0, 5.0].map(|m| m * decade(e)))
            .filter(|&v| inside(v))
            .collect();
    }
    if major.len() < 2 {
        let lin = linear_ticks(lo, hi, 4);
        let major: Vec<f64> = lin.major.into_iter().filter(|&v| v > 0.0).collect();
        let labels = major.iter().map(|&v| format_log_label(v)).collect();
        return Ticks {
            major,
            labels,
            minor: Vec::new(),
        };
    }
    minor.retain(|v| !major.iter().any(|m| (m - v).abs() <= 1e-9 * v));
    // One notation per axis: powers of ten everywhere as soon as one label needs them.
    let plain = major.iter().all(|&v| (1e-3..1e4 + 1.0).contains(&v));
    let labels = major
        .iter()
        .map(|&v| {
            if plain {
                format_log_label(v)
            } else {
                format_power(v)
            }
        })
        .collect();
    Ticks {
        major,
        labels,
        minor,
    }
}

/// A log-axis label: plain decimals between 0.001 and 10000, else `m×10ᵏ`.
pub fn format_log_label(v: f64) -> String {
    if (1e-3..1e4 + 1.0).contains(&v) {
        let e = (v.log10() + 1e-9).floor() as i32;
        let decimals = (-e).max(0) as usize + 1;
        trim_zeros(&format!("{v:.decimals$}"))
    } else {
        format_power(v)
    }
}

/// `10ᵏ`, or `m×10ᵏ` when `v` is not a power of ten.
pub fn format_power(v: f64) -> String {
    let e = (v.log10() + 1e-9).floor() as i64;
    let m = (v / 10f64.powi(e as i32) * 10.0).round() / 10.0;
    if (m - 1.0).abs() < 1e-9 {
        format!("10{}", superscript(e))
    } else {
        format!("{}×10{}", trim_zeros(&format!("{m:.1}")), superscript(e))
    }
}

/// The label of a linear tick at `v` on a grid of spacing `step`: just enough decimals
/// to tell neighbours apart, scientific (`2.5×10⁻⁴`) for very large or small values.
pub fn format_tick(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    let mag = v.abs().max(step.abs());
    if !(1e-3..1e5).contains(&mag) {
        let e = (step.abs().log10() + 1e-9).floor() as i32;
        let m = v / 10f64.powi(e);
        let s = format!(
            "{}×10{}",
            trim_zeros(&format!("{m:.1}")),
            superscript(e as i64)
        );
        return s.replace('-', "−");
    }
    let decimals = (-((step.abs().log10() + 1e-9).floor()) as i32).max(0) as usize;
    format!("{v:.decimals$}").replace('-', "−")
}

/// A number for tables and annotations with `sig` significant digits, switching to
/// scientific notation (e.g. `1.2e-5`) outside 1e-3..1e6; minus signs stay ASCII.
pub fn format_sig(v: f64, sig: usize) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "∞".into()
        } else {
            "−∞".into()
        };
    }
    if v == 0.0 {
        return "0".into();
    }
    let sig = sig.max(1);
    let e = v.abs().log10().floor() as i32;
    if !(-3..6).contains(&e) {
        return format!("{:.*e}", sig - 1, v);
    }
    let decimals = (sig as i32 - 1 - e).max(0) as usize;
    format!("{v:.decimals$}")
}

/// Removes trailing zeros (and a trailing point) from a decimal string.
fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= 1e-12 * y.abs().max(1.0))
    }

    #[test]
    fn nice_steps_are_one_two_five_times_a_power_of_ten() {
        for (raw, want) in [
            (0.13, 0.1),
            (0.9, 1.0),
            (1.0, 1.0),
            (3.0, 5.0),
            (7.0, 10.0),
            (23.0, 20.0),
            (2e-7, 2e-7),
        ] {
            let got = nice_step(raw);
            assert!((got - want).abs() < 1e-12 * want, "{raw}: {got} != {want}");
        }
    }

    #[test]
    fn linear_ticks_for_a_set_of_ranges() {
        type Case<'a> = (f64, f64, usize, &'a [f64], &'a [&'a str]);
        let cases: &[Case] = &[
            (
                0.0,
                1.0,
                5,
                &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
                &["0", "0.2", "0.4", "0.6", "0.8", "1.0"],
            ),
            (
                -3.2,
                7.9,
                5,
                &[-2.0, 0.0, 2.0, 4.0, 6.0],
                &["−2", "0", "2", "4", "6"],
            ),
            (
                0.013,
                0.048,
                4,
                &[0.02, 0.03, 0.04],
                &["0.02", "0.03", "0.04"],
            ),
            (
                95.0,
                1020.0,
                4,
                &[200.0, 400.0, 600.0, 800.0, 1000.0],
                &["200", "400", "600", "800", "1000"],
            ),
        ];
        for &(lo, hi, n, want, labels) in cases {
            let t = linear_ticks(lo, hi, n);
            assert!(close(&t.major, want), "{lo}..{hi}: {:?}", t.major);
            assert_eq!(t.labels, labels, "{lo}..{hi}");
        }
        let t = linear_ticks(3.0, 3.0, 4);
        assert!(
            t.major.len() >= 2 && t.labels.contains(&"3.0".to_string()),
            "{t:?}"
        );
        let t = linear_ticks(0.0, 3e-4, 3);
        assert_eq!(t.labels, ["0", "1×10⁻⁴", "2×10⁻⁴", "3×10⁻⁴"]);
        // Reversed and non-finite inputs still give usable ticks.
        assert!(close(
            &linear_ticks(1.0, 0.0, 5).major,
            &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
        ));
        assert!(!linear_ticks(f64::NAN, 1.0, 5).major.is_empty());
    }

    #[test]
    fn log_ticks_use_decades_and_fill_in_short_ranges() {
        let t = log_ticks(0.01, 100.0);
        assert!(close(&t.major, &[0.01, 0.1, 1.0, 10.0, 100.0]));
        assert_eq!(t.labels, ["0.01", "0.1", "1", "10", "100"]);
        assert!(t.minor.iter().any(|&m| (m - 0.02).abs() < 1e-12));
        assert!(t.minor.iter().all(|&m| (0.01..=100.0).contains(&m)));
        let t = log_ticks(0.3, 8.0);
        assert!(close(&t.major, &[0.5, 1.0, 2.0, 5.0]), "{:?}", t.major);
        let t = log_ticks(1e-8, 1e-5);
        assert_eq!(t.labels, ["10⁻⁸", "10⁻⁷", "10⁻⁶", "10⁻⁵"]);
        let t = log_ticks(1e-12, 1e12);
        assert!(t.major.len() <= 7 && t.major.len() >= 4, "{:?}", t.major);
        assert!(
            t.labels.iter().all(|l| l.starts_with("10")),
            "{:?}",
            t.labels
        );
        assert_eq!(
            log_ticks(1e-6, 1e9).labels,
            ["10⁻⁶", "10⁻³", "10⁰", "10³", "10⁶", "10⁹"]
        );
        let t = log_ticks(2.1, 2.9);
        assert!(t.major.len() >= 2 && t.major.iter().all(|&v| (2.1..=2.9).contains(&v)));
    }

    #[test]
    fn significant_digit_formatting() {
        assert_eq!(format_sig(0.123456, 3), "0.123");
        assert_eq!(format_sig(1234.6, 3), "1235");
        assert_eq!(format_sig(-2.5e-5, 2), "-2.5e-5");
        assert_eq!(format_sig(0.0, 3), "0");
        assert_eq!(format_sig(f64::NAN, 3), "NaN");
        assert_eq!(format_log_label(3e6), "3×10⁶");
    }
}
