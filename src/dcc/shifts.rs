//! `dcc shifts`: the trust test's shift suite. From a trained run it makes fresh in-domain
//! maps (the run's own simulation settings, another seed), maps shifted by the simulator's
//! knobs (PSF, pixel scale, noise, other codes) and by map transforms (blur, zoom, noise,
//! channel swap, inversion, other profile families, point-like mocks), and a near-domain
//! control; infers on all of them with the run's out-of-domain test; and tabulates per
//! kind the per-image AUROC against the in-domain validation images and the share of
//! sets of `set_size` images the per-set test flags.

use super::infer::{infer, Inference, Thresholds};
use super::ood::{mann_whitney_greater, set_test, CalibrationGroup};
use super::run::RunInfo;
use crate::data::catalog::Catalog;
use crate::data::dataset::{write_dataset, Dataset, OpenOptions};
use crate::data::loader::{Loader, LoaderConfig, Split};
use crate::data::shifts::MapShift;
use crate::data::sim::config::SetConfig;
use crate::data::sim::output::{simulate_to_dir, SimulationPlan};
use crate::tensor::Device;
use anyhow::{bail, Context, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

/// Schema tag of `shifts.json`.
pub const SCHEMA: &str = "dcc-shifts/1";

/// What a kind is expected to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Fresh in-domain maps: flagged sets are false alarms.
    InDomain,
    /// A perturbation far below what matters: should not be flagged.
    Near,
    /// A domain shift the test must catch.
    Shift,
    /// Reported without a target (subtle code differences, a new σ/m).
    Extra,
}

