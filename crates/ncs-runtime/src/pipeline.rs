//! The live pipeline: threads, rings, bounded channels, shutdown and statistics.
//!
//! ```text
//! acquisition ──ring──▶ processing ──ring──────────────▶ recorder (frames, stimuli, gaps)
//!   Source::read         Processor::push  ──bounded──▶ recorder (measurement rows)
//!                                         ──bounded──▶ analysis (block detector) ──┐
//!                                         ──bounded──▶ output ◀──────bounded───────┘
//! ```
//!
//! Real-time rules:
//! - The acquisition and processing threads allocate nothing and take no lock after start
//!   (everything is sized before; the ring, `try_send` on bounded array channels and the
//!   histograms do not allocate). A test proves it with a counting allocator.
//! - The acquisition thread never waits under [`Overflow::Drop`]: a block that does not fit
//!   in the ring is dropped and becomes a gap with exact sample indices, which the processing
//!   thread turns into `Processor::gap` (the sweeps it overlaps are flagged `DataGap`), forwards
//!   to the recorder (the session's data-loss table) and lists in the [`Summary`].
//! - The processing thread never blocks on a consumer: measurements and progress go out with
//!   `try_send`; when a channel is full the event is dropped and counted in
//!   [`Summary::dropped_events`] (channels hold thousands of events, so this means the consumer
//!   is stuck). Frames for the recorder go through a second ring whose overflow is a recorded
//!   gap of reason [`GapReason::RecorderOverflow`].
//! - Memory is bounded whatever the session length: rings and channels are fixed, the gap list
//!   keeps the first [`MAX_LISTED_GAPS`] and counts the rest.
//!
//! Shutdown: when the source ends or the stop flag is set (Ctrl-C), the acquisition thread
//! sends an end record; each thread drains what is queued and ends; the recorder writes the
//! latency and pipeline summaries and closes the file.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use ringbuf::traits::{Consumer, Producer, Split};
use ringbuf::{HeapProd, HeapRb};
use serde::Serialize;

use crate::latency::{LatencyHistogram, StageLatency};
use crate::processor::{
    Measurement, Processor, ProcessorConfig, ProcessorError, ProcessorStats, RejectRequest,
    Rejection,
};
use crate::recorder::{stimulus_row, Recorder, RecorderReport, LATENCY_TEXT, SUMMARY_TEXT};
use crate::ring::{block_ring, BlockRx, BlockTx, Popped, RingSize};
use crate::source::{ReadOutcome, Source, SourceInfo, StimulusMark, StimulusTag};

pub use crate::ring::{GapReason, GapRecord, Overflow, TxStats};

/// Gaps listed in the summary; further ones are only counted.
pub const MAX_LISTED_GAPS: usize = 1024;

/// Pipeline settings.
#[derive(Clone)]
pub struct PipelineConfig {
    /// Stimulus-locked processing.
    pub processor: ProcessorConfig,
    /// Frames asked from the source per read (≤ `processor.max_block_frames`).
    pub block_frames: usize,
    /// Capacity of the acquisition → processing ring (frames).
    pub ring_frames: usize,
    /// Capacity of the processing → recorder ring (frames).
    pub recorder_ring_frames: usize,
    /// Stimulus marks one read may deliver, and marks one gap may carry.
    pub max_marks: usize,
    /// What the acquisition thread does when the ring is full.
    pub overflow: Overflow,
    /// Capacity of each bounded channel (events).
    pub channel_capacity: usize,
    /// How long the processing thread waits (parked) when the ring is empty. The acquisition
    /// thread wakes it as soon as it has pushed a block, so this only bounds the wait when a
    /// wake-up is missed.
    pub idle_sleep: Duration,
    /// How often a progress event is sent to the output.
    pub progress_interval: Duration,
    /// Test and instrumentation hooks.
    pub hooks: Option<Arc<dyn Hooks>>,
    /// Send every measured sweep, thinned to a [`SweepTrace`], to the output
    /// ([`Output::on_trace`]), for a display.
    pub traces: bool,
}

impl std::fmt::Debug for PipelineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineConfig")
            .field("block_frames", &self.block_frames)
            .field("ring_frames", &self.ring_frames)
            .field("recorder_ring_frames", &self.recorder_ring_frames)
            .field("overflow", &self.overflow)
            .field("channel_capacity", &self.channel_capacity)
            .finish_non_exhaustive()
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            processor: ProcessorConfig::default(),
            block_frames: 256,
            ring_frames: 1 << 17,
            recorder_ring_frames: 1 << 18,
            max_marks: 64,
            overflow: Overflow::Drop,
            channel_capacity: 4096,
            idle_sleep: Duration::from_millis(2),
            progress_interval: Duration::from_millis(250),
            hooks: None,
            traces: false,
        }
    }
}

/// The threads the hooks are called on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Reads the source.
    Acquisition,
    /// Runs the processor.
    Processing,
}

/// Instrumentation called on the real-time threads. Implementations must not allocate or lock
/// (they run inside the allocation-free region).
pub trait Hooks: Send + Sync {
    /// First thing the thread does once everything is allocated.
    fn started(&self, _role: Role) {}
    /// Last thing the thread does before it drains and reports.
    fn stopping(&self, _role: Role) {}
    /// Called on the processing thread before each block is processed (a test can stall
    /// here to make the ring overflow).
    fn before_block(&self, _first_sample: u64) {}
}

