//! A session with recorded data loss: the sweep over the gap is flagged, not measured.

use crate::common::*;
use ncs_io::{Gap, SessionMeta, SessionWriter, Stimulus, Subject};

#[test]
fn sweep_over_a_recorded_gap_is_flagged_not_measured() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gap.nwb");
    let fs = 10_000.0;
    let mut meta = SessionMeta::new(
        "gap-test",
        "a recorded gap",
        "2026-01-01T00:00:00+00:00",
        fs,
        &["emg0"],
    );
    meta.subject = Subject {
        subject_id: "t".into(),
        species: "Homo sapiens".into(),
        sex: "U".into(),
        age: Some("P30Y".into()),
    };
    meta.swmr = false;
    let mut w = SessionWriter::create(&path, &meta).unwrap();
    let n = 40_000usize;
    let mut x = vec![0.0f32; n];
    // Pseudo-noise of ~10 µV and a 3 mV negative-first response 4 ms after each stimulus.
    let mut state = 12345u64;
    for v in x.iter_mut() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *v = (((state >> 40) as f64 / (1u64 << 24) as f64 - 0.5) * 35e-6) as f32;
    }
    for k in 1..=3 {
        let s = k * 10_000 + 40;
        for i in 0..120 {
            let t = i as f64 / 120.0;
            x[s + i] += (-3e-3 * (std::f64::consts::PI * t).sin().powi(2)) as f32;
        }
        w.append_stimulus(&Stimulus {
            time_s: k as f64,
            nerve: Some("median".into()),
            side: Some("right".into()),
            site: Some(if k == 1 { "wrist" } else { "elbow" }.into()),
            modality: Some(ncs_io::Modality::Motor),
            distance_mm: Some(if k == 1 { 70.0 } else { 290.0 }),
            channel: Some(0),
            intensity_ma: Some(30.0),
        })
        .unwrap();
    }
    // Frames 20_050..20_550 were lost: placeholders (zeros) in the file, and the gap recorded.
    for v in &mut x[20_050..20_550] {
        *v = 0.0;
    }
    w.append_frames(&x).unwrap();
    w.append_gap(&Gap {
        first_sample: 20_050,
        sample_count: 500,
        reason: "test".into(),
    })
    .unwrap();
    w.finish().unwrap();
    let r = analyze_json(&path, &[]);
    let rows = r["responses"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["present"], true);
    assert_eq!(rows[2]["present"], true);
    assert_eq!(rows[1]["present"], false, "{}", rows[1]);
    assert_eq!(rows[1]["flags"], serde_json::json!(["data_gap"]));
    let amp = rows[2]["negative_peak_amplitude_mv"].as_f64().unwrap();
    assert!((amp - 3.0).abs() < 0.1, "{amp}");
}