#[derive(Clone, Copy, Debug)]
enum Make {
    Fresh,
    Map(MapShift),
    Knobs(&'static str),
}

struct Kind {
    name: &'static str,
    what: &'static str,
    role: Role,
    make: Make,
}

const KINDS: &[Kind] = &[
    Kind {
        name: "in-domain",
        what: "fresh maps of the training sets' settings (another seed)",
        role: Role::InDomain,
        make: Make::Fresh,
    },
    Kind {
        name: "near-noise",
        what: "control: Gaussian noise of 0.1 % of the peak",
        role: Role::Near,
        make: Make::Map(MapShift::Noise(1e-3)),
    },
    Kind {
        name: "blur",
        what: "Gaussian blur σ = 1.5 px",
        role: Role::Shift,
        make: Make::Map(MapShift::Blur(1.5)),
    },
    Kind {
        name: "zoom-in",
        what: "×2 magnification (half the field)",
        role: Role::Shift,
        make: Make::Map(MapShift::Zoom(2.0)),
    },
    Kind {
        name: "zoom-out",
        what: "×0.5 (field shrunk into the middle)",
        role: Role::Shift,
        make: Make::Map(MapShift::Zoom(0.5)),
    },
    Kind {
        name: "noise",
        what: "Gaussian noise of 5 % of the peak",
        role: Role::Shift,
        make: Make::Map(MapShift::Noise(0.05)),
    },
    Kind {
        name: "channel-swap",
        what: "channels in reverse order",
        role: Role::Shift,
        make: Make::Map(MapShift::ChannelSwap),
    },
    Kind {
        name: "inverted",
        what: "each channel peak − x",
        role: Role::Shift,
        make: Make::Map(MapShift::Invert),
    },
    Kind {
        name: "mock-beta",
        what: "other profile family: elliptical β-models",
        role: Role::Shift,
        make: Make::Map(MapShift::MockBeta),
    },
    Kind {
        name: "mock-points",
        what: "point-like maps: 1–4 unresolved sources",
        role: Role::Shift,
        make: Make::Map(MapShift::MockPoints),
    },
    Kind {
        name: "sim-psf",
        what: "simulator: PSF σ = 1.5 px",
        role: Role::Shift,
        make: Make::Knobs("psf=1.5"),
    },
    Kind {
        name: "sim-pix10",
        what: "simulator: 10 kpc pixels (zoomed in)",
        role: Role::Shift,
        make: Make::Knobs("pixel_kpc=10"),
    },
    Kind {
        name: "sim-pix40",
        what: "simulator: 40 kpc pixels (zoomed out)",
        role: Role::Shift,
        make: Make::Knobs("pixel_kpc=40"),
    },
    Kind {
        name: "sim-lensing",
        what: "simulator: weak-lensing noise, 30 gal/arcmin²",
        role: Role::Shift,
        make: Make::Knobs("lensing=30"),
    },
    Kind {
        name: "sim-xray",
        what: "simulator: X-ray Poisson noise, 20 peak counts",
        role: Role::Shift,
        make: Make::Knobs("xray=20"),
    },
    Kind {
        name: "sim-code",
        what: "simulator: another code (c ×1.35, β 0.85, satellites' stars ×2)",
        role: Role::Extra,
        make: Make::Knobs("conc=1.35:beta=0.85:sat_stars=2"),
    },
    Kind {
        name: "sim-dutton",
        what: "simulator: Dutton–Macciò c(M) (DARKSKIES-like)",
        role: Role::Extra,
        make: Make::Knobs("cm=dutton"),
    },
    Kind {
        name: "sim-highz",
        what: "simulator: z = 0.6–1",
        role: Role::Extra,
        make: Make::Knobs("z=0.6..1"),
    },
    Kind {
        name: "new-sigma",
        what: "simulator: σ/m = 0.5, not trained on (should read in domain)",
        role: Role::Extra,
        make: Make::Knobs("sigma=0.5"),
    },
];

/// How the suite is made.
#[derive(Clone, Debug)]
pub struct SuiteConfig {
    /// The trained run.
    pub run: PathBuf,
    /// Output directory (datasets, `shifts.json`, `shifts.md`, `infer.json`).
    pub out: PathBuf,
    /// Images of each shifted kind per training set.
    pub per_kind: usize,
    /// Fresh in-domain images per training set (the false-alarm estimate).
    pub in_domain: usize,
    /// Images per tested set.
    pub set_size: usize,
    /// Seed of the fresh maps and the transforms (must differ from the training data's).
    pub seed: u64,
    /// Inference settings (the out-of-domain levels among them).
    pub thresholds: Thresholds,
    /// Where the networks run.
    pub device: Device,
}

/// One row of the table.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Kind name.
    pub kind: String,
    /// What it is.
    pub what: String,
    /// What it is expected to do.
    pub role: Role,
    /// Images scored.
    pub images: usize,
    /// Per-image AUROC of the out-of-domain score against the in-domain validation images.
    pub auroc: f64,
    /// Share of images with a conformal p-value ≤ the per-image level.
    pub images_flagged: f64,
    /// Sets of `set_size` images tested.
    pub sets: usize,
    /// Of those, flagged out-of-domain by the per-set test.
    pub sets_flagged: usize,
    /// Whole sets (one per training set it was made from, all its images) tested.
    pub whole_sets: usize,
    /// Of those, flagged out-of-domain (the `dcc infer` verdict).
    pub whole_flagged: usize,
    /// Images per whole set.
    pub whole_size: usize,
    /// Median out-of-domain score.
    pub median_score: f64,
}

/// A target of the issue and whether it held.
#[derive(Clone, Debug, Serialize)]
pub struct Target {
    /// The claim.
    pub claim: String,
    /// Whether it held.
    pub pass: bool,
}

/// The whole suite's result.
#[derive(Clone, Debug, Serialize)]
pub struct Suite {
    /// `dcc-shifts/1`.
    pub schema: String,
    /// The run.
    pub run: PathBuf,
    /// Seed of the suite's maps.
    pub seed: u64,
    /// Images per tested set.
    pub set_size: usize,
    /// The per-set false-alarm level.
    pub alpha: f64,
    /// The per-image level.
    pub image_alpha: f64,
    /// Held-out images calibrating the test.
    pub calibration_images: usize,
    /// In-domain validation images the AUROCs compare with.
    pub validation_images: usize,
    /// Where the fresh maps came from.
    pub source: String,
    /// One row per kind.
    pub rows: Vec<Row>,
    /// The targets.
    pub targets: Vec<Target>,
}

