//! The single-sweep generator.

use ncs_sim::{Artefact, Drift, Impairments, Mains, SimError, SweepConfig};

use crate::{close, rms};

#[test]
fn true_amplitude_is_the_target_at_any_rate() {
    for (k, fs) in [4_000.0, 10_000.0, 20_000.0, 44_100.0, 48_000.0]
        .into_iter()
        .enumerate()
    {
        for target in [0.5, 3.0, 15.0] {
            let s = SweepConfig::new(fs, target, k as u64)
                .generate()
                .expect("valid");
            let t = s.truth.expect("a response");
            assert!(
                close(t.negative_peak_amplitude_mv, target, 1e-12, 0.0),
                "{fs} {target}"
            );
            // What the clean waveform says is what the truth says.
            let min = s.clean.iter().copied().fold(f64::INFINITY, f64::min);
            assert!(close(-min * 1e3, target, 1e-12, 0.0));
            assert_eq!(s.stimulus_index, (5.0 * fs / 1000.0_f64).round() as usize);
            assert_eq!(s.data, s.clean, "no impairments: data is the response");
        }
    }
}

#[test]
fn shapes_are_plausible_median_cmaps_and_vary_with_seed() {
    let mut durations = Vec::new();
    for seed in 0..20 {
        let s = SweepConfig::new(20_000.0, 8.0, seed)
            .generate()
            .expect("valid");
        let t = s.truth.expect("a response");
        assert!(
            (2.5..5.0).contains(&t.onset_latency_ms),
            "onset {}",
            t.onset_latency_ms
        );
        assert!(
            (3.0..7.0).contains(&t.negative_peak_duration_ms),
            "negative duration {}",
            t.negative_peak_duration_ms
        );
        // A positive phase follows the negative one.
        assert!(t.peak_to_peak_amplitude_mv > 1.15 * t.negative_peak_amplitude_mv);
        assert!(t.returned);
        durations.push(t.negative_peak_duration_ms);
    }
    let lo = durations.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = durations.iter().copied().fold(0.0, f64::max);
    assert!(hi - lo > 1.0, "shapes should vary: {lo}..{hi}");
}

#[test]
fn same_seed_same_sweep_other_seed_other_noise() {
    let mut cfg = SweepConfig::new(10_000.0, 5.0, 7);
    cfg.impairments = Impairments {
        noise_uv_rms: 30.0,
        mains: Some(Mains {
            frequency_hz: 60.0,
            amplitude_uv: 50.0,
            harmonics: vec![0.2, 0.1],
        }),
        drift: Some(Drift::Wander {
            rms_uv: 40.0,
            tau_s: 0.5,
        }),
        artefact: Some(Artefact::default()),
        rail_mv: None,
        artefact_crosstalk: 0.0,
    };
    let a = cfg.generate().expect("valid");
    let b = cfg.generate().expect("valid");
    assert_eq!(a, b);
    cfg.seed = 8;
    let c = cfg.generate().expect("valid");
    assert_ne!(a.data, c.data);
}

#[test]
fn noise_rms_is_as_configured() {
    let mut cfg = SweepConfig::new(20_000.0, 1.0, 3);
    cfg.pre_ms = 0.0;
    cfg.post_ms = 2000.0;
    cfg.impairments.noise_uv_rms = 25.0;
    let s = cfg.generate_noise_only().expect("valid");
    assert!(s.truth.is_none());
    assert!(s.clean.iter().all(|&v| v == 0.0));
    let r = rms(&s.data) * 1e6;
    assert!(close(r, 25.0, 0.02, 0.0), "rms {r} µV");
    let mean = s.data.iter().sum::<f64>() / s.data.len() as f64;
    assert!(mean.abs() * 1e6 < 1.0);
}

