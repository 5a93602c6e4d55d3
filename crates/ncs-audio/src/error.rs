//! Errors of the audio source.

use ncs_runtime::SourceError;

/// Why an audio input could not be found, configured, started or go on.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The audio system itself cannot be used (no sound server, no driver).
    #[error("audio system unavailable: {0}")]
    Host(String),
    /// No input matches the name asked for.
    #[error("no audio input named {asked:?} (inputs: {available}; see `ncs devices`)")]
    NoDevice {
        /// The name given.
        asked: String,
        /// The inputs present, comma-separated (or `none`).
        available: String,
    },
    /// The name is a part of several input names.
    #[error("audio input name {asked:?} must match one input, matches {matches}")]
    Ambiguous {
        /// The name given.
        asked: String,
        /// The inputs it matches, comma-separated.
        matches: String,
    },
    /// No name was given and the system has no default input.
    #[error("no default audio input (inputs: {available})")]
    NoDefault {
        /// The inputs present, comma-separated (or `none`).
        available: String,
    },
    /// The device refused an operation.
    #[error("audio input {device:?}: {what} failed: {cause}")]
    Device {
        /// The device.
        device: String,
        /// What was attempted.
        what: &'static str,
        /// The cause, as the audio system gave it.
        cause: String,
    },
    /// The device cannot capture this many channels.
    #[error("audio input {device:?} cannot capture {asked} channel(s); it supports {supported}")]
    Channels {
        /// The device.
        device: String,
        /// Channels asked for.
        asked: u16,
        /// Channel counts it supports.
        supported: String,
    },
    /// The device cannot capture at this rate with this many channels.
    #[error(
        "audio input {device:?} cannot capture at {asked} Hz with {channels} channel(s); it supports {supported}"
    )]
    Rate {
        /// The device.
        device: String,
        /// Rate asked for (Hz).
        asked: u32,
        /// Channels in use.
        channels: u16,
        /// Rates it supports with that many channels.
        supported: String,
    },
    /// The device cannot deliver this sample format at this rate and channel count.
    #[error(
        "audio input {device:?} cannot deliver {asked} samples at {rate} Hz × {channels} ch; it supports {supported}"
    )]
    Format {
        /// The device.
        device: String,
        /// Format asked for.
        asked: String,
        /// Rate in use (Hz).
        rate: u32,
        /// Channels in use.
        channels: u16,
        /// Formats it supports there.
        supported: String,
    },
    /// A setting that cannot work.
    #[error("{what} {rule}, got {value}")]
    Config {
        /// The setting.
        what: &'static str,
        /// The rule it broke.
        rule: &'static str,
        /// The value given.
        value: String,
    },
    /// The trigger detector refused its settings.
    #[error("trigger detector: {0}")]
    Trigger(#[from] ncs_dsp::DspError),
}

impl From<AudioError> for SourceError {
    fn from(e: AudioError) -> Self {
        SourceError::Failed(e.to_string())
    }
}