fn kind_of(set: &str) -> &str {
    set.split('~').next().unwrap_or(set)
}

/// The training sets' simulator settings, when the run's data was made by `dcc simulate`.
fn simulation_sources(info: &RunInfo) -> Option<(SimulationPlan, Vec<SetConfig>)> {
    let path = info.config.data.join("simulation.json");
    let text = std::fs::read_to_string(&path).ok()?;
    let plan: SimulationPlan = match serde_json::from_str(&text) {
        Ok(p) => p,
        Err(e) => {
            eprintln!(
                "warning: {}: unreadable ({e}); map transforms only",
                path.display()
            );
            return None;
        }
    };
    let sets: Option<Vec<SetConfig>> = info
        .sets
        .iter()
        .map(|s| plan.sets.iter().find(|c| c.name == s.name).cloned())
        .collect();
    sets.map(|s| (plan, s))
}

fn apply_knobs(base: &SetConfig, knobs: &str, name: String) -> Result<SetConfig> {
    let mut c = base.clone();
    for k in knobs.split(':') {
        c.apply(k)
            .with_context(|| format!("shift suite: knob '{k}' on set '{}'", base.name))?;
    }
    c.name = name;
    Ok(c)
}

/// Makes the suite's datasets under `cfg.out`; returns the directories to infer on and a
/// description of where the in-domain maps came from.
fn make_datasets(cfg: &SuiteConfig, info: &RunInfo) -> Result<(Vec<PathBuf>, String)> {
    let mut dirs = Vec::new();
    let quiet = |_: usize| {};
    // Sources of the map transforms: (dataset, image indices, source set name).
    let mut sources: Vec<Source> = Vec::new();
    let described;
    if let Some((plan, bases)) = simulation_sources(info) {
        if plan.seed == cfg.seed {
            bail!(
                "--seed {}: the run's data was simulated with this seed; the suite needs fresh maps (another seed)",
                cfg.seed
            );
        }
        let fresh = SimulationPlan {
            sets: bases
                .iter()
                .map(|b| {
                    let mut c = b.clone();
                    c.name = format!("in-domain~{}", b.name);
                    c
                })
                .collect(),
            per_set: cfg.in_domain.max(cfg.per_kind),
            channels: plan.channels.clone(),
            seed: cfg.seed,
        };
        let dir = cfg.out.join("in-domain");
        eprintln!(
            "shift suite: simulating {} fresh in-domain maps per training set",
            fresh.per_set
        );
        simulate_to_dir(&fresh, &dir, 256, &quiet)?;
        let ds = Arc::new(Dataset::open(&dir, &OpenOptions::default())?);
        for s in ds.sets() {
            let src = s.name.trim_start_matches("in-domain~").to_string();
            sources.push((
                ds.clone(),
                s.indices.iter().copied().take(cfg.per_kind).collect(),
                src,
            ));
        }
        dirs.push(dir);
        let mut shifted = Vec::new();
        for k in KINDS {
            if let Make::Knobs(knobs) = k.make {
                for b in &bases {
                    let c = apply_knobs(b, knobs, format!("{}~{}", k.name, b.name))?;
                    let mut same = c.clone();
                    same.name = b.name.clone();
                    // A knob the training data already had is no shift.
                    if same != *b {
                        shifted.push(c);
                    }
                }
            }
        }
        if !shifted.is_empty() {
            let plan = SimulationPlan {
                sets: shifted,
                per_set: cfg.per_kind,
                channels: plan.channels.clone(),
                seed: cfg.seed,
            };
            let dir = cfg.out.join("simulated");
            eprintln!(
                "shift suite: simulating {} shifted sets × {} maps",
                plan.sets.len(),
                plan.per_set
            );
            simulate_to_dir(&plan, &dir, 256, &quiet)?;
            dirs.push(dir);
        }
        described = format!(
            "fresh maps of the run's simulation settings, seed {}",
            cfg.seed
        );
    } else {
        // Not simulated by dcc: the held-out half of each training set's validation images
        // (the half the out-of-domain test does not calibrate on) is the in-domain source.
        let ds = Arc::new(info.open_dataset()?);
        let loader = Loader::new(
            ds.clone(),
            LoaderConfig {
                batch_size: info.config.batch,
                seed: info.config.seed,
                validation_fraction: info.config.validation_fraction,
                channels: info.config.channels.clone(),
                ..LoaderConfig::default()
            },
        )?;
        let val = loader.indices(Split::Validation);
        for (si, s) in ds.sets().iter().enumerate() {
            if !info.sets.iter().any(|c| c.name == s.name) {
                continue;
            }
            let mine: Vec<usize> = val
                .iter()
                .copied()
                .filter(|&i| ds.set_of(i) == Some(si))
                .collect();
            let idx: Vec<usize> = mine
                .into_iter()
                .skip(1)
                .step_by(2)
                .take(cfg.per_kind)
                .collect();
            sources.push((ds.clone(), idx, s.name.clone()));
        }
        described = "held-out validation images of the run's data (no simulation.json: no simulator kinds, no fresh in-domain sets)".into();
    }
    dirs.push(write_transformed(cfg, &sources)?);
    Ok((dirs, described))
}

