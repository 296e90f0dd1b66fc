//! `dcc validate`: how often the σ/m intervals cover the truth. Every set a run withheld
//! whose catalog still holds its σ/m is one trial; `--leave-one-out` makes the trials by
//! retraining a template run once per known σ/m label with that label withheld. The table
//! gives both estimates (the paper's product posterior and the set-level bootstrap), their
//! bias, and whether the truth lay between the known labels (interpolation) or beyond
//! them (the ends of the axis: extrapolation).

use super::bootstrap::median;
use super::checkpoint::CheckpointDir;
use super::infer::{infer, Inference, Thresholds};
use super::labels::relabel;
use super::run::{RunInfo, TrainConfig};
use super::train::{train, EpochLog, Progress};
use crate::data::dataset::{Dataset, OpenOptions};
use crate::tensor::Device;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Schema tag of `coverage.json`.
pub const SCHEMA: &str = "dcc-coverage/1";

/// One withheld set of one run: its truth and both estimates.
#[derive(Clone, Debug, Serialize)]
pub struct Trial {
    /// The run directory.
    pub run: PathBuf,
    /// The training seed.
    pub seed: u64,
    /// The withheld set.
    pub set: String,
    /// Its catalog σ/m as labelled (CDM counts as 0.01).
    pub truth: f64,
    /// Whether the truth lay outside the known labels' range (an end of the axis).
    pub extrapolated: bool,
    /// Product posterior: median, 16/84 % and 5/95 % quantiles.
    pub posterior: [f64; 5],
    /// Set-level estimate: median, 16/84 % and 2.5/97.5 % bootstrap quantiles.
    pub set_level: [f64; 5],
}

impl Trial {
    fn inside(q: &[f64; 5], lo: usize, hi: usize, truth: f64) -> bool {
        q[lo] <= truth && truth <= q[hi]
    }
    /// Truth inside the posterior's 68 % interval.
    pub fn posterior_68(&self) -> bool {
        Self::inside(&self.posterior, 1, 2, self.truth)
    }
    /// Truth inside the posterior's 90 % interval.
    pub fn posterior_90(&self) -> bool {
        Self::inside(&self.posterior, 3, 4, self.truth)
    }
    /// Truth inside the set-level 68 % interval.
    pub fn set_68(&self) -> bool {
        Self::inside(&self.set_level, 1, 2, self.truth)
    }
    /// Truth inside the set-level 95 % interval.
    pub fn set_95(&self) -> bool {
        Self::inside(&self.set_level, 3, 4, self.truth)
    }
}

/// Coverage over a group of trials.
#[derive(Clone, Debug, Serialize)]
pub struct Coverage {
    /// "all", "interpolation" or "extrapolation".
    pub group: String,
    /// Trials in the group.
    pub trials: usize,
    /// Fractions of trials whose truth the product posterior's 68 % / 90 % intervals hold.
    pub posterior_68: f64,
    /// 90 % of the posterior.
    pub posterior_90: f64,
    /// Fractions for the set-level 68 % / 95 % intervals.
    pub set_68: f64,
    /// 95 % of the set-level estimate.
    pub set_95: f64,
    /// Median of log10(posterior median / truth).
    pub posterior_bias_dex: f64,
    /// Median of log10(set-level median / truth).
    pub set_bias_dex: f64,
}

/// `coverage.json`.
#[derive(Clone, Debug, Serialize)]
pub struct CoverageReport {
    /// `dcc-coverage/1`.
    pub schema: String,
    /// Every trial.
    pub trials: Vec<Trial>,
    /// Coverage of all trials, then of interpolation and extrapolation trials.
    pub coverage: Vec<Coverage>,
}

