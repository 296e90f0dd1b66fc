//! `dcc train`: trains an ensemble with the DCC loss, one batch shared by all members,
//! checkpointing every epoch so that `--resume` after any interruption (even `kill -9`)
//! ends with bit-identical weights on the CPU at the same thread count.

use super::checkpoint::{
    load_params, load_tensors, save_params, to_safetensors, weights_metadata, CheckpointDir,
};
use super::loss::{dcc_loss, BatchLabels, LossTerms, LossWeights};
use super::run::{member_seed, weights_file, MemberBatches, RunInfo};
use crate::autograd::Tape;
use crate::data::loader::{Epoch, Loader, LoaderConfig, Split};
use crate::files::write_atomic;
use crate::nn::network::{Layer, Mode};
use crate::nn::schedule::ReduceLROnPlateau;
use crate::nn::train::Trainer;
use crate::seed::derive;
use crate::tensor::Device;
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Mean loss terms of one member over an epoch's split.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct EpochTerms {
    /// Weighted total.
    pub loss: f32,
    /// Cross-entropy.
    pub ce: f32,
    /// CCLP.
    pub cclp: f32,
    /// Distance anchor.
    pub dist: f32,
    /// Classification accuracy.
    pub accuracy: f32,
}

#[derive(Default)]
struct Mean {
    sum: [f64; 5],
    rows: f64,
}

impl Mean {
    fn add(&mut self, t: &LossTerms, rows: usize) {
        let r = rows as f64;
        for (s, v) in self
            .sum
            .iter_mut()
            .zip([t.total, t.ce, t.cclp, t.dist, t.accuracy])
        {
            *s += v as f64 * r;
        }
        self.rows += r;
    }
    fn get(&self) -> EpochTerms {
        let m = |i: usize| (self.sum[i] / self.rows.max(1.0)) as f32;
        EpochTerms {
            loss: m(0),
            ce: m(1),
            cclp: m(2),
            dist: m(3),
            accuracy: m(4),
        }
    }
}

/// One line of `log.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpochLog {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Per member: training terms.
    pub train: Vec<EpochTerms>,
    /// Per member: validation terms (None without a validation split).
    pub validation: Vec<Option<EpochTerms>>,
    /// Per member: learning rate used in this epoch.
    pub lr: Vec<f32>,
    /// Training images per second (all members).
    pub images_per_s: f64,
    /// Seconds the training waited on the loader.
    pub loader_wait_s: f64,
}

/// Per-member resume state (the moments live in safetensors beside it).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct MemberState {
    lr: f32,
    step: u64,
    schedule: ReduceLROnPlateau,
}

/// `checkpoint/state.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct State {
    epochs_done: usize,
    members: Vec<MemberState>,
    log: Vec<EpochLog>,
}

struct Member {
    trainer: Trainer,
    schedule: ReduceLROnPlateau,
    seed: u64,
}

fn moment_names(t: &Trainer) -> Vec<(String, Vec<usize>)> {
    let p = &t.net.params;
    ["m", "v"]
        .iter()
        .flat_map(|m| {
            p.names()
                .iter()
                .zip(p.tensors())
                .map(move |(n, t)| (format!("{m}.{n}"), t.dims().to_vec()))
        })
        .collect()
}

fn save_checkpoint(
    run: &Path,
    info: &RunInfo,
    members: &mut [Member],
    state: &State,
) -> Result<()> {
    for m in members.iter_mut() {
        m.trainer.sync_to_host()?;
    }
    let ck = CheckpointDir::new(run);
    let dir = ck.stage()?;
    for (k, m) in members.iter().enumerate() {
        let meta = weights_metadata(info, k)?;
        save_params(
            &dir.join(weights_file(k)),
            &m.trainer.net.params,
            Some(&meta),
        )?;
        let names = moment_names(&m.trainer);
        let data: Vec<&[f32]> = m
            .trainer
            .opt
            .m
            .iter()
            .chain(&m.trainer.opt.v)
            .map(|v| v.as_slice())
            .collect();
        let named: Vec<(String, &[usize], &[f32])> = names
            .iter()
            .zip(data)
            .map(|((n, d), v)| (n.clone(), d.as_slice(), v))
            .collect();
        write_atomic(
            &dir.join(format!("moments-{k}.safetensors")),
            &to_safetensors(&named)?,
        )?;
    }
    write_atomic(
        &dir.join("state.json"),
        serde_json::to_string(state)?.as_bytes(),
    )?;
    ck.commit()?;
    // The user-facing copies: the latest weights and the log.
    for k in 0..members.len() {
        std::fs::copy(
            ck.current.join(weights_file(k)),
            run.join(format!(".{}.tmp", weights_file(k))),
        )?;
        std::fs::rename(
            run.join(format!(".{}.tmp", weights_file(k))),
            run.join(weights_file(k)),
        )?;
    }
    let log: Vec<String> = state
        .log
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<_, _>>()?;
    write_atomic(&run.join("log.jsonl"), (log.join("\n") + "\n").as_bytes())
}

