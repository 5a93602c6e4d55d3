//! Measuring one sweep: baseline, presence decision, markers and measures.
//!
//! The procedure, in order (all indices are samples of the sweep, `s` the stimulus):
//!
//! 1. **Baseline.** A constant (plus a drift and a 50/60 Hz sinusoid when they are significant,
//!    see `baseline.rs`) is fitted to the pre-stimulus samples and subtracted; the signal is
//!    turned so that the first (negative) phase points up and converted to mV (`u`).
//! 2. **Smoothing.** A zero-phase Gaussian (σ = `smoothing_ms`) gives `v`, used to locate
//!    markers without shifting them. The noise of `v` is `σ_w`, the larger of the smoothed
//!    baseline's standard deviation and the raw noise times the kernel's ℓ₂ norm (so coloured
//!    noise is not underestimated).
//! 3. **Search window.** From the end of the stimulus artefact (declared, or found as the steep
//!    transient after the stimulus, at most `max_artefact_ms`), `min_onset_ms` and the sweep's
//!    earliest plausible onset, if declared (`SweepView::with_earliest_onset_ms`: the live
//!    processor declares the conduction time of the stimulation distance at 120 m/s), to the
//!    end of the sweep. If the window opens on a decaying artefact tail, the search begins
//!    where that tail stops decaying.
//! 4. **Presence.** The highest point of `v` must exceed `k·σ_w`, where `k` is the one-sided
//!    normal quantile at `false_positive_rate / M`, `M` the number of effectively independent
//!    smoothed samples in the window (Bonferroni), and at least `min_detection_sigma`; its
//!    negative phase must last at least `min_phase_ms`. Otherwise the result is "no response".
//! 5. **Negative peak.** A least-squares parabola through the raw samples around the highest
//!    point of `v` (half-width 10 % of the negative phase, 0.1–1 ms) gives the peak's latency and
//!    amplitude without the upward bias of taking the largest noisy sample.
//! 6. **Onset.** `clinical.md` §1 puts the onset where the response is 2 % of its negative-peak
//!    amplitude below baseline. When that level stands clear of the noise (`≥ 3σ_w`) it is found
//!    directly by walking back from the peak. Otherwise the walk stops at `3σ_w` and a model of
//!    the foot (zero, then a power of time), fitted to the quiet samples before and the edge
//!    after, is followed down to the 2 % level (see `onset_from`). The passes of step 8 that
//!    only place the quiet ranges use the level crossing; the foot is followed for the
//!    response kept.
//! 7. **Negative phase end** (first return to baseline after the peak), **area** (trapezoid of the
//!    raw samples between onset and that return), **positive peak** (parabola again), **total
//!    duration** (onset → the point from which the signal stays within max(2 %, 3σ_w) of
//!    baseline for 2 ms).
//! 8. **Refinement.** When a response is found, the baseline is refitted on every sample known
//!    to be quiet — the pre-stimulus interval, the window between the artefact and the onset, and
//!    the samples after the response — which makes drift and mains terms interpolations rather
//!    than extrapolations, and steps 2–7 run again (twice at most). A "response" that was only
//!    a mains half-wave or drift disappears in this second look. When nothing stood above the
//!    pre-stimulus model's noise and the whole sweep shows a mains or tail term that model could
//!    not hold (a baseline shorter than a mains period, an artefact tail), the search runs once
//!    more on the whole-sweep model, and a response found there is measured from the quiet
//!    samples around it. An artefact tail much taller than the noise has its τ refined between
//!    the grid's (`baseline.rs`), since a neighbouring τ would leave a tenth of it behind.
//! 9. **Mains harmonics.** Once the fundamental is found, harmonics up to
//!    `mains_harmonics` (5th by default) are fitted to what the kept model leaves on the quiet
//!    samples. When they explain at least a fifth of it (and, beside a response, could reach a
//!    quarter of its 2 % onset level), they are subtracted from the sweep and steps 1–8 run
//!    again on it. A stimulator at a whole-number rate is phase-locked to the mains, so
//!    averaging keeps the harmonics, and they would otherwise set a SNAP's threshold.

use crate::baseline::{fit_baseline, fit_harmonics, Allow, Baseline, ColumnCache};
use crate::config::{MainsModel, Measurer, Polarity};
use crate::numeric::{argmax, crossing, integrate, parabola_extremum, smooth_range, std_dev};
use crate::{Flag, Flags, Measures, Response, SweepView};

/// Top of the leading edge used to extrapolate the onset, as a fraction of the amplitude.
const FOOT_TOP: f64 = 0.7;
/// Exponents of the foot model tried, from a linear foot to one close to a Gaussian's.
const FOOT_EXPONENTS: [f64; 6] = [1.0, 1.5, 2.0, 3.0, 4.0, 6.0];
/// A refit whose quiet ranges moved by at most this much (ms) from the previous fit's is
/// skipped.
const REFIT_TOLERANCE_MS: f64 = 0.3;
/// Onset extrapolation: the foot model's `t₀` is first tried on every this many steps of its
/// 0.1-sample grid (0.8 sample), then on every step around the best of those.
const FOOT_COARSE: usize = 8;

/// Reusable buffers for [`Measurer::measure`], so that measuring allocates nothing once the
/// buffers have grown to the longest sweep seen.
///
/// It also keeps what measuring computes from the settings alone (the baseline regressors at
/// the sample rate, smoothed by the configured kernel) for up to four combinations of sample
/// rate, mains and smoothing settings; the first sweep with a new combination costs a few times
/// more than the following ones.
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    u: Vec<f64>,
    v: Vec<f64>,
    kernel: Vec<f64>,
    /// The smoothed samples (volts, away from the sweep's ends).
    sx: Vec<f64>,
    /// `u` and `v` of the other model while the null hypothesis is checked.
    u_alt: Vec<f64>,
    v_alt: Vec<f64>,
    /// Baseline regressor columns, kept across sweeps for the last few settings.
    cols: ColumnCache,
    /// The sweep with the mains harmonics removed (step 9).
    xc: Vec<f64>,
}

impl Scratch {
    fn swap_residuals(&mut self) {
        std::mem::swap(&mut self.u, &mut self.u_alt);
        std::mem::swap(&mut self.v, &mut self.v_alt);
    }

    /// The smoothed, baseline-corrected signal of the last measured sweep (mV, response
    /// direction up).
    #[cfg(test)]
    pub(crate) fn smoothed(&self) -> &[f64] {
        &self.v
    }

    /// Buffers sized for sweeps of up to `samples` samples and smoothing kernels of up to
    /// `kernel` taps.
    pub fn with_capacity(samples: usize, kernel: usize) -> Self {
        Scratch {
            u: Vec::with_capacity(samples),
            v: Vec::with_capacity(samples),
            kernel: Vec::with_capacity(kernel),
            sx: Vec::with_capacity(samples),
            u_alt: Vec::with_capacity(samples),
            v_alt: Vec::with_capacity(samples),
            cols: ColumnCache::default(),
            xc: Vec::with_capacity(samples),
        }
    }
}

