//! Stimulus detection from a trigger channel: threshold with hysteresis, rising or falling
//! edge, refractory period. Streaming: the state carries across blocks, so any split of the
//! input gives the same absolute stimulus indices.

use crate::error::{check_fs, check_nonneg, DspError};

/// Which edge marks the stimulus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// The signal rises through `arm_level` (re-arms once it falls to `disarm_level`).
    Rising,
    /// The signal falls through `arm_level` (re-arms once it rises to `disarm_level`).
    Falling,
}

/// Trigger detector settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TriggerConfig {
    /// Sample rate, Hz.
    pub sample_rate_hz: f64,
    /// Level whose crossing marks a stimulus.
    pub arm_level: f64,
    /// Level the signal must return past before the next stimulus can fire (hysteresis):
    /// below `arm_level` for [`Edge::Rising`], above it for [`Edge::Falling`].
    pub disarm_level: f64,
    /// Which edge fires.
    pub edge: Edge,
    /// Minimum time between two stimuli, ms (crossings sooner are ignored).
    pub refractory_ms: f64,
}

/// A ready trigger detector (validated once; use through `&self`).
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerDetector {
    arm: f64,
    disarm: f64,
    rising: bool,
    refractory: u64,
}

/// Running state: absolute position, whether the detector is armed, last stimulus index.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TriggerState {
    pos: u64,
    armed: bool,
    last: Option<u64>,
}

impl TriggerState {
    /// Back to the initial state (position 0, not armed).
    pub fn reset(&mut self) {
        *self = Self::default();
    }
    /// Absolute index of the next sample to be processed.
    pub fn position(&self) -> u64 {
        self.pos
    }
}

impl TriggerConfig {
    /// Validates and builds the detector.
    ///
    /// # Errors
    /// Bad sample rate, non-finite levels, hysteresis on the wrong side (`disarm_level` must be
    /// below `arm_level` for a rising edge, above it for a falling edge), negative refractory.
    pub fn build(&self) -> Result<TriggerDetector, DspError> {
        let fs = check_fs(self.sample_rate_hz)?;
        for (name, v) in [
            ("arm_level", self.arm_level),
            ("disarm_level", self.disarm_level),
        ] {
            if !v.is_finite() {
                return Err(DspError::Parameter {
                    name,
                    rule: "finite",
                    value: v,
                });
            }
        }
        let rising = self.edge == Edge::Rising;
        if rising && self.disarm_level >= self.arm_level {
            return Err(DspError::Parameter {
                name: "disarm_level",
                rule: "below arm_level for a rising edge",
                value: self.disarm_level,
            });
        }
        if !rising && self.disarm_level <= self.arm_level {
            return Err(DspError::Parameter {
                name: "disarm_level",
                rule: "above arm_level for a falling edge",
                value: self.disarm_level,
            });
        }
        let refr = check_nonneg("refractory_ms", self.refractory_ms)?;
        Ok(TriggerDetector {
            arm: self.arm_level,
            disarm: self.disarm_level,
            rising,
            refractory: (refr * 1e-3 * fs).round() as u64,
        })
    }
}

impl TriggerDetector {
    /// A fresh state. The detector starts disarmed: it arms only after seeing the signal past
    /// `disarm_level`, so a trigger line already high at the start does not fire at index 0.
    pub fn new_state(&self) -> TriggerState {
        TriggerState::default()
    }

    /// Processes one block; calls `on_stimulus(absolute_index)` for each stimulus, where the
    /// index is the first sample past `arm_level`. Never allocates, never fails.
    pub fn process(
        &self,
        state: &mut TriggerState,
        block: &[f64],
        mut on_stimulus: impl FnMut(u64),
    ) {
        for &x in block {
            let i = state.pos;
            state.pos += 1;
            let (past_arm, past_disarm) = if self.rising {
                (x >= self.arm, x <= self.disarm)
            } else {
                (x <= self.arm, x >= self.disarm)
            };
            if past_disarm {
                state.armed = true;
            } else if past_arm && state.armed {
                state.armed = false;
                let clear = state.last.is_none_or(|l| i - l >= self.refractory);
                if clear {
                    state.last = Some(i);
                    on_stimulus(i);
                }
            }
        }
    }

    /// Convenience for a whole channel: all stimulus indices (from 0).
    pub fn detect_all(&self, channel: &[f64]) -> Vec<u64> {
        let mut st = self.new_state();
        let mut out = Vec::new();
        self.process(&mut st, channel, |i| out.push(i));
        out
    }
}
