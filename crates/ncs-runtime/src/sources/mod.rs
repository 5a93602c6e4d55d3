//! Sources that plug into the pipeline: the simulated amplifier, a recorded session replayed,
//! and samples held in memory.

mod memory;
mod session;
mod sim;

pub use memory::MemorySource;
pub use session::SessionSource;
pub use sim::SimSource;

use std::time::{Duration, Instant};

/// How fast a source that could go faster delivers its samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// `speed` × real time (1.0 = as the amplifier would).
    RealTime {
        /// Acceleration factor (> 0).
        speed: f64,
    },
    /// As fast as the pipeline takes them.
    Max,
}

impl Pace {
    /// Real time.
    pub const REAL_TIME: Pace = Pace::RealTime { speed: 1.0 };

    /// Parses `max` or a positive factor (`1`, `4`, `0.5`).
    pub fn parse(s: &str) -> Result<Pace, String> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Pace::Max);
        }
        match s.parse::<f64>() {
            Ok(speed) if speed.is_finite() && speed > 0.0 => Ok(Pace::RealTime { speed }),
            _ => Err(format!(
                "speed must be `max` or a number > 0 (1 = real time), got {s:?}"
            )),
        }
    }

    /// Whether the source waits for the clock.
    pub fn is_paced(self) -> bool {
        matches!(self, Pace::RealTime { .. })
    }
}

/// Keeps a stream on the wall clock: frame `n` is due `n / rate / speed` after the first read,
/// like an amplifier that hands over a block once its last sample has been converted.
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    pace: Pace,
    rate_hz: f64,
    start: Option<(Instant, u64)>,
}

/// Longest a paced read waits, so that a shutdown request is noticed (see [`crate::Source`]).
pub(crate) const MAX_READ_WAIT: Duration = Duration::from_millis(50);

impl Pacer {
    pub(crate) fn new(pace: Pace, rate_hz: f64) -> Self {
        Pacer {
            pace,
            rate_hz,
            start: None,
        }
    }

    /// Most frames one read may deliver so that it waits at most [`MAX_READ_WAIT`].
    pub(crate) fn max_frames(&self) -> usize {
        match self.pace {
            Pace::RealTime { speed } => {
                ((MAX_READ_WAIT.as_secs_f64() * self.rate_hz * speed) as usize).max(1)
            }
            Pace::Max => usize::MAX,
        }
    }

    /// Waits until frame `end` (exclusive) is due.
    pub(crate) fn wait_until(&mut self, first: u64, end: u64) {
        let Pace::RealTime { speed } = self.pace else {
            return;
        };
        let (t0, f0) = *self.start.get_or_insert((Instant::now(), first));
        let due = t0 + Duration::from_secs_f64((end - f0) as f64 / self.rate_hz / speed);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
    }
}