/// The block detector side: turns measurements into verdict updates. Runs on its own thread;
/// may allocate.
pub trait Analyzer: Send + 'static {
    /// What one measurement changed (e.g. a segment verdict).
    type Update: Send + 'static;
    /// Takes one measurement (in stimulus order) and appends what it changed to `updates`.
    fn on_measurement(&mut self, m: &Measurement, updates: &mut Vec<Self::Update>);
    /// The processor carried out (or refused) a rejection this analyzer asked for.
    fn on_rejection(&mut self, _r: &Rejection, _updates: &mut Vec<Self::Update>) {}
    /// Called when no measurement is waiting, at least every few milliseconds: time for
    /// work that does not wait for a measurement (the examiner's commands, the stimulator's
    /// schedule).
    fn on_idle(&mut self, _updates: &mut Vec<Self::Update>) {}
    /// A request for the processing thread, taken after every call above.
    fn next_request(&mut self) -> Option<RejectRequest> {
        None
    }
}

/// An analyzer that does nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAnalysis;

impl Analyzer for NoAnalysis {
    type Update = ();
    fn on_measurement(&mut self, _m: &Measurement, _updates: &mut Vec<()>) {}
}

/// Progress of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Progress {
    /// Frames processed (lost ones included).
    pub frames: u64,
    /// Stream time reached (s).
    pub stream_s: f64,
    /// Wall time since start (s).
    pub wall_s: f64,
    /// Measurements emitted.
    pub measurements: u64,
    /// Frames lost so far.
    pub lost_frames: u64,
    /// Fill of the acquisition ring (0..1).
    pub ring_fill: f64,
}

/// What the output thread receives.
// Boxing the measurement would allocate on the processing thread; the channel's slots are
// preallocated at this size instead.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Event<U> {
    /// A measurement left the processing thread; `latency` is from the arrival of the block
    /// completing its sweep window (`None` for sweeps reported at a gap or at the end).
    Measurement {
        /// The measurement.
        m: Measurement,
        /// Sweep complete → measurement emitted.
        latency: Option<Duration>,
    },
    /// The analyzer updated a verdict.
    Update {
        /// The update.
        update: U,
        /// Sweep complete → verdict updated.
        latency: Option<Duration>,
    },
    /// Samples were lost.
    Gap(GapRecord),
    /// A measured sweep was rejected (or the rejection refused).
    Rejected(Rejection),
    /// Periodic progress.
    Progress(Progress),
}

/// Terminal or JSON output; runs on its own thread.
pub trait Output<U>: Send + 'static {
    /// One event.
    fn on_event(&mut self, event: &Event<U>);
    /// A measured sweep for display ([`PipelineConfig::traces`]); it comes before its
    /// measurement's event.
    fn on_trace(&mut self, _trace: &SweepTrace) {}
}

/// Points in a [`SweepTrace`].
pub const TRACE_POINTS: usize = 480;

/// Traces waiting for the output thread; more are dropped (a display shows the latest).
const TRACE_QUEUE: usize = 16;

/// A measured sweep thinned for display: each point is the sample of largest magnitude in its
/// bin, so that peaks survive; millivolts about the pre-stimulus mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepTrace {
    /// [`Measurement::seq`] of the sweep.
    pub seq: u64,
    /// Points used.
    pub points: usize,
    /// Time of point 0 from the stimulus (ms, negative: before it).
    pub first_ms: f64,
    /// Time between points (ms).
    pub ms_per_point: f64,
    /// The points (mV).
    pub mv: [f32; TRACE_POINTS],
}

impl SweepTrace {
    fn thin(seq: u64, x: &[f64], pre: usize, fs: f64) -> SweepTrace {
        let n = x.len().max(1);
        let bin = n.div_ceil(TRACE_POINTS);
        let points = n.div_ceil(bin);
        let base = if pre > 0 {
            x[..pre.min(x.len())].iter().sum::<f64>() / pre.min(x.len()) as f64
        } else {
            0.0
        };
        let mut mv = [0.0f32; TRACE_POINTS];
        for (k, chunk) in x.chunks(bin).enumerate().take(TRACE_POINTS) {
            let v =
                chunk
                    .iter()
                    .map(|v| v - base)
                    .fold(0.0f64, |a, v| if v.abs() > a.abs() { v } else { a });
            mv[k] = (v * 1e3) as f32;
        }
        let ms = 1e3 / fs;
        SweepTrace {
            seq,
            points,
            first_ms: -(pre as f64) * ms + 0.5 * (bin - 1) as f64 * ms,
            ms_per_point: bin as f64 * ms,
            mv,
        }
    }
}

/// An output that discards everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoOutput;

impl<U> Output<U> for NoOutput {
    fn on_event(&mut self, _event: &Event<U>) {}
}

/// An output that keeps every measurement (tests, benchmarks).
#[derive(Debug, Default, Clone)]
pub struct CollectMeasurements {
    /// Measurements in arrival order.
    pub measurements: Vec<Measurement>,
    /// Gaps reported.
    pub gaps: Vec<GapRecord>,
    /// Sweep traces received ([`PipelineConfig::traces`]).
    pub traces: Vec<SweepTrace>,
}

impl<U> Output<U> for CollectMeasurements {
    fn on_event(&mut self, event: &Event<U>) {
        match event {
            Event::Measurement { m, .. } => self.measurements.push(*m),
            Event::Gap(g) => self.gaps.push(*g),
            _ => {}
        }
    }

    fn on_trace(&mut self, trace: &SweepTrace) {
        self.traces.push(*trace);
    }
}

/// Events dropped because a consumer's channel was full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DroppedEvents {
    /// Measurements the analyzer never saw.
    pub analysis: u64,
    /// Events the output never saw.
    pub output: u64,
    /// Measurement rows the recorder never saw.
    pub recorder: u64,
    /// Measurements lost on the processing thread itself: more sweeps completed in one block
    /// than its buffer holds (4096; a block that long would have to hold thousands of
    /// stimuli).
    pub processing: u64,
}

