//! The examiner at a real terminal: `ncs acquire --protocol` runs in a tmux pane, shows its
//! full-screen view and is driven by keystrokes (`tmux send-keys`) through the worked
//! example's protocol against the virtual amplifier on a real pseudo-terminal, which fires
//! its stimulator when the exam asks and plays the patient where the test puts the electrode.
//! The screen (`tmux capture-pane`) shows the current step, the verdict rows and the
//! supramaximal advice; the session holds every stimulus the amplifier fired with the site
//! the electrode was at, the distance typed, the rejected sweep and every action in the order
//! given; the terminal is given back as it was. tmux comes from `scripts/setup.sh --python`.

use crate::common::*;
use crate::examiner::{protocol_file, segment, session_tables};
use crate::examiner_amp::{assert_stimuli_are_the_fired, Amplifier};
use ncs_virtual_amp::FiredStimulus;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of its own (its own socket, no configuration file) running one script in a
/// 160 × 48 pane; killed when dropped.
struct Pane {
    socket: PathBuf,
}

fn tmux_present() {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "tmux is missing: this test drives ncs through a real terminal. Run scripts/setup.sh --python (it installs tmux), or apt-get install tmux"
    );
}

impl Pane {
    fn start(dir: &Path, script: &str) -> Pane {
        tmux_present();
        let file = dir.join("run.sh");
        std::fs::write(&file, script).unwrap();
        let pane = Pane {
            socket: dir.join("tmux.sock"),
        };
        let out = pane
            .tmux()
            .args([
                "new-session",
                "-d",
                "-x",
                "160",
                "-y",
                "48",
                "-s",
                "ncs",
                "sh",
            ])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pane
    }

    fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-f").arg("/dev/null").arg("-S").arg(&self.socket);
        c
    }

    /// Key names as tmux reads them (`g`, `Enter`, `Escape`, `C-c`).
    fn keys(&self, keys: &[&str]) {
        let st = self
            .tmux()
            .args(["send-keys", "-t", "ncs"])
            .args(keys)
            .status()
            .unwrap();
        assert!(st.success(), "send-keys {keys:?}");
    }

    /// Text typed as it is.
    fn type_text(&self, text: &str) {
        let st = self
            .tmux()
            .args(["send-keys", "-t", "ncs", "-l", text])
            .status()
            .unwrap();
        assert!(st.success(), "send-keys -l {text:?}");
    }

    /// The screen with `history` lines above it.
    fn capture(&self, history: usize) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", "ncs", "-S"])
            .arg(format!("-{history}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.capture(0)
    }

    /// Waits (up to 60 s) until the screen satisfies `want`; returns it.
    fn wait(&self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.screen();
            if want(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} on the screen within 60 s:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_for(&self, text: &str) -> String {
        self.wait(text, |s| s.contains(text))
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
    }
}

/// The script the pane runs: the terminal's settings before and after `ncs acquire ARGS`
/// (whose stderr goes to a file), then its exit status in `rc`; then it waits to be killed so
/// that the pane stays.
fn script(dir: &Path, args: &[&str]) -> String {
    let q = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let d = |f: &str| q(dir.join(f).to_str().unwrap());
    let mut cmd = q(env!("CARGO_BIN_EXE_ncs"));
    for a in args {
        cmd.push(' ');
        cmd.push_str(&q(a));
    }
    format!(
        "cd {root}\nstty -g > {before}\n{cmd} 2> {stderr}\necho $? > {tmp}\nstty -g > {after}\nmv {tmp} {rc}\nsleep 600\n",
        root = q(root().to_str().unwrap()),
        before = d("stty-before"),
        stderr = d("stderr"),
        tmp = d("rc.tmp"),
        after = d("stty-after"),
        rc = d("rc"),
    )
}

/// Waits (up to 60 s) for the run to end; its exit status and stderr.
fn ended(dir: &Path, pane: &Pane) -> (i32, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let rc = dir.join("rc");
    while !rc.exists() {
        assert!(
            Instant::now() < deadline,
            "ncs acquire did not end within 60 s:\n{}",
            pane.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let code = std::fs::read_to_string(&rc)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let stderr = std::fs::read_to_string(dir.join("stderr")).unwrap_or_default();
    let before = std::fs::read_to_string(dir.join("stty-before")).unwrap();
    let after = std::fs::read_to_string(dir.join("stty-after")).unwrap();
    assert!(!before.trim().is_empty());
    assert_eq!(before, after, "the terminal's settings were not given back");
    (code, stderr)
}

/// `ncs acquire` of the simulated worked example, 10× faster than real time.
fn acquire_args<'a>(file: &'a str, protocol: &'a str) -> Vec<&'a str> {
    vec![
        "acquire",
        "--source",
        "sim:median-worked-example",
        "--speed",
        "10",
        "--protocol",
        protocol,
        "--record",
        file,
    ]
}

/// `ncs acquire` of the amplifier at `source` (`serial:PATH`), the subject's age entered.
fn amp_acquire_args<'a>(source: &'a str, file: &'a str, protocol: &'a str) -> Vec<&'a str> {
    vec![
        "acquire",
        "--source",
        source,
        "--protocol",
        protocol,
        "--record",
        file,
        "--subject-age",
        "P40Y",
    ]
}

/// The row of the screen holding every one of `parts`.
fn row_with<'a>(screen: &'a str, parts: &[&str]) -> Option<&'a str> {
    screen.lines().find(|l| parts.iter().all(|p| l.contains(p)))
}

