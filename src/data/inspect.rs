//! A per-set summary of a dataset (counts, σ/m, catalog columns, pixel statistics per
//! channel) for `dcc inspect`. Reads the data; prints nothing itself.

use super::dataset::Dataset;
use anyhow::Result;
use std::fmt::Write;

/// Pixel statistics of one channel over every image of a set.
#[derive(Clone, Debug, PartialEq)]
pub struct PixelStats {
    /// Smallest pixel.
    pub min: f64,
    /// Largest pixel.
    pub max: f64,
    /// Mean pixel.
    pub mean: f64,
    /// Mean over images of each image's maximum (the normalisation each image gets).
    pub mean_peak: f64,
}

/// Mean and sample standard deviation of a catalog column within a set.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnStats {
    /// The column name.
    pub name: String,
    /// Non-empty cells.
    pub count: usize,
    /// Their mean (NaN when none).
    pub mean: f64,
    /// Their standard deviation, ddof = 1 (NaN with fewer than two).
    pub std: f64,
}

/// Everything `inspect` reports about one set.
#[derive(Clone, Debug, PartialEq)]
pub struct SetSummary {
    /// Set name.
    pub name: String,
    /// σ/m in cm²/g, None when unknown.
    pub sigma: Option<f64>,
    /// Usable images.
    pub count: usize,
    /// Numeric catalog columns other than `set` and `sigma`.
    pub columns: Vec<ColumnStats>,
    /// One entry per channel.
    pub channels: Vec<PixelStats>,
}

/// Summarises every set of `ds`, streaming through its images once.
pub fn summarise(ds: &Dataset) -> Result<Vec<SetSummary>> {
    let [_, c, h, w] = ds.dims();
    let names: Vec<String> = ds
        .numeric_columns()
        .into_iter()
        .filter(|n| n != "sigma")
        .collect();
    let columns: Vec<Vec<Option<f64>>> = names
        .iter()
        .map(|n| ds.column_f64(n))
        .collect::<Result<_>>()?;
    let mut plane = vec![0f32; h * w];
    let mut out = Vec::new();
    for set in ds.sets() {
        let col_stats = names
            .iter()
            .zip(&columns)
            .map(|(name, col)| {
                let v: Vec<f64> = set.indices.iter().filter_map(|&i| col[i]).collect();
                let (mean, std) = mean_std(&v);
                ColumnStats {
                    name: name.clone(),
                    count: v.len(),
                    mean,
                    std,
                }
            })
            .collect();
        let mut channels = Vec::with_capacity(c);
        for ch in 0..c {
            let (mut min, mut max, mut sum, mut peaks) =
                (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0.0);
            for &i in &set.indices {
                ds.read_channel(i, ch, &mut plane);
                let (mut pmin, mut pmax, mut psum) = (f32::INFINITY, f32::NEG_INFINITY, 0.0f64);
                for &v in &plane {
                    pmin = pmin.min(v);
                    pmax = pmax.max(v);
                    psum += v as f64;
                }
                min = min.min(pmin as f64);
                max = max.max(pmax as f64);
                sum += psum;
                peaks += pmax as f64;
            }
            let n = set.indices.len() as f64;
            channels.push(PixelStats {
                min,
                max,
                mean: sum / (n * (h * w) as f64),
                mean_peak: peaks / n,
            });
        }
        out.push(SetSummary {
            name: set.name.clone(),
            sigma: set.sigma,
            count: set.indices.len(),
            columns: col_stats,
            channels,
        });
    }
    Ok(out)
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (mean, f64::NAN);
    }
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

fn num(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v == 0.0 || (1e-3..1e5).contains(&v.abs()) {
        format!("{v:.4}")
    } else {
        format!("{v:.3e}")
    }
}

/// The summary as aligned text tables: sets with catalog columns, then pixels per channel.
pub fn format_summary(ds: &Dataset, sets: &[SetSummary]) -> String {
    let [n, c, h, w] = ds.dims();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}: {n} images of {c}×{h}×{w}, {} sets{}",
        ds.dir().display(),
        sets.len(),
        if ds.skipped().is_empty() {
            String::new()
        } else {
            format!(", {} skipped as non-finite", ds.skipped().len())
        }
    );
    let name_w = sets
        .iter()
        .map(|x| x.name.chars().count())
        .max()
        .unwrap_or(3)
        .max(3);
    let mut header = format!("\n{:<name_w$}  {:>7}  {:>10}", "set", "count", "sigma");
    if let Some(first) = sets.first() {
        for col in &first.columns {
            let _ = write!(header, "  {:>23}", format!("{} mean ± std", col.name));
        }
    }
    s.push_str(&header);
    s.push('\n');
    for x in sets {
        let sigma = x.sigma.map(num).unwrap_or_else(|| "unknown".into());
        let _ = write!(s, "{:<name_w$}  {:>7}  {:>10}", x.name, x.count, sigma);
        for col in &x.columns {
            let _ = write!(
                s,
                "  {:>23}",
                format!("{} ± {}", num(col.mean), num(col.std))
            );
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "\n{:<name_w$}  {:>7}  {:>11}  {:>11}  {:>11}  {:>11}",
        "set", "channel", "min", "max", "mean", "mean peak"
    );
    for x in sets {
        for (ch, p) in x.channels.iter().enumerate() {
            let _ = writeln!(
                s,
                "{:<name_w$}  {:>7}  {:>11}  {:>11}  {:>11}  {:>11}",
                x.name,
                ch,
                num(p.min),
                num(p.max),
                num(p.mean),
                num(p.mean_peak)
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::tests::make_dataset;
    use crate::data::dataset::OpenOptions;
    use crate::data::npy::tests::tempdir::Dir;

    #[test]
    fn summary_reports_counts_columns_and_pixel_stats_per_set() {
        let d = Dir::new("inspect");
        make_dataset(d.path(), &[("CDM", Some(0.0)), ("X", None)], 3, [2, 2, 2]);
        let ds = Dataset::open(d.path(), &OpenOptions::default()).unwrap();
        let s = summarise(&ds).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!((s[1].name.as_str(), s[1].sigma, s[1].count), ("X", None, 3));
        // m200 = 14 + i/100 for images 0..3 of CDM.
        let m = &s[0].columns[0];
        assert_eq!((m.name.as_str(), m.count), ("m200", 3));
        assert!((m.mean - 14.01).abs() < 1e-12 && (m.std - 0.01).abs() < 1e-12);
        // Image i has pixels i + 1 + p/1000; channel 1 holds p = 4..8.
        let p = &s[0].channels[1];
        assert!(
            (p.min - 1.004).abs() < 1e-6 && (p.max - 3.007).abs() < 1e-6,
            "{p:?}"
        );
        assert!((p.mean - 2.0055).abs() < 1e-6 && (p.mean_peak - 2.007).abs() < 1e-6);
        let text = format_summary(&ds, &s);
        assert!(text.contains("6 images of 2×2×2, 2 sets"), "{text}");
        assert!(
            text.contains("unknown") && text.contains("m200 mean ± std"),
            "{text}"
        );
    }
}
