//! Recognising amplifier or converter saturation.
//!
//! A saturated input holds one value (the rail) for several consecutive samples at the extreme
//! of the record, which a physiological signal sampled at ≥ 4 kHz does not do.

/// Whether `x` holds its maximum or its minimum for at least `min_run` consecutive samples.
pub fn flat_run_at_extreme(x: &[f64], min_run: usize) -> bool {
    let report = clipping(x, min_run);
    report.high_runs > 0 || report.low_runs > 0
}

/// What a clipping scan found.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ClipReport {
    /// Highest value in the record.
    pub high: f64,
    /// Lowest value in the record.
    pub low: f64,
    /// Runs of at least `min_run` samples held at `high`.
    pub high_runs: usize,
    /// Runs of at least `min_run` samples held at `low`.
    pub low_runs: usize,
    /// Samples inside those runs.
    pub clipped_samples: usize,
}

impl ClipReport {
    /// Whether any clipping run was found.
    pub fn saturated(&self) -> bool {
        self.high_runs + self.low_runs > 0
    }
}

/// Scans a whole record (one channel) for runs of at least `min_run` identical samples at its
/// highest or lowest value.
pub fn clipping(x: &[f64], min_run: usize) -> ClipReport {
    let mut report = ClipReport::default();
    if x.is_empty() {
        return report;
    }
    let (mut high, mut low) = (f64::NEG_INFINITY, f64::INFINITY);
    for &v in x {
        high = high.max(v);
        low = low.min(v);
    }
    report.high = high;
    report.low = low;
    if high == low {
        // A flat line is a dead channel, not clipping.
        return report;
    }
    let min_run = min_run.max(2);
    let scan = |target: f64| {
        let (mut runs, mut samples, mut len) = (0, 0, 0);
        for &v in x.iter().chain(std::iter::once(&f64::NAN)) {
            if v == target {
                len += 1;
            } else {
                if len >= min_run {
                    runs += 1;
                    samples += len;
                }
                len = 0;
            }
        }
        (runs, samples)
    };
    let (hr, hs) = scan(high);
    let (lr, ls) = scan(low);
    report.high_runs = hr;
    report.low_runs = lr;
    report.clipped_samples = hs + ls;
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_runs_at_rails_only() {
        let mut x: Vec<f64> = (0..200).map(|i| (i as f64 * 0.3).sin()).collect();
        assert!(!clipping(&x, 3).saturated());
        for v in x.iter_mut() {
            *v = v.clamp(-0.8, 0.8);
        }
        let r = clipping(&x, 3);
        assert!(r.saturated() && r.high_runs > 0 && r.low_runs > 0);
        assert!(!clipping(&[0.0; 20], 3).saturated());
    }
}
