//! Did the model learn? Checks on a finished inference that a model which did not learn
//! fails (a σ/m answer from such a model looks as confident as any other): validation
//! accuracy near chance, a known set read far outside its own interval, every set read
//! as the same σ/m. `infer`, `demo` and `validate` print them and `infer.json` keeps them.

use super::inference::SetInference;
use super::labels::relabel;
use std::path::Path;

/// Accuracy counts as "near chance" up to chance + this share of the way to 1.
pub const CHANCE_MARGIN: f64 = 0.1;
/// A known set is misread when its catalogue σ/m lies this many dex (a factor 3) outside its 90 %
/// interval (CDM sits at the end of the axis, where intervals are clipped).
pub const MISREAD_DEX: f64 = 0.5;
/// Sets have collapsed when every set-level median lies within this factor of the others.
pub const COLLAPSE_FACTOR: f64 = 1.5;

/// The verdict of a set that would be recognised by a model that failed a check here.
pub const UNRELIABLE: &str = "unreliable";

/// A model that failed a did-it-learn check vouches for no set: "recognised" becomes
/// "unreliable" (out-of-domain and extrapolating stay, they already withhold trust).
pub fn downgrade_verdicts(sets: &mut [SetInference], warnings: &[String]) {
    for s in sets.iter_mut() {
        s.verdict = downgraded(&s.verdict, !warnings.is_empty()).into();
    }
}

fn downgraded(verdict: &str, warned: bool) -> &str {
    if warned && verdict == "recognised" {
        UNRELIABLE
    } else {
        verdict
    }
}

/// The last epoch's mean accuracy over members (validation when there is one), from the
/// run's log.
fn last_accuracy(run: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(run.join("log.jsonl")).ok()?;
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let pick = |key: &str| -> Option<Vec<f64>> {
        v[key]
            .as_array()?
            .iter()
            .map(|m| m["accuracy"].as_f64())
            .collect()
    };
    let acc = pick("validation").or_else(|| pick("train"))?;
    (!acc.is_empty()).then(|| acc.iter().sum::<f64>() / acc.len() as f64)
}

/// The warnings for an inference of `run` with `classes` classes.
pub fn warnings(run: &Path, classes: usize, sets: &[SetInference]) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(acc) = last_accuracy(run) {
        let chance = 1.0 / classes.max(1) as f64;
        if acc <= chance + CHANCE_MARGIN * (1.0 - chance) {
            out.push(format!(
                "the model did not learn to tell the classes apart: accuracy {:.2} in the last epoch, chance is {:.2} ({classes} classes); train longer or check the data",
                acc, chance
            ));
        }
    }
    for s in sets.iter().filter(|s| s.role == "known") {
        let Some(sigma) = s.catalog_sigma else {
            continue;
        };
        let truth = relabel(sigma).log10();
        let (lo, hi) = (s.posterior.q05.log10(), s.posterior.q95.log10());
        let off = (lo - truth).max(truth - hi);
        if off > MISREAD_DEX {
            out.push(format!(
                "known set '{}' (σ/m {sigma}) reads {:.3} [90 %: {:.3}–{:.3}], {off:.1} dex outside its own interval: the σ/m axis is not reliable",
                s.name, s.posterior.median, s.posterior.q05, s.posterior.q95
            ));
        }
    }
    let medians: Vec<f64> = sets
        .iter()
        .map(|s| s.set_level.median)
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let known_sigmas: Vec<f64> = sets
        .iter()
        .filter(|s| s.role == "known")
        .filter_map(|s| s.catalog_sigma.map(relabel))
        .collect();
    let spread = |v: &[f64]| {
        let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        hi / lo
    };
    if medians.len() >= 3 && known_sigmas.len() >= 2 && spread(&known_sigmas) > COLLAPSE_FACTOR {
        let s = spread(&medians);
        if s < COLLAPSE_FACTOR {
            out.push(format!(
                "every set reads the same σ/m (set-level medians within a factor {s:.2}) although the known sets span a factor {:.0}: the latent did not separate them",
                spread(&known_sigmas)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_recognised_is_downgraded_and_only_with_a_warning() {
        assert_eq!(downgraded("recognised", true), UNRELIABLE);
        assert_eq!(downgraded("recognised", false), "recognised");
        for v in ["out-of-domain", "extrapolating"] {
            assert_eq!(downgraded(v, true), v);
        }
    }
}
