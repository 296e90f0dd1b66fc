//! The out-of-domain test: is an image, and is a set, like the maps the network was
//! trained on? Three spaces beyond the 7-D latent (which CCLP compacts and which a new
//! σ/m legitimately leaves): the unit-length penultimate representation; the per-channel
//! means and deviations of the input and of every convolutional block; the input maps'
//! profile and detail statistics (the last two standardised on the training images). In
//! each, an image's distance to its k-th nearest training image is divided by those
//! neighbours' own k-th neighbour distances (a local-density ratio, so classes of
//! different spread read alike) and averaged over the ensemble. Held-out in-domain
//! images (each training set's calibration half of its validation images) turn those
//! ratios into tail scores, their sum (Fisher's combination) into one score per image,
//! and that into a conformal p-value; a set is tested against the same calibration
//! images with a one-sided Mann–Whitney test.

use super::knn::nearest;
use super::latents::Features;
use anyhow::{bail, Result};
use serde::Serialize;

/// The spaces, in the order of every per-space array here.
pub const SPACES: [&str; NS] = ["penultimate", "layer statistics", "map statistics"];
/// Number of spaces.
pub const NS: usize = 3;
/// Per-space distances of a batch of images.
pub type Distances = [Vec<f32>; NS];

/// Most training images a member keeps as kNN references (a deterministic stride).
pub const MAX_REFERENCES: usize = 6000;

/// One member's references in every space (statistics spaces standardised).
pub struct MemberReferences {
    refs: [Vec<f32>; NS],
    /// Per space, per reference: its distance to its k-th nearest other reference.
    own: [Vec<f32>; NS],
    k: usize,
    /// Per space: per-dimension mean and scale (None: the space is used as it is).
    norm: [Option<(Vec<f32>, Vec<f32>)>; NS],
    dims: [usize; 4],
}

fn mean_and_scale(x: &[f32], d: usize) -> (Vec<f32>, Vec<f32>) {
    let m = (x.len() / d).max(1) as f64;
    let mut mean = vec![0.0f64; d];
    for r in x.chunks(d) {
        for (a, &v) in mean.iter_mut().zip(r) {
            *a += v as f64 / m;
        }
    }
    let mut var = vec![0.0f64; d];
    for r in x.chunks(d) {
        for ((a, &v), mu) in var.iter_mut().zip(r).zip(&mean) {
            *a += (v as f64 - mu).powi(2) / m;
        }
    }
    // A dimension constant over the training images (a dead channel) would divide by
    // zero: any change there is then measured against a small floor instead.
    let scale = var
        .iter()
        .zip(&mean)
        .map(|(v, mu)| (v.sqrt().max(1e-3 * mu.abs()).max(1e-6)) as f32)
        .collect();
    (mean.iter().map(|&v| v as f32).collect(), scale)
}

fn standardise(x: &[f32], norm: &Option<(Vec<f32>, Vec<f32>)>, d: usize) -> Vec<f32> {
    match norm {
        None => x.to_vec(),
        Some((mean, scale)) => x
            .chunks(d)
            .flat_map(|r| r.iter().zip(mean).zip(scale).map(|((v, m), s)| (v - m) / s))
            .collect(),
    }
}

impl MemberReferences {
    /// References from one member's features of the training images, for k neighbours.
    pub fn fit(train: &Features, k: usize) -> Result<MemberReferences> {
        let n = train.len();
        if n < 2 {
            bail!("the out-of-domain test needs at least 2 training images, found {n}");
        }
        let k = k.clamp(1, n - 1);
        let step = n.div_ceil(MAX_REFERENCES);
        let rows: Vec<usize> = (0..n).step_by(step).collect();
        let t = train.rows(&rows);
        // The penultimate space is compared by direction (unit vectors), the statistics
        // per standardised dimension.
        let norm: [Option<(Vec<f32>, Vec<f32>)>; NS] =
            std::array::from_fn(|s| (s > 0).then(|| mean_and_scale(&t.spaces[s], t.dims[s + 1])));
        let refs: [Vec<f32>; NS] =
            std::array::from_fn(|s| standardise(&t.spaces[s], &norm[s], t.dims[s + 1]));
        let mut own: [Vec<f32>; NS] = Default::default();
        for s in 0..NS {
            let nb = nearest(&refs[s], &refs[s], t.dims[s + 1], k, true)?;
            own[s] = nb.dist.chunks(k).map(|r| r[k - 1]).collect();
        }
        Ok(MemberReferences {
            refs,
            own,
            k,
            norm,
            dims: t.dims,
        })
    }

