//! What a simulation set is: every physical and observational knob of the generator as
//! plain configuration (`SetConfig`), the output channels, and `key=value` overrides, so
//! that each domain shift of SCIENCE.md is a set definition rather than code.

use super::halo::{ConcentrationRelation, CoreModel};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// An output channel of the maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Channel {
    /// Total projected mass (DM + gas + stars), M☉ per pixel (lensing).
    Mass,
    /// X-ray surface brightness (arbitrary units ∝ n0² r_c, dimmed by (1 + z)⁻⁴).
    Xray,
    /// Stellar mass, M☉ per pixel.
    Stellar,
}

impl Channel {
    /// The channel's name in catalogs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Mass => "mass",
            Channel::Xray => "xray",
            Channel::Stellar => "stellar",
        }
    }

    /// Parses a comma-separated channel list such as `mass,xray`.
    pub fn parse_list(text: &str) -> Result<Vec<Channel>> {
        let mut out = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let c = match part {
                "mass" => Channel::Mass,
                "xray" => Channel::Xray,
                "stellar" => Channel::Stellar,
                other => bail!("--channels: expected mass, xray or stellar, found '{other}'"),
            };
            if out.contains(&c) {
                bail!("--channels: '{part}' is listed twice");
            }
            out.push(c);
        }
        if out.is_empty() {
            bail!("--channels: expected at least one of mass, xray, stellar");
        }
        Ok(out)
    }
}

/// Every knob of one simulation set. Tags follow SCIENCE.md: [E] values are tunable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetConfig {
    /// Set name written to the catalog.
    pub name: String,
    /// Self-interaction cross-section σ/m in cm²/g (0 = CDM).
    pub sigma: f64,
    /// AGN heating temperature log10 ΔT_heat (8.0 fiducial, 7.8 weak, 8.2 strong).
    pub log_dt: f64,
    /// Concentration–mass relation.
    pub concentration: ConcentrationRelation,
    /// Shape of the SIDM core.
    #[serde(default)] // absent from simulation.json files older than the knob
    pub core: CoreModel,
    /// Where each cluster centre lies on the pixel grid.
    #[serde(default)] // absent from simulation.json files older than the knob
    pub centre: Centring,
    /// Strip subhaloes outside their tidal radius (false: their whole mass renormalised
    /// inside it, as before; central pixels 2–4× too dense).
    #[serde(default)] // absent from simulation.json files older than the knob
    pub strip_subhaloes: bool,
    /// Factor on every concentration ("different simulation code": 1.2–1.5).
    pub concentration_factor: f64,
    /// Log-normal scatter of the concentration (dex).
    pub concentration_scatter_dex: f64,
    /// Redshift range, drawn uniformly.
    pub z_range: (f64, f64),
    /// log10 M200/M☉ range.
    pub log_m200_range: (f64, f64),
    /// Cut-off M* (M☉) of the cluster mass function dn/dlnM ∝ M^−0.9·e^(−M/M*) that masses
    /// are drawn from inside the range; None draws log M uniformly.
    #[serde(default)] // absent from simulation.json files older than the knob
    pub mass_cutoff: Option<f64>,
    /// Pixels per side.
    pub pixels: usize,
    /// Pixel side in kpc.
    pub pixel_kpc: f64,
    /// Mean of the gas β (0.67; 0.5 or 0.85 as a code shift).
    pub gas_beta: f64,
    /// Scatter of the gas β.
    pub gas_beta_scatter: f64,
    /// Fraction of cool-core clusters.
    pub cool_core_fraction: f64,
    /// Factor on satellites' stellar mass (2 as a code shift).
    pub satellite_stellar_factor: f64,
    /// Fraction of M200 in subhaloes.
    pub subhalo_fraction: f64,
    /// Fraction of clusters with a merging secondary [E].
    pub merger_fraction: f64,
    /// Gaussian PSF σ in pixels applied to every channel (0 = none).
    pub psf_sigma_px: f64,
    /// Weak-lensing source density in galaxies/arcmin² (None = noiseless mass map).
    pub lensing_n_gal: Option<f64>,
    /// X-ray peak counts, drawn log-uniformly in the range (None = noiseless).
    pub xray_counts: Option<(f64, f64)>,
    /// Replace the cluster by empty sky: only the noise models remain.
    pub pure_noise: bool,
}

impl SetConfig {
    /// A BAHAMAS-like set of cross-section `sigma` at fiducial feedback.
    pub fn bahamas(name: &str, sigma: f64) -> SetConfig {
        SetConfig {
            name: name.to_string(),
            sigma,
            log_dt: 8.0,
            concentration: ConcentrationRelation::Duffy,
            core: CoreModel::Extended,
            centre: Centring::Field,
            strip_subhaloes: false,
            concentration_factor: 1.0,
            concentration_scatter_dex: 0.11,
            z_range: (0.0, 0.4),
            log_m200_range: (14.0, 15.3),
            mass_cutoff: None,
            pixels: 100,
            pixel_kpc: 20.0,
            gas_beta: 0.67,
            gas_beta_scatter: 0.07,
            cool_core_fraction: 0.4,
            satellite_stellar_factor: 1.0,
            subhalo_fraction: 0.1,
            merger_fraction: 0.25,
            psf_sigma_px: 0.0,
            lensing_n_gal: None,
            xray_counts: None,
            pure_noise: false,
        }
    }

