#![doc = include_str!("../README.md")]

pub mod capture;
mod devices;
mod error;
mod source;

pub use capture::{capture_ring, AudioStats, CaptureReader, CaptureWriter, LiveStats, Popped};
pub use cpal::SampleFormat;
pub use devices::{list_inputs, InputInfo, StreamSummary};
pub use error::AudioError;
pub use ncs_dsp::Edge;
pub use source::{
    AudioConfig, AudioSource, TriggerSettings, AUDIO_OPTIONS, DEFAULT_VOLTS_FULL_SCALE,
};
