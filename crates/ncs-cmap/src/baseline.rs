//! The baseline model: a constant level, and where they are significant a linear drift, a
//! 50/60 Hz mains sinusoid and the decaying tail of the stimulus artefact, fitted by least
//! squares to the samples known to hold no response.
//!
//! Terms are added one at a time, the most significant first, and only while the gain passes
//! an F-test against the smaller model: every extra term also adds its estimation noise to the
//! whole sweep (a drift slope fitted on a short baseline and extrapolated across the window
//! would add more error to the area of a small response than the drift it removes). The tail
//! is `A·exp(−(i − start)/τ)` from the end of the artefact on, with τ chosen from a grid.
//!
//! Cost: the products of regressors with each other do not depend on the samples. They are
//! sums of (at most linear) polynomials times complex exponentials over index ranges, so they
//! are taken in closed form (geometric series) per range; only the products with the samples
//! are summed, as dot products against regressor columns computed once per sample rate and
//! kept in [`Columns`]. The tail columns stop where `exp(−j/τ)` falls below [`TAIL_FLOOR`].

// Matrix code reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

use crate::config::MAX_MAINS_HARMONICS;
use crate::numeric::{smooth_range, solve_spd};

/// Most regressors in one model: 1, t, sin, cos, tail.
const P: usize = 5;
/// Base regressors gathered for every model: 1, t, and sin/cos for two mains candidates.
const NB: usize = 6;
/// Tail time constants tried (ms).
const TAUS_MS: [f64; 6] = [0.2, 0.35, 0.6, 1.0, 1.7, 3.0];
const NT: usize = TAUS_MS.len();
/// F statistic a term must exceed to be kept (per degree of freedom).
const F_KEEP: f64 = 12.0;
/// A tail regressor is taken as zero once it has decayed below this fraction of its start
/// (its further products with the samples are below rounding).
const TAIL_FLOOR: f64 = 1e-13;

/// Regressor columns for sweeps at one sample rate with one list of mains candidates: the
/// sample index, sine and cosine of each candidate, and the decaying tail for each τ (from its
/// start). They depend on no sweep, so they are computed once and kept for the next sweeps.
#[derive(Debug, Default, Clone)]
pub(crate) struct Columns {
    fs: f64,
    freqs: [f64; 2],
    n_freqs: usize,
    /// Samples covered (one more than the longest sweep, so ranges' ends are inside).
    len: usize,
    ramp: Vec<f64>,
    /// sin ω₁i, cos ω₁i, sin ω₂i, cos ω₂i.
    trig: [Vec<f64>; 4],
    /// Per candidate `k`, per harmonic `h + 2` (of 2 to [`MAX_MAINS_HARMONICS`]): its sine at
    /// `2·(k·MH + h)`, its cosine next.
    harm: [Vec<f64>; 4 * MH],
    /// Per τ: `1/(τ·fs)`, the decay exponent per sample.
    rate: [f64; NT],
    /// Per τ: `exp(−j·rate)` for j from 0 until it falls below [`TAIL_FLOOR`] (or `len`).
    tails: [Vec<f64>; NT],
    /// Smoothing kernel the smoothed columns below were made with.
    kernel: Vec<f64>,
    /// The ramp and trig columns smoothed by `kernel` (valid away from both ends).
    s_ramp: Vec<f64>,
    s_trig: [Vec<f64>; 4],
    /// Per τ: the tail (zero before its start) smoothed by `kernel`; entry `q + half` is the
    /// value `q` samples after the tail's start, from `q = −half` on.
    s_tails: [Vec<f64>; NT],
    /// Per candidate: `1 − e^{iω}`, `1 − e^{2iω}`, and `(sin ω, 2·sin²(ω/2))`.
    den1: [Cx; 2],
    den2: [Cx; 2],
    trig_w: [(f64, f64); 2],
    /// `1 − e^{i(ω₁+ω₂)}` and `1 − e^{i(ω₁−ω₂)}`.
    den_sum: Cx,
    den_diff: Cx,
    /// Per τ: `(d, 1 − d, 1 − d²)` for the decay per sample `d = e^{−rate}`.
    decay: [(f64, f64, f64); NT],
}

impl Columns {
    /// Makes the columns cover sweeps of `n` samples at `fs` with the mains candidates `mains`
    /// (at most two are used) and the smoothing `kernel`; recomputes only when one of these
    /// changed or `n` grew.
    pub(crate) fn prepare(&mut self, fs: f64, mains: &[f64], n: usize, kernel: &[f64]) {
        let m = mains.len().min(2);
        let same = self.fs == fs && self.n_freqs == m && self.freqs[..m] == mains[..m];
        if same && self.len > n {
            if self.kernel != kernel {
                self.smooth_columns(kernel);
            }
            return;
        }
        self.fs = fs;
        self.n_freqs = m;
        self.freqs = [0.0; 2];
        self.freqs[..m].copy_from_slice(&mains[..m]);
        self.len = n + 1;
        let len = self.len;
        for k in 0..m {
            let w = self.omega(k);
            self.den1[k] = one_minus_cis(w);
            self.den2[k] = one_minus_cis(2.0 * w);
            let h = (0.5 * w).sin();
            self.trig_w[k] = (w.sin(), 2.0 * h * h);
        }
        if m == 2 {
            let (w1, w2) = (self.omega(0), self.omega(1));
            self.den_sum = one_minus_cis(w1 + w2);
            self.den_diff = one_minus_cis(w1 - w2);
        }
        self.ramp.clear();
        self.ramp.extend((0..len).map(|i| i as f64));
        for (c, col) in self.trig.iter_mut().enumerate() {
            col.clear();
            if c / 2 < m {
                let w = std::f64::consts::TAU * self.freqs[c / 2] / fs;
                fill_phasor_column(w, len, c % 2 == 1, col);
            }
        }
        for (c, col) in self.harm.iter_mut().enumerate() {
            let (k, h, cosine) = (c / (2 * MH), (c / 2) % MH, c % 2 == 1);
            col.clear();
            if k >= m {
                continue;
            }
            let w = (h + 2) as f64 * std::f64::consts::TAU * self.freqs[k] / fs;
            fill_phasor_column(w, len, cosine, col);
        }
        for (t, tau) in TAUS_MS.iter().enumerate() {
            let rate = 1.0 / (tau * 1e-3 * fs);
            self.rate[t] = rate;
            self.decay[t] = ((-rate).exp(), -(-rate).exp_m1(), -(-2.0 * rate).exp_m1());
            let table: [f64; POW_BLOCK] = std::array::from_fn(|j| (-(j as f64) * rate).exp());
            let col = &mut self.tails[t];
            col.clear();
            'blocks: for start in (0..len).step_by(POW_BLOCK) {
                let base = (-(start as f64) * rate).exp();
                for e in table.iter().take(len - start) {
                    let e = base * e;
                    if e < TAIL_FLOOR {
                        break 'blocks;
                    }
                    col.push(e);
                }
            }
        }
        self.smooth_columns(kernel);
    }

    /// The columns as the signal is smoothed, so that the smoothed residual of a model is a
    /// combination of them and of the smoothed samples (smoothing is linear).
    fn smooth_columns(&mut self, kernel: &[f64]) {
        self.kernel.clear();
        self.kernel.extend_from_slice(kernel);
        let len = self.len;
        let smooth = |src: &[f64], dst: &mut Vec<f64>| {
            dst.clear();
            dst.resize(src.len(), 0.0);
            smooth_range(src, kernel, 0, src.len(), dst);
        };
        smooth(&self.ramp, &mut self.s_ramp);
        for (src, dst) in self.trig.iter().zip(self.s_trig.iter_mut()) {
            smooth(src, dst);
        }
        let half = kernel.len() / 2;
        let mut padded = Vec::new();
        for (tail, dst) in self.tails.iter().zip(self.s_tails.iter_mut()) {
            // The tail with 2·half zeros either side, so that every output is an interior one:
            // entry q + half of the result (q from −half) is the padded tail smoothed at its
            // index q + 2·half.
            padded.clear();
            padded.resize(2 * half, 0.0);
            padded.extend_from_slice(tail);
            padded.resize(tail.len() + 4 * half, 0.0);
            let m = (tail.len() + 2 * half).min(len + half);
            dst.clear();
            dst.resize(padded.len(), 0.0);
            smooth_range(&padded, kernel, half, half + m, dst);
            dst.copy_within(half..half + m, 0);
            dst.truncate(m);
        }
    }

    /// Whether these columns were made for these settings (for some sweep length).
    fn made_for(&self, fs: f64, mains: &[f64], kernel: &[f64]) -> bool {
        let m = mains.len().min(2);
        self.len > 0
            && self.fs == fs
            && self.n_freqs == m
            && self.freqs[..m] == mains[..m]
            && self.kernel == kernel
    }

    /// `exp(−j·rate)` of tail `t`, from the column when it is there; zero where the column
    /// stopped at [`TAIL_FLOOR`] (as the products with the samples are).
    fn tail_pow(&self, t: usize, j: usize) -> f64 {
        match self.tails[t].get(j) {
            Some(&e) => e,
            None if self.tails[t].len() < self.len => 0.0,
            None => (-(j as f64) * self.rate[t]).exp(),
        }
    }

    /// `e^{iωk·i}` for mains candidate `k`, from the columns.
    fn cis(&self, k: usize, i: usize) -> Cx {
        match (self.trig[2 * k + 1].get(i), self.trig[2 * k].get(i)) {
            (Some(&re), Some(&im)) => Cx { re, im },
            _ => Cx::cis(self.omega(k) * i as f64),
        }
    }

    fn omega(&self, k: usize) -> f64 {
        std::f64::consts::TAU * self.freqs[k] / self.fs
    }

    /// Sine and cosine columns of harmonics 2 to [`MAX_MAINS_HARMONICS`] of mains candidate `k`
    /// (see [`HarmonicColumns`]).
    pub(crate) fn harmonics(&self, k: usize) -> Option<HarmonicColumns<'_>> {
        let cols = self.harm.get(2 * k * MH..2 * (k + 1) * MH)?;
        cols.iter()
            .all(|c| c.len() == self.len)
            .then_some(HarmonicColumns(cols))
    }
}

/// `sin((h+2)ωi)` and `cos((h+2)ωi)` of one mains fundamental ω, for `h` in `0..MH`, as columns
/// over the sample index (sine at `2h`, cosine at `2h + 1`).
#[derive(Clone, Copy)]
pub(crate) struct HarmonicColumns<'a>(&'a [Vec<f64>]);

