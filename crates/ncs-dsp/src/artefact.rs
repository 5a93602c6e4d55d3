//! Stimulus detection without a trigger line, from the stimulus artefact on the recording
//! channel.
//!
//! A stimulus artefact is a very brief (≤ ~0.5 ms), very large, very steep transient, often one
//! or two samples wide and possibly saturated. Needle-EMG motor-unit potentials, fasciculations
//! and CMAPs can be as large and (at 4–5 kHz sampling) nearly as steep, so a candidate must pass
//! every one of these tests (ratios are of the candidate's peak deviation `h` from the local
//! baseline `b`, the median of the `pre_ms` before it):
//!
//! 1. **Large**: the jump `|x[n] − x[n−1]|` and `|h|` are both ≥ `threshold × σ`, where σ is a
//!    robust noise scale, 1.4826 × the median absolute deviation of the first difference over
//!    the first `noise_window_ms` of the record, re-estimated on every following window (robust,
//!    so the artefacts themselves do not inflate it).
//! 2. **Brief**: the core (contiguous samples deviating ≥ |h|/2 with the sign of `h`) is at most
//!    `max_width_ms` wide (at least one sample).
//! 3. **Steep on both sides**: entering the core jumps ≥ 0.6|h| in one sample, leaving it drops
//!    ≥ 0.4|h| in one sample, and the sample before the core is within `pre_ratio`·|h| of the
//!    baseline (or on the opposite side): a physiological wave ramps up over several samples.
//! 4. **Out of the blue**: every sample of the `pre_ms` before the core stays within
//!    `pre_ratio`·|h| of the baseline (a motor-unit potential has initial phases, a stimulus is
//!    given on a resting baseline).
//! 5. **Settles at once**: 0.2 ms (at least one sample) after the core (or after an opposite
//!    phase that directly follows it, for biphasic pulses, within the same width limit) for `post_ms` (< 2 ms, before
//!    any response can start) the signal stays within `post_ratio`·|h| of the baseline (a MUP
//!    continues with its terminal phases).
//! 6. **Band-limited**: a one-sample core must spill into a neighbour: at least one of the two
//!    samples beside it deviates from the baseline by ≥ `lobe_ratio`·|h| (either sign). A real
//!    transient passes the amplifier's anti-alias filter and spreads or rings; a lone sample that
//!    leaves both neighbours at the baseline is a digital glitch (such markers exist in public
//!    EMG records), not a stimulus. This assumes an amplifier bandwidth of at least ~fs/4 (so
//!    that the artefact still rises within one sample, rule 3).
//! 7. **From rest**: the local baseline lies within |h|/2 of the channel's level (the median of
//!    the last noise window). A stimulus is given with the muscle at rest; a transient from a
//!    baseline displaced by more than half its own size happens amid a large excursion (e.g. a
//!    clipped or wrapped-around potential) where it cannot be told from a glitch.
//! 8. **Refractory**: a hit within `refractory_ms` of the previous one is ignored.
//!
//! The reported index is the first sample of the core (for a one-sample spike, the spike).
//!
//! Expected results on the public recordings (`/work/shared/data`, channel in volts as stored):
//! all three `emgdb_*` needle-EMG files give no stimulus;
//! `motometrics_biceps_1` gives 59 of its 60 stimuli (sample 1268 of each 5000-sample sweep),
//! `_3` 15 of 60 and `_2` 3 of 60, all at sample 1268 of a sweep and no false hit. In files 2 and
//! 3 the artefact (≈ 15–30 σ) often rides on ongoing activity as large as itself and is not
//! separable by shape; file 2's `/intervals/stimuli` lists sample 1254, 14 samples before the
//! artefact that the sweep average shows at 1268.

use crate::error::{check_fs, check_pos, DspError};