fn restore(run: &Path, info: &RunInfo, members: &mut [Member]) -> Result<State> {
    let ck = CheckpointDir::new(run);
    let dir = ck
        .existing()
        .ok_or_else(|| anyhow!("{}: no checkpoint to resume from", run.display()))?;
    let path = dir.join("state.json");
    let state: State = serde_json::from_str(&std::fs::read_to_string(&path)?)
        .with_context(|| format!("{}: malformed checkpoint state", path.display()))?;
    if state.members.len() != members.len() || info.config.ensemble != members.len() {
        bail!(
            "{}: the checkpoint has {} members, the run {}",
            path.display(),
            state.members.len(),
            members.len()
        );
    }
    for (k, (m, s)) in members.iter_mut().zip(&state.members).enumerate() {
        load_params(&dir.join(weights_file(k)), &mut m.trainer.net.params)?;
        let moments = load_tensors(
            &dir.join(format!("moments-{k}.safetensors")),
            &moment_names(&m.trainer),
        )?;
        let half = moments.len() / 2;
        let mut it = moments.into_iter();
        m.trainer.opt.m = it.by_ref().take(half).collect();
        m.trainer.opt.v = it.collect();
        m.trainer.opt.invalidate_device();
        m.trainer.opt.lr = s.lr;
        m.trainer.opt.step = s.step;
        m.trainer.steps = s.step;
        m.schedule = s.schedule.clone();
    }
    Ok(state)
}

/// Whether `run` has a checkpoint to resume from (some training was done).
pub fn has_checkpoint(run: &Path) -> bool {
    CheckpointDir::new(run).existing().is_some()
}

/// Where training reports how it goes. The command line draws a progress bar
/// (`cli::progress::Bar`); `Lines` prints each epoch's line to stderr and nothing per step.
pub trait Progress {
    /// Training is about to run `steps` more steps.
    fn start(&self, _steps: u64) {}
    /// One step is done; `status` says how it went.
    fn step(&self, _status: &str) {}
    /// An epoch's summary line.
    fn epoch(&self, line: &str) {
        eprintln!("{line}");
    }
    /// Training ended.
    fn finish(&self) {}
}

/// Epoch lines on stderr, no per-step output.
pub struct Lines;

impl Progress for Lines {}