/// Latency stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Block arrival → processing starts (queueing in the ring).
    Queue,
    /// Processing one block (`Processor::push`).
    Block,
    /// Processing one block that completed at least one sweep (the measurement's own cost).
    SweepBlock,
    /// Last sample of a sweep window arrived → measurement left the processing thread.
    Measurement,
    /// Last sample of a sweep window arrived → the verdict was updated.
    Verdict,
    /// The analyzer's work on one measurement.
    Analysis,
}

impl Stage {
    /// Stable name.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Queue => "queue (arrival→processing)",
            Stage::Block => "process block",
            Stage::SweepBlock => "process block with sweep",
            Stage::Measurement => "sweep→measurement",
            Stage::Verdict => "sweep→verdict",
            Stage::Analysis => "analysis per response",
        }
    }
}

/// The end-of-run report.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// What was read.
    pub source: String,
    /// Sample rate (Hz).
    pub sample_rate_hz: f64,
    /// Channels per frame.
    pub channels: usize,
    /// Frames processed, lost ones included (the stream's length).
    pub frames: u64,
    /// Stream length (s).
    pub stream_s: f64,
    /// Wall time of the run (s).
    pub wall_s: f64,
    /// Whether the stop flag ended the run (Ctrl-C).
    pub stopped: bool,
    /// The acquisition → processing ring.
    pub acquisition: TxStats,
    /// The processing → recorder ring, when recording.
    pub recorder_ring: Option<TxStats>,
    /// The processor's counters.
    pub processor: ProcessorStats,
    /// Every gap (up to [`MAX_LISTED_GAPS`]), exact sample indices.
    pub gaps: Vec<GapRecord>,
    /// Gaps beyond the listed ones.
    pub unlisted_gaps: u64,
    /// Measurements emitted.
    pub measurements: u64,
    /// Of which flagged `DataGap` (not measured).
    pub incomplete: u64,
    /// Events dropped at full channels.
    pub dropped_events: DroppedEvents,
    /// Latency per stage.
    pub latency: Vec<StageLatency>,
    /// CPU time of the processing thread (s), when the OS tells it.
    pub processing_cpu_s: Option<f64>,
    /// CPU time of the processing thread over the wall time (%).
    pub processing_cpu_pct: Option<f64>,
    /// Channel-samples per second of wall time.
    pub throughput_channel_samples_per_s: f64,
    /// The source's failure, if it failed.
    pub source_error: Option<String>,
    /// The recorder's report, when recording.
    pub recorder: Option<RecorderReport>,
}

impl Summary {
    /// Frames lost in total.
    pub fn lost_frames(&self) -> u64 {
        self.processor.lost_frames
    }

    /// The latency summary of a stage.
    pub fn stage(&self, stage: Stage) -> Option<&StageLatency> {
        self.latency.iter().find(|s| s.stage == stage.name())
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "source: {}", self.source)?;
        writeln!(
            f,
            "{} frames × {} channels at {} Hz: {:.1} s of signal in {:.1} s{}",
            self.frames,
            self.channels,
            self.sample_rate_hz,
            self.stream_s,
            self.wall_s,
            if self.stopped { " (stopped)" } else { "" }
        )?;
        writeln!(
            f,
            "throughput {:.1} M channel-samples/s; processing thread CPU {}",
            self.throughput_channel_samples_per_s / 1e6,
            self.processing_cpu_pct
                .map_or_else(|| "unknown".to_owned(), |p| format!("{p:.1} %"))
        )?;
        writeln!(
            f,
            "stimuli {}, measured {}, flagged incomplete {}",
            self.processor.stimuli, self.processor.measured, self.incomplete
        )?;
        if self.gaps.is_empty() {
            writeln!(f, "data loss: none")?;
        } else {
            writeln!(
                f,
                "data loss: {} frames in {} gap(s)",
                self.lost_frames(),
                self.gaps.len() as u64 + self.unlisted_gaps
            )?;
            for g in &self.gaps {
                writeln!(
                    f,
                    "  frames {}..{} ({} frames): {}",
                    g.first_sample,
                    g.first_sample + g.count,
                    g.count,
                    g.reason.as_str()
                )?;
            }
        }
        let d = self.dropped_events;
        if d.analysis + d.output + d.recorder + d.processing > 0 {
            writeln!(
                f,
                "events dropped at full channels: analysis {}, output {}, recorder {}, processing {}",
                d.analysis, d.output, d.recorder, d.processing
            )?;
        }
        writeln!(f, "latency:")?;
        for s in &self.latency {
            writeln!(f, "  {s}")?;
        }
        if let Some(e) = &self.source_error {
            writeln!(f, "source failed: {e}")?;
        }
        if let Some(r) = &self.recorder {
            writeln!(
                f,
                "recorded {} frames, {} stimuli, {} gap(s), {} rows to {}",
                r.frames, r.stimuli, r.gaps, r.rows, r.path
            )?;
            if let Some(e) = &r.error {
                writeln!(f, "recorder failed: {e}")?;
            }
        }
        Ok(())
    }
}

/// The pipeline could not start.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The processing settings were refused.
    #[error(transparent)]
    Processor(#[from] ProcessorError),
    /// A size setting is out of range.
    #[error("pipeline setting `{name}` must be {rule}, got {value}")]
    Setting {
        /// Setting name.
        name: &'static str,
        /// The rule.
        rule: &'static str,
        /// The bad value.
        value: usize,
    },
    /// A thread could not be started or panicked.
    #[error("pipeline thread {0}")]
    Thread(String),
}

/// What a finished run hands back.
#[derive(Debug)]
pub struct Finished<A, O> {
    /// The report.
    pub summary: Summary,
    /// The analyzer, with everything it learnt.
    pub analyzer: A,
    /// The output.
    pub output: O,
}

