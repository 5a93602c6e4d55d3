//! `ncs acquire --record`: a recording killed with SIGKILL keeps what was flushed (sessions
//! are flushed at least once a second, with SWMR), and the study protocol given with
//! `--protocol` is kept in the session (without it, the simulated scenario that was played).

use crate::common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The session's `ncs_text` entries, read with pynwb.
fn session_texts(file: &std::path::Path) -> serde_json::Value {
    let script = r#"
import sys, json, warnings
warnings.simplefilter("ignore")
from pynwb import NWBHDF5IO
with NWBHDF5IO(sys.argv[1], "r") as io:
    t = io.read().processing["ncs"]["ncs_text"].to_dataframe()
    print(json.dumps(dict(zip(t["key"], t["text"]))))
"#;
    let py = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    serde_json::from_slice(&py.stdout).unwrap()
}

#[test]
fn sigkilled_real_time_recording_keeps_all_but_the_last_second() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("killed.nwb");
    let spawned = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ncs"))
        .args([
            "acquire",
            "--source",
            "sim:median-worked-example",
            "--speed",
            "1",
            "--record",
            file.to_str().unwrap(),
            "--json",
        ])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Each response line, with the time it arrived (s since spawn).
    let lines: Arc<Mutex<Vec<(f64, serde_json::Value)>>> = Arc::default();
    let out = BufReader::new(child.stdout.take().unwrap());
    let sink = Arc::clone(&lines);
    let reader = std::thread::spawn(move || {
        for l in out.lines().map_while(Result::ok) {
            let at = spawned.elapsed().as_secs_f64();
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&l) {
                sink.lock().unwrap().push((at, v));
            }
        }
    });
    // About 3 s of real-time acquisition, with at least two responses seen (a loaded machine
    // gets longer, up to 20 s).
    let responses = || {
        lines
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, v)| v["type"] == "response")
            .count()
    };
    while spawned.elapsed() < Duration::from_millis(3200) || responses() < 2 {
        assert!(
            spawned.elapsed() < Duration::from_secs(20),
            "no responses from ncs acquire"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "ncs acquire ended early"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed_at = spawned.elapsed().as_secs_f64();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap();

    // The stream started no later than (arrival − stimulus time) of any response line: a
    // response cannot be printed before its stimulus was acquired. So at the kill at least
    // `streamed` seconds had been acquired.
    let start = lines
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, v)| v["type"] == "response")
        .map(|(at, v)| at - v["stimulus_time_s"].as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    let streamed = killed_at - start;

    let s = ncs_io::Session::open(&file, None).expect("the killed session opens");
    let fs = s.info().sample_rate_hz;
    let n = s.info().n_samples;
    let held = n as f64 / fs;
    assert!(
        held >= streamed - 1.5,
        "file holds {held:.3} s of {streamed:.3} s acquired before SIGKILL: more than 1.5 s lost, so no flush every second"
    );
    assert!(
        held <= killed_at + 0.05,
        "file holds {held:.3} s, more than the {killed_at:.3} s the process ran at real-time pace"
    );
    let v = s.read_frames_vec(0, n as usize).unwrap();
    assert!(v.iter().all(|x| x.is_finite()));

    // h5py (SWMR, as the killed writer left the file open-for-write flag) and pynwb read it.
    let script = r#"
import sys, json, warnings, h5py
warnings.simplefilter("ignore")
from pynwb import NWBHDF5IO
f = h5py.File(sys.argv[1], "r", swmr=True)
shape = list(f["acquisition/EMG/data"].shape)
with NWBHDF5IO(file=f, mode="r", load_namespaces=True) as io:
    nwb = io.read()
    print(json.dumps({"h5py": shape, "pynwb": list(nwb.acquisition["EMG"].data.shape),
                      "rate": nwb.acquisition["EMG"].rate,
                      "stimuli": list(nwb.intervals["stimuli"].start_time[:])}))
"#;
    let py = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&py.stdout).unwrap();
    assert_eq!(got["h5py"][0].as_u64(), Some(n), "{got}");
    assert_eq!(got["pynwb"][0].as_u64(), Some(n), "{got}");
    assert_eq!(got["rate"].as_f64(), Some(fs));
    assert!(
        !got["stimuli"].as_array().unwrap().is_empty(),
        "no stimulus kept: {got}"
    );

    // `ncs analyze` of the killed file: a result, or one clear error, never a panic.
    let out = ncs(&["analyze", file.to_str().unwrap(), "--format", "json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    if out.status.success() {
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!((r["session"]["duration_s"].as_f64().unwrap() - held).abs() < 1e-6);
        let rows = r["responses"].as_array().unwrap();
        assert!(!rows.is_empty(), "{r}");
        assert!(rows
            .iter()
            .all(|x| x["stimulus_time_s"].as_f64().unwrap() < held));
    } else {
        assert!(out.stdout.is_empty());
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{err}");
        assert!(lines[0].starts_with("error: "), "{err}");
    }
}

#[test]
fn protocol_given_to_acquire_is_kept_in_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let protocol = dir.path().join("median.toml");
    // The worked example's sites, spelt as a lab might.
    let text = r#"# Right median motor study (clinical.md §3 worked example).
name = "median worked example"

[[nerve]]
name = "Median"
side = "R"
modality = "motor"
recording = "APB"
channel = 0
sites = [
  { name = "Wrist", distance_mm = 70 },
  { name = "elbow", distance_mm = 290 },
  { name = "upper arm", distance_mm = 400 },
]
"#;
    std::fs::write(&protocol, text).unwrap();
    let file = dir.path().join("with-protocol.nwb");
    let out = ncs(&[
        "acquire",
        "--source",
        "sim:median-worked-example",
        "--speed",
        "max",
        "--protocol",
        protocol.to_str().unwrap(),
        "--record",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let texts = session_texts(&file);
    let stored = texts["study_protocol"]
        .as_str()
        .unwrap_or_else(|| panic!("no study_protocol in ncs_text: {texts}"));
    // The stored text is the same study (it may be the file itself or its canonical form).
    let normals = ncs_block::NormalValues::default_adult();
    let want = ncs_block::Study::from_toml_str(text, &normals).unwrap();
    let got = ncs_block::Study::from_toml_str(stored, &normals)
        .unwrap_or_else(|e| panic!("stored protocol does not parse: {e}\n{stored}"));
    assert_eq!(got, want);
    // Without --protocol there is no protocol to keep.
    let bare = dir.path().join("bare.nwb");
    let out = ncs(&[
        "acquire",
        "--source",
        "sim:median-worked-example",
        "--speed",
        "max",
        "--record",
        bare.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success());
    let texts = session_texts(&bare);
    assert!(texts.get("study_protocol").is_none(), "{texts}");
    // The simulated study's sites, distances and intensities came from its scenario: that is
    // kept instead, and it is the scenario that was played.
    let stored = texts["scenario"]
        .as_str()
        .unwrap_or_else(|| panic!("no scenario in ncs_text: {texts}"));
    let played = ncs_sim::scenario("median-worked-example").unwrap();
    let got = ncs_sim::Scenario::from_toml_str(stored)
        .unwrap_or_else(|e| panic!("stored scenario does not parse: {e}\n{stored}"));
    assert_eq!(got, played);
}
