//! TRUE measures of a noise-free response, computed exactly as `clinical.md` §1 defines them.
//!
//! The input is the noise-free response alone (no artefact, noise, mains or drift) sampled at
//! the sweep's rate, in volts, with the stimulus at sample `stimulus_index`; baseline is 0.
//! Time of sample `i` is `t(i) = (i − stimulus_index) / fs` (reported in ms).
//!
//! Definitions (A = negative-peak amplitude, θ = 2 % of A):
//!
//! * **negative peak**: the most negative sample at or after the stimulus (`p`); its latency is
//!   `t(p)` and `A = −x[p]` in mV. If no sample is below 0 there is no response (`None`).
//! * **onset**: the first sample `o ≥ stimulus_index` with `x[o] ≤ −θ`; latency `t(o)`. No
//!   interpolation: the onset is a sample instant.
//! * **return to baseline** after the negative peak: `r` is the first sample after `p` with
//!   `x[r] ≥ 0`; the crossing instant `t_c` is found by linear interpolation between samples
//!   `r − 1` and `r`: `t_c = t(r−1) + x[r−1] / (x[r−1] − x[r]) · Δt`. If the signal never
//!   returns inside the window, `t_c` is the last sample's time and `returned` is false.
//! * **negative-peak duration**: `t_c − t(o)`.
//! * **negative-peak area**: `−∫ x dt` from `t(o)` to `t_c`, trapezoid rule on the samples
//!   `o ..= r−1` plus the last partial trapezoid from `t(r−1)` to `t_c` (a triangle, since the
//!   signal is 0 at `t_c`); mV·ms, positive for a negative phase.
//! * **positive peak**: the largest sample at or after `r`; **peak-to-peak** = `x[pos] − x[p]`
//!   (mV). With no positive sample after the return, the positive peak is taken as 0 (baseline).
//! * **total duration**: from onset to the final return to baseline, the last sample `e` with
//!   `|x[e]| ≥ θ`: `t(e) − t(o)`.
//! * **first deflection** (extra, for SNAPs and initial positive dips): the first sample at or
//!   after the stimulus with `|x| ≥ θ`, of either sign. For a CMAP without a dip it equals the
//!   onset; for a triphasic SNAP it marks the take-off of the initial positive phase.

use serde::{Deserialize, Serialize};

/// Fraction of the negative-peak amplitude that defines onset and final return (2 %).
pub const ONSET_FRACTION: f64 = 0.02;

/// The TRUE measures of one noise-free response. Latencies in ms from the stimulus instant,
/// amplitudes in mV (magnitudes), area in mV·ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrueMeasures {
    /// Stimulus → first sample 2 % of the negative-peak amplitude below baseline (ms).
    pub onset_latency_ms: f64,
    /// Stimulus → most negative sample (ms).
    pub negative_peak_latency_ms: f64,
    /// Baseline → negative peak (mV, magnitude).
    pub negative_peak_amplitude_mv: f64,
    /// Stimulus → the positive peak following the negative phase (ms); `None` when the signal
    /// has no positive sample after the negative phase.
    pub positive_peak_latency_ms: Option<f64>,
    /// Negative peak → following positive peak (mV, magnitude).
    pub peak_to_peak_amplitude_mv: f64,
    /// Area of the negative phase, onset → first return to baseline (mV·ms).
    pub negative_peak_area_mv_ms: f64,
    /// Onset → first return to baseline after the negative peak (ms).
    pub negative_peak_duration_ms: f64,
    /// Stimulus → first return to baseline after the negative peak (interpolated, ms).
    pub negative_phase_end_latency_ms: f64,
    /// Whether the signal returned to baseline inside the window after the negative peak.
    pub returned: bool,
    /// Onset → final return to baseline (last sample with |x| ≥ 2 % of the amplitude) (ms).
    pub total_duration_ms: f64,
    /// Stimulus → first sample with |x| ≥ 2 % of the negative-peak amplitude, either sign (ms).
    pub first_deflection_latency_ms: f64,
    /// Sample index (in the measured buffer) of the onset.
    pub onset_index: usize,
    /// Sample index (in the measured buffer) of the negative peak.
    pub negative_peak_index: usize,
}

/// Measures a noise-free response `clean` (volts) sampled at `sample_rate_hz` with the stimulus
/// at `stimulus_index`, by the definitions in this module's documentation.
///
/// Returns `None` when there is no negative sample at or after the stimulus (no response), or
/// when the rate is not positive or the stimulus lies outside the buffer.
pub fn measure(clean: &[f64], sample_rate_hz: f64, stimulus_index: usize) -> Option<TrueMeasures> {
    if sample_rate_hz.is_nan() || sample_rate_hz <= 0.0 || stimulus_index >= clean.len() {
        return None;
    }
    let dt_ms = 1000.0 / sample_rate_hz;
    let t = |i: usize| (i as f64 - stimulus_index as f64) * dt_ms;
    let mv = |i: usize| clean[i] * 1000.0;
    let n = clean.len();

    let mut p = stimulus_index;
    for i in stimulus_index..n {
        if clean[i] < clean[p] {
            p = i;
        }
    }
    let amp = -mv(p);
    if amp.is_nan() || amp <= 0.0 {
        return None;
    }
    let theta = ONSET_FRACTION * amp;
    // The peak itself satisfies the test, so an onset always exists.
    let o = (stimulus_index..=p).find(|&i| mv(i) <= -theta).unwrap_or(p);
    let first = (stimulus_index..=p)
        .find(|&i| mv(i).abs() >= theta)
        .unwrap_or(o);

    let r = (p + 1..n).find(|&i| clean[i] >= 0.0);
    let (t_c, returned, last_neg) = match r {
        Some(r) => {
            let (a, b) = (mv(r - 1), mv(r));
            let frac = if a != b { a / (a - b) } else { 0.0 };
            (t(r - 1) + frac * dt_ms, true, r - 1)
        }
        None => (t(n - 1), false, n - 1),
    };
    let mut area = 0.0;
    for i in o..last_neg {
        area -= 0.5 * (mv(i) + mv(i + 1)) * dt_ms;
    }
    if returned {
        area -= 0.5 * mv(last_neg) * (t_c - t(last_neg));
    }

    let (pos_latency, pos_mv) = match r {
        Some(r) => {
            let mut q = r;
            for i in r..n {
                if clean[i] > clean[q] {
                    q = i;
                }
            }
            if mv(q) > 0.0 {
                (Some(t(q)), mv(q))
            } else {
                (None, 0.0)
            }
        }
        None => (None, 0.0),
    };
    let e = (o..n).rev().find(|&i| mv(i).abs() >= theta).unwrap_or(p);

    Some(TrueMeasures {
        onset_latency_ms: t(o),
        negative_peak_latency_ms: t(p),
        negative_peak_amplitude_mv: amp,
        positive_peak_latency_ms: pos_latency,
        peak_to_peak_amplitude_mv: pos_mv + amp,
        negative_peak_area_mv_ms: area,
        negative_peak_duration_ms: t_c - t(o),
        negative_phase_end_latency_ms: t_c,
        returned,
        total_duration_ms: t(e) - t(o),
        first_deflection_latency_ms: t(first),
        onset_index: o,
        negative_peak_index: p,
    })
}