/// Where the markers fell, as fractional sample indices into the sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Markers {
    /// Onset.
    pub onset: f64,
    /// Negative peak.
    pub negative_peak: f64,
    /// First return to baseline after the negative peak, if it returned within the sweep.
    pub negative_end: Option<f64>,
    /// Following positive peak, if any.
    pub positive_peak: Option<f64>,
    /// Final return to baseline, if within the sweep.
    pub end: Option<f64>,
}

/// A measured sweep with the details behind its numbers (markers, noise, threshold, baseline
/// model), for displays, reports and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detail {
    /// The result.
    pub response: Response,
    /// Markers, when a response is present.
    pub markers: Option<Markers>,
    /// First sample searched for a response.
    pub search_start: usize,
    /// End of the stimulus artefact used.
    pub artefact_end: usize,
    /// Detection threshold (mV above baseline, in the response's direction).
    pub threshold_mv: f64,
    /// Highest point of the smoothed signal in the search window (mV, response direction).
    pub peak_mv: f64,
    /// Standard deviation of the smoothed baseline noise (mV).
    pub smoothed_noise_mv: f64,
    /// Mains frequency modelled in the baseline, if any.
    pub mains_hz: Option<f64>,
    /// Peak amplitude of the modelled mains (mV).
    pub mains_mv: f64,
    /// Peak amplitude of the mains harmonics removed (mV; 0 when none were).
    pub mains_harmonics_mv: f64,
}

/// The markers and amplitudes found by one pass over `u`/`v`.
#[derive(Debug, Clone, Copy)]
struct Found {
    onset: f64,
    peak: f64,
    amplitude: f64,
    neg_end: Option<f64>,
    pos_peak: Option<(f64, f64)>,
    end: Option<f64>,
    tail_overlap: bool,
    search_start: usize,
    dip: bool,
    /// Sample of the smoothed peak (where the onset is walked back from).
    top: usize,
    /// Whether `onset` is still the level crossing (the foot model not yet followed down to
    /// the 2 % level, nor the checks that depend on the onset made: see
    /// [`Measurer::settle_onset`]).
    coarse: bool,
}

struct Pass {
    found: Option<Found>,
    threshold: f64,
    peak_v: f64,
    sigma_w: f64,
    search_start: usize,
}

impl Measurer {
    /// Measures a motor response (CMAP) on `sweep`. Never fails: a sweep without a response
    /// gives `present == false` and the [`Flag::NoResponse`] flag.
    pub fn measure(&self, sweep: &SweepView<'_>, scratch: &mut Scratch) -> Response {
        self.measure_detailed(sweep, scratch).response
    }

    /// Readies `scratch` for sweeps of `samples` samples at `sample_rate_hz` with these
    /// settings: sizes its buffers and computes the baseline regressors, so that measuring such
    /// sweeps afterwards allocates nothing (one scratch can be readied by up to four measurers
    /// with different settings, e.g. a motor and a sensory one). Measuring without it is
    /// correct too; the first sweep then does this work.
    pub fn prepare(&self, sample_rate_hz: f64, samples: usize, scratch: &mut Scratch) {
        let mains_candidates = self.mains_candidates();
        self.kernel_for(sample_rate_hz, &mut scratch.kernel);
        scratch
            .cols
            .select(sample_rate_hz, mains_candidates, samples, &scratch.kernel);
        for buf in [
            &mut scratch.u,
            &mut scratch.v,
            &mut scratch.sx,
            &mut scratch.u_alt,
            &mut scratch.v_alt,
            &mut scratch.xc,
        ] {
            buf.reserve(samples.saturating_sub(buf.len()));
        }
    }

    /// As [`Measurer::measure`], with the markers and statistics behind the result.
    pub fn measure_detailed(&self, sweep: &SweepView<'_>, scratch: &mut Scratch) -> Detail {
        let x = sweep.samples();
        let (detail, kept) = self.measure_signal(sweep, x, scratch);
        if self.config.mains_harmonics < 2 {
            return detail;
        }
        // Step 9: mains harmonics, fitted to what the kept model leaves on the quiet samples.
        let mut xc = std::mem::take(&mut scratch.xc);
        let cleaned = self.remove_harmonics(sweep, &detail, &kept, scratch, &mut xc);
        let out = match cleaned {
            Some(harmonics_mv) => {
                let (mut again, _) = self.measure_signal(sweep, &xc, scratch);
                again.mains_harmonics_mv = harmonics_mv;
                again
            }
            None => detail,
        };
        scratch.xc = xc;
        out
    }

