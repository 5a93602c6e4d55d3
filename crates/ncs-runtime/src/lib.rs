//! The ncs live pipeline: sample sources, the stimulus-locked processor shared by offline and
//! live analysis, and (in `pipeline`) the threads, ring buffer and latency accounting.

pub mod processor;
pub mod source;

pub use processor::{
    Detection, MarkersMs, Measurement, MeasurementSink, Processor, ProcessorConfig, ProcessorError,
    ProcessorStats,
};
pub use source::{ReadOutcome, Source, SourceError, SourceInfo, StimulusMark, StimulusTag};
