//! Sensory responses (SNAPs): averaging over sweeps and the sensory measures.
//!
//! SNAPs are 5–50 µV, often below the single-sweep noise, so sweeps are averaged (noise falls
//! with √N). A SNAP is often triphasic (positive–negative–positive); its onset is where the
//! negative phase leaves baseline (2 % of its peak, `clinical.md` §1), the initial positive
//! phase being flagged rather than counted. Reported: onset latency, negative-peak latency, negative-peak amplitude and peak-to-peak
//! amplitude (negative peak → following positive peak). Area and durations are left out: they
//! are not used clinically for SNAPs.

use crate::measure::Scratch;
use crate::{Error, Measurer, Response, SweepView};

/// Running average of stimulus-locked sweeps of one shape.
#[derive(Debug, Clone)]
pub struct Averager {
    sum: Vec<f64>,
    /// The sum before the last sweep was added, so that the last sweep can be taken out
    /// exactly (the examiner rejects a sweep after seeing it).
    before_last: Vec<f64>,
    can_undo: bool,
    stimulus_index: usize,
    count: usize,
}

impl Averager {
    /// An empty average for sweeps of `len` samples with the stimulus at `stimulus_index`.
    pub fn new(len: usize, stimulus_index: usize) -> Self {
        Averager {
            sum: vec![0.0; len],
            before_last: vec![0.0; len],
            can_undo: false,
            stimulus_index,
            count: 0,
        }
    }

    /// Adds one sweep; it must have the same length and stimulus index.
    pub fn add(&mut self, samples: &[f64], stimulus_index: usize) -> Result<(), Error> {
        if samples.len() != self.sum.len() || stimulus_index != self.stimulus_index {
            return Err(Error::AverageShape {
                expected: self.sum.len(),
                expected_stimulus: self.stimulus_index,
                got: samples.len(),
                got_stimulus: stimulus_index,
            });
        }
        self.before_last.copy_from_slice(&self.sum);
        for (s, &x) in self.sum.iter_mut().zip(samples) {
            *s += x;
        }
        self.count += 1;
        self.can_undo = true;
        Ok(())
    }

    /// Takes the last sweep added back out, exactly: the average is then bit for bit what it
    /// was before that sweep. Only the last sweep can be taken out, once; returns whether it
    /// was.
    pub fn remove_last(&mut self) -> bool {
        if !self.can_undo {
            return false;
        }
        std::mem::swap(&mut self.sum, &mut self.before_last);
        self.count -= 1;
        self.can_undo = false;
        true
    }

    /// Sweeps averaged so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Stimulus index of the averaged sweeps.
    pub fn stimulus_index(&self) -> usize {
        self.stimulus_index
    }

    /// Writes the mean sweep into `out` (resized to the sweep length). With no sweep yet the
    /// mean is all zeros.
    pub fn mean_into(&self, out: &mut Vec<f64>) {
        out.clear();
        let k = 1.0 / self.count.max(1) as f64;
        out.extend(self.sum.iter().map(|s| s * k));
    }

    /// Empties the average.
    pub fn reset(&mut self) {
        self.sum.iter_mut().for_each(|s| *s = 0.0);
        self.count = 0;
        self.can_undo = false;
    }
}

impl Measurer {
    /// Measures a sensory response (usually on an averaged sweep). Never fails.
    ///
    /// The markers are those of a motor response (`measure.rs`): the onset where the negative
    /// phase is 2 % of its peak beyond baseline, as `clinical.md` §1 defines it for every
    /// response, so that sensory conduction velocities follow one definition whatever the
    /// waveform. An initial positive phase is not taken into the onset; it is flagged
    /// ([`crate::Flag::InitialPositiveDip`]).
    pub fn measure_sensory(&self, sweep: &SweepView<'_>, scratch: &mut Scratch) -> Response {
        let mut response = self.measure_detailed(sweep, scratch).response;
        let meas = &mut response.measures;
        meas.negative_peak_area_mv_ms = None;
        meas.negative_peak_duration_ms = None;
        meas.total_duration_ms = None;
        response
    }
}