    /// Per space, each image's distance to its k-th nearest reference relative to those
    /// references' own k-th neighbour distances (1 ≈ as dense as the training data
    /// there): a class whose images are spread wider, or one made of two sets, reads the
    /// same as the others.
    pub fn distances(&self, f: &Features) -> Result<Distances> {
        if f.dims[1..] != self.dims[1..] {
            bail!(
                "out-of-domain features of widths {:?} do not match the references' {:?}",
                f.dims,
                self.dims
            );
        }
        let k = self.k;
        let mut out: Distances = Default::default();
        for (s, o) in out.iter_mut().enumerate() {
            let d = self.dims[s + 1];
            let q = standardise(&f.spaces[s], &self.norm[s], d);
            let nb = nearest(&q, &self.refs[s], d, k, false)?;
            *o = nb
                .dist
                .chunks(k)
                .zip(nb.index.chunks(k))
                .map(|(dist, idx)| {
                    let local =
                        idx.iter().map(|&j| self.own[s][j as usize]).sum::<f32>() / k as f32;
                    dist[k - 1] / local.max(f32::MIN_POSITIVE)
                })
                .collect();
        }
        Ok(out)
    }
}

/// Ensemble-mean distances per space: `per_member[r]` is member r's `distances`.
pub fn mean_distances(per_member: &[Distances]) -> [Vec<f64>; NS] {
    let m = per_member.len() as f64;
    std::array::from_fn(|s| {
        let n = per_member[0][s].len();
        (0..n)
            .map(|i| per_member.iter().map(|d| d[s][i] as f64).sum::<f64>() / m)
            .collect()
    })
}

/// −ln of the upper-tail probability of `r` among `sorted` (ascending) with one pseudo-
/// count, continued linearly beyond the largest value in units of the spread between the
/// 90th percentile and the maximum, so strongly shifted images stay ranked.
pub fn tail_score(sorted: &[f64], r: f64) -> f64 {
    let n = sorted.len();
    let above = n - sorted.partition_point(|&c| c <= r);
    if above > 0 || n == 0 {
        return ((n + 1) as f64 / (above + 1) as f64).ln();
    }
    let max = sorted[n - 1];
    let q90 = sorted[(9 * n / 10).min(n - 1)];
    let spread = (max - q90).max(1e-9 * max.abs()).max(f64::MIN_POSITIVE);
    ((n + 1) as f64).ln() + (r - max) / spread
}

/// The calibration: held-out in-domain images' distances and scores.
#[derive(Clone, Debug)]
pub struct Calibration {
    /// Per space, the calibration distances, ascending.
    sorted: [Vec<f64>; NS],
    /// The calibration images' own scores (each against the others), ascending.
    scores: Vec<f64>,
    /// The same scores per training set.
    groups: Vec<CalibrationGroup>,
}

/// One training set's calibration images' scores.
#[derive(Clone, Debug, Serialize)]
pub struct CalibrationGroup {
    /// The training set.
    pub name: String,
    /// Its calibration images' scores, ascending.
    pub scores: Vec<f64>,
}

/// Fewest calibration images a training set needs to be a reference of the set test.
pub const MIN_GROUP: usize = 10;

/// The set test: a set is in domain when its scores are like those of all calibration
/// images together or like those of one training set's (in-domain sets are usually one
/// class, and classes differ a little): the largest of those one-sided Mann–Whitney
/// p-values, with its effect size and the reference it came from. Whichever reference
/// a set truly comes from, rejecting at α happens with probability ≤ α.
pub fn set_test(scores: &[f64], pooled: &[f64], groups: &[CalibrationGroup]) -> (SetTest, String) {
    let mut best = (
        mann_whitney_greater(scores, pooled),
        "all training sets".to_string(),
    );
    for g in groups.iter().filter(|g| g.scores.len() >= MIN_GROUP) {
        let t = mann_whitney_greater(scores, &g.scores);
        if t.p_value > best.0.p_value {
            best = (t, g.name.clone());
        }
    }
    best
}

