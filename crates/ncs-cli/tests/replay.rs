//! `ncs replay SESSION --json` streams a session through the live pipeline and must give the
//! same responses and segments as `ncs analyze` of the same file.

use crate::common::*;
use std::path::Path;

/// Runs `ncs replay FILE --json` and returns its JSON lines; the last one must be the report.
fn replay_lines(file: &Path) -> Vec<serde_json::Value> {
    let f = file.to_str().unwrap();
    let out = ncs(&["replay", f, "--json"]);
    assert!(
        out.status.success(),
        "ncs replay {f} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(!lines.is_empty(), "no output");
    assert_eq!(lines.last().unwrap()["type"], "report", "{text}");
    lines
}

/// Replay's report and analyze's JSON agree on every response and segment.
fn same_as_analyze(file: &Path) -> serde_json::Value {
    let lines = replay_lines(file);
    let report = lines.last().unwrap().clone();
    let analyzed = analyze_json(file, &[]);
    for k in ["responses", "segments"] {
        assert!(
            report[k].as_array().is_some_and(|a| !a.is_empty()),
            "replay report has no {k}: {report}"
        );
        assert_json_close(&report[k], &analyzed[k], k);
    }
    assert_eq!(
        report["session"]["sample_rate_hz"],
        analyzed["session"]["sample_rate_hz"]
    );
    assert_eq!(
        report["session"]["channels"],
        analyzed["session"]["channels"]
    );
    // Every response was streamed as a line before the report.
    let streamed = lines.iter().filter(|l| l["type"] == "response").count();
    assert_eq!(streamed, analyzed["responses"].as_array().unwrap().len());
    report
}

#[test]
fn replay_of_a_fixture_matches_analyze() {
    let r = same_as_analyze(Path::new("fixtures/median-worked-example.nwb"));
    let seg = |from: &str| {
        r["segments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["nerve"] == "median" && s["from_site"] == from)
            .unwrap_or_else(|| panic!("no segment from {from}: {r}"))
            .clone()
    };
    // clinical.md §3 worked example.
    assert_eq!(seg("wrist")["block"], "definite");
    assert_eq!(seg("elbow")["block"], "none");
}

#[test]
fn replay_of_a_pynwb_session_matches_analyze() {
    let dir = tempfile::tempdir().unwrap();
    make_sessions(dir.path());
    let r = same_as_analyze(&dir.path().join("good_pynwb.nwb"));
    assert_eq!(r["responses"].as_array().unwrap().len(), 6);
    assert!(r["responses"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["channel"] == 1 && x["present"] == true));
    // Same response at both sites: no block.
    assert_eq!(r["segments"][0]["block"], "none", "{}", r["segments"]);
}
