//! Plain data types shared by the reader and the writer.

use std::time::Duration;

/// Type of one column of an ncs table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// 64-bit float.
    F64,
    /// 64-bit signed integer.
    I64,
    /// Boolean (stored as HDF5's bool enum, as h5py does).
    Bool,
    /// Variable-length UTF-8 string.
    Str,
}

/// A named, described column of a table spec.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSpec {
    /// Column name (no `/`).
    pub name: String,
    /// What the column holds (NWB requires a description on every column).
    pub description: String,
    /// Stored type.
    pub ty: ColumnType,
}

impl ColumnSpec {
    /// A column spec.
    pub fn new(name: &str, description: &str, ty: ColumnType) -> Self {
        Self {
            name: name.to_owned(),
            description: description.to_owned(),
            ty,
        }
    }
}

/// A table written under `/processing/ncs`, appended row by row.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    /// Table name (no `/`; `ncs_text` and `data_loss` are reserved).
    pub name: String,
    /// What the table holds.
    pub description: String,
    /// Columns in order.
    pub columns: Vec<ColumnSpec>,
}

impl TableSpec {
    /// A table spec.
    pub fn new(name: &str, description: &str, columns: Vec<ColumnSpec>) -> Self {
        Self {
            name: name.to_owned(),
            description: description.to_owned(),
            columns,
        }
    }
}

/// One cell value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// For [`ColumnType::F64`].
    F64(f64),
    /// For [`ColumnType::I64`].
    I64(i64),
    /// For [`ColumnType::Bool`].
    Bool(bool),
    /// For [`ColumnType::Str`].
    Str(String),
}

impl Value {
    /// The column type this value fits.
    pub fn ty(&self) -> ColumnType {
        match self {
            Value::F64(_) => ColumnType::F64,
            Value::I64(_) => ColumnType::I64,
            Value::Bool(_) => ColumnType::Bool,
            Value::Str(_) => ColumnType::Str,
        }
    }
}

/// Values of one column read back.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// Floats.
    F64(Vec<f64>),
    /// Integers.
    I64(Vec<i64>),
    /// Booleans.
    Bool(Vec<bool>),
    /// Strings.
    Str(Vec<String>),
}

impl ColumnData {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::F64(v) => v.len(),
            ColumnData::I64(v) => v.len(),
            ColumnData::Bool(v) => v.len(),
            ColumnData::Str(v) => v.len(),
        }
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Cell `row` as a [`Value`].
    pub fn get(&self, row: usize) -> Option<Value> {
        match self {
            ColumnData::F64(v) => v.get(row).map(|x| Value::F64(*x)),
            ColumnData::I64(v) => v.get(row).map(|x| Value::I64(*x)),
            ColumnData::Bool(v) => v.get(row).map(|x| Value::Bool(*x)),
            ColumnData::Str(v) => v.get(row).map(|x| Value::Str(x.clone())),
        }
    }
}

/// A column read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Column description.
    pub description: String,
    /// Values.
    pub data: ColumnData,
}

/// A DynamicTable read back, columns in `colnames` order.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Table name.
    pub name: String,
    /// Table description.
    pub description: String,
    /// Columns in order.
    pub columns: Vec<Column>,
}

impl Table {
    /// Column named `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Number of rows (length of the `id` column).
    pub fn n_rows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.data.len())
    }
}

/// Stimulus modality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modality {
    /// Motor nerve conduction (recording over a muscle).
    Motor,
    /// Sensory nerve conduction.
    Sensory,
}

impl Modality {
    /// Stored text: `motor` or `sensory`.
    pub fn as_str(self) -> &'static str {
        match self {
            Modality::Motor => "motor",
            Modality::Sensory => "sensory",
        }
    }

    /// Parses `motor` / `sensory` (case-insensitive, surrounding blanks ignored).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "motor" => Some(Modality::Motor),
            "sensory" => Some(Modality::Sensory),
            _ => None,
        }
    }
}

