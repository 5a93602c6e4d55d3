//! Streaming filter benchmarks: the acquisition chain (order-4 band-pass 2 Hz–3 kHz at 20 kHz,
//! 4 sections, plus a 50 Hz notch) on 8 interleaved channels; f32 and f64 blocks, per-frame
//! calls, and the same work one channel at a time. Under `cfg(debug_assertions)` (i.e.
//! `cargo test`) the inputs are tiny and the outputs are checked, so the bench keeps compiling
//! and correct; `cargo bench` gives the real numbers.

// `criterion_group!` generates an undocumented `pub fn`; a bench binary has no API to document.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ncs_dsp::{Cascade, CascadeConfig, FilterSpec};
use std::hint::black_box;

const CHANNELS: usize = 8;
#[cfg(debug_assertions)]
const FRAMES: usize = 64;
#[cfg(not(debug_assertions))]
const FRAMES: usize = 20_000; // one second at 20 kHz

fn chain(channels: usize) -> Cascade {
    CascadeConfig {
        sample_rate_hz: 20_000.0,
        channels,
        stages: vec![
            FilterSpec::Bandpass {
                order: 4,
                low_hz: 2.0,
                high_hz: 3000.0,
            },
            FilterSpec::Notch {
                freq_hz: 50.0,
                q: 30.0,
            },
        ],
    }
    .build()
    .expect("the acquisition chain is a valid design")
}

fn input() -> Vec<f64> {
    (0..FRAMES * CHANNELS)
        .map(|i| ((i as f64) * 0.618).sin() * 1e-4 + 1e-3)
        .collect()
}

fn bench(c: &mut Criterion) {
    let cascade = chain(CHANNELS);
    assert_eq!(cascade.sections().len(), 5);
    let x = input();
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let mut g = c.benchmark_group("filter_8ch_bp4_notch");
    g.throughput(Throughput::Elements((FRAMES * CHANNELS) as u64));

    let mut y = vec![0.0f64; x.len()];
    g.bench_function(BenchmarkId::new("block_f64", FRAMES), |b| {
        let mut st = cascade.new_state();
        b.iter(|| cascade.process(&mut st, black_box(&x), &mut y));
    });
    let mut y32 = vec![0.0f32; x.len()];
    g.bench_function(BenchmarkId::new("block_f32", FRAMES), |b| {
        let mut st = cascade.new_state();
        b.iter(|| cascade.process(&mut st, black_box(&x32), &mut y32));
    });
    g.bench_function(BenchmarkId::new("per_frame_f32", FRAMES), |b| {
        let mut st = cascade.new_state();
        b.iter(|| {
            for (fi, fo) in x32
                .chunks_exact(CHANNELS)
                .zip(y32.chunks_exact_mut(CHANNELS))
            {
                cascade.process_frame(&mut st, black_box(fi), fo);
            }
        });
    });
    let single = chain(1);
    let planar: Vec<Vec<f64>> = (0..CHANNELS)
        .map(|ch| x.iter().skip(ch).step_by(CHANNELS).copied().collect())
        .collect();
    let mut out1 = vec![0.0f64; FRAMES];
    g.bench_function(BenchmarkId::new("channel_at_a_time_f64", FRAMES), |b| {
        let mut states: Vec<_> = (0..CHANNELS).map(|_| single.new_state()).collect();
        b.iter(|| {
            for (p, st) in planar.iter().zip(states.iter_mut()) {
                single.process(st, black_box(p), &mut out1);
            }
        });
    });
    g.finish();

    // Keep the bench honest: the interleaved result equals the channel-at-a-time result.
    if cfg!(debug_assertions) {
        let mut st = cascade.new_state();
        cascade.process(&mut st, &x, &mut y);
        for (ch, p) in planar.iter().enumerate() {
            let mut s1 = single.new_state();
            single.process(&mut s1, p, &mut out1);
            let got: Vec<f64> = y.iter().skip(ch).step_by(CHANNELS).copied().collect();
            assert_eq!(got, out1, "channel {ch}");
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
