//! Typed errors for every fallible constructor and batch function of the crate.

use thiserror::Error;

/// Everything that can go wrong when building a processor or running a batch operation.
///
/// Each variant names the parameter or object and carries the bad value; the message states
/// the rule that was broken. The real-time calls (`process*`) never return errors.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DspError {
    /// Sample rate not finite or not positive.
    #[error("sample rate must be finite and > 0 Hz, got {0}")]
    SampleRate(f64),
    /// Filter order outside 1..=8.
    #[error("filter order must be in 1..=8, got {0}")]
    Order(usize),
    /// A corner or notch frequency outside (0, fs/2).
    #[error("{name} must be finite and satisfy 0 < f < fs/2 = {nyquist_hz} Hz, got {value_hz} Hz")]
    Frequency {
        /// Which frequency parameter (e.g. `"low_hz"`).
        name: &'static str,
        /// The bad value, Hz.
        value_hz: f64,
        /// Half the sample rate, Hz.
        nyquist_hz: f64,
    },
    /// Band-pass corners not ordered.
    #[error("band-pass corners must satisfy low < high, got low {low_hz} Hz, high {high_hz} Hz")]
    BandOrder {
        /// Lower corner, Hz.
        low_hz: f64,
        /// Upper corner, Hz.
        high_hz: f64,
    },
    /// Notch quality factor not finite or not positive.
    #[error("notch quality factor Q must be finite and > 0, got {0}")]
    Quality(f64),
    /// A cascade needs at least one section.
    #[error("a filter cascade needs at least one section, got none")]
    NoSections,
    /// A channel count of zero.
    #[error("channel count must be >= 1, got {0}")]
    Channels(usize),
    /// A second-order section that is not finite, has a0 == 0, or is unstable.
    #[error("section {index} is invalid: {reason} (coefficients {coefficients:?})")]
    Section {
        /// Index of the section in the cascade.
        index: usize,
        /// Which rule it broke.
        reason: &'static str,
        /// The section as given, `[b0, b1, b2, a0, a1, a2]`.
        coefficients: [f64; 6],
    },
    /// Input too short for zero-phase filtering with the chosen padding.
    #[error("zero-phase filtering needs more than padlen = {padlen} samples, got {len}")]
    TooShort {
        /// Number of samples given.
        len: usize,
        /// Edge padding length in use.
        padlen: usize,
    },
    /// Output buffer with the wrong length.
    #[error("{name} must hold {expected} samples, got {got}")]
    BufferLength {
        /// Which buffer.
        name: &'static str,
        /// Required length.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// A generic parameter that must be finite and positive (or non-negative).
    #[error("{name} must be {rule}, got {value}")]
    Parameter {
        /// Parameter name as in the config struct.
        name: &'static str,
        /// The rule, e.g. `"finite and > 0"`.
        rule: &'static str,
        /// The bad value.
        value: f64,
    },
    /// A requested sweep window runs past the available samples.
    #[error(
        "sweep window [{start}, {end}) (absolute samples) is outside the available data \
         [{available_start}, {available_end})"
    )]
    WindowOutOfRange {
        /// First absolute sample index of the requested window.
        start: i64,
        /// One past the last absolute sample index of the requested window.
        end: i64,
        /// First absolute index available.
        available_start: u64,
        /// One past the last absolute index available.
        available_end: u64,
    },
}

/// Checks a sample rate (finite, > 0).
pub(crate) fn check_fs(fs: f64) -> Result<f64, DspError> {
    if fs.is_finite() && fs > 0.0 {
        Ok(fs)
    } else {
        Err(DspError::SampleRate(fs))
    }
}

/// Checks a parameter is finite and > 0.
pub(crate) fn check_pos(name: &'static str, value: f64) -> Result<f64, DspError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(DspError::Parameter {
            name,
            rule: "finite and > 0",
            value,
        })
    }
}

/// Checks a parameter is finite and >= 0.
pub(crate) fn check_nonneg(name: &'static str, value: f64) -> Result<f64, DspError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(DspError::Parameter {
            name,
            rule: "finite and >= 0",
            value,
        })
    }
}
