//! The study model: nerves and their stimulation sites, from a TOML protocol or built in code.

use serde::{Deserialize, Serialize};

use crate::names::{canonical_nerve, canonical_side, canonical_site};
use crate::normals::NormalValues;

/// Motor (CMAP) or sensory (SNAP) study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    /// Compound muscle action potential.
    Motor,
    /// Sensory nerve action potential.
    Sensory,
}

impl std::fmt::Display for Modality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Modality::Motor => "motor",
            Modality::Sensory => "sensory",
        })
    }
}

/// How the stimulus intensity is chosen at a site during a live study.
///
/// In TOML: `intensity = "manual"`, `intensity = { ma = 20 }` (one fixed intensity, e.g. for a
/// sensory study) or `intensity = { start_ma = 5, step_ma = 5, max_ma = 60 }` (a ramp).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntensityPlan {
    /// The examiner sets every intensity.
    Manual(ManualIntensity),
    /// One intensity for every sweep.
    Fixed {
        /// Intensity (mA).
        ma: f64,
    },
    /// Raised by `step_ma` from `start_ma` until the response stops growing, never beyond
    /// `max_ma`; then supramaximal sweeps at the plateau intensity plus the study's margin.
    Ramp {
        /// First intensity (mA).
        start_ma: f64,
        /// Increment (mA).
        step_ma: f64,
        /// Highest intensity the ramp may reach (mA).
        max_ma: f64,
    },
}

/// The word `manual` in an [`IntensityPlan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ManualIntensity {
    /// `"manual"`.
    Manual,
}

impl IntensityPlan {
    /// The default: a motor ramp from 5 mA in steps of 5 mA up to 60 mA (clinical.md §1:
    /// 5–75 mA, raised until the response stops growing); sensory studies 20 mA fixed.
    pub fn default_for(modality: Modality) -> IntensityPlan {
        match modality {
            Modality::Motor => IntensityPlan::Ramp {
                start_ma: 5.0,
                step_ma: 5.0,
                max_ma: 60.0,
            },
            Modality::Sensory => IntensityPlan::Fixed { ma: 20.0 },
        }
    }

    /// The first intensity the plan gives, if it gives one.
    pub fn first_ma(&self) -> Option<f64> {
        match *self {
            IntensityPlan::Manual(_) => None,
            IntensityPlan::Fixed { ma } => Some(ma),
            IntensityPlan::Ramp { start_ma, .. } => Some(start_ma),
        }
    }

