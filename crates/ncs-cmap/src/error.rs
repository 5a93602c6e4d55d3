//! Errors raised when a configuration or a sweep breaks a rule. Measuring itself never fails.

/// A configuration value or a sweep that breaks a rule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A configuration parameter is out of its valid range.
    #[error("measurement setting `{name}` {rule}, got {value}")]
    Config {
        /// The parameter's name.
        name: &'static str,
        /// The rule that was broken.
        rule: &'static str,
        /// The offending value.
        value: f64,
    },
    /// The sweep's sample rate is not a positive finite number.
    #[error("sweep sample rate must be a finite number > 0 Hz, got {0}")]
    SampleRate(f64),
    /// The stimulus index leaves too short a pre-stimulus baseline.
    #[error(
        "sweep needs at least {needed} pre-stimulus samples for the baseline, got {got} \
         (stimulus at index {got} of {len})"
    )]
    ShortBaseline {
        /// Samples needed before the stimulus.
        needed: usize,
        /// Samples available before the stimulus.
        got: usize,
        /// Sweep length.
        len: usize,
    },
    /// The post-stimulus window is too short to hold a response.
    #[error("sweep needs at least {needed} post-stimulus samples, got {got}")]
    ShortWindow {
        /// Samples needed after the stimulus.
        needed: usize,
        /// Samples available after the stimulus.
        got: usize,
    },
    /// A sample is NaN or infinite.
    #[error("sweep sample {index} is not finite ({value})")]
    NotFinite {
        /// Index within the sweep.
        index: usize,
        /// The value.
        value: f64,
    },
    /// The artefact end lies before the stimulus or past the sweep.
    #[error("artefact end {end} must lie between the stimulus index {stimulus} and the sweep length {len}")]
    ArtefactEnd {
        /// The given artefact end.
        end: usize,
        /// The stimulus index.
        stimulus: usize,
        /// Sweep length.
        len: usize,
    },
    /// Sweeps given to an averager differ in shape.
    #[error("sweep to average has {got} samples with the stimulus at {got_stimulus}; the average holds {expected} with the stimulus at {expected_stimulus}")]
    AverageShape {
        /// Length of the averager's sweeps.
        expected: usize,
        /// Stimulus index of the averager's sweeps.
        expected_stimulus: usize,
        /// Length of the offered sweep.
        got: usize,
        /// Stimulus index of the offered sweep.
        got_stimulus: usize,
    },
}
