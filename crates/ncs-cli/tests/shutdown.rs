//! Ctrl-C during a live recording: the pipeline drains, the session is finished (it opens
//! without SWMR, holds every frame acquired), and the summary and the report are printed.

use crate::common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn ctrl_c_drains_finishes_the_session_and_prints_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("interrupted.nwb");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ncs"))
        .args([
            "acquire",
            "--source",
            "sim:median-worked-example",
            "--speed",
            "2",
            "--record",
            file.to_str().unwrap(),
            "--json",
        ])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Wait for two responses, then interrupt as a user would.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut responses = 0;
    while responses < 2 {
        assert!(Instant::now() < deadline, "no responses");
        let line = lines.next().unwrap().unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["type"] == "response" {
            responses += 1;
        }
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<serde_json::Value> = lines
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit {exit}");
    let summary = rest
        .iter()
        .find(|v| v["type"] == "summary")
        .expect("the summary after Ctrl-C");
    assert_eq!(summary["stopped"], true, "{summary}");
    assert!(rest.iter().any(|v| v["type"] == "report"));
    let frames = summary["recorder"]["frames"].as_u64().unwrap();
    assert_eq!(frames, summary["frames"].as_u64().unwrap(), "{summary}");
    assert!(summary["recorder"]["error"].is_null(), "{summary}");
    // Finished: a plain (non-SWMR) open works and holds every frame.
    let py = Command::new(python())
        .arg("-c")
        .arg(
            "import h5py, sys\nwith h5py.File(sys.argv[1], 'r') as f:\n    \
             print(f['acquisition/EMG/data'].shape[0])\n",
        )
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let n: u64 = String::from_utf8(py.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(n, frames);
    let r = analyze_json(&file, &[]);
    assert!(r["responses"].as_array().unwrap().len() >= 2);
}

/// `ncs demo`, the README's main job, at maximum speed: the MMN study's verdicts (blocks in
/// two nerves outside entrapment sites, the ulnar elbow marked as an entrapment site), the
/// data-loss record and latency histograms at the end.
#[test]
fn the_demo_grades_the_simulated_mmn_study() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("demo.nwb");
    let out = Command::new(env!("CARGO_BIN_EXE_ncs"))
        .args(["demo", "--speed", "max", "--record", file.to_str().unwrap()])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let row = |from: &str, to: &str| {
        // The verdict table at the end (live updates print the same segments before it).
        text.lines()
            .rev()
            .find(|l| l.contains(&format!("{from} → {to}")) && !l.contains('⇒'))
            .unwrap_or_else(|| panic!("no {from} → {to} row:\n{text}"))
            .to_owned()
    };
    assert!(row("wrist", "elbow").contains("definite"), "{text}");
    assert!(row("above_elbow", "axilla").contains("definite"), "{text}");
    let elbow = row("below_elbow", "above_elbow");
    assert!(elbow.contains("entrapment site"), "{elbow}");
    assert!(text.contains("Decision support for a clinician"), "{text}");
    assert!(text.contains("data loss: none"), "{text}");
    assert!(text.contains("sweep→measurement"), "{text}");
    let r = analyze_json(&file, &[]);
    let counted: Vec<&str> = r["patient"]["counted_blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(counted.iter().any(|c| c.contains("median")), "{counted:?}");
    assert!(counted.iter().any(|c| c.contains("ulnar")), "{counted:?}");
}
