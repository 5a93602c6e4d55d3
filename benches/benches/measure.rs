//! Measuring one 50 ms sweep at 20 kHz (target: under 20 µs), with a response and without.
//!
//! The machine may be shared: the `reference` bench times a fixed arithmetic loop of known
//! cost in the same run, so that a slower `measure` can be told apart from a busier machine
//! (compare the ratio of the two between runs rather than the raw times).
//!
//! Under `cargo test` (debug assertions on) the bench runs once on the same inputs, so it keeps
//! compiling and producing the expected decisions.

// `criterion_group!` generates an undocumented `pub fn`; a bench binary has no API to document.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use ncs_cmap::{MeasureConfig, Scratch, SweepView};
use std::hint::black_box;

const FS: f64 = 20_000.0;

/// A 10 ms baseline plus a 40 ms window at 20 kHz holding, when `amplitude_v` is not zero, a
/// CMAP of that negative-peak amplitude, with 20 µV of noise, 50 Hz mains and an artefact tail.
fn sweep(amplitude_v: f64) -> (Vec<f64>, usize) {
    let stim = 200;
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let data = (0..1200)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 2.0 * 35e-6;
            let t = (i as f64 - stim as f64) / FS * 1e3;
            let cmap = if t > 0.0 {
                let x = t - 6.0;
                let shape = -(-(x * x) / 3.0).exp() + 0.4 * (-((x - 4.0) * (x - 4.0)) / 6.0).exp();
                amplitude_v * shape
            } else {
                0.0
            };
            let tail = if t >= 0.0 {
                3e-3 * (-t / 0.4).exp()
            } else {
                0.0
            };
            cmap + tail + noise + 20e-6 * (std::f64::consts::TAU * 50.0 * i as f64 / FS).sin()
        })
        .collect();
    (data, stim)
}

/// A fixed workload of about the size of one measurement: 11-tap smoothing of 1200 samples,
/// 16 times over.
fn reference(x: &[f64], out: &mut [f64]) -> f64 {
    let w = [
        0.006, 0.022, 0.061, 0.121, 0.176, 0.2, 0.176, 0.121, 0.061, 0.022, 0.006,
    ];
    let mut total = 0.0;
    for round in 0..16 {
        for (i, o) in out.iter_mut().enumerate().take(x.len() - w.len()) {
            *o = w.iter().zip(&x[i..]).map(|(a, b)| a * b).sum::<f64>() + round as f64;
        }
        total += out[round];
    }
    total
}

fn bench(c: &mut Criterion) {
    let m = MeasureConfig::default()
        .build()
        .expect("default settings are valid");
    let (data, stim) = sweep(5e-3);
    let (quiet, _) = sweep(0.0);
    let mut scratch = Scratch::with_capacity(data.len(), 64);
    let view = SweepView::new(&data, FS, stim).expect("valid sweep");
    let quiet_view = SweepView::new(&quiet, FS, stim).expect("valid sweep");
    if cfg!(debug_assertions) {
        assert!(m.measure(&view, &mut scratch).present);
        assert!(!m.measure(&quiet_view, &mut scratch).present);
        return;
    }
    c.bench_function("measure one 50 ms sweep at 20 kHz", |b| {
        b.iter(|| m.measure(black_box(&view), &mut scratch))
    });
    c.bench_function("measure one 50 ms sweep at 20 kHz, no response", |b| {
        b.iter(|| m.measure(black_box(&quiet_view), &mut scratch))
    });
    let mut out = vec![0.0; data.len()];
    c.bench_function("reference: 16 smoothings of 1200 samples", |b| {
        b.iter(|| reference(black_box(&data), &mut out))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
