//! `dcc infer`: latents of every set given, the σ/m posterior per set, the overlap of each
//! set with every training class, the nearest-neighbour distance score, the calibrated
//! out-of-domain test (per-image scores and p-values, a per-set test; `ood.rs`), and a
//! verdict ("out-of-domain" / "recognised" / "extrapolating", "unreliable" in place of
//! "recognised" when the model failed a did-it-learn check) with its rule stated.
//! Output: a JSON document with a stable schema (`dcc-infer/2`) and a readable table.

use super::bootstrap::{set_estimate, SetEstimate};
use super::checkpoint::load_params;
pub use super::infer_table::{fmt_p, table};
pub use super::inference::{
    ClassOverlap, Inference, References, SetInference, Thresholds, MIN_HELD_OUT_REFERENCES, SCHEMA,
};
use super::knn::{kth_distances_on, training_threshold_on};
use super::latents::{features, Features};
use super::ood::{mean_distances, Calibration, MemberReferences, SetOod, MIN_CALIBRATION};
use super::overlap::{mean_and_stderr, overlaps_on, OverlapPair};
use super::posterior::posteriors_on;
use super::run::{weights_file, RunInfo};
use crate::data::dataset::{split_set_names, Dataset, OpenOptions};
use crate::data::loader::{Loader, LoaderConfig, Split};
use crate::nn::network::Network;
use crate::tensor::Pool;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A set inferred on: where its images are.
pub struct Target {
    /// Set name.
    pub name: String,
    /// Dataset directory.
    pub data: PathBuf,
    role: String,
    sigma: Option<f64>,
    /// The opened dataset.
    pub ds: Arc<Dataset>,
    /// Images used (the posterior reads them all).
    pub indices: Vec<usize>,
    /// Positions in `indices` of the images the overlap and kNN tests use: with held-out
    /// references, a training class's own reference half is left out.
    pub trust_rows: Vec<usize>,
    /// Positions in `indices` the out-of-domain test scores: a training set's calibration
    /// half (its even positions) is left out.
    pub ood_rows: Vec<usize>,
}

/// What the report needs beyond the JSON: latents of member 0 and where images came from.
pub struct Details {
    /// The run.
    pub info: RunInfo,
    /// The sets inferred on.
    pub targets: Vec<Target>,
    /// Member 0's latents per target (N×D).
    pub latents: Vec<Vec<f32>>,
    /// Every member's latents: `[member][target]`, N×D each (for `--export-latents`).
    pub member_latents: Vec<Vec<Vec<f32>>>,
    /// Member 0's latents of each class's training images (N×D).
    pub class_latents: Vec<Vec<f32>>,
    /// Input channels used.
    pub channels: Vec<usize>,
    /// The device the networks ran on (the report's saliency runs there too).
    pub device: crate::tensor::Device,
}

/// Loads member `k` of a run.
pub fn load_member(info: &RunInfo, run: &Path, k: usize) -> Result<Network> {
    let mut net = info.network(k)?;
    let path = run.join(weights_file(k));
    if !path.exists() {
        bail!(
            "{}: this run has no trained weights yet (no {}){}",
            run.display(),
            weights_file(k),
            match super::lock::holder(run) {
                Some(pid) =>
                    format!("; it is being trained by process {pid}: wait for its first epoch"),
                None => "; train it first (dcc train --run … --resume continues it)".into(),
            }
        );
    }
    load_params(&path, &mut net.params)?;
    Ok(net)
}

