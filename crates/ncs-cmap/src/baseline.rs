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

/// Least-squares fit of the chosen terms over `ranges` (half-open index ranges of `x`).
/// Returns the model and its residual sum of squares, or `None` if the regressors are collinear
/// over these samples.
fn fit(
    x: &[f64],
    ranges: &[(usize, usize)],
    drift: bool,
    omega: Option<f64>,
) -> Option<(Baseline, f64, usize)> {
    let n: usize = ranges.iter().map(|(a, b)| b - a).sum();
    let lo = ranges.iter().map(|r| r.0).min()?;
    let hi = ranges.iter().map(|r| r.1).max()?;
    let center = 0.5 * (lo + hi) as f64;
    let scale = ((hi - lo) as f64 * 0.5).max(1.0);
    let p = if omega.is_some() {
        4
    } else if drift {
        2
    } else {
        1
    };
    if n <= p + 1 {
        return None;
    }
    let mut ata = [[0.0; P]; P];
    let mut atb = [0.0; P];
    let mut row = [0.0; P];
    for &(a, b) in ranges {
        for (i, &y) in x.iter().enumerate().take(b).skip(a) {
            row[0] = 1.0;
            row[1] = if drift {
                (i as f64 - center) / scale
            } else {
                0.0
            };
            if let Some(w) = omega {
                let ph = w * i as f64;
                row[2] = ph.sin();
                row[3] = ph.cos();
            }
            for r in 0..p {
                atb[r] += row[r] * y;
                for c in 0..=r {
                    ata[r][c] += row[r] * row[c];
                }
            }
        }
    }
    for r in 0..p {
        for c in r + 1..p {
            ata[r][c] = ata[c][r];
        }
    }
    // Without a drift term the slope column is all zero: pin it so the system stays solvable.
    if !drift {
        ata[1][1] = 1.0;
        atb[1] = 0.0;
    }
    if !solve_spd(&mut ata, &mut atb, p) {
        return None;
    }
    let mut model = Baseline {
        coef: atb,
        center,
        scale,
        omega,
        mains_hz: None,
        drift,
        sigma: 0.0,
    };
    if !drift {
        model.coef[1] = 0.0;
    }
    let mut rss = 0.0;
    for &(a, b) in ranges {
        for (i, &y) in x.iter().enumerate().take(b).skip(a) {
            let r = y - model.at(i);
            rss += r * r;
        }
    }
    model.sigma = (rss / (n - p) as f64).sqrt();
    Some((model, rss, n))
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
/// `mains` lists candidate mains frequencies (Hz); a mains term is only tried when the samples
/// span at least one period.
pub(crate) fn fit_baseline(
    x: &[f64],
    ranges: &[(usize, usize)],
    sample_rate_hz: f64,
    mains: &[f64],
    allow_drift: bool,
) -> Baseline {
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
    let Some((constant, rss0, n)) = fit(x, ranges, false, None) else {
        return fallback();
    };
    let mut best = constant;
    let mut best_rss = rss0;
    let mut best_p = 1;
    if let Some((lin, rss1, _)) = fit(x, ranges, true, None).filter(|_| allow_drift) {
        if significant(rss0, rss1, 1, n, 2) {
            best = lin;
            best_rss = rss1;
            best_p = 2;
        }
    }
    let lo = ranges.iter().map(|r| r.0).min().unwrap_or(0);
    let hi = ranges.iter().map(|r| r.1).max().unwrap_or(0);
    let span_s = (hi - lo) as f64 / sample_rate_hz;
    let mut mains_best: Option<(Baseline, f64, f64)> = None;
    for &f in mains {
        if span_s * f < 1.0 || f >= 0.5 * sample_rate_hz {
            continue;
        }
        let omega = std::f64::consts::TAU * f / sample_rate_hz;
        if let Some((m, rss, _)) = fit(x, ranges, allow_drift, Some(omega)) {
            if mains_best.as_ref().is_none_or(|(_, r, _)| rss < *r) {
                mains_best = Some((m, rss, f));
            }
        }
    }
    if let Some((mut m, rss, f)) = mains_best {
        let p = if allow_drift { 4 } else { 3 };
        if significant(best_rss, rss, p - best_p, n, p) {
            m.mains_hz = Some(f);
            best = m;
        }
    }
    best
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