/// Installs a Ctrl-C handler that sets `stop` (once per process; a second call fails).
pub fn stop_on_ctrl_c(stop: Arc<AtomicBool>) -> Result<(), String> {
    ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
        .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))
}

/// CPU time of the calling thread (s), from the kernel's scheduler statistics.
pub fn thread_cpu_time_s() -> Option<f64> {
    // schedstat's first field is the time on CPU in ns; stat's utime+stime are in clock ticks
    // (10 ms), too coarse for a thread using a few percent of a core.
    if let Ok(s) = std::fs::read_to_string("/proc/thread-self/schedstat") {
        if let Some(ns) = s
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
        {
            return Some(ns as f64 / 1e9);
        }
    }
    let s = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

// Boxing the measurement would allocate on the processing thread; channel slots are
// preallocated at this size instead.
#[allow(clippy::large_enum_variant)]
enum MeasEvent {
    Measurement {
        m: Measurement,
        arrival: Option<Instant>,
    },
    Rejected(Rejection),
}

#[allow(clippy::large_enum_variant)]
enum RecMsg {
    Measurement(Measurement),
    Rejected(Rejection),
}

struct ProcReport {
    processor: ProcessorStats,
    gaps: Vec<GapRecord>,
    unlisted_gaps: u64,
    measurements: u64,
    incomplete: u64,
    dropped: DroppedEvents,
    queue: LatencyHistogram,
    block: LatencyHistogram,
    sweep_block: LatencyHistogram,
    measurement: LatencyHistogram,
    cpu_s: Option<f64>,
    recorder_ring: Option<TxStats>,
}

struct AcqReport {
    stats: TxStats,
    stopped: bool,
    error: Option<String>,
}

fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, PipelineError> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .map_err(|e| PipelineError::Thread(format!("{name} could not start: {e}")))
}

fn join<T>(name: &str, h: JoinHandle<T>) -> Result<T, PipelineError> {
    h.join()
        .map_err(|_| PipelineError::Thread(format!("{name} panicked")))
}

