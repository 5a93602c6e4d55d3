//! Property tests: every valid design is stable and has the right gains; streaming is
//! independent of how the input is split; reset really resets.

use ncs_dsp::design::section_poles;
use ncs_dsp::{Cascade, CascadeConfig, FilterSpec};
use proptest::prelude::*;

fn any_design() -> impl Strategy<Value = (FilterSpec, f64)> {
    (
        1usize..=8,
        0usize..3,
        1000.0f64..50_000.0,
        0.0f64..1.0,
        0.0f64..1.0,
    )
        .prop_map(|(order, kind, fs, u, v)| {
            // Corners log-uniform in [1 Hz, 0.45 fs].
            let f = |t: f64| (0.45 * fs).powf(t);
            let spec = match kind {
                0 => FilterSpec::Lowpass {
                    order,
                    cutoff_hz: f(u),
                },
                1 => FilterSpec::Highpass {
                    order,
                    cutoff_hz: f(u),
                },
                _ => {
                    let (a, b) = (f(u.min(v) * 0.95), f(u.max(v) * 0.95 + 0.05));
                    FilterSpec::Bandpass {
                        order,
                        low_hz: a,
                        high_hz: b,
                    }
                }
            };
            (spec, fs)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn every_valid_design_is_stable_with_the_right_gains((spec, fs) in any_design()) {
        let sos = spec.design(fs).unwrap();
        for s in &sos {
            for p in section_poles(s) {
                prop_assert!(p.norm() < 1.0, "{spec:?} fs {fs}: pole {p} outside the unit circle");
            }
        }
        let c = Cascade::from_sections(fs, 1, &sos).unwrap();
        let (dc, nyq) = (c.frequency_response(0.0).norm(), c.frequency_response(fs / 2.0).norm());
        match spec {
            FilterSpec::Lowpass { .. } => {
                prop_assert!((dc - 1.0).abs() < 1e-6, "{spec:?}: DC gain {dc}");
                prop_assert!(nyq < 1e-9, "{spec:?}: Nyquist gain {nyq}");
            }
            FilterSpec::Highpass { .. } => {
                prop_assert!(dc < 1e-9, "{spec:?}: DC gain {dc}");
                prop_assert!((nyq - 1.0).abs() < 1e-6, "{spec:?}: Nyquist gain {nyq}");
            }
            FilterSpec::Bandpass { .. } => {
                prop_assert!(dc < 1e-9 && nyq < 1e-9, "{spec:?}: DC {dc}, Nyquist {nyq}");
            }
            FilterSpec::Notch { .. } => unreachable!(),
        }
    }

    #[test]
    fn notch_removes_its_frequency_and_passes_dc_and_nyquist(fs in 500.0f64..50_000.0, q in 0.5f64..60.0, sixty in any::<bool>()) {
        let f0 = if sixty { 60.0 } else { 50.0 };
        let sos = FilterSpec::Notch { freq_hz: f0, q }.design(fs).unwrap();
        let c = Cascade::from_sections(fs, 1, &sos).unwrap();
        prop_assert!(c.frequency_response(f0).norm() < 1e-9);
        prop_assert!((c.frequency_response(0.0).norm() - 1.0).abs() < 1e-12);
        prop_assert!((c.frequency_response(fs / 2.0).norm() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn block_splits_and_reset_do_not_change_the_output(
        channels in 1usize..6,
        cuts in proptest::collection::vec(0usize..400, 0..12),
        seed in any::<u64>(),
    ) {
        let c = CascadeConfig {
            sample_rate_hz: 10_000.0,
            channels,
            stages: vec![FilterSpec::Bandpass { order: 3, low_hz: 5.0, high_hz: 2000.0 }, FilterSpec::Notch { freq_hz: 60.0, q: 20.0 }],
        }
        .build()
        .unwrap();
        let mut rng = crate::common::Rng::new(seed);
        let frames = 400;
        let x: Vec<f32> = (0..frames * channels).map(|_| rng.normal() as f32).collect();
        let mut st = c.new_state();
        let mut whole = vec![0.0f32; x.len()];
        c.process(&mut st, &x, &mut whole);
        // The same input in random pieces (cut at frame boundaries), after a reset.
        st.reset();
        prop_assert_eq!(&st, &c.new_state());
        let mut bounds: Vec<usize> = cuts.iter().map(|&k| k.min(frames) * channels).collect();
        bounds.push(0);
        bounds.push(frames * channels);
        bounds.sort_unstable();
        let mut pieces = vec![0.0f32; x.len()];
        for w in bounds.windows(2) {
            c.process(&mut st, &x[w[0]..w[1]], &mut pieces[w[0]..w[1]]);
        }
        prop_assert_eq!(whole, pieces);
    }
}