    /// Steps 1–8 on `x`, which is the sweep's samples or those samples with the mains harmonics
    /// removed (saturation is always judged on the samples as recorded). Returns the result and
    /// the models behind it.
    fn measure_signal(
        &self,
        sweep: &SweepView<'_>,
        x: &[f64],
        scratch: &mut Scratch,
    ) -> (Detail, Kept) {
        let fs = sweep.sample_rate_hz();
        let s = sweep.stimulus_index();
        let n = x.len();
        let cfg = &self.config;
        let ms = |v: f64| v * 1e-3 * fs;

        let guard = (ms(cfg.baseline_guard_ms).round() as usize)
            .min(s - crate::sweep::MIN_BASELINE_SAMPLES);
        let b_end = s - guard;
        let mains_candidates = self.mains_candidates();
        // A drift fitted on the pre-stimulus interval alone would be extrapolated across the
        // whole window; drift is only modelled once post-response samples pin its other end.
        let pre_only = Allow {
            mains: mains_candidates,
            drift: false,
            tail_start: None,
            tau_hint: None,
        };
        self.kernel_for(fs, &mut scratch.kernel);
        scratch
            .cols
            .select(fs, mains_candidates, n, &scratch.kernel);
        // The smoothed residual of every model is the smoothed sweep minus the smoothed model
        // (see `Baseline::smoothed_into`): the sweep is smoothed once.
        // Only the samples between `lo` and `hi` are written and read.
        scratch.sx.resize(n, 0.0);
        let half = scratch.kernel.len() / 2;
        let (lo, hi) = (half.min(n), n.saturating_sub(half).max(half.min(n)));
        smooth_range(x, &scratch.kernel, lo, hi, &mut scratch.sx);
        let mut model = fit_baseline(x, &[(0, b_end)], fs, pre_only, scratch.cols.active());
        let artefact_end = sweep.artefact_end().unwrap_or_else(|| {
            find_artefact_end(x, s, b_end, ms(cfg.max_artefact_ms) as usize, &model)
        });
        let search_start = artefact_end
            .max(s + ms(cfg.min_onset_ms).round() as usize)
            .max(sweep.earliest_onset().unwrap_or(0))
            .min(n - 2);
        let full = Allow {
            mains: mains_candidates,
            drift: true,
            tail_start: Some(artefact_end),
            tau_hint: None,
        };

        // Sized before the first measurement, whichever passes it runs, so that later sweeps of
        // the same length allocate nothing.
        for buf in [&mut scratch.u_alt, &mut scratch.v_alt] {
            buf.clear();
            buf.reserve(n);
        }
        let mut pass = self.pass(x, fs, &model, b_end, search_start, scratch, false);
        // The largest deflection against the first phase, over the threshold (see
        // `opposite_deflection`), from the model nothing is measured against when it is not
        // the kept pass's.
        let mut opposite = None;
        // The model of the whole sweep as quiet: the null hypothesis below, the second search
        // when nothing was found, and step 9's start when nothing is found in the end.
        let h0 = fit_baseline(
            x,
            &[(0, b_end), (artefact_end, n)],
            fs,
            full,
            scratch.cols.active(),
        );
        // The null hypothesis, checked before anything is measured: the window holds nothing but
        // baseline, drift, mains and the artefact's decaying tail. Fitted over the whole sweep,
        // that model absorbs a tail or a mains half-wave that looked like a response, but not a
        // response, which rises and falls where a decaying exponential cannot follow.
        if pass.found.is_some() {
            if h0.drift || h0.mains_hz.is_some() || h0.tail_tau_ms.is_some() {
                // The null pass works in the spare buffers, so that the kept model's residual
                // stays in place when the response stands (the null residual absorbed part of
                // it, and the refits below may all be skipped).
                scratch.swap_residuals();
                let null_pass = self.pass(x, fs, &h0, b_end, search_start, scratch, true);
                // The null model is a baseline only if it still fits the baseline: bent to
                // absorb a response (a short window, where a response has no room to fall back
                // and a drift and a mains period can follow it), it leaves the pre-stimulus
                // samples far noisier than the pre-stimulus model did.
                let null_sigma = std_dev(&scratch.u[..b_end]) * 1e-3;
                if null_pass.found.is_none() && null_sigma <= NULL_BASELINE_RATIO * model.sigma {
                    model = h0;
                    pass = null_pass;
                } else {
                    scratch.swap_residuals();
                }
            }
        } else {
            // Nothing stood above the noise of the pre-stimulus model, but that model may hold
            // no mains term at all (a baseline shorter than a mains period cannot show one) and
            // never holds the artefact's tail: what it lacks counts as noise, or as signal, in
            // the window. Fitted over the whole sweep, the model has them; a response standing
            // above its noise is searched for again, and when found it is measured from the
            // quiet samples around it (step 8), so that the response it absorbed in part leaves
            // no trace.
            if (h0.mains_hz.is_some() && model.mains_hz.is_none()) || h0.tail_tau_ms.is_some() {
                scratch.swap_residuals();
                let again = self.pass(x, fs, &h0, b_end, search_start, scratch, false);
                if again.found.is_some() {
                    model = h0;
                    pass = again;
                } else {
                    // With nothing found, the whole sweep's model is the reference for what
                    // goes the other way too.
                    opposite = Some(opposite_deflection(&scratch.v, &again));
                    scratch.swap_residuals();
                }
            }
        }
        // Refit the baseline over the quiet samples around the response (step 8), twice at
        // most: the second refit uses the response's extent as found after the first.
        let mut last_ranges = [(0usize, 0usize); 3];
        for _ in 0..2 {
            let Some(f) = pass.found else { break };
            let Quiet { ranges, count: k } = quiet_around(&f, artefact_end, b_end, n, fs);
            if k == 1 {
                break;
            }
            // The same quiet samples give the same model, and quiet ranges that moved by a
            // fraction of a millisecond give one that differs by less than the noise: nothing
            // left to refine.
            let moved = ranges
                .iter()
                .zip(&last_ranges)
                .map(|(r, l)| r.0.abs_diff(l.0).max(r.1.abs_diff(l.1)))
                .max()
                .unwrap_or(0);
            if moved as f64 <= ms(REFIT_TOLERANCE_MS) {
                break;
            }
            last_ranges = ranges;
            let ranges = &ranges[..k];
            // A tail can only be fitted from samples after the artefact, and a drift only when
            // samples after the response pin its other end (in a window too short for the
            // response to end, a drift would be extrapolated under the whole response).
            let after = ranges.iter().any(|&(a, _)| a as f64 > f.peak);
            // A tail's τ is looked for near the last fit's first.
            let allow = Allow {
                tail_start: (k > 1 && ranges[1].0 == artefact_end).then_some(artefact_end),
                drift: after,
                tau_hint: model.tail_tau_ms.or(h0.tail_tau_ms),
                ..full
            };
            let refit = fit_baseline(x, ranges, fs, allow, scratch.cols.active());
            if !(refit.drift || refit.mains_hz.is_some() || refit.tail_tau_ms.is_some()) {
                break;
            }
            model = refit;
            pass = self.pass(x, fs, &model, b_end, search_start, scratch, false);
        }
        // The onset of the response kept, from the smoothed residual of its pass (in `v`).
        if let Some(f) = pass.found {
            pass.found = self.settle_onset(&scratch.v, f, pass.sigma_w, pass.threshold, s, fs);
        }
        // The raw residual of the kept model, for the area and the baseline checks.
        model.residual_into(x, self.sign(), 1e3, scratch.cols.active(), &mut scratch.u);
        let to_ms = 1e3 / fs;
        let mut flags = Flags::empty();
        if self.saturated(sweep.samples(), artefact_end, fs) {
            flags.insert(Flag::Saturated);
        }
        let sigma_raw_mv = model.sigma * 1e3;
        let mut response = Response {
            present: false,
            measures: Measures::default(),
            flags,
            baseline_noise_rms_mv: sigma_raw_mv,
            baseline_mv: model.at(s) * 1e3,
        };
        let mut markers = None;
        match pass.found {
            Some(f) => {
                let a = f.amplitude;
                response.present = true;
                let lat = |i: f64| (i - s as f64) * to_ms;
                let m = &mut response.measures;
                m.onset_latency_ms = Some(lat(f.onset));
                m.negative_peak_latency_ms = Some(lat(f.peak));
                m.negative_peak_amplitude_mv = Some(a);
                if let Some(r) = f.neg_end {
                    m.negative_peak_duration_ms = Some((r - f.onset) * to_ms);
                    m.negative_peak_area_mv_ms = Some(integrate(&scratch.u, f.onset, r) * to_ms);
                    m.peak_to_peak_amplitude_mv = f.pos_peak.map(|(_, p)| a - p);
                }
                m.total_duration_ms = f.end.map(|e| (e - f.onset) * to_ms);
                if f.tail_overlap && (f.onset - f.search_start as f64) < ms(0.5) {
                    response.flags.insert(Flag::ArtefactOverlapsOnset);
                }
                if f.onset <= f.search_start as f64 + 0.5 {
                    response.flags.insert(Flag::ArtefactOverlapsOnset);
                }
                // The fitted artefact tail still standing at the onset at a tenth of the 2 %
                // level or more: the onset sits on the tail's subtraction.
                let tail_mv = (model.tail_at(f.onset.floor() as usize) * 1e3).abs();
                if tail_mv > 0.1 * 0.02 * a.max(0.0) && tail_mv > 3.0 * sigma_raw_mv {
                    response.flags.insert(Flag::ArtefactOverlapsOnset);
                }
                if f.dip {
                    response.flags.insert(Flag::InitialPositiveDip);
                }
                if baseline_unstable(&model, &scratch.u[..b_end], s, n, Some(a)) {
                    response.flags.insert(Flag::UnstableBaseline);
                }
                markers = Some(Markers {
                    onset: f.onset,
                    negative_peak: f.peak,
                    negative_end: f.neg_end,
                    positive_peak: f.pos_peak.map(|p| p.0),
                    end: f.end,
                });
            }
            None => {
                response.flags.insert(Flag::NoResponse);
                if baseline_unstable(&model, &scratch.u[..b_end], s, n, None) {
                    response.flags.insert(Flag::UnstableBaseline);
                }
            }
        }
        // A deflection the other way, above the threshold and larger than the response found
        // (if any): the response's first phase is not the one configured.
        let (against, over) = match (pass.found, opposite) {
            (None, Some(o)) => o,
            _ => opposite_deflection(&scratch.v, &pass),
        };
        let found = pass
            .found
            .map_or(pass.peak_v, |f| f.amplitude.max(pass.peak_v));
        if over && against > found {
            response.flags.insert(Flag::OppositePolarity);
        }
        let quiet = match pass.found {
            Some(f) => quiet_around(&f, artefact_end, b_end, n, fs),
            None => Quiet {
                ranges: [(0, b_end), (artefact_end, n), (0, 0)],
                count: 2,
            },
        };
        let detail = Detail {
            response,
            markers,
            search_start: pass.search_start,
            artefact_end,
            threshold_mv: pass.threshold * pass.sigma_w,
            peak_mv: pass.peak_v,
            smoothed_noise_mv: pass.sigma_w,
            mains_hz: model.mains_hz,
            mains_mv: model.mains_amplitude() * 1e3,
            mains_harmonics_mv: 0.0,
        };
        (
            detail,
            Kept {
                model,
                quiet,
                whole_sweep: h0,
            },
        )
    }

