//! `ncs simulate SCENARIO -o FILE` writes a session that pynwb reads and that `ncs analyze`
//! grades as the scenario says.

use crate::common::*;
use std::process::Command;

#[test]
fn simulated_worked_example_reads_in_pynwb_and_analyzes_to_its_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("median.nwb");
    let f = file.to_str().unwrap();
    let out = ncs(&["simulate", "median-worked-example", "-o", f]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let script = r#"
import sys, json, warnings
warnings.simplefilter("ignore")
from pynwb import NWBHDF5IO
with NWBHDF5IO(sys.argv[1], "r") as io:
    nwb = io.read()
    emg = nwb.acquisition["EMG"]
    st = nwb.intervals["stimuli"].to_dataframe()
    print(json.dumps({"shape": list(emg.data.shape), "rate": emg.rate, "unit": emg.unit,
                      "stimuli": len(st), "sites": sorted(set(st["site"])),
                      "nerves": sorted(set(st["nerve"])),
                      "truth": len(nwb.processing["ncs"]["simulation_truth"].to_dataframe())}))
"#;
    let py = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(f)
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "pynwb cannot read the simulated session: {}",
        String::from_utf8_lossy(&py.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&py.stdout).unwrap();
    assert_eq!(got["shape"][1], 1, "{got}");
    assert_eq!(got["unit"], "volts");
    let rate = got["rate"].as_f64().unwrap();
    let frames = got["shape"][0].as_f64().unwrap();
    assert_eq!(got["nerves"], serde_json::json!(["median"]));
    assert_eq!(
        got["sites"],
        serde_json::json!(["elbow", "upper arm", "wrist"])
    );
    assert_eq!(got["truth"], got["stimuli"], "one truth row per stimulus");

    let r = analyze_json(&file, &[]);
    assert_eq!(r["session"]["sample_rate_hz"].as_f64().unwrap(), rate);
    assert!((r["session"]["duration_s"].as_f64().unwrap() - frames / rate).abs() < 1e-9);
    assert_eq!(
        r["responses"].as_array().unwrap().len() as u64,
        got["stimuli"].as_u64().unwrap()
    );
    let segs = r["segments"].as_array().unwrap();
    assert_eq!(segs.len(), 2, "{segs:#?}");
    // clinical.md §3: wrist → elbow area −80 % (definite), elbow → upper arm −10 % (none).
    let forearm = &segs[0];
    assert_eq!(
        (forearm["from_site"].as_str(), forearm["to_site"].as_str()),
        (Some("wrist"), Some("elbow"))
    );
    assert_eq!(forearm["block"], "definite", "{forearm}");
    let area = forearm["area_reduction_pct"].as_f64().unwrap();
    assert!((area - 80.2).abs() < 3.0, "{area}");
    assert_eq!(forearm["counts_for_mmn"], true);
    let upper = &segs[1];
    assert_eq!(
        (upper["from_site"].as_str(), upper["to_site"].as_str()),
        (Some("elbow"), Some("upper_arm"))
    );
    assert_eq!(upper["block"], "none", "{upper}");
    let area = upper["area_reduction_pct"].as_f64().unwrap();
    assert!((area - 9.8).abs() < 3.0, "{area}");
}

#[test]
fn simulated_healthy_arm_has_its_snaps_and_no_block() {
    // The `normal` scenario: SNAPs of 4–18 µV (the proximal ones dispersed) under 8 µV of noise
    // per sweep, 20 µV of 50 Hz mains with 3rd and 5th harmonics phase-locked to the 1 Hz
    // stimulator, and a stimulus artefact whose tail (τ 0.8 ms) still stands at the wrist SNAPs.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("normal.nwb");
    let out = ncs(&["simulate", "normal", "-o", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = analyze_json(&file, &[]);
    let snaps: Vec<&serde_json::Value> = r["responses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["modality"] == "sensory" && x["selected"] == true)
        .collect();
    assert_eq!(snaps.len(), 5, "{snaps:#?}");
    for s in &snaps {
        assert_eq!(s["present"], true, "{s}");
        // Averaged at one intensity: the selected average holds a whole intensity step.
        assert!(s["averaged_sweeps"].as_u64().unwrap() >= 16, "{s}");
        let amp_uv = s["negative_peak_amplitude_mv"].as_f64().unwrap() * 1e3;
        assert!((2.0..40.0).contains(&amp_uv), "{s}");
    }
    for nerve in r["patient"]["sensory"].as_array().unwrap() {
        assert_eq!(nerve["normal"], true, "{nerve}");
    }
    for seg in r["segments"].as_array().unwrap() {
        assert!(
            seg["block"] == "none" || seg["block"] == "not_assessable",
            "{seg}"
        );
    }
}