/// `sin(w·i)` (or `cos`) for `i` in `0..len` into `col`: `e^{iwi}` as `e^{iw·(start of its
/// block)}·e^{iw·(offset in the block)}`, two roundings from the exact value wherever `i` lies.
fn fill_phasor_column(w: f64, len: usize, cosine: bool, col: &mut Vec<f64>) {
    let table: [Cx; POW_BLOCK] = std::array::from_fn(|j| Cx::cis(w * j as f64));
    for start in (0..len).step_by(POW_BLOCK) {
        let base = Cx::cis(w * start as f64);
        for z in table.iter().take(len - start) {
            let z = base.mul(*z);
            col.push(if cosine { z.re } else { z.im });
        }
    }
}

/// Block length of the columns' powers (see [`Columns::prepare`]).
const POW_BLOCK: usize = 64;

/// Settings whose columns one scratch keeps at once.
const CACHED_SETTINGS: usize = 4;

/// [`Columns`] for the last few settings (sample rate, mains candidates, smoothing kernel)
/// measured with one scratch, so that alternating between them (motor and sensory sweeps, or
/// channels at different rates) does not recompute the columns for every sweep.
#[derive(Debug, Default, Clone)]
pub(crate) struct ColumnCache {
    sets: Vec<Columns>,
    last_used: Vec<u64>,
    clock: u64,
    active: usize,
}

impl ColumnCache {
    /// Makes the columns for these settings (see [`Columns::prepare`]) the active ones,
    /// replacing the least recently used set when all are taken.
    pub(crate) fn select(&mut self, fs: f64, mains: &[f64], n: usize, kernel: &[f64]) {
        self.clock += 1;
        let i = match self.sets.iter().position(|c| c.made_for(fs, mains, kernel)) {
            Some(i) => i,
            None if self.sets.len() < CACHED_SETTINGS => {
                self.sets.push(Columns::default());
                self.last_used.push(0);
                self.sets.len() - 1
            }
            None => (0..self.sets.len())
                .min_by_key(|&i| self.last_used[i])
                .unwrap_or(0),
        };
        self.last_used[i] = self.clock;
        self.active = i;
        self.sets[i].prepare(fs, mains, n, kernel);
    }

    /// The columns selected last.
    pub(crate) fn active(&self) -> &Columns {
        &self.sets[self.active]
    }
}

/// A fitted baseline model, evaluated per sample index.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Baseline {
    coef: [f64; P],
    center: f64,
    scale: f64,
    /// Mains angular frequency per sample (radians) and its column, when a mains term is kept.
    omega: Option<(f64, usize)>,
    /// Tail start (sample), decay exponent per sample and column, when a tail term is kept.
    tail: Option<(usize, f64, usize)>,
    /// Mains frequency (Hz) kept in the model.
    pub(crate) mains_hz: Option<f64>,
    /// Tail time constant (ms) kept in the model.
    pub(crate) tail_tau_ms: Option<f64>,
    /// Whether a drift term is kept.
    pub(crate) drift: bool,
    /// Residual standard deviation over the fitted samples (volts).
    pub(crate) sigma: f64,
}

impl Baseline {
    /// Model value at sample `i` (volts).
    pub(crate) fn at(&self, i: usize) -> f64 {
        let x = (i as f64 - self.center) / self.scale;
        let mut v = self.coef[0] + self.coef[1] * x;
        if let Some((w, _)) = self.omega {
            let ph = w * i as f64;
            v += self.coef[2] * ph.sin() + self.coef[3] * ph.cos();
        }
        v + self.tail_at(i)
    }

    /// The artefact-tail part of the model at sample `i` (volts).
    pub(crate) fn tail_at(&self, i: usize) -> f64 {
        match self.tail {
            Some((a, rate, _)) if i >= a => self.coef[4] * (-((i - a) as f64) * rate).exp(),
            _ => 0.0,
        }
    }

    /// Writes `sign · (x[i] − model(i)) · scale` for every sample into `out`, from the
    /// regressor columns in `cols` (prepared for `x`'s length and sample rate).
    pub(crate) fn residual_into(
        &self,
        x: &[f64],
        sign: f64,
        scale: f64,
        cols: &Columns,
        out: &mut Vec<f64>,
    ) {
        out.resize(x.len(), 0.0);
        self.residual_range(x, sign, scale, cols, 0, x.len(), out);
    }

    /// As [`Baseline::residual_into`] for the samples `from..to` only (into `out[from..to]`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn residual_range(
        &self,
        x: &[f64],
        sign: f64,
        scale: f64,
        cols: &Columns,
        from: usize,
        to: usize,
        out: &mut [f64],
    ) {
        if to <= from {
            return;
        }
        let k = sign * scale;
        let slope = self.coef[1] / self.scale;
        let offset = self.coef[0] - slope * self.center;
        let (x, ramp, dst) = (&x[from..to], &cols.ramp[from..to], &mut out[from..to]);
        match self.omega {
            Some((_, c)) => {
                let (a, b) = (self.coef[2], self.coef[3]);
                let (sn, cs) = (&cols.trig[2 * c][from..to], &cols.trig[2 * c + 1][from..to]);
                for (((d, &xi), &t), (&s, &c)) in
                    dst.iter_mut().zip(x).zip(ramp).zip(sn.iter().zip(cs))
                {
                    *d = k * (xi - (offset + slope * t) - (a * s + b * c));
                }
            }
            None => {
                for ((d, &xi), &t) in dst.iter_mut().zip(x).zip(ramp) {
                    *d = k * (xi - (offset + slope * t));
                }
            }
        }
        if let Some((start, rate, t)) = self.tail {
            let e = k * self.coef[4];
            match cols.tails.get(t) {
                Some(tail) => {
                    let (a, b) = (from.max(start), to.min(start + tail.len()));
                    if a < b {
                        for (o, &d) in out[a..b].iter_mut().zip(&tail[a - start..b - start]) {
                            *o -= e * d;
                        }
                    }
                }
                None => {
                    // A refined τ: its values by running products, until it falls below the
                    // columns' floor (and never into subnormal numbers).
                    let a = from.max(start);
                    if a < to {
                        subtract_decaying(&mut out[a..to], a - start, rate, e);
                    }
                }
            }
        }
    }

    /// Writes `sign · (S(x) − S(model))(i) · scale` into `out[i]` for the samples `i` whose
    /// smoothing window lies inside the sweep, where `sx` holds `S(x)` there and `S` is the
    /// smoothing by the kernel `cols` was prepared with. Equals smoothing the residual of
    /// [`Baseline::residual_into`] up to rounding, at the cost of one multiply-add per term.
    /// Returns the range written.
    pub(crate) fn smoothed_into(
        &self,
        sx: &[f64],
        sign: f64,
        scale: f64,
        cols: &Columns,
        out: &mut [f64],
    ) -> (usize, usize) {
        let n = sx.len();
        let half = cols.kernel.len() / 2;
        let (lo, hi) = (half.min(n), n.saturating_sub(half).max(half.min(n)));
        let k = sign * scale;
        let slope = self.coef[1] / self.scale;
        let offset = (self.coef[0] - slope * self.center) * cols.kernel.iter().sum::<f64>();
        let (sx, ramp, dst) = (&sx[lo..hi], &cols.s_ramp[lo..hi], &mut out[lo..hi]);
        match self.omega {
            Some((_, c)) => {
                let (a, b) = (self.coef[2], self.coef[3]);
                let (sn, cs) = (&cols.s_trig[2 * c][lo..hi], &cols.s_trig[2 * c + 1][lo..hi]);
                for (((d, &xi), &t), (&s, &c)) in
                    dst.iter_mut().zip(sx).zip(ramp).zip(sn.iter().zip(cs))
                {
                    *d = k * (xi - (offset + slope * t) - (a * s + b * c));
                }
            }
            None => {
                for ((d, &xi), &t) in dst.iter_mut().zip(sx).zip(ramp) {
                    *d = k * (xi - (offset + slope * t));
                }
            }
        }
        if let Some((start, rate, t)) = self.tail {
            let e = k * self.coef[4];
            // Entry q + half of g is the smoothed tail q samples after its start.
            let from = (start.saturating_sub(half)).max(lo);
            if from < hi {
                let q0 = from + half - start;
                match cols.s_tails.get(t) {
                    Some(g) => {
                        for (d, &gv) in out[from..hi].iter_mut().zip(g.iter().skip(q0)) {
                            *d -= e * gv;
                        }
                    }
                    None => smoothed_tail_into(
                        &cols.kernel,
                        rate,
                        q0 as isize - half as isize,
                        e,
                        &mut out[from..hi],
                    ),
                }
            }
        }
        (lo, hi)
    }

    /// Change of the drift term from sample `a` to sample `b` (volts).
    pub(crate) fn drift_between(&self, a: usize, b: usize) -> f64 {
        self.coef[1] * (b as f64 - a as f64) / self.scale
    }

    /// Angular frequency (radians per sample) of the mains term kept, if any.
    pub(crate) fn mains_omega(&self) -> Option<f64> {
        self.omega.map(|(w, _)| w)
    }

    /// Mains candidate (its index in the [`Columns`]) of the mains term kept, if any.
    pub(crate) fn mains_candidate(&self) -> Option<usize> {
        self.omega.map(|(_, k)| k)
    }

    /// Amplitude of the fitted mains sinusoid (volts, peak).
    pub(crate) fn mains_amplitude(&self) -> f64 {
        if self.omega.is_some() {
            self.coef[2].hypot(self.coef[3])
        } else {
            0.0
        }
    }
}

/// Most harmonic regressors: sine and cosine of harmonics 2 to [`MAX_MAINS_HARMONICS`].
const HQ: usize = 2 * (MAX_MAINS_HARMONICS - 1);

/// Samples between exact phasors when harmonics are generated by rotation (the rounding of a
/// running rotation stays below 1e-13 over this many steps).
const ROTATION_BLOCK: usize = 256;

/// Mains harmonics 2..=`count + 1` of a fundamental, fitted by least squares
/// ([`fit_harmonics`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Harmonics {
    omega: f64,
    count: usize,
    /// Sine then cosine coefficient of each harmonic, in the units of the fitted signal.
    coef: [f64; HQ],
}

/// Calls `f(i, re, im)` for every sample `i` of `from..to` with `re[h] + i·im[h]` =
/// `e^{i(h+2)ωi}`, the phasors of harmonics 2 to [`MAX_MAINS_HARMONICS`] (every lane is
/// computed; callers use the harmonics they fit). The harmonics are rotated side by side, so
/// that the loop runs in SIMD lanes.
fn for_each_harmonic_phasor(
    omega: f64,
    from: usize,
    to: usize,
    mut f: impl FnMut(usize, &[f64; MH], &[f64; MH]),
) {
    let step: [Cx; MH] = std::array::from_fn(|h| Cx::cis((h + 2) as f64 * omega));
    let (sr, si): ([f64; MH], [f64; MH]) = (step.map(|z| z.re), step.map(|z| z.im));
    let (mut re, mut im) = ([0.0; MH], [0.0; MH]);
    let mut i = from;
    while i < to {
        for h in 0..MH {
            let z = Cx::cis((h + 2) as f64 * omega * i as f64);
            re[h] = z.re;
            im[h] = z.im;
        }
        let end = (i + ROTATION_BLOCK).min(to);
        while i < end {
            f(i, &re, &im);
            for h in 0..MH {
                let r = re[h] * sr[h] - im[h] * si[h];
                im[h] = re[h] * si[h] + im[h] * sr[h];
                re[h] = r;
            }
            i += 1;
        }
    }
}

