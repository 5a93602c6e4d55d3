#![doc = include_str!("../README.md")]

mod baseline;
mod config;
mod error;
mod measure;
mod numeric;
pub mod saturation;
mod sensory;
mod sweep;
mod types;

pub use config::{MainsModel, MeasureConfig, Measurer, Polarity, MAX_MAINS_HARMONICS};
pub use error::Error;
pub use measure::{Detail, Markers, Scratch};
pub use sensory::Averager;
pub use sweep::{SweepView, MIN_BASELINE_SAMPLES, MIN_WINDOW_SAMPLES};
pub use types::{Flag, Flags, Measures, Response};
