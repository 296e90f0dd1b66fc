//! The readable summary of an inference: one row per set and the verdict's rule.

use super::inference::Inference;

/// The readable summary table.
pub fn table(inf: &Inference) -> String {
    // A set name found in several data directories is shown with its directory's name.
    let shown: Vec<String> = inf
        .sets
        .iter()
        .map(|x| {
            let twins = inf.sets.iter().filter(|y| y.name == x.name).count();
            match x.data.file_name() {
                Some(dir) if twins > 1 => format!("{} [{}]", x.name, dir.to_string_lossy()),
                _ => x.name.clone(),
            }
        })
        .collect();
    // Columns as wide as the longest set name (set names are the user's).
    let w = inf
        .sets
        .iter()
        .zip(&shown)
        .flat_map(|(x, n)| [n.chars().count(), x.closest_known.chars().count()])
        .max()
        .unwrap_or(0)
        .max(12);
    let mut s = format!(
        "{:<w$} {:>5} {:<8} {:>8} {:>20} {:>20} {:>9} {:<w$} {:>6} {:>9} {:<13}\n",
        "set",
        "n",
        "role",
        "σ/m cat",
        "σ/m [16–84 %]",
        "set-level [16–84]",
        "conf.",
        "closest",
        "far",
        "OOD p",
        "verdict"
    );
    for (x, name) in inf.sets.iter().zip(&shown) {
        let p = &x.posterior;
        let b = &x.set_level;
        s += &format!(
            "{:<w$} {:>5} {:<8} {:>8} {:>20} {:>20} {:>8.1}% {:<w$} {:>5.0}% {:>9} {:<13}\n",
            name,
            x.images,
            x.role,
            x.catalog_sigma.map_or("-".into(), |v| format!("{v}")),
            format!("{:.3} [{:.3}–{:.3}]", p.median, p.q16, p.q84),
            format!("{:.3} [{:.3}–{:.3}]", b.median, b.q16, b.q84),
            100.0 * x.confidence,
            x.closest_known,
            100.0 * x.knn_far_fraction,
            x.ood.p_value.map_or("-".into(), fmt_p),
            x.verdict
        );
    }
    s += "σ/m: the paper's product of the members' KDEs; set-level: median ensemble-mean z₀, bootstrap over images and members\n";
    s += &if inf.calibration_images == 0 {
        "verdict: out-of-domain test skipped (too few validation images to calibrate it);\n"
            .to_string()
    } else {
        format!(
            "verdict: out-of-domain when the set's out-of-domain scores exceed those of the {} held-out in-domain images and of each training set's share of them (one-sided Mann–Whitney, largest p < {}); otherwise\n",
            inf.calibration_images, inf.thresholds.ood_alpha
        )
    };
    s += &format!(
        "         recognised when confidence ≥ {:.0}% and at most {:.0}% of images lie beyond the training 95th percentile of the {}-th neighbour distance; else extrapolating\n",
        100.0 * inf.thresholds.min_confidence,
        100.0 * inf.thresholds.max_far_fraction,
        inf.thresholds.knn_k
    );
    if !inf.warnings.is_empty() {
        s += "         unreliable where it would be recognised: the model failed the check below\n";
    }
    for w in &inf.warnings {
        s += &format!("WARNING: {w}\n");
    }
    s
}

/// A p-value in a few characters (scientific below 0.001).
pub fn fmt_p(p: f64) -> String {
    if p >= 1e-3 {
        format!("{p:.3}")
    } else {
        format!("{p:.0e}")
    }
}