/// Harmonic lanes rotated together (harmonics 2 to [`MAX_MAINS_HARMONICS`]).
const MH: usize = MAX_MAINS_HARMONICS - 1;

/// Fits mains harmonics 2..=`h_max` of the fundamental `omega` (radians per sample) to `r`, the
/// residual of a baseline model, over `ranges`, keeping only harmonics below 0.45 of the sample
/// rate. Returns them when they explain at least `min_share` of `r`'s sum of squares over the
/// ranges (and the system is well conditioned).
///
/// The Gram matrix of the sines and cosines is summed in closed form (products of harmonics
/// are harmonics, whose sums over a range are geometric), so only the products with `r` are
/// summed sample by sample.
pub(crate) fn fit_harmonics(
    r: &[f64],
    ranges: &[(usize, usize)],
    omega: f64,
    columns: Option<HarmonicColumns<'_>>,
    h_max: usize,
    min_share: f64,
) -> Option<Harmonics> {
    let below = (0.45 * std::f64::consts::TAU / omega).floor() as usize;
    let count = h_max.min(MAX_MAINS_HARMONICS).min(below).saturating_sub(1);
    if count == 0 {
        return None;
    }
    let q = 2 * count;
    // Σ e^{imωi} over the ranges, for m up to twice the highest harmonic.
    let mut e = [Cx::real(0.0); 2 * MAX_MAINS_HARMONICS + 1];
    let (mut br, mut bi, mut rr, mut n) = ([0.0; MH], [0.0; MH], 0.0, 0usize);
    for &(from, to) in ranges {
        let to = to.min(r.len());
        if to <= from {
            continue;
        }
        n += to - from;
        e[0].re += (to - from) as f64;
        for (m, em) in e.iter_mut().enumerate().take(2 * (count + 1) + 1).skip(1) {
            let theta = m as f64 * omega;
            let den = one_minus_cis(theta);
            let sum = cis_sum(
                theta,
                den,
                Cx::cis(theta * from as f64),
                Cx::cis(theta * to as f64),
                from,
                to,
            );
            *em = em.add(sum);
        }
        match columns {
            Some(HarmonicColumns(c)) if c.iter().all(|c| c.len() >= to) => {
                let (yy, d) = harmonic_dots(&r[from..to], std::array::from_fn(|j| &c[j][from..to]));
                rr += yy;
                for h in 0..MH {
                    bi[h] += d[2 * h];
                    br[h] += d[2 * h + 1];
                }
            }
            _ => for_each_harmonic_phasor(omega, from, to, |i, re, im| {
                let y = r[i];
                rr += y * y;
                for h in 0..MH {
                    br[h] += y * re[h];
                    bi[h] += y * im[h];
                }
            }),
        }
    }
    if n <= 2 * q {
        return None;
    }
    // Regressor 2h is sin((h+2)ωi), 2h+1 is cos((h+2)ωi). With a = (h+2), b = (k+2):
    // sin·sin = (cos(a−b) − cos(a+b))/2, cos·cos = (cos(a−b) + cos(a+b))/2,
    // sin_a·cos_b = (sin(a+b) + sin(a−b))/2.
    let cs = |m: isize| -> Cx {
        let z = e[m.unsigned_abs()];
        if m < 0 {
            z.conj()
        } else {
            z
        }
    };
    let mut a = [[0.0; HQ]; HQ];
    let mut b = [0.0; HQ];
    for h in 0..count {
        b[2 * h] = bi[h];
        b[2 * h + 1] = br[h];
        for k in 0..count {
            let (ha, kb) = ((h + 2) as isize, (k + 2) as isize);
            let (d, s) = (cs(ha - kb), cs(ha + kb));
            a[2 * h][2 * k] = 0.5 * (d.re - s.re);
            a[2 * h + 1][2 * k + 1] = 0.5 * (d.re + s.re);
            a[2 * h][2 * k + 1] = 0.5 * (s.im + d.im);
            a[2 * h + 1][2 * k] = 0.5 * (s.im - d.im);
        }
    }
    let rhs = b;
    if !solve_spd(&mut a, &mut b, q) {
        return None;
    }
    let explained: f64 = (0..q).map(|j| b[j] * rhs[j]).sum();
    if !(explained >= min_share * rr && rr > 0.0) {
        return None;
    }
    Some(Harmonics {
        omega,
        count,
        coef: b,
    })
}

/// `Σ y²` and `Σ y·cⱼ` for each column, with independent accumulators so that the loop
/// vectorises.
fn harmonic_dots(y: &[f64], cols: [&[f64]; 2 * MH]) -> (f64, [f64; 2 * MH]) {
    const L: usize = 4;
    let body = y.len() - y.len() % L;
    let (mut yy, mut acc) = ([0.0; L], [[0.0; L]; 2 * MH]);
    let mut i = 0;
    while i < body {
        let yv: [f64; L] = std::array::from_fn(|l| y[i + l]);
        for l in 0..L {
            yy[l] += yv[l] * yv[l];
        }
        for (a, col) in acc.iter_mut().zip(&cols) {
            let c = &col[i..i + L];
            for l in 0..L {
                a[l] += yv[l] * c[l];
            }
        }
        i += L;
    }
    let mut out = acc.map(|a| a.iter().sum::<f64>());
    let mut sum_yy = yy.iter().sum::<f64>();
    for j in body..y.len() {
        sum_yy += y[j] * y[j];
        for (o, col) in out.iter_mut().zip(&cols) {
            *o += y[j] * col[j];
        }
    }
    (sum_yy, out)
}

impl Harmonics {
    /// Writes `x[i] − k·harmonics(i)` into `out` for every sample, from `columns` when they
    /// are the harmonics' (and long enough).
    pub(crate) fn subtract_into(
        &self,
        x: &[f64],
        k: f64,
        columns: Option<HarmonicColumns<'_>>,
        out: &mut Vec<f64>,
    ) {
        out.clear();
        out.extend_from_slice(x);
        let mut cs = [0.0; MH];
        let mut cc = [0.0; MH];
        for h in 0..self.count {
            cs[h] = k * self.coef[2 * h];
            cc[h] = k * self.coef[2 * h + 1];
        }
        if let Some(HarmonicColumns(c)) = columns {
            if c.iter().all(|c| c.len() >= x.len()) {
                for h in 0..self.count {
                    let (sin, cos) = (&c[2 * h][..x.len()], &c[2 * h + 1][..x.len()]);
                    for ((o, &s), &co) in out.iter_mut().zip(sin).zip(cos) {
                        *o -= cs[h] * s + cc[h] * co;
                    }
                }
                return;
            }
        }
        for_each_harmonic_phasor(self.omega, 0, x.len(), |i, re, im| {
            let mut v = 0.0;
            for h in 0..MH {
                v += cs[h] * im[h] + cc[h] * re[h];
            }
            out[i] -= v;
        });
    }

    /// Root sum of squares of the harmonics' peak amplitudes (units of the fitted signal).
    pub(crate) fn amplitude(&self) -> f64 {
        (0..self.count)
            .map(|h| self.coef[2 * h].powi(2) + self.coef[2 * h + 1].powi(2))
            .sum::<f64>()
            .sqrt()
    }
}

/// Subtracts `e·S(tail)(q)` from `out[k]` for `q = q0 + k`, where the tail is `e^{−j·rate}` from
/// `j = 0` (zero before) and `S` the smoothing by the symmetric `kernel`. Once the kernel lies
/// wholly on the tail, `S(tail)(q) = e^{−q·rate}·Σₖ wₖ e^{(k−half)·rate}`; before, it is summed.
fn smoothed_tail_into(kernel: &[f64], rate: f64, q0: isize, e: f64, out: &mut [f64]) {
    let half = (kernel.len() / 2) as isize;
    // Tap m weighs the tail at q + m − half: wₘ·e^{−(m−half)·rate} times e^{−q·rate}. The
    // exponentials of the taps by a running product from e^{half·rate} = e^{3σ/τ} (about e^{2.5}
    // at most with the default smoothing and the grid's shortest τ).
    let d = (-rate).exp();
    let first = (half as f64 * rate).exp();
    let tap = |m: usize, em: f64| kernel[m] * em;
    let mut k = 0;
    // Partial windows: the first samples, whose kernel reaches before the tail's start.
    while k < out.len() && q0 + (k as isize) < half {
        let q = q0 + k as isize;
        let mut v = 0.0;
        let mut em = first;
        for m in 0..kernel.len() {
            if q + m as isize >= half {
                v += tap(m, em);
            }
            em *= d;
        }
        out[k] -= e * v * (-(q as f64) * rate).exp();
        k += 1;
    }
    if k < out.len() {
        let mut gain = 0.0;
        let mut em = first;
        for m in 0..kernel.len() {
            gain += tap(m, em);
            em *= d;
        }
        // Here q = q0 + k ≥ half ≥ 0.
        let q = (q0 + k as isize).max(0) as usize;
        subtract_decaying(&mut out[k..], q, rate, e * gain);
    }
}

/// Lanes of the running products below: independent chains, so that a sample does not wait on
/// the previous sample's multiplication. Each block of [`ROTATION_BLOCK`] samples starts from
/// an exact value again, so rounding never accumulates over more than a block.
const DECAY_LANES: usize = 8;

/// `e^{−rate·l}` for the lanes `l`, and the lanes' step `e^{−rate·DECAY_LANES}`.
#[inline]
fn decay_offsets(rate: f64) -> ([f64; DECAY_LANES], f64) {
    let d = (-rate).exp();
    let mut offsets = [1.0; DECAY_LANES];
    for l in 1..DECAY_LANES {
        offsets[l] = offsets[l - 1] * d;
    }
    (offsets, offsets[DECAY_LANES - 1] * d)
}

