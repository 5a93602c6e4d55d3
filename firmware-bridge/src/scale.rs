//! Counts to volts for third-party formats, and the errors of their configurations.

/// Maps counts to volts at the electrodes: `volts = (count - offset_counts) × volts_per_count`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// Volts per count (gain already divided out).
    pub volts_per_count: f64,
    /// Count that means 0 V.
    pub offset_counts: f64,
}

impl Scale {
    /// Checks both numbers are finite and `volts_per_count` is > 0.
    pub fn new(volts_per_count: f64, offset_counts: f64) -> Result<Self, ConfigError> {
        if !(volts_per_count.is_finite() && volts_per_count > 0.0) {
            return Err(ConfigError::VoltsPerCount {
                got: volts_per_count,
            });
        }
        if !offset_counts.is_finite() {
            return Err(ConfigError::Offset { got: offset_counts });
        }
        Ok(Self {
            volts_per_count,
            offset_counts,
        })
    }

    /// Volts for one count.
    #[inline]
    pub fn to_volts(&self, count: i32) -> f64 {
        (f64::from(count) - self.offset_counts) * self.volts_per_count
    }
}

/// A third-party format configuration was rejected.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// Channel count out of range.
    #[error("channel count must be 1..={max}, got {got}")]
    Channels {
        /// The count.
        got: usize,
        /// Largest allowed.
        max: usize,
    },
    /// ADC resolution out of range.
    #[error("ADC bits must be 10..=14, got {got}")]
    Bits {
        /// The resolution.
        got: u8,
    },
    /// Volts per count not finite and positive.
    #[error("volts per count must be finite and > 0, got {got}")]
    VoltsPerCount {
        /// The value.
        got: f64,
    },
    /// Offset not finite.
    #[error("offset (counts) must be finite, got {got}")]
    Offset {
        /// The value.
        got: f64,
    },
}
