//! The result of measuring one sweep: measures, flags and the presence decision.
//!
//! These types are the contract between the measurement core, the block detector, the
//! recorder and the outputs. Units are fixed by the field names (ms, mV, mV·ms) so that no
//! consumer has to guess; a measure that does not exist (no response) is `None`.

use serde::{Deserialize, Serialize};

/// The measures of one evoked response, as `clinical.md` §1 defines them.
///
/// All latencies are from the stimulus instant. Amplitudes are magnitudes (positive numbers)
/// even though the negative phase is negative in volts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Measures {
    /// Stimulus → first deflection of the negative phase from baseline (ms).
    pub onset_latency_ms: Option<f64>,
    /// Stimulus → most negative point of the first negative phase (ms).
    pub negative_peak_latency_ms: Option<f64>,
    /// Baseline → negative peak (mV, magnitude).
    pub negative_peak_amplitude_mv: Option<f64>,
    /// Negative peak → following positive peak (mV, magnitude).
    pub peak_to_peak_amplitude_mv: Option<f64>,
    /// Area between baseline and signal over the negative phase, onset → first return to
    /// baseline after the negative peak (mV·ms, magnitude).
    pub negative_peak_area_mv_ms: Option<f64>,
    /// Onset → first return to baseline after the negative peak (ms).
    pub negative_peak_duration_ms: Option<f64>,
    /// Onset → final return to baseline (ms).
    pub total_duration_ms: Option<f64>,
}

/// One quality flag on a measured sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// Samples at or near the amplifier's rails: amplitudes are not trustworthy.
    Saturated,
    /// The stimulus artefact (or its blanked interval) reaches into the response onset.
    ArtefactOverlapsOnset,
    /// A positive deflection precedes the negative phase (electrode off the motor point,
    /// volume conduction, anomalous innervation).
    InitialPositiveDip,
    /// The pre-stimulus baseline drifts or is noisy beyond what the measures tolerate.
    UnstableBaseline,
    /// No response was found above the baseline noise.
    NoResponse,
    /// The sweep overlaps a data-loss gap and was not measured as if whole.
    DataGap,
    /// The sweep was cut short: by the next stimulus (or the previous one reaching into its
    /// baseline), or by the end of the record. It is measured on what there is, or not at all
    /// when too little remains; an absence in it is no evidence.
    WindowTruncated,
    /// The largest deflection after the stimulus goes the other way from the first phase the
    /// measurement looks for, and stands above the noise: active and reference electrodes
    /// swapped, the wrong polarity setting, or an active electrode off the motor point. What
    /// was measured (or found absent) is not the response's first phase.
    OppositePolarity,
}

impl Flag {
    /// Every flag, in a fixed order (the bit order of [`Flags`]).
    pub const ALL: [Flag; 8] = [
        Flag::Saturated,
        Flag::ArtefactOverlapsOnset,
        Flag::InitialPositiveDip,
        Flag::UnstableBaseline,
        Flag::NoResponse,
        Flag::DataGap,
        Flag::WindowTruncated,
        Flag::OppositePolarity,
    ];

    /// The flag's stable name (used in JSON and in sessions).
    pub const fn name(self) -> &'static str {
        match self {
            Flag::Saturated => "saturated",
            Flag::ArtefactOverlapsOnset => "artefact_overlaps_onset",
            Flag::InitialPositiveDip => "initial_positive_dip",
            Flag::UnstableBaseline => "unstable_baseline",
            Flag::NoResponse => "no_response",
            Flag::DataGap => "data_gap",
            Flag::WindowTruncated => "window_truncated",
            Flag::OppositePolarity => "opposite_polarity",
        }
    }

    /// Parses a flag from its stable name.
    pub fn from_name(name: &str) -> Option<Flag> {
        Flag::ALL.into_iter().find(|f| f.name() == name)
    }

    const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl std::fmt::Display for Flag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of [`Flag`]s, stored as bits so that it is `Copy` and never allocates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Flags(u16);

impl Flags {
    /// The empty set.
    pub const fn empty() -> Self {
        Flags(0)
    }
    /// Adds `flag`.
    pub fn insert(&mut self, flag: Flag) {
        self.0 |= flag.bit();
    }
    /// Removes `flag`.
    pub fn remove(&mut self, flag: Flag) {
        self.0 &= !flag.bit();
    }
    /// Whether `flag` is set.
    pub const fn contains(self, flag: Flag) -> bool {
        self.0 & flag.bit() != 0
    }
    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The set flags, in [`Flag::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Flag> {
        Flag::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

impl FromIterator<Flag> for Flags {
    fn from_iter<I: IntoIterator<Item = Flag>>(iter: I) -> Self {
        let mut s = Flags::empty();
        for f in iter {
            s.insert(f);
        }
        s
    }
}

impl Serialize for Flags {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Flags {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v: Vec<Flag> = Vec::deserialize(deserializer)?;
        Ok(v.into_iter().collect())
    }
}

/// The outcome of measuring one sweep. "No response" is a result (`present == false`), not an
/// error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Whether a response was found above the baseline noise (see the crate docs for the test).
    pub present: bool,
    /// The measures; all `None` when `present` is false.
    pub measures: Measures,
    /// Quality flags.
    pub flags: Flags,
    /// RMS of the pre-stimulus baseline after baseline removal (mV).
    pub baseline_noise_rms_mv: f64,
    /// Baseline level subtracted before measuring (mV).
    pub baseline_mv: f64,
}