/// `Σᵢ x[i]·e^{−rate·(j0 + i)}`, stopping where the exponential falls below [`TAIL_FLOOR`] (at a
/// block's start).
fn decaying_dot(x: &[f64], j0: usize, rate: f64) -> f64 {
    const L: usize = DECAY_LANES;
    let (offsets, step) = decay_offsets(rate);
    let mut acc = [0.0; L];
    let mut i = 0;
    while i < x.len() {
        // Exact at each block's start.
        let p = (-((j0 + i) as f64) * rate).exp();
        if p < TAIL_FLOOR {
            break;
        }
        let end = (i + ROTATION_BLOCK).min(x.len());
        let mut e = offsets.map(|o| p * o);
        let chunks = x[i..end].chunks_exact(L);
        let rest = chunks.remainder();
        for c in chunks {
            for l in 0..L {
                acc[l] += c[l] * e[l];
                e[l] *= step;
            }
        }
        for (l, &xv) in rest.iter().enumerate() {
            acc[l] += xv * e[l];
        }
        i = end;
    }
    acc.iter().sum()
}

/// `out[i] −= scale·e^{−rate·(j0 + i)}`, stopping where the exponential falls below
/// [`TAIL_FLOOR`] (at a block's start).
fn subtract_decaying(out: &mut [f64], j0: usize, rate: f64, scale: f64) {
    const L: usize = DECAY_LANES;
    let (offsets, step) = decay_offsets(rate);
    let mut i = 0;
    while i < out.len() {
        // Exact at each block's start.
        let p = (-((j0 + i) as f64) * rate).exp();
        if p < TAIL_FLOOR {
            break;
        }
        let end = (i + ROTATION_BLOCK).min(out.len());
        let mut e = offsets.map(|o| scale * p * o);
        let chunks = out[i..end].chunks_exact_mut(L);
        for c in chunks {
            for l in 0..L {
                c[l] -= e[l];
                e[l] *= step;
            }
        }
        let done = (end - i) / L * L;
        for (l, o) in out[i + done..end].iter_mut().enumerate() {
            *o -= e[l];
        }
        i = end;
    }
}

/// A complex number, for the geometric sums behind the Gram matrix.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Cx {
    re: f64,
    im: f64,
}

impl Cx {
    const ONE: Cx = Cx { re: 1.0, im: 0.0 };

    fn cis(ph: f64) -> Cx {
        let (im, re) = ph.sin_cos();
        Cx { re, im }
    }
    fn real(re: f64) -> Cx {
        Cx { re, im: 0.0 }
    }
    fn mul(self, o: Cx) -> Cx {
        Cx {
            re: self.re * o.re - self.im * o.im,
            im: self.re * o.im + self.im * o.re,
        }
    }
    fn conj(self) -> Cx {
        Cx {
            re: self.re,
            im: -self.im,
        }
    }
    fn scale(self, k: f64) -> Cx {
        Cx {
            re: self.re * k,
            im: self.im * k,
        }
    }
    fn add(self, o: Cx) -> Cx {
        Cx {
            re: self.re + o.re,
            im: self.im + o.im,
        }
    }
    fn sub(self, o: Cx) -> Cx {
        Cx {
            re: self.re - o.re,
            im: self.im - o.im,
        }
    }
    fn div(self, o: Cx) -> Cx {
        let d = o.re * o.re + o.im * o.im;
        Cx {
            re: (self.re * o.re + self.im * o.im) / d,
            im: (self.im * o.re - self.re * o.im) / d,
        }
    }
    /// Whether `|self|` is below `r`.
    fn within(self, r: f64) -> bool {
        self.re * self.re + self.im * self.im < r * r
    }
}

/// `1 − e^{iθ}`, without the cancellation of `1 − cos θ` for small θ.
fn one_minus_cis(theta: f64) -> Cx {
    let h = (0.5 * theta).sin();
    Cx {
        re: 2.0 * h * h,
        im: -theta.sin(),
    }
}

/// Below this `|1 − z|` the geometric sums are added term by term (only for mains candidates
/// within a fraction of a hertz of each other or of the Nyquist frequency).
const GEO_MIN: f64 = 1e-4;

/// `(Σ zⁱ, Σ (i − c)·zⁱ)` over `i ∈ [a, b)` for `z = w·e^{iθ}` (`0 < w ≤ 1`), given
/// `za = zᵃ`, `zb = zᵇ` and `den = 1 − z` (all up to a common factor that the caller applies).
/// Uses `(1 − z)·Σ (i − c)zⁱ = (a − c − 1)zᵃ − (b − 1 − c)zᵇ + Σ zⁱ`.
fn geo_sums(za: Cx, zb: Cx, den: Cx, a: usize, b: usize, c: f64) -> (Cx, Cx) {
    let s0 = za.sub(zb).div(den);
    let s1 = za
        .scale(a as f64 - c - 1.0)
        .sub(zb.scale(b as f64 - 1.0 - c))
        .add(s0)
        .div(den);
    (s0, s1)
}

/// The same sums term by term, for `z = e^{iθ}` close to 1.
fn geo_sums_direct(theta: f64, a: usize, b: usize, c: f64) -> (Cx, Cx) {
    let (mut s0, mut s1) = (Cx::real(0.0), Cx::real(0.0));
    for i in a..b {
        let z = Cx::cis(theta * i as f64);
        s0 = s0.add(z);
        s1 = s1.add(z.scale(i as f64 - c));
    }
    (s0, s1)
}

/// `Σ e^{iθi}` over `[a, b)` given `e^{iθa}`, `e^{iθb}` and `den = 1 − e^{iθ}`.
fn cis_sum(theta: f64, den: Cx, za: Cx, zb: Cx, a: usize, b: usize) -> Cx {
    if den.within(GEO_MIN) {
        geo_sums_direct(theta, a, b, 0.0).0
    } else {
        za.sub(zb).div(den)
    }
}

/// Sums of `y`, `y·r` and `y²` over `y`, and of `y` times each column in `cols`, with
/// independent accumulators so that the loop vectorises.
fn dots<const K: usize>(y: &[f64], ramp: &[f64], cols: [&[f64]; K]) -> (f64, f64, f64, [f64; K]) {
    const L: usize = 4;
    let n = y.len();
    let body = n - n % L;
    let (mut sy, mut sr, mut syy) = ([0.0; L], [0.0; L], [0.0; L]);
    let mut sc = [[0.0; L]; K];
    let mut i = 0;
    while i < body {
        let yv: [f64; L] = std::array::from_fn(|l| y[i + l]);
        for l in 0..L {
            sy[l] += yv[l];
            sr[l] += yv[l] * ramp[i + l];
            syy[l] += yv[l] * yv[l];
        }
        for (acc, col) in sc.iter_mut().zip(&cols) {
            let c = &col[i..i + L];
            for l in 0..L {
                acc[l] += yv[l] * c[l];
            }
        }
        i += L;
    }
    let mut out = [0.0; K];
    for (o, acc) in out.iter_mut().zip(&sc) {
        *o = acc.iter().sum();
    }
    let (mut sy, mut sr, mut syy) = (sy.iter().sum(), sr.iter().sum(), syy.iter().sum::<f64>());
    for j in body..n {
        sy += y[j];
        sr += y[j] * ramp[j];
        syy += y[j] * y[j];
        for (o, col) in out.iter_mut().zip(&cols) {
            *o += y[j] * col[j];
        }
    }
    (sy, sr, syy, out)
}