/// Settings of the artefact detector; [`ArtefactConfig::new`] gives the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArtefactConfig {
    /// Sample rate, Hz.
    pub sample_rate_hz: f64,
    /// Multiple of the robust noise scale σ a candidate must exceed (default 12).
    pub threshold: f64,
    /// Longest artefact core, ms (default 0.5; at least one sample).
    pub max_width_ms: f64,
    /// Quiet window required before the artefact, ms (default 5).
    pub pre_ms: f64,
    /// Settled window required after the artefact, ms (default 1.5).
    pub post_ms: f64,
    /// Largest deviation allowed before the artefact, fraction of its peak (default 0.2).
    pub pre_ratio: f64,
    /// Largest deviation allowed after the artefact, fraction of its peak (default 0.25).
    pub post_ratio: f64,
    /// Smallest deviation of a neighbour of a one-sample core, fraction of its peak (default 0.3).
    pub lobe_ratio: f64,
    /// Minimum interval between two stimuli, ms (default 20).
    pub refractory_ms: f64,
    /// Window over which the noise scale is (re-)estimated, ms (default 500).
    pub noise_window_ms: f64,
}

impl ArtefactConfig {
    /// Defaults for sample rate `sample_rate_hz` (tuned on the public recordings, see module doc).
    pub fn new(sample_rate_hz: f64) -> Self {
        Self {
            sample_rate_hz,
            threshold: 12.0,
            max_width_ms: 0.5,
            pre_ms: 5.0,
            post_ms: 1.5,
            pre_ratio: 0.2,
            post_ratio: 0.25,
            lobe_ratio: 0.3,
            refractory_ms: 20.0,
            noise_window_ms: 500.0,
        }
    }

    /// Validates and builds the detector.
    ///
    /// # Errors
    /// Bad sample rate; any duration or ratio not finite and > 0 (`refractory_ms` may be 0).
    pub fn build(&self) -> Result<ArtefactDetector, DspError> {
        let fs = check_fs(self.sample_rate_hz)?;
        check_pos("threshold", self.threshold)?;
        check_pos("max_width_ms", self.max_width_ms)?;
        check_pos("pre_ms", self.pre_ms)?;
        check_pos("post_ms", self.post_ms)?;
        check_pos("pre_ratio", self.pre_ratio)?;
        check_pos("post_ratio", self.post_ratio)?;
        check_pos("lobe_ratio", self.lobe_ratio)?;
        check_pos("noise_window_ms", self.noise_window_ms)?;
        crate::error::check_nonneg("refractory_ms", self.refractory_ms)?;
        let samples = |ms: f64| (ms * 1e-3 * fs + 1e-9).floor() as usize;
        let w = samples(self.max_width_ms).max(1);
        let p = ((self.pre_ms * 1e-3 * fs).round() as usize).max(2);
        let q = ((self.post_ms * 1e-3 * fs).round() as usize).max(1);
        let nw = ((self.noise_window_ms * 1e-3 * fs).round() as usize).max(16);
        Ok(ArtefactDetector {
            k: self.threshold,
            w,
            p,
            q,
            settle: ((0.2e-3 * fs).round() as usize).max(1),
            nw,
            pre_ratio: self.pre_ratio,
            post_ratio: self.post_ratio,
            lobe: self.lobe_ratio,
            refractory: (self.refractory_ms * 1e-3 * fs).round() as u64,
        })
    }
}

/// A ready artefact detector (validated once; use through `&self`).
#[derive(Debug, Clone, PartialEq)]
pub struct ArtefactDetector {
    k: f64,
    w: usize,
    p: usize,
    q: usize,
    settle: usize,
    nw: usize,
    pre_ratio: f64,
    post_ratio: f64,
    lobe: f64,
    refractory: u64,
}

/// Streaming state: a ring of recent samples, the noise scale, the evaluation cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtefactState {
    ring: Vec<f64>,
    scratch: Vec<f64>,
    pos: u64,
    next: u64,
    sigma: Option<f64>,
    level: f64,
    last: Option<u64>,
    skip_until: u64,
}

impl ArtefactState {
    /// Absolute index of the next sample to be pushed.
    pub fn position(&self) -> u64 {
        self.pos
    }
    /// The current robust noise scale σ of the first difference, once known.
    pub fn noise_sigma(&self) -> Option<f64> {
        self.sigma
    }
}