    /// The mains frequencies the baseline model may try (Hz).
    fn mains_candidates(&self) -> &[f64] {
        match self.config.mains {
            MainsModel::Off => &[],
            MainsModel::Auto => &[50.0, 60.0],
            MainsModel::Hz(ref f) => std::slice::from_ref(f),
        }
    }

    fn sign(&self) -> f64 {
        match self.config.polarity {
            Polarity::NegativeFirst => -1.0,
            Polarity::PositiveFirst => 1.0,
        }
    }

    /// One pass of steps 2–7 over the baseline-corrected signal.
    #[allow(clippy::too_many_arguments)]
    fn pass(
        &self,
        x: &[f64],
        fs: f64,
        model: &Baseline,
        b_end: usize,
        search_start: usize,
        scratch: &mut Scratch,
        decide_only: bool,
    ) -> Pass {
        let n = x.len();
        let sign = self.sign();
        // Every sample of `v` is written below; `u`, the raw residual, only where this pass
        // reads it (the baseline, the ends for the smoothing, the parabolas' windows): the
        // measurement writes it whole for the model it keeps.
        scratch.v.resize(n, 0.0);
        scratch.u.resize(n, 0.0);
        let Scratch {
            u,
            v,
            kernel,
            sx,
            cols,
            ..
        } = scratch;
        let cols = cols.active();
        let half = kernel.len() / 2;
        let head = b_end.max(2 * half).min(n);
        model.residual_range(x, sign, 1e3, cols, 0, head, u);
        model.residual_range(
            x,
            sign,
            1e3,
            cols,
            n.saturating_sub(2 * half).max(head),
            n,
            u,
        );
        let (lo, hi) = model.smoothed_into(sx, sign, 1e3, cols, v);
        // The ends, where the smoothing window reaches past the sweep, from the residual.
        smooth_range(u, kernel, 0, lo, v);
        smooth_range(u, kernel, hi, n, v);

        // Noise: raw σ from the baseline residual; smoothed σ from v, never below the white-noise
        // prediction.
        let sigma_raw = std_dev(&u[..b_end]);
        let h2: f64 = kernel.iter().map(|w| w * w).sum();
        let half = kernel.len() / 2;
        let (vs, ve) = (
            half.min(b_end / 2),
            b_end.saturating_sub(half).max(b_end / 2 + 1),
        );
        let sigma_v = std_dev(&v[vs..ve]);
        let sigma_w = sigma_v.max(sigma_raw * h2.sqrt()).max(f64::MIN_POSITIVE);
        let k = self.threshold_sigma(n - search_start, 1.0 / h2);

        let ms = |t: f64| t * 1e-3 * fs;
        // Skip a decaying artefact tail that the window opens on: advance while the signal is
        // still beyond 2σ_w on the tail's side and still falling back over 0.25 ms spans (a
        // sample-to-sample test would stop at the first noise wiggle).
        let mut j0 = search_start;
        let mut tail_overlap = false;
        if v[j0].abs() > 4.0 * sigma_w {
            tail_overlap = true;
            let side = v[j0].signum();
            let d = (ms(0.25).round() as usize).max(1);
            while j0 + d < n && side * v[j0] > 2.0 * sigma_w && side * v[j0 + d] < side * v[j0] {
                j0 += 1;
            }
        }
        let (p, peak_v) = argmax(&v[j0..]).map_or((j0, f64::NEG_INFINITY), |(i, m)| (j0 + i, m));
        let threshold = k;
        let mut out = Pass {
            found: None,
            threshold,
            peak_v,
            sigma_w,
            search_start: j0,
        };
        if peak_v < k * sigma_w || p + 1 >= n || p <= j0 {
            return out;
        }
        let a0 = peak_v;
        // Return to baseline after the peak.
        let neg_end = (p..n - 1)
            .find(|&i| v[i + 1] <= 0.0)
            .map(|i| crossing(v, i, 0.0));
        // The foot fit does not depend on the amplitude the onset is taken at, only on where
        // the edge lies: the two calls below share it when the edge is the same.
        let mut foot = FootMemo::default();
        // The level crossing first: the foot model (a search) is followed only for the
        // measurement kept (`settle_onset`), or here when the crossing alone would make the
        // negative phase too short.
        let min_phase = ms(self.config.min_phase_ms);
        let phase_from = |onset: f64| neg_end.unwrap_or((n - 1) as f64) - onset;
        let mut onset0 = onset_from(v, p, j0, a0, sigma_w, true, &mut foot);
        if phase_from(onset0) < min_phase && !decide_only {
            onset0 = onset_from(v, p, j0, a0, sigma_w, false, &mut foot);
        }
        if phase_from(onset0) < min_phase {
            return out;
        }
        let phase = phase_from(onset0);
        if decide_only {
            // Only the presence decision was asked for: report it with the coarse markers.
            out.found = Some(Found {
                onset: onset0,
                peak: p as f64,
                amplitude: a0,
                neg_end,
                pos_peak: None,
                end: None,
                tail_overlap,
                search_start: j0,
                dip: false,
                top: p,
                coarse: true,
            });
            return out;
        }
        // Parabola around the peak on the raw samples.
        let w = ((0.1 * phase).clamp(ms(0.1), ms(1.0)).round() as usize).max(2);
        let (lo, hi) = (p.saturating_sub(w).max(j0), (p + w).min(n - 1));
        model.residual_range(x, sign, 1e3, cols, lo, hi + 1, u);
        let (peak, amplitude) = parabola_extremum(u, lo, hi, true)
            .filter(|&(_, a)| a > 0.0 && a < 1.5 * a0)
            .unwrap_or((p as f64, a0));
        let onset = onset_from(v, p, j0, amplitude, sigma_w, true, &mut foot);
        // Following positive peak.
        let pos_peak = neg_end.and_then(|r| {
            let r0 = r.ceil() as usize;
            if r0 >= n - 1 {
                return None;
            }
            // The positive phase runs from the return until the signal has been back on the
            // response's side of baseline for 0.2 ms; searching the rest of the sweep would pick
            // up noise excursions instead of the phase's peak.
            let (mut q, mut qv) = (r0, f64::INFINITY);
            let back = (ms(0.2).round() as usize).max(2);
            let mut run = 0;
            let mut phase_end = n - 1;
            for (i, &val) in v.iter().enumerate().skip(r0) {
                if val < qv {
                    qv = val;
                    q = i;
                }
                run = if val > 0.0 { run + 1 } else { 0 };
                if run >= back {
                    phase_end = i + 1 - run;
                    break;
                }
            }
            // The positive phase is broader and lower than the negative one: fit over 20 % of
            // its length on each side so that noise does not set its peak.
            let wq = w
                .max((0.2 * (phase_end - r0) as f64) as usize)
                .min(ms(2.0) as usize)
                .max(2);
            let (lo, hi) = (q.saturating_sub(wq).max(r0), (q + wq).min(n - 1));
            model.residual_range(x, sign, 1e3, cols, lo, hi + 1, u);
            let refined = parabola_extremum(u, lo, hi, false)
                .filter(|&(_, val)| val < 0.0 && val > 1.5 * qv.min(0.0) - 3.0 * sigma_w);
            Some(refined.unwrap_or((q as f64, qv.min(0.0))))
        });
        // Final return to baseline.
        let level = (0.02 * amplitude).max(3.0 * sigma_w);
        // The first point after the negative peak (and the positive peak, if any) from which the
        // signal stays within `level` for 2 ms: a single "last sample above level" would be set
        // by the noise's excursions anywhere in the rest of the sweep.
        let hold = (ms(2.0).round() as usize).max(4);
        let from = pos_peak.map_or(p, |(q, _)| q.ceil() as usize).min(n - 1);
        let mut end = None;
        let mut run = 0;
        for i in from..n {
            if v[i].abs() <= level {
                run += 1;
                if run >= hold {
                    let e = i + 1 - run;
                    end = Some(if e > 0 {
                        crossing_abs(v, e - 1, level)
                    } else {
                        e as f64
                    });
                    break;
                }
            } else {
                run = 0;
            }
        }
        out.found = Some(Found {
            onset,
            peak,
            amplitude,
            neg_end,
            pos_peak,
            end,
            tail_overlap,
            search_start: j0,
            dip: false,
            top: p,
            coarse: true,
        });
        out
    }

