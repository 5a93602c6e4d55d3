//! Presence decision, flags, sensory averaging and allocation-free measuring.

use crate::common::*;
use ncs_cmap::{Averager, Flag, MeasureConfig, Scratch, SweepView};

fn noise_only(seed: u64, fs: f64, noise_uv: f64, artefact_mv: f64) -> Synth {
    let mut s = synth(&Params {
        fs,
        amp_mv: 1.0,
        noise_uv,
        mains_uv: 20.0,
        artefact_mv,
        artefact_tau_ms: 0.3,
        seed,
    });
    // Remove the response: keep noise, mains and artefact only.
    for (d, c) in s.data.iter_mut().zip(s.clean.iter_mut()) {
        *d -= *c;
        *c = 0.0;
    }
    s
}

/// Deterministic standard normal deviates: Box–Muller over a 64-bit LCG from `seed`.
fn lcg_gauss(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed;
    move || {
        let mut u = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let (a, b) = (u(), u());
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    }
}

#[test]
fn no_false_responses_in_1000_noise_sweeps() {
    let m = MeasureConfig::default().build().unwrap();
    let mut scratch = Scratch::default();
    let mut false_hits = 0;
    for seed in 0..1000u64 {
        let fs = [10_000.0, 20_000.0, 48_000.0][seed as usize % 3];
        let art = [0.0, 5.0, -5.0, 10.0][seed as usize % 4];
        let s = noise_only(10_000 + seed, fs, 30.0, art);
        let d = m.measure_detailed(&SweepView::new(&s.data, fs, s.stim).unwrap(), &mut scratch);
        let r = d.response;
        if r.present {
            eprintln!("false hit seed {seed} fs {fs} art {art}: {:?} peak {} thr {} start {} mains {:?} flags {:?}", r.measures, d.peak_mv, d.threshold_mv, d.search_start, d.mains_hz, r.flags);
            false_hits += 1;
        } else {
            assert!(r.flags.contains(Flag::NoResponse));
            assert_eq!(r.measures, ncs_cmap::Measures::default());
        }
    }
    assert_eq!(false_hits, 0);
}

#[test]
fn weak_but_real_response_is_found() {
    // 10× the noise: comfortably above the threshold, must not be missed.
    let m = MeasureConfig::default().build().unwrap();
    let mut scratch = Scratch::default();
    for seed in 0..50u64 {
        let s = synth(&Params {
            fs: 20_000.0,
            amp_mv: 0.3,
            noise_uv: 30.0,
            mains_uv: 0.0,
            artefact_mv: 0.0,
            artefact_tau_ms: 0.3,
            seed,
        });
        let r = m.measure(
            &SweepView::new(&s.data, 20_000.0, s.stim).unwrap(),
            &mut scratch,
        );
        assert!(r.present, "seed {seed}");
    }
}

#[test]
fn saturation_is_flagged() {
    let mut s = synth(&Params {
        fs: 20_000.0,
        amp_mv: 8.0,
        noise_uv: 10.0,
        mains_uv: 0.0,
        artefact_mv: 0.0,
        artefact_tau_ms: 0.3,
        seed: 3,
    });
    let m = MeasureConfig::default().build().unwrap();
    let mut scratch = Scratch::default();
    let r = m.measure(
        &SweepView::new(&s.data, 20_000.0, s.stim).unwrap(),
        &mut scratch,
    );
    assert!(!r.flags.contains(Flag::Saturated));
    for d in s.data.iter_mut() {
        *d = d.clamp(-5e-3, 5e-3);
    }
    let r = m.measure(
        &SweepView::new(&s.data, 20_000.0, s.stim).unwrap(),
        &mut scratch,
    );
    assert!(r.present && r.flags.contains(Flag::Saturated));
    // Known rails flag it too.
    let railed = MeasureConfig {
        rails_volts: Some(5e-3),
        ..MeasureConfig::default()
    }
    .build()
    .unwrap();
    assert!(railed
        .measure(
            &SweepView::new(&s.data, 20_000.0, s.stim).unwrap(),
            &mut scratch
        )
        .flags
        .contains(Flag::Saturated));
}

