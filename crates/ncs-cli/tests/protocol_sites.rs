//! A session without a stimuli table: stimuli found on the trigger channel get their sites
//! from the protocol (runs of stimuli between the examiner's pauses are its steps in order),
//! and grade as the same session with its stimuli table does.

use crate::common::*;
use std::process::Command;

#[test]
fn trigger_stimuli_take_their_sites_from_the_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trigger.nwb");
    let scenario = root().join("crates/ncs-cli/tests/data/worked-example-trigger.toml");
    let out = ncs(&[
        "simulate",
        scenario.to_str().unwrap(),
        "--sample-rate",
        "10000",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let with_table = analyze_json(&file, &[]);
    // The same recording as another lab would keep it: no stimuli table.
    let bare = dir.path().join("bare.nwb");
    let py = Command::new(python())
        .arg("-c")
        .arg(
            "import h5py, shutil, sys\nshutil.copy(sys.argv[1], sys.argv[2])\n\
             with h5py.File(sys.argv[2], 'a') as f:\n    del f['intervals/stimuli']\n",
        )
        .arg(&file)
        .arg(&bare)
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let protocol = root().join("crates/ncs-cli/tests/data/worked-example-protocol.toml");
    let placed = analyze_json(
        &bare,
        &[
            "--trigger-channel",
            "1",
            "--protocol",
            protocol.to_str().unwrap(),
        ],
    );
    let note = placed["assumptions"].to_string();
    assert!(note.contains("in 3 runs separated by pauses"), "{note}");
    let (a, b) = (
        with_table["responses"].as_array().unwrap(),
        placed["responses"].as_array().unwrap(),
    );
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!(
            (x["stimulus_time_s"].as_f64().unwrap() - y["stimulus_time_s"].as_f64().unwrap()).abs()
                < 1e-3,
            "{x} vs {y}"
        );
        assert_eq!(
            x["site"].as_str().unwrap().replace(' ', "_"),
            y["site"].as_str().unwrap(),
            "{x} vs {y}"
        );
        assert_eq!(x["present"], y["present"]);
        assert!(
            y["intensity_ma"].is_null(),
            "intensities are not on a trigger line"
        );
    }
    // The protocol's distances (its elbow at 280 mm), and the same grades as the table gives.
    let seg = |r: &serde_json::Value, from: &str| {
        r["segments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["from_site"] == from && s["spans"].as_array().is_none_or(|v| v.is_empty()))
            .unwrap()
            .clone()
    };
    assert_eq!(seg(&placed, "wrist")["distance_mm"], 210.0);
    for from in ["wrist", "elbow"] {
        assert_eq!(
            seg(&placed, from)["block"],
            seg(&with_table, from)["block"],
            "{from}"
        );
    }
    assert_eq!(seg(&placed, "wrist")["block"], "definite");

    // A protocol with another number of sites is refused, saying why.
    let two = dir.path().join("two.toml");
    std::fs::write(
        &two,
        std::fs::read_to_string(&protocol)
            .unwrap()
            .replace("  { name = \"upper arm\", distance_mm = 400 },\n", ""),
    )
    .unwrap();
    let out = ncs(&[
        "analyze",
        bare.to_str().unwrap(),
        "--trigger-channel",
        "1",
        "--protocol",
        two.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("fall into 3 run(s)") && err.contains("has 2 step(s)"),
        "{err}"
    );
}