/// One stimulus: a row of `/intervals/stimuli`.
///
/// Absent values are `None`. On disk the writer stores an absent string as `""`, an absent
/// number as NaN and an absent channel as -1; the reader maps these back to `None`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stimulus {
    /// Stimulus instant, seconds on the session clock (`start_time`).
    pub time_s: f64,
    /// Nerve stimulated (e.g. `median`).
    pub nerve: Option<String>,
    /// `left` / `right`.
    pub side: Option<String>,
    /// Stimulation site (e.g. `wrist`).
    pub site: Option<String>,
    /// Motor or sensory.
    pub modality: Option<Modality>,
    /// Distance from the site to the active recording electrode, mm.
    pub distance_mm: Option<f64>,
    /// Column of the acquisition data that records the response.
    pub channel: Option<usize>,
    /// Stimulus intensity, mA.
    pub intensity_ma: Option<f64>,
}

/// The stimuli table read back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StimulusTable {
    /// Rows in file order.
    pub rows: Vec<Stimulus>,
    /// Human-readable notes on what was missing and what a caller should assume
    /// (e.g. "no `channel` column: channel 0 assumed").
    pub assumptions: Vec<String>,
}

/// A stretch of samples lost while recording (`/processing/ncs/data_loss`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// First lost frame, counted on the session's sample clock.
    pub first_sample: u64,
    /// Frames lost.
    pub sample_count: u64,
    /// Why (e.g. "serial overrun").
    pub reason: String,
}

/// How samples are stored in `/acquisition/<series>/data`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SampleStorage {
    /// float32 volts (`conversion` = 1).
    F32,
    /// int16 counts; volts = counts × `conversion`.
    I16 {
        /// Volts per count.
        conversion: f64,
    },
    /// int32 counts; volts = counts × `conversion`.
    I32 {
        /// Volts per count.
        conversion: f64,
    },
}

/// The subject (`/general/subject`, required by nwbinspector).
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    /// Pseudonymous subject id.
    pub subject_id: String,
    /// Latin binomial, e.g. `Homo sapiens`.
    pub species: String,
    /// `M`, `F`, `U` or `O`.
    pub sex: String,
    /// ISO-8601 duration, e.g. `P45Y`.
    pub age: Option<String>,
}

impl Default for Subject {
    fn default() -> Self {
        Self {
            subject_id: "anonymous".to_owned(),
            species: "Homo sapiens".to_owned(),
            sex: "U".to_owned(),
            age: None,
        }
    }
}

/// Everything fixed when a recording starts.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionMeta {
    /// Unique session identifier.
    pub identifier: String,
    /// Free-text description.
    pub description: String,
    /// Session start, ISO-8601 with a UTC offset (`2024-05-01T09:30:00+02:00` or `...Z`).
    pub start_time: String,
    /// Sample rate, Hz.
    pub sample_rate_hz: f64,
    /// One name per channel; their number is the channel count.
    pub channel_names: Vec<String>,
    /// Stored sample type.
    pub storage: SampleStorage,
    /// Name of the ElectricalSeries under `/acquisition` (default `EMG`).
    pub series_name: String,
    /// Where the electrodes sit (e.g. `abductor pollicis brevis`).
    pub electrode_location: String,
    /// The subject.
    pub subject: Subject,
    /// Tables created under `/processing/ncs`.
    pub tables: Vec<TableSpec>,
    /// Frames per HDF5 chunk (and per write while recording).
    pub chunk_frames: usize,
    /// Flush automatically from `append_*` when this much time passed since the last flush.
    pub flush_interval: Option<Duration>,
    /// Open the file for single-writer/multiple-reader access after creating it.
    pub swmr: bool,
}

impl SessionMeta {
    /// Metadata with defaults: float32 storage, series `EMG`, no extra tables,
    /// 4096-frame chunks, automatic flush every second, SWMR on.
    pub fn new(
        identifier: &str,
        description: &str,
        start_time: &str,
        sample_rate_hz: f64,
        channel_names: &[&str],
    ) -> Self {
        Self {
            identifier: identifier.to_owned(),
            description: description.to_owned(),
            start_time: start_time.to_owned(),
            sample_rate_hz,
            channel_names: channel_names.iter().map(|s| (*s).to_owned()).collect(),
            storage: SampleStorage::F32,
            series_name: "EMG".to_owned(),
            electrode_location: "unknown".to_owned(),
            subject: Subject::default(),
            tables: Vec::new(),
            chunk_frames: 4096,
            flush_interval: Some(Duration::from_secs(1)),
            swmr: true,
        }
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.channel_names.len()
    }
}
