//! The baseline model: constant level, optionally a linear drift and a mains sinusoid, fitted by
//! least squares to the samples known to hold no response.
//!
//! Each optional term is kept only when it explains the quiet samples significantly better
//! (an F-test against the smaller model), because every extra term also adds its estimation
//! noise to the whole sweep: a drift slope fitted on a 10 ms baseline and extrapolated 40 ms
//! further would add more error to the area of a small response than the drift it removes.

// Matrix code reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

use crate::numeric::solve_spd;

/// Most regressors in the model: 1, t, sin, cos.
const P: usize = 4;
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
    /// Mains frequency (Hz) kept in the model.
    pub(crate) mains_hz: Option<f64>,
    /// Whether a drift term is kept.
    pub(crate) drift: bool,
    /// Residual standard deviation over the fitted samples (volts).
    pub(crate) sigma: f64,
}

impl Baseline {
    /// Model value at sample `i` (volts).
    #[inline]
    pub(crate) fn at(&self, i: usize) -> f64 {
        let x = (i as f64 - self.center) / self.scale;
        let mut v = self.coef[0] + self.coef[1] * x;
        if let Some(w) = self.omega {
            let ph = w * i as f64;
            v += self.coef[2] * ph.sin() + self.coef[3] * ph.cos();
        }
        v
    }