    /// Applies one `key=value` override (see `KNOBS` for the keys).
    pub fn apply(&mut self, knob: &str) -> Result<()> {
        let (key, value) = knob.split_once('=').unwrap_or((knob, ""));
        let key = key.trim();
        let value = value.trim();
        let num = |v: &str| -> Result<f64> {
            let x: f64 = v.parse().with_context(|| {
                format!("set '{}': {key}= expects a number, found '{v}'", self.name)
            })?;
            if !x.is_finite() {
                bail!(
                    "set '{}': {key}= expects a finite number, found '{v}'",
                    self.name
                );
            }
            Ok(x)
        };
        let range = |v: &str| -> Result<(f64, f64)> {
            let (a, b) = v.split_once("..").unwrap_or((v, v));
            let (a, b) = (num(a)?, num(b)?);
            if a > b {
                bail!(
                    "set '{}': {key}= expects lo..hi with lo <= hi, found '{v}'",
                    self.name
                );
            }
            Ok((a, b))
        };
        let positive = |x: f64| -> Result<f64> {
            if x <= 0.0 {
                bail!("set '{}': {key}= must be positive, found {x}", self.name);
            }
            Ok(x)
        };
        let fraction = |x: f64| -> Result<f64> {
            if !(0.0..=1.0).contains(&x) {
                bail!("set '{}': {key}= must lie in [0, 1], found {x}", self.name);
            }
            Ok(x)
        };
        match key {
            "name" => self.name = value.to_string(),
            "sigma" => {
                self.sigma = num(value)?;
                if self.sigma < 0.0 {
                    bail!(
                        "set '{}': sigma= must be >= 0, found {}",
                        self.name,
                        self.sigma
                    );
                }
            }
            "log_dt" | "feedback" => self.log_dt = parse_feedback(value)?,
            "conc" => self.concentration_factor = positive(num(value)?)?,
            "conc_scatter" => self.concentration_scatter_dex = num(value)?.abs(),
            "cm" => {
                self.concentration = match value {
                    "duffy" => ConcentrationRelation::Duffy,
                    "dutton" => ConcentrationRelation::DuttonMaccio,
                    o => bail!(
                        "set '{}': cm= expects duffy or dutton, found '{o}'",
                        self.name
                    ),
                }
            }
            "z" => {
                self.z_range = range(value)?;
                if self.z_range.0 < 0.0 {
                    bail!("set '{}': z= must be >= 0, found '{value}'", self.name);
                }
            }
            "logm" => self.log_m200_range = range(value)?,
            "centre" => {
                self.centre = match value {
                    "field" => Centring::Field,
                    "pixel" => Centring::Pixel,
                    "jitter" => Centring::Jitter,
                    o => bail!(
                        "set '{}': centre= expects field, pixel or jitter, found '{o}'",
                        self.name
                    ),
                }
            }
            "strip" => {
                self.strip_subhaloes = match value {
                    "on" | "true" => true,
                    "off" | "false" => false,
                    o => bail!("set '{}': strip= expects on or off, found '{o}'", self.name),
                }
            }
            "core" => {
                self.core = match value {
                    "extended" => CoreModel::Extended,
                    v => CoreModel::Conserving(positive(num(v).with_context(|| {
                        format!(
                            "set '{}': core= expects extended or a scale k > 0",
                            self.name
                        )
                    })?)?),
                }
            }
            "hmf" => {
                self.mass_cutoff = match value {
                    "flat" => None,
                    v => Some(positive(num(v).with_context(|| {
                        format!(
                            "set '{}': hmf= expects flat or a cut-off mass M* in M☉",
                            self.name
                        )
                    })?)?),
                }
            }
            "pixels" => {
                let n = num(value)?;
                if !(8.0..=4096.0).contains(&n) || n.fract() != 0.0 {
                    bail!(
                        "set '{}': pixels= expects a whole number in 8..=4096, found '{value}'",
                        self.name
                    );
                }
                self.pixels = n as usize;
            }
            "pixel_kpc" => self.pixel_kpc = positive(num(value)?)?,
            "beta" => self.gas_beta = num(value)?.clamp(0.4, 1.5),
            "beta_scatter" => self.gas_beta_scatter = num(value)?.abs(),
            "cool_core" => self.cool_core_fraction = fraction(num(value)?)?,
            "sat_stars" => self.satellite_stellar_factor = num(value)?.max(0.0),
            "sub" => self.subhalo_fraction = fraction(num(value)?)?,
            "merger" => self.merger_fraction = fraction(num(value)?)?,
            "psf" => self.psf_sigma_px = num(value)?.max(0.0),
            "lensing" => {
                self.lensing_n_gal = match value {
                    "off" | "none" => None,
                    v => Some(positive(num(v)?)?),
                }
            }
            "xray" => {
                self.xray_counts = match value {
                    "off" | "none" => None,
                    v => {
                        let r = range(v)?;
                        positive(r.0)?;
                        Some(r)
                    }
                }
            }
            "pure_noise" => {
                self.pure_noise = match value {
                    "" | "1" | "true" | "yes" => true,
                    "0" | "false" | "no" => false,
                    o => bail!(
                        "set '{}': pure_noise= expects true or false, found '{o}'",
                        self.name
                    ),
                }
            }
            other => bail!(
                "set '{}': unknown knob '{other}'; expected one of {}",
                self.name,
                KNOBS.iter().map(|k| k.0).collect::<Vec<_>>().join(", ")
            ),
        }
        Ok(())
    }
}

