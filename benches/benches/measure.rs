//! Measuring one sweep at 20 kHz: a 10 ms pre-stimulus baseline and the 50 ms post-stimulus
//! window (1200 samples; target: under 20 µs per sweep), with `ncs_cmap::Measurer` and a
//! `Scratch` readied by `Measurer::prepare`, as the live processor does.
//!
//! The sweeps are the simulator's (`ncs_sim::SweepConfig`): 16 CMAPs of 0.5–15 mV, each of a
//! different nerve drawn from its seed, with 5–30 µV RMS of noise, 50 or 60 Hz mains with
//! harmonics and a stimulus artefact with a decaying tail; and 16 no-response sweeps (the same
//! impairments, no CMAP). Each bench measures all 16 in turn and reports the time per sweep
//! (criterion's "elements"), so no single lucky sweep sets the number.
//!
//! `measure 20 + 100 ms` does the same on the longer sweeps the live pipeline cuts by default
//! (`ncs_runtime::ProcessorConfig`: 20 ms before, 100 ms after the stimulus), for reference.
//!
//! The machine may be shared: the `reference` bench times a fixed arithmetic loop of known
//! cost in the same run, so that a slower `measure` can be told apart from a busier machine
//! (compare the ratio of the two between runs rather than the raw times).
//!
//! Under `cargo test` (debug assertions on) the bench measures every sweep once and checks
//! the decisions (a response in each CMAP sweep, none in the others).

// `criterion_group!` generates an undocumented `pub fn`; a bench binary has no API to document.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ncs_cmap::{MeasureConfig, Measurer, Scratch, SweepView};
use ncs_sim::{Artefact, Impairments, Mains, Polarity, SweepConfig};
use std::hint::black_box;

const FS: f64 = 20_000.0;
/// Pre-stimulus baseline (ms).
const PRE_MS: f64 = 10.0;
/// Post-stimulus window (ms).
const POST_MS: f64 = 50.0;
/// Sweeps of each kind.
const SWEEPS: u64 = 16;

fn impairments(k: u64) -> Impairments {
    Impairments {
        noise_uv_rms: [5.0, 10.0, 20.0, 30.0][(k % 4) as usize],
        mains: Some(Mains {
            frequency_hz: if k % 2 == 0 { 50.0 } else { 60.0 },
            amplitude_uv: 10.0 + (k % 3) as f64 * 10.0,
            harmonics: vec![0.3, 0.1],
        }),
        artefact: Some(Artefact {
            amplitude_mv_per_ma: 0.2 + 0.1 * (k % 3) as f64,
            polarity: if k % 2 == 0 {
                Polarity::Positive
            } else {
                Polarity::Negative
            },
            spike_ms: 0.2,
            tail_fraction: [0.1, -0.15, 0.25][(k % 3) as usize],
            tail_tau_ms: [0.3, 0.6, 1.0][(k % 3) as usize],
        }),
        ..Impairments::default()
    }
}

/// `SWEEPS` sweeps of `pre_ms` + `post_ms` at 20 kHz: with a CMAP when `response`, else
/// impairments only. Returns the samples and the stimulus index of each.
fn sweeps(response: bool, pre_ms: f64, post_ms: f64) -> Vec<(Vec<f64>, usize)> {
    const AMPLITUDES_MV: [f64; 8] = [0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 10.0, 15.0];
    (0..SWEEPS)
        .map(|k| {
            let mut cfg = SweepConfig::new(FS, AMPLITUDES_MV[(k % 8) as usize], 7_000 + k);
            cfg.pre_ms = pre_ms;
            cfg.post_ms = post_ms;
            cfg.impairments = impairments(k);
            let s = if response {
                cfg.generate()
            } else {
                cfg.generate_noise_only()
            }
            .expect("valid simulated sweep");
            (s.data, s.stimulus_index)
        })
        .collect()
}

fn measure_all(m: &Measurer, set: &[(Vec<f64>, usize)], scratch: &mut Scratch) -> usize {
    let mut present = 0;
    for (data, stim) in set {
        let view = SweepView::new(data, FS, *stim).expect("valid sweep");
        present += usize::from(m.measure(black_box(&view), scratch).present);
    }
    present
}

/// Prints the best of 200 timings of each sweep alone, so that the slowest sweeps show (the
/// criterion figure is the mean over the set).
fn each_sweep(
    m: &Measurer,
    label: &str,
    cmaps: &[(Vec<f64>, usize)],
    quiet: &[(Vec<f64>, usize)],
    scratch: &mut Scratch,
) {
    for (kind, set) in [("CMAP", cmaps), ("no response", quiet)] {
        let mut t: Vec<f64> = set
            .iter()
            .map(|(data, stim)| {
                let view = SweepView::new(data, FS, *stim).expect("valid sweep");
                (0..200)
                    .map(|_| {
                        let t0 = std::time::Instant::now();
                        black_box(m.measure(black_box(&view), scratch));
                        t0.elapsed().as_secs_f64() * 1e6
                    })
                    .fold(f64::INFINITY, f64::min)
            })
            .collect();
        let each: Vec<String> = t.iter().map(|v| format!("{v:.1}")).collect();
        let mean = t.iter().sum::<f64>() / t.len() as f64;
        t.sort_by(f64::total_cmp);
        println!(
            "measure {label}, {kind}, each sweep alone (best of 200, µs): mean {mean:.1}, \
             median {:.1}, max {:.1}: [{}]",
            t[t.len() / 2],
            t[t.len() - 1],
            each.join(", ")
        );
        if label.starts_with("10 + 50") {
            println!(
                "{} measure one sweep (10 ms baseline + 50 ms window at 20 kHz), {kind}: mean \
                 {mean:.1} µs over {} sweeps, slowest {:.1} µs (target < 20 µs)",
                if mean < 20.0 { "PASS" } else { "FAIL" },
                t.len(),
                t[t.len() - 1]
            );
        }
    }
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
    for (label, pre, post) in [
        ("10 + 50 ms", PRE_MS, POST_MS),
        ("20 + 100 ms", 20.0, 100.0),
    ] {
        let cmaps = sweeps(true, pre, post);
        let quiet = sweeps(false, pre, post);
        let samples = cmaps[0].0.len();
        assert_eq!(samples, ((pre + post) * FS / 1e3) as usize);
        let mut scratch = Scratch::default();
        m.prepare(FS, samples, &mut scratch);
        if cfg!(debug_assertions) {
            assert_eq!(
                measure_all(&m, &cmaps, &mut scratch),
                cmaps.len(),
                "{label}"
            );
            assert_eq!(measure_all(&m, &quiet, &mut scratch), 0, "{label}");
            continue;
        }
        let mut g = c.benchmark_group(format!("measure {label} at 20 kHz ({samples} samples)"));
        g.throughput(Throughput::Elements(SWEEPS));
        g.bench_function("CMAP", |b| b.iter(|| measure_all(&m, &cmaps, &mut scratch)));
        g.bench_function("no response", |b| {
            b.iter(|| measure_all(&m, &quiet, &mut scratch))
        });
        g.finish();
        each_sweep(&m, label, &cmaps, &quiet, &mut scratch);
    }
    if cfg!(debug_assertions) {
        return;
    }
    let data = sweeps(true, PRE_MS, POST_MS).swap_remove(0).0;
    let mut out = vec![0.0; data.len()];
    c.bench_function("reference: 16 smoothings of 1200 samples", |b| {
        b.iter(|| reference(black_box(&data), &mut out))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