/// `Σ y·c` over equally long slices, with independent accumulators.
fn dot(y: &[f64], c: &[f64]) -> f64 {
    const L: usize = 4;
    let mut acc = [0.0; L];
    let (yc, cc) = (y.chunks_exact(L), c.chunks_exact(L));
    let tail: f64 = yc
        .remainder()
        .iter()
        .zip(cc.remainder())
        .map(|(a, b)| a * b)
        .sum();
    for (a, b) in yc.zip(cc) {
        for l in 0..L {
            acc[l] += a[l] * b[l];
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// Relative pivot floor of the Cholesky decompositions (as in `solve_spd`): a pivot this small
/// means the regressors are collinear.
const PIVOT_FLOOR: f64 = 1e-12;

/// Cholesky factor `L` of the current model's Gram matrix (`p` regressors `idx`), with its
/// pivots before the square root, `w = L⁻¹·Xᵀy`, the largest diagonal entry, and
/// `yᵀy − wᵀw` (the model's residual sum of squares).
struct Factor {
    idx: [usize; P],
    p: usize,
    l: [[f64; P]; P],
    pivots: [f64; P],
    w: [f64; P],
    scale: f64,
    yy_left: f64,
}

/// Regressor sums over the quiet samples, gathered once for every candidate model.
struct Sums {
    n: usize,
    center: f64,
    scale: f64,
    /// Gram matrix among [1, t, s₁, c₁, s₂, c₂] and their products with y.
    g: [[f64; NB]; NB],
    gy: [f64; NB],
    /// Per tail τ (the grid's, then [`REFINED`]): products of the tail regressor with the
    /// base regressors, then with itself.
    ge: [[f64; NB + 1]; NT + 1],
    gey: [f64; NT + 1],
    yy: f64,
    /// Mains candidates in the model: column in [`Columns`] and angular frequency per sample.
    mains: [(usize, f64); 2],
    n_mains: usize,
    tail_start: Option<usize>,
    rate: [f64; NT + 1],
    /// τ (ms) of the [`REFINED`] slot.
    refined_tau_ms: f64,
}

/// Tail slot of a τ refined between the grid's (see [`refine_tail`]).
const REFINED: usize = NT;

/// Where a tail regressor's values come from.
#[derive(Clone, Copy)]
enum TailColumn {
    /// The grid's column `t` in [`Columns`].
    Grid(usize),
    /// Computed for this decay rate (per sample).
    Rate(f64),
}

/// What one candidate model holds.
#[derive(Clone, Copy, PartialEq)]
struct Terms {
    drift: bool,
    mains: Option<usize>,
    tail: Option<usize>,
}

impl Terms {
    fn count(&self) -> usize {
        1 + self.drift as usize + 2 * self.mains.is_some() as usize + self.tail.is_some() as usize
    }
}

impl Sums {
    fn gather(
        x: &[f64],
        ranges: &[(usize, usize)],
        cols: &Columns,
        mains: &[(usize, f64)],
        tail_start: Option<usize>,
    ) -> Option<Sums> {
        let n: usize = ranges.iter().map(|(a, b)| b - a).sum();
        let lo = ranges.iter().map(|r| r.0).min()?;
        let hi = ranges.iter().map(|r| r.1).max()?;
        let center = 0.5 * (lo + hi) as f64;
        let scale = ((hi - lo) as f64 * 0.5).max(1.0);
        let m = mains.len().min(2);
        let mut sums = Sums {
            n,
            center,
            scale,
            g: [[0.0; NB]; NB],
            gy: [0.0; NB],
            ge: [[0.0; NB + 1]; NT + 1],
            gey: [0.0; NT + 1],
            yy: 0.0,
            mains: [(0, 0.0); 2],
            n_mains: m,
            tail_start,
            rate: [0.0; NT + 1],
            refined_tau_ms: 0.0,
        };
        sums.rate[..NT].copy_from_slice(&cols.rate);
        sums.mains[..m].copy_from_slice(&mains[..m]);
        let mut sum_yr = 0.0;
        for &(a, b) in ranges {
            if b <= a {
                continue;
            }
            let y = &x[a..b];
            let ramp = &cols.ramp[a..b];
            let col = |c: usize, k: usize| &cols.trig[2 * mains[c].0 + k][a..b];
            let (sy, sr, syy, ty) = match m {
                0 => {
                    let (sy, sr, syy, _) = dots::<0>(y, ramp, []);
                    (sy, sr, syy, [0.0; 4])
                }
                1 => {
                    let (sy, sr, syy, t) = dots::<2>(y, ramp, [col(0, 0), col(0, 1)]);
                    (sy, sr, syy, [t[0], t[1], 0.0, 0.0])
                }
                _ => dots::<4>(y, ramp, [col(0, 0), col(0, 1), col(1, 0), col(1, 1)]),
            };
            sums.gy[0] += sy;
            sum_yr += sr;
            sums.yy += syy;
            for k in 0..2 * m {
                sums.gy[2 + k] += ty[k];
            }

            // Row 1 (the drift) is summed as Σ (i − c)·… and scaled once at the end.
            let len = (b - a) as f64;
            let mean = 0.5 * (a + b - 1) as f64 - center;
            sums.g[0][0] += len;
            sums.g[0][1] += len * mean;
            sums.g[1][1] += len * mean * mean + len * (len * len - 1.0) / 12.0;
            let mut za = [Cx::ONE; 2];
            let mut zb = [Cx::ONE; 2];
            for c in 0..m {
                let (k, w) = mains[c];
                za[c] = cols.cis(k, a);
                zb[c] = cols.cis(k, b);
                let (s0, s1) = if cols.den1[k].within(GEO_MIN) {
                    geo_sums_direct(w, a, b, center)
                } else {
                    geo_sums(za[c], zb[c], cols.den1[k], a, b, center)
                };
                let (sr, cr) = (2 + 2 * c, 3 + 2 * c);
                sums.g[0][sr] += s0.im;
                sums.g[0][cr] += s0.re;
                sums.g[1][sr] += s1.im;
                sums.g[1][cr] += s1.re;
                // sin² = (1 − cos 2ωi)/2, cos² = (1 + cos 2ωi)/2, sin·cos = sin 2ωi / 2.
                let q = cis_sum(
                    2.0 * w,
                    cols.den2[k],
                    za[c].mul(za[c]),
                    zb[c].mul(zb[c]),
                    a,
                    b,
                );
                sums.g[sr][sr] += 0.5 * (len - q.re);
                sums.g[cr][cr] += 0.5 * (len + q.re);
                sums.g[sr][cr] += 0.5 * q.im;
            }
            if m == 2 {
                let (w1, w2) = (mains[0].1, mains[1].1);
                let p = cis_sum(
                    w1 + w2,
                    cols.den_sum,
                    za[0].mul(za[1]),
                    zb[0].mul(zb[1]),
                    a,
                    b,
                );
                let d = cis_sum(
                    w1 - w2,
                    cols.den_diff,
                    za[0].mul(za[1].conj()),
                    zb[0].mul(zb[1].conj()),
                    a,
                    b,
                );
                sums.g[2][4] += 0.5 * (d.re - p.re);
                sums.g[3][5] += 0.5 * (d.re + p.re);
                sums.g[2][5] += 0.5 * (p.im + d.im);
                sums.g[3][4] += 0.5 * (p.im - d.im);
            }

            let Some(s) = tail_start else { continue };
            for t in 0..NT {
                sums.add_tail_range(t, x, (a, b), s, cols, zb, TailColumn::Grid(t));
            }
        }
        sums.gy[1] = (sum_yr - center * sums.gy[0]) / scale;
        for c in 0..NB {
            sums.g[1][c] /= scale;
        }
        sums.g[0][1] /= scale;
        sums.g[1][1] /= scale;
        for t in 0..NT {
            sums.ge[t][1] /= sums.scale;
        }
        for r in 0..NB {
            for c in 0..r {
                sums.g[r][c] = sums.g[c][r];
            }
        }
        Some(sums)
    }

    /// Adds the tail `t`'s products over the range `(a, b)` of samples (the tail starting at
    /// `s`): with the samples (by the column, or by a running product for a refined τ), and with
    /// the base regressors and itself in closed form. `zb` holds `e^{iωb}` of each mains
    /// candidate. The drift product is left unscaled (as in [`Sums::gather`]).
    #[allow(clippy::too_many_arguments)]
    fn add_tail_range(
        &mut self,
        t: usize,
        x: &[f64],
        (a, b): (usize, usize),
        s: usize,
        cols: &Columns,
        zb: [Cx; 2],
        column: TailColumn,
    ) {
        let a2 = a.max(s);
        if a2 >= b {
            return;
        }
        let m = self.n_mains;
        let center = self.center;
        let (j0, jb) = (a2 - s, b - s);
        let (d, one_minus_d, one_minus_d2) = match column {
            TailColumn::Grid(g) => cols.decay[g],
            TailColumn::Rate(r) => ((-r).exp(), -(-r).exp_m1(), -(-2.0 * r).exp_m1()),
        };
        let pow = |j: usize| match column {
            TailColumn::Grid(g) => cols.tail_pow(g, j),
            TailColumn::Rate(r) => (-(j as f64) * r).exp(),
        };
        match column {
            TailColumn::Grid(g) => {
                let tail = &cols.tails[g];
                let j1 = jb.min(tail.len());
                if j0 < j1 {
                    self.gey[t] += dot(&x[a2..a2 + (j1 - j0)], &tail[j0..j1]);
                }
            }
            TailColumn::Rate(r) => {
                self.gey[t] += decaying_dot(&x[s + j0..s + jb], j0, r);
            }
        }
        let (pa, pb) = (pow(j0), pow(jb));
        let (s0, s1) = geo_sums(
            Cx::real(pa),
            Cx::real(pb),
            Cx::real(one_minus_d),
            a2,
            b,
            center,
        );
        self.ge[t][0] += s0.re;
        self.ge[t][1] += s1.re;
        for c in 0..m {
            let k = self.mains[c].0;
            // Σ d^{i−s}·e^{iωi} = (pa·e^{iωa₂} − pb·e^{iωb}) / (1 − d·e^{iω}).
            let (sin_w, vers_w) = cols.trig_w[k];
            let dz = Cx {
                re: one_minus_d + d * vers_w,
                im: -d * sin_w,
            };
            let v = cols.cis(k, a2).scale(pa).sub(zb[c].scale(pb)).div(dz);
            self.ge[t][2 + 2 * c] += v.im;
            self.ge[t][3 + 2 * c] += v.re;
        }
        self.ge[t][NB] += (pa * pa - pb * pb) / one_minus_d2;
    }

    /// Fills the [`REFINED`] tail slot for the decay `rate` (per sample) over `ranges`.
    fn set_refined_tail(
        &mut self,
        x: &[f64],
        ranges: &[(usize, usize)],
        cols: &Columns,
        rate: f64,
    ) {
        let Some(s) = self.tail_start else { return };
        self.ge[REFINED] = [0.0; NB + 1];
        self.gey[REFINED] = 0.0;
        self.rate[REFINED] = rate;
        for &(a, b) in ranges {
            if b <= a {
                continue;
            }
            let zb: [Cx; 2] = std::array::from_fn(|c| {
                if c < self.n_mains {
                    cols.cis(self.mains[c].0, b)
                } else {
                    Cx::ONE
                }
            });
            self.add_tail_range(REFINED, x, (a, b), s, cols, zb, TailColumn::Rate(rate));
        }
        self.ge[REFINED][1] /= self.scale;
    }

    /// Gram entry between virtual regressors `a` and `b` (NB stands for the tail `t`).
    fn gram(&self, a: usize, b: usize, t: usize) -> f64 {
        match (a == NB, b == NB) {
            (false, false) => self.g[a][b],
            (true, false) => self.ge[t][b],
            (false, true) => self.ge[t][a],
            (true, true) => self.ge[t][NB],
        }
    }

    /// Solves the model with `terms`; returns it and its residual sum of squares.
    fn solve(&self, terms: Terms) -> Option<(Baseline, f64)> {
        let (idx, p, t) = self.indices(terms)?;
        let mut a = [[0.0; P]; P];
        let mut b = [0.0; P];
        for r in 0..p {
            b[r] = self.gy_of(idx[r], t);
            for c in 0..p {
                a[r][c] = self.gram(idx[r], idx[c], t);
            }
        }
        let rhs = b;
        if !solve_spd(&mut a, &mut b, p) {
            return None;
        }
        self.model(terms, &b, &rhs, p)
    }

    /// Product of virtual regressor `a` with the samples (NB stands for the tail `t`).
    fn gy_of(&self, a: usize, t: usize) -> f64 {
        if a == NB {
            self.gey[t]
        } else {
            self.gy[a]
        }
    }

    /// The virtual regressors of `terms` in solving order, their count and the tail index;
    /// `None` when the model cannot be fitted (no tail here, or too few samples).
    fn indices(&self, terms: Terms) -> Option<([usize; P], usize, usize)> {
        let mut idx = [0usize; P];
        let mut p = 1;
        if terms.drift {
            idx[p] = 1;
            p += 1;
        }
        if let Some(m) = terms.mains {
            idx[p] = 2 + 2 * m;
            idx[p + 1] = 3 + 2 * m;
            p += 2;
        }
        let t = terms.tail.unwrap_or(0);
        if terms.tail.is_some() {
            if self.tail_start.is_none() || self.ge[t][NB] <= 0.0 {
                return None;
            }
            idx[p] = NB;
            p += 1;
        }
        if self.n <= p + 1 {
            return None;
        }
        Some((idx, p, t))
    }

    /// Cholesky factor of the Gram matrix of `terms` (see [`Factor`]).
    fn factor(&self, terms: Terms) -> Option<Factor> {
        let (idx, p, t) = self.indices(terms)?;
        let mut f = Factor {
            idx,
            p,
            l: [[0.0; P]; P],
            pivots: [0.0; P],
            w: [0.0; P],
            scale: (0..p)
                .map(|i| self.gram(idx[i], idx[i], t).abs())
                .fold(0.0_f64, f64::max)
                .max(f64::MIN_POSITIVE),
            yy_left: self.yy,
        };
        for j in 0..p {
            let mut d = self.gram(idx[j], idx[j], t);
            for k in 0..j {
                d -= f.l[j][k] * f.l[j][k];
            }
            if d <= f.scale * PIVOT_FLOOR {
                return None;
            }
            f.pivots[j] = d;
            let d = d.sqrt();
            f.l[j][j] = d;
            for i in j + 1..p {
                let mut s = self.gram(idx[i], idx[j], t);
                for k in 0..j {
                    s -= f.l[i][k] * f.l[j][k];
                }
                f.l[i][j] = s / d;
            }
            let mut s = self.gy_of(idx[j], t);
            for k in 0..j {
                s -= f.l[j][k] * f.w[k];
            }
            f.w[j] = s / d;
            f.yy_left -= f.w[j] * f.w[j];
        }
        Some(f)
    }

    /// Residual sum of squares of `cand`, which adds one or two regressors to the model
    /// factored in `f` (with `current` terms), by bordering the factor: the Schur complement
    /// of the new columns and the part of their products with the samples that the current
    /// model leaves unexplained. `None` where [`Sums::solve`] would find the system singular.
    fn rss_adding(&self, f: &Factor, current: Terms, cand: Terms) -> Option<f64> {
        let (_, p_all, t) = self.indices(cand)?;
        let mut new = [0usize; 2];
        let mut q = 0;
        if cand.drift && !current.drift {
            new[q] = 1;
            q += 1;
        }
        if let (Some(m), None) = (cand.mains, current.mains) {
            new[q] = 2 + 2 * m;
            new[q + 1] = 3 + 2 * m;
            q += 2;
        }
        if cand.tail.is_some() && current.tail.is_none() {
            new[q] = NB;
            q += 1;
        }
        debug_assert!(q >= 1 && f.p + q == p_all);
        let scale = (0..q)
            .map(|j| self.gram(new[j], new[j], t).abs())
            .fold(f.scale, f64::max);
        let floor = scale * PIVOT_FLOOR;
        if f.pivots[..f.p].iter().any(|&d| d <= floor) {
            return None;
        }
        // z_j = L⁻¹·(products of the current regressors with new column j).
        let mut z = [[0.0; P]; 2];
        for j in 0..q {
            for i in 0..f.p {
                let mut s = self.gram(f.idx[i], new[j], t);
                for k in 0..i {
                    s -= f.l[i][k] * z[j][k];
                }
                z[j][i] = s / f.l[i][i];
            }
        }
        let dot = |a: &[f64; P], b: &[f64; P]| (0..f.p).map(|i| a[i] * b[i]).sum::<f64>();
        let s00 = self.gram(new[0], new[0], t) - dot(&z[0], &z[0]);
        let r0 = self.gy_of(new[0], t) - dot(&z[0], &f.w);
        if s00 <= floor {
            return None;
        }
        let l00 = s00.sqrt();
        let y0 = r0 / l00;
        let mut explained = y0 * y0;
        if q == 2 {
            let s10 = self.gram(new[1], new[0], t) - dot(&z[1], &z[0]);
            let s11 = self.gram(new[1], new[1], t) - dot(&z[1], &z[1]);
            let r1 = self.gy_of(new[1], t) - dot(&z[1], &f.w);
            let l10 = s10 / l00;
            let piv = s11 - l10 * l10;
            if piv <= floor {
                return None;
            }
            let y1 = (r1 - l10 * y0) / piv.sqrt();
            explained += y1 * y1;
        }
        Some((f.yy_left - explained).max(0.0))
    }

    /// The fitted model from the solution `b` of the normal equations with right-hand side
    /// `rhs`, and its residual sum of squares.
    fn model(
        &self,
        terms: Terms,
        b: &[f64; P],
        rhs: &[f64; P],
        p: usize,
    ) -> Option<(Baseline, f64)> {
        // RSS = yᵀy − βᵀXᵀy for the least-squares solution.
        let rss = (self.yy - (0..p).map(|r| b[r] * rhs[r]).sum::<f64>()).max(0.0);
        let mut coef = [0.0; P];
        coef[0] = b[0];
        let mut q = 1;
        if terms.drift {
            coef[1] = b[q];
            q += 1;
        }
        if terms.mains.is_some() {
            coef[2] = b[q];
            coef[3] = b[q + 1];
            q += 2;
        }
        if terms.tail.is_some() {
            coef[4] = b[q];
        }
        let model = Baseline {
            coef,
            center: self.center,
            scale: self.scale,
            omega: terms.mains.map(|m| (self.mains[m].1, self.mains[m].0)),
            tail: terms
                .tail
                .and_then(|t| self.tail_start.map(|s| (s, self.rate[t], t))),
            mains_hz: None,
            tail_tau_ms: terms
                .tail
                .map(|t| TAUS_MS.get(t).copied().unwrap_or(self.refined_tau_ms)),
            drift: terms.drift,
            sigma: (rss / (self.n - p) as f64).sqrt(),
        };
        Some((model, rss))
    }
}

/// Whether a bigger model's RSS improves on a smaller one's significantly.
fn significant(rss_small: f64, rss_big: f64, extra: usize, n: usize, p_big: usize) -> bool {
    if n <= p_big || rss_big <= 0.0 {
        return rss_big < rss_small;
    }
    let f = ((rss_small - rss_big) / extra as f64) / (rss_big / (n - p_big) as f64);
    f > F_KEEP
}

/// What terms a fit may use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Allow<'a> {
    /// Candidate mains frequencies (Hz, at most two); tried only when the samples span at
    /// least one period.
    pub(crate) mains: &'a [f64],
    /// Whether a linear drift may be fitted.
    pub(crate) drift: bool,
    /// Where an artefact tail starts, if one may be fitted.
    pub(crate) tail_start: Option<usize>,
    /// The τ (ms) an earlier fit of the same sweep refined its tail to: a refinement looks
    /// near it first.
    pub(crate) tau_hint: Option<f64>,
}

/// Fits the baseline over `ranges`, adding drift, mains and tail terms one at a time (most
/// significant first) while each passes the F-test. `cols` must have been prepared for `x`'s
/// length, `sample_rate_hz` and `allow.mains`.
pub(crate) fn fit_baseline(
    x: &[f64],
    ranges: &[(usize, usize)],
    sample_rate_hz: f64,
    allow: Allow<'_>,
    cols: &Columns,
) -> Baseline {
    debug_assert!(cols.len > x.len() && cols.fs == sample_rate_hz);
    debug_assert!(cols.n_freqs == allow.mains.len().min(2));
    let lo = ranges.iter().map(|r| r.0).min().unwrap_or(0);
    let hi = ranges.iter().map(|r| r.1).max().unwrap_or(0);
    let span_s = (hi - lo) as f64 / sample_rate_hz;
    let mut freqs = [0.0; 2];
    let mut mains = [(0, 0.0); 2];
    let mut m = 0;
    // Candidates are tried only when the samples span a period of every one of them: a span
    // that holds a 60 Hz period but not a 50 Hz one would let 60 Hz (and its extrapolation
    // across the sweep) stand in for 50 Hz mains.
    let lowest = allow
        .mains
        .iter()
        .take(2)
        .copied()
        .fold(f64::INFINITY, f64::min);
    for (k, &f) in allow.mains.iter().take(2).enumerate() {
        if span_s * lowest >= 1.0 && f < 0.5 * sample_rate_hz {
            freqs[m] = f;
            mains[m] = (k, cols.omega(k));
            m += 1;
        }
    }
    let fallback = || {
        let (a, b) = ranges[0];
        let n = (b - a).max(1) as f64;
        let mean = x[a..b].iter().sum::<f64>() / n;
        let var = x[a..b].iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0).max(1.0);
        Baseline {
            coef: [mean, 0.0, 0.0, 0.0, 0.0],
            center: 0.0,
            scale: 1.0,
            sigma: var.sqrt(),
            ..Baseline::default()
        }
    };
    let Some(sums) = Sums::gather(x, ranges, cols, &mains[..m], allow.tail_start) else {
        return fallback();
    };
    let n = sums.n;
    let mut terms = Terms {
        drift: false,
        mains: None,
        tail: None,
    };
    let Some((mut best, mut best_rss)) = sums.solve(terms) else {
        return fallback();
    };
    loop {
        // Candidates that add one term to the current model.
        let mut candidates: [Option<Terms>; 1 + 2 + NT] = [None; 1 + 2 + NT];
        if allow.drift && !terms.drift {
            candidates[0] = Some(Terms {
                drift: true,
                ..terms
            });
        }
        if terms.mains.is_none() {
            for c in 0..sums.n_mains {
                candidates[1 + c] = Some(Terms {
                    mains: Some(c),
                    ..terms
                });
            }
        }
        if allow.tail_start.is_some() && terms.tail.is_none() {
            for t in 0..NT {
                candidates[3 + t] = Some(Terms {
                    tail: Some(t),
                    ..terms
                });
            }
        }
        // Candidates are scored from the current model's factor; only the one kept is solved.
        let Some(factor) = sums.factor(terms) else {
            break;
        };
        let mut scored: [Option<(Terms, f64)>; 1 + 2 + NT] = [None; 1 + 2 + NT];
        for (slot, cand) in scored.iter_mut().zip(candidates) {
            let Some(cand) = cand else { continue };
            let Some(rss) = sums.rss_adding(&factor, terms, cand) else {
                continue;
            };
            let p = cand.count();
            // A grid-searched τ or a chosen frequency costs one more degree of freedom.
            let extra = p - terms.count()
                + usize::from(cand.tail != terms.tail || cand.mains != terms.mains);
            if significant(best_rss, rss, extra, n, p) {
                *slot = Some((cand, best_rss - rss));
            }
        }
        let mut step = None;
        while step.is_none() {
            // The largest gain, the first of equals.
            let mut pick: Option<(usize, f64)> = None;
            for (i, s) in scored.iter().enumerate() {
                if let Some((_, gain)) = *s {
                    if pick.is_none_or(|(_, g)| gain > g) {
                        pick = Some((i, gain));
                    }
                }
            }
            let Some((i, _)) = pick else { break };
            let Some((cand, _)) = scored[i].take() else {
                break;
            };
            step = sums.solve(cand).map(|(model, rss)| (cand, model, rss));
        }
        let Some((cand, mut model, rss)) = step else {
            break;
        };
        model.mains_hz = cand.mains.map(|c| freqs[c]);
        terms = cand;
        best = model;
        best_rss = rss;
    }
    if terms.tail.is_some() && best.coef[4].abs() > TAIL_REFINE_SIGMAS * best.sigma {
        let mut sums = sums;
        if let Some(mut model) = refine_tail(
            &mut sums,
            x,
            ranges,
            cols,
            sample_rate_hz,
            terms,
            best_rss,
            allow.tau_hint,
        ) {
            model.mains_hz = terms.mains.map(|c| freqs[c]);
            best = model;
        }
    }
    best
}

/// A tail this many residual σ tall has its τ refined between the grid's: the grid is a factor
/// 1.7 apart, and the exponential of a neighbouring τ leaves up to a tenth of the tail behind,
/// enough to hide or fake a small response under a large artefact.
const TAIL_REFINE_SIGMAS: f64 = 5.0;
/// Longest τ (ms) a refinement may reach beyond the grid's last.
const TAIL_TAU_MAX_MS: f64 = 10.0;
/// Tolerance of the refined ln τ (0.5 % of τ).
const TAIL_REFINE_TOLERANCE: f64 = 0.005;
/// Most evaluations of the residual a refinement makes.
const TAIL_REFINE_MAX_EVALUATIONS: usize = 20;

/// Refines the τ of the tail in `terms` (a grid τ) by a bounded Brent search of the residual
/// sum of squares over log τ between the neighbouring grid values (beyond the grid's ends, a
/// factor 1.7 below its first and up to [`TAIL_TAU_MAX_MS`]); first within 15 % of `hint` (an
/// earlier fit's τ in the same sweep) when it lies there, and over the whole interval only if
/// the minimum is not inside that. Returns the refined model when it fits better than
/// `grid_rss`.
#[allow(clippy::too_many_arguments)]
fn refine_tail(
    sums: &mut Sums,
    x: &[f64],
    ranges: &[(usize, usize)],
    cols: &Columns,
    fs: f64,
    terms: Terms,
    grid_rss: f64,
    hint: Option<f64>,
) -> Option<Baseline> {
    let t = terms.tail?;
    let lo = if t == 0 {
        TAUS_MS[0] / 1.7
    } else {
        TAUS_MS[t - 1]
    };
    let hi = if t + 1 == NT {
        TAIL_TAU_MAX_MS.max(TAUS_MS[t] * 1.7)
    } else {
        TAUS_MS[t + 1]
    };
    let refined = Terms {
        tail: Some(REFINED),
        ..terms
    };
    let mut best: Option<(Baseline, f64)> = None;
    let mut score = |ln_tau: f64| -> f64 {
        let tau = ln_tau.exp();
        sums.refined_tau_ms = tau;
        sums.set_refined_tail(x, ranges, cols, 1.0 / (tau * 1e-3 * fs));
        match sums.solve(refined) {
            Some((model, rss)) => {
                if best.as_ref().is_none_or(|(_, b)| rss < *b) {
                    best = Some((model, rss));
                }
                rss
            }
            None => f64::INFINITY,
        }
    };
    let (lo, hi) = (lo.ln(), hi.ln());
    match hint.map(f64::ln).filter(|h| *h > lo && *h < hi) {
        Some(h) => {
            let (a, b) = ((h - TAIL_HINT_SPAN).max(lo), (h + TAIL_HINT_SPAN).min(hi));
            let at = brent_minimum(&mut score, a, b);
            let edge = 2.0 * TAIL_REFINE_TOLERANCE;
            if (at - a < edge && a > lo) || (b - at < edge && b < hi) {
                brent_minimum(&mut score, lo, hi);
            }
        }
        None => {
            brent_minimum(&mut score, lo, hi);
        }
    }
    match best {
        Some((model, rss)) if rss < grid_rss => Some(model),
        _ => None,
    }
}

/// Half-width (in ln τ) of the interval around a hint that a refinement searches first (15 %).
const TAIL_HINT_SPAN: f64 = 0.14;

/// Brent's minimisation of `f` over `[a, b]` (bounded, as scipy's `fminbound`): parabolic
/// steps where `f` is smooth, golden-section steps otherwise, to [`TAIL_REFINE_TOLERANCE`] and at
/// most [`TAIL_REFINE_MAX_EVALUATIONS`] evaluations. Near its minimum the residual is close to
/// a parabola, so this takes about half the evaluations of golden-section search alone.
/// Returns the best point.
fn brent_minimum(f: &mut impl FnMut(f64) -> f64, a: f64, b: f64) -> f64 {
    let score = f;
    let (mut a, mut b) = (a, b);
    let sqrt_eps = f64::EPSILON.sqrt();
    let golden = 0.5 * (3.0 - 5f64.sqrt());
    let mut xf = a + golden * (b - a);
    let (mut nfc, mut fulc) = (xf, xf);
    let (mut rat, mut e) = (0.0f64, 0.0f64);
    let mut fx = score(xf);
    let (mut ffulc, mut fnfc) = (fx, fx);
    let mut xm = 0.5 * (a + b);
    let mut tol1 = sqrt_eps * xf.abs() + TAIL_REFINE_TOLERANCE / 3.0;
    let mut tol2 = 2.0 * tol1;
    let mut evaluations = 1;
    while (xf - xm).abs() > tol2 - 0.5 * (b - a) && evaluations < TAIL_REFINE_MAX_EVALUATIONS {
        let mut golden_step = true;
        if e.abs() > tol1 {
            golden_step = false;
            let r = (xf - nfc) * (fx - ffulc);
            let mut q = (xf - fulc) * (fx - fnfc);
            let mut p = (xf - fulc) * q - (xf - nfc) * r;
            q = 2.0 * (q - r);
            if q > 0.0 {
                p = -p;
            }
            q = q.abs();
            let r = e;
            e = rat;
            if p.abs() < (0.5 * q * r).abs() && p > q * (a - xf) && p < q * (b - xf) {
                rat = p / q;
                let x = xf + rat;
                if (x - a) < tol2 || (b - x) < tol2 {
                    rat = if xm >= xf { tol1 } else { -tol1 };
                }
            } else {
                golden_step = true;
            }
        }
        if golden_step {
            e = if xf >= xm { a - xf } else { b - xf };
            rat = golden * e;
        }
        let x = xf + if rat >= 0.0 { 1.0 } else { -1.0 } * rat.abs().max(tol1);
        let fu = score(x);
        evaluations += 1;
        if fu <= fx {
            if x >= xf {
                a = xf;
            } else {
                b = xf;
            }
            (fulc, ffulc) = (nfc, fnfc);
            (nfc, fnfc) = (xf, fx);
            (xf, fx) = (x, fu);
        } else {
            if x < xf {
                a = x;
            } else {
                b = x;
            }
            if fu <= fnfc || nfc == xf {
                (fulc, ffulc) = (nfc, fnfc);
                (nfc, fnfc) = (x, fu);
            } else if fu <= ffulc || fulc == xf || fulc == nfc {
                (fulc, ffulc) = (x, fu);
            }
        }
        xm = 0.5 * (a + b);
        tol1 = sqrt_eps * xf.abs() + TAIL_REFINE_TOLERANCE / 3.0;
        tol2 = 2.0 * tol1;
    }
    xf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refined_tail_residual_and_smoothing_match_direct_evaluation() {
        // A tail of a τ off the grid (rate 0.07 per sample) starting at sample 50, with a
        // level and a drift: the residual equals x minus the model sample by sample, and the
        // smoothed residual from the smoothed samples equals smoothing the residual.
        let (fs, n) = (20_000.0, 600);
        let mut kernel = Vec::new();
        crate::numeric::gaussian_kernel(2.0, &mut kernel);
        let mut cols = Columns::default();
        cols.prepare(fs, &[], n, &kernel);
        let model = Baseline {
            coef: [0.1, 0.02, 0.0, 0.0, 2.0],
            center: 300.0,
            scale: 300.0,
            tail: Some((50, 0.07, REFINED)),
            ..Baseline::default()
        };
        let x: Vec<f64> = (0..n).map(|i| ((i * 7919) % 101) as f64 * 1e-3).collect();
        let mut u = Vec::new();
        model.residual_into(&x, 1.0, 1.0, &cols, &mut u);
        for (i, (&ui, &xi)) in u.iter().zip(&x).enumerate() {
            assert!((ui - (xi - model.at(i))).abs() < 1e-12, "sample {i}");
        }
        let half = kernel.len() / 2;
        let mut sx = vec![0.0; n];
        smooth_range(&x, &kernel, half, n - half, &mut sx);
        let mut v = vec![0.0; n];
        let (lo, hi) = model.smoothed_into(&sx, 1.0, 1.0, &cols, &mut v);
        let mut su = vec![0.0; n];
        smooth_range(&u, &kernel, lo, hi, &mut su);
        for i in lo..hi {
            assert!(
                (v[i] - su[i]).abs() < 1e-12,
                "sample {i}: {} vs {}",
                v[i],
                su[i]
            );
        }
    }

    #[test]
    fn harmonics_are_recovered_over_ranges_with_a_gap() {
        // 2nd, 3rd and 5th harmonics of 50 Hz at 20 kHz over two ranges with a gap between
        // them: the closed-form Gram matrix gives back the coefficients exactly.
        let w = std::f64::consts::TAU * 50.0 / 20_000.0;
        let want = [(0.3, -0.2), (0.05, 0.1), (0.0, 0.0), (-0.04, 0.02)];
        let r: Vec<f64> = (0..2400)
            .map(|i| {
                want.iter()
                    .enumerate()
                    .map(|(h, (s, c))| {
                        let ph = (h + 2) as f64 * w * i as f64;
                        s * ph.sin() + c * ph.cos()
                    })
                    .sum()
            })
            .collect();
        // By rotating phasors, and from the columns of the second mains candidate (50 Hz).
        let mut cols = Columns::default();
        cols.prepare(20_000.0, &[60.0, 50.0], r.len(), &[1.0]);
        let columns = cols.harmonics(1);
        assert!(columns.is_some());
        for columns in [None, columns] {
            let h =
                fit_harmonics(&r, &[(0, 390), (700, 2400)], w, columns, 5, 0.2).expect("harmonics");
            assert_eq!(h.count, 4);
            for (k, (s, c)) in want.iter().enumerate() {
                assert!(
                    (h.coef[2 * k] - s).abs() < 1e-9,
                    "sine {k}: {}",
                    h.coef[2 * k]
                );
                assert!(
                    (h.coef[2 * k + 1] - c).abs() < 1e-9,
                    "cosine {k}: {}",
                    h.coef[2 * k + 1]
                );
            }
            let mut out = Vec::new();
            h.subtract_into(&r, 1.0, columns, &mut out);
            assert!(out.iter().all(|v| v.abs() < 1e-9));
        }
        // Columns shorter than the samples are not used.
        let mut short = Columns::default();
        short.prepare(20_000.0, &[50.0], 1000, &[1.0]);
        let h = fit_harmonics(&r, &[(0, 390), (700, 2400)], w, short.harmonics(0), 5, 0.2)
            .expect("harmonics");
        assert!((h.coef[0] - 0.3).abs() < 1e-9);
        // Nothing but noise-free harmonics below the share asked for: not removed.
        let tiny: Vec<f64> = r
            .iter()
            .enumerate()
            .map(|(i, v)| v * 1e-3 + (i % 2) as f64)
            .collect();
        assert!(fit_harmonics(&tiny, &[(0, 390), (700, 2400)], w, None, 5, 0.2).is_none());
    }

    /// Fits with freshly prepared columns.
    pub(super) fn fit(x: &[f64], ranges: &[(usize, usize)], fs: f64, allow: Allow<'_>) -> Baseline {
        let mut cols = Columns::default();
        cols.prepare(fs, allow.mains, x.len(), &[1.0]);
        fit_baseline(x, ranges, fs, allow, &cols)
    }

    type Direct = (
        [[f64; NB]; NB],
        [f64; NB],
        [[f64; NB + 1]; NT],
        [f64; NT],
        f64,
    );
    type Case<'a> = (f64, &'a [f64], &'a [(usize, usize)], Option<usize>, usize);

    /// The Gram matrix and products with the samples, summed term by term.
    fn direct(
        x: &[f64],
        ranges: &[(usize, usize)],
        fs: f64,
        freqs: &[f64],
        tail_start: Option<usize>,
        center: f64,
        scale: f64,
    ) -> Direct {
        let (mut g, mut gy, mut ge, mut gey, mut yy) = (
            [[0.0; NB]; NB],
            [0.0; NB],
            [[0.0; NB + 1]; NT],
            [0.0; NT],
            0.0,
        );
        for &(a, b) in ranges {
            for i in a..b {
                let mut row = [0.0; NB];
                row[0] = 1.0;
                row[1] = (i as f64 - center) / scale;
                for (c, f) in freqs.iter().enumerate() {
                    let ph = std::f64::consts::TAU * f / fs * i as f64;
                    row[2 + 2 * c] = ph.sin();
                    row[3 + 2 * c] = ph.cos();
                }
                let y = x[i];
                yy += y * y;
                for r in 0..NB {
                    gy[r] += row[r] * y;
                    for c in 0..NB {
                        g[r][c] += row[r] * row[c];
                    }
                }
                if let Some(s) = tail_start.filter(|&s| i >= s) {
                    for (t, tau) in TAUS_MS.iter().enumerate() {
                        let e = (-((i - s) as f64) / (tau * 1e-3 * fs)).exp();
                        for r in 0..NB {
                            ge[t][r] += e * row[r];
                        }
                        ge[t][NB] += e * e;
                        gey[t] += e * y;
                    }
                }
            }
        }
        (g, gy, ge, gey, yy)
    }

    #[test]
    fn bordered_scores_match_full_solves() {
        let fs = 20_000.0;
        let n = 1200;
        let x: Vec<f64> = (0..n)
            .map(|i| {
                let t = i as f64 / fs;
                let tail = if i >= 221 {
                    3e-3 * (-((i - 221) as f64) / 9.0).exp()
                } else {
                    0.0
                };
                1e-3 + 2e-3 * t
                    + 30e-6 * (std::f64::consts::TAU * 50.0 * t).sin()
                    + tail
                    + noise(i) * 10.0
            })
            .collect();
        let mut cols = Columns::default();
        cols.prepare(fs, &[50.0, 60.0], n, &[1.0]);
        let mains = [(0, cols.omega(0)), (1, cols.omega(1))];
        let sums = Sums::gather(&x, &[(0, 196), (221, n)], &cols, &mains, Some(221)).unwrap();
        let base = Terms {
            drift: false,
            mains: None,
            tail: None,
        };
        let mut checked = 0;
        for current in [
            base,
            Terms {
                drift: true,
                ..base
            },
            Terms {
                mains: Some(1),
                ..base
            },
            Terms {
                tail: Some(3),
                ..base
            },
            Terms {
                drift: true,
                mains: Some(0),
                ..base
            },
        ] {
            let f = sums.factor(current).unwrap();
            let mut cands = vec![Terms {
                drift: true,
                ..current
            }];
            for m in 0..2 {
                cands.push(Terms {
                    mains: Some(m),
                    ..current
                });
            }
            for t in 0..NT {
                cands.push(Terms {
                    tail: Some(t),
                    ..current
                });
            }
            for cand in cands {
                if cand == current
                    || (current.mains.is_some() && cand.mains != current.mains)
                    || (current.tail.is_some() && cand.tail != current.tail)
                {
                    continue;
                }
                let full = sums.solve(cand).map(|(_, rss)| rss);
                let bordered = sums.rss_adding(&f, current, cand);
                match (full, bordered) {
                    (Some(a), Some(b)) => {
                        assert!((a - b).abs() <= 1e-9 * sums.yy, "{a} vs {b}");
                        checked += 1;
                    }
                    (a, b) => assert_eq!(a.is_some(), b.is_some()),
                }
            }
        }
        assert!(checked > 20, "only {checked} candidates compared");
    }

    #[test]
    fn closed_form_sums_match_direct_sums() {
        let cases: [Case<'_>; 5] = [
            (
                20_000.0,
                &[50.0, 60.0],
                &[(0, 196), (221, 1200)],
                Some(221),
                1200,
            ),
            (
                20_000.0,
                &[50.0, 60.0],
                &[(0, 196), (230, 500), (800, 1200)],
                Some(230),
                1200,
            ),
            (10_000.0, &[60.0], &[(3, 150), (400, 601)], Some(420), 601),
            (48_000.0, &[50.0, 60.0], &[(0, 480)], None, 3000),
            (5_000.0, &[], &[(0, 50), (60, 300)], Some(60), 300),
        ];
        for (fs, freqs, ranges, tail, n) in cases {
            let x: Vec<f64> = (0..n)
                .map(|i| 1e-3 + 4e-3 * (-(i as f64) / 90.0).exp() + noise(i) * 50.0)
                .collect();
            let mut cols = Columns::default();
            cols.prepare(fs, freqs, n, &[1.0]);
            let mains: Vec<(usize, f64)> = (0..freqs.len()).map(|k| (k, cols.omega(k))).collect();
            let sums = Sums::gather(&x, ranges, &cols, &mains, tail).unwrap();
            let (g, gy, ge, gey, yy) = direct(&x, ranges, fs, freqs, tail, sums.center, sums.scale);
            let close = |a: f64, b: f64, what: &str| {
                let tol = 1e-10 * (1.0 + b.abs());
                assert!(
                    (a - b).abs() <= tol,
                    "{what}: {a} vs {b} (fs {fs}, {ranges:?})"
                );
            };
            let used = 2 + 2 * freqs.len();
            for r in 0..used {
                close(sums.gy[r], gy[r], "gy");
                for c in 0..used {
                    close(sums.g[r][c], g[r][c], "g");
                }
            }
            close(sums.yy, yy, "yy");
            if tail.is_some() {
                for t in 0..NT {
                    close(sums.gey[t], gey[t], "gey");
                    close(sums.ge[t][NB], ge[t][NB], "ee");
                    for r in 0..used {
                        close(sums.ge[t][r], ge[t][r], "ge");
                    }
                }
            }
        }
    }

    fn noise(i: usize) -> f64 {
        // Deterministic pseudo-noise with zero mean, amplitude ~1e-6.
        let h = (i as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(17);
        ((h >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 3.4e-6
    }

    #[test]
    fn constant_baseline_keeps_no_extra_terms() {
        let x: Vec<f64> = (0..400).map(|i| 2e-3 + noise(i)).collect();
        let b = fit(
            &x,
            &[(0, 400)],
            20_000.0,
            Allow {
                mains: &[50.0, 60.0],
                drift: true,
                tail_start: None,
                tau_hint: None,
            },
        );
        assert!(!b.drift && b.mains_hz.is_none() && b.tail_tau_ms.is_none());
        assert!((b.at(0) - 2e-3).abs() < 1e-6);
    }

    #[test]
    fn mains_and_drift_are_found_across_a_gap() {
        let fs = 10_000.0;
        let f = |i: usize| {
            let t = i as f64 / fs;
            1e-3 + 5e-3 * t + 20e-6 * (std::f64::consts::TAU * 60.0 * t + 0.7).sin() + noise(i)
        };
        let x: Vec<f64> = (0..600).map(f).collect();
        let b = fit(
            &x,
            &[(0, 150), (400, 600)],
            fs,
            Allow {
                mains: &[50.0, 60.0],
                drift: true,
                tail_start: None,
                tau_hint: None,
            },
        );
        assert_eq!(b.mains_hz, Some(60.0));
        assert!(b.drift);
        for i in 150..400 {
            assert!((b.at(i) - (f(i) - noise(i))).abs() < 2e-6, "sample {i}");
        }
    }
}

#[cfg(test)]
mod tail_tests {
    use super::tests::fit;
    use super::*;

    #[test]
    fn artefact_tail_is_fitted_from_its_start() {
        let fs = 20_000.0;
        let start = 210;
        let f = |i: usize| {
            let tail = if i >= start {
                2e-3 * (-((i - start) as f64) / (0.6e-3 * fs)).exp()
            } else {
                0.0
            };
            0.5e-3 + tail
        };
        let x: Vec<f64> = (0..800).map(f).collect();
        let b = fit(
            &x,
            &[(0, 190), (start, 800)],
            fs,
            Allow {
                mains: &[],
                drift: true,
                tail_start: Some(start),
                tau_hint: None,
            },
        );
        assert_eq!(b.tail_tau_ms, Some(0.6));
        for i in [start, start + 5, start + 40] {
            assert!((b.at(i) - f(i)).abs() < 1e-9, "sample {i}");
            assert!((b.tail_at(i) - (f(i) - 0.5e-3)).abs() < 1e-9);
        }
    }

    #[test]
    fn an_off_grid_tau_is_refined_from_a_hint_or_without_one() {
        // τ = 0.8 ms lies between the grid's 0.6 and 1.0 ms. A hint near it, one at the far
        // end of its interval (the minimum outside the first search), or none: the same τ to
        // the refinement's tolerance, and the tail removed.
        let fs = 20_000.0;
        let start = 210;
        let f = |i: usize| {
            let tail = if i >= start {
                3e-3 * (-((i - start) as f64) / (0.8e-3 * fs)).exp()
            } else {
                0.0
            };
            0.2e-3 + tail + 1e-6 * ((i * 7919 % 101) as f64 / 50.0 - 1.0)
        };
        let x: Vec<f64> = (0..1200).map(f).collect();
        for hint in [None, Some(0.82), Some(0.62), Some(5.0)] {
            let b = fit(
                &x,
                &[(0, 190), (start, 1200)],
                fs,
                Allow {
                    mains: &[],
                    drift: false,
                    tail_start: Some(start),
                    tau_hint: hint,
                },
            );
            let tau = b.tail_tau_ms.expect("a tail");
            assert!((tau / 0.8 - 1.0).abs() < 0.01, "hint {hint:?}: τ {tau}");
            assert!(
                (b.tail_at(start + 10) - (f(start + 10) - 0.2e-3)).abs() < 2e-6,
                "hint {hint:?}"
            );
        }
    }
}
