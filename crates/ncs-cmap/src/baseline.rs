//! The baseline model: a constant level, and where they are significant a linear drift, a
//! 50/60 Hz mains sinusoid and the decaying tail of the stimulus artefact, fitted by least
//! squares to the samples known to hold no response.
//!
//! Terms are added one at a time, the most significant first, and only while the gain passes
//! an F-test against the smaller model: every extra term also adds its estimation noise to the
//! whole sweep (a drift slope fitted on a short baseline and extrapolated across the window
//! would add more error to the area of a small response than the drift it removes). The tail
//! is `A·exp(−(i − start)/τ)` from the end of the artefact on, with τ chosen from a grid.

// Matrix code reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

use crate::numeric::solve_spd;

/// Most regressors in one model: 1, t, sin, cos, tail.
const P: usize = 5;
/// Base regressors gathered for every model: 1, t, and sin/cos for two mains candidates.
const NB: usize = 6;
/// Tail time constants tried (ms).
const TAUS_MS: [f64; 6] = [0.2, 0.35, 0.6, 1.0, 1.7, 3.0];
const NT: usize = TAUS_MS.len();
/// F statistic a term must exceed to be kept (per degree of freedom).
const F_KEEP: f64 = 12.0;

/// A fitted baseline model, evaluated per sample index.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Baseline {
    coef: [f64; P],
    center: f64,
    scale: f64,
    /// Mains angular frequency per sample (radians), when a mains term is kept.
    omega: Option<f64>,
    /// Tail start (sample) and decay per sample, when a tail term is kept.
    tail: Option<(usize, f64)>,
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
        if let Some(w) = self.omega {
            let ph = w * i as f64;
            v += self.coef[2] * ph.sin() + self.coef[3] * ph.cos();
        }
        if let Some((a, d)) = self.tail {
            if i >= a {
                v += self.coef[4] * d.powf((i - a) as f64);
            }
        }
        v
    }

    /// The artefact-tail part of the model at sample `i` (volts).
    pub(crate) fn tail_at(&self, i: usize) -> f64 {
        match self.tail {
            Some((a, d)) if i >= a => self.coef[4] * d.powf((i - a) as f64),
            _ => 0.0,
        }
    }

    /// Writes `sign · (x[i] − model(i)) · scale` for every sample into `out`. The mains phase
    /// advances by rotation and the tail by multiplication rather than a sine, cosine or
    /// exponential per sample, which dominated the cost of measuring a sweep.
    pub(crate) fn residual_into(&self, x: &[f64], sign: f64, scale: f64, out: &mut Vec<f64>) {
        out.clear();
        let k = sign * scale;
        let slope = self.coef[1] / self.scale;
        let offset = self.coef[0] - slope * self.center;
        out.extend(
            x.iter()
                .enumerate()
                .map(|(i, &xi)| k * (xi - (offset + slope * i as f64))),
        );
        if let Some(w) = self.omega {
            let mut rot = Rotor::new(w, 0);
            let (a, b) = (k * self.coef[2], k * self.coef[3]);
            for o in out.iter_mut() {
                let (sn, cs) = rot.next();
                *o -= a * sn + b * cs;
            }
        }
        if let Some((start, d)) = self.tail {
            let mut e = k * self.coef[4];
            for o in out.iter_mut().skip(start) {
                *o -= e;
                e *= d;
            }
        }
    }

    /// Change of the drift term from sample `a` to sample `b` (volts).
    pub(crate) fn drift_between(&self, a: usize, b: usize) -> f64 {
        self.coef[1] * (b as f64 - a as f64) / self.scale
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

/// Regressor sums over the quiet samples, gathered in one pass for every candidate model.
struct Sums {
    n: usize,
    center: f64,
    scale: f64,
    /// Gram matrix among [1, t, s₁, c₁, s₂, c₂] and their products with y.
    g: [[f64; NB]; NB],
    gy: [f64; NB],
    /// Per tail τ: products of the tail regressor with the base regressors, then with itself.
    ge: [[f64; NB + 1]; NT],
    gey: [f64; NT],
    yy: f64,
    omegas: [f64; 2],
    n_mains: usize,
    tail_start: Option<usize>,
    decay: [f64; NT],
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
        omegas: &[f64],
        tail_start: Option<usize>,
        sample_rate_hz: f64,
    ) -> Option<Sums> {
        let n: usize = ranges.iter().map(|(a, b)| b - a).sum();
        let lo = ranges.iter().map(|r| r.0).min()?;
        let hi = ranges.iter().map(|r| r.1).max()?;
        let center = 0.5 * (lo + hi) as f64;
        let scale = ((hi - lo) as f64 * 0.5).max(1.0);
        let m = omegas.len().min(2);
        let mut decay = [0.0; NT];
        for (d, tau) in decay.iter_mut().zip(TAUS_MS) {
            *d = (-1.0 / (tau * 1e-3 * sample_rate_hz)).exp();
        }
        let mut sums = Sums {
            n,
            center,
            scale,
            g: [[0.0; NB]; NB],
            gy: [0.0; NB],
            ge: [[0.0; NB + 1]; NT],
            gey: [0.0; NT],
            yy: 0.0,
            omegas: [0.0; 2],
            n_mains: m,
            tail_start,
            decay,
        };
        sums.omegas[..m].copy_from_slice(&omegas[..m]);
        let mut row = [0.0; NB];
        for &(a, b) in ranges {
            let mut rots = [Rotor::new(sums.omegas[0], a), Rotor::new(sums.omegas[1], a)];
            let mut e = [0.0; NT];
            for (i, &y) in x.iter().enumerate().take(b).skip(a) {
                row[0] = 1.0;
                row[1] = (i as f64 - center) / scale;
                for (c, rot) in rots.iter_mut().enumerate().take(m) {
                    (row[2 + 2 * c], row[3 + 2 * c]) = rot.next();
                }
                sums.yy += y * y;
                // Constant loop bounds (unused regressors stay zero) let the compiler unroll
                // the Gram update, the measurement's hottest loop.
                for r in 0..NB {
                    sums.gy[r] += row[r] * y;
                    for c in 0..NB {
                        sums.g[r][c] += row[r] * row[c];
                    }
                }
                if let Some(start) = tail_start {
                    if i == start.max(a) && i >= start {
                        for (t, ev) in e.iter_mut().enumerate() {
                            *ev = decay[t].powf((i - start) as f64);
                        }
                    }
                    if i >= start {
                        for t in 0..NT {
                            let ev = e[t];
                            for r in 0..NB {
                                sums.ge[t][r] += ev * row[r];
                            }
                            sums.ge[t][NB] += ev * ev;
                            sums.gey[t] += ev * y;
                            e[t] = ev * decay[t];
                        }
                    }
                }
            }
        }
        Some(sums)
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
        let mut a = [[0.0; P]; P];
        let mut b = [0.0; P];
        for r in 0..p {
            b[r] = if idx[r] == NB {
                self.gey[t]
            } else {
                self.gy[idx[r]]
            };
            for c in 0..p {
                a[r][c] = self.gram(idx[r], idx[c], t);
            }
        }
        let rhs = b;
        if !solve_spd(&mut a, &mut b, p) {
            return None;
        }
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
            omega: terms.mains.map(|m| self.omegas[m]),
            tail: terms
                .tail
                .and_then(|t| self.tail_start.map(|s| (s, self.decay[t]))),
            mains_hz: None,
            tail_tau_ms: terms.tail.map(|t| TAUS_MS[t]),
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
}

/// Fits the baseline over `ranges`, adding drift, mains and tail terms one at a time (most
/// significant first) while each passes the F-test.
pub(crate) fn fit_baseline(
    x: &[f64],
    ranges: &[(usize, usize)],
    sample_rate_hz: f64,
    allow: Allow<'_>,
) -> Baseline {
    let lo = ranges.iter().map(|r| r.0).min().unwrap_or(0);
    let hi = ranges.iter().map(|r| r.1).max().unwrap_or(0);
    let span_s = (hi - lo) as f64 / sample_rate_hz;
    let mut freqs = [0.0; 2];
    let mut omegas = [0.0; 2];
    let mut m = 0;
    for &f in allow.mains.iter().take(2) {
        if span_s * f >= 1.0 && f < 0.5 * sample_rate_hz {
            freqs[m] = f;
            omegas[m] = std::f64::consts::TAU * f / sample_rate_hz;
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
    let Some(sums) = Sums::gather(x, ranges, &omegas[..m], allow.tail_start, sample_rate_hz) else {
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
        let mut step: Option<(Terms, Baseline, f64, f64)> = None;
        for cand in candidates.into_iter().flatten() {
            let Some((model, rss)) = sums.solve(cand) else {
                continue;
            };
            let p = cand.count();
            // A grid-searched τ or a chosen frequency costs one more degree of freedom.
            let extra = p - terms.count()
                + usize::from(cand.tail != terms.tail || cand.mains != terms.mains);
            if !significant(best_rss, rss, extra, n, p) {
                continue;
            }
            let gain = best_rss - rss;
            if step.as_ref().is_none_or(|s| gain > s.3) {
                step = Some((cand, model, rss, gain));
            }
        }
        let Some((cand, mut model, rss, _)) = step else {
            break;
        };
        model.mains_hz = cand.mains.map(|c| freqs[c]);
        terms = cand;
        best = model;
        best_rss = rss;
    }
    best
}

/// sin(ω·i), cos(ω·i) for consecutive i, by rotating a unit vector (one sine and cosine at the
/// start; the rounding drift over a sweep is ~1e-13).
struct Rotor {
    s: f64,
    c: f64,
    ds: f64,
    dc: f64,
}

impl Rotor {
    fn new(omega: f64, start: usize) -> Self {
        let ph = omega * start as f64;
        Rotor {
            s: ph.sin(),
            c: ph.cos(),
            ds: omega.sin(),
            dc: omega.cos(),
        }
    }

    #[inline]
    fn next(&mut self) -> (f64, f64) {
        let out = (self.s, self.c);
        let s = self.s * self.dc + self.c * self.ds;
        self.c = self.c * self.dc - self.s * self.ds;
        self.s = s;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let b = fit_baseline(
            &x,
            &[(0, 400)],
            20_000.0,
            Allow {
                mains: &[50.0, 60.0],
                drift: true,
                tail_start: None,
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
        let b = fit_baseline(
            &x,
            &[(0, 150), (400, 600)],
            fs,
            Allow {
                mains: &[50.0, 60.0],
                drift: true,
                tail_start: None,
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
        let b = fit_baseline(
            &x,
            &[(0, 190), (start, 800)],
            fs,
            Allow {
                mains: &[],
                drift: true,
                tail_start: Some(start),
            },
        );
        assert_eq!(b.tail_tau_ms, Some(0.6));
        for i in [start, start + 5, start + 40] {
            assert!((b.at(i) - f(i)).abs() < 1e-9, "sample {i}");
            assert!((b.tail_at(i) - (f(i) - 0.5e-3)).abs() < 1e-9);
        }
    }
}