/// Runs `source` through the whole pipeline until it ends or `stop` is set; returns the
/// summary with the analyzer and output.
pub fn run<S, A, O>(
    source: S,
    config: PipelineConfig,
    analyzer: A,
    output: O,
    recorder: Option<Recorder>,
    stop: Arc<AtomicBool>,
) -> Result<Finished<A, O>, PipelineError>
where
    S: Source + 'static,
    A: Analyzer,
    O: Output<A::Update>,
{
    let info = source.info().clone();
    let tags: Vec<StimulusTag> = source.tags().to_vec();
    let ch = info.channels;
    let setting = |name, rule, value, ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(PipelineError::Setting { name, rule, value })
        }
    };
    setting(
        "block_frames",
        "> 0",
        config.block_frames,
        config.block_frames > 0,
    )?;
    setting(
        "block_frames",
        "<= processor.max_block_frames",
        config.block_frames,
        config.block_frames <= config.processor.max_block_frames,
    )?;
    setting(
        "ring_frames",
        ">= 2 × block_frames",
        config.ring_frames,
        config.ring_frames >= 2 * config.block_frames,
    )?;
    setting(
        "recorder_ring_frames",
        ">= 2 × block_frames",
        config.recorder_ring_frames,
        config.recorder_ring_frames >= 2 * config.block_frames,
    )?;
    setting("max_marks", "> 0", config.max_marks, config.max_marks > 0)?;
    setting(
        "channel_capacity",
        "> 0",
        config.channel_capacity,
        config.channel_capacity > 0,
    )?;
    let processor = Processor::new(config.processor.clone(), &info, tags.clone())?;

    let blocks_in_ring = config.ring_frames / config.block_frames + 2;
    let ring = RingSize {
        samples: config.ring_frames * ch,
        records: blocks_in_ring * 2,
        marks: config.max_marks * 4 + blocks_in_ring,
    };
    let (acq_tx, proc_rx) = block_ring(&ring, GapReason::RingOverflow);
    let rec_blocks = config.recorder_ring_frames / config.block_frames + 2;
    let rec_ring = RingSize {
        samples: config.recorder_ring_frames * ch,
        records: rec_blocks * 2,
        marks: config.max_marks * 4 + rec_blocks,
    };
    let (rec_tx, rec_rx) = if recorder.is_some() {
        let (t, r) = block_ring(&rec_ring, GapReason::RecorderOverflow);
        (Some(t), Some(r))
    } else {
        (None, None)
    };

    let cap = config.channel_capacity;
    let (out_tx, out_rx) = bounded::<Event<A::Update>>(cap);
    let (ana_tx, ana_rx) = bounded::<MeasEvent>(cap);
    let (recm_tx, recm_rx) = bounded::<RecMsg>(cap);
    let (req_tx, req_rx) = bounded::<RejectRequest>(64);
    let (fin_tx, fin_rx) = bounded::<(String, String)>(1);

    let started = Instant::now();

    // Output.
    let (trace_tx, mut trace_rx) = if config.traces {
        let (t, r) = HeapRb::<SweepTrace>::new(TRACE_QUEUE).split();
        (Some(t), Some(r))
    } else {
        (None, None)
    };
    let out_thread = spawn("ncs-output", move || {
        let mut output = output;
        // Consumers poll and park rather than block in `recv`: a blocked receiver registers
        // with the channel, and the sender then takes the channel's waker lock to wake it;
        // parked, the processing thread wakes it with `unpark` (lock-free), so its `try_send`
        // never locks. Traces first: a sweep's trace is queued before its measurement's event.
        let mut traces = |output: &mut O| {
            if let Some(r) = &mut trace_rx {
                while let Some(t) = r.try_pop() {
                    output.on_trace(&t);
                }
            }
        };
        loop {
            match out_rx.try_recv() {
                Ok(ev) => {
                    traces(&mut output);
                    output.on_event(&ev);
                }
                Err(crossbeam_channel::TryRecvError::Empty) => {
                    traces(&mut output);
                    std::thread::park_timeout(OUTPUT_POLL);
                }
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    traces(&mut output);
                    break;
                }
            }
        }
        output
    })?;

    // Analysis.
    let out_tx_a = out_tx.clone();
    let out_wake = out_thread.thread().clone();
    let out_wake_a = out_wake.clone();
    let ana_thread = spawn("ncs-analysis", move || {
        let mut analyzer = analyzer;
        let mut verdict = LatencyHistogram::new();
        let mut work = LatencyHistogram::new();
        let mut updates = Vec::new();
        let mut dropped = 0u64;
        loop {
            let ev = match ana_rx.try_recv() {
                Ok(ev) => Some(ev),
                Err(crossbeam_channel::TryRecvError::Empty) => None,
                Err(crossbeam_channel::TryRecvError::Disconnected) => break,
            };
            let latency = match ev {
                Some(MeasEvent::Measurement { m, arrival }) => {
                    let t0 = Instant::now();
                    analyzer.on_measurement(&m, &mut updates);
                    let t1 = Instant::now();
                    work.record(t1 - t0);
                    let latency = arrival.map(|a| t1.saturating_duration_since(a));
                    if let Some(l) = latency {
                        verdict.record(l);
                    }
                    latency
                }
                Some(MeasEvent::Rejected(r)) => {
                    analyzer.on_rejection(&r, &mut updates);
                    None
                }
                None => {
                    analyzer.on_idle(&mut updates);
                    None
                }
            };
            while let Some(r) = analyzer.next_request() {
                // A full request channel means the processing thread is not running; the
                // request is dropped and the analyzer hears of no outcome.
                let _ = req_tx.try_send(r);
            }
            let any = !updates.is_empty();
            for update in updates.drain(..) {
                if out_tx_a
                    .try_send(Event::Update { update, latency })
                    .is_err()
                {
                    dropped += 1;
                }
            }
            if any {
                out_wake_a.unpark();
            }
            if ev.is_none() {
                std::thread::park_timeout(ANALYSIS_POLL);
            }
        }
        (analyzer, verdict, work, dropped)
    })?;

    // Recorder.
    let rec_thread = match (recorder, rec_rx) {
        (Some(rec), Some(rx)) => {
            let info = info.clone();
            let tags = tags.clone();
            let max_marks = config.max_marks * 4 + rec_blocks;
            let block = config.block_frames;
            Some(spawn("ncs-recorder", move || {
                record(rec, rx, recm_rx, fin_rx, &info, &tags, block, max_marks)
            })?)
        }
        _ => {
            drop(recm_rx);
            drop(fin_rx);
            None
        }
    };

    // Processing.
    let hooks = config.hooks.clone();
    let proc_cfg = ProcCtx {
        channels: ch,
        block_frames: config.block_frames,
        max_marks: ring.marks,
        fs: info.sample_rate_hz,
        overflow: config.overflow,
        idle_sleep: config.idle_sleep,
        progress_interval: config.progress_interval,
        ring_samples: ring.samples,
        started,
    };
    let wake = Wake {
        analysis: ana_thread.thread().clone(),
        output: out_wake,
    };
    let proc_thread = spawn("ncs-processing", move || {
        process(
            processor, proc_rx, rec_tx, out_tx, ana_tx, recm_tx, req_rx, trace_tx, wake, hooks,
            proc_cfg,
        )
    })?;

    // Acquisition.
    let hooks = config.hooks.clone();
    let stop_a = stop.clone();
    let block = config.block_frames;
    let max_marks = config.max_marks;
    let overflow = config.overflow;
    let wake = proc_thread.thread().clone();
    let acq_thread = spawn("ncs-acquisition", move || {
        acquire(
            source, acq_tx, block, max_marks, overflow, hooks, &stop_a, &wake,
        )
    })?;

    let acq = join("ncs-acquisition", acq_thread)?;
    let proc = join("ncs-processing", proc_thread)?;
    let (analyzer, verdict, work, dropped_updates) = join("ncs-analysis", ana_thread)?;
    let output = join("ncs-output", out_thread)?;
    let wall_s = started.elapsed().as_secs_f64();

    let latency = vec![
        proc.queue.summary(Stage::Queue.name()),
        proc.block.summary(Stage::Block.name()),
        proc.sweep_block.summary(Stage::SweepBlock.name()),
        proc.measurement.summary(Stage::Measurement.name()),
        verdict.summary(Stage::Verdict.name()),
        work.summary(Stage::Analysis.name()),
    ];
    let frames = proc.processor.frames + proc.processor.lost_frames;
    let mut dropped = proc.dropped;
    dropped.output += dropped_updates;
    let mut summary = Summary {
        source: info.description.clone(),
        sample_rate_hz: info.sample_rate_hz,
        channels: ch,
        frames,
        stream_s: frames as f64 / info.sample_rate_hz,
        wall_s,
        stopped: acq.stopped,
        acquisition: acq.stats,
        recorder_ring: proc.recorder_ring,
        processor: proc.processor,
        gaps: proc.gaps,
        unlisted_gaps: proc.unlisted_gaps,
        measurements: proc.measurements,
        incomplete: proc.incomplete,
        dropped_events: dropped,
        latency,
        processing_cpu_s: proc.cpu_s,
        processing_cpu_pct: proc.cpu_s.map(|c| 100.0 * c / wall_s.max(1e-9)),
        throughput_channel_samples_per_s: (proc.processor.frames * ch as u64) as f64
            / wall_s.max(1e-9),
        source_error: acq.error,
        recorder: None,
    };
    if let Some(h) = rec_thread {
        let latency_json = serde_json::to_string(&summary.latency).unwrap_or_default();
        let summary_json = serde_json::to_string(&summary).unwrap_or_default();
        let _ = fin_tx.send((latency_json, summary_json));
        summary.recorder = Some(join("ncs-recorder", h)?);
    }
    Ok(Finished {
        summary,
        analyzer,
        output,
    })
}

