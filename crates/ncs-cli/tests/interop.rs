//! Sessions written by pynwb (int16 counts with `conversion`, two channels, a stimuli table)
//! analysed by `ncs`.

use crate::common::*;

#[test]
fn pynwb_session_is_analysed() {
    let dir = tempfile::tempdir().unwrap();
    make_sessions(dir.path());
    let r = analyze_json(&dir.path().join("good_pynwb.nwb"), &[]);
    assert_eq!(r["session"]["channels"], 2);
    assert_eq!(r["session"]["sample_rate_hz"], 10_000.0);
    let rows = r["responses"].as_array().unwrap();
    assert_eq!(rows.len(), 6);
    for x in rows {
        assert_eq!(x["channel"], 1);
        assert_eq!(x["present"], true, "{x}");
        // The response: 4.0 mV negative peak, onset 5 ms + the 2 % point of a sin² rise
        // (0.27 ms), area 12.0 mV·ms.
        let amp = x["negative_peak_amplitude_mv"].as_f64().unwrap();
        assert!((amp - 4.0).abs() < 0.04, "{amp}");
        let onset = x["onset_latency_ms"].as_f64().unwrap();
        assert!((onset - 5.27).abs() < 0.1, "{onset}");
        let area = x["negative_peak_area_mv_ms"].as_f64().unwrap();
        assert!((area - 12.0).abs() < 0.25, "{area}");
    }
    // Same amplitude at both sites: no block.
    assert_eq!(r["segments"][0]["block"], "none");
}
