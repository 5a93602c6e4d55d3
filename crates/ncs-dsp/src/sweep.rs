//! Stimulus-locked sweeps: a validated window (pre-stimulus baseline, post-stimulus response)
//! cut from a continuous channel or from a ring of recent history, with the stimulus artefact
//! suppressed so its tail is not taken for a response.
//!
//! Suppression ([`Suppression`]):
//! - **Blank**: from the stimulus sample until the artefact has settled — the first point after
//!   which the sample-to-sample change stays below 4 × the pre-stimulus noise of the first
//!   difference for 0.1 ms (≥ 2 samples) — bounded by `max_blank_ms`; the blanked samples are
//!   replaced by a straight line from the last pre-stimulus sample to the first settled one.
//! - **SubtractTail**: fit `b + A·exp(−t/τ)` (`b` = pre-stimulus baseline mean, τ searched
//!   on a log grid 0.05–5 ms, `A` by least squares) to the samples from the end of the blanked
//!   interval to `tail_fit_end_ms`, and subtract the fitted exponential from there to the end
//!   of the sweep. Guard, so a real CMAP onset is never fitted away: the fit window ends at
//!   `tail_fit_end_ms`, which must lie before the earliest plausible onset (default 1.5 ms
//!   against responses from 2 ms); the fit is used only if it explains ≥ 80 % of the window's
//!   variance about the baseline, the tail is larger than 3 noise σ at the start of the window,
//!   and `A` has the sign of the artefact's residual (a tail decays towards the baseline).
//!   Otherwise nothing is subtracted.
//! - **BlankAndSubtract** (default): both, blanking first. On simulated sweeps whose responses
//!   start from 2 ms it leaves the smallest error from the stimulus to 5 ms after
//!   (see the `sweep` tests).

use crate::error::{check_fs, check_nonneg, check_pos, DspError};

/// How the stimulus artefact is suppressed in an extracted sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Suppression {
    /// Leave the data as recorded.
    None,
    /// Blank and interpolate over the adaptive artefact interval.
    Blank,
    /// Fit and subtract a decaying exponential tail (guarded).
    SubtractTail,
    /// Blank, then subtract the remaining tail (the default).
    #[default]
    BlankAndSubtract,
}

/// Sweep window and artefact handling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepConfig {
    /// Sample rate, Hz.
    pub sample_rate_hz: f64,
    /// Pre-stimulus baseline kept, ms.
    pub pre_ms: f64,
    /// Post-stimulus window kept, ms.
    pub post_ms: f64,
    /// Artefact suppression.
    pub suppression: Suppression,
    /// Longest blanking interval, ms (typically 0.3–1.5; default 1.0).
    pub max_blank_ms: f64,
    /// End of the tail-fit window after the stimulus, ms (default 1.5, before any response).
    pub tail_fit_end_ms: f64,
}

impl SweepConfig {
    /// Defaults: 10 ms baseline, 50 ms window, blank ≤ 1 ms, tail fit to 1.5 ms.
    pub fn new(sample_rate_hz: f64) -> Self {
        Self {
            sample_rate_hz,
            pre_ms: 10.0,
            post_ms: 50.0,
            suppression: Suppression::default(),
            max_blank_ms: 1.0,
            tail_fit_end_ms: 1.5,
        }
    }

    /// Validates and builds the extractor.
    ///
    /// # Errors
    /// Bad sample rate; `pre_ms` < 0.5 ms worth of samples (the baseline needs ≥ 4 samples);
    /// `post_ms`, `max_blank_ms`, `tail_fit_end_ms` not > 0; `tail_fit_end_ms` not longer than
    /// `max_blank_ms` or not shorter than `post_ms`.
    pub fn build(&self) -> Result<SweepExtractor, DspError> {
        let fs = check_fs(self.sample_rate_hz)?;
        check_nonneg("pre_ms", self.pre_ms)?;
        check_pos("post_ms", self.post_ms)?;
        check_pos("max_blank_ms", self.max_blank_ms)?;
        check_pos("tail_fit_end_ms", self.tail_fit_end_ms)?;
        let n = |ms: f64| (ms * 1e-3 * fs).round() as usize;
        let pre = n(self.pre_ms);
        if pre < 4 {
            return Err(DspError::Parameter {
                name: "pre_ms",
                rule: "long enough for >= 4 baseline samples",
                value: self.pre_ms,
            });
        }
        let post = n(self.post_ms).max(1);
        let blank = n(self.max_blank_ms).max(1);
        let fit_end = n(self.tail_fit_end_ms);
        if fit_end <= blank {
            return Err(DspError::Parameter {
                name: "tail_fit_end_ms",
                rule: "longer than max_blank_ms",
                value: self.tail_fit_end_ms,
            });
        }
        if fit_end >= post {
            return Err(DspError::Parameter {
                name: "tail_fit_end_ms",
                rule: "shorter than post_ms",
                value: self.tail_fit_end_ms,
            });
        }
        Ok(SweepExtractor {
            fs,
            pre,
            post,
            blank,
            fit_end,
            settle_run: n(0.1).max(2),
            suppression: self.suppression,
        })
    }
}