    /// Writes `sign · (x[i] − model(i)) · scale` for every sample into `out`. The mains phase
    /// advances by rotation rather than a sine and cosine per sample, which dominated the cost
    /// of measuring a sweep.
    pub(crate) fn residual_into(&self, x: &[f64], sign: f64, scale: f64, out: &mut Vec<f64>) {
        out.clear();
        let k = sign * scale;
        let slope = self.coef[1] / self.scale;
        let offset = self.coef[0] - slope * self.center;
        match self.omega {
            None => out.extend(
                x.iter()
                    .enumerate()
                    .map(|(i, &xi)| k * (xi - (offset + slope * i as f64))),
            ),
            Some(w) => {
                let mut rot = Rotor::new(w, 0);
                out.extend(x.iter().enumerate().map(|(i, &xi)| {
                    let (sn, cs) = rot.next();
                    k * (xi - (offset + slope * i as f64 + self.coef[2] * sn + self.coef[3] * cs))
                }));
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

/// Regressor sums over the quiet samples, gathered in one pass for every candidate model:
/// regressors are 1, t (scaled index) and, per mains candidate, sin and cos.
struct Sums {
    n: usize,
    center: f64,
    scale: f64,
    /// Gram matrix entries among [1, t, s₁, c₁, s₂, c₂] and their products with y.
    g: [[f64; 6]; 6],
    gy: [f64; 6],
    yy: f64,
    omegas: [f64; 2],
    n_mains: usize,
}

impl Sums {
    fn gather(x: &[f64], ranges: &[(usize, usize)], omegas: &[f64]) -> Option<Sums> {
        let n: usize = ranges.iter().map(|(a, b)| b - a).sum();
        let lo = ranges.iter().map(|r| r.0).min()?;
        let hi = ranges.iter().map(|r| r.1).max()?;
        let center = 0.5 * (lo + hi) as f64;
        let scale = ((hi - lo) as f64 * 0.5).max(1.0);
        let m = omegas.len().min(2);
        // Always accumulate all six regressors (unused ones stay zero): constant loop bounds let
        // the compiler unroll the Gram update, which is the measurement's hottest loop.
        let mut g = [[0.0; 6]; 6];
        let mut gy = [0.0; 6];
        let mut yy = 0.0;
        let mut row = [0.0; 6];
        for &(a, b) in ranges {
            let mut rots = [
                Rotor::new(omegas.first().copied().unwrap_or(0.0), a),
                Rotor::new(omegas.get(1).copied().unwrap_or(0.0), a),
            ];
            for (i, &y) in x.iter().enumerate().take(b).skip(a) {
                row[0] = 1.0;
                row[1] = (i as f64 - center) / scale;
                for (c, rot) in rots.iter_mut().enumerate().take(m) {
                    (row[2 + 2 * c], row[3 + 2 * c]) = rot.next();
                }
                yy += y * y;
                for r in 0..6 {
                    gy[r] += row[r] * y;
                    for c in 0..6 {
                        g[r][c] += row[r] * row[c];
                    }
                }
            }
        }
        let mut omega_arr = [0.0; 2];
        omega_arr[..m].copy_from_slice(&omegas[..m]);
        Some(Sums {
            n,
            center,
            scale,
            g,
            gy,
            yy,
            omegas: omega_arr,
            n_mains: m,
        })
    }

    /// Solves the model with regressors `idx` (indices into [1, t, s₁, c₁, s₂, c₂]); returns
    /// the model and its residual sum of squares.
    fn solve(&self, drift: bool, mains: Option<usize>) -> Option<(Baseline, f64)> {
        let mut idx = [0usize; 4];
        let mut p = 1;
        if drift {
            idx[p] = 1;
            p += 1;
        }
        if let Some(m) = mains {
            idx[p] = 2 + 2 * m;
            idx[p + 1] = 3 + 2 * m;
            p += 2;
        }
        if self.n <= p + 1 {
            return None;
        }
        let mut a = [[0.0; P]; P];
        let mut b = [0.0; P];
        for r in 0..p {
            b[r] = self.gy[idx[r]];
            for c in 0..p {
                let (hi, lo) = if idx[r] >= idx[c] {
                    (idx[r], idx[c])
                } else {
                    (idx[c], idx[r])
                };
                a[r][c] = self.g[hi][lo];
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
        if drift {
            coef[1] = b[q];
            q += 1;
        }
        if mains.is_some() {
            coef[2] = b[q];
            coef[3] = b[q + 1];
        }
        let model = Baseline {
            coef,
            center: self.center,
            scale: self.scale,
            omega: mains.map(|m| self.omegas[m]),
            mains_hz: None,
            drift,
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

/// Fits the baseline over `ranges`, keeping a drift and a mains term only where significant.
/// `mains` lists candidate mains frequencies (Hz, at most two); a mains term is only tried when
/// the samples span at least one period.
pub(crate) fn fit_baseline(
    x: &[f64],
    ranges: &[(usize, usize)],
    sample_rate_hz: f64,
    mains: &[f64],
    allow_drift: bool,
) -> Baseline {
    let lo = ranges.iter().map(|r| r.0).min().unwrap_or(0);
    let hi = ranges.iter().map(|r| r.1).max().unwrap_or(0);
    let span_s = (hi - lo) as f64 / sample_rate_hz;
    let mut freqs = [0.0; 2];
    let mut omegas = [0.0; 2];
    let mut m = 0;
    for &f in mains.iter().take(2) {
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
            coef: [mean, 0.0, 0.0, 0.0],
            center: 0.0,
            scale: 1.0,
            sigma: var.sqrt(),
            ..Baseline::default()
        }
    };
    let Some(sums) = Sums::gather(x, ranges, &omegas[..m]) else {
        return fallback();
    };
    let n = sums.n;
    let Some((constant, rss0)) = sums.solve(false, None) else {
        return fallback();
    };
    let (mut best, mut best_rss, mut best_p) = (constant, rss0, 1);
    if allow_drift {
        if let Some((lin, rss1)) = sums.solve(true, None) {
            if significant(rss0, rss1, 1, n, 2) {
                (best, best_rss, best_p) = (lin, rss1, 2);
            }
        }
    }
    let mut mains_best: Option<(Baseline, f64, f64)> = None;
    for c in 0..sums.n_mains {
        if let Some((model, rss)) = sums.solve(allow_drift, Some(c)) {
            if mains_best.as_ref().is_none_or(|(_, r, _)| rss < *r) {
                mains_best = Some((model, rss, freqs[c]));
            }
        }
    }
    if let Some((mut model, rss, f)) = mains_best {
        let p = if allow_drift { 4 } else { 3 };
        if significant(best_rss, rss, p - best_p, n, p) {
            model.mains_hz = Some(f);
            best = model;
        }
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
        let b = fit_baseline(&x, &[(0, 400)], 20_000.0, &[50.0, 60.0], true);
        assert!(!b.drift && b.mains_hz.is_none());
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
        let b = fit_baseline(&x, &[(0, 150), (400, 600)], fs, &[50.0, 60.0], true);
        assert_eq!(b.mains_hz, Some(60.0));
        assert!(b.drift);
        for i in 150..400 {
            assert!((b.at(i) - (f(i) - noise(i))).abs() < 2e-6, "sample {i}");
        }
    }
}
