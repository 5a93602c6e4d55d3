//! One measured stimulus, as it arrives from the real-time pipeline.

use ncs_cmap::Response;
use serde::{Deserialize, Serialize};

use crate::study::Modality;

/// The measured response to one stimulus at one site, with where and how it was evoked.
///
/// Names are free text (`"Below Elbow"`, `"BE"`, `"fibular"`); the detector canonicalises
/// them ([`crate::names`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Stimulus instant from the start of the session (s).
    pub stimulus_time_s: f64,
    /// Nerve name.
    pub nerve: String,
    /// Side (`"left"`/`"right"`).
    pub side: String,
    /// Stimulation site name.
    pub site: String,
    /// Motor or sensory.
    pub modality: Modality,
    /// Distance from the site to the active electrode along the nerve (mm). Ignored when a
    /// study protocol gives the site's distance.
    #[serde(default)]
    pub distance_mm: Option<f64>,
    /// Amplifier channel.
    pub channel: usize,
    /// Stimulus intensity (mA), when known.
    #[serde(default)]
    pub intensity_ma: Option<f64>,
    /// The measured response.
    pub response: Response,
    /// Sweeps averaged into the response: 1 for a single sweep; a sensory response is measured
    /// on the running average of the sweeps given at its site and intensity so far.
    #[serde(default = "one")]
    pub averaged_sweeps: usize,
}

fn one() -> usize {
    1
}

/// An observation that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ObservationError {
    /// A number that must be finite (and ≥ 0 for distances and intensities) is not.
    #[error("observation: {field} must be a finite number{rule}, got {value}")]
    BadValue {
        /// Field name.
        field: &'static str,
        /// The rule beyond finiteness (`" >= 0"` or empty).
        rule: &'static str,
        /// The bad value.
        value: f64,
    },
    /// A name is empty.
    #[error("observation: {field} must not be empty")]
    EmptyName {
        /// Field name.
        field: &'static str,
    },
    /// The nerve is not in the study protocol.
    #[error("observation: {nerve} is not in the study protocol, which has {known:?}")]
    NerveNotInStudy {
        /// The observation's nerve (`"right median motor ch0"`).
        nerve: String,
        /// The study's nerves.
        known: Vec<String>,
    },
    /// The site is not in the study protocol for that nerve.
    #[error(
        "observation: site {site:?} is not in the study protocol for {nerve}, which has {known:?}"
    )]
    SiteNotInStudy {
        /// Canonical site.
        site: String,
        /// The nerve.
        nerve: String,
        /// The protocol's sites for that nerve.
        known: Vec<String>,
    },
}

impl Observation {
    /// Checks the numbers and names (not the study membership).
    pub fn check(&self) -> Result<(), ObservationError> {
        if !self.stimulus_time_s.is_finite() {
            return Err(ObservationError::BadValue {
                field: "stimulus_time_s",
                rule: "",
                value: self.stimulus_time_s,
            });
        }
        for (field, v) in [
            ("distance_mm", self.distance_mm),
            ("intensity_ma", self.intensity_ma),
        ] {
            if let Some(value) = v {
                if !(value.is_finite() && value >= 0.0) {
                    return Err(ObservationError::BadValue {
                        field,
                        rule: " >= 0",
                        value,
                    });
                }
            }
        }
        for (field, v) in [
            ("nerve", &self.nerve),
            ("side", &self.side),
            ("site", &self.site),
        ] {
            if v.trim().is_empty() {
                return Err(ObservationError::EmptyName { field });
            }
        }
        Ok(())
    }
}