#[test]
fn initial_positive_dip_is_flagged() {
    let fs = 20_000.0;
    let mut s = synth(&Params {
        fs,
        amp_mv: 5.0,
        noise_uv: 10.0,
        mains_uv: 0.0,
        artefact_mv: 0.0,
        artefact_tau_ms: 0.3,
        seed: 5,
    });
    let t = truth(&s);
    let m = MeasureConfig::default().build().unwrap();
    let mut scratch = Scratch::default();
    let r = m.measure(&SweepView::new(&s.data, fs, s.stim).unwrap(), &mut scratch);
    assert!(!r.flags.contains(Flag::InitialPositiveDip));
    // A 0.8 mV positive bump ending just before the onset.
    let onset_i = s.stim as f64 + t.onset_ms * fs / 1e3;
    for (i, d) in s.data.iter_mut().enumerate() {
        let x = (i as f64 - (onset_i - 0.8e-3 * fs)) / (0.3e-3 * fs);
        *d += 0.8e-3 * (-x * x / 2.0).exp();
    }
    let r = m.measure(&SweepView::new(&s.data, fs, s.stim).unwrap(), &mut scratch);
    assert!(
        r.present && r.flags.contains(Flag::InitialPositiveDip),
        "{r:?}"
    );
}

#[test]
fn artefact_reaching_into_the_onset_is_flagged() {
    let fs = 20_000.0;
    let s = synth(&Params {
        fs,
        amp_mv: 2.0,
        noise_uv: 10.0,
        mains_uv: 0.0,
        artefact_mv: 0.0,
        artefact_tau_ms: 0.3,
        seed: 8,
    });
    let t = truth(&s);
    let m = MeasureConfig::default().build().unwrap();
    let mut scratch = Scratch::default();
    // Declare the blanked artefact to end 0.2 ms after the true onset.
    let end = s.stim + ((t.onset_ms + 0.2) * fs / 1e3) as usize;
    let sw = SweepView::new(&s.data, fs, s.stim)
        .unwrap()
        .with_artefact_end(end)
        .unwrap();
    let r = m.measure(&sw, &mut scratch);
    assert!(r.flags.contains(Flag::ArtefactOverlapsOnset), "{r:?}");
    let clean = m.measure(&SweepView::new(&s.data, fs, s.stim).unwrap(), &mut scratch);
    assert!(!clean.flags.contains(Flag::ArtefactOverlapsOnset));
}

#[test]
fn drifting_baseline_is_flagged_and_corrected() {
    let fs = 20_000.0;
    let mut s = synth(&Params {
        fs,
        amp_mv: 2.0,
        noise_uv: 10.0,
        mains_uv: 0.0,
        artefact_mv: 0.0,
        artefact_tau_ms: 0.3,
        seed: 9,
    });
    let t = truth(&s);
    let len = s.data.len() as f64;
    for (i, d) in s.data.iter_mut().enumerate() {
        *d += 0.4e-3 * i as f64 / len;
    }
    let m = MeasureConfig::default().build().unwrap();
    let r = m.measure(
        &SweepView::new(&s.data, fs, s.stim).unwrap(),
        &mut Scratch::default(),
    );
    assert!(r.flags.contains(Flag::UnstableBaseline));
    let area = r.measures.negative_peak_area_mv_ms.unwrap();
    assert!((area / t.area - 1.0).abs() < 0.05, "{area} vs {}", t.area);
}

