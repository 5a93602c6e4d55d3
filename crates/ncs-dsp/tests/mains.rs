//! Mains estimation on synthetic interference: 50 vs 60 Hz, amplitudes within ±1 %.

use crate::common::Rng;
use ncs_dsp::{DspError, MainsConfig};
use std::f64::consts::PI;

fn signal(fs: f64, secs: f64, f0: f64, rms: f64, h3_rms: f64, seed: u64) -> Vec<f64> {
    let mut r = Rng::new(seed);
    let n = (fs * secs) as usize;
    let (ph1, ph3) = (r.uniform() * 2.0 * PI, r.uniform() * 2.0 * PI);
    (0..n)
        .map(|i| {
            let t = i as f64 / fs;
            rms * 2f64.sqrt() * (2.0 * PI * f0 * t + ph1).sin()
                + h3_rms * 2f64.sqrt() * (2.0 * PI * 3.0 * f0 * t + ph3).sin()
                + 5e-6 * r.normal()
                + 1e-3 // electrode offset
        })
        .collect()
}

#[test]
fn detects_50_and_60_hz_and_their_amplitudes() {
    for (fs, secs, f0) in [
        (5000.0, 1.0, 50.0),
        (20_000.0, 0.5, 60.0),
        (4000.0, 0.2, 50.0),
        (48_000.0, 0.25, 60.0),
        (10_000.0, 0.137, 50.3),
    ] {
        let x = signal(fs, secs, f0, 40e-6, 10e-6, 7);
        let rep = MainsConfig {
            sample_rate_hz: fs,
            harmonics: 5,
        }
        .build()
        .unwrap()
        .analyze(&x)
        .unwrap();
        let nominal = if f0 > 55.0 { 60.0 } else { 50.0 };
        assert_eq!(rep.nominal_hz, nominal);
        assert!(
            (rep.fundamental_hz - f0).abs() < 0.05 * f0.min(1.0) + 0.02,
            "fs {fs}: f {} vs {f0}",
            rep.fundamental_hz
        );
        assert!(
            (rep.fundamental_uv_rms - 40.0).abs() <= 0.4,
            "fs {fs}: {} µV RMS vs 40",
            rep.fundamental_uv_rms
        );
        assert!(
            (rep.lines[2].rms - 10e-6).abs() <= 0.5e-6,
            "fs {fs}: 3rd harmonic {} f {}",
            rep.lines[2].rms,
            rep.fundamental_hz
        );
        assert!(
            rep.lines[1].rms < 1.5e-6,
            "2nd harmonic should be absent: {}",
            rep.lines[1].rms
        );
        assert_eq!(rep.lines.len(), 5);
    }
}

#[test]
fn too_short_or_bad_config_is_an_error() {
    let a = MainsConfig {
        sample_rate_hz: 5000.0,
        harmonics: 3,
    }
    .build()
    .unwrap();
    assert_eq!(
        a.analyze(&[0.0; 100]).unwrap_err(),
        DspError::TooShort {
            len: 100,
            padlen: 500
        }
    );
    assert!(MainsConfig {
        sample_rate_hz: 100.0,
        harmonics: 3
    }
    .build()
    .is_err());
    assert!(MainsConfig {
        sample_rate_hz: 5000.0,
        harmonics: 0
    }
    .build()
    .is_err());
}
