//! Writing a session while it is acquired: frames, stimuli and gaps as the processing thread
//! forwards them, one row per measurement, and the latency summary at the end.
//!
//! The recorder runs on its own thread and may block on the disk; it is fed through a ring
//! whose overflow is recorded as a gap (reason `recorder ring overflow`), so a slow disk never
//! stalls the processing thread.

use ncs_block::Modality;
use ncs_io::{ColumnSpec, ColumnType, SessionWriter, TableSpec, Value};

use crate::processor::Measurement;
use crate::source::{SourceInfo, StimulusMark, StimulusTag};

/// Turns one measurement (and its stimulus, when known) into a table row.
pub type RowFn = Box<dyn FnMut(&Measurement, Option<&StimulusTag>) -> Vec<Value> + Send>;

/// Name of the default measurement table under `/processing/ncs`.
pub const RESPONSES_TABLE: &str = "live_responses";

/// Name of the text (in `/processing/ncs`) holding the latency summary as JSON.
pub const LATENCY_TEXT: &str = "latency";

/// Name of the text holding the pipeline summary as JSON.
pub const SUMMARY_TEXT: &str = "pipeline_summary";

/// Writes what is only known once the pipeline has drained (segment verdicts, for one) into
/// the session just before it is closed, on the recorder thread.
pub type Finisher = Box<dyn FnOnce(&mut SessionWriter) -> Result<(), ncs_io::NwbError> + Send>;

/// What another thread (the analysis, following the examiner) asks the recorder to write.
#[derive(Debug, Clone, PartialEq)]
pub enum RecorderCommand {
    /// A row of a table declared in the writer's `SessionMeta::tables`.
    Row {
        /// Table name.
        table: String,
        /// One value per column.
        values: Vec<Value>,
    },
    /// The distance from a site to the active electrode, entered during the study: applies
    /// to the stimuli of that site already written and to those to come.
    SiteDistance {
        /// Nerve.
        nerve: String,
        /// Side.
        side: String,
        /// Site.
        site: String,
        /// Distance (mm).
        distance_mm: f64,
    },
    /// A named text (set again: the last one wins).
    Text {
        /// Name.
        name: String,
        /// Text.
        text: String,
    },
}

/// A session being recorded by the pipeline.
pub struct Recorder {
    pub(crate) writer: SessionWriter,
    pub(crate) table: Option<(String, RowFn)>,
    pub(crate) finisher: Option<Finisher>,
    pub(crate) commands: Option<crossbeam_channel::Receiver<RecorderCommand>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("path", &self.writer.path())
            .field("table", &self.table.as_ref().map(|t| &t.0))
            .finish()
    }
}

impl Recorder {
    /// Records into `writer` (frames, stimuli, gaps, texts), without a measurement table.
    pub fn new(writer: SessionWriter) -> Self {
        Recorder {
            writer,
            table: None,
            finisher: None,
            commands: None,
        }
    }

    /// Also writes what arrives on `commands` (examiner actions, distances) as it arrives,
    /// so that a killed recording keeps it up to its last flush.
    pub fn with_commands(mut self, commands: crossbeam_channel::Receiver<RecorderCommand>) -> Self {
        self.commands = Some(commands);
        self
    }

    /// Runs `f` on the writer after every thread has drained (the analysis included) and
    /// before the file is closed.
    pub fn with_finisher(mut self, f: Finisher) -> Self {
        self.finisher = Some(f);
        self
    }

    /// Also writes one row per measurement to `table` (declared in the writer's
    /// `SessionMeta::tables`), built by `row`.
    pub fn with_measurements(mut self, table: &str, row: RowFn) -> Self {
        self.table = Some((table.to_owned(), row));
        self
    }

    /// Writes measurements to [`RESPONSES_TABLE`] with [`responses_row`] (declare
    /// [`responses_table_spec`] in the writer's metadata).
    pub fn with_default_measurements(self) -> Self {
        self.with_measurements(RESPONSES_TABLE, Box::new(responses_row))
    }
}

