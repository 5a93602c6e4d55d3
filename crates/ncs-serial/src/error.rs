//! Errors of the serial sources.

use ncs_runtime::SourceError;

/// Why a serial source could not open, configure or go on.
#[derive(Debug, thiserror::Error)]
pub enum SerialError {
    /// A port description that cannot be parsed.
    #[error("serial port spec {spec:?} {rule}")]
    Spec {
        /// The text given.
        spec: String,
        /// The rule it broke.
        rule: &'static str,
    },
    /// No port with this USB vendor/product id is present.
    #[error("no serial port with USB id {vid:04x}:{pid:04x} (see `ncs devices`)")]
    NoUsbDevice {
        /// Vendor id.
        vid: u16,
        /// Product id.
        pid: u16,
    },
    /// The port could not be opened or listed.
    #[error("serial port {port}: {source}")]
    Open {
        /// Path of the port.
        port: String,
        /// The cause.
        source: serialport::Error,
    },
    /// Reading or writing the port failed.
    #[error("serial port {port}: {source}")]
    Io {
        /// Path of the port.
        port: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The device did not answer a command in time.
    #[error("serial port {port}: {command} must be answered within {timeout_ms} ms ({attempts} attempts), got no answer")]
    Timeout {
        /// Path of the port.
        port: String,
        /// The command.
        command: &'static str,
        /// Time allowed per attempt.
        timeout_ms: u64,
        /// Attempts made.
        attempts: u32,
    },
    /// The device refused a command.
    #[error("serial port {port}: device refused {command} ({code}, detail {detail})")]
    Refused {
        /// Path of the port.
        port: String,
        /// The command.
        command: &'static str,
        /// The Nack code.
        code: String,
        /// The Nack detail (e.g. the rejected value).
        detail: u32,
    },
    /// The device answered with something else than the command calls for.
    #[error("serial port {port}: {command} must be answered by {expected}, got {got}")]
    Unexpected {
        /// Path of the port.
        port: String,
        /// The command.
        command: &'static str,
        /// The answer expected.
        expected: &'static str,
        /// The answer received.
        got: String,
    },
    /// After a reconnection the device describes a different stream.
    #[error("serial port {port}: {what} must not change across a reconnection, was {before}, now {after}")]
    DeviceChanged {
        /// Path of the port.
        port: String,
        /// The property.
        what: &'static str,
        /// Value before.
        before: String,
        /// Value now.
        after: String,
    },
    /// The device went away and did not come back.
    #[error("serial port {port}: device gone, not back after {waited_ms} ms")]
    Gone {
        /// Path of the port.
        port: String,
        /// How long the source tried.
        waited_ms: u64,
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
    /// A third-party format's configuration was refused.
    #[error("amplifier format: {0}")]
    Format(#[from] firmware_bridge::ConfigError),
}

impl From<SerialError> for SourceError {
    fn from(e: SerialError) -> Self {
        SourceError::Failed(e.to_string())
    }
}