    /// Step 6 for the response kept: the onset at 2 % of the negative-peak amplitude (the foot
    /// model followed down when that level is in the noise), then what depends on it: the
    /// latest onset allowed and the initial positive dip. `v` is the smoothed residual of the
    /// pass that found `f`, `k` its threshold (in σ_w). `None` when the onset is too late.
    fn settle_onset(
        &self,
        v: &[f64],
        f: Found,
        sigma_w: f64,
        k: f64,
        s: usize,
        fs: f64,
    ) -> Option<Found> {
        if !f.coarse {
            return Some(f);
        }
        let ms = |t: f64| t * 1e-3 * fs;
        let j0 = f.search_start;
        let onset = onset_from(
            v,
            f.top,
            j0,
            f.amplitude,
            sigma_w,
            false,
            &mut FootMemo::default(),
        );
        if let Some(max) = self.config.max_onset_ms {
            if onset > s as f64 + ms(max) {
                return None;
            }
        }
        // Initial positive dip: a significant deflection the other way in the 2 ms before onset.
        let dip_from = (onset - ms(2.0)).max(j0 as f64) as usize;
        let dip_level = (3.0 * k / 5.0 * sigma_w).max(0.05 * f.amplitude);
        let dip = v[dip_from..(onset.floor() as usize).max(dip_from)]
            .iter()
            .any(|&val| val < -dip_level);
        Some(Found {
            onset,
            dip,
            coarse: false,
            ..f
        })
    }
}

/// The largest deflection against the first phase in the window of `pass` (whose smoothed
/// residual is `v`; mV) and whether it stands above the pass's detection threshold.
fn opposite_deflection(v: &[f64], pass: &Pass) -> (f64, bool) {
    let from = pass.search_start.min(v.len());
    let against = v[from..].iter().fold(0.0f64, |m, &x| m.max(-x));
    (against, against > pass.threshold * pass.sigma_w)
}

/// Samples a baseline model takes as quiet: up to three ranges, the first `count` used.
#[derive(Debug, Clone, Copy)]
struct Quiet {
    ranges: [(usize, usize); 3],
    count: usize,
}

/// The models behind a measurement (steps 1–8), for step 9.
struct Kept {
    /// The baseline model kept.
    model: Baseline,
    /// The samples it takes as quiet (the whole sweep when no response was found).
    quiet: Quiet,
    /// The model of the whole sweep as quiet.
    whole_sweep: Baseline,
}

impl Quiet {
    fn ranges(&self) -> &[(usize, usize)] {
        &self.ranges[..self.count]
    }
}

/// The quiet samples around a found response (step 8): the baseline; the window between the
/// artefact and the onset, less a guard as long as the response's rise (0.2–1 ms: a slow foot
/// is not quiet, and a sensory response close to the artefact leaves little else to pin the
/// artefact's tail down); and from 1 ms after the response's end (or, when no end was found,
/// after its negative phase) to the end of the sweep. Ranges under 0.25 ms (before the onset)
/// or 1 ms (after the response) are left out.
fn quiet_around(f: &Found, artefact_end: usize, b_end: usize, n: usize, fs: f64) -> Quiet {
    let ms = |v: f64| v * 1e-3 * fs;
    let guard = (f.peak - f.onset).clamp(ms(0.2), ms(1.0));
    let before = (artefact_end, (f.onset - guard).floor().max(0.0) as usize);
    let after_from = f.end.or(f.neg_end).unwrap_or(f.peak).ceil() as usize + ms(1.0) as usize;
    let mut quiet = Quiet {
        ranges: [(0, b_end), (0, 0), (0, 0)],
        count: 1,
    };
    let min_before = (ms(0.25) as usize).max(8);
    let min_after = (ms(1.0) as usize).max(8);
    for ((a, b), min_len) in [(before, min_before), ((after_from, n), min_after)] {
        if b > a + min_len {
            quiet.ranges[quiet.count] = (a, b);
            quiet.count += 1;
        }
    }
    quiet
}