/// Images a map transform starts from: dataset, indices, the training set they stand for.
type Source = (Arc<Dataset>, Vec<usize>, String);

fn write_transformed(cfg: &SuiteConfig, sources: &[Source]) -> Result<PathBuf> {
    let dims = sources
        .first()
        .map(|s| s.0.dims())
        .context("shift suite: no source images")?;
    let [_, c, h, w] = dims;
    let mut images = Vec::new();
    let mut rows = Vec::new();
    for (ki, k) in KINDS.iter().enumerate() {
        let Make::Map(shift) = k.make else { continue };
        if shift == MapShift::ChannelSwap && c < 2 {
            continue;
        }
        for (ds, idx, src) in sources {
            for (j, &i) in idx.iter().enumerate() {
                let mut rng = ChaCha8Rng::seed_from_u64(crate::seed::derive(
                    cfg.seed,
                    ki as u64 + 1,
                    (rows.len() * 7919 + j) as u64,
                ));
                let img = ds.image(i)?;
                images.extend(shift.apply(&img, [c, h, w], &mut rng)?);
                let sigma = match shift {
                    MapShift::MockBeta | MapShift::MockPoints => String::new(),
                    _ => ds.sets()[ds.set_of(i).expect("a source image has a set")]
                        .sigma
                        .map_or(String::new(), |v| v.to_string()),
                };
                rows.push(vec![format!("{}~{src}", k.name), sigma]);
            }
        }
    }
    let dir = cfg.out.join("transformed");
    let n = rows.len();
    write_dataset(
        &dir,
        [n, c, h, w],
        &images,
        &Catalog {
            columns: vec!["set".into(), "sigma".into()],
            rows,
        },
    )?;
    Ok(dir)
}

/// Per-set tests of `scores` cut into consecutive sets of `size` (a short tail dropped
/// unless it is the only set).
fn chunk_flags(
    scores: &[f64],
    size: usize,
    calibration: &[f64],
    groups: &[CalibrationGroup],
    alpha: f64,
) -> (usize, usize) {
    let chunks: Vec<&[f64]> = if scores.len() < size {
        vec![scores]
    } else {
        scores.chunks_exact(size).collect()
    };
    let flagged = chunks
        .iter()
        .filter(|c| set_test(c, calibration, groups).0.p_value < alpha)
        .count();
    (chunks.len(), flagged)
}

fn median(v: &[f64]) -> f64 {
    super::bootstrap::median(&mut v.to_vec())
}

