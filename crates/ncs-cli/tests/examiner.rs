//! The examiner's workflow: a scripted examiner drives `ncs acquire --protocol` over its
//! control socket through a protocol on the simulated patient of the worked example; the
//! session's stimuli carry the right sites and the distance measured during the study, the
//! grades are what the simulator's truth implies, the rejected sweep is not used anywhere, and
//! `ncs analyze` and `ncs replay` of the session reproduce the live results exactly.

use crate::common::*;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn protocol_file() -> PathBuf {
    root().join("crates/ncs-cli/tests/data/worked-example-protocol.toml")
}

/// A running `ncs acquire` and its JSON lines.
pub struct Live {
    pub child: Child,
    pub lines: mpsc::Receiver<serde_json::Value>,
    pub seen: Vec<serde_json::Value>,
}

impl Live {
    pub fn spawn(args: &[&str]) -> Live {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ncs"))
            .args(args)
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines() {
                let Ok(line) = line else { break };
                let v: serde_json::Value =
                    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Live {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (up to 60 s) for a line that `want` accepts; returns it.
    pub fn wait(
        &mut self,
        what: &str,
        want: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if want(&v) {
                        return v;
                    }
                }
                Err(_) => panic!("no {what} within 60 s; seen: {:#?}", self.seen),
            }
        }
    }

    /// Every remaining line, once the process has ended.
    pub fn finish(mut self) -> Vec<serde_json::Value> {
        let status = self.child.wait().unwrap();
        assert!(status.success(), "ncs acquire failed: {status}");
        while let Ok(v) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.seen.push(v);
        }
        self.seen
    }
}

/// The segment `from` → `to` of a report (not a long segment over intermediate sites).
pub fn segment(report: &serde_json::Value, from: &str, to: &str) -> serde_json::Value {
    report["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["from_site"] == from
                && s["to_site"] == to
                && s["spans"].as_array().is_none_or(|a| a.is_empty())
        })
        .unwrap_or_else(|| panic!("no segment {from} → {to}: {report}"))
        .clone()
}

pub fn exam_event(v: &serde_json::Value, event: &str) -> bool {
    v["type"] == "exam" && v["event"] == event
}