/// The columns of [`RESPONSES_TABLE`].
pub fn responses_table_spec() -> TableSpec {
    let f = |n: &str, d: &str| ColumnSpec::new(n, d, ColumnType::F64);
    let i = |n: &str, d: &str| ColumnSpec::new(n, d, ColumnType::I64);
    TableSpec::new(
        RESPONSES_TABLE,
        "responses measured live, one row per stimulus (NaN: no value)",
        vec![
            i("seq", "order of the stimulus in the stream"),
            i("sample_index", "stimulus frame"),
            f(
                "stimulus_time_s",
                "stimulus instant on the session clock (s)",
            ),
            i("tag", "row of /intervals/stimuli, -1 if unknown"),
            i("channel", "channel measured"),
            ColumnSpec::new("modality", "motor or sensory", ColumnType::Str),
            ColumnSpec::new("present", "response found", ColumnType::Bool),
            f("onset_latency_ms", "onset latency (ms)"),
            f("negative_peak_latency_ms", "negative peak latency (ms)"),
            f("negative_peak_amplitude_mv", "negative peak amplitude (mV)"),
            f("peak_to_peak_amplitude_mv", "peak-to-peak amplitude (mV)"),
            f("negative_peak_area_mv_ms", "negative peak area (mV ms)"),
            f("negative_peak_duration_ms", "negative peak duration (ms)"),
            f("total_duration_ms", "total duration (ms)"),
            i("averaged_sweeps", "sweeps in the average measured"),
            ColumnSpec::new("flags", "quality flags, comma-separated", ColumnType::Str),
        ],
    )
}

/// The row of [`RESPONSES_TABLE`] for one measurement.
pub fn responses_row(m: &Measurement, _tag: Option<&StimulusTag>) -> Vec<Value> {
    let x = m.response.measures;
    let f = |v: Option<f64>| Value::F64(v.unwrap_or(f64::NAN));
    let flags: Vec<&str> = m.response.flags.iter().map(|f| f.name()).collect();
    vec![
        Value::I64(m.seq as i64),
        Value::I64(m.sample_index as i64),
        Value::F64(m.stimulus_time_s),
        Value::I64(m.tag.map_or(-1, i64::from)),
        Value::I64(m.channel as i64),
        Value::Str(
            match m.modality {
                Modality::Motor => "motor",
                Modality::Sensory => "sensory",
            }
            .to_owned(),
        ),
        Value::Bool(m.response.present),
        f(x.onset_latency_ms),
        f(x.negative_peak_latency_ms),
        f(x.negative_peak_amplitude_mv),
        f(x.peak_to_peak_amplitude_mv),
        f(x.negative_peak_area_mv_ms),
        f(x.negative_peak_duration_ms),
        f(x.total_duration_ms),
        Value::I64(m.averaged_sweeps as i64),
        Value::Str(flags.join(",")),
    ]
}

/// Session metadata for recording `info`: its rate and channel names, the default
/// measurement table, SWMR and a flush every second.
pub fn session_meta(info: &SourceInfo, identifier: &str, start_time: &str) -> ncs_io::SessionMeta {
    let names: Vec<&str> = info.channel_names.iter().map(String::as_str).collect();
    let mut meta = ncs_io::SessionMeta::new(
        identifier,
        &info.description,
        start_time,
        info.sample_rate_hz,
        &names,
    );
    meta.tables.push(responses_table_spec());
    meta
}

/// The stimulus row recorded for a mark.
/// The session-clock time of frame `sample_index`, computed as the processor computes a
/// measurement's stimulus time (so that the two compare equal).
pub(crate) fn stimulus_time_s(info: &SourceInfo, sample_index: u64) -> f64 {
    info.starting_time_s + sample_index as f64 / info.sample_rate_hz
}

pub(crate) fn stimulus_row(
    info: &SourceInfo,
    mark: &StimulusMark,
    tag: Option<&StimulusTag>,
) -> ncs_io::Stimulus {
    let t = tag.cloned().unwrap_or_default();
    ncs_io::Stimulus {
        time_s: stimulus_time_s(info, mark.sample_index),
        nerve: t.nerve,
        side: t.side,
        site: t.site,
        modality: t.modality.map(|m| match m {
            Modality::Motor => ncs_io::Modality::Motor,
            Modality::Sensory => ncs_io::Modality::Sensory,
        }),
        distance_mm: t.distance_mm,
        channel: t.channel.filter(|&c| c < info.channels),
        intensity_ma: mark.intensity_ma().or(t.intensity_ma),
    }
}

/// What the recorder did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RecorderReport {
    /// File written.
    pub path: String,
    /// Frames in the file (placeholders for gaps included).
    pub frames: u64,
    /// Stimuli written.
    pub stimuli: u64,
    /// Gaps written.
    pub gaps: u64,
    /// Measurement rows written.
    pub rows: u64,
    /// The first write error; the recorder stops writing after it but keeps draining.
    pub error: Option<String>,
}