/// The trials of one inferred run: its withheld sets that have a catalog σ/m.
pub fn trials(run: &Path, info: &RunInfo, inf: &Inference) -> Vec<Trial> {
    let known: Vec<f64> = info
        .sets
        .iter()
        .filter(|s| s.known)
        .filter_map(|s| s.sigma.map(relabel))
        .collect();
    let lo = known.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = known.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    inf.sets
        .iter()
        .filter(|s| s.role == "unknown")
        .filter_map(|s| {
            let truth = relabel(s.catalog_sigma?);
            let (p, b) = (&s.posterior, &s.set_level);
            Some(Trial {
                run: run.to_path_buf(),
                seed: info.config.seed,
                set: s.name.clone(),
                truth,
                extrapolated: truth < lo || truth > hi,
                posterior: [p.median, p.q16, p.q84, p.q05, p.q95],
                set_level: [b.median, b.q16, b.q84, b.q025, b.q975],
            })
        })
        .collect()
}

/// Coverage of `trials` under the name `group`.
pub fn coverage(group: &str, trials: &[&Trial]) -> Coverage {
    let n = trials.len();
    let frac = |f: fn(&Trial) -> bool| {
        if n == 0 {
            f64::NAN
        } else {
            trials.iter().filter(|t| f(t)).count() as f64 / n as f64
        }
    };
    let bias = |i: usize| {
        median(
            &mut trials
                .iter()
                .map(|t| {
                    let q = if i == 0 { &t.posterior } else { &t.set_level };
                    (q[0] / t.truth).log10()
                })
                .collect::<Vec<_>>(),
        )
    };
    Coverage {
        group: group.into(),
        trials: n,
        posterior_68: frac(Trial::posterior_68),
        posterior_90: frac(Trial::posterior_90),
        set_68: frac(Trial::set_68),
        set_95: frac(Trial::set_95),
        posterior_bias_dex: bias(0),
        set_bias_dex: bias(1),
    }
}

/// The report over all trials.
pub fn report(trials: Vec<Trial>) -> CoverageReport {
    let all: Vec<&Trial> = trials.iter().collect();
    let inter: Vec<&Trial> = trials.iter().filter(|t| !t.extrapolated).collect();
    let extra: Vec<&Trial> = trials.iter().filter(|t| t.extrapolated).collect();
    let coverage = vec![
        coverage("all", &all),
        coverage("interpolation", &inter),
        coverage("extrapolation", &extra),
    ];
    CoverageReport {
        schema: SCHEMA.into(),
        trials,
        coverage,
    }
}

