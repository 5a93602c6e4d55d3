//! Streaming cascade: per-frame vs per-block equality, reset, chaining, delay, validation.

use crate::common::Rng;
use ncs_dsp::{Cascade, CascadeConfig, DspError, FilterSpec};

fn acquisition_chain(channels: usize) -> Cascade {
    CascadeConfig {
        sample_rate_hz: 20_000.0,
        channels,
        stages: vec![
            FilterSpec::Bandpass {
                order: 2,
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
    .unwrap()
}

fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed);
    (0..n).map(|_| r.normal() as f32).collect()
}

#[test]
fn chain_has_bandpass_and_notch_sections() {
    let c = acquisition_chain(8);
    assert_eq!(c.sections().len(), 3);
    // The notch removes 50 Hz, the pass band passes 500 Hz.
    assert!(c.frequency_response(50.0).norm() < 1e-6);
    assert!((c.frequency_response(500.0).norm() - 1.0).abs() < 0.01);
}

#[test]
fn per_frame_equals_per_block_bit_for_bit() {
    let c = acquisition_chain(8);
    let x = noise(8 * 4000, 1);
    let mut a = c.new_state();
    let mut ya = vec![0.0f32; x.len()];
    assert_eq!(c.process(&mut a, &x, &mut ya), 4000);
    let mut b = c.new_state();
    let mut yb = vec![0.0f32; x.len()];
    for (fi, fo) in x.chunks(8).zip(yb.chunks_mut(8)) {
        c.process_frame(&mut b, fi, fo);
    }
    assert_eq!(ya, yb);
    assert_eq!(a, b);
    let mut c2 = c.new_state();
    let mut yc = x.clone();
    c.process_in_place(&mut c2, &mut yc);
    assert_eq!(ya, yc);
}

#[test]
fn channels_are_independent_and_equal_a_single_channel_filter() {
    let c8 = acquisition_chain(8);
    let c1 = acquisition_chain(1);
    let x = noise(8 * 1000, 2);
    let mut s8 = c8.new_state();
    let mut y8 = vec![0.0f64; x.len()];
    let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    c8.process(&mut s8, &x64, &mut y8);
    for ch in [0usize, 3, 7] {
        let xc: Vec<f64> = x64.iter().skip(ch).step_by(8).copied().collect();
        let mut s1 = c1.new_state();
        let mut y1 = vec![0.0; xc.len()];
        c1.process(&mut s1, &xc, &mut y1);
        let got: Vec<f64> = y8.iter().skip(ch).step_by(8).copied().collect();
        assert_eq!(got, y1, "channel {ch}");
    }
}

#[test]
fn reset_restores_initial_state_exactly() {
    let c = acquisition_chain(4);
    let x = noise(4 * 500, 3);
    let mut st = c.new_state();
    let fresh = st.clone();
    let mut y1 = vec![0.0f32; x.len()];
    c.process(&mut st, &x, &mut y1);
    assert_ne!(st, fresh);
    st.reset();
    assert_eq!(st, fresh);
    let mut y2 = vec![0.0f32; x.len()];
    c.process(&mut st, &x, &mut y2);
    assert_eq!(y1, y2);
}

#[test]
fn partial_frames_are_left_alone() {
    let c = acquisition_chain(3);
    let mut st = c.new_state();
    let x = [1.0f32; 8];
    let mut y = [9.0f32; 8];
    assert_eq!(c.process(&mut st, &x, &mut y), 2);
    assert_eq!(&y[6..], &[9.0, 9.0]);
}

#[test]
fn group_delay_of_a_first_order_lowpass_matches_theory() {
    // One pole, zero at −1: H = k (1 + z⁻¹) / (1 + a1 z⁻¹); at DC τ = 0.5 − a1/(1 + a1).
    let c = CascadeConfig {
        sample_rate_hz: 1000.0,
        channels: 1,
        stages: vec![FilterSpec::Lowpass {
            order: 1,
            cutoff_hz: 50.0,
        }],
    }
    .build()
    .unwrap();
    let a1 = c.sections()[0][4];
    let expected_ms = (0.5 - a1 / (1.0 + a1)) * 1e3 / 1000.0;
    assert!(
        (c.group_delay_ms(1e-6) - expected_ms).abs() < 1e-9,
        "{} vs {expected_ms}",
        c.group_delay_ms(1e-6)
    );
    // The impulse response's centre of mass equals the DC group delay.
    let mut st = c.new_state();
    let mut x = vec![0.0f64; 4000];
    x[0] = 1.0;
    let mut y = vec![0.0; 4000];
    c.process(&mut st, &x, &mut y);
    let com = y.iter().enumerate().map(|(i, v)| i as f64 * v).sum::<f64>() / y.iter().sum::<f64>();
    assert!((com - expected_ms).abs() < 1e-6);
}

#[test]
fn representative_delay_is_the_delay_at_the_passband_centre() {
    let c = acquisition_chain(1);
    let d = c.representative_delay_ms();
    let centre = (2.0f64 * 3000.0).sqrt();
    // The pass band found on the grid is within a grid step of the design corners.
    let (a, b) = (
        c.group_delay_ms(centre * 0.99),
        c.group_delay_ms(centre * 1.01),
    );
    assert!(
        d >= a.min(b) && d <= a.max(b),
        "representative {d} ms vs {a}..{b} ms around {centre} Hz"
    );
    assert!(d > 0.0 && d < 10.0);
}

#[test]
fn from_sections_rejects_bad_sections() {
    assert_eq!(
        Cascade::from_sections(1000.0, 0, &[[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]]).unwrap_err(),
        DspError::Channels(0)
    );
    assert_eq!(
        Cascade::from_sections(1000.0, 1, &[]).unwrap_err(),
        DspError::NoSections
    );
    let unstable = [1.0, 0.0, 0.0, 1.0, -2.5, 1.2];
    let e = Cascade::from_sections(1000.0, 1, &[unstable]).unwrap_err();
    assert!(
        matches!(
            e,
            DspError::Section {
                index: 0,
                reason: "poles must lie inside the unit circle",
                ..
            }
        ),
        "{e}"
    );
    let e = Cascade::from_sections(1000.0, 1, &[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0]]).unwrap_err();
    assert!(matches!(
        e,
        DspError::Section {
            reason: "a0 must be non-zero",
            ..
        }
    ));
    // a0 != 1 is normalised.
    let c = Cascade::from_sections(1000.0, 1, &[[2.0, 0.0, 0.0, 2.0, -1.0, 0.0]]).unwrap();
    assert_eq!(c.sections()[0], [1.0, 0.0, 0.0, 1.0, -0.5, 0.0]);
    let e = CascadeConfig {
        sample_rate_hz: 1000.0,
        channels: 2,
        stages: vec![FilterSpec::Notch {
            freq_hz: 600.0,
            q: 30.0,
        }],
    }
    .build()
    .unwrap_err();
    assert!(matches!(
        e,
        DspError::Frequency {
            name: "freq_hz",
            ..
        }
    ));
}