/// One command on the control socket; returns its answer.
pub fn send(sock: &mut BufReader<UnixStream>, cmd: &str) -> serde_json::Value {
    writeln!(sock.get_mut(), "{cmd}").unwrap();
    let mut line = String::new();
    sock.read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

pub fn connect(path: &Path) -> BufReader<UnixStream> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(s) = UnixStream::connect(path) {
            return BufReader::new(s);
        }
        assert!(
            Instant::now() < deadline,
            "no control socket at {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The session's stimuli (with the `rejected` column) and examiner actions, read with pynwb.
pub fn session_tables(file: &Path) -> serde_json::Value {
    let script = r#"
import sys, json, warnings, math
warnings.simplefilter("ignore")
import pynwb
from pynwb import NWBHDF5IO
from nwbinspector import inspect_nwbfile
path = sys.argv[1]
def clean(v):
    v = v.item() if hasattr(v, "item") else v
    return None if isinstance(v, float) and math.isnan(v) else v
with NWBHDF5IO(path, "r") as io:
    f = io.read()
    st = f.intervals["stimuli"].to_dataframe()
    acts = f.processing["ncs"]["examiner_actions"].to_dataframe()
    texts = f.processing["ncs"]["ncs_text"].to_dataframe()
    out = {
        "stimuli": [{k: clean(r[k]) for k in ["start_time", "site", "distance_mm", "intensity_ma", "rejected"]}
                    for _, r in st.iterrows()],
        "actions": [{k: clean(r[k]) for k in ["time_s", "action", "step", "site", "value", "text", "stimulus_time_s"]}
                    for _, r in acts.iterrows()],
        "protocol": [t for k, t in zip(texts["key"], texts["text"]) if k == "study_protocol"],
    }
out["validate"] = [str(e) for e in pynwb.validate(path=path)]
out["inspector"] = [f"{m.importance.name} {m.check_function_name}: {m.message}"
                    for m in inspect_nwbfile(nwbfile_path=path)
                    if m.importance.name in ("CRITICAL", "ERROR")]
print(json.dumps(out))
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

/// The examiner steps through the protocol by socket commands; see the module docs.
#[test]
fn scripted_examiner_on_the_control_socket() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exam.nwb");
    let sock_path = dir.path().join("ncs.sock");
    let mut live = Live::spawn(&[
        "acquire",
        "--source",
        "sim:median-worked-example",
        "--speed",
        "20",
        "--protocol",
        protocol_file().to_str().unwrap(),
        "--record",
        file.to_str().unwrap(),
        "--control",
        sock_path.to_str().unwrap(),
        "--json",
    ]);
    let mut sock = connect(&sock_path);
    let complete = |step: u64| {
        move |v: &serde_json::Value| exam_event(v, "site_complete") && v["step"] == step
    };

    // Wrist: the ramp by the plan until the site is complete.
    assert_eq!(send(&mut sock, "run")["ok"], true);
    live.wait("the wrist complete", complete(0));
    // Elbow: the measured distance first, then the ramp.
    let a = send(&mut sock, "next");
    assert_eq!(a["ok"], true, "{a}");
    assert_eq!(a["events"][0]["step"]["site"], "elbow", "{a}");
    // A distance that would put the elbow before the wrist is refused, with the rule.
    let a = send(&mut sock, r#"{"cmd":"distance","mm":50}"#);
    assert_eq!(a["ok"], false, "{a}");
    assert!(
        a["events"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("increase strictly"),
        "{a}"
    );
    assert_eq!(
        send(&mut sock, r#"{"cmd":"distance","mm":290}"#)["ok"],
        true
    );
    assert_eq!(send(&mut sock, "run")["ok"], true);
    live.wait("the elbow complete", complete(1));
    // The last elbow sweep is rejected: the site needs one more, which the plan gives.
    assert_eq!(send(&mut sock, "reject")["ok"], true);
    let rejected = live.wait("the rejection", |v| exam_event(v, "rejected"));
    assert_eq!(rejected["outcome"], "rejected", "{rejected}");
    let rejected_t = rejected["stimulus_time_s"].as_f64().unwrap();
    assert_eq!(send(&mut sock, "run")["ok"], true);
    live.wait("the elbow complete again", complete(1));
    // Upper arm.
    assert_eq!(send(&mut sock, "next")["ok"], true);
    assert_eq!(send(&mut sock, "run")["ok"], true);
    live.wait("the upper arm complete", complete(2));
    live.wait("the study complete", |v| exam_event(v, "study_complete"));
    assert_eq!(send(&mut sock, "note cold hand, warmed first")["ok"], true);
    // Bad lines are answered with the reason and change nothing.
    let a = send(&mut sock, "jump 3");
    assert_eq!(a["ok"], false);
    assert!(
        a["error"].as_str().unwrap().contains("unknown command"),
        "{a}"
    );
    assert_eq!(send(&mut sock, "quit")["ok"], true);
    let lines = live.finish();

    let report = lines
        .iter()
        .rev()
        .find(|v| v["type"] == "report")
        .expect("a report");
    let responses = report["responses"].as_array().unwrap();
    // Every response carries its step's site; the elbow's the distance measured.
    let mut sites = Vec::new();
    for r in responses {
        let site = r["site"].as_str().unwrap().to_owned();
        if sites.last() != Some(&site) {
            sites.push(site.clone());
        }
        let want = match site.as_str() {
            "wrist" => 70.0,
            "elbow" => 290.0,
            "upper_arm" => 400.0,
            s => panic!("unexpected site {s}"),
        };
        assert_eq!(r["distance_mm"], want, "{r}");
        assert!(r["intensity_ma"].as_f64().is_some(), "{r}");
    }
    assert_eq!(sites, ["wrist", "elbow", "upper_arm"]);
    // The rejected sweep is not among the measurements.
    assert!(
        responses
            .iter()
            .all(|r| r["stimulus_time_s"].as_f64() != Some(rejected_t)),
        "rejected sweep at {rejected_t} s still reported"
    );
    // The simulator's truth (clinical.md §3): a forearm block, none above the elbow.
    let forearm = segment(report, "wrist", "elbow");
    assert_eq!(forearm["block"], "definite", "{forearm}");
    assert_eq!(forearm["distance_mm"], 220.0, "{forearm}");
    assert_eq!(segment(report, "elbow", "upper_arm")["block"], "none");

    // The session: stimuli with sites and the measured distance, the rejection, the actions.
    let t = session_tables(&file);
    assert_eq!(t["validate"], serde_json::json!([]), "{t}");
    assert_eq!(t["inspector"], serde_json::json!([]), "{t}");
    let stimuli = t["stimuli"].as_array().unwrap();
    assert_eq!(
        stimuli.len(),
        responses.len() + 1,
        "every stimulus, the rejected one too"
    );
    for s in stimuli {
        let rejected = s["rejected"] == true;
        assert_eq!(
            rejected,
            s["start_time"].as_f64() == Some(rejected_t),
            "{s}"
        );
        if s["site"] == "elbow" {
            assert_eq!(s["distance_mm"], 290.0, "rewritten when measured: {s}");
        }
    }
    let actions: Vec<&str> = t["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .filter(|a| *a != "site_complete")
        .collect();
    assert_eq!(
        actions,
        ["run", "next", "distance", "run", "reject", "run", "next", "run", "note", "quit"]
    );
    let times: Vec<f64> = t["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["time_s"].as_f64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    let reject = t["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "reject")
        .unwrap();
    assert_eq!(reject["stimulus_time_s"], rejected_t);
    assert_eq!(reject["text"], "rejected");
    let note = t["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "note")
        .unwrap();
    assert_eq!(note["text"], "cold hand, warmed first");
    // The protocol as followed, with the distance measured.
    let last = t["protocol"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap();
    assert!(last.contains("distance_mm = 290.0"), "{last}");

    // Offline analysis and replay reproduce the live results exactly.
    let offline = analyze_json(&file, &[]);
    assert_eq!(offline["responses"], report["responses"]);
    assert_eq!(offline["segments"], report["segments"]);
    let out = ncs(&["replay", file.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let replayed: serde_json::Value = text
        .lines()
        .rev()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["type"] == "report")
        .unwrap();
    assert_eq!(replayed["responses"], report["responses"]);
    assert_eq!(replayed["segments"], report["segments"]);
}