/// A whole-sweep null model that leaves the pre-stimulus samples this much noisier than the
/// pre-stimulus model did has absorbed something in the window that is not baseline.
const NULL_BASELINE_RATIO: f64 = 1.5;

/// Share of the residual's sum of squares the mains harmonics must explain to be removed
/// (step 9): less changes the noise estimate, and so the threshold, by under 10 %.
const HARMONICS_MIN_SHARE: f64 = 0.2;

impl Measurer {
    /// Step 9: fits mains harmonics 2..=`mains_harmonics` of the fundamental found, to what the
    /// kept model (or, without a response, the model of the whole sweep as quiet) leaves on the
    /// quiet samples, and writes the sweep without them into `xc` when they explain at least
    /// [`HARMONICS_MIN_SHARE`] of it. Returns their amplitude (mV) when they do.
    fn remove_harmonics(
        &self,
        sweep: &SweepView<'_>,
        detail: &Detail,
        kept: &Kept,
        scratch: &mut Scratch,
        xc: &mut Vec<f64>,
    ) -> Option<f64> {
        let (x, quiet, model) = (sweep.samples(), &kept.quiet, kept.model);
        let b_end = quiet.ranges[0].1;
        // White noise has a first-difference variance of 2σ², and mains harmonics hardly change
        // from one sample to the next: a residual no larger than that holds nothing to remove.
        // (A cheap test that spares the fit on most sweeps; coloured noise passes it and is then
        // judged by the fit itself.)
        let diffs = b_end.saturating_sub(1).max(1) as f64;
        let sd2 = x[..b_end]
            .windows(2)
            .map(|w| (w[1] - w[0]) * (w[1] - w[0]))
            .sum::<f64>()
            / (2.0 * diffs);
        if model.sigma * model.sigma <= 1.2 * sd2 {
            return None;
        }
        let present = detail.response.present;
        if let Some(a) = detail.response.measures.negative_peak_amplitude_mv {
            // Harmonics hold at most the residual's variance beyond the white noise; their
            // amplitude is then at most √2 times its root. Below a quarter of the 2 % onset level
            // they move no marker by a material amount: not worth a second measurement.
            let bound_mv = (2.0 * (model.sigma * model.sigma - sd2)).sqrt() * 1e3;
            if bound_mv < 0.005 * a {
                return None;
            }
        }
        // Without a response, the model kept was fitted before the stimulus only, where a 20 ms
        // baseline may not even hold one mains period: the whole sweep is the quiet sample.
        let model = if present { model } else { kept.whole_sweep };
        // No mains term (mains not modelled, or none found): no harmonics either.
        let omega = model.mains_omega()?;
        let r = if present {
            &scratch.u
        } else {
            model.residual_into(x, 1.0, 1.0, scratch.cols.active(), &mut scratch.u_alt);
            &scratch.u_alt
        };
        // `u` is in mV with the response's sign; `u_alt` in volts as recorded.
        let k = if present { self.sign() * 1e3 } else { 1.0 };
        let columns = model
            .mains_candidate()
            .and_then(|c| scratch.cols.active().harmonics(c));
        let h = fit_harmonics(
            r,
            quiet.ranges(),
            omega,
            columns,
            self.config.mains_harmonics,
            HARMONICS_MIN_SHARE,
        )?;
        h.subtract_into(x, 1.0 / k, columns, xc);
        Some(h.amplitude() / k.abs() * 1e3)
    }
}

/// Onset by the 2 % rule (module docs, step 6): walk back from the peak `p` of `v` (amplitude
/// `a`) to the 2 % level, or to `3σ_w` and extrapolate the leading edge down to 2 %. Never
/// earlier than `j0`. `coarse` skips the extrapolation (for the presence decision alone).
///
/// The extrapolation fits the foot of the response with a piecewise model, zero before `t₀`
/// and `β·(t − t₀)ᵏ` after, over the quiet samples before the level crossing and the edge up to
/// `FOOT_TOP` of the amplitude, for `k` from 1 (a linear foot) to 6 (close to a Gaussian's) and
/// `t₀` on a 0.1-sample grid, searched coarse to fine (β is linear least squares for each pair,
/// the residual in closed form, so a low-SNR sweep with a long foot stays well under a
/// millisecond); the best fit gives the
/// time the model reaches 2 %. The quiet samples pin `t₀` down, and a family this wide follows
/// abrupt feet (a few early motor units with sharp potentials) and smooth ones (a broad
/// conduction-velocity distribution) alike, where one fixed shape would bias one of them.
fn onset_from(
    v: &[f64],
    p: usize,
    j0: usize,
    a: f64,
    sigma_w: f64,
    coarse: bool,
    memo: &mut FootMemo,
) -> f64 {
    let target = 0.02 * a;
    let level = target.max(3.0 * sigma_w);
    let Some(c) = (j0..p).rev().find(|&i| v[i] <= level) else {
        return j0 as f64;
    };
    let at_level = crossing(v, c, level);
    if level <= target || coarse {
        return at_level;
    }
    let top = FOOT_TOP.max(2.0 * level / a).min(0.9) * a;
    let end = (c + 1..=p).find(|&i| v[i] > top).unwrap_or(p);
    let span = (end as f64 - at_level).max(1.0);
    let lo_bound = (j0 as f64).max(at_level - span);
    let before = ((span * 1.5).ceil() as usize).max(4);
    let from = c.saturating_sub(before).max(j0);
    let key = (c, from, end, at_level.to_bits());
    let fit = match *memo {
        FootMemo(Some((k, fit))) if k == key => fit,
        _ => {
            let fit = foot_search(v, from, c, end, at_level);
            *memo = FootMemo(Some((key, fit)));
            fit
        }
    };
    let best = fit.map(|(t0, beta, k)| t0 + (target / beta).powf(1.0 / k));
    if let Some(onset) = best {
        return onset.clamp(lo_bound, at_level);
    }
    // Too few points to fit: extrapolate linearly from the level crossing with the local slope.
    let slope = v[c + 1] - v[c];
    if slope > 0.0 {
        (at_level - (level - target) / slope).clamp(lo_bound, at_level)
    } else {
        at_level
    }
}

/// The last foot fit of a pass, keyed by the edge it was fitted to (level crossing `c`, first
/// and end sample, crossing point): `(t₀, β, k)` of the best fit, if any.
#[derive(Debug, Default, Clone, Copy)]
struct FootMemo(Option<(FootKey, Option<FootFit>)>);

/// Level crossing sample, first and end sample, crossing point's bits.
type FootKey = (usize, usize, usize, u64);
/// `(t₀, β, k)` of a foot fit.
type FootFit = (f64, f64, f64);