#[test]
fn mains_has_its_frequency_and_amplitude() {
    let mut cfg = SweepConfig::new(10_000.0, 1.0, 3);
    cfg.pre_ms = 0.0;
    cfg.post_ms = 1000.0;
    cfg.impairments.mains = Some(Mains {
        frequency_hz: 50.0,
        amplitude_uv: 100.0,
        harmonics: vec![],
    });
    let s = cfg.generate_noise_only().expect("valid");
    // A pure sinusoid: RMS = A / √2, and it repeats every 200 samples.
    assert!(close(rms(&s.data) * 1e6, 100.0 / 2f64.sqrt(), 1e-3, 0.0));
    assert!(close(s.data[7], s.data[207], 1e-9, 1e-12));
}

#[test]
fn saturation_clips_at_the_rails() {
    let mut cfg = SweepConfig::new(20_000.0, 8.0, 1);
    cfg.intensity_ma = 50.0;
    cfg.impairments.artefact = Some(Artefact {
        amplitude_mv_per_ma: 1.0,
        ..Artefact::default()
    });
    cfg.impairments.rail_mv = Some(5.0);
    let s = cfg.generate().expect("valid");
    assert!(s.saturated);
    let max = s.data.iter().copied().fold(0.0, |a: f64, b| a.max(b.abs()));
    assert!(close(max, 5e-3, 1e-12, 0.0));
    // The spike (50 mV) sits on the rail at the stimulus; the 8 mV negative peak is cut too.
    assert_eq!(s.data[s.stimulus_index], 5e-3);
    assert!(s.data.iter().any(|&v| v == -5e-3));
    // The truth is the response alone, unclipped.
    assert!(close(
        s.truth.expect("response").negative_peak_amplitude_mv,
        8.0,
        1e-12,
        0.0
    ));

    cfg.impairments.rail_mv = Some(100.0);
    assert!(!cfg.generate().expect("valid").saturated);
}

#[test]
fn artefact_polarity_scale_and_decay() {
    let mut cfg = SweepConfig::new(20_000.0, 1.0, 1);
    cfg.intensity_ma = 20.0;
    cfg.impairments.artefact = Some(Artefact {
        amplitude_mv_per_ma: 0.5,
        polarity: ncs_sim::Polarity::Negative,
        spike_ms: 0.2,
        tail_fraction: 0.2,
        tail_tau_ms: 1.0,
    });
    let s = cfg.generate_noise_only().expect("valid");
    let i = s.stimulus_index;
    assert!(close(s.data[i], -10e-3, 1e-12, 0.0));
    assert_eq!(s.data[i - 1], 0.0);
    // 0.2 ms = 4 samples of spike, then the tail starts at 20 % and decays with τ = 1 ms.
    assert!(close(s.data[i + 4], -2e-3, 1e-9, 0.0));
    assert!(close(s.data[i + 24], -2e-3 * (-1.0f64).exp(), 1e-9, 0.0));
}

#[test]
fn positive_dip_precedes_the_negative_phase() {
    let mut cfg = SweepConfig::new(20_000.0, 6.0, 5);
    cfg.positive_dip = 0.3;
    let s = cfg.generate().expect("valid");
    let t = s.truth.expect("a response");
    assert!(t.first_deflection_latency_ms < t.onset_latency_ms - 0.3);
    let max_before = s.clean[..t.onset_index].iter().copied().fold(0.0, f64::max);
    assert!(max_before > 0.0);
}

#[test]
fn bad_input_is_a_clear_error() {
    let err = SweepConfig::new(0.0, 5.0, 1)
        .generate()
        .expect_err("invalid rate");
    assert_eq!(err.to_string(), "sample_rate_hz must be > 0, got 0");
    let err = SweepConfig::new(10_000.0, -1.0, 1)
        .generate()
        .expect_err("invalid target");
    assert!(matches!(err, SimError::OutOfRange { value, .. } if value == -1.0));
    let mut cfg = SweepConfig::new(10_000.0, 1.0, 1);
    cfg.impairments.noise_uv_rms = f64::NAN;
    assert!(cfg.generate_noise_only().is_err());
}