/// Says so when `run` is still training: which epoch its weights are from.
fn note_training(run: &Path) {
    if let Some(pid) = super::lock::holder(run) {
        let epoch = std::fs::read_to_string(run.join("log.jsonl"))
            .ok()
            .and_then(|t| {
                t.lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                    .and_then(|v| v["epoch"].as_u64())
            });
        eprintln!(
            "note: {} is being trained (process {pid}); its weights are from epoch {}",
            run.display(),
            epoch.map_or("?".into(), |e| e.to_string())
        );
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Runs the inference of `run` on the sets of `data` (all sets, or those named in `only`).
pub fn infer(
    run: &Path,
    data: &[PathBuf],
    only: Option<&[String]>,
    th: &Thresholds,
    device: crate::tensor::Device,
) -> Result<(Inference, Details)> {
    let info = RunInfo::load(run)?;
    note_training(run);
    let cfg = &info.config;
    let train_ds = Arc::new(info.open_dataset().with_context(|| {
        format!(
            "{}: opening the run's training data (moved? re-point it with dcc train --run {} --resume --data DIR)",
            run.display(),
            run.display()
        )
    })?);
    let loader = Loader::new(
        train_ds.clone(),
        LoaderConfig {
            batch_size: cfg.batch,
            seed: cfg.seed,
            validation_fraction: cfg.validation_fraction,
            channels: cfg.channels.clone(),
            ..LoaderConfig::default()
        },
    )?;
    let channels: Vec<usize> = cfg
        .channels
        .clone()
        .unwrap_or_else(|| (0..train_ds.dims()[1]).collect());
    let (train_idx, val_idx) = (
        loader.indices(Split::Train),
        loader.indices(Split::Validation),
    );
    let of_set = |idx: &[usize], name: &str| -> Vec<usize> {
        let s = train_ds
            .sets()
            .iter()
            .position(|s| s.name == name)
            .expect("run classes exist");
        idx.iter()
            .copied()
            .filter(|&i| train_ds.set_of(i) == Some(s))
            .collect()
    };
    // With held-out references, each class's validation images are dealt alternately into
    // a reference half and a test half, so a class is never tested against itself. Too few
    // held-out images for two useful halves: the training images stand in, and it is said.
    let mut th = th.clone();
    let smallest = info
        .sets
        .iter()
        .map(|c| of_set(val_idx, &c.name).len())
        .min()
        .unwrap_or(0);
    if th.references == References::Validation && smallest < 2 * MIN_HELD_OUT_REFERENCES {
        eprintln!(
            "warning: a class has only {smallest} validation image(s), too few to split into held-out references and test images (need {}); using training latents as references",
            2 * MIN_HELD_OUT_REFERENCES
        );
        th.references = References::Train;
    }
    let th = &th;
    let class_val: Vec<Vec<usize>> = info.sets.iter().map(|c| of_set(val_idx, &c.name)).collect();
    let class_refs: Vec<Vec<usize>> = info
        .sets
        .iter()
        .zip(&class_val)
        .map(|(c, val)| match th.references {
            References::Train => of_set(train_idx, &c.name),
            References::Validation => val.iter().copied().step_by(2).collect(),
        })
        .collect();
    if let Some((c, r)) = info.sets.iter().zip(&class_refs).find(|(_, r)| r.len() < 2) {
        bail!(
            "class '{}' has {} reference image(s) (references: {}); need at least 2: train with a larger --validation or infer with --references train",
            c.name,
            r.len(),
            match th.references {
                References::Validation => "validation",
                References::Train => "train",
            }
        );
    }

    let mut targets = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    let mut datasets = Vec::new();
    for dir in data {
        let same = same_dir(dir, &cfg.data);
        let ds = if same {
            train_ds.clone()
        } else {
            Arc::new(Dataset::open(
                dir,
                &OpenOptions {
                    skip_bad: cfg.skip_bad,
                },
            )?)
        };
        datasets.push((dir, same, ds));
    }
    let only: Option<Vec<String>> = only.map(|o| {
        let names: Vec<&str> = datasets
            .iter()
            .flat_map(|(_, _, ds)| ds.sets().iter().map(|s| s.name.as_str()))
            .collect();
        split_set_names(o, &names)
    });
    let only = only.as_deref();
    for (dir, same, ds) in datasets {
        let have = ds.dims()[1];
        if channels.iter().any(|&k| k >= have) {
            bail!(
                "{}: the run was trained on {} channel(s) ({}) of {}-channel maps; the maps here have {have}",
                dir.display(),
                channels.len(),
                channels
                    .iter()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
                train_ds.dims()[1]
            );
        }
        for set in ds.sets() {
            if only.is_some_and(|o| !o.contains(&set.name)) {
                continue;
            }
            let class = info
                .sets
                .iter()
                .find(|c| c.name == set.name)
                .filter(|_| same);
            let (role, indices) = match class {
                Some(c) => (
                    if c.known { "known" } else { "unknown" },
                    class_val[info
                        .sets
                        .iter()
                        .position(|x| x.name == c.name)
                        .expect("found")]
                    .clone(),
                ),
                None => ("new", set.indices.clone()),
            };
            // The odd positions: the even ones are this class's references.
            let trust_rows: Vec<usize> = match (class, th.references) {
                (Some(_), References::Validation) => (1..indices.len()).step_by(2).collect(),
                _ => (0..indices.len()).collect(),
            };
            let ood_rows: Vec<usize> = match class {
                Some(_) => (1..indices.len()).step_by(2).collect(),
                None => (0..indices.len()).collect(),
            };
            if indices.len() < 2 {
                eprintln!(
                    "warning: set '{}' of {} is skipped: it has {} image(s) to infer on{}; at least 2 are needed",
                    set.name,
                    dir.display(),
                    indices.len(),
                    if role == "new" {
                        String::new()
                    } else {
                        " (a training set is inferred on its validation images: train with a larger --validation)".to_string()
                    }
                );
                skipped.push(set.name.clone());
                continue;
            }
            targets.push(Target {
                name: set.name.clone(),
                data: dir.clone(),
                role: role.into(),
                sigma: set.sigma,
                ds: ds.clone(),
                indices,
                trust_rows,
                ood_rows,
            });
        }
    }
    let available = || -> String {
        let mut names: Vec<String> = Vec::new();
        for dir in data {
            if let Ok(ds) = Dataset::open(dir, &OpenOptions { skip_bad: true }) {
                names.extend(ds.sets().iter().map(|s| s.name.clone()));
            }
        }
        names.join(", ")
    };
    if let Some(only) = only {
        let missing: Vec<&str> = only
            .iter()
            .map(|s| s.as_str())
            .filter(|n| !targets.iter().any(|t| t.name == *n) && !skipped.iter().any(|s| s == n))
            .collect();
        if !missing.is_empty() {
            bail!(
                "--sets: no set named {} in the data (the sets there: {})",
                missing.join(", "),
                available()
            );
        }
    }
    if targets.is_empty() {
        bail!(
            "no set to infer on (the sets in the data: {}{})",
            available(),
            if skipped.is_empty() {
                String::new()
            } else {
                format!("; skipped for too few images: {}", skipped.join(", "))
            }
        );
    }

    let pool = Pool::on(device)?;
    let aug = th.augment.then_some(super::latents::TestAugment {
        config: info.augment(),
        seed: cfg.seed,
    });
    let d = info
        .config
        .network
        .build(info.input, info.class_count(), 0)?
        .latent_dim;
    let members = cfg.ensemble;
    // The out-of-domain test's references (training images, at most MAX_REFERENCES) and
    // calibration images (every training set's even validation positions).
    let ref_idx: Vec<usize> = train_idx
        .iter()
        .copied()
        .step_by(train_idx.len().div_ceil(super::ood::MAX_REFERENCES).max(1))
        .collect();
    let cal_idx: Vec<usize> = class_val
        .iter()
        .flat_map(|v| v.iter().copied().step_by(2))
        .collect();
    let cal_group: Vec<usize> = class_val
        .iter()
        .enumerate()
        .flat_map(|(g, v)| std::iter::repeat_n(g, v.len().div_ceil(2)))
        .collect();
    let ood_on = cal_idx.len() >= MIN_CALIBRATION;
    if !ood_on {
        eprintln!(
            "warning: only {} held-out calibration image(s) (half of the validation images; need {MIN_CALIBRATION}): the out-of-domain test is skipped; train with a larger --validation",
            cal_idx.len()
        );
    }
    // z[r][t]: member r, target t, latents N×D; zc[r][c]: training class latents;
    // dist[r][t] / cal_dist[r]: kNN distances in the out-of-domain spaces.
    let mut z = Vec::new();
    let mut zc = Vec::new();
    let mut dist = Vec::new();
    let mut cal_dist = Vec::new();
    for k in 0..members {
        let net =
            load_member(&info, run, k).with_context(|| format!("loading ensemble member {k}"))?;
        let feats = |ds: &Dataset, idx: &[usize]| -> Result<Features> {
            features(&net, ds, idx, &channels, aug.as_ref(), &pool)
        };
        let refs = match ood_on {
            true => Some(
                MemberReferences::fit(&feats(&train_ds, &ref_idx)?, th.knn_k)
                    .context("the out-of-domain test's training references")?,
            ),
            false => None,
        };
        if let Some(r) = &refs {
            cal_dist.push(r.distances(&feats(&train_ds, &cal_idx)?)?);
        }
        let mut zt = Vec::new();
        let mut dt = Vec::new();
        for t in &targets {
            let f = feats(&t.ds, &t.indices)?;
            if let Some(r) = &refs {
                dt.push(r.distances(&f.rows(&t.ood_rows))?);
            }
            zt.push(f.latent);
        }
        z.push(zt);
        dist.push(dt);
        zc.push(
            class_refs
                .iter()
                .map(|idx| Ok(feats(&train_ds, idx)?.latent))
                .collect::<Result<Vec<_>>>()?,
        );
    }
    let calibration = match ood_on {
        true => Some(Calibration::new(
            &mean_distances(&cal_dist),
            &cal_group,
            &info.sets.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
        )?),
        false => None,
    };
    let col0 = |v: &[f32]| -> Vec<f64> { v.chunks(d).map(|r| r[0] as f64).collect() };
    let rest = |v: &[f32]| -> Vec<Vec<f64>> {
        v.chunks(d)
            .map(|r| r[1..].iter().map(|&x| x as f64).collect())
            .collect()
    };
    let z0: Vec<Vec<Vec<f64>>> = z
        .iter()
        .map(|m| m.iter().map(|v| col0(v)).collect())
        .collect();
    let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
    let posts = posteriors_on(&pool, &z0, &names, &info.label_map)?;
    let set_level: Vec<SetEstimate> = (0..targets.len())
        .map(|t| {
            let per: Vec<&[f64]> = z0.iter().map(|m| m[t].as_slice()).collect();
            set_estimate(
                &per,
                &info.label_map,
                crate::seed::derive(info.config.seed, 0x626f6f74, t as u64),
                &format!("set-level estimate of set {}", names[t]),
            )
        })
        .collect::<Result<_>>()?;

    // The kNN references and their threshold depend on the member only, not the target.
    let knn_train: Vec<Vec<f32>> = zc.iter().map(|m| m.concat()).collect();
    let knn_threshold: Vec<f32> = knn_train
        .iter()
        .map(|t| Ok(training_threshold_on(&pool, t, d, th.knn_k)?.max(f32::MIN_POSITIVE)))
        .collect::<Result<_>>()?;
    let mut sets = Vec::new();
    for (ti, ((t, post), set_level)) in targets.iter().zip(posts).zip(set_level).enumerate() {
        let zt: Vec<Vec<f32>> = (0..members)
            .map(|r| pick_rows(&z[r][ti], &t.trust_rows, d))
            .collect();
        // Every (class, member) overlap at once: each is independent, and their KDEs
        // are the bulk of the trust test's arithmetic at 10⁵ images.
        let target_rest: Vec<Vec<Vec<f64>>> = zt.iter().map(|v| rest(v)).collect();
        let pairs: Vec<(usize, usize)> = (0..info.sets.len())
            .flat_map(|ci| (0..members).map(move |r| (ci, r)))
            .collect();
        let known_rest: Vec<Vec<Vec<f64>>> =
            pairs.iter().map(|&(ci, r)| rest(&zc[r][ci])).collect();
        let labels: Vec<String> = pairs
            .iter()
            .map(|&(ci, r)| {
                format!(
                    "overlap of set '{}' with class '{}' (member {r})",
                    t.name, info.sets[ci].name
                )
            })
            .collect();
        let jobs: Vec<OverlapPair> = pairs
            .iter()
            .zip(&known_rest)
            .zip(&labels)
            .map(|((&(_, r), k), what)| (what.as_str(), target_rest[r].as_slice(), k.as_slice()))
            .collect();
        let per_pair = overlaps_on(&pool, &jobs)?;
        let mut all = per_pair.into_iter();
        let mut overlaps = Vec::new();
        for c in info.sets.iter() {
            let per: Vec<f64> = all.by_ref().take(members).collect();
            let (mean, stderr) = mean_and_stderr(&per);
            overlaps.push(ClassOverlap {
                class: c.name.clone(),
                known: c.known,
                mean,
                stderr,
            });
        }
        let best = overlaps
            .iter()
            .filter(|o| o.known)
            .max_by(|a, b| a.mean.total_cmp(&b.mean))
            .expect("≥ 2 known classes");
        let mut ratio = vec![0.0; t.trust_rows.len()];
        for r in 0..members {
            let (train, thr) = (&knn_train[r], knn_threshold[r]);
            let dk = kth_distances_on(&pool, &zt[r], train, d, th.knn_k, false)?;
            for (acc, v) in ratio.iter_mut().zip(dk) {
                *acc += (v / thr) as f64 / members as f64;
            }
        }
        let mut sorted = ratio.clone();
        sorted.sort_by(f64::total_cmp);
        let far = ratio.iter().filter(|&&v| v > 1.0).count() as f64 / ratio.len() as f64;
        let ood = match &calibration {
            Some(cal) => {
                let per_member: Vec<_> = dist.iter().map(|m| m[ti].clone()).collect();
                SetOod::evaluate(cal, &per_member, th.ood_image_alpha)
            }
            None => SetOod::default(),
        };
        let out_of_domain = ood.out_of_domain(th.ood_alpha);
        let recognised = best.mean >= th.min_confidence && far <= th.max_far_fraction;
        sets.push(SetInference {
            name: t.name.clone(),
            data: t.data.clone(),
            images: t.indices.len(),
            trust_images: t.trust_rows.len(),
            role: t.role.clone(),
            catalog_sigma: t.sigma,
            posterior: post,
            set_level,
            confidence: best.mean,
            closest_known: best.class.clone(),
            overlaps,
            knn_median_ratio: sorted[sorted.len() / 2],
            knn_far_fraction: far,
            knn_ratio_per_image: ratio,
            ood,
            verdict: if out_of_domain {
                "out-of-domain"
            } else if recognised {
                "recognised"
            } else {
                "extrapolating"
            }
            .into(),
        });
    }
    let warnings = super::learned::warnings(run, info.class_count(), &sets);
    super::learned::downgrade_verdicts(&mut sets, &warnings);
    let inference = Inference {
        schema: SCHEMA.into(),
        run: run.to_path_buf(),
        members,
        classes: info.sets.iter().map(|c| c.name.clone()).collect(),
        thresholds: th.clone(),
        calibration_images: calibration.as_ref().map_or(0, |c| c.len()),
        calibration_scores: calibration
            .as_ref()
            .map_or(Vec::new(), |c| c.scores().to_vec()),
        calibration_groups: calibration
            .as_ref()
            .map_or(Vec::new(), |c| c.groups().to_vec()),
        warnings,
        sets,
    };
    let latents = z[0].clone();
    let class_latents = zc.swap_remove(0);
    Ok((
        inference,
        Details {
            device,
            info,
            targets,
            latents,
            member_latents: z,
            class_latents,
            channels,
        },
    ))
}

/// Rows `rows` of an N×d row-major matrix.
fn pick_rows(m: &[f32], rows: &[usize], d: usize) -> Vec<f32> {
    rows.iter()
        .flat_map(|&r| m[r * d..(r + 1) * d].iter().copied())
        .collect()
}
