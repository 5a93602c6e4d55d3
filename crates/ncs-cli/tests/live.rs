//! A live acquisition recorded to a session: the session explains itself (segments, settings),
//! passes nwbinspector without CRITICAL findings, and `ncs analyze` of it agrees with the live
//! results.

use crate::common::*;
use std::process::Command;

#[test]
fn live_recording_is_complete_and_agrees_with_analyze() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("live.nwb");
    let f = file.to_str().unwrap();
    let out = ncs(&[
        "acquire",
        "--source",
        "sim:median-worked-example",
        "--speed",
        "max",
        "--record",
        f,
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The JSON lines end with the report.
    let text = String::from_utf8(out.stdout).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "report", "{last}");
    let live_segments = &last["segments"];
    assert_eq!(live_segments[0]["block"], "definite", "{last}");

    let script = r#"
import sys, h5py, json, warnings
import pynwb
from pynwb import NWBHDF5IO
from nwbinspector import inspect_nwbfile
warnings.simplefilter("ignore")
path = sys.argv[1]
with NWBHDF5IO(path, "r", load_namespaces=True) as io:
    nwb = io.read()
    seg = nwb.processing["ncs"]["segments"].to_dataframe()
    text = nwb.processing["ncs"]["ncs_text"].to_dataframe()
    print(json.dumps({"blocks": list(seg["block"]), "keys": list(text["key"]),
                      "rows": len(nwb.processing["ncs"]["live_responses"].to_dataframe()),
                      "validate": [str(e) for e in pynwb.validate(path=path)],
                      "inspector": [f"{m.importance.name} {m.check_function_name}: {m.message}"
                                    for m in inspect_nwbfile(nwbfile_path=path)
                                    if m.importance.name in ("CRITICAL", "ERROR")]}))
with h5py.File(path, "r") as h:
    h["acquisition"]
"#;
    let py = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(f)
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&py.stdout).unwrap();
    assert_eq!(got["blocks"], serde_json::json!(["definite", "none"]));
    for k in [
        "ncs_version",
        "pipeline_config",
        "scenario",
        "latency",
        "pipeline_summary",
    ] {
        assert!(
            got["keys"].as_array().unwrap().iter().any(|x| x == k),
            "text {k} missing: {got}"
        );
    }
    assert_eq!(got["rows"], 17);

    assert_eq!(got["validate"], serde_json::json!([]), "{got}");
    assert_eq!(got["inspector"], serde_json::json!([]), "{got}");

    let r = analyze_json(&file, &[]);
    assert_eq!(&r["segments"], live_segments);
}