/// Trains the run described by `info` into `run` (fresh, or resumed from its checkpoint)
/// on `device`, reporting to `progress`.
pub fn train(
    info: &RunInfo,
    run: &Path,
    resume: bool,
    progress: &dyn Progress,
    device: Device,
) -> Result<Vec<EpochLog>> {
    let cfg = &info.config;
    let dataset = Arc::new(info.open_dataset()?);
    let set_index = |name: &str| {
        dataset
            .sets()
            .iter()
            .position(|s| s.name == name)
            .expect("planned sets exist")
    };
    let class_of_set: Vec<Option<usize>> = (0..dataset.sets().len())
        .map(|s| {
            info.sets
                .iter()
                .position(|c| c.name == dataset.sets()[s].name)
                .map(|i| info.class_of_set(i))
        })
        .collect();
    let loader = Loader::new(
        dataset.clone(),
        LoaderConfig {
            batch_size: cfg.batch,
            seed: cfg.seed,
            validation_fraction: cfg.validation_fraction,
            channels: cfg.channels.clone(),
            augment: info.augment(),
            mixup: None,
            normalise: true,
            threads: cfg.loader_threads,
            prefetch: 2 * cfg.loader_threads.max(1),
            // A one-row batch carries no clustering signal and destabilises the median.
            drop_last: true,
            sets: Some(info.sets.iter().map(|c| set_index(&c.name)).collect()),
        },
    )?;
    let streams: Vec<Loader> = match cfg.member_batches {
        MemberBatches::Shared => vec![loader.restreamed(cfg.seed)],
        MemberBatches::Independent => (0..cfg.ensemble)
            .map(|k| loader.restreamed(member_seed(cfg.seed, k)))
            .collect(),
    };
    let batches = loader.batches_per_epoch(Split::Train);
    if batches == 0 {
        bail!(
            "the training split has fewer images than one batch of {}",
            cfg.batch
        );
    }
    let targets = info.targets();
    let mut members: Vec<Member> = (0..cfg.ensemble)
        .map(|k| {
            let mut net = info.network(k)?;
            if let Some(init) = &cfg.init {
                load_params(init, &mut net.params)
                    .with_context(|| format!("--init {}: seeding member {k}", init.display()))?;
            }
            let mut t = Trainer::on(net, cfg.lr, device)?;
            t.opt.weight_decay = cfg.weight_decay;
            let mut schedule = ReduceLROnPlateau::new(cfg.lr);
            schedule.patience = cfg.patience;
            schedule.factor = cfg.factor;
            Ok(Member {
                trainer: t,
                schedule,
                seed: member_seed(cfg.seed, k),
            })
        })
        .collect::<Result<_>>()?;
    let mut state = if resume {
        restore(run, info, &mut members)?
    } else {
        State {
            epochs_done: 0,
            members: Vec::new(),
            log: Vec::new(),
        }
    };
    let has_bottleneck = members[0]
        .trainer
        .net
        .layers
        .iter()
        .any(|l| matches!(l, Layer::Bottleneck));
    let latent_dim = members[0].trainer.net.latent_dim;
    if state.epochs_done < cfg.epochs {
        progress.start(((cfg.epochs - state.epochs_done) * batches) as u64);
    }
    for epoch in state.epochs_done..cfg.epochs {
        let started = Instant::now();
        let ramp = dist_ramp_factor(epoch, cfg.dist_warmup, cfg.dist_ramp);
        // Whenever λ_dist changes the total changes with it: old bests no longer compare.
        if epoch > 0 && ramp != dist_ramp_factor(epoch - 1, cfg.dist_warmup, cfg.dist_ramp) {
            for m in &mut members {
                m.schedule.reset_best();
            }
        }
        let weights = LossWeights {
            dist: cfg.loss.dist * ramp,
            ..cfg.loss
        };
        let mut train_terms: Vec<Mean> = members.iter().map(|_| Mean::default()).collect();
        let mut iters: Vec<Epoch> = streams
            .iter()
            .map(|l| l.epoch(Split::Train, epoch as u64))
            .collect();
        let mut images = 0;
        for b in 0..batches {
            let step = (epoch * batches + b) as u64;
            // Shared batches: one upload per step serves every member (they share the
            // device); independent ones: each member its own.
            let mut drawn = Vec::with_capacity(iters.len());
            for it in &mut iters {
                let batch = it.next().context("the loader ended an epoch early")?;
                let rows: Vec<usize> = batch
                    .set_index
                    .iter()
                    .map(|&s| class_of_set[s].expect("the loader only yields selected sets"))
                    .collect();
                drawn.push((batch.images.to_pool(&members[0].trainer.pool)?, rows));
            }
            for (k, m) in members.iter_mut().enumerate() {
                let (x, row_classes) = &drawn[k.min(drawn.len() - 1)];
                let labels = BatchLabels {
                    row_classes,
                    classes: info.class_count(),
                    targets: &targets,
                    balance: info.config.ce_balance,
                };
                let keep = has_bottleneck
                    .then(|| 2 + (derive(m.seed, step, 1) % (latent_dim as u64 - 1)) as usize);
                let mode = Mode {
                    training: true,
                    seed: derive(m.seed, step, 0),
                    keep_latent: keep,
                };
                let mut terms = LossTerms::default();
                m.trainer
                    .step(x, &mode, |tape, out| {
                        let (l, t) = dcc_loss(tape, out, keep, &labels, &weights)?;
                        for (name, v) in [
                            ("cross-entropy", t.ce),
                            ("CCLP", t.cclp),
                            ("distance", t.dist),
                        ] {
                            if !v.is_finite() {
                                bail!("the {name} term is {v}");
                            }
                        }
                        terms = t;
                        Ok(l)
                    })
                    .with_context(|| {
                        format!(
                            "training stopped at epoch {}, step {} (member {k}); {}",
                            epoch + 1,
                            b + 1,
                            if has_checkpoint(run) {
                                "the last good checkpoint is kept"
                            } else {
                                "no checkpoint exists yet (try a lower --lr)"
                            }
                        )
                    })?;
                train_terms[k].add(&terms, row_classes.len());
            }
            images += drawn[0].1.len();
            let t = train_terms[0].get();
            progress.step(&format!(
                "epoch {} loss {:.3} (ce {:.3} cclp {:.3} dist {:.4}) acc {:.2} {:.0} img/s",
                epoch + 1,
                t.loss,
                t.ce,
                t.cclp,
                t.dist,
                t.accuracy,
                (images * members.len()) as f64 / started.elapsed().as_secs_f64()
            ));
        }
        let wait: f64 = iters.iter().map(|i| i.stats().waited.as_secs_f64()).sum();
        drop(iters);
        let images_per_s = (images * members.len()) as f64 / started.elapsed().as_secs_f64();
        let validation = validate(&loader, &mut members, &class_of_set, info, epoch, &weights)?;
        let lr: Vec<f32> = members.iter().map(|m| m.trainer.opt.lr).collect();
        for (m, (tr, va)) in members.iter_mut().zip(train_terms.iter().zip(&validation)) {
            let metric = va.map_or(tr.get().loss, |v| v.loss);
            m.trainer.opt.lr = m.schedule.observe(metric as f64);
        }
        let entry = EpochLog {
            epoch: epoch + 1,
            train: train_terms.iter().map(Mean::get).collect(),
            validation,
            lr,
            images_per_s,
            loader_wait_s: wait,
        };
        let t = &entry.train[0];
        let line = format!(
            "epoch {:>3}/{}: loss {:.4} ce {:.4} cclp {:.4} dist {:.5} acc {:.3}{} | {:.0} img/s, waited {:.2} s on the loader",
            epoch + 1,
            cfg.epochs,
            t.loss,
            t.ce,
            t.cclp,
            t.dist,
            t.accuracy,
            entry.validation[0].map_or(String::new(), |v| format!(" | val loss {:.4} acc {:.3}", v.loss, v.accuracy)),
            images_per_s,
            wait
        );
        progress.epoch(&line);
        state.log.push(entry);
        state.epochs_done = epoch + 1;
        state.members = members
            .iter()
            .map(|m| MemberState {
                lr: m.trainer.opt.lr,
                step: m.trainer.opt.step,
                schedule: m.schedule.clone(),
            })
            .collect();
        save_checkpoint(run, info, &mut members, &state)?;
    }
    progress.finish();
    Ok(state.log)
}

