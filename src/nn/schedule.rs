//! Learning-rate schedules: `ReduceLROnPlateau` with PyTorch's exact semantics (the
//! paper's choice) and a cosine decay. Both are plain serialisable state for resume.

use serde::{Deserialize, Serialize};

/// Whether a lower or a higher metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// Lower is better (a loss).
    Min,
    /// Higher is better (an accuracy).
    Max,
}

/// How `threshold` measures a significant improvement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThresholdMode {
    /// Better than best·(1 ∓ threshold).
    Rel,
    /// Better than best ∓ threshold.
    Abs,
}

/// Multiplies the learning rate by `factor` once the metric has not improved
/// significantly for more than `patience` observations, as torch's ReduceLROnPlateau.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReduceLROnPlateau {
    /// The current learning rate.
    pub lr: f64,
    /// Lower or higher is better.
    pub mode: Mode,
    /// Factor applied on a plateau.
    pub factor: f64,
    /// Bad observations tolerated before reducing.
    pub patience: u32,
    /// Size of a significant improvement.
    pub threshold: f64,
    /// Relative or absolute threshold.
    pub threshold_mode: ThresholdMode,
    /// Observations ignored after a reduction.
    pub cooldown: u32,
    /// Lower bound of the learning rate.
    pub min_lr: f64,
    /// Reductions smaller than this are skipped.
    pub eps: f64,
    /// Best metric so far (None before the first observation; JSON has no infinity).
    pub best: Option<f64>,
    /// Consecutive observations without significant improvement.
    pub num_bad_epochs: u32,
    /// Observations left in the current cooldown.
    pub cooldown_counter: u32,
}

impl ReduceLROnPlateau {
    /// PyTorch's defaults: mode min, factor 0.1, patience 10, threshold 1e-4 relative,
    /// cooldown 0, min_lr 0, eps 1e-8.
    pub fn new(lr: f32) -> Self {
        ReduceLROnPlateau {
            lr: lr as f64,
            mode: Mode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
            best: None,
            num_bad_epochs: 0,
            cooldown_counter: 0,
        }
    }

    fn is_better(&self, a: f64, best: f64) -> bool {
        match (self.mode, self.threshold_mode) {
            (Mode::Min, ThresholdMode::Rel) => a < best * (1.0 - self.threshold),
            (Mode::Min, ThresholdMode::Abs) => a < best - self.threshold,
            (Mode::Max, ThresholdMode::Rel) => a > best * (1.0 + self.threshold),
            (Mode::Max, ThresholdMode::Abs) => a > best + self.threshold,
        }
    }

    /// Forgets the best metric and the bad-epoch count (keeps the learning rate): for when
    /// the loss itself changes, e.g. a new term switches on, and the old best no longer
    /// compares.
    pub fn reset_best(&mut self) {
        self.best = None;
        self.num_bad_epochs = 0;
        self.cooldown_counter = 0;
    }

    /// Records one metric value (e.g. the epoch's validation loss); returns the new lr.
    pub fn observe(&mut self, metric: f64) -> f32 {
        // A NaN metric is never better, so it counts as a bad observation, as in torch.
        let better = match self.best {
            None => !metric.is_nan(),
            Some(best) => self.is_better(metric, best),
        };
        if better {
            self.best = Some(metric);
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        if self.num_bad_epochs > self.patience {
            let new_lr = (self.lr * self.factor).max(self.min_lr);
            if self.lr - new_lr > self.eps {
                self.lr = new_lr;
            }
            self.cooldown_counter = self.cooldown;
            self.num_bad_epochs = 0;
        }
        self.lr as f32
    }
}

/// Cosine decay from `lr_max` at step 0 to `lr_min` at `total_steps`, then constant
/// (unlike torch's CosineAnnealingLR it does not rise again after the end).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cosine {
    /// Learning rate at step 0.
    pub lr_max: f32,
    /// Learning rate from `total_steps` on.
    pub lr_min: f32,
    /// Length of the decay.
    pub total_steps: u64,
}