#[test]
fn sensory_average_recovers_a_snap() {
    // A triphasic 20 µV SNAP under 20 µV noise per sweep; 64 sweeps bring the noise to 2.5 µV.
    let fs = 20_000.0;
    let stim = 200;
    let n = 1000;
    let onset_ms = 2.5;
    let snap = |i: usize| -> f64 {
        let t = (i as f64 - stim as f64) / fs * 1e3 - onset_ms; // ms from onset
        if t < 0.0 {
            return 0.0;
        }
        // positive, negative, positive phases
        let bump = |c: f64, w: f64| (-((t - c) / w).powi(2) * 4.0).exp();
        (6.0 * bump(0.4, 0.4) - 20.0 * bump(1.1, 0.5) + 8.0 * bump(2.0, 0.9)) * 1e-6
    };
    let mut avg = Averager::new(n, stim);
    let mut gauss = lcg_gauss(12345);
    for _ in 0..64 {
        let sweep: Vec<f64> = (0..n).map(|i| snap(i) + 20e-6 * gauss()).collect();
        avg.add(&sweep, stim).unwrap();
    }
    assert!(avg.add(&[0.0; 10], stim).is_err());
    let mut mean = Vec::new();
    avg.mean_into(&mut mean);
    let m = MeasureConfig::sensory().build().unwrap();
    let r = m.measure_sensory(
        &SweepView::new(&mean, fs, stim).unwrap(),
        &mut Scratch::default(),
    );
    assert!(r.present, "{r:?}");
    let clean: Vec<f64> = (0..n).map(snap).collect();
    let (mut pi, mut pv) = (0, 0.0);
    for (i, &c) in clean.iter().enumerate() {
        if c < pv {
            pv = c;
            pi = i;
        }
    }
    let peak_ms = (pi as f64 - stim as f64) / fs * 1e3;
    let mx = r.measures;
    assert!((mx.negative_peak_latency_ms.unwrap() - peak_ms).abs() < 0.1);
    // Truth (clinical.md §1): the first sample at which the noise-free SNAP is 2 % of its
    // negative-peak amplitude below baseline; the initial positive phase comes before it.
    let first = clean.iter().position(|&c| c <= 0.02 * pv).unwrap();
    let true_onset = (first as f64 - stim as f64) / fs * 1e3;
    let on = mx.onset_latency_ms.unwrap();
    assert!((on - true_onset).abs() < 0.15, "onset {on} vs {true_onset}");
    let p2p_true = -pv + clean[pi..].iter().cloned().fold(0.0, f64::max);
    let p2p = mx.peak_to_peak_amplitude_mv.unwrap() * 1e3;
    assert!(
        (p2p / (p2p_true * 1e6) - 1.0).abs() < 0.1,
        "p2p {p2p} µV vs {} ({r:?}, true neg {})",
        p2p_true * 1e6,
        -pv * 1e6
    );
}

#[test]
fn bad_sweeps_and_settings_are_refused() {
    let x = vec![0.0; 100];
    assert!(SweepView::new(&x, 0.0, 50).is_err());
    assert!(SweepView::new(&x, 20_000.0, 2).is_err());
    assert!(SweepView::new(&x, 20_000.0, 95).is_err());
    let mut y = x.clone();
    y[70] = f64::NAN;
    let e = SweepView::new(&y, 20_000.0, 50).unwrap_err();
    assert!(e.to_string().contains("sample 70"), "{e}");
    assert!(SweepView::new(&x, 20_000.0, 50)
        .unwrap()
        .with_artefact_end(20)
        .is_err());
    let e = MeasureConfig {
        false_positive_rate: 0.0,
        ..MeasureConfig::default()
    }
    .build()
    .unwrap_err();
    assert!(e.to_string().contains("false_positive_rate"), "{e}");
    assert!(MeasureConfig {
        max_onset_ms: Some(0.5),
        ..MeasureConfig::default()
    }
    .build()
    .is_err());
}

#[test]
fn clean_response_measures_match_truth() {
    // No mains, no artefact, no drift: whatever the null-hypothesis check tries, the measures
    // must come from the kept baseline model.
    let m = MeasureConfig::default().build().unwrap();
    let mut scratch = Scratch::default();
    for seed in 0..20u64 {
        let fs = [10_000.0, 20_000.0][seed as usize % 2];
        let s = synth(&Params {
            fs,
            amp_mv: 4.0,
            noise_uv: 10.0,
            mains_uv: 0.0,
            artefact_mv: 0.0,
            artefact_tau_ms: 0.3,
            seed: 700 + seed,
        });
        let t = truth(&s);
        let r = m.measure(&SweepView::new(&s.data, fs, s.stim).unwrap(), &mut scratch);
        let x = r.measures;
        let area = x.negative_peak_area_mv_ms.unwrap();
        assert!(
            (area / t.area - 1.0).abs() < 0.02,
            "seed {seed}: area {area} vs {}",
            t.area
        );
        let amp = x.negative_peak_amplitude_mv.unwrap();
        assert!(
            (amp / t.amp_mv - 1.0).abs() < 0.02,
            "seed {seed}: amplitude {amp} vs {}",
            t.amp_mv
        );
    }
}

