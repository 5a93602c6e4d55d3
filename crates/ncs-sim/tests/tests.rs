//! Integration tests of `ncs-sim`.

mod pathology;
mod study;
mod sweep;
mod truth;
mod worked_example;

/// `|a - b| <= atol + rtol * |b|`.
pub fn close(a: f64, b: f64, rtol: f64, atol: f64) -> bool {
    (a - b).abs() <= atol + rtol * b.abs()
}

/// RMS of a slice.
pub fn rms(x: &[f64]) -> f64 {
    (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt()
}