impl Cosine {
    /// lr_min + (lr_max − lr_min)·(1 + cos(π·step/total))/2, clamped at the end.
    pub fn lr_at(&self, step: u64) -> f32 {
        if step >= self.total_steps {
            return self.lr_min;
        }
        let frac = step as f64 / self.total_steps as f64;
        let (hi, lo) = (self.lr_max as f64, self.lr_min as f64);
        (lo + (hi - lo) * 0.5 * (1.0 + (std::f64::consts::PI * frac).cos())) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The observation numbers (1-based) at which the lr changed, over `metrics`.
    fn reductions(s: &mut ReduceLROnPlateau, metrics: &[f64]) -> Vec<usize> {
        let mut out = Vec::new();
        let mut lr = s.lr as f32;
        for (i, &m) in metrics.iter().enumerate() {
            let new = s.observe(m);
            if new != lr {
                out.push(i + 1);
            }
            lr = new;
        }
        out
    }

    #[test]
    fn reset_best_lets_a_higher_loss_count_as_the_new_best() {
        let mut s = ReduceLROnPlateau::new(1.0);
        s.patience = 1;
        s.observe(1.0);
        s.observe(2.0);
        s.reset_best();
        // Without the reset the second 2.0 would be the second bad epoch and halve the lr.
        assert_eq!(s.observe(2.0), 1.0);
        assert_eq!(s.best, Some(2.0));
        assert_eq!(s.num_bad_epochs, 0);
        let mut t = ReduceLROnPlateau::new(1.0);
        t.patience = 1;
        t.factor = 0.5;
        t.observe(1.0);
        t.observe(2.0);
        assert_eq!(t.observe(2.0), 0.5);
    }

    #[test]
    fn plateau_reduces_after_more_than_patience_bad_epochs() {
        let mut s = ReduceLROnPlateau::new(0.1);
        // The first observation sets best; 11 bad ones exceed patience 10.
        assert_eq!(reductions(&mut s, &[1.0; 34]), vec![12, 23, 34]);
        assert!((s.lr / 1e-4 - 1.0).abs() < 1e-6, "{}", s.lr);
    }

    #[test]
    fn plateau_ignores_improvements_below_the_relative_threshold() {
        let mut s = ReduceLROnPlateau::new(1.0);
        // Each value improves by less than 1e-4 relative to best = 1.0: all bad.
        let tiny: Vec<f64> = (0..12).map(|i| 1.0 - 8e-6 * i as f64).collect();
        assert_eq!(reductions(&mut s, &tiny), vec![12]);
        assert_eq!(s.best, Some(1.0));
        // A real improvement resets the bad count.
        let mut s = ReduceLROnPlateau::new(1.0);
        let mut m = vec![1.0; 11];
        m.push(0.5);
        m.extend([0.5; 11]);
        assert_eq!(reductions(&mut s, &m), vec![23]);
    }

    #[test]
    fn plateau_cooldown_min_lr_and_max_mode_follow_torch() {
        let mut s = ReduceLROnPlateau {
            patience: 0,
            cooldown: 2,
            ..ReduceLROnPlateau::new(1.0)
        };
        assert_eq!(reductions(&mut s, &[1.0; 9]), vec![2, 5, 8]);
        let mut s = ReduceLROnPlateau {
            patience: 0,
            factor: 0.5,
            min_lr: 0.3,
            ..ReduceLROnPlateau::new(1.0)
        };
        let lrs: Vec<f32> = (0..5).map(|_| s.observe(2.0)).collect();
        assert_eq!(lrs, vec![1.0, 0.5, 0.3, 0.3, 0.3]);
        let mut s = ReduceLROnPlateau {
            mode: Mode::Max,
            patience: 1,
            ..ReduceLROnPlateau::new(1.0)
        };
        assert_eq!(
            reductions(&mut s, &[0.1, 0.2, 0.3, 0.3, 0.3, 0.29]),
            vec![5]
        );
        let mut s = ReduceLROnPlateau {
            threshold_mode: ThresholdMode::Abs,
            threshold: 0.1,
            patience: 0,
            ..ReduceLROnPlateau::new(1.0)
        };
        assert_eq!(reductions(&mut s, &[1.0, 0.95, 0.85]), vec![2]);
        // Reductions below eps are skipped.
        let mut s = ReduceLROnPlateau {
            patience: 0,
            ..ReduceLROnPlateau::new(1e-8)
        };
        assert_eq!(
            reductions(&mut s, &[1.0, 1.0, f64::NAN]),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn plateau_state_survives_a_json_round_trip() {
        let mut s = ReduceLROnPlateau::new(0.1);
        let fresh: ReduceLROnPlateau =
            serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(fresh, s);
        for m in [3.0, 2.0, 2.5] {
            s.observe(m);
        }
        let back: ReduceLROnPlateau =
            serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        assert_eq!((back.best, back.num_bad_epochs), (Some(2.0), 1));
    }

    #[test]
    fn cosine_runs_from_max_to_min_and_stays_there() {
        let c = Cosine {
            lr_max: 1e-3,
            lr_min: 1e-5,
            total_steps: 100,
        };
        assert_eq!(c.lr_at(0), 1e-3);
        assert!((c.lr_at(50) - 5.05e-4).abs() < 1e-9);
        assert!((c.lr_at(25) as f64 - (1e-5 + 0.99e-3 * 0.5 * (1.0 + 0.5f64.sqrt()))).abs() < 1e-9);
        assert_eq!(c.lr_at(100), 1e-5);
        assert_eq!(c.lr_at(1000), 1e-5);
        assert!((1..100).all(|s| c.lr_at(s) <= c.lr_at(s - 1)));
        let back: Cosine = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }
}