#[test]
fn the_last_sweep_comes_out_of_an_average_exactly() {
    let n = 64;
    let sweep = |k: usize| -> Vec<f64> {
        (0..n)
            .map(|i| ((i * 7 + k * 13) % 17) as f64 * 1.1e-6 + 0.3e-6 * k as f64)
            .collect()
    };
    let mut with = Averager::new(n, 10);
    let mut without = Averager::new(n, 10);
    for k in 0..5 {
        with.add(&sweep(k), 10).unwrap();
        without.add(&sweep(k), 10).unwrap();
    }
    with.add(&sweep(99), 10).unwrap();
    assert_eq!(with.count(), 6);
    assert!(with.remove_last());
    // Only the last sweep, and only once.
    assert!(!with.remove_last());
    assert_eq!(with.count(), 5);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    with.mean_into(&mut a);
    without.mean_into(&mut b);
    assert_eq!(
        a, b,
        "the average without the rejected sweep is bit for bit the same"
    );
    // Adding goes on from there as if the rejected sweep had never been added.
    with.add(&sweep(5), 10).unwrap();
    without.add(&sweep(5), 10).unwrap();
    with.mean_into(&mut a);
    without.mean_into(&mut b);
    assert_eq!(a, b);
    with.reset();
    assert!(!with.remove_last());
}

/// Mains at `f` Hz with odd harmonics (peak amplitudes in µV of the fundamental, 3rd and 5th),
/// at sample `i` of a sweep whose stimulus comes at a whole number of mains periods (a
/// stimulator at 1 Hz is phase-locked to 50 or 60 Hz mains).
fn mains_with_harmonics(i: usize, fs: f64, f: f64, uv: [f64; 3]) -> f64 {
    let ph = std::f64::consts::TAU * f * i as f64 / fs + 0.7;
    (uv[0] * ph.sin() + uv[1] * (3.0 * ph + 0.4).sin() + uv[2] * (5.0 * ph + 1.9).sin()) * 1e-6
}

#[test]
fn phase_locked_mains_harmonics_do_not_hide_an_averaged_snap() {
    // The pipeline's sweeps (20 ms before, 100 ms after the stimulus) at 20 kHz; a triphasic
    // 15 µV SNAP under 8 µV of noise, averaged over 48 sweeps, with 20 µV of 50 Hz mains whose
    // 3rd and 5th harmonics (6 and 2 µV) survive averaging, since every sweep sees the same phase.
    let (fs, stim, n) = (20_000.0, 400, 2400);
    let onset_ms = 2.8;
    let snap = |i: usize| -> f64 {
        let t = (i as f64 - stim as f64) / fs * 1e3 - onset_ms;
        if t < 0.0 {
            return 0.0;
        }
        let bump = |c: f64, w: f64| (-((t - c) / w).powi(2) * 4.0).exp();
        (4.0 * bump(0.3, 0.4) - 15.0 * bump(0.9, 0.5) + 6.0 * bump(1.7, 0.8)) * 1e-6
    };
    let mut gauss = lcg_gauss(99);
    let mut avg = Averager::new(n, stim);
    for _ in 0..48 {
        let sweep: Vec<f64> = (0..n)
            .map(|i| snap(i) + 8e-6 * gauss() + mains_with_harmonics(i, fs, 50.0, [20.0, 6.0, 2.0]))
            .collect();
        avg.add(&sweep, stim).unwrap();
    }
    let mut mean = Vec::new();
    avg.mean_into(&mut mean);
    let view = SweepView::new(&mean, fs, stim).unwrap();
    let clean: Vec<f64> = (0..n).map(snap).collect();
    let (pi, pv) = clean
        .iter()
        .enumerate()
        .fold((0, 0.0), |b, (i, &c)| if c < b.1 { (i, c) } else { b });
    let to_ms = |i: f64| (i - stim as f64) / fs * 1e3;
    let first = clean.iter().position(|&c| c <= 0.02 * pv).unwrap();

    // The fundamental alone leaves the harmonics in the noise estimate, which puts the
    // threshold above the SNAP: the case this step exists for.
    let fundamental_only = MeasureConfig {
        mains_harmonics: 1,
        ..MeasureConfig::sensory()
    }
    .build()
    .unwrap();
    assert!(
        !fundamental_only
            .measure_sensory(&view, &mut Scratch::default())
            .present
    );

    let m = MeasureConfig::sensory().build().unwrap();
    let d = m.measure_detailed(&view, &mut Scratch::default());
    let harm_uv = d.mains_harmonics_mv * 1e3;
    let want = (6.0f64.powi(2) + 2.0f64.powi(2)).sqrt();
    assert!(
        (harm_uv / want - 1.0).abs() < 0.2,
        "harmonics {harm_uv} µV vs {want}"
    );
    let r = m.measure_sensory(&view, &mut Scratch::default());
    assert!(r.present, "{r:?}");
    let mx = r.measures;
    let peak = mx.negative_peak_latency_ms.unwrap();
    assert!((peak - to_ms(pi as f64)).abs() < 0.1, "peak {peak}");
    let on = mx.onset_latency_ms.unwrap();
    assert!(
        (on - to_ms(first as f64)).abs() < 0.15,
        "onset {on} vs {}",
        to_ms(first as f64)
    );
    let amp = mx.negative_peak_amplitude_mv.unwrap() * 1e3;
    assert!((amp / (-pv * 1e6) - 1.0).abs() < 0.15, "amplitude {amp} µV");
}