fn validate(
    loader: &Loader,
    members: &mut [Member],
    class_of_set: &[Option<usize>],
    info: &RunInfo,
    epoch: usize,
    weights: &LossWeights,
) -> Result<Vec<Option<EpochTerms>>> {
    if loader.indices(Split::Validation).is_empty() {
        return Ok(vec![None; members.len()]);
    }
    let targets = info.targets();
    let mut means: Vec<Mean> = members.iter().map(|_| Mean::default()).collect();
    for batch in loader.epoch(Split::Validation, epoch as u64) {
        if batch.len() < 2 {
            continue;
        }
        let row_classes: Vec<usize> = batch
            .set_index
            .iter()
            .map(|&s| class_of_set[s].expect("selected set"))
            .collect();
        let labels = BatchLabels {
            row_classes: &row_classes,
            classes: info.class_count(),
            targets: &targets,
            balance: info.config.ce_balance,
        };
        for (m, mean) in members.iter_mut().zip(&mut means) {
            let net = &m.trainer.net;
            let mut tape = Tape::inference(&m.trainer.pool);
            let p = net.params.bind(&mut tape);
            let x = tape.constant(batch.images.to_pool(&m.trainer.pool)?);
            let out = net.forward(&mut tape, &p, x, &Mode::eval())?;
            let (_, t) = dcc_loss(&mut tape, &out, None, &labels, weights)?;
            mean.add(&t, row_classes.len());
        }
    }
    Ok(means
        .iter()
        .map(|m| (m.rows > 0.0).then(|| m.get()))
        .collect())
}

/// The share of λ_dist used at 0-based `epoch`: 0 during the warm-up, then (k + 1)/ramp at
/// the k-th epoch after it until it reaches 1 (at once when `ramp` is 0 or 1).
pub fn dist_ramp_factor(epoch: usize, warmup: usize, ramp: usize) -> f32 {
    if epoch < warmup {
        return 0.0;
    }
    let k = epoch - warmup + 1;
    if ramp <= 1 || k >= ramp {
        1.0
    } else {
        k as f32 / ramp as f32
    }
}

#[cfg(test)]
mod ramp_tests {
    use super::dist_ramp_factor;

    #[test]
    fn the_anchor_weight_ramps_after_the_warm_up() {
        let f = |e| dist_ramp_factor(e, 20, 4);
        assert_eq!(
            [f(0), f(19), f(20), f(21), f(22), f(23), f(30)],
            [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
        );
        // No ramp: the hard switch of the paper's schedule with a warm-up.
        assert_eq!(
            [dist_ramp_factor(19, 20, 0), dist_ramp_factor(20, 20, 0)],
            [0.0, 1.0]
        );
        assert_eq!(dist_ramp_factor(0, 0, 0), 1.0);
    }
}