impl ArtefactDetector {
    fn lookahead(&self) -> u64 {
        (2 * self.w + self.settle + self.q + 3) as u64
    }

    /// A fresh state (allocates its ring and scratch once).
    pub fn new_state(&self) -> ArtefactState {
        let cap = self.nw + self.p + 2 * self.w + self.settle + self.q + 16;
        ArtefactState {
            ring: vec![0.0; cap],
            scratch: vec![0.0; self.nw.max(self.p)],
            pos: 0,
            next: (self.p + 3) as u64,
            sigma: None,
            level: 0.0,
            last: None,
            skip_until: 0,
        }
    }

    /// Back to the initial state without reallocating.
    pub fn reset(&self, state: &mut ArtefactState) {
        state.ring.iter_mut().for_each(|v| *v = 0.0);
        state.pos = 0;
        state.next = (self.p + 3) as u64;
        state.sigma = None;
        state.level = 0.0;
        state.last = None;
        state.skip_until = 0;
    }

    /// Pushes a block; calls `on_stimulus(absolute_index)` for each artefact found. Decisions
    /// lag the input by `2 × max_width + 0.2 ms + post + 3` samples and wait for the first noise window;
    /// the results do not depend on how the input is split. Never allocates, never fails.
    pub fn process(
        &self,
        state: &mut ArtefactState,
        block: &[f64],
        mut on_stimulus: impl FnMut(u64),
    ) {
        let cap = state.ring.len() as u64;
        for &x in block {
            state.ring[(state.pos % cap) as usize] = x;
            state.pos += 1;
            if state.pos.is_multiple_of(self.nw as u64) {
                let n = self.nw;
                state.sigma = Some(self.noise(state, state.pos - n as u64, n));
            }
            if state.sigma.is_some() {
                while state.next + self.lookahead() < state.pos {
                    let n = state.next;
                    state.next += 1;
                    if let Some(hit) = self.evaluate(state, n) {
                        on_stimulus(hit);
                    }
                }
            }
        }
    }

    /// Ends the stream: if the first noise window never completed, estimates σ from what was
    /// seen, then evaluates every candidate that has its full look-ahead.
    pub fn finish(&self, state: &mut ArtefactState, mut on_stimulus: impl FnMut(u64)) {
        if state.sigma.is_none() {
            if state.pos < 16 {
                return;
            }
            let n = state.pos as usize;
            state.sigma = Some(self.noise(state, 0, n));
        }
        while state.next + self.lookahead() < state.pos {
            let n = state.next;
            state.next += 1;
            if let Some(hit) = self.evaluate(state, n) {
                on_stimulus(hit);
            }
        }
    }

    /// Whole channel at once: the absolute indices (from 0) of all stimuli found.
    pub fn detect_all(&self, channel: &[f64]) -> Vec<u64> {
        let mut st = self.new_state();
        let mut out = Vec::new();
        self.process(&mut st, channel, |i| out.push(i));
        self.finish(&mut st, |i| out.push(i));
        out
    }

    /// 1.4826 × MAD of the first difference of samples `[start, start + n)`; also updates the
    /// channel level (their median).
    fn noise(&self, st: &mut ArtefactState, start: u64, n: usize) -> f64 {
        let cap = st.ring.len() as u64;
        for i in 0..n {
            st.scratch[i] = st.ring[((start + i as u64) % cap) as usize];
        }
        st.level = median(&mut st.scratch[..n]);
        let m = n - 1;
        for i in 0..m {
            let a = st.ring[((start + i as u64) % cap) as usize];
            let b = st.ring[((start + i as u64 + 1) % cap) as usize];
            st.scratch[i] = b - a;
        }
        let s = &mut st.scratch[..m];
        let med = median(s);
        s.iter_mut().for_each(|v| *v = (*v - med).abs());
        let mad = median(s);
        let sigma = 1.4826 * mad;
        if sigma > 0.0 {
            sigma
        } else {
            // Quantised or silent signal: fall back to the mean absolute deviation.
            let mean = s.iter().sum::<f64>() / m as f64;
            (1.2533 * mean).max(f64::MIN_POSITIVE)
        }
    }