#[test]
fn strong_mains_with_harmonics_leaves_a_small_cmap_measured() {
    // 300 µV of 60 Hz mains with 90 µV at 180 Hz and 30 µV at 300 Hz over a 1 mV CMAP, with a
    // 10 ms baseline (shorter than one mains period, so the mains is only seen across the sweep).
    let m = MeasureConfig::default().build().unwrap();
    let mut scratch = Scratch::default();
    let mut onset_errors = Vec::new();
    for seed in 0..12u64 {
        let fs = [10_000.0, 20_000.0, 48_000.0][seed as usize % 3];
        let mut s = synth(&Params {
            fs,
            amp_mv: 1.0,
            noise_uv: 10.0,
            mains_uv: 0.0,
            artefact_mv: 0.0,
            artefact_tau_ms: 0.3,
            seed: 500 + seed,
        });
        for (i, d) in s.data.iter_mut().enumerate() {
            *d += mains_with_harmonics(i, fs, 60.0, [300.0, 90.0, 30.0]);
        }
        let t = truth(&s);
        let d = m.measure_detailed(&SweepView::new(&s.data, fs, s.stim).unwrap(), &mut scratch);
        let r = d.response;
        assert!(r.present, "seed {seed}: {r:?}");
        assert_eq!(d.mains_hz, Some(60.0));
        assert!(
            (d.mains_mv / 0.3 - 1.0).abs() < 0.05,
            "seed {seed}: mains {}",
            d.mains_mv
        );
        let harm = d.mains_harmonics_mv / (0.09f64.hypot(0.03));
        assert!(
            (harm - 1.0).abs() < 0.1,
            "seed {seed}: harmonics {}",
            d.mains_harmonics_mv
        );
        let amp = r.measures.negative_peak_amplitude_mv.unwrap();
        assert!(
            (amp / t.amp_mv - 1.0).abs() < 0.03,
            "seed {seed}: amplitude {amp} vs {}",
            t.amp_mv
        );
        let area = r.measures.negative_peak_area_mv_ms.unwrap();
        assert!(
            (area / t.area - 1.0).abs() < 0.05,
            "seed {seed}: area {area} vs {}",
            t.area
        );
        let on = r.measures.onset_latency_ms.unwrap();
        assert!(
            (on - t.onset_ms).abs() < 0.4,
            "seed {seed}: onset {on} vs {}",
            t.onset_ms
        );
        onset_errors.push((on - t.onset_ms).abs());
    }
    // The onset sits at 20 µV, beside 10 µV of noise and what is left of 300 µV of mains.
    let median = percentile(&mut onset_errors, 0.5);
    assert!(median <= 0.1, "median onset error {median} ms");
}

