//! Typed errors of the simulator: each variant names the parameter and carries the bad value.

use thiserror::Error;

/// Everything that can go wrong when building a sweep, a scenario or a study.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SimError {
    /// A numeric parameter is outside its allowed range.
    #[error("{name} must be {rule}, got {value}")]
    OutOfRange {
        /// The parameter, with its owner where useful (e.g. `nerve "median" cv_mean_m_s`).
        name: String,
        /// The rule that was broken (e.g. "> 0", "in 0..=1").
        rule: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A name refers to nothing (unknown scenario, unknown site in a segment).
    #[error("unknown {kind} {name:?}; known: {known}")]
    Unknown {
        /// What kind of thing was looked up ("scenario", "site").
        kind: &'static str,
        /// The name that was not found.
        name: String,
        /// The names that exist, comma separated.
        known: String,
    },
    /// A structural rule of a scenario is broken (e.g. sites not ordered by distance).
    #[error("invalid scenario: {0}")]
    Invalid(String),
    /// A scenario file could not be parsed.
    #[error("cannot parse scenario TOML: {0}")]
    Toml(String),
}

/// Checks `value` against a predicate and builds the matching [`SimError::OutOfRange`].
pub(crate) fn check(
    ok: bool,
    name: impl Into<String>,
    rule: &'static str,
    value: f64,
) -> Result<(), SimError> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(SimError::OutOfRange {
            name: name.into(),
            rule,
            value,
        })
    }
}
