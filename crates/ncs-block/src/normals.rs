//! Normal values (adult lower limits) as a replaceable data table.
//!
//! The default table is `clinical.md` §4 for the motor nerves (Preston & Shapiro appendix;
//! Buschbacher 1999). Entries marked `verified = false` are defaults a lab should replace:
//! the peroneal and tibial amplitudes are marked unverified in `clinical.md` itself, and the
//! radial motor and all sensory limits are not in `clinical.md` at all (commonly quoted
//! Preston & Shapiro values, not re-checked against the source).

use serde::{Deserialize, Serialize};

use crate::names::canonical_nerve;
use crate::study::Modality;

/// Lower limits of normal for one nerve and modality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalEntry {
    /// Canonical nerve name (`"median"`, `"ulnar"`, ...).
    pub nerve: String,
    /// Motor or sensory.
    pub modality: Modality,
    /// Recording site (muscle for motor, digit or skin site for sensory), for the record.
    #[serde(default)]
    pub recording: String,
    /// Lower limit of the distal amplitude (mV; negative-peak for motor, peak-to-peak for
    /// sensory).
    pub distal_amplitude_mv: f64,
    /// Lower limit of conduction velocity (m/s).
    pub conduction_velocity_m_s: f64,
    /// Upper limit of the distal latency (ms), when known.
    #[serde(default)]
    pub distal_latency_ms: Option<f64>,
    /// Distal distance at which the latency limit applies (mm), when known.
    #[serde(default)]
    pub distal_distance_mm: Option<f64>,
    /// Whether the numbers were checked against their source.
    #[serde(default)]
    pub verified: bool,
    /// Where the numbers come from.
    #[serde(default)]
    pub source: String,
}

/// A table of normal values; a lab may load its own with [`NormalValues::from_toml_str`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalValues {
    /// Name of the table (shown in reasons).
    pub name: String,
    /// The entries.
    #[serde(rename = "entry")]
    pub entries: Vec<NormalEntry>,
}

/// Errors loading a normal-value table.
#[derive(Debug, thiserror::Error)]
pub enum NormalsError {
    /// The TOML text did not parse.
    #[error("normal-value table: {0}")]
    Toml(#[from] toml::de::Error),
    /// A limit is not a positive finite number.
    #[error("normal-value table: {field} of {nerve} ({modality}) must be a finite number > 0, got {value}")]
    BadValue {
        /// Nerve of the entry.
        nerve: String,
        /// Modality of the entry.
        modality: Modality,
        /// Field name.
        field: &'static str,
        /// The bad value.
        value: f64,
    },
    /// Two entries for the same nerve and modality.
    #[error("normal-value table: {nerve} ({modality}) appears more than once")]
    Duplicate {
        /// Nerve.
        nerve: String,
        /// Modality.
        modality: Modality,
    },
}

// A table row is a row: nine columns read better positionally than a builder here.
#[allow(clippy::too_many_arguments)]
fn entry(
    nerve: &str,
    modality: Modality,
    recording: &str,
    amp: f64,
    cv: f64,
    lat: Option<f64>,
    dist: Option<f64>,
    verified: bool,
    source: &str,
) -> NormalEntry {
    NormalEntry {
        nerve: nerve.to_string(),
        modality,
        recording: recording.to_string(),
        distal_amplitude_mv: amp,
        conduction_velocity_m_s: cv,
        distal_latency_ms: lat,
        distal_distance_mm: dist,
        verified,
        source: source.to_string(),
    }
}

impl NormalValues {
    /// The default adult table (`clinical.md` §4 plus unverified radial/sensory defaults).
    pub fn default_adult() -> Self {
        use Modality::{Motor, Sensory};
        let c4 = "clinical.md §4 (Preston & Shapiro; Buschbacher 1999)";
        let c4u = "clinical.md §4, amplitude marked unverified there";
        let ps = "not in clinical.md: commonly quoted Preston & Shapiro value, unverified";
        NormalValues {
            name: "default adult (clinical.md §4)".to_string(),
            entries: vec![
                entry(
                    "median",
                    Motor,
                    "APB",
                    4.0,
                    49.0,
                    Some(4.4),
                    Some(70.0),
                    true,
                    c4,
                ),
                entry(
                    "ulnar",
                    Motor,
                    "ADM",
                    6.0,
                    49.0,
                    Some(3.3),
                    Some(70.0),
                    true,
                    c4,
                ),
                entry(
                    "peroneal",
                    Motor,
                    "EDB",
                    2.0,
                    44.0,
                    Some(6.5),
                    Some(90.0),
                    false,
                    c4u,
                ),
                entry(
                    "tibial",
                    Motor,
                    "AHB",
                    4.0,
                    41.0,
                    Some(5.8),
                    Some(90.0),
                    false,
                    c4u,
                ),
                entry(
                    "radial",
                    Motor,
                    "EIP",
                    2.0,
                    50.0,
                    Some(2.9),
                    None,
                    false,
                    ps,
                ),
                entry(
                    "median",
                    Sensory,
                    "digit 2",
                    0.020,
                    50.0,
                    Some(3.5),
                    Some(130.0),
                    false,
                    ps,
                ),
                entry(
                    "ulnar",
                    Sensory,
                    "digit 5",
                    0.017,
                    50.0,
                    Some(3.1),
                    Some(110.0),
                    false,
                    ps,
                ),
                entry(
                    "radial",
                    Sensory,
                    "snuffbox",
                    0.015,
                    50.0,
                    Some(2.9),
                    Some(100.0),
                    false,
                    ps,
                ),
                entry(
                    "sural",
                    Sensory,
                    "posterior ankle",
                    0.006,
                    40.0,
                    Some(4.4),
                    Some(140.0),
                    false,
                    ps,
                ),
                entry(
                    "superficial_peroneal",
                    Sensory,
                    "lateral ankle",
                    0.006,
                    40.0,
                    Some(4.4),
                    Some(140.0),
                    false,
                    ps,
                ),
            ],
        }
    }