/// One stimulus-locked sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// Sample rate, Hz.
    pub sample_rate_hz: f64,
    /// Index of the stimulus instant within `data`.
    pub stimulus_index: usize,
    /// Samples, volts.
    pub data: Vec<f64>,
    /// Absolute sample index of `data[0]`.
    pub first_sample: u64,
    /// Index within `data` where the suppressed artefact ends (first sample not blanked), if
    /// anything was blanked.
    pub artefact_end: Option<usize>,
}

impl Sweep {
    /// Time of sample `i` relative to the stimulus, ms.
    pub fn time_ms(&self, i: usize) -> f64 {
        (i as f64 - self.stimulus_index as f64) * 1e3 / self.sample_rate_hz
    }
    /// The pre-stimulus baseline samples.
    pub fn baseline(&self) -> &[f64] {
        &self.data[..self.stimulus_index]
    }
}

/// Reusable working memory for [`SweepExtractor::suppress_with`] (see
/// [`SweepExtractor::scratch`]).
#[derive(Debug, Clone, Default)]
pub struct SuppressScratch {
    /// First differences of the baseline, for their median.
    diffs: Vec<f64>,
}

/// A ready sweep extractor.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepExtractor {
    fs: f64,
    pre: usize,
    post: usize,
    blank: usize,
    fit_end: usize,
    settle_run: usize,
    suppression: Suppression,
}

impl SweepExtractor {
    /// Samples per sweep (`pre + post`).
    pub fn len(&self) -> usize {
        self.pre + self.post
    }

    /// Never zero; present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Samples before the stimulus.
    pub fn pre_samples(&self) -> usize {
        self.pre
    }

    /// Cuts the sweep around absolute sample `stimulus` from `data`, whose first sample has
    /// absolute index `first_sample` (a whole channel: `first_sample = 0`; a ring of recent
    /// history: its oldest sample's index), and suppresses the artefact.
    ///
    /// # Errors
    /// [`DspError::WindowOutOfRange`] naming the requested and the available absolute indices.
    pub fn extract(
        &self,
        data: &[f64],
        first_sample: u64,
        stimulus: u64,
    ) -> Result<Sweep, DspError> {
        let start = stimulus as i64 - self.pre as i64;
        let end = stimulus as i64 + self.post as i64;
        let avail_end = first_sample + data.len() as u64;
        if start < first_sample as i64 || end > avail_end as i64 {
            return Err(DspError::WindowOutOfRange {
                start,
                end,
                available_start: first_sample,
                available_end: avail_end,
            });
        }
        let off = (start - first_sample as i64) as usize;
        let mut out = data[off..off + self.len()].to_vec();
        let artefact_end = self.suppress(&mut out);
        Ok(Sweep {
            sample_rate_hz: self.fs,
            stimulus_index: self.pre,
            data: out,
            first_sample: start as u64,
            artefact_end,
        })
    }

    /// Applies the configured suppression to a sweep buffer laid out as this extractor cuts it
    /// (stimulus at [`SweepExtractor::pre_samples`]); returns the blanking end, if any.
    ///
    /// Allocates a working buffer per call; [`SweepExtractor::suppress_with`] does not.
    pub fn suppress(&self, x: &mut [f64]) -> Option<usize> {
        self.suppress_with(x, &mut self.scratch())
    }

    /// Working memory for [`SweepExtractor::suppress_with`], sized for this extractor.
    pub fn scratch(&self) -> SuppressScratch {
        SuppressScratch {
            diffs: Vec::with_capacity(self.pre),
        }
    }