#[allow(clippy::too_many_arguments)]
fn acquire<S: Source>(
    mut source: S,
    mut tx: BlockTx,
    block: usize,
    max_marks: usize,
    overflow: Overflow,
    hooks: Option<Arc<dyn Hooks>>,
    stop: &AtomicBool,
    processing: &std::thread::Thread,
) -> AcqReport {
    let ch = source.info().channels;
    let mut buf = vec![0.0f32; block * ch];
    let mut marks: Vec<StimulusMark> = Vec::with_capacity(max_marks);
    let mut error = None;
    let mut stopped = false;
    if let Some(h) = &hooks {
        h.started(Role::Acquisition);
    }
    loop {
        if stop.load(Ordering::Relaxed) {
            stopped = true;
            break;
        }
        marks.clear();
        match source.read(&mut buf, &mut marks) {
            Ok(ReadOutcome::Frames {
                first_sample,
                frames,
            }) => {
                let arrival = Instant::now();
                let frames = frames.min(block);
                tx.send(
                    first_sample,
                    ch,
                    &buf[..frames * ch],
                    &marks,
                    arrival,
                    overflow,
                );
                // Wakes the processing thread if it is parked (an atomic swap, and a futex
                // wake only then): no lock, no allocation, and no polling latency.
                processing.unpark();
            }
            Ok(ReadOutcome::Lost {
                first_sample,
                count,
            }) => tx.lose(first_sample, count, GapReason::SourceLoss, &marks),
            Ok(ReadOutcome::End) => break,
            Err(e) => {
                if let Some(h) = &hooks {
                    h.stopping(Role::Acquisition);
                }
                error = Some(e.to_string());
                tx.finish();
                processing.unpark();
                return AcqReport {
                    stats: tx.stats,
                    stopped,
                    error,
                };
            }
        }
    }
    if let Some(h) = &hooks {
        h.stopping(Role::Acquisition);
    }
    tx.finish();
    processing.unpark();
    let _ = &mut error;
    AcqReport {
        stats: tx.stats,
        stopped,
        error,
    }
}

struct ProcCtx {
    channels: usize,
    block_frames: usize,
    max_marks: usize,
    fs: f64,
    overflow: Overflow,
    idle_sleep: Duration,
    progress_interval: Duration,
    ring_samples: usize,
    started: Instant,
}

/// Where the processor's measurements go on the processing thread: a preallocated buffer
/// (and, for a display, a ring of thinned sweeps).
struct Collect {
    buf: Vec<Measurement>,
    overflow: u64,
    traces: Option<HeapProd<SweepTrace>>,
    fs: f64,
}

impl crate::processor::MeasurementSink for Collect {
    fn on_measurement(&mut self, m: &Measurement) {
        if self.buf.len() < self.buf.capacity() {
            self.buf.push(*m);
        } else {
            self.overflow += 1;
        }
    }

    fn on_sweep(&mut self, seq: u64, samples: &[f64], pre: usize) {
        if let Some(t) = &mut self.traces {
            // A full ring means the display is behind: it shows the latest it has.
            let _ = t.try_push(SweepTrace::thin(seq, samples, pre, self.fs));
        }
    }
}

/// Consumer threads to unpark after sending them something.
struct Wake {
    analysis: std::thread::Thread,
    output: std::thread::Thread,
}

/// Sends measurements to the consumers without blocking or allocating.
struct Emitter<U> {
    wake: Wake,
    ana: Sender<MeasEvent>,
    out: Sender<Event<U>>,
    recm: Sender<RecMsg>,
    recording: bool,
    measurements: u64,
    incomplete: u64,
    dropped: DroppedEvents,
    latency: LatencyHistogram,
}

impl<U> Emitter<U> {
    fn rejected(&mut self, r: Rejection) {
        if let Err(TrySendError::Full(_)) = self.ana.try_send(MeasEvent::Rejected(r)) {
            self.dropped.analysis += 1;
        }
        if let Err(TrySendError::Full(_)) = self.out.try_send(Event::Rejected(r)) {
            self.dropped.output += 1;
        }
        if self.recording {
            if let Err(TrySendError::Full(_)) = self.recm.try_send(RecMsg::Rejected(r)) {
                self.dropped.recorder += 1;
            }
        }
        self.wake.analysis.unpark();
        self.wake.output.unpark();
    }

    fn emit(&mut self, sink: &mut Collect, arrival: Option<Instant>) {
        if sink.buf.is_empty() {
            return;
        }
        let now = Instant::now();
        for m in sink.buf.drain(..) {
            let latency = arrival.map(|a| now.saturating_duration_since(a));
            if let Some(l) = latency {
                self.latency.record(l);
            }
            self.measurements += 1;
            if m.response.flags.contains(ncs_cmap::Flag::DataGap) {
                self.incomplete += 1;
            }
            if let Err(TrySendError::Full(_)) =
                self.ana.try_send(MeasEvent::Measurement { m, arrival })
            {
                self.dropped.analysis += 1;
            }
            if let Err(TrySendError::Full(_)) = self.out.try_send(Event::Measurement { m, latency })
            {
                self.dropped.output += 1;
            }
            if self.recording {
                if let Err(TrySendError::Full(_)) = self.recm.try_send(RecMsg::Measurement(m)) {
                    self.dropped.recorder += 1;
                }
            }
        }
        self.wake.analysis.unpark();
        self.wake.output.unpark();
    }
}

