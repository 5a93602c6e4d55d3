//! Markers and measures of one evoked response on one sweep.
mod types;
pub use types::{Flag, Flags, Measures, Response};