/// The knobs `SetConfig::apply` accepts, with their meaning (for `--help` and the docs).
/// Where a cluster's centre lies on the pixel grid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Centring {
    /// The field's centre: the corner of the four middle pixels for an even side.
    #[default]
    Field,
    /// The centre of a pixel (the one right and below of the field's centre).
    Pixel,
    /// Uniform within ±½ pixel of a pixel's centre: the true centre of a map centred on
    /// its peak pixel.
    Jitter,
}

/// Suggested cut-off M* (M☉) of the cluster mass function (`hmf=3.5e14`): with the −0.9 slope of dn/dlnM it
/// makes 10¹⁵ M☉ clusters about 75× rarer per dex than 10¹⁴ M☉ ones, close to the Tinker
/// et al. 2008 function at z ≈ 0.2 over 10¹⁴–10¹⁵·³ M☉ [E].
pub const MASS_CUTOFF: f64 = 3.5e14;

pub const KNOBS: &[(&str, &str)] = &[
    ("name", "set name in the catalog"),
    ("sigma", "σ/m in cm²/g (0 = CDM)"),
    (
        "log_dt",
        "AGN feedback log10 ΔT_heat, or weak|fiducial|strong (7.8|8.0|8.2)",
    ),
    ("feedback", "same as log_dt"),
    ("conc", "factor on concentrations (code shift: 1.2–1.5)"),
    ("conc_scatter", "concentration scatter in dex (0.11)"),
    ("cm", "concentration relation: duffy | dutton"),
    ("z", "redshift range lo..hi (0..0.4; shift 0.6..1)"),
    ("logm", "log10 M200 range lo..hi (14..15.3)"),
    ("centre", "cluster centre: field (the field's centre: a pixel corner for an even side), pixel (a pixel's centre) or jitter (uniform within ±½ pixel of one) (field)"),
    ("strip", "strip subhaloes outside their tidal radius: on, or off (whole mass inside it) (off)"),
    ("core", "SIDM core: extended (SCIENCE.md's renormalised profile) or k: mass-conserving tanh core of scale k·r_c, e.g. 1.5 (extended)"),
    ("hmf", "masses: flat in log M, or a cut-off M* in M☉ of dn/dlnM ∝ M^-0.9 e^(-M/M*), e.g. 3.5e14 (flat)"),
    ("pixels", "pixels per side (100)"),
    ("pixel_kpc", "pixel size in kpc (20; shift 10 or 40)"),
    ("beta", "mean gas β (0.67; shift 0.5 or 0.85)"),
    ("beta_scatter", "gas β scatter (0.07)"),
    ("cool_core", "cool-core fraction (0.4)"),
    (
        "sat_stars",
        "factor on satellites' stellar mass (1; shift 2)",
    ),
    ("sub", "subhalo mass fraction of M200 (0.1)"),
    (
        "merger",
        "fraction of clusters with a merging secondary (0.25)",
    ),
    ("psf", "Gaussian PSF σ in pixels (0; shift 1–2)"),
    (
        "lensing",
        "weak-lensing noise: galaxies per arcmin² (30, 100) or off",
    ),
    (
        "xray",
        "X-ray Poisson noise: peak counts, n or lo..hi (20..1000) or off",
    ),
    ("pure_noise", "empty sky: only noise (true|false)"),
];

/// Parses a feedback level: weak, fiducial, strong, or a number log10 ΔT_heat.
pub fn parse_feedback(text: &str) -> Result<f64> {
    Ok(match text {
        "weak" => 7.8,
        "fiducial" => 8.0,
        "strong" => 8.2,
        v => {
            let x: f64 = v.parse().with_context(|| {
                format!(
                    "feedback: expected weak, fiducial, strong or log10 ΔT (e.g. 8.4), found '{v}'"
                )
            })?;
            if !(6.0..=10.0).contains(&x) {
                bail!("feedback: log10 ΔT must lie in [6, 10], found {x}");
            }
            x
        }
    })
}