    fn check(&self, what: &str) -> Result<(), String> {
        let ok = |v: f64| v.is_finite() && v > 0.0 && v <= MAX_INTENSITY_MA;
        match *self {
            IntensityPlan::Manual(_) => Ok(()),
            IntensityPlan::Fixed { ma } if ok(ma) => Ok(()),
            IntensityPlan::Fixed { ma } => Err(format!(
                "{what}: intensity ma must be > 0 and <= {MAX_INTENSITY_MA} mA, got {ma}"
            )),
            IntensityPlan::Ramp {
                start_ma,
                step_ma,
                max_ma,
            } => {
                if !(ok(start_ma) && ok(max_ma) && start_ma <= max_ma) {
                    Err(format!("{what}: intensity ramp needs 0 < start_ma <= max_ma <= {MAX_INTENSITY_MA} mA, got start_ma {start_ma}, max_ma {max_ma}"))
                } else if !(step_ma.is_finite() && step_ma > 0.0) {
                    Err(format!(
                        "{what}: intensity ramp step_ma must be > 0 mA, got {step_ma}"
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// Highest intensity a protocol may ask for (mA): constant-current stimulators stop at
/// 100 mA; clinical studies stay within 5–75 mA (clinical.md §1).
pub const MAX_INTENSITY_MA: f64 = 100.0;

/// One stimulation site of a nerve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteProtocol {
    /// Site name (canonicalised on validation: `"BE"` → `"below_elbow"`).
    pub name: String,
    /// Distance from this site to the active recording electrode along the nerve (mm).
    pub distance_mm: f64,
    /// Intensity plan for this site (default: the nerve's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intensity: Option<IntensityPlan>,
    /// Sweeps to record at this site once supramaximal (motor) or to average (sensory)
    /// (default: the nerve's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweeps: Option<u32>,
}

/// One nerve of a study, with its sites from distal to proximal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NerveProtocol {
    /// Nerve name (canonicalised: `"fibular"` → `"peroneal"`).
    pub name: String,
    /// `"left"` or `"right"` (canonicalised: `"R"` → `"right"`).
    pub side: String,
    /// Motor or sensory.
    pub modality: Modality,
    /// Recording muscle (motor) or recording site (sensory), e.g. `"APB"`.
    #[serde(default)]
    pub recording: String,
    /// Amplifier channel the response is recorded on.
    pub channel: usize,
    /// Stimulation sites, distal first; distances must increase strictly.
    pub sites: Vec<SiteProtocol>,
    /// Intensity plan for the nerve's sites (default: [`IntensityPlan::default_for`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intensity: Option<IntensityPlan>,
    /// Sweeps per site (default: the study's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweeps: Option<u32>,
}

/// A study protocol: the nerves to test and where to stimulate them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Study {
    /// Protocol name.
    #[serde(default)]
    pub name: String,
    /// The nerves.
    #[serde(rename = "nerve")]
    pub nerves: Vec<NerveProtocol>,
    /// How a live study stimulates (rate, margin, sweeps, advancing).
    #[serde(default)]
    pub stimulation: StimulationPlan,
}

/// How a live study stimulates: the `[stimulation]` table of a protocol.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StimulationPlan {
    /// Stimuli per second (clinical.md §1: 1 Hz).
    pub rate_hz: f64,
    /// Supramaximal margin over the plateau intensity (%): clinical.md §1, "+10–20 %".
    pub margin_pct: f64,
    /// Motor sweeps at the supramaximal intensity per site; sensory sweeps averaged.
    pub motor_sweeps: u32,
    /// Sensory sweeps averaged per site.
    pub sensory_sweeps: u32,
    /// Pulse width (µs); 0.1–0.2 ms clinically.
    pub pulse_width_us: u16,
    /// Move to the next site by itself once a site is complete.
    pub auto_advance: bool,
}

impl Default for StimulationPlan {
    fn default() -> Self {
        StimulationPlan {
            rate_hz: 1.0,
            margin_pct: 20.0,
            motor_sweeps: 2,
            sensory_sweeps: 10,
            pulse_width_us: 200,
            auto_advance: false,
        }
    }
}

impl StimulationPlan {
    fn check(&self) -> Result<(), String> {
        let p = self;
        if !(p.rate_hz.is_finite() && p.rate_hz > 0.0 && p.rate_hz <= 10.0) {
            return Err(format!(
                "stimulation.rate_hz must be > 0 and <= 10 Hz, got {}",
                p.rate_hz
            ));
        }
        if !(p.margin_pct.is_finite() && (0.0..=100.0).contains(&p.margin_pct)) {
            return Err(format!(
                "stimulation.margin_pct must be between 0 and 100 %, got {}",
                p.margin_pct
            ));
        }
        for (name, v) in [
            ("motor_sweeps", p.motor_sweeps),
            ("sensory_sweeps", p.sensory_sweeps),
        ] {
            if !(1..=1000).contains(&v) {
                return Err(format!(
                    "stimulation.{name} must be between 1 and 1000, got {v}"
                ));
            }
        }
        if !(20..=1000).contains(&p.pulse_width_us) {
            return Err(format!(
                "stimulation.pulse_width_us must be between 20 and 1000 µs, got {}",
                p.pulse_width_us
            ));
        }
        Ok(())
    }
}

/// A study protocol that breaks a rule.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    /// The TOML text did not parse.
    #[error("study protocol: {0}")]
    Toml(#[from] toml::de::Error),
    /// The study has no nerve.
    #[error("study protocol must list at least one [[nerve]], got none")]
    NoNerves,
    /// A nerve has no site.
    #[error("study protocol: {nerve} must have at least one site, got none")]
    NoSites {
        /// The nerve (`"right median motor ch0"`).
        nerve: String,
    },
    /// A nerve or side name is empty.
    #[error("study protocol: nerve #{index} must have a non-empty {field}, got {value:?}")]
    EmptyName {
        /// Index of the nerve in the file.
        index: usize,
        /// `"name"` or `"side"`.
        field: &'static str,
        /// The bad value.
        value: String,
    },
    /// The same site appears twice on a nerve.
    #[error("study protocol: {nerve} lists site {site:?} more than once")]
    DuplicateSite {
        /// The nerve.
        nerve: String,
        /// Canonical site name.
        site: String,
    },
    /// The same nerve appears twice.
    #[error("study protocol: {nerve} appears more than once")]
    DuplicateNerve {
        /// The nerve.
        nerve: String,
    },
    /// A stimulation setting (rate, intensity plan, sweeps) is out of range.
    #[error("study protocol: {0}")]
    Stimulation(String),
    /// Distances do not increase from distal to proximal.
    #[error("study protocol: {nerve}: site distances must increase strictly from distal to proximal, but {site:?} has {distance_mm} mm after {previous_site:?} at {previous_mm} mm")]
    DistanceNotIncreasing {
        /// The nerve.
        nerve: String,
        /// The offending site.
        site: String,
        /// Its distance.
        distance_mm: f64,
        /// The site before it.
        previous_site: String,
        /// That site's distance.
        previous_mm: f64,
    },
    /// A distance is not a finite number ≥ 0.
    #[error("study protocol: {nerve}: distance_mm of site {site:?} must be a finite number >= 0, got {distance_mm}")]
    BadDistance {
        /// The nerve.
        nerve: String,
        /// The site.
        site: String,
        /// The bad distance.
        distance_mm: f64,
    },
    /// The nerve has no entry in the normal-value table.
    #[error("study protocol: {nerve}: nerve name {name:?} has no {modality} normal values; the table knows {known:?}")]
    NoNormalValues {
        /// The nerve.
        nerve: String,
        /// Canonical nerve name.
        name: String,
        /// Modality.
        modality: Modality,
        /// Nerves the table knows for this modality.
        known: Vec<String>,
    },
}

impl NerveProtocol {
    /// A short label: `"right median motor ch0"`.
    pub fn label(&self) -> String {
        format!(
            "{} {} {} ch{}",
            self.side, self.name, self.modality, self.channel
        )
    }
}

impl Study {
    /// Parses a TOML protocol (see `protocols/mmn-arm.toml`) and validates it against the
    /// normal-value table.
    pub fn from_toml_str(text: &str, normals: &NormalValues) -> Result<Study, StudyError> {
        let s: Study = toml::from_str(text)?;
        s.validated(normals)
    }

    /// Canonicalises the names and checks the rules: at least one nerve, every nerve has
    /// sites, no duplicate nerve or site, distances finite, ≥ 0 and strictly increasing from
    /// distal to proximal, and every nerve known to the normal-value table.
    pub fn validated(mut self, normals: &NormalValues) -> Result<Study, StudyError> {
        if self.nerves.is_empty() {
            return Err(StudyError::NoNerves);
        }
        self.stimulation.check().map_err(StudyError::Stimulation)?;
        for (index, n) in self.nerves.iter_mut().enumerate() {
            if n.name.trim().is_empty() {
                return Err(StudyError::EmptyName {
                    index,
                    field: "name",
                    value: n.name.clone(),
                });
            }
            if n.side.trim().is_empty() {
                return Err(StudyError::EmptyName {
                    index,
                    field: "side",
                    value: n.side.clone(),
                });
            }
            n.name = canonical_nerve(&n.name);
            n.side = canonical_side(&n.side);
            for s in &mut n.sites {
                s.name = canonical_site(&s.name);
            }
        }
        for (i, n) in self.nerves.iter().enumerate() {
            let label = n.label();
            if self.nerves[..i].iter().any(|o| {
                o.name == n.name
                    && o.side == n.side
                    && o.modality == n.modality
                    && o.channel == n.channel
            }) {
                return Err(StudyError::DuplicateNerve { nerve: label });
            }
            if n.sites.is_empty() {
                return Err(StudyError::NoSites { nerve: label });
            }
            if normals.get(&n.name, n.modality).is_none() {
                return Err(StudyError::NoNormalValues {
                    nerve: label,
                    name: n.name.clone(),
                    modality: n.modality,
                    known: normals.nerves(n.modality),
                });
            }
            if let Some(p) = &n.intensity {
                p.check(&label).map_err(StudyError::Stimulation)?;
            }
            for (j, s) in n.sites.iter().enumerate() {
                if let Some(p) = &s.intensity {
                    p.check(&format!("{label} site {:?}", s.name))
                        .map_err(StudyError::Stimulation)?;
                }
                for (what, v) in [("nerve", n.sweeps), ("site", s.sweeps)] {
                    if let Some(v) = v.filter(|v| !(1..=1000).contains(v)) {
                        return Err(StudyError::Stimulation(format!(
                            "{label} site {:?}: {what} sweeps must be between 1 and 1000, got {v}",
                            s.name
                        )));
                    }
                }
                if !(s.distance_mm.is_finite() && s.distance_mm >= 0.0) {
                    return Err(StudyError::BadDistance {
                        nerve: label,
                        site: s.name.clone(),
                        distance_mm: s.distance_mm,
                    });
                }
                if n.sites[..j].iter().any(|o| o.name == s.name) {
                    return Err(StudyError::DuplicateSite {
                        nerve: label,
                        site: s.name.clone(),
                    });
                }
                if j > 0 {
                    let p = &n.sites[j - 1];
                    if s.distance_mm <= p.distance_mm {
                        return Err(StudyError::DistanceNotIncreasing {
                            nerve: label,
                            site: s.name.clone(),
                            distance_mm: s.distance_mm,
                            previous_site: p.name.clone(),
                            previous_mm: p.distance_mm,
                        });
                    }
                }
            }
        }
        Ok(self)
    }

    /// The study as a TOML protocol that [`Study::from_toml_str`] reads back the same (the
    /// names canonical), e.g. with the distances measured during a live study.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }

    /// The intensity plan of site `site` of nerve `nerve` (site, else nerve, else default).
    pub fn intensity_plan(&self, nerve: usize, site: usize) -> IntensityPlan {
        let n = &self.nerves[nerve];
        n.sites[site]
            .intensity
            .or(n.intensity)
            .unwrap_or_else(|| IntensityPlan::default_for(n.modality))
    }

    /// Sweeps planned at site `site` of nerve `nerve` (site, else nerve, else the study's
    /// motor or sensory default).
    pub fn sweeps(&self, nerve: usize, site: usize) -> u32 {
        let n = &self.nerves[nerve];
        n.sites[site]
            .sweeps
            .or(n.sweeps)
            .unwrap_or(match n.modality {
                Modality::Motor => self.stimulation.motor_sweeps,
                Modality::Sensory => self.stimulation.sensory_sweeps,
            })
    }

    /// The nerve matching canonical names and channel.
    pub fn find(
        &self,
        nerve: &str,
        side: &str,
        modality: Modality,
        channel: usize,
    ) -> Option<&NerveProtocol> {
        self.nerves.iter().find(|n| {
            n.name == nerve && n.side == side && n.modality == modality && n.channel == channel
        })
    }
}