impl Calibration {
    /// From the calibration images' ensemble-mean distances per space; image i belongs
    /// to training set `group_of[i]` of `names`.
    pub fn new(dist: &[Vec<f64>; NS], group_of: &[usize], names: &[String]) -> Result<Calibration> {
        let n = dist[0].len();
        if n < 10 {
            bail!(
                "the out-of-domain test needs at least 10 held-out calibration images, found {n}: train with a larger --validation"
            );
        }
        let sorted: [Vec<f64>; NS] = std::array::from_fn(|s| {
            let mut v = dist[s].clone();
            v.sort_by(f64::total_cmp);
            v
        });
        // Each calibration image is scored against the other n − 1, as a new image is
        // against all n: the two are then exchangeable under "in domain".
        let own: Vec<f64> = (0..n)
            .map(|i| {
                (0..NS)
                    .map(|s| {
                        let (r, all) = (dist[s][i], &sorted[s]);
                        let above = n - all.partition_point(|&c| c <= r);
                        if above > 0 {
                            // The image itself is not above itself: only the count shrinks.
                            (n as f64 / (above + 1) as f64).ln()
                        } else {
                            let mut others = all.clone();
                            let at = others.partition_point(|&c| c < r);
                            others.remove(at.min(n - 1));
                            tail_score(&others, r)
                        }
                    })
                    .sum::<f64>()
            })
            .collect();
        let mut groups: Vec<CalibrationGroup> = names
            .iter()
            .map(|name| CalibrationGroup {
                name: name.clone(),
                scores: Vec::new(),
            })
            .collect();
        for (&g, &v) in group_of.iter().zip(&own) {
            groups[g].scores.push(v);
        }
        for g in &mut groups {
            g.scores.sort_by(f64::total_cmp);
        }
        let mut scores = own;
        scores.sort_by(f64::total_cmp);
        Ok(Calibration {
            sorted,
            scores,
            groups,
        })
    }

    /// Calibration images.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// True without calibration images (never, once built).
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The calibration images' scores, ascending.
    pub fn scores(&self) -> &[f64] {
        &self.scores
    }

    /// The same scores per training set.
    pub fn groups(&self) -> &[CalibrationGroup] {
        &self.groups
    }

    /// Per image: the score (the sum of its tail scores over the spaces; larger = further).
    pub fn score(&self, dist: &[Vec<f64>; NS]) -> Vec<f64> {
        (0..dist[0].len())
            .map(|i| {
                (0..NS)
                    .map(|s| tail_score(&self.sorted[s], dist[s][i]))
                    .sum::<f64>()
            })
            .collect()
    }

    /// Per space, per image: the tail score of its distance (what `score` sums).
    pub fn space_scores(&self, dist: &[Vec<f64>; NS]) -> [Vec<f64>; NS] {
        std::array::from_fn(|s| {
            dist[s]
                .iter()
                .map(|&d| tail_score(&self.sorted[s], d))
                .collect()
        })
    }

    /// The conformal p-value of a score: the share of calibration images scoring at
    /// least as high, with the image itself counted.
    pub fn p_value(&self, score: f64) -> f64 {
        let n = self.scores.len();
        let at_least = n - self.scores.partition_point(|&c| c < score);
        (1 + at_least) as f64 / (n + 1) as f64
    }
}

/// Fewest calibration images the test runs with (fewer: infer says so and skips it).
pub const MIN_CALIBRATION: usize = 10;

