#![doc = include_str!("../README.md")]

pub mod latency;
pub mod pipeline;
pub mod processor;
pub mod recorder;
mod ring;
pub mod source;
pub mod sources;

pub use latency::{LatencyHistogram, StageLatency};
pub use pipeline::{
    run, stop_on_ctrl_c, Analyzer, CollectMeasurements, DroppedEvents, Event, Finished, GapReason,
    GapRecord, Hooks, NoAnalysis, NoOutput, Output, Overflow, PipelineConfig, PipelineError,
    Progress, Role, Stage, Summary, SweepTrace, TxStats, TRACE_POINTS,
};
pub use processor::{
    Detection, MarkersMs, Measurement, MeasurementSink, Processor, ProcessorConfig, ProcessorError,
    ProcessorStats, RejectOutcome, RejectRequest, Rejection,
};
pub use recorder::{Finisher, Recorder, RecorderCommand, RecorderReport};
pub use source::{
    FireRequest, ReadOutcome, Source, SourceError, SourceInfo, StimulusMark, StimulusTag,
};
pub use sources::{MemorySource, Pace, SessionSource, SimSource};
