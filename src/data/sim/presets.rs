//! Named simulation sets mirroring the paper's (BAHAMAS-SIDM-like and DARKSKIES-like) and
//! the domain shifts of SCIENCE.md, plus the `name:knob=value:…` set-spec syntax of
//! `dcc simulate --sets`.

use super::config::SetConfig;
use super::halo::ConcentrationRelation;
use anyhow::{bail, Result};

/// A family of sets: how short names (`cdm`, `0.1`) are completed and the default list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// BAHAMAS-SIDM-like: CDM, 0.1, 0.3, 1 cm²/g, Duffy concentrations, 3,600 maps each.
    Bahamas,
    /// BAHAMAS-like CDM at fiducial, weak and strong AGN feedback.
    BahamasAgn,
    /// DARKSKIES-like: σ/m 0, 0.1, 0.2 with Dutton–Macciò concentrations, 1,200 maps each.
    Darkskies,
}

impl Preset {
    /// Parses `bahamas`, `bahamas-agn` or `darkskies`.
    pub fn parse(text: &str) -> Result<Preset> {
        Ok(match text {
            "bahamas" => Preset::Bahamas,
            "bahamas-agn" => Preset::BahamasAgn,
            "darkskies" => Preset::Darkskies,
            o => bail!("--preset: expected bahamas, bahamas-agn or darkskies, found '{o}'"),
        })
    }

    /// The sets simulated when `--sets` is not given.
    pub fn default_sets(self) -> &'static [&'static str] {
        match self {
            Preset::Bahamas => &["bahamas-cdm", "bahamas-0.1", "bahamas-0.3", "bahamas-1"],
            Preset::BahamasAgn => &["bahamas-cdm", "bahamas-agn-weak", "bahamas-agn-strong"],
            Preset::Darkskies => &["darkskies-0", "darkskies-0.1", "darkskies-0.2"],
        }
    }

    /// Maps per set in the paper (the default of `--per-set`).
    pub fn paper_count(self) -> usize {
        match self {
            Preset::Bahamas | Preset::BahamasAgn => 3600,
            Preset::Darkskies => 1200,
        }
    }

    fn family(self) -> &'static str {
        match self {
            Preset::Bahamas | Preset::BahamasAgn => "bahamas",
            Preset::Darkskies => "darkskies",
        }
    }
}

/// The named domain shifts: a CDM BAHAMAS-like set with the listed knobs.
pub const SHIFTS: &[(&str, &str)] = &[
    ("shift-lensing-30", "lensing=30"),
    ("shift-lensing-100", "lensing=100"),
    ("shift-xray-20", "xray=20"),
    ("shift-xray-1000", "xray=1000"),
    ("shift-feedback-7.6", "log_dt=7.6"),
    ("shift-feedback-8.4", "log_dt=8.4"),
    ("shift-code", "conc=1.35:beta=0.85:sat_stars=2"),
    ("shift-code-b", "conc=1.2:beta=0.5:sat_stars=2"),
    ("shift-highz", "z=0.6..1"),
    ("shift-pix10", "pixel_kpc=10"),
    ("shift-pix40", "pixel_kpc=40"),
    ("shift-psf", "psf=1.5"),
    ("shift-noise-only", "pure_noise:lensing=30:xray=20..1000"),
];

/// DARKSKIES-like sets' share of M200 in subhaloes (BAHAMAS-like: 0.1).
pub const DARKSKIES_SUBHALO_FRACTION: f64 = 0.2;
/// DARKSKIES-like sets' mean gas β (BAHAMAS-like: 0.67).
pub const DARKSKIES_GAS_BETA: f64 = 0.6;
/// DARKSKIES-like sets' cool-core fraction (BAHAMAS-like: 0.4).
pub const DARKSKIES_COOL_CORE_FRACTION: f64 = 0.7;

/// The base set of a full name: `bahamas-<σ|cdm>`, `bahamas-agn-weak|strong`,
/// `darkskies-<σ|cdm>`, or a `shift-…` name.
pub fn named_set(name: &str) -> Result<SetConfig> {
    let sigma_of = |s: &str| -> Result<f64> {
        if s == "cdm" {
            return Ok(0.0);
        }
        match s.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
            _ => bail!(
                "--sets: '{name}': expected a σ/m >= 0 or 'cdm' after the family, found '{s}'"
            ),
        }
    };
    if let Some(rest) = name.strip_prefix("bahamas-") {
        let mut set = SetConfig::bahamas(name, 0.0);
        match rest {
            "agn-weak" => set.log_dt = 7.8,
            "agn-strong" => set.log_dt = 8.2,
            "agn-fiducial" => {}
            s => set.sigma = sigma_of(s)?,
        }
        return Ok(set);
    }
    if let Some(rest) = name.strip_prefix("darkskies-") {
        let mut set = SetConfig::bahamas(name, sigma_of(rest)?);
        // Another code, not only another c(M) [E]: zoom-in resolution resolves more
        // substructure, and other subgrid physics leaves shallower gas and more cool cores.
        // With c(M) alone the network grouped these sets with the BAHAMAS-like ones of the
        // same σ/m (docs/simulate.md), where the paper finds 0 % overlap between the codes.
        set.concentration = ConcentrationRelation::DuttonMaccio;
        set.subhalo_fraction = DARKSKIES_SUBHALO_FRACTION;
        set.gas_beta = DARKSKIES_GAS_BETA;
        set.cool_core_fraction = DARKSKIES_COOL_CORE_FRACTION;
        return Ok(set);
    }
    if let Some((_, knobs)) = SHIFTS.iter().find(|s| s.0 == name) {
        let mut set = SetConfig::bahamas(name, 0.0);
        for k in knobs.split(':') {
            set.apply(k)?;
        }
        return Ok(set);
    }
    bail!(
        "--sets: unknown set '{name}'; expected bahamas-<σ|cdm>, bahamas-agn-weak, \
         bahamas-agn-strong, darkskies-<σ|cdm>, one of {}, or a short name (cdm, 0.1, agn-weak) \
         completed by --preset",
        SHIFTS.iter().map(|s| s.0).collect::<Vec<_>>().join(", ")
    )
}