#[allow(clippy::too_many_arguments)]
fn process<U: Send + 'static>(
    mut processor: Processor,
    mut rx: BlockRx,
    mut rec: Option<BlockTx>,
    out: Sender<Event<U>>,
    ana: Sender<MeasEvent>,
    recm: Sender<RecMsg>,
    requests: Receiver<RejectRequest>,
    traces: Option<HeapProd<SweepTrace>>,
    wake: Wake,
    hooks: Option<Arc<dyn Hooks>>,
    ctx: ProcCtx,
) -> ProcReport {
    let ch = ctx.channels;
    let mut frames = vec![0.0f32; ctx.block_frames * ch];
    let mut marks: Vec<StimulusMark> = Vec::with_capacity(ctx.max_marks);
    let mut sink = Collect {
        buf: Vec::with_capacity(4096),
        overflow: 0,
        traces,
        fs: ctx.fs,
    };
    let mut gaps: Vec<GapRecord> = Vec::with_capacity(MAX_LISTED_GAPS);
    let mut unlisted_gaps = 0u64;
    let mut queue = LatencyHistogram::new();
    let mut block = LatencyHistogram::new();
    let mut sweep_block = LatencyHistogram::new();
    let mut em = Emitter {
        wake,
        ana,
        out: out.clone(),
        recm,
        recording: rec.is_some(),
        measurements: 0,
        incomplete: 0,
        dropped: DroppedEvents::default(),
        latency: LatencyHistogram::new(),
    };
    let mut last_progress = Instant::now();
    let cpu0 = thread_cpu_time_s();
    if let Some(h) = &hooks {
        h.started(Role::Processing);
    }
    let mut ended = false;
    while !ended {
        // The examiner's rejections, in the order asked, between blocks.
        while let Ok(r) = requests.try_recv() {
            em.rejected(processor.reject(&r));
        }
        let Some(popped) = rx.pop(&mut frames, ch, &mut marks) else {
            if !rx.producer_alive() {
                // The acquisition thread died without an end record.
                processor.finish(&mut sink);
                em.emit(&mut sink, None);
                break;
            }
            std::thread::park_timeout(ctx.idle_sleep);
            continue;
        };
        match popped {
            Popped::Frames {
                first,
                frames: n,
                arrival,
            } => {
                if let Some(h) = &hooks {
                    h.before_block(first);
                }
                let t0 = Instant::now();
                queue.record(t0.saturating_duration_since(arrival));
                let data = &frames[..n * ch];
                processor.push(first, data, &marks, &mut sink);
                let dt = t0.elapsed();
                block.record(dt);
                if !sink.buf.is_empty() {
                    sweep_block.record(dt);
                }
                // Measurements first: the recorder is the one consumer that may wait.
                em.emit(&mut sink, Some(arrival));
                if let Some(r) = &mut rec {
                    r.send(first, ch, data, &marks, arrival, ctx.overflow);
                }
            }
            Popped::Gap(g) => {
                processor.gap(g.first_sample, g.count);
                // The stimuli that fell in the gap: reported (flagged), not forgotten.
                processor.push(g.first_sample + g.count, &[], &marks, &mut sink);
                em.emit(&mut sink, None);
                if gaps.len() < gaps.capacity() {
                    gaps.push(g);
                } else {
                    unlisted_gaps += 1;
                }
                if let Err(TrySendError::Full(_)) = out.try_send(Event::Gap(g)) {
                    em.dropped.output += 1;
                }
                if let Some(r) = &mut rec {
                    r.lose(g.first_sample, g.count, g.reason, &marks);
                }
            }
            Popped::End => {
                processor.finish(&mut sink);
                em.emit(&mut sink, None);
                ended = true;
            }
        }
        if last_progress.elapsed() >= ctx.progress_interval || ended {
            last_progress = Instant::now();
            let st = processor.stats();
            let f = st.frames + st.lost_frames;
            let p = Progress {
                frames: f,
                stream_s: f as f64 / ctx.fs,
                wall_s: ctx.started.elapsed().as_secs_f64(),
                measurements: em.measurements,
                lost_frames: st.lost_frames,
                ring_fill: rx.occupied_samples() as f64 / ctx.ring_samples.max(1) as f64,
            };
            let _ = out.try_send(Event::Progress(p));
        }
    }
    if let Some(h) = &hooks {
        h.stopping(Role::Processing);
    }
    let cpu_s = match (cpu0, thread_cpu_time_s()) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    if let Some(r) = &mut rec {
        r.finish();
    }
    ProcReport {
        processor: processor.stats(),
        gaps,
        unlisted_gaps,
        measurements: em.measurements,
        incomplete: em.incomplete,
        dropped: DroppedEvents {
            processing: sink.overflow,
            ..em.dropped
        },
        queue,
        block,
        sweep_block,
        measurement: em.latency,
        cpu_s,
        recorder_ring: rec.map(|r| r.stats),
    }
}