/// Tabulates an inference over the suite.
pub fn tabulate(cfg: &SuiteConfig, inf: &Inference, source: String) -> Result<Suite> {
    let run_data = RunInfo::load(&cfg.run)?.config.data;
    let validation: Vec<f64> = inf
        .sets
        .iter()
        .filter(|s| s.role != "new" && s.data == run_data)
        .flat_map(|s| s.ood.score_per_image.iter().copied())
        .collect();
    if validation.is_empty() {
        bail!("shift suite: no in-domain validation images were scored");
    }
    let th = &inf.thresholds;
    let mut rows = Vec::new();
    for k in KINDS {
        let sets: Vec<_> = inf
            .sets
            .iter()
            .filter(|s| s.role == "new" && kind_of(&s.name) == k.name)
            .collect();
        if sets.is_empty() {
            continue;
        }
        let scores: Vec<f64> = sets
            .iter()
            .flat_map(|s| s.ood.score_per_image.iter().copied())
            .collect();
        let ps: Vec<f64> = sets
            .iter()
            .flat_map(|s| s.ood.p_value_per_image.iter().copied())
            .collect();
        let (mut n_sets, mut n_flagged) = (0, 0);
        for s in &sets {
            let (n, f) = chunk_flags(
                &s.ood.score_per_image,
                cfg.set_size,
                &inf.calibration_scores,
                &inf.calibration_groups,
                th.ood_alpha,
            );
            n_sets += n;
            n_flagged += f;
        }
        rows.push(Row {
            kind: k.name.into(),
            what: k.what.into(),
            role: k.role,
            images: scores.len(),
            auroc: mann_whitney_greater(&scores, &validation).auc,
            images_flagged: ps.iter().filter(|&&p| p <= th.ood_image_alpha).count() as f64
                / ps.len() as f64,
            sets: n_sets,
            sets_flagged: n_flagged,
            whole_sets: sets.len(),
            whole_flagged: sets
                .iter()
                .filter(|s| s.ood.out_of_domain(th.ood_alpha))
                .count(),
            whole_size: sets.iter().map(|s| s.ood.images).min().unwrap_or(0),
            median_score: median(&scores),
        });
    }
    let mut targets = Vec::new();
    for r in &rows {
        let rate = r.sets_flagged as f64 / r.sets.max(1) as f64;
        match r.role {
            Role::Shift => targets.push(Target {
                claim: format!("{}: per-image AUROC {:.3} ≥ 0.95", r.kind, r.auroc),
                pass: r.auroc >= 0.95,
            }),
            Role::Near => targets.push(Target {
                claim: format!(
                    "{}: {} of {} sets flagged ({:.1} %) ≤ 5 %",
                    r.kind,
                    r.sets_flagged,
                    r.sets,
                    100.0 * rate
                ),
                pass: rate <= 0.05,
            }),
            Role::InDomain => {
                // Within the nominal level: not above what Binomial(sets, α) reaches with
                // 95 % probability.
                let limit = binomial_upper(r.sets, th.ood_alpha, 0.95);
                targets.push(Target {
                    claim: format!(
                        "{}: {} of {} sets flagged ({:.1} %) within the nominal {} (≤ {limit} expected at 95 %)",
                        r.kind,
                        r.sets_flagged,
                        r.sets,
                        100.0 * rate,
                        th.ood_alpha
                    ),
                    pass: r.sets_flagged <= limit,
                });
            }
            Role::Extra => {}
        }
    }
    Ok(Suite {
        schema: SCHEMA.into(),
        run: cfg.run.clone(),
        seed: cfg.seed,
        set_size: cfg.set_size,
        alpha: th.ood_alpha,
        image_alpha: th.ood_image_alpha,
        calibration_images: inf.calibration_images,
        validation_images: validation.len(),
        source,
        rows,
        targets,
    })
}

/// The smallest k with P(Binomial(n, p) ≤ k) ≥ q.
pub fn binomial_upper(n: usize, p: f64, q: f64) -> usize {
    let mut cdf = 0.0;
    let mut pmf = (1.0 - p).powi(n as i32);
    for k in 0..=n {
        cdf += pmf;
        if cdf >= q {
            return k;
        }
        pmf *= (n - k) as f64 / (k + 1) as f64 * p / (1.0 - p);
    }
    n
}