/// The textbook transposed direct form II, one channel: `scipy.signal.sosfilt`'s arithmetic.
fn reference_sosfilt(sections: &[[f64; 6]], x: &[f64]) -> Vec<f64> {
    let mut z = vec![[0.0f64; 2]; sections.len()];
    x.iter()
        .map(|&v| {
            let mut v = v;
            for (s, z) in sections.iter().zip(z.iter_mut()) {
                let y = s[0] * v + z[0];
                z[0] = s[1] * v - s[4] * y + z[1];
                z[1] = s[2] * v - s[5] * y;
                v = y;
            }
            v
        })
        .collect()
}

#[test]
fn every_lane_width_and_section_form_equals_the_textbook_recursion_bit_for_bit() {
    // Numerators [g, 2g, g], [1, 2, 1], [1, -2, 1] (band-pass), [g, b1, g] (notch), [g, -2g, g]
    // (high-pass) and a general one: every cheaper form the block loops use.
    let fs = 20_000.0;
    let mut sections = FilterSpec::Bandpass {
        order: 4,
        low_hz: 2.0,
        high_hz: 3000.0,
    }
    .design(fs)
    .unwrap();
    sections.extend(
        FilterSpec::Notch {
            freq_hz: 50.0,
            q: 30.0,
        }
        .design(fs)
        .unwrap(),
    );
    sections.extend(
        FilterSpec::Highpass {
            order: 2,
            cutoff_hz: 10.0,
        }
        .design(fs)
        .unwrap(),
    );
    sections.push([0.3, -0.1, 0.05, 1.0, -0.5, 0.2]);
    for channels in [1usize, 2, 3, 4, 8, 16] {
        let c = Cascade::from_sections(fs, channels, &sections).unwrap();
        let x: Vec<f64> = noise(channels * 3000, 7 + channels as u64)
            .iter()
            .map(|&v| f64::from(v) * 1e-3 + 1e-3)
            .collect();
        let mut y = vec![0.0; x.len()];
        c.process(&mut c.new_state(), &x, &mut y);
        let mut inplace = x.clone();
        c.process_in_place(&mut c.new_state(), &mut inplace);
        assert_eq!(y, inplace, "{channels} channels, in place");
        for ch in 0..channels {
            let xc: Vec<f64> = x.iter().skip(ch).step_by(channels).copied().collect();
            let got: Vec<f64> = y.iter().skip(ch).step_by(channels).copied().collect();
            assert_eq!(
                got,
                reference_sosfilt(&sections, &xc),
                "{channels} ch, channel {ch}"
            );
        }
    }
}