    /// Parses and validates a lab table. Nerve names are canonicalised (`"fibular"` →
    /// `"peroneal"`).
    ///
    /// ```toml
    /// name = "my lab"
    /// [[entry]]
    /// nerve = "median"
    /// modality = "motor"
    /// distal_amplitude_mv = 4.1
    /// conduction_velocity_m_s = 50
    /// ```
    pub fn from_toml_str(text: &str) -> Result<Self, NormalsError> {
        let mut t: NormalValues = toml::from_str(text)?;
        for e in &mut t.entries {
            e.nerve = canonical_nerve(&e.nerve);
        }
        t.validate()?;
        Ok(t)
    }

    fn validate(&self) -> Result<(), NormalsError> {
        for (i, e) in self.entries.iter().enumerate() {
            let checks = [
                ("distal_amplitude_mv", Some(e.distal_amplitude_mv)),
                ("conduction_velocity_m_s", Some(e.conduction_velocity_m_s)),
                ("distal_latency_ms", e.distal_latency_ms),
                ("distal_distance_mm", e.distal_distance_mm),
            ];
            for (field, v) in checks {
                if let Some(value) = v {
                    if !(value.is_finite() && value > 0.0) {
                        return Err(NormalsError::BadValue {
                            nerve: e.nerve.clone(),
                            modality: e.modality,
                            field,
                            value,
                        });
                    }
                }
            }
            if self.entries[..i]
                .iter()
                .any(|o| o.nerve == e.nerve && o.modality == e.modality)
            {
                return Err(NormalsError::Duplicate {
                    nerve: e.nerve.clone(),
                    modality: e.modality,
                });
            }
        }
        Ok(())
    }

    /// The entry for a nerve (any spelling) and modality.
    pub fn get(&self, nerve: &str, modality: Modality) -> Option<&NormalEntry> {
        let n = canonical_nerve(nerve);
        self.entries
            .iter()
            .find(|e| e.nerve == n && e.modality == modality)
    }

    /// The nerves the table has entries for, for one modality.
    pub fn nerves(&self, modality: Modality) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| e.modality == modality)
            .map(|e| e.nerve.clone())
            .collect()
    }
}

impl Default for NormalValues {
    fn default() -> Self {
        Self::default_adult()
    }
}