/// The foot model's best fit (`onset_from`) over `v[from..end]`, level crossing at sample `c`
/// (fractional `at_level`): `(t₀, β, k)` with the least residual over the exponents and the
/// `t₀` grid, or `None` when the edge is too short or no fit has β > 0.
fn foot_search(
    v: &[f64],
    from: usize,
    c: usize,
    end: usize,
    at_level: f64,
) -> Option<(f64, f64, f64)> {
    // Piecewise foot model over the quiet samples before the level crossing and the edge above
    // it: 0 before t₀, β·(t − t₀)ᵏ after. The quiet samples pin t₀ down; β is linear least
    // squares for each (t₀, k) on a grid.
    let mut best: Option<(f64, FootFit)> = None; // (residual, (t₀, β, k))
    if end > c + 2 {
        let t_lo = from as f64;
        let steps = (((at_level - t_lo) / 0.1).ceil() as usize).clamp(1, 400);
        let t_at = |st: usize| t_lo + (at_level - t_lo) * st as f64 / steps as f64;
        let svv: f64 = v[from..end].iter().map(|x| x * x).sum();
        // The residual over t₀ is smooth between samples: for each exponent, the best point of
        // a grid of every `FOOT_COARSE`-th step, then every step around it, finds the full
        // grid's best. The coarse grid is shared by all exponents: one pass over the samples
        // per grid point gives the sums of all six.
        let mut coarse: [Option<(f64, usize, f64)>; FOOT_EXPONENTS.len()] =
            [None; FOOT_EXPONENTS.len()];
        for st in (0..=steps).step_by(FOOT_COARSE).chain([steps]) {
            let t0 = t_at(st);
            let first = (t0.floor() as usize + 1).max(from).min(end);
            let sums = foot_sums_all(&v[first..end], first, t0);
            for ((&(sgv, sgg), best_k), _) in sums.iter().zip(&mut coarse).zip(FOOT_EXPONENTS) {
                if let Some((res, beta)) = foot_solution(sgv, sgg, svv) {
                    if best_k.is_none_or(|(r, _, _)| res < r) {
                        *best_k = Some((res, st, beta));
                    }
                }
            }
        }
        for (&k, coarse) in FOOT_EXPONENTS.iter().zip(coarse) {
            let Some((_, at, _)) = coarse else { continue };
            let mut fine = coarse;
            for st in at.saturating_sub(FOOT_COARSE - 1)..=(at + FOOT_COARSE - 1).min(steps) {
                if let Some((res, beta)) = foot_fit(v, from, end, k, t_at(st), svv) {
                    if fine.is_none_or(|(r, _, _)| res < r) {
                        fine = Some((res, st, beta));
                    }
                }
            }
            if let Some((res, st, beta)) = fine {
                if best.is_none_or(|(r, _)| res < r) {
                    best = Some((res, (t_at(st), beta, k)));
                }
            }
        }
    }
    best.map(|(_, fit)| fit)
}

/// Least-squares fit of `β·(t − t₀)ᵏ`, zero before `t₀`, to `v[from..end]`, whose sum of
/// squares is `svv`: the residual sum of squares and β, when β > 0.
fn foot_fit(v: &[f64], from: usize, end: usize, k: f64, t0: f64, svv: f64) -> Option<(f64, f64)> {
    // Samples at or before t₀ are fitted by the zero: only those after it enter the sums, and
    // the residual is Σv² − β·Σgv in closed form.
    let first = (t0.floor() as usize + 1).max(from).min(end);
    let v = &v[first..end];
    // One loop per exponent, so that the power is a few multiplications inlined into it.
    let (sgv, sgg) = match k as u32 {
        1 if k > 1.0 => foot_sums(v, first, t0, |d| d * d.sqrt()),
        1 => foot_sums(v, first, t0, |d| d),
        2 => foot_sums(v, first, t0, |d| d * d),
        3 => foot_sums(v, first, t0, |d| d * d * d),
        4 => foot_sums(v, first, t0, |d| (d * d) * (d * d)),
        6 => foot_sums(v, first, t0, |d| (d * d * d) * (d * d * d)),
        _ => foot_sums(v, first, t0, |d| d.powf(k)),
    };
    foot_solution(sgv, sgg, svv)
}

/// The residual sum of squares and β of a foot fit from its sums, when β > 0.
#[inline]
fn foot_solution(sgv: f64, sgg: f64, svv: f64) -> Option<(f64, f64)> {
    if sgg <= 0.0 {
        return None;
    }
    let beta = sgv / sgg;
    (beta > 0.0).then_some((svv - beta * sgv, beta))
}

/// `Σ g·v` and `Σ g²` over `v` (the samples from index `first` on), `g = pow(i − t₀)`. Four
/// partial sums side by side, so that the loop runs in vector lanes instead of waiting on one
/// accumulator (the sums differ from a single running sum by rounding only).
#[inline(always)]
fn foot_sums(v: &[f64], first: usize, t0: f64, pow: impl Fn(f64) -> f64) -> (f64, f64) {
    const L: usize = 4;
    let (mut gv, mut gg) = ([0.0f64; L], [0.0f64; L]);
    // Sample indices as exact f64 integers, so `i − t₀` is the same single rounding as
    // `i as f64 - t0`.
    let mut idx = [0.0f64; L];
    for (j, x) in idx.iter_mut().enumerate() {
        *x = (first + j) as f64;
    }
    let chunks = v.chunks_exact(L);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..L {
            let g = pow(idx[j] - t0);
            gv[j] += g * c[j];
            gg[j] += g * g;
            idx[j] += L as f64;
        }
    }
    for (j, &val) in rest.iter().enumerate() {
        let g = pow(idx[j] - t0);
        gv[j] += g * val;
        gg[j] += g * g;
    }
    (
        (gv[0] + gv[1]) + (gv[2] + gv[3]),
        (gg[0] + gg[1]) + (gg[2] + gg[3]),
    )
}

/// [`foot_sums`] for every exponent of `FOOT_EXPONENTS` at once (same operations in the same
/// order for each, so the same sums), sharing the loads and `i − t₀`.
fn foot_sums_all(v: &[f64], first: usize, t0: f64) -> [(f64, f64); 6] {
    const L: usize = 4;
    const _: () = assert!(FOOT_EXPONENTS.len() == 6);
    #[inline(always)]
    fn powers(d: f64) -> [f64; 6] {
        let d2 = d * d;
        let d3 = d2 * d;
        [d, d * d.sqrt(), d2, d3, d2 * d2, d3 * d3]
    }
    let (mut gv, mut gg) = ([[0.0f64; L]; 6], [[0.0f64; L]; 6]);
    let mut idx = [0.0f64; L];
    for (j, x) in idx.iter_mut().enumerate() {
        *x = (first + j) as f64;
    }
    let chunks = v.chunks_exact(L);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..L {
            let g = powers(idx[j] - t0);
            for e in 0..6 {
                gv[e][j] += g[e] * c[j];
                gg[e][j] += g[e] * g[e];
            }
            idx[j] += L as f64;
        }
    }
    for (j, &val) in rest.iter().enumerate() {
        let g = powers(idx[j] - t0);
        for e in 0..6 {
            gv[e][j] += g[e] * val;
            gg[e][j] += g[e] * g[e];
        }
    }
    std::array::from_fn(|e| {
        let (a, b) = (gv[e], gg[e]);
        ((a[0] + a[1]) + (a[2] + a[3]), (b[0] + b[1]) + (b[2] + b[3]))
    })
}