/// Makes the suite, infers on it and tabulates it; writes `shifts.json`, `shifts.md` and
/// `infer.json` into `cfg.out`.
pub fn run_suite(cfg: &SuiteConfig) -> Result<Suite> {
    if cfg.set_size < 2 || cfg.per_kind < 2 {
        bail!("shift suite: --set-size and --per-kind must be at least 2");
    }
    let info = RunInfo::load(&cfg.run)?;
    std::fs::create_dir_all(&cfg.out)
        .with_context(|| format!("{}: cannot create", cfg.out.display()))?;
    let (mut dirs, source) = make_datasets(cfg, &info)?;
    dirs.insert(0, info.config.data.clone());
    eprintln!("shift suite: inferring on {} dataset(s)", dirs.len());
    let (inf, _) = infer(&cfg.run, &dirs, None, &cfg.thresholds, cfg.device)?;
    if inf.calibration_images == 0 {
        bail!(
            "{}: the run has too few validation images for the out-of-domain test (infer said why)",
            cfg.run.display()
        );
    }
    let suite = tabulate(cfg, &inf, source)?;
    let write = |name: &str, text: String| -> Result<()> {
        crate::files::write_atomic(&cfg.out.join(name), text.as_bytes())
    };
    write("infer.json", serde_json::to_string(&inf)?)?;
    write("shifts.json", serde_json::to_string_pretty(&suite)?)?;
    write("shifts.md", table(&suite))?;
    Ok(suite)
}

/// The suite as a Markdown table with its targets.
pub fn table(s: &Suite) -> String {
    let mut t = format!(
        "Shift suite of {} ({}); per-set test at α = {} on sets of {} images; AUROC against {} in-domain validation images; {} calibration images.\n\n",
        s.run.display(),
        s.source,
        s.alpha,
        s.set_size,
        s.validation_images,
        s.calibration_images
    );
    t += "| kind | what | role | images | AUROC | images p ≤ "
        .to_string()
        .as_str();
    t += &format!(
        "{} | sets of {} flagged | whole sets flagged (images each) | median score |\n",
        s.image_alpha, s.set_size
    );
    t += "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n";
    for r in &s.rows {
        let role = match r.role {
            Role::InDomain => "in-domain",
            Role::Near => "near control",
            Role::Shift => "shift",
            Role::Extra => "extra",
        };
        t += &format!(
            "| {} | {} | {} | {} | {:.3} | {:.1} % | {} / {} | {} / {} ({}) | {:.2} |\n",
            r.kind,
            r.what,
            role,
            r.images,
            r.auroc,
            100.0 * r.images_flagged,
            r.sets_flagged,
            r.sets,
            r.whole_flagged,
            r.whole_sets,
            r.whole_size,
            r.median_score
        );
    }
    t += "\nTargets:\n";
    for g in &s.targets {
        t += &format!("- [{}] {}\n", if g.pass { "pass" } else { "FAIL" }, g.claim);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_upper_matches_hand_values() {
        // Binomial(100, 0.01): P(≤ 2) = 0.9206, P(≤ 3) = 0.9816.
        assert_eq!(binomial_upper(100, 0.01, 0.95), 3);
        assert_eq!(binomial_upper(10, 0.5, 0.5), 5);
        assert_eq!(binomial_upper(0, 0.1, 0.95), 0);
    }

    #[test]
    fn chunks_drop_a_short_tail_and_flag_shifted_sets() {
        let cal: Vec<f64> = (0..200).map(|i| i as f64 / 200.0).collect();
        let same: Vec<f64> = (0..45).map(|i| (i as f64 * 0.37) % 1.0).collect();
        assert_eq!(chunk_flags(&same, 20, &cal, &[], 0.01), (2, 0));
        let far: Vec<f64> = (0..40).map(|i| 2.0 + i as f64).collect();
        assert_eq!(chunk_flags(&far, 20, &cal, &[], 0.01), (2, 2));
        assert_eq!(chunk_flags(&far[..5], 20, &cal, &[], 0.01).0, 1);
    }

    #[test]
    fn every_knob_kind_parses_on_a_bahamas_set() {
        let base = SetConfig::bahamas("bahamas-cdm", 0.0);
        for k in KINDS {
            if let Make::Knobs(knobs) = k.make {
                let c = apply_knobs(&base, knobs, format!("{}~x", k.name)).unwrap();
                assert_ne!(c, base, "{} changes nothing", k.name);
            }
        }
    }
}