/// The out-of-domain result of one set (flattened into `infer.json`'s set entries).
#[derive(Clone, Debug, Default, Serialize)]
pub struct SetOod {
    /// Images the test scores (a training set's calibration half is left out).
    #[serde(rename = "ood_images")]
    pub images: usize,
    /// Per tested image: its score (larger = further from the training domain: the sum
    /// over the spaces of −ln of its distance ratio's tail probability).
    #[serde(rename = "ood_score_per_image")]
    pub score_per_image: Vec<f64>,
    /// Per space (`SPACES`), per tested image: the tail score in that space.
    #[serde(rename = "ood_space_scores")]
    pub space_scores: [Vec<f64>; NS],
    /// Per tested image: the conformal p-value of its score among the calibration images'.
    #[serde(rename = "ood_p_value_per_image")]
    pub p_value_per_image: Vec<f64>,
    /// The set's test ("these images come from the training domain"): the largest
    /// one-sided Mann–Whitney p-value of its scores against all calibration images' and
    /// against each training set's (`set_test`; None: the run has too few validation
    /// images for the test).
    #[serde(rename = "ood_p_value")]
    pub p_value: Option<f64>,
    /// Its effect size: P(an image of the set scores above a reference image).
    #[serde(rename = "ood_auc")]
    pub auc: Option<f64>,
    /// The reference the p-value comes from: "all training sets" or the training set
    /// whose calibration images the set is most like.
    #[serde(rename = "ood_reference")]
    pub reference: Option<String>,
    /// Share of tested images whose p-value is at most the per-image level.
    #[serde(rename = "ood_flagged_fraction")]
    pub flagged_fraction: Option<f64>,
}

impl SetOod {
    /// The set's images, ensemble distances `per_member`, judged against `cal`.
    pub fn evaluate(cal: &Calibration, per_member: &[Distances], image_alpha: f64) -> SetOod {
        let md = mean_distances(per_member);
        let score = cal.score(&md);
        let p: Vec<f64> = score.iter().map(|&v| cal.p_value(v)).collect();
        let (test, reference) = set_test(&score, cal.scores(), cal.groups());
        let flagged =
            p.iter().filter(|&&v| v <= image_alpha).count() as f64 / p.len().max(1) as f64;
        SetOod {
            images: score.len(),
            space_scores: cal.space_scores(&md),
            score_per_image: score,
            p_value_per_image: p,
            p_value: Some(test.p_value),
            auc: Some(test.auc),
            reference: Some(reference),
            flagged_fraction: Some(flagged),
        }
    }

    /// Whether the set test rejects "in domain" at level `alpha`.
    pub fn out_of_domain(&self, alpha: f64) -> bool {
        self.p_value.is_some_and(|p| p < alpha)
    }
}

/// The set-level test: one-sided Mann–Whitney of the set's scores against the
/// calibration's ("the set scores higher"), with its effect size.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct SetTest {
    /// P(set image scores above a calibration image), ties counting one half.
    pub auc: f64,
    /// One-sided p-value (normal approximation with the tie correction).
    pub p_value: f64,
}

/// One-sided Mann–Whitney test that `x` tends to exceed `y`.
pub fn mann_whitney_greater(x: &[f64], y: &[f64]) -> SetTest {
    let (n, m) = (x.len(), y.len());
    if n == 0 || m == 0 {
        return SetTest {
            auc: 0.5,
            p_value: 1.0,
        };
    }
    // Midranks over the pooled sample, and the tie groups for the variance correction.
    let mut all: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = (n + m) as f64;
    let (mut rank_x, mut ties) = (0.0, 0.0);
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        let mid = (i + j + 1) as f64 / 2.0;
        let t = (j - i) as f64;
        ties += t * t * t - t;
        rank_x += mid * all[i..j].iter().filter(|a| a.1).count() as f64;
        i = j;
    }
    let u = rank_x - (n * (n + 1)) as f64 / 2.0;
    let nm = (n * m) as f64;
    let var = nm / 12.0 * ((total + 1.0) - ties / (total * (total - 1.0)));
    let p_value = if var <= 0.0 {
        1.0
    } else {
        // Continuity correction: U moves in steps of one half at most.
        let z = (u - nm / 2.0 - 0.5) / var.sqrt();
        0.5 * erfc(z / std::f64::consts::SQRT_2)
    };
    SetTest {
        auc: u / nm,
        p_value: p_value.clamp(0.0, 1.0),
    }
}

/// The complementary error function (Chebyshev fit, relative error < 1.2e-7).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
#[path = "ood_tests.rs"]
mod tests;
