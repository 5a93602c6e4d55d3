//! Artefact-based stimulus detection on simulated recordings: artefacts of several shapes at
//! several sample rates, with noise, baseline wander, motor-unit potentials, fasciculations and
//! the evoked CMAPs; every stimulus must be found to ±1 sample and nothing else.

use crate::common::Rng;
use ncs_dsp::{ArtefactConfig, DspError};
use std::f64::consts::PI;

/// Mexican-hat (triphasic) potential of width `s` seconds centred at `t0`, peak `a`.
fn mup(x: &mut [f64], fs: f64, t0: f64, s: f64, a: f64) {
    let i0 = ((t0 - 6.0 * s) * fs).max(0.0) as usize;
    let i1 = (((t0 + 6.0 * s) * fs) as usize).min(x.len());
    for (i, v) in x.iter_mut().enumerate().take(i1).skip(i0) {
        let u = (i as f64 / fs - t0) / s;
        *v += a * (1.0 - u * u) * (-u * u / 2.0).exp();
    }
}

/// Biphasic CMAP (negative first) starting at `t0`.
fn cmap(x: &mut [f64], fs: f64, t0: f64, a: f64) {
    let s = 2e-3;
    for (i, v) in x.iter_mut().enumerate() {
        let t = i as f64 / fs - t0;
        if t > 0.0 && t < 0.02 {
            let u = (t - 3.0 * s) / s;
            *v += -a * u * (-u * u / 2.0).exp() * (t / (2.0 * s)).min(1.0);
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Shape {
    /// One sample, with ringing on its neighbours.
    Spike,
    /// 0.4 ms pulse, saturating at the amplifier rail.
    Saturating,
    /// Charge-balanced: 0.1 ms up, 0.1 ms down.
    Biphasic,
    /// 0.15 ms pulse with a decaying tail.
    WithTail,
}

/// The amplifier: the ADC's linear-phase decimation filter (15-tap Hann-windowed sinc,
/// cutoff 0.35·fs, centred), then noise (5 µV RMS) and a slow baseline wander.
fn amplifier(raw: &[f64], fs: f64, r: &mut Rng) -> Vec<f64> {
    let half = 7i64;
    let taps: Vec<f64> = (-half..=half)
        .map(|k| {
            let k = k as f64;
            let sinc = if k == 0.0 {
                0.7
            } else {
                (0.7 * PI * k).sin() / (PI * k)
            };
            sinc * (0.5 + 0.5 * (PI * k / (half as f64 + 1.0)).cos())
        })
        .collect();
    let norm: f64 = taps.iter().sum();
    (0..raw.len() as i64)
        .map(|i| {
            let v: f64 = (-half..=half)
                .filter(|k| (0..raw.len() as i64).contains(&(i - k)))
                .map(|k| taps[(k + half) as usize] * raw[(i - k) as usize])
                .sum::<f64>()
                / norm;
            v + 5e-6 * r.normal() + 30e-6 * (2.0 * PI * 0.7 * i as f64 / fs).sin()
        })
        .collect()
}

struct Sim {
    x: Vec<f64>,
    truth: Vec<u64>,
}

fn simulate(fs: f64, seed: u64) -> Sim {
    let mut r = Rng::new(seed);
    let n = (3.0 * fs) as usize;
    let mut art = vec![0.0; n];
    let mut truth = Vec::new();
    let mut t = 0.6;
    let shapes = [
        Shape::Spike,
        Shape::Saturating,
        Shape::Biphasic,
        Shape::WithTail,
    ];
    let mut k = 0;
    let mut phys = vec![0.0; n];
    while t < 2.8 {
        let i = (t * fs).round() as usize;
        let sign = if r.uniform() < 0.5 { -1.0 } else { 1.0 };
        let shape = shapes[k % shapes.len()];
        k += 1;
        let d = |ms: f64| ((ms * 1e-3 * fs).round() as usize).max(1);
        match shape {
            // One sample with the opposite-sign ringing seen in the public recordings.
            Shape::Spike => {
                art[i] = sign * 3e-3;
                art[i - 1] = -sign * 1.2e-3;
                art[i + 1] = -sign * 1.5e-3;
            }
            Shape::Saturating => art[i..i + d(0.4)]
                .iter_mut()
                .for_each(|v| *v = sign * 40e-3),
            Shape::Biphasic => {
                let w = d(0.1);
                art[i..i + w].iter_mut().for_each(|v| *v = sign * 5e-3);
                art[i + w..i + 2 * w]
                    .iter_mut()
                    .for_each(|v| *v = -sign * 5e-3);
            }
            Shape::WithTail => {
                let w = d(0.15);
                art[i..i + w].iter_mut().for_each(|v| *v = sign * 4e-3);
                for (j, v) in art[i + w..]
                    .iter_mut()
                    .enumerate()
                    .take((5e-3 * fs) as usize)
                {
                    *v += sign * 1.4e-3 * (-(j as f64) / (0.15e-3 * fs)).exp();
                }
            }
        }
        truth.push(i as u64);
        // The evoked response, 3–6 ms later.
        cmap(
            &mut phys,
            fs,
            t + 3e-3 + 3e-3 * r.uniform(),
            2e-3 + 6e-3 * r.uniform(),
        );
        t += 0.2 + 0.15 * r.uniform();
    }
    // Motor-unit potentials (main spike 0.3–1 ms, 50–800 µV), some right after a CMAP, and two
    // fasciculations (2 mV), placed away from the 10 ms before a stimulus.
    let mut m = 0;
    while m < 60 {
        let t0 = 0.05 + 2.9 * r.uniform();
        if truth.iter().any(|&s| {
            let ts = s as f64 / fs;
            t0 > ts - 0.012 && t0 < ts + 0.002
        }) {
            continue;
        }
        let (s, a) = if m < 2 {
            (1.5e-3, 2e-3)
        } else {
            (
                0.3e-3 + 0.7e-3 * r.uniform(),
                (50e-6 + 750e-6 * r.uniform()) * if r.uniform() < 0.5 { -1.0 } else { 1.0 },
            )
        };
        mup(&mut phys, fs, t0, s, a);
        m += 1;
    }
    // Artefacts are drawn at sample level (their edges are faster than the ADC's filter can
    // smooth, which is what the detector assumes); physiology passes the ADC's filter.
    let x = amplifier(&phys, fs, &mut r)
        .into_iter()
        .zip(&art)
        .map(|(v, a)| (v + a).clamp(-10e-3, 10e-3)) // the amplifier's rail
        .collect();
    Sim { x, truth }
}

#[test]
fn finds_every_simulated_artefact_and_nothing_else() {
    for (fs, seed) in [
        (4000.0, 1),
        (5000.0, 2),
        (10_000.0, 3),
        (20_000.0, 4),
        (48_000.0, 5),
    ] {
        let sim = simulate(fs, seed);
        let det = ArtefactConfig::new(fs).build().unwrap();
        let hits = det.detect_all(&sim.x);
        assert_eq!(
            hits.len(),
            sim.truth.len(),
            "fs {fs}: hits {hits:?} truth {:?}",
            sim.truth
        );
        for (h, t) in hits.iter().zip(&sim.truth) {
            assert!(h.abs_diff(*t) <= 1, "fs {fs}: hit {h} vs truth {t}");
        }
    }
}

#[test]
fn any_block_split_gives_the_same_indices() {
    let fs = 10_000.0;
    let sim = simulate(fs, 7);
    let det = ArtefactConfig::new(fs).build().unwrap();
    let whole = det.detect_all(&sim.x);
    assert!(!whole.is_empty());
    let mut r = Rng::new(99);
    for _ in 0..3 {
        let mut st = det.new_state();
        let mut got = Vec::new();
        let mut i = 0;
        while i < sim.x.len() {
            let e = (i + 1 + (r.uniform() * 700.0) as usize).min(sim.x.len());
            det.process(&mut st, &sim.x[i..e], |v| got.push(v));
            i = e;
        }
        det.finish(&mut st, |v| got.push(v));
        assert_eq!(got, whole);
    }
}

#[test]
fn needle_emg_without_stimuli_gives_nothing() {
    // Dense MUP activity at 4 kHz (the rate of the public needle-EMG records), including
    // potentials sharp enough to span 1–2 samples and giant ones clipped at ±3.28 mV.
    let fs = 4000.0;
    let mut r = Rng::new(11);
    let n = (5.0 * fs) as usize;
    let mut raw = vec![0.0; n];
    for _ in 0..400 {
        let t0 = 5.0 * r.uniform();
        // Main spikes from 0.2 ms: at 4 kHz the sharpest span a single sample.
        let s = 0.1e-3 + 1e-3 * r.uniform();
        let a = (50e-6 + 4e-3 * r.uniform()) * if r.uniform() < 0.5 { -1.0 } else { 1.0 };
        mup(&mut raw, fs, t0, s, a);
    }
    let x: Vec<f64> = amplifier(&raw, fs, &mut r)
        .into_iter()
        .map(|v| v.clamp(-3.28e-3, 3.28e-3))
        .collect();
    let hits = ArtefactConfig::new(fs).build().unwrap().detect_all(&x);
    assert!(hits.is_empty(), "false stimuli at {hits:?}");
}

#[test]
fn lone_glitch_samples_are_not_stimuli() {
    // A single sample jumping to a fixed value with both neighbours on the baseline: a data
    // marker, as found in public EMG records.
    let fs = 4000.0;
    let mut r = Rng::new(5);
    let mut x: Vec<f64> = (0..8000).map(|_| 5e-6 * r.normal()).collect();
    for i in (3000..8000).step_by(1001) {
        x[i] = 100e-6;
    }
    assert!(ArtefactConfig::new(fs)
        .build()
        .unwrap()
        .detect_all(&x)
        .is_empty());
}

#[test]
fn config_errors_name_the_parameter() {
    let mut c = ArtefactConfig::new(5000.0);
    c.threshold = 0.0;
    assert_eq!(
        c.build().unwrap_err(),
        DspError::Parameter {
            name: "threshold",
            rule: "finite and > 0",
            value: 0.0
        }
    );
    let c = ArtefactConfig::new(-1.0);
    assert_eq!(c.build().unwrap_err(), DspError::SampleRate(-1.0));
}