/// The stimulus time of the last `sweep at T s: rejected` line on the screen.
fn rejected_time(screen: &str) -> Option<f64> {
    screen.lines().rev().find_map(|l| {
        let (_, rest) = l.split_once("sweep at ")?;
        let (t, _) = rest.split_once(" s: rejected")?;
        t.trim().parse().ok()
    })
}

/// The phase shown in the header: the text after the distance on the step's row.
fn header_phase(screen: &str) -> String {
    row_with(screen, &["step ", "/3", " mm "])
        .and_then(|l| l.split_once(" mm "))
        .map(|(_, r)| r.trim().trim_end_matches('│').trim().to_owned())
        .unwrap_or_default()
}

/// The examiner goes through the study by keys; see the module docs.
#[test]
fn examiner_keystrokes_in_a_real_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exam.nwb");
    let log = dir.path().join("amp.jsonl");
    let protocol = protocol_file();
    let amp = Amplifier::worked_example_patient(&log);
    let source = format!("serial:{}", amp.path.display());
    let args = amp_acquire_args(&source, file.to_str().unwrap(), protocol.to_str().unwrap());
    let pane = Pane::start(dir.path(), &script(dir.path(), &args));

    // The view comes up at the first step, paused, with the keys' help.
    let s = pane.wait("the first step", |s| {
        s.contains("step 1/3") && s.contains("‖ paused")
    });
    assert!(s.contains("right median motor wrist"), "{s}");
    assert!(s.contains("70 mm"), "{s}");
    assert!(s.contains(" g/space  run"), "{s}");

    // Wrist: g runs the ramp until the site is complete.
    pane.keys(&["g"]);
    pane.wait_for("step 1 complete");
    let s = pane.wait("the wrist's supramaximal advice", |s| {
        s.contains("give +20 %")
    });
    assert!(
        row_with(&s, &["plateau at", "give +20 % ="]).is_some(),
        "{s}"
    );
    // Elbow: the electrode moves, then the step.
    amp.place("elbow");
    pane.keys(&["n"]);
    let s = pane.wait("the elbow step", |s| s.contains("step 2/3"));
    assert!(s.contains("right median motor elbow"), "{s}");
    assert!(s.contains("280 mm"), "the protocol's distance first: {s}");
    // A distance typed and cancelled sends nothing.
    pane.keys(&["d", "1", "2"]);
    pane.wait_for("distance (mm) of right median motor elbow: 12");
    pane.keys(&["Escape"]);
    pane.wait("the key help back", |s| s.contains(" q  quit"));
    // One that would put the elbow before the wrist is refused, with the rule.
    pane.keys(&["d", "5", "0", "Enter"]);
    pane.wait_for("distance: study protocol");
    // The measured distance.
    pane.keys(&["d", "2", "9", "0", "Enter"]);
    let s = pane.wait_for("step 2 distance 290 mm");
    assert!(s.contains("290 mm"), "{s}");
    pane.keys(&["g"]);
    let s = pane.wait_for("step 2 complete");
    assert!(header_phase(&s).starts_with("complete"), "{s}");
    // Quitting before the study is complete asks first; n goes on.
    pane.keys(&["q"]);
    pane.wait_for("the study is not complete: quit anyway? y/n");
    pane.keys(&["n"]);
    pane.wait("the key help back", |s| s.contains(" q  quit"));
    // The last elbow sweep is rejected: the site needs one more, which the plan gives.
    pane.keys(&["x"]);
    let s = pane.wait("the rejection", |s| rejected_time(s).is_some());
    let rejected_t = rejected_time(&s).unwrap();
    pane.wait("the elbow no longer complete", |s| {
        let p = header_phase(s);
        !p.is_empty() && !p.starts_with("complete")
    });
    pane.keys(&["g"]);
    pane.wait("the elbow complete again", |s| {
        header_phase(s).starts_with("complete")
    });
    // Upper arm.
    amp.place("upper arm");
    pane.keys(&["n"]);
    pane.wait_for("step 3/3");
    pane.keys(&["g"]);
    pane.wait_for("step 3 complete");
    pane.wait_for("every step is complete");
    pane.keys(&["a"]);
    pane.wait_for("note: ");
    pane.type_text("cold hand, warmed first");
    pane.keys(&["Enter"]);
    let s = pane.wait_for("note: cold hand, warmed first");

    // The screen: the current step, the verdict rows, the advice, the overlaid responses.
    assert!(s.contains("step 3/3"), "{s}");
    assert!(s.contains("right median motor upper arm"), "{s}");
    assert!(
        row_with(&s, &["right median wrist → elbow", "220", "definite"]).is_some(),
        "no definite forearm block row:\n{s}"
    );
    assert!(
        row_with(&s, &["right median elbow → upper_arm", "none"]).is_some(),
        "no elbow → upper arm row:\n{s}"
    );
    assert!(
        row_with(&s, &["plateau at", "give +20 % ="]).is_some(),
        "{s}"
    );
    assert!(s.contains("responses at upper arm"), "{s}");
    assert!(s.contains('▲'), "negative-peak markers drawn: {s}");

    // Complete: q quits without asking.
    pane.keys(&["q"]);
    let (code, stderr) = ended(dir.path(), &pane);
    assert_eq!(code, 0, "ncs acquire failed: {stderr}");
    let summary = amp.finish();
    // Back on the main screen: the end-of-study summary, and no view left over.
    let end = pane.capture(200);
    assert!(end.contains("study steps:"), "{end}");
    assert!(
        row_with(&end, &["right median motor elbow", "290 mm"]).is_some(),
        "{end}"
    );
    assert!(
        !end.contains(" q  quit"),
        "the view is still on the screen:\n{end}"
    );

    // The session, as the control-socket examiner's.
    let report = analyze_json(&file, &[]);
    let responses = report["responses"].as_array().unwrap();
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
    // The screen shows the rejected sweep's time to the millisecond.
    let close = |t: Option<f64>| t.is_some_and(|t| (t - rejected_t).abs() < 6e-4);
    assert!(
        responses
            .iter()
            .all(|r| !close(r["stimulus_time_s"].as_f64())),
        "rejected sweep at {rejected_t} s still measured"
    );
    let forearm = segment(&report, "wrist", "elbow");
    assert_eq!(forearm["block"], "definite", "{forearm}");
    assert_eq!(forearm["distance_mm"], 220.0, "{forearm}");
    assert_eq!(segment(&report, "elbow", "upper_arm")["block"], "none");

    let t = session_tables(&file);
    assert_eq!(t["validate"], serde_json::json!([]), "{t}");
    assert_eq!(t["inspector"], serde_json::json!([]), "{t}");
    let stimuli = t["stimuli"].as_array().unwrap();
    assert_eq!(
        stimuli.len(),
        responses.len() + 1,
        "every stimulus, the rejected one too"
    );
    let rejected: Vec<f64> = stimuli
        .iter()
        .filter(|s| s["rejected"] == true)
        .map(|s| s["start_time"].as_f64().unwrap())
        .collect();
    assert_eq!(rejected.len(), 1, "{stimuli:?}");
    assert!(close(Some(rejected[0])), "{rejected:?} vs {rejected_t}");
    // Each stimulus the amplifier fired (as it logged it), at its instant, with the site the
    // electrode was at, the intensity fired and the distance (the elbow's as typed).
    let fired: Vec<FiredStimulus> = ncs_virtual_amp::read_stimulus_log(&log).unwrap();
    assert_eq!(fired, summary.stimuli);
    assert_stimuli_are_the_fired(stimuli, &fired);
    let actions = t["actions"].as_array().unwrap();
    let names: Vec<&str> = actions
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .filter(|a| *a != "site_complete")
        .collect();
    // The cancelled and the refused distances and the quit answered n left nothing.
    assert_eq!(
        names,
        ["run", "next", "distance", "run", "reject", "run", "next", "run", "note", "quit"]
    );
    let times: Vec<f64> = actions
        .iter()
        .map(|a| a["time_s"].as_f64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    let find = |name: &str| actions.iter().find(|a| a["action"] == name).unwrap();
    assert_eq!(find("distance")["value"], 290.0);
    assert_eq!(find("distance")["site"], "elbow");
    assert_eq!(find("reject")["stimulus_time_s"], rejected[0]);
    assert_eq!(find("reject")["text"], "rejected");
    assert_eq!(find("reject")["site"], "elbow");
    assert_eq!(find("note")["text"], "cold hand, warmed first");
    let last = t["protocol"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap();
    assert!(last.contains("distance_mm = 290.0"), "{last}");
}

/// Ctrl-C in the view (a key in raw mode, not a signal) stops the run as the signal would:
/// the terminal is given back, the summary printed, the session finished and readable.
#[test]
fn ctrl_c_in_the_view_stops_the_run_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stopped.nwb");
    let protocol = protocol_file();
    let args = acquire_args(file.to_str().unwrap(), protocol.to_str().unwrap());
    let pane = Pane::start(dir.path(), &script(dir.path(), &args));
    pane.wait_for("step 1/3");
    pane.keys(&["g"]);
    // Two responses overlaid, then Ctrl-C halfway through the ramp.
    pane.wait("two responses", |s| s.matches("━ ").count() >= 2);
    pane.keys(&["C-c"]);
    let (code, stderr) = ended(dir.path(), &pane);
    assert_eq!(code, 0, "ncs acquire failed: {stderr}");
    let end = pane.capture(200);
    assert!(end.contains("study steps:"), "{end}");
    let t = session_tables(&file);
    assert_eq!(t["validate"], serde_json::json!([]), "{t}");
    assert!(t["stimuli"].as_array().unwrap().len() >= 2, "{t}");
    let names: Vec<&str> = t["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .filter(|a| *a != "site_complete")
        .collect();
    assert_eq!(names, ["run"], "Ctrl-C is no examiner action");
}