/// The leave-one-out configurations of `template`: one per distinct known σ/m label (CDM
/// counting as 0.01), that label's known sets moved to the withheld ones, named by it.
pub fn leave_one_out(template: &TrainConfig, info: &RunInfo) -> Result<Vec<(String, TrainConfig)>> {
    let mut labels: Vec<f64> = Vec::new();
    for s in info.sets.iter().filter(|s| s.known) {
        let l = relabel(s.sigma.context("a known set has a σ/m")?);
        if !labels.contains(&l) {
            labels.push(l);
        }
    }
    if labels.len() < 3 {
        bail!(
            "leave-one-out needs at least 3 distinct known σ/m values (2 must remain to define the axis), found {}",
            labels.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(labels
        .iter()
        .map(|&l| {
            let out: Vec<String> = info
                .sets
                .iter()
                .filter(|s| s.known && s.sigma.map(relabel) == Some(l))
                .map(|s| s.name.clone())
                .collect();
            let mut c = template.clone();
            c.known.retain(|n| !out.contains(n));
            c.unknown.extend(out);
            (format!("{l}"), c)
        })
        .collect())
}

/// The finished log of `run` if it holds exactly `config` trained to the end; Err when it
/// holds a different run (never overwritten); Ok(None) when it is absent or unfinished.
fn finished(run: &Path, config: &TrainConfig) -> Result<Option<Vec<EpochLog>>> {
    let Ok(info) = RunInfo::load(run) else {
        return Ok(None);
    };
    if serde_json::to_value(&info.config)? != serde_json::to_value(config)? {
        bail!(
            "{}: holds a different run; remove it or choose another --out",
            run.display()
        );
    }
    let log: Vec<EpochLog> = std::fs::read_to_string(run.join("log.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    Ok((log.len() == config.epochs).then_some(log))
}

/// Trains one leave-one-out run into `run`: reuses it when finished, resumes it from its
/// checkpoint when interrupted, and never touches a directory holding another run.
pub fn train_run(
    run: &Path,
    config: TrainConfig,
    device: Device,
    progress: &dyn Progress,
) -> Result<()> {
    if finished(run, &config)?.is_some() {
        eprintln!("{}: finished earlier, reused", run.display());
        return Ok(());
    }
    let resume = CheckpointDir::new(run).existing().is_some();
    let info = if resume {
        RunInfo::load(run)?
    } else {
        let ds = Dataset::open(
            &config.data,
            &OpenOptions {
                skip_bad: config.skip_bad,
            },
        )?;
        let info = RunInfo::plan(config, &ds)?;
        std::fs::create_dir_all(run).with_context(|| format!("creating {}", run.display()))?;
        info.save_new(run)?;
        info
    };
    train(&info, run, resume, progress, device)?;
    Ok(())
}

/// Infers every run's withheld sets (on its own training data) and gathers the trials.
pub fn collect(runs: &[PathBuf], th: &Thresholds, device: Device) -> Result<Vec<Trial>> {
    let mut out = Vec::new();
    for run in runs {
        let info = RunInfo::load(run)?;
        let withheld: Vec<String> = info
            .sets
            .iter()
            .filter(|s| !s.known && s.sigma.is_some())
            .map(|s| s.name.clone())
            .collect();
        if withheld.is_empty() {
            eprintln!(
                "warning: {} withholds no set with a catalog σ/m; it adds no trial",
                run.display()
            );
            continue;
        }
        let (inf, _) = infer(
            run,
            std::slice::from_ref(&info.config.data),
            Some(&withheld),
            th,
            device,
        )
        .with_context(|| format!("inferring {}", run.display()))?;
        for w in &inf.warnings {
            eprintln!("warning: {}: {w}", run.display());
        }
        out.extend(trials(run, &info, &inf));
    }
    Ok(out)
}

/// The table printed and shown in `coverage.html`.
pub fn table(r: &CoverageReport) -> String {
    let mut s = format!(
        "{:<14} {:>5} {:>7} {:>26} {:>4} {:>4} {:>26} {:>4} {:>4}\n",
        "set",
        "seed",
        "truth",
        "posterior [16–84 %]",
        "68",
        "90",
        "set-level [16–84 %]",
        "68",
        "95"
    );
    let mark = |b: bool| if b { "yes" } else { "no" };
    for t in &r.trials {
        s += &format!(
            "{:<14} {:>5} {:>7} {:>26} {:>4} {:>4} {:>26} {:>4} {:>4}{}\n",
            t.set,
            t.seed,
            format!("{}", t.truth),
            format!(
                "{:.3} [{:.3}–{:.3}]",
                t.posterior[0], t.posterior[1], t.posterior[2]
            ),
            mark(t.posterior_68()),
            mark(t.posterior_90()),
            format!(
                "{:.3} [{:.3}–{:.3}]",
                t.set_level[0], t.set_level[1], t.set_level[2]
            ),
            mark(t.set_68()),
            mark(t.set_95()),
            if t.extrapolated {
                "  (end of axis)"
            } else {
                ""
            }
        );
    }
    s += "\ncoverage: fraction of trials whose truth lies inside the interval (nominal in brackets)\n";
    s += &format!(
        "{:<14} {:>6} {:>14} {:>14} {:>12} {:>12} {:>12} {:>12}\n",
        "group",
        "trials",
        "post. 68 (.68)",
        "post. 90 (.90)",
        "set 68 (.68)",
        "set 95 (.95)",
        "post. bias",
        "set bias"
    );
    // An empty group (no trial at an end of the axis) has no fractions: a dash, not NaN.
    let f = |v: f64, w: usize| {
        if v.is_finite() {
            format!("{v:>w$.2}")
        } else {
            format!("{:>w$}", "–")
        }
    };
    for c in &r.coverage {
        s += &format!(
            "{:<14} {:>6} {} {} {} {} {} dex {} dex\n",
            c.group,
            c.trials,
            f(c.posterior_68, 14),
            f(c.posterior_90, 14),
            f(c.set_68, 12),
            f(c.set_95, 12),
            f(c.posterior_bias_dex, 9),
            f(c.set_bias_dex, 8)
        );
    }
    s
}
