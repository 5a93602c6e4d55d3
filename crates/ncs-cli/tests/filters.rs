//! Sweep filters: zero-phase, so latencies do not move; the delay the same filters would add
//! causally is stated.

use crate::common::*;

#[test]
fn zero_phase_sweep_filters_keep_the_latencies_and_state_the_causal_delay() {
    let file = root().join("fixtures/median-worked-example.nwb");
    let plain = analyze_json(&file, &[]);
    // A low-pass at 3 kHz.
    let filtered = analyze_json(&file, &["--lowpass", "3000"]);
    let note = filtered["assumptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .find(|a| a.starts_with("filters: "))
        .unwrap_or_else(|| panic!("no filter note: {}", filtered["assumptions"]));
    // Order-4 Butterworth at 3 kHz: about 0.1 ms if it were causal.
    let delay: f64 = note
        .split("delay them by ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{note}"));
    assert!(delay > 0.05, "{note}");
    eprintln!("{note}");
    assert!(plain["assumptions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| !a.as_str().unwrap().starts_with("filters: ")));
    let (a, b) = (
        plain["responses"].as_array().unwrap(),
        filtered["responses"].as_array().unwrap(),
    );
    assert_eq!(a.len(), b.len());
    let mut onset_shift = Vec::new();
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x["present"], y["present"], "{x} vs {y}");
        let (Some(o1), Some(o2)) = (
            x["onset_latency_ms"].as_f64(),
            y["onset_latency_ms"].as_f64(),
        ) else {
            continue;
        };
        // Each sweep's onset moves only within the estimate's own noise (the filter changes
        // the noise the onset is extrapolated through)...
        assert!((o1 - o2).abs() < 0.15, "onset {o1} vs {o2} ms");
        onset_shift.push(o2 - o1);
        let (p1, p2) = (
            x["negative_peak_latency_ms"].as_f64().unwrap(),
            y["negative_peak_latency_ms"].as_f64().unwrap(),
        );
        // The peak of a dispersed proximal response is flat for a millisecond: any change of
        // the noise moves its top by a few samples.
        assert!((p1 - p2).abs() < 0.1, "negative peak {p1} vs {p2} ms");
        let (m1, m2) = (
            x["negative_peak_amplitude_mv"].as_f64().unwrap(),
            y["negative_peak_amplitude_mv"].as_f64().unwrap(),
        );
        assert!((m1 - m2).abs() <= 0.03 * m1, "amplitude {m1} vs {m2} mV");
    }
    // ...and not systematically: the mean shift is a fraction of the causal delay.
    let compared = onset_shift.len();
    let mean = onset_shift.iter().sum::<f64>() / compared as f64;
    assert!(
        mean.abs() < 0.3 * delay,
        "mean onset shift {mean} ms, causal delay {delay} ms"
    );
    assert!(compared >= 8, "{compared} responses compared");
    // The grades stay.
    for (s1, s2) in plain["segments"]
        .as_array()
        .unwrap()
        .iter()
        .zip(filtered["segments"].as_array().unwrap())
    {
        assert_eq!(s1["block"], s2["block"]);
    }
}

#[test]
fn a_notch_is_said_to_ring() {
    let file = root().join("fixtures/median-worked-example.nwb");
    let r = analyze_json(&file, &["--notch", "50"]);
    let note = r["assumptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .find(|a| a.starts_with("filters: "))
        .unwrap();
    assert!(
        note.contains("notch 50 Hz") && note.contains("a notch rings"),
        "{note}"
    );
}

#[test]
fn a_filter_that_cannot_be_built_is_refused_with_the_rule() {
    let file = root().join("fixtures/median-worked-example.nwb");
    let out = ncs(&["analyze", file.to_str().unwrap(), "--lowpass", "15000"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("15000"), "{err}");
}