#[test]
fn coarse_converter_steps_are_not_saturation_but_its_rail_is() {
    // A 10-bit converter behind a modest gain: 8.138 µV per code (an Arduino behind a Muscle
    // SpikerShield). The broad top of a response sits on one code for several samples, reached
    // one code at a time; only a rail, reached with the signal's own slope, is saturation.
    let q = 5.0 / 1024.0 / 600.0;
    let m = MeasureConfig::default().build().unwrap();
    let mut scratch = Scratch::default();
    let mut flagged_unclipped = 0;
    for seed in 0..12u64 {
        let fs = [10_000.0, 20_000.0][seed as usize % 2];
        let s = synth(&Params {
            fs,
            amp_mv: [1.0, 3.0, 5.0][seed as usize % 3],
            noise_uv: 3.0,
            mains_uv: 0.0,
            artefact_mv: 0.0,
            artefact_tau_ms: 0.3,
            seed: 900 + seed,
        });
        let quantised: Vec<f64> = s.data.iter().map(|v| (v / q).round() * q).collect();
        let r = m.measure(
            &SweepView::new(&quantised, fs, s.stim).unwrap(),
            &mut scratch,
        );
        assert!(r.present, "seed {seed}");
        flagged_unclipped += usize::from(r.flags.contains(Flag::Saturated));
        // The same converter at its rail, 70 % of the way up the response.
        let rail = 0.7 * s.clean.iter().cloned().fold(0.0, f64::min).abs();
        let clipped: Vec<f64> = quantised
            .iter()
            .map(|v| v.clamp(-((rail / q).round() * q), 1.0))
            .collect();
        let r = m.measure(&SweepView::new(&clipped, fs, s.stim).unwrap(), &mut scratch);
        assert!(
            r.flags.contains(Flag::Saturated),
            "seed {seed}: rail not flagged"
        );
    }
    assert_eq!(flagged_unclipped, 0);
}

/// A 10 µV SNAP averaged to 0.5 µV of noise under 20 µV of mains phase-locked to the stimulus,
/// with its 3rd and 5th harmonics, and a 5 ms baseline (a quarter of the mains period): at
/// every mains phase it is found. Where the mains half-wave cancels it, only the whole sweep's
/// model holds the mains, and only with the harmonics removed is it quiet enough to show the
/// SNAP; that model is noisier than the pre-stimulus one then, which must not stop the
/// harmonics from being removed.
#[test]
fn a_snap_under_phase_locked_mains_is_found_at_every_phase() {
    let fs = 20_000.0;
    let s = 100;
    let n = s + 1000;
    let m = MeasureConfig::sensory().build().unwrap();
    let mut scratch = Scratch::default();
    let mut gauss = lcg_gauss(77);
    let snap = |t: f64| {
        let g = |c: f64, w: f64| (-(t - c) * (t - c) / (2.0 * w * w)).exp();
        -12e-6 * g(2.2e-3, 0.25e-3) + 3e-6 * g(1.7e-3, 0.2e-3) + 5e-6 * g(2.8e-3, 0.35e-3)
    };
    let mut missed = Vec::new();
    for k in 0..40 {
        let phase = k as f64 * 0.7;
        let x: Vec<f64> = (0..n)
            .map(|i| {
                let t = (i as f64 - s as f64) / fs;
                let w = std::f64::consts::TAU * 50.0 * t + phase;
                snap(t)
                    + 20e-6 * (w.sin() + 0.3 * (3.0 * w + 0.4).sin() + 0.1 * (5.0 * w + 1.0).sin())
                    + 0.5e-6 * gauss()
            })
            .collect();
        let r = m.measure(&SweepView::new(&x, fs, s).unwrap(), &mut scratch);
        if !r.present {
            missed.push(phase);
        }
    }
    assert!(missed.is_empty(), "missed at mains phases {missed:?}");
}
