//! A validated view of one stimulus-locked sweep.

use crate::Error;

/// Fewest pre-stimulus samples a baseline estimate is made from.
pub const MIN_BASELINE_SAMPLES: usize = 8;
/// Fewest post-stimulus samples a response is searched in.
pub const MIN_WINDOW_SAMPLES: usize = 16;

/// One stimulus-locked sweep, checked once so that measuring it cannot fail.
///
/// `samples` are in volts as recorded (baseline included); `stimulus_index` is the index of the
/// stimulus instant within `samples`, so everything before it is the pre-stimulus baseline.
#[derive(Debug, Clone, Copy)]
pub struct SweepView<'a> {
    samples: &'a [f64],
    sample_rate_hz: f64,
    stimulus_index: usize,
    artefact_end: Option<usize>,
    earliest_onset: Option<usize>,
}

impl<'a> SweepView<'a> {
    /// Checks a sweep: finite samples, positive rate, a baseline of at least
    /// [`MIN_BASELINE_SAMPLES`] and a window of at least [`MIN_WINDOW_SAMPLES`].
    pub fn new(
        samples: &'a [f64],
        sample_rate_hz: f64,
        stimulus_index: usize,
    ) -> Result<Self, Error> {
        if !(sample_rate_hz.is_finite() && sample_rate_hz > 0.0) {
            return Err(Error::SampleRate(sample_rate_hz));
        }
        if stimulus_index < MIN_BASELINE_SAMPLES {
            return Err(Error::ShortBaseline {
                needed: MIN_BASELINE_SAMPLES,
                got: stimulus_index,
                len: samples.len(),
            });
        }
        let after = samples.len().saturating_sub(stimulus_index);
        if after < MIN_WINDOW_SAMPLES {
            return Err(Error::ShortWindow {
                needed: MIN_WINDOW_SAMPLES,
                got: after,
            });
        }
        if !all_finite(samples) {
            if let Some((index, &value)) = samples.iter().enumerate().find(|(_, v)| !v.is_finite())
            {
                return Err(Error::NotFinite { index, value });
            }
        }
        Ok(SweepView {
            samples,
            sample_rate_hz,
            stimulus_index,
            artefact_end: None,
            earliest_onset: None,
        })
    }

    /// Declares where a suppressed (blanked or subtracted) stimulus artefact ends: samples from
    /// the stimulus up to `end` are not searched for a response, and a response whose onset
    /// falls near `end` is flagged.
    pub fn with_artefact_end(mut self, end: usize) -> Result<Self, Error> {
        if end < self.stimulus_index || end >= self.samples.len() {
            return Err(Error::ArtefactEnd {
                end,
                stimulus: self.stimulus_index,
                len: self.samples.len(),
            });
        }
        self.artefact_end = Some(end);
        Ok(self)
    }

    /// Declares the earliest onset a response can have, `ms` after the stimulus (a
    /// physiological bound, e.g. from the stimulation distance and the fastest conduction):
    /// nothing earlier is searched, so that a remnant of the stimulus artefact is not taken
    /// for a response the nerve cannot have conducted yet. Ignored unless finite and positive.
    pub fn with_earliest_onset_ms(mut self, ms: f64) -> Self {
        if ms.is_finite() && ms > 0.0 {
            let i = self.stimulus_index as f64 + ms * 1e-3 * self.sample_rate_hz;
            self.earliest_onset = Some(i.ceil().min(self.samples.len() as f64) as usize);
        }
        self
    }

    /// The earliest onset declared (sample index), if any.
    pub fn earliest_onset(&self) -> Option<usize> {
        self.earliest_onset
    }

    /// The samples (volts).
    pub fn samples(&self) -> &'a [f64] {
        self.samples
    }
    /// Sample rate (Hz).
    pub fn sample_rate_hz(&self) -> f64 {
        self.sample_rate_hz
    }
    /// Index of the stimulus instant.
    pub fn stimulus_index(&self) -> usize {
        self.stimulus_index
    }
    /// End of the suppressed artefact, if declared.
    pub fn artefact_end(&self) -> Option<usize> {
        self.artefact_end
    }
}

/// Whether every sample is finite: `v·0` is 0 for a finite `v` and NaN otherwise, and a NaN
/// stays in a sum. Sums in independent lanes without a branch per sample, so that the check
/// runs at the speed of the loads.
fn all_finite(x: &[f64]) -> bool {
    const L: usize = 8;
    let mut acc = [0.0f64; L];
    let chunks = x.chunks_exact(L);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..L {
            acc[l] += c[l] * 0.0;
        }
    }
    for (l, &v) in rest.iter().enumerate() {
        acc[l] += v * 0.0;
    }
    acc.iter().sum::<f64>() == 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_finite_sample_anywhere_is_found() {
        let mut x: Vec<f64> = (0..1203).map(|i| (i as f64 - 600.0) * 1e300).collect();
        assert!(all_finite(&x), "large finite samples of both signs");
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            for at in [0, 7, 600, 1199, 1202] {
                let keep = x[at];
                x[at] = bad;
                assert!(!all_finite(&x), "{bad} at {at}");
                let e = SweepView::new(&x, 20_000.0, 200).err();
                assert!(
                    matches!(e, Some(Error::NotFinite { index, .. }) if index == at),
                    "{bad} at {at}: {e:?}"
                );
                x[at] = keep;
            }
        }
        assert!(all_finite(&[]));
    }
}
