//! Accuracy over a grid of sweeps from the project's simulator (`ncs-sim`), against its ground
//! truth: sampling 10, 20 and 48 kHz; negative-peak amplitude 0.5–15 mV; white noise 5–30 µV
//! RMS; 50/60 Hz mains with harmonics and a stimulus artefact with a decaying tail on every
//! sweep. Sweeps have the pipeline's default 20 ms pre-stimulus baseline.

use crate::common::percentile;
use ncs_cmap::{MeasureConfig, Scratch, SweepView};
use ncs_sim::{Artefact, Impairments, Mains, Polarity as SimPolarity, SweepConfig};

fn impairments(noise_uv: f64, k: u64) -> Impairments {
    Impairments {
        noise_uv_rms: noise_uv,
        mains: Some(Mains {
            frequency_hz: if k % 2 == 0 { 50.0 } else { 60.0 },
            amplitude_uv: 10.0 + (k % 3) as f64 * 10.0,
            harmonics: vec![0.3, 0.1],
        }),
        artefact: Some(Artefact {
            amplitude_mv_per_ma: 0.2 + 0.1 * (k % 3) as f64,
            polarity: if k % 2 == 0 {
                SimPolarity::Positive
            } else {
                SimPolarity::Negative
            },
            spike_ms: 0.2,
            tail_fraction: [0.1, -0.15, 0.25][(k % 3) as usize],
            tail_tau_ms: [0.3, 0.6, 1.0][(k % 3) as usize],
        }),
        ..Impairments::default()
    }
}

#[test]
fn accuracy_on_simulated_grid() {
    let m = MeasureConfig::default().build().unwrap();
    let mut scratch = Scratch::default();
    let (mut on, mut amp, mut area, mut dur) = (vec![], vec![], vec![], vec![]);
    let mut k = 0u64;
    for &fs in &[10_000.0, 20_000.0, 48_000.0] {
        for &a in &[0.5, 1.0, 2.0, 5.0, 10.0, 15.0] {
            for &noise in &[5.0, 15.0, 30.0] {
                for _ in 0..4 {
                    k += 1;
                    let mut cfg = SweepConfig::new(fs, a, 1000 + k);
                    cfg.pre_ms = 20.0;
                    cfg.impairments = impairments(noise, k);
                    let s = cfg.generate().unwrap();
                    let t = s.truth.unwrap();
                    let r = m.measure(
                        &SweepView::new(&s.data, fs, s.stimulus_index).unwrap(),
                        &mut scratch,
                    );
                    assert!(r.present, "sweep {k}: fs {fs} amp {a} noise {noise}: {r:?}");
                    assert!(
                        !r.flags.contains(ncs_cmap::Flag::OppositePolarity),
                        "sweep {k}: fs {fs} amp {a} noise {noise}: {r:?}"
                    );
                    let x = r.measures;
                    on.push((x.onset_latency_ms.unwrap() - t.onset_latency_ms).abs());
                    amp.push(
                        (x.negative_peak_amplitude_mv.unwrap() / t.negative_peak_amplitude_mv
                            - 1.0)
                            .abs(),
                    );
                    area.push(
                        (x.negative_peak_area_mv_ms.unwrap() / t.negative_peak_area_mv_ms - 1.0)
                            .abs(),
                    );
                    dur.push(
                        (x.negative_peak_duration_ms.unwrap() / t.negative_peak_duration_ms - 1.0)
                            .abs(),
                    );
                }
            }
        }
    }
    let (on50, on95) = (percentile(&mut on, 0.5), percentile(&mut on, 0.95));
    let amp95 = percentile(&mut amp, 0.95);
    let area95 = percentile(&mut area, 0.95);
    let dur95 = percentile(&mut dur, 0.95);
    eprintln!(
        "sim grid ({k} sweeps): onset |error| p50 {on50:.3} ms, p95 {on95:.3} ms; amplitude p95 {:.2} %; area p95 {:.2} %; negative-peak duration p95 {:.2} %",
        amp95 * 100.0,
        area95 * 100.0,
        dur95 * 100.0
    );
    assert!(on50 <= 0.10, "onset p50 {on50} ms");
    assert!(on95 <= 0.25, "onset p95 {on95} ms");
    assert!(amp95 <= 0.03, "amplitude p95 {amp95}");
    assert!(area95 <= 0.05, "area p95 {area95}");
    assert!(dur95 <= 0.05, "duration p95 {dur95}");
}

#[test]
fn no_false_responses_in_1000_simulated_noise_sweeps() {
    let m = MeasureConfig::default().build().unwrap();
    let mut scratch = Scratch::default();
    let mut hits = Vec::new();
    for k in 0..1000u64 {
        let fs = [10_000.0, 20_000.0, 48_000.0][(k % 3) as usize];
        let mut cfg = SweepConfig::new(fs, 1.0, 50_000 + k);
        cfg.pre_ms = 20.0;
        cfg.impairments = impairments(30.0, k);
        let s = cfg.generate_noise_only().unwrap();
        let r = m.measure(
            &SweepView::new(&s.data, fs, s.stimulus_index).unwrap(),
            &mut scratch,
        );
        // Nothing the other way either: the opposite-polarity warning has the same threshold.
        if r.present || r.flags.contains(ncs_cmap::Flag::OppositePolarity) {
            hits.push((k, r));
        }
    }
    assert!(
        hits.is_empty(),
        "{} false responses or warnings, first: {:?}",
        hits.len(),
        hits.first()
    );
}

/// Electrodes swapped (or the polarity set the wrong way): the recorded CMAP is the simulator's
/// turned over. Whatever is found, the sweep says that the largest deflection goes the other
/// way; the same sweeps the right way up carry no such warning.
#[test]
fn a_cmap_recorded_upside_down_is_flagged() {
    let m = MeasureConfig::default().build().unwrap();
    let mut scratch = Scratch::default();
    for (k, amp) in [0.3, 1.0, 5.0, 12.0].into_iter().enumerate() {
        for seed in 0..3u64 {
            let fs = [10_000.0, 20_000.0, 48_000.0][seed as usize];
            let mut cfg = SweepConfig::new(fs, amp, 9_000 + 10 * k as u64 + seed);
            cfg.pre_ms = 20.0;
            cfg.impairments = impairments(10.0, seed);
            let s = cfg.generate().unwrap();
            let upright = m.measure(
                &SweepView::new(&s.data, fs, s.stimulus_index).unwrap(),
                &mut scratch,
            );
            assert!(upright.present, "{amp} mV seed {seed}: {upright:?}");
            assert!(
                !upright.flags.contains(ncs_cmap::Flag::OppositePolarity),
                "{amp} mV seed {seed}: {upright:?}"
            );
            let turned: Vec<f64> = s.data.iter().map(|v| -v).collect();
            let r = m.measure(
                &SweepView::new(&turned, fs, s.stimulus_index).unwrap(),
                &mut scratch,
            );
            assert!(
                r.flags.contains(ncs_cmap::Flag::OppositePolarity),
                "{amp} mV seed {seed}: {r:?}"
            );
        }
    }
}
