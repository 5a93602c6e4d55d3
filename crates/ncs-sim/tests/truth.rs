//! The TRUE measures on hand-made waveforms, worked out by hand.

use ncs_sim::measure;

use crate::close;

/// mV samples → volts.
fn volts(mv: &[f64]) -> Vec<f64> {
    mv.iter().map(|v| v * 1e-3).collect()
}

#[test]
fn definitions_on_a_hand_made_waveform() {
    // 1 kHz: one sample per ms; stimulus at index 2.
    let x = volts(&[0.0, 0.0, 0.0, -0.5, -2.0, -1.0, 1.0, 0.5, 0.04, 0.01, 0.0]);
    let m = measure(&x, 1000.0, 2).expect("a response");
    assert!(close(m.negative_peak_amplitude_mv, 2.0, 1e-12, 0.0));
    assert!(close(m.negative_peak_latency_ms, 2.0, 1e-12, 0.0));
    // θ = 0.04 mV: first sample ≤ −0.04 is index 3.
    assert!(close(m.onset_latency_ms, 1.0, 1e-12, 0.0));
    assert_eq!(m.onset_index, 3);
    assert_eq!(m.negative_peak_index, 4);
    // Return between index 5 (−1) and 6 (+1): crossing half way, t = 3.5 ms.
    assert!(close(m.negative_phase_end_latency_ms, 3.5, 1e-12, 0.0));
    assert!(m.returned);
    assert!(close(m.negative_peak_duration_ms, 2.5, 1e-12, 0.0));
    // Trapezoids 3→4 (1.25) and 4→5 (1.5) plus the triangle 5→3.5 ms (0.25).
    assert!(close(m.negative_peak_area_mv_ms, 3.0, 1e-12, 0.0));
    // Positive peak +1 mV at index 6.
    assert!(close(m.peak_to_peak_amplitude_mv, 3.0, 1e-12, 0.0));
    assert!(close(
        m.positive_peak_latency_ms.expect("positive peak"),
        4.0,
        1e-12,
        0.0
    ));
    // Last |x| ≥ 0.04 is index 8 (t = 6 ms): total duration 6 − 1 = 5 ms.
    assert!(close(m.total_duration_ms, 5.0, 1e-12, 0.0));
    assert!(close(m.first_deflection_latency_ms, 1.0, 1e-12, 0.0));
}

#[test]
fn sample_rate_scales_times_not_amplitudes() {
    let x = volts(&[0.0, 0.0, 0.0, -0.5, -2.0, -1.0, 1.0, 0.5, 0.04, 0.01, 0.0]);
    let m = measure(&x, 4000.0, 2).expect("a response");
    assert!(close(m.negative_peak_amplitude_mv, 2.0, 1e-12, 0.0));
    assert!(close(m.negative_peak_duration_ms, 2.5 / 4.0, 1e-12, 0.0));
    assert!(close(m.negative_peak_area_mv_ms, 3.0 / 4.0, 1e-12, 0.0));
}

#[test]
fn positive_dip_comes_before_onset() {
    // A positive dip of 0.3 mV before the negative phase; onset still needs −2 %.
    let x = volts(&[0.0, 0.0, 0.1, 0.3, 0.1, -1.0, -4.0, -1.0, 0.5, 0.0]);
    let m = measure(&x, 1000.0, 1).expect("a response");
    assert!(close(m.first_deflection_latency_ms, 1.0, 1e-12, 0.0));
    assert!(close(m.onset_latency_ms, 4.0, 1e-12, 0.0));
}

#[test]
fn no_return_inside_the_window() {
    let x = volts(&[0.0, -1.0, -2.0, -1.5]);
    let m = measure(&x, 1000.0, 0).expect("a response");
    assert!(!m.returned);
    assert!(close(m.negative_phase_end_latency_ms, 3.0, 1e-12, 0.0));
    assert!(m.positive_peak_latency_ms.is_none());
    assert!(close(m.peak_to_peak_amplitude_mv, 2.0, 1e-12, 0.0));
    // Onset is index 1; trapezoids 1→2 (1.5) and 2→3 (1.75), nothing after the last sample.
    assert!(close(m.negative_peak_area_mv_ms, 3.25, 1e-12, 0.0));
}

#[test]
fn nothing_negative_is_no_response() {
    assert!(measure(&[0.0; 10], 1000.0, 2).is_none());
    assert!(measure(&volts(&[0.0, 1.0, 2.0]), 1000.0, 0).is_none());
    // Negative samples before the stimulus do not count.
    assert!(measure(&volts(&[-5.0, 0.0, 1.0]), 1000.0, 1).is_none());
    assert!(measure(&volts(&[0.0, -1.0]), 0.0, 0).is_none());
    assert!(measure(&volts(&[0.0, -1.0]), 1000.0, 5).is_none());
}
