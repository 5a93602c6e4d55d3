//! Measuring one 50 ms sweep at 20 kHz (target: under 20 µs).
//!
//! Under `cargo test` (debug assertions on) the bench runs once on the same input, so it keeps
//! compiling and producing a response.

use criterion::{criterion_group, criterion_main, Criterion};
use ncs_cmap::{MeasureConfig, Scratch, SweepView};
use std::hint::black_box;

/// A 10 ms baseline plus a 40 ms window at 20 kHz holding a 5 mV CMAP, 20 µV of noise, 50 Hz
/// mains and an artefact tail.
fn sweep() -> (Vec<f64>, usize) {
    let fs = 20_000.0;
    let stim = 200;
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let data = (0..1200)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 2.0 * 35e-6;
            let t = (i as f64 - stim as f64) / fs * 1e3;
            let cmap = if t > 0.0 {
                let x = t - 6.0;
                -5e-3 * (-(x * x) / 3.0).exp() + 2e-3 * (-((x - 4.0) * (x - 4.0)) / 6.0).exp()
            } else {
                0.0
            };
            let tail = if t >= 0.0 { 3e-3 * (-t / 0.4).exp() } else { 0.0 };
            cmap + tail + noise + 20e-6 * (std::f64::consts::TAU * 50.0 * i as f64 / fs).sin()
        })
        .collect();
    (data, stim)
}

fn bench(c: &mut Criterion) {
    let (data, stim) = sweep();
    let m = MeasureConfig::default().build().expect("default settings are valid");
    let mut scratch = Scratch::with_capacity(data.len(), 64);
    let view = SweepView::new(&data, 20_000.0, stim).expect("valid sweep");
    if cfg!(debug_assertions) {
        assert!(m.measure(&view, &mut scratch).present);
        return;
    }
    c.bench_function("measure one 50 ms sweep at 20 kHz", |b| {
        b.iter(|| m.measure(black_box(&view), &mut scratch))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