/// Resolves one `--sets` entry: `NAME[:knob=value…]`, where NAME may be short (`cdm`,
/// `0.3`, `agn-weak`) and is then completed with the preset's family. The set keeps the
/// entry's name (knobs included) unless a `name=` knob renames it.
pub fn resolve_set(spec: &str, preset: Preset) -> Result<SetConfig> {
    let mut parts = spec.split(':');
    let base = parts.next().unwrap_or("").trim();
    if base.is_empty() {
        bail!("--sets: empty set name in '{spec}'");
    }
    let full = if ["bahamas-", "darkskies-", "shift-"]
        .iter()
        .any(|f| base.starts_with(f))
    {
        base.to_string()
    } else {
        format!("{}-{base}", preset.family())
    };
    let mut set = named_set(&full)?;
    set.name = if spec == base { full } else { spec.to_string() };
    for knob in parts {
        set.apply(knob)?;
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_complete_with_the_preset_family() {
        let s = resolve_set("0.3", Preset::Bahamas).unwrap();
        assert_eq!((s.name.as_str(), s.sigma), ("bahamas-0.3", 0.3));
        let s = resolve_set("cdm", Preset::Darkskies).unwrap();
        assert_eq!(s.name, "darkskies-cdm");
        assert_eq!(s.concentration, ConcentrationRelation::DuttonMaccio);
        let s = resolve_set("agn-strong", Preset::BahamasAgn).unwrap();
        assert_eq!((s.sigma, s.log_dt), (0.0, 8.2));
    }

    #[test]
    fn knobs_in_a_set_spec_override_the_base() {
        let s = resolve_set("cdm:conc=1.3:z=0.6..1:name=odd", Preset::Bahamas).unwrap();
        assert_eq!(s.name, "odd");
        assert_eq!(s.concentration_factor, 1.3);
        assert_eq!(s.z_range, (0.6, 1.0));
        let s = resolve_set("shift-noise-only", Preset::Bahamas).unwrap();
        assert!(s.pure_noise && s.lensing_n_gal == Some(30.0));
        assert_eq!(s.xray_counts, Some((20.0, 1000.0)));
    }

    #[test]
    fn every_named_shift_resolves() {
        for (name, _) in SHIFTS {
            assert_eq!(named_set(name).unwrap().name, *name);
        }
    }

    #[test]
    fn bad_set_specs_are_errors_that_name_the_problem() {
        let e = resolve_set("bahamas-x", Preset::Bahamas)
            .unwrap_err()
            .to_string();
        assert!(e.contains("bahamas-x"), "{e}");
        let e = resolve_set("cdm:conc=abc", Preset::Bahamas)
            .unwrap_err()
            .to_string();
        assert!(e.contains("conc") && e.contains("abc"), "{e}");
        let e = resolve_set("cdm:wobble=2", Preset::Bahamas)
            .unwrap_err()
            .to_string();
        assert!(e.contains("wobble"), "{e}");
        assert!(resolve_set("cdm:z=1..0.5", Preset::Bahamas).is_err());
        assert!(resolve_set("cdm:sigma=-1", Preset::Bahamas).is_err());
    }

    #[test]
    fn darkskies_sets_differ_from_bahamas_ones_like_another_code() {
        let d = named_set("darkskies-0.1").unwrap();
        let b = named_set("bahamas-0.1").unwrap();
        assert_eq!(d.sigma, b.sigma);
        assert_eq!(d.concentration, ConcentrationRelation::DuttonMaccio);
        assert_eq!(d.subhalo_fraction, 0.2);
        assert_eq!(d.gas_beta, 0.6);
        assert_eq!(d.cool_core_fraction, 0.7);
        assert_eq!(
            (b.subhalo_fraction, b.gas_beta, b.cool_core_fraction),
            (0.1, 0.67, 0.4)
        );
        // Knobs still override the family's values.
        let k = resolve_set("darkskies-0.1:beta=0.67", Preset::Darkskies).unwrap();
        assert_eq!(k.gas_beta, 0.67);
    }
}
