#![doc = include_str!("../README.md")]
// `deny`, not `forbid`: the streaming filter's run-time choice of vector width (`lanes.rs`)
// needs one `unsafe` call and argues it there; nothing else in the crate may use `unsafe`.
#![deny(unsafe_code)]

pub mod artefact;
pub mod design;
pub mod error;
pub mod filter;
pub mod filtfilt;
mod lanes;
pub mod mains;
pub mod sweep;
pub mod trigger;

pub use artefact::{ArtefactConfig, ArtefactDetector, ArtefactState};
pub use design::{FilterSpec, Section};
pub use error::DspError;
pub use filter::{Cascade, CascadeConfig, CascadeState, Sample};
pub use filtfilt::{sosfilt_zi, ZeroPhase};
pub use mains::{MainsAnalyzer, MainsConfig, MainsReport};
pub use sweep::{Suppression, Sweep, SweepConfig, SweepExtractor};
pub use trigger::{Edge, TriggerConfig, TriggerDetector, TriggerState};
