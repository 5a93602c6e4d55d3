//! Latency accounting: one HDR histogram per pipeline stage, summarised as p50 / p99 / p99.9 /
//! max.
//!
//! Histograms are sized when built (1 ns .. 100 s at 3 significant digits) and never grow, so
//! recording on a real-time thread allocates nothing; values out of range saturate.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Largest latency a histogram holds (ns); longer ones are counted at this value.
const MAX_NS: u64 = 100_000_000_000;

/// A latency histogram in nanoseconds.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    hist: Histogram<u64>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram (allocates its fixed buckets here, never later).
    pub fn new() -> Self {
        // Constant, valid bounds: construction cannot fail.
        let mut hist = Histogram::new_with_bounds(1, MAX_NS, 3)
            .expect("1 ns .. 100 s at 3 significant digits are valid histogram bounds");
        hist.auto(false);
        LatencyHistogram { hist }
    }

    /// Records one latency.
    pub fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos())
            .unwrap_or(MAX_NS)
            .clamp(1, MAX_NS);
        self.hist.saturating_record(ns);
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        // Same bounds by construction, so adding cannot fail.
        let _ = self.hist.add(&other.hist);
    }

    /// The summary under a stage name.
    pub fn summary(&self, stage: &str) -> StageLatency {
        let us = |ns: u64| ns as f64 / 1e3;
        let empty = self.hist.is_empty();
        let q = |p: f64| (!empty).then(|| us(self.hist.value_at_quantile(p)));
        StageLatency {
            stage: stage.to_owned(),
            count: self.hist.len(),
            p50_us: q(0.5),
            p99_us: q(0.99),
            p999_us: q(0.999),
            max_us: (!empty).then(|| us(self.hist.max())),
            mean_us: (!empty).then(|| self.hist.mean() / 1e3),
        }
    }
}

/// Summary of one stage's latencies (µs); `None` when nothing was recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageLatency {
    /// Stage name (see [`crate::pipeline::Stage`]).
    pub stage: String,
    /// Values recorded.
    pub count: u64,
    /// Median.
    pub p50_us: Option<f64>,
    /// 99th percentile.
    pub p99_us: Option<f64>,
    /// 99.9th percentile.
    pub p999_us: Option<f64>,
    /// Largest.
    pub max_us: Option<f64>,
    /// Mean.
    pub mean_us: Option<f64>,
}

impl std::fmt::Display for StageLatency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), |x| format!("{x:.1}"));
        write!(
            f,
            "{:<28} n={:<7} p50 {:>9} µs  p99 {:>9} µs  p99.9 {:>9} µs  max {:>9} µs",
            self.stage,
            self.count,
            v(self.p50_us),
            v(self.p99_us),
            v(self.p999_us),
            v(self.max_us)
        )
    }
}