#[allow(clippy::too_many_arguments)]
fn record(
    rec: Recorder,
    mut rx: BlockRx,
    recm: Receiver<RecMsg>,
    fin: Receiver<(String, String)>,
    info: &SourceInfo,
    tags: &[StimulusTag],
    block: usize,
    max_marks: usize,
) -> RecorderReport {
    let Recorder {
        mut writer,
        mut table,
        finisher,
        commands,
    } = rec;
    let ch = info.channels;
    let mut report = RecorderReport {
        path: writer.path().display().to_string(),
        ..RecorderReport::default()
    };
    let mut frames = vec![0.0f32; block * ch];
    let zeros = vec![0.0f32; block * ch];
    let mut marks: Vec<StimulusMark> = Vec::with_capacity(max_marks);
    let mut error: Option<String> = None;
    let mut frames_done = false;
    let mut rows_done = false;
    let mut last_flush = Instant::now();
    while !(frames_done && rows_done) {
        let mut busy = false;
        if !frames_done {
            while let Some(p) = rx.pop(&mut frames, ch, &mut marks) {
                busy = true;
                let ok = error.is_none();
                match p {
                    Popped::Frames { frames: n, .. } => {
                        if ok {
                            if let Err(e) = writer.append_frames(&frames[..n * ch]) {
                                fail(e, &mut error);
                            }
                        }
                        report.frames += n as u64;
                    }
                    Popped::Gap(g) => {
                        // Placeholders keep row = sample index; the gap table says they are
                        // not data (a replay reports them lost again).
                        let mut left = g.count as usize;
                        while left > 0 && error.is_none() {
                            let k = left.min(block);
                            if let Err(e) = writer.append_frames(&zeros[..k * ch]) {
                                fail(e, &mut error);
                            }
                            left -= k;
                        }
                        report.frames += g.count;
                        if error.is_none() {
                            let gap = ncs_io::Gap {
                                first_sample: g.first_sample,
                                sample_count: g.count,
                                reason: g.reason.as_str().to_owned(),
                            };
                            if let Err(e) = writer.append_gap(&gap) {
                                fail(e, &mut error);
                            }
                        }
                        report.gaps += 1;
                    }
                    Popped::End => frames_done = true,
                }
                for m in &marks {
                    if error.is_none() {
                        let tag = m.tag.and_then(|t| tags.get(t as usize));
                        let st = stimulus_row(info, m, tag);
                        if let Err(e) = writer.append_stimulus(&st) {
                            fail(e, &mut error);
                        }
                    }
                    report.stimuli += 1;
                }
                if frames_done {
                    break;
                }
            }
            if !frames_done && !rx.producer_alive() && rx_is_empty(&rx) {
                frames_done = true;
            }
        }
        loop {
            match recm.try_recv() {
                Ok(RecMsg::Rejected(r)) => {
                    busy = true;
                    if error.is_none() && r.outcome == crate::processor::RejectOutcome::Rejected {
                        let t = crate::recorder::stimulus_time_s(info, r.sample_index);
                        if let Err(e) = writer.reject_stimulus(t) {
                            fail(e, &mut error);
                        }
                    }
                }
                Ok(RecMsg::Measurement(m)) => {
                    busy = true;
                    if let Some((name, row)) = &mut table {
                        if error.is_none() {
                            let tag = m.tag.and_then(|t| tags.get(t as usize));
                            let values = row(&m, tag);
                            if let Err(e) = writer.append_row(name, &values) {
                                fail(e, &mut error);
                            }
                        }
                        report.rows += 1;
                    }
                }
                Err(crossbeam_channel::TryRecvError::Empty) => break,
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    rows_done = true;
                    break;
                }
            }
        }
        if let Some(c) = &commands {
            busy |= apply_commands(c, &mut writer, &mut error);
        }
        if last_flush.elapsed() >= Duration::from_secs(1) {
            last_flush = Instant::now();
            if error.is_none() {
                if let Err(e) = writer.flush() {
                    fail(e, &mut error);
                }
            }
        }
        if !busy {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    // The only blocking receive: the recorder is not on the sample path.
    let fin = fin.recv();
    // The analysis thread has ended by now: what it asked for is all queued.
    if let Some(c) = &commands {
        apply_commands(c, &mut writer, &mut error);
    }
    if let Ok((latency, summary)) = fin {
        if error.is_none() {
            for (k, v) in [(LATENCY_TEXT, latency), (SUMMARY_TEXT, summary)] {
                if let Err(e) = writer.set_text(k, &v) {
                    fail(e, &mut error);
                }
            }
        }
    }
    if let Some(f) = finisher {
        if error.is_none() {
            if let Err(e) = f(&mut writer) {
                fail(e, &mut error);
            }
        }
    }
    match writer.finish() {
        Ok(n) => report.frames = n,
        Err(e) => fail(e, &mut error),
    }
    report.error = error;
    report
}

/// Longest the analysis thread stays parked without a wake-up.
const ANALYSIS_POLL: Duration = Duration::from_millis(5);
/// Longest the output thread stays parked without a wake-up.
const OUTPUT_POLL: Duration = Duration::from_millis(20);

/// Writes every queued [`RecorderCommand`]; returns whether there was any.
fn apply_commands(
    c: &Receiver<crate::recorder::RecorderCommand>,
    writer: &mut ncs_io::SessionWriter,
    error: &mut Option<String>,
) -> bool {
    use crate::recorder::RecorderCommand;
    let mut any = false;
    while let Ok(cmd) = c.try_recv() {
        any = true;
        if error.is_some() {
            continue;
        }
        let r = match &cmd {
            RecorderCommand::Row { table, values } => writer.append_row(table, values),
            RecorderCommand::SiteDistance {
                nerve,
                side,
                site,
                distance_mm,
            } => writer
                .set_site_distance(nerve, side, site, *distance_mm)
                .map(|_| ()),
            RecorderCommand::Text { name, text } => writer.set_text(name, text),
        };
        if let Err(e) = r {
            fail(e, error);
        }
    }
    any
}

fn fail(e: ncs_io::NwbError, error: &mut Option<String>) {
    if error.is_none() {
        *error = Some(e.to_string());
    }
}

fn rx_is_empty(rx: &BlockRx) -> bool {
    rx.occupied_records() == 0
}
