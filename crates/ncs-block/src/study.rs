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

/// One stimulation site of a nerve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteProtocol {
    /// Site name (canonicalised on validation: `"BE"` → `"below_elbow"`).
    pub name: String,
    /// Distance from this site to the active recording electrode along the nerve (mm).
    pub distance_mm: f64,
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
            for (j, s) in n.sites.iter().enumerate() {
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