    /// As [`SweepExtractor::suppress`], with the working memory in `scratch`: allocates nothing
    /// once `scratch` holds the pre-stimulus samples (as [`SweepExtractor::scratch`] makes it).
    pub fn suppress_with(&self, x: &mut [f64], scratch: &mut SuppressScratch) -> Option<usize> {
        let s = self.pre;
        if x.len() < self.len() {
            return None;
        }
        let base: f64 = x[..s].iter().sum::<f64>() / s as f64;
        // Noise of the first difference in the baseline (robust enough for a short window); the
        // median by selection, which picks the same element a full sort would.
        let d = &mut scratch.diffs;
        d.clear();
        d.extend(x[..s].windows(2).map(|w| (w[1] - w[0]).abs()));
        let mid = d.len() / 2;
        let (_, &mut median, _) = d.select_nth_unstable_by(mid, f64::total_cmp);
        let sigma_d = (1.4826 * median).max(f64::MIN_POSITIVE);
        let sigma = (x[..s].iter().map(|v| (v - base) * (v - base)).sum::<f64>() / s as f64)
            .sqrt()
            .max(sigma_d / 2.0);
        let mut end = None;
        if matches!(
            self.suppression,
            Suppression::Blank | Suppression::BlankAndSubtract
        ) {
            let e = self.settle(x, sigma_d, base);
            let (a, b) = (x[s - 1], x[e]);
            let span = (e - (s - 1)) as f64;
            for (k, v) in x[s..e].iter_mut().enumerate() {
                let t = (k + 1) as f64 / span;
                *v = a + (b - a) * t;
            }
            end = Some(e);
        }
        if matches!(
            self.suppression,
            Suppression::SubtractTail | Suppression::BlankAndSubtract
        ) {
            let from = end.unwrap_or(s + 1);
            self.subtract_tail(x, from, base, sigma);
        }
        end
    }

    /// First index after the stimulus from which |Δx| stays below 4 σ_d for `settle_run`
    /// samples while the signal is back below half its largest excursion from `base` so far,
    /// bounded by the maximum blanking interval. The second condition keeps a flat-topped
    /// artefact (a pulse held for its width, or an amplifier at its rail) from counting as
    /// settled: its samples barely change while it lasts.
    fn settle(&self, x: &[f64], sigma_d: f64, base: f64) -> usize {
        let s = self.pre;
        let limit = s + self.blank;
        let mut run = 0;
        let mut peak = (x[s] - base).abs();
        for i in s + 1..=limit {
            let dev = (x[i] - base).abs();
            peak = peak.max(dev);
            if (x[i] - x[i - 1]).abs() < 4.0 * sigma_d && dev <= 0.5 * peak {
                run += 1;
                if run >= self.settle_run {
                    return i + 1 - run;
                }
            } else {
                run = 0;
            }
        }
        limit
    }

    fn subtract_tail(&self, x: &mut [f64], from: usize, base: f64, sigma: f64) {
        let s = self.pre;
        let stop = s + self.fit_end;
        if stop <= from + 2 {
            return;
        }
        // The window about the baseline, read in place.
        let win = || x[from..stop].iter().map(|v| v - base);
        let first = x[from] - base;
        if first.abs() < 3.0 * sigma {
            return;
        }
        let ss_tot: f64 = win().map(|v| v * v).sum();
        let mut best: Option<(f64, f64, f64)> = None; // (sse, a, tau_samples)
        for g in 0..48 {
            let tau_ms = 0.05 * (100.0f64).powf(g as f64 / 47.0);
            let tau = tau_ms * 1e-3 * self.fs;
            let (mut ee, mut ey) = (0.0, 0.0);
            for (k, y) in win().enumerate() {
                let e = (-(k as f64) / tau).exp();
                ee += e * e;
                ey += e * y;
            }
            let a = ey / ee;
            let sse: f64 = win()
                .enumerate()
                .map(|(k, y)| (y - a * (-(k as f64) / tau).exp()).powi(2))
                .sum();
            if best.is_none_or(|b| sse < b.0) {
                best = Some((sse, a, tau));
            }
        }
        let Some((sse, a, tau)) = best else { return };
        if ss_tot <= 0.0 || 1.0 - sse / ss_tot < 0.8 || a.signum() != first.signum() {
            return;
        }
        for (k, v) in x[from..].iter_mut().enumerate() {
            *v -= a * (-(k as f64) / tau).exp();
        }
    }
}