/// Fractional index after sample `e` where `|v|` falls to `level`.
fn crossing_abs(v: &[f64], e: usize, level: f64) -> f64 {
    let a = v[e].abs();
    let b = v[e + 1].abs();
    if (a - b).abs() < f64::MIN_POSITIVE {
        return e as f64;
    }
    e as f64 + ((a - level) / (a - b)).clamp(0.0, 1.0)
}

/// End of the stimulus artefact when the sweep does not declare it: the stimulus transient is
/// steep, so it lasts while the sample-to-sample change exceeds 8 robust standard deviations of
/// the baseline's changes (at most `max_len` samples after the stimulus).
fn find_artefact_end(x: &[f64], s: usize, b_end: usize, max_len: usize, model: &Baseline) -> usize {
    let n = x.len();
    // Robust σ of first differences over the baseline (MAD · 1.4826), median found by selection
    // over a bounded stack copy to stay allocation-free.
    let mut buf = [0.0f64; 512];
    let from = b_end.saturating_sub(buf.len() + 1);
    let mut m = 0;
    for i in from + 1..b_end {
        buf[m] = (x[i] - x[i - 1]).abs();
        m += 1;
    }
    let d = &mut buf[..m];
    let sigma_d = if m > 0 {
        let mid = m / 2;
        d.select_nth_unstable_by(mid, f64::total_cmp);
        d[mid] * 1.4826
    } else {
        0.0
    };
    let sigma_d = sigma_d.max(model.sigma * 0.1).max(f64::MIN_POSITIVE);
    let limit = (s + max_len).min(n - 2);
    let mut end = s;
    for i in s..limit {
        if (x[i + 1] - x[i]).abs() > 8.0 * sigma_d {
            end = i + 2;
        }
    }
    end.min(n - 2)
}

/// Baseline stability: a drift across the sweep, or a baseline whose noise changes within the
/// pre-stimulus interval, large enough to disturb the measures.
fn baseline_unstable(
    model: &Baseline,
    base_u: &[f64],
    s: usize,
    n: usize,
    amplitude: Option<f64>,
) -> bool {
    let sigma_mv = model.sigma * 1e3;
    let drift_mv = (model.drift_between(0, n) * 1e3).abs();
    let tolerance = amplitude.map_or(5.0 * sigma_mv, |a| (0.05 * a).max(5.0 * sigma_mv));
    if model.drift && drift_mv > tolerance {
        return true;
    }
    if let Some(a) = amplitude {
        if sigma_mv > 0.1 * a {
            return true;
        }
    }
    // Non-stationary baseline: compare the first and second half's spread.
    let half = base_u.len() / 2;
    if half >= 8 {
        let (a, b) = (std_dev(&base_u[..half]), std_dev(&base_u[half..]));
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        if hi > 3.0 * lo.max(f64::MIN_POSITIVE) && hi > 2.0 * sigma_mv.min(hi) * 0.5 {
            return true;
        }
    }
    let _ = s;
    false
}

impl Measurer {
    /// Clipping inside the response window: samples at the configured rails, or flat runs at
    /// the window's extremes (an amplifier or converter holding its limit).
    fn saturated(&self, x: &[f64], from: usize, fs: f64) -> bool {
        let w = &x[from.min(x.len())..];
        if w.is_empty() {
            return false;
        }
        if let Some(r) = self.config.rails_volts {
            return w.iter().any(|v| v.abs() >= 0.995 * r);
        }
        let min_run = ((0.15e-3 * fs).round() as usize).max(3);
        // A flat run needs equal neighbours, which most sweeps do not have; this check is
        // cheaper than the full scan.
        let equal_neighbours = w
            .windows(2)
            .fold(false, |found, pair| found | (pair[0] == pair[1]));
        equal_neighbours && crate::saturation::flat_run_at_extreme(w, min_run)
    }
}

#[cfg(test)]
mod tests {
    use crate::{MainsModel, MeasureConfig, Scratch, SweepView};

    /// A CMAP-like sweep with noise, mains and an artefact tail, 10 ms before and 40 ms after
    /// the stimulus at `fs`.
    fn sweep(fs: f64, amp: f64, seed: u64) -> (Vec<f64>, usize) {
        let stim = (0.010 * fs) as usize;
        let n = (0.050 * fs) as usize;
        let mut state = 0x2545_F491_4F6C_DD1D_u64 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let data = (0..n)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let noise = ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 70e-6;
                let t = (i as f64 - stim as f64) / fs * 1e3;
                let cmap = if t > 0.0 {
                    let x = t - 6.0;
                    amp * (-(-(x * x) / 3.0).exp() + 0.4 * (-((x - 4.0) * (x - 4.0)) / 6.0).exp())
                } else {
                    0.0
                };
                let tail = if t >= 0.0 {
                    3e-3 * (-t / 0.4).exp()
                } else {
                    0.0
                };
                cmap + tail + noise + 20e-6 * (std::f64::consts::TAU * 60.0 * i as f64 / fs).sin()
            })
            .collect();
        (data, stim)
    }

    /// The scratch keeps regressor columns between sweeps: reusing it across sample rates,
    /// lengths, smoothing kernels and mains settings must give exactly what a fresh one gives.
    #[test]
    fn reused_scratch_measures_as_a_fresh_one() {
        let configs = [
            MeasureConfig::default(),
            MeasureConfig::sensory(),
            MeasureConfig {
                mains: MainsModel::Off,
                ..MeasureConfig::default()
            },
            MeasureConfig {
                mains: MainsModel::Hz(60.0),
                ..MeasureConfig::default()
            },
        ];
        let mut shared = Scratch::default();
        let mut present = 0;
        for (k, fs) in [20_000.0, 10_000.0, 48_000.0, 20_000.0, 4_000.0]
            .iter()
            .enumerate()
        {
            for (c, config) in configs.iter().enumerate() {
                let m = config.build().unwrap();
                for amp in [5e-3, 0.0] {
                    let (x, stim) = sweep(*fs, amp, (k * 10 + c) as u64);
                    let view = SweepView::new(&x, *fs, stim).unwrap();
                    let reused = m.measure_detailed(&view, &mut shared);
                    let mut fresh_scratch = Scratch::default();
                    let fresh = m.measure_detailed(&view, &mut fresh_scratch);
                    assert_eq!(reused, fresh, "fs {fs}, config {c}, amplitude {amp}");
                    assert_eq!(shared.smoothed(), fresh_scratch.smoothed());
                    present += reused.response.present as usize;
                }
            }
        }
        assert!(present >= 16, "only {present} responses found");
    }
}
