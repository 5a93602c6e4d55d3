//! Typed errors of the NWB reader and writer.

use std::path::PathBuf;

/// Everything that can go wrong reading or writing an NWB session.
///
/// Each variant names the file and, where it applies, the HDF5 object, and its message states
/// the rule that was broken.
#[derive(Debug, thiserror::Error)]
pub enum NwbError {
    /// The file does not exist.
    #[error("file {} does not exist", .path.display())]
    NotFound {
        /// File asked for.
        path: PathBuf,
    },
    /// The file exists but could not be read or created at the OS level.
    #[error("cannot access {}: {source}", .path.display())]
    Io {
        /// File concerned.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// The file carries no HDF5 signature.
    #[error("{} is not an HDF5 file: no HDF5 signature at offset 0, 512, 1024, ...", .path.display())]
    NotHdf5 {
        /// File concerned.
        path: PathBuf,
    },
    /// The file has an HDF5 signature but the library cannot open it (truncated or damaged).
    #[error("{} has an HDF5 signature but cannot be opened (truncated or damaged file, {len} bytes): {detail}", .path.display())]
    Truncated {
        /// File concerned.
        path: PathBuf,
        /// File length in bytes.
        len: u64,
        /// What HDF5 said.
        detail: String,
    },
    /// The file is HDF5 but not an NWB 2 file.
    #[error("{} is not an NWB 2 file: {rule}", .path.display())]
    NotNwb {
        /// File concerned.
        path: PathBuf,
        /// The rule broken (which attribute is missing or wrong).
        rule: String,
    },
    /// `/acquisition` holds no usable series.
    #[error("{}: no acquisition series: /acquisition must hold a TimeSeries or ElectricalSeries with a `data` dataset", .path.display())]
    NoAcquisition {
        /// File concerned.
        path: PathBuf,
    },
    /// Several series and no name given.
    #[error("{}: /acquisition holds several series ({}); name the one to read", .path.display(), .names.join(", "))]
    AmbiguousSeries {
        /// File concerned.
        path: PathBuf,
        /// Series found.
        names: Vec<String>,
    },
    /// The named series does not exist.
    #[error("{}: no acquisition series named {name:?}; the file has: {}", .path.display(), .available.join(", "))]
    UnknownSeries {
        /// File concerned.
        path: PathBuf,
        /// Name asked for.
        name: String,
        /// Series found.
        available: Vec<String>,
    },
    /// Data is neither (samples) nor (samples, channels).
    #[error("{}:{object}: data must be shaped (samples) or (samples, channels), got shape {shape:?}", .path.display())]
    WrongDimensions {
        /// File concerned.
        path: PathBuf,
        /// HDF5 path of the dataset.
        object: String,
        /// Shape found.
        shape: Vec<usize>,
    },
    /// Stored type not among the supported sample types.
    #[error("{}:{object}: data type must be int16, int32, float32 or float64, got {dtype}", .path.display())]
    UnsupportedDtype {
        /// File concerned.
        path: PathBuf,
        /// HDF5 path of the dataset.
        object: String,
        /// Type found.
        dtype: String,
    },
    /// No `starting_time`+`rate` and no `timestamps`.
    #[error("{}:{object}: timing must be given by `starting_time` with a `rate` attribute or by `timestamps`", .path.display())]
    MissingTiming {
        /// File concerned.
        path: PathBuf,
        /// HDF5 path of the series.
        object: String,
    },
    /// The sample rate is not a positive finite number.
    #[error("{}:{object}: sample rate must be finite and > 0, got {rate}", .path.display())]
    InvalidRate {
        /// File concerned.
        path: PathBuf,
        /// HDF5 path of the rate's holder.
        object: String,
        /// Rate found (Hz).
        rate: f64,
    },
    /// Timestamps are not regularly spaced.
    #[error("{}:{object}: timestamps must be regular: timestamp {index} ({prev} -> {next} s) is more than half a step from t0 + {index} × {step} s (a gap, a repeat or a jump in the clock)", .path.display())]
    IrregularTimestamps {
        /// File concerned.
        path: PathBuf,
        /// HDF5 path of the timestamps.
        object: String,
        /// First index whose timestamp breaks regularity.
        index: usize,
        /// Timestamp before it.
        prev: f64,
        /// The offending timestamp.
        next: f64,
        /// Reference step (s).
        step: f64,
    },
    /// A channel index is outside `0..channels`.
    #[error("{}:{object}: channel index must be < {channels}, got {channel}", .path.display())]
    ChannelOutOfRange {
        /// File concerned.
        path: PathBuf,
        /// Where the index came from (dataset, or table row).
        object: String,
        /// Index asked for.
        channel: i64,
        /// Channels in the series.
        channels: usize,
    },
    /// A frame range goes beyond the series.
    #[error("{}:{object}: frames {start}..{end} out of range: the series has {n_samples} samples", .path.display())]
    RangeOutOfBounds {
        /// File concerned.
        path: PathBuf,
        /// HDF5 path of the dataset.
        object: String,
        /// First frame asked for.
        start: u64,
        /// One past the last frame asked for.
        end: u64,
        /// Frames in the series.
        n_samples: u64,
    },
    /// Caller's output buffer is too short.
    #[error("output buffer must hold at least {needed} values, got {got}")]
    BufferTooSmall {
        /// Values needed.
        needed: usize,
        /// Buffer length.
        got: usize,
    },
    /// A sample is NaN or infinite.
    #[error("{}:{object}: samples must be finite, sample {sample} channel {channel} is {value}", .path.display())]
    NonFinite {
        /// File concerned.
        path: PathBuf,
        /// HDF5 path of the dataset.
        object: String,
        /// Frame index.
        sample: u64,
        /// Channel index.
        channel: usize,
        /// Value found.
        value: f64,
    },
    /// A stimulus lies outside the recording.
    #[error("{}:{object} row {row}: stimulus time must lie within the recording [{start_s}, {end_s}] s, got {time_s} s", .path.display())]
    StimulusOutsideRecording {
        /// File concerned.
        path: PathBuf,
        /// HDF5 path of the table.
        object: String,
        /// Row index.
        row: usize,
        /// Stimulus time (s).
        time_s: f64,
        /// Recording start (s).
        start_s: f64,
        /// Recording end (s).
        end_s: f64,
    },
    /// Any other broken rule in a stored object (column lengths, unknown value, missing part).
    #[error("{}:{object}: {rule}", .path.display())]
    Invalid {
        /// File concerned.
        path: PathBuf,
        /// HDF5 path of the object.
        object: String,
        /// The rule broken, with the value found.
        rule: String,
    },
    /// The HDF5 library failed on an object.
    #[error("{}:{object}: HDF5 error: {source}", .path.display())]
    Hdf5 {
        /// File concerned.
        path: PathBuf,
        /// HDF5 path of the object.
        object: String,
        /// Library error.
        source: hdf5::Error,
    },
    /// Writer metadata breaks a rule.
    #[error("session metadata: {field} {rule}, got {value}")]
    InvalidMeta {
        /// Field concerned.
        field: String,
        /// The rule broken.
        rule: String,
        /// Value found.
        value: String,
    },
    /// Writer input breaks a rule (unknown table, wrong row, partial frame...).
    #[error("{what}: {rule}")]
    InvalidInput {
        /// What was being written.
        what: String,
        /// The rule broken, with the value found.
        rule: String,
    },
}

/// Result alias of this crate.
pub type Result<T, E = NwbError> = std::result::Result<T, E>;