    fn evaluate(&self, st: &mut ArtefactState, n: u64) -> Option<u64> {
        if n < st.skip_until {
            return None;
        }
        let cap = st.ring.len() as u64;
        let sigma = st.sigma?;
        let ring = &st.ring;
        let x = |i: u64| ring[(i % cap) as usize];
        let thr = self.k * sigma;
        if (x(n) - x(n - 1)).abs() < thr {
            return None;
        }
        let p = self.p as u64;
        for (j, v) in st.scratch[..self.p].iter_mut().enumerate() {
            *v = x(n - 1 - p + j as u64);
        }
        let b = median(&mut st.scratch[..self.p]);
        let x = |i: u64| st.ring[(i % cap) as usize];
        let w = self.w as u64;
        let mut m = n - 1;
        for j in n - 1..n + w {
            if (x(j) - b).abs() > (x(m) - b).abs() {
                m = j;
            }
        }
        // A biphasic pulse: if an earlier opposite phase is nearly as large (≥ 80 %), it is the
        // start of the artefact and becomes the core.
        let hm = x(m) - b;
        if let Some(j) = (n - 1..m).find(|&j| (x(j) - b) * hm.signum() <= -0.8 * hm.abs()) {
            m = (j..m).fold(j, |a, k| {
                if (x(k) - b).abs() > (x(a) - b).abs() && (x(k) - b) * hm < 0.0 {
                    k
                } else {
                    a
                }
            });
        }
        let h = x(m) - b;
        let ah = h.abs();
        if ah < thr {
            return None;
        }
        let sgn = h.signum();
        let dev = |i: u64| (x(i) - b) * sgn;
        let mut cs = m;
        while cs > n - 2 && dev(cs - 1) >= ah / 2.0 {
            cs -= 1;
        }
        let mut ce = m;
        while ce < n + w && dev(ce + 1) >= ah / 2.0 {
            ce += 1;
        }
        if ce - cs + 1 > w || (ce == n + w && dev(ce + 1) >= ah / 2.0) {
            return None;
        }
        // A biphasic (charge-balanced) pulse: an opposite phase right after the core belongs to
        // the artefact, as long as the whole stays within the width limit.
        let mut ae = ce;
        while ae < ce + w && ae - cs + 1 < w && dev(ae + 1) <= -ah / 2.0 {
            ae += 1;
        }
        if ae > ce && dev(ae + 1) <= -ah / 2.0 {
            return None;
        }
        let steep_in = (x(cs) - x(cs - 1)) * sgn >= 0.6 * ah;
        let steep_out = (x(ce) - x(ce + 1)) * sgn >= 0.4 * ah;
        if !steep_in || !steep_out || dev(cs - 1) > self.pre_ratio * ah {
            return None;
        }
        if (cs - 1 - p..cs - 1).any(|i| (x(i) - b).abs() > self.pre_ratio * ah) {
            return None;
        }
        let q = self.q as u64;
        let from = ae + 1 + self.settle as u64;
        if (from..from + q).any(|i| (x(i) - b).abs() > self.post_ratio * ah) {
            return None;
        }
        if cs == ce && dev(cs - 1).abs().max(dev(ce + 1).abs()) < self.lobe * ah {
            return None;
        }
        if (b - st.level).abs() > 0.5 * ah {
            return None;
        }
        if st.last.is_some_and(|l| cs < l + self.refractory) {
            return None;
        }
        st.last = Some(cs);
        st.skip_until = ae + 1;
        Some(cs)
    }
}

/// Median by selection (reorders `v`); `v` must be non-empty.
fn median(v: &mut [f64]) -> f64 {
    let n = v.len();
    let (_, hi, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    let hi = *hi;
    if n % 2 == 1 {
        hi
    } else {
        let lo = v[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo + hi) / 2.0
    }
}
