//! The examiner's workflow against the virtual amplifier over a real pseudo-terminal:
//! - the amplifier fires its own stimulator and plays the worked example's patient; the test
//!   moves the electrode and drives `ncs acquire --protocol` on its control socket. The
//!   amplifier's log of what it fired is the ramp the exam planned, at the protocol's rate,
//!   and every stimulus is in the session with its site, intensity and measured distance;
//! - the amplifier has no stimulator and streams a planned study (its stimuli marked in the
//!   data as a trigger input would); the examiner enters each intensity and moves between the
//!   sites as the responses come in, and the stimuli carry the study's own sites.
//!
//! Either way the rejected sweep is kept out of the measurements, the grades are what the
//! simulator's truth implies, and `ncs analyze` of the session reproduces the live results.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use ncs_block::names::canonical_site;
use ncs_virtual_amp::{Amp, AmpConfig, Content, FiredStimulus, Hand, Placement, RunSummary};

use crate::common::*;
use crate::examiner::{connect, exam_event, protocol_file, segment, send, session_tables, Live};

/// Sample rate of the worked example (Hz).
const FS: f64 = 20_000.0;

/// The virtual amplifier on a thread of the test, until stopped.
pub struct Amplifier {
    pub path: PathBuf,
    hand: Hand,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<RunSummary>,
}

impl Amplifier {
    pub fn start(cfg: AmpConfig) -> Self {
        let mut amp = Amp::new(cfg).unwrap();
        let path = amp.path().to_owned();
        let hand = amp.hand();
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let handle = std::thread::spawn(move || amp.run(&s).unwrap());
        Amplifier {
            path,
            hand,
            stop,
            handle,
        }
    }

    /// The worked example's patient, its stream's clock twice real time (1 Hz of it is 2
    /// stimuli a second), logging what it fires to `log`; the electrode at the wrist.
    pub fn worked_example_patient(log: &Path) -> Self {
        let scenario = ncs_sim::scenario("median-worked-example").unwrap();
        let mut cfg = AmpConfig::new(Content::Patient(Box::new(scenario)));
        cfg.speed = 2.0;
        cfg.fault_log = Some(log.to_owned());
        let amp = Amplifier::start(cfg);
        amp.place("wrist");
        amp
    }

    /// The stimulating electrode moves to `site` of the right median nerve.
    pub fn place(&self, site: &str) {
        self.hand
            .place(&Placement::new("median", "right", site))
            .unwrap();
    }

    pub fn finish(self) -> RunSummary {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap()
    }
}

/// `ncs acquire --source serial:PATH --protocol (worked example) --record FILE --control SOCK
/// --json`.
fn acquire(path: &Path, file: &Path, sock: &Path) -> Live {
    Live::spawn(&[
        "acquire",
        "--source",
        &format!("serial:{}", path.display()),
        "--protocol",
        protocol_file().to_str().unwrap(),
        "--record",
        file.to_str().unwrap(),
        "--control",
        sock.to_str().unwrap(),
        "--subject-age",
        "P40Y",
        "--json",
    ])
}

/// The last line of `kind`.
fn last<'a>(lines: &'a [serde_json::Value], kind: &str) -> &'a serde_json::Value {
    lines
        .iter()
        .rev()
        .find(|v| v["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} line"))
}

/// The distance to the recording electrode of each site, the elbow's as measured.
fn distance_mm(site: &str) -> f64 {
    match site {
        "wrist" => 70.0,
        "elbow" => 290.0,
        "upper_arm" => 400.0,
        s => panic!("unexpected site {s}"),
    }
}

/// The worked example's truth (clinical.md §3): a forearm block, none above the elbow.
fn assert_graded_as_the_truth(report: &serde_json::Value) {
    let forearm = segment(report, "wrist", "elbow");
    assert_eq!(forearm["block"], "definite", "{forearm}");
    assert_eq!(forearm["distance_mm"], 220.0, "{forearm}");
    let arm = segment(report, "elbow", "upper_arm");
    assert_eq!(arm["block"], "none", "{arm}");
}

/// `ncs analyze` of the session gives the live responses and segments exactly.
fn assert_analyze_reproduces(file: &Path, report: &serde_json::Value) {
    let offline = analyze_json(file, &[]);
    assert_eq!(offline["responses"], report["responses"]);
    assert_eq!(offline["segments"], report["segments"]);
}

/// The session's stimuli are those the amplifier fired, in order: each at its instant, with
/// the site the electrode was at, the intensity fired and the site's distance (the elbow's as
/// measured).
pub fn assert_stimuli_are_the_fired(stimuli: &[serde_json::Value], fired: &[FiredStimulus]) {
    assert_eq!(stimuli.len(), fired.len(), "{stimuli:?}");
    for (s, f) in stimuli.iter().zip(fired) {
        assert_eq!(sample(&s["start_time"]), f.sample_index, "{s} {f:?}");
        let site = canonical_site(&f.placement.as_ref().unwrap().site);
        assert_eq!(s["site"], site.as_str(), "{s} {f:?}");
        assert_eq!(s["distance_mm"], distance_mm(&site), "{s}");
        let ma = s["intensity_ma"].as_f64().unwrap();
        assert!(
            (ma - f64::from(f.intensity_ua) / 1000.0).abs() < 1e-9,
            "{s} {f:?}"
        );
    }
}

/// A session time as the device's sample index.
fn sample(t: &serde_json::Value) -> u64 {
    let s = t.as_f64().unwrap() * FS;
    assert!((s - s.round()).abs() < 1e-6, "{t} s is not on a sample");
    s.round() as u64
}

/// The amplifier fires by the exam's plan; see the module docs.
#[test]
fn the_exam_fires_the_amplifiers_stimulator_by_the_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exam.nwb");
    let sock_path = dir.path().join("ncs.sock");
    let log = dir.path().join("amp.jsonl");
    let amp = Amplifier::worked_example_patient(&log);
    let mut live = acquire(&amp.path, &file, &sock_path);
    let mut sock = connect(&sock_path);
    let complete = |step: u64| {
        move |v: &serde_json::Value| exam_event(v, "site_complete") && v["step"] == step
    };
    let status = send(&mut sock, "status");
    assert_eq!(status["events"][0]["can_fire"], true, "{status}");
    // The examiner starts once the trace is running.
    live.wait("the link counts", |v| v["type"] == "link");

    // Wrist: the ramp by the plan until the site is complete.
    assert_eq!(send(&mut sock, "run")["ok"], true);
    live.wait("the wrist complete", complete(0));
    // Elbow: the electrode moves first (nothing fires at a complete site), then the step.
    amp.place("elbow");
    let a = send(&mut sock, "next");
    assert_eq!(a["events"][0]["step"]["site"], "elbow", "{a}");
    assert_eq!(
        send(&mut sock, r#"{"cmd":"distance","mm":290}"#)["ok"],
        true
    );
    assert_eq!(send(&mut sock, "run")["ok"], true);
    live.wait("the elbow complete", complete(1));
    // The last elbow sweep is rejected: the site needs one more, which the plan fires.
    assert_eq!(send(&mut sock, "reject")["ok"], true);
    let rejected = live.wait("the rejection", |v| exam_event(v, "rejected"));
    assert_eq!(rejected["outcome"], "rejected", "{rejected}");
    let rejected_t = rejected["stimulus_time_s"].as_f64().unwrap();
    assert_eq!(send(&mut sock, "run")["ok"], true);
    live.wait("the elbow complete again", complete(1));
    amp.place("upper arm");
    assert_eq!(send(&mut sock, "next")["ok"], true);
    assert_eq!(send(&mut sock, "run")["ok"], true);
    live.wait("the upper arm complete", complete(2));
    live.wait("the study complete", |v| exam_event(v, "study_complete"));
    assert_eq!(send(&mut sock, "quit")["ok"], true);
    let lines = live.finish();
    let summary = amp.finish();

    // What the amplifier fired, as it logged it, is what the exam asked for, in order.
    let fired: Vec<FiredStimulus> = ncs_virtual_amp::read_stimulus_log(&log).unwrap();
    assert_eq!(fired, summary.stimuli);
    let asked: Vec<(u64, f64)> = lines
        .iter()
        .filter(|v| exam_event(v, "fired"))
        .map(|v| {
            (
                v["step"].as_u64().unwrap(),
                v["intensity_ma"].as_f64().unwrap(),
            )
        })
        .collect();
    let site_of = |f: &FiredStimulus| canonical_site(&f.placement.as_ref().unwrap().site);
    let steps = ["wrist", "elbow", "upper_arm"];
    assert_eq!(
        fired
            .iter()
            .map(|f| (site_of(f), f.intensity_ua))
            .collect::<Vec<_>>(),
        asked
            .iter()
            .map(|&(s, ma)| (steps[s as usize].to_owned(), (ma * 1000.0).round() as u32))
            .collect::<Vec<_>>(),
        "the amplifier fired the exam's requests, each where the electrode was"
    );
    // The ramp of the plan: from 5 mA up in 5-mA steps until the response stops growing,
    // then the supramaximal intensity the exam advised (+20 % over the plateau) until the
    // site has its 2 supramaximal sweeps (a ramp sweep above it counts; the rejected one
    // does not).
    let status = &last(&lines, "exam_summary")["status"]["steps"];
    for (i, site) in steps.iter().enumerate() {
        let ma: Vec<f64> = asked
            .iter()
            .filter(|(s, _)| *s == i as u64)
            .map(|&(_, ma)| ma)
            .collect();
        let advice = lines
            .iter()
            .rev()
            .filter(|v| exam_event(v, "advice") && v["step"] == i)
            .find_map(|v| v["text"].as_str()?.strip_prefix("plateau at "))
            .unwrap_or_else(|| panic!("{site}: no plateau advised"));
        let (plateau, supra) = advice
            .split_once(" mA; give +20 % = ")
            .and_then(|(p, s)| {
                Some((
                    p.parse::<f64>().ok()?,
                    s.strip_suffix(" mA")?.parse::<f64>().ok()?,
                ))
            })
            .unwrap_or_else(|| panic!("{site}: {advice}"));
        assert!((supra - 1.2 * plateau).abs() < 1e-9, "{site}: {advice}");
        let ramp = ma.iter().take_while(|&&m| m != supra).count();
        assert!(ramp >= 2, "{site}: {ma:?}");
        for (k, m) in ma[..ramp].iter().enumerate() {
            assert!((m - 5.0 * (k + 1) as f64).abs() < 1e-9, "{site}: {ma:?}");
        }
        assert!(ma[..ramp].contains(&plateau), "{site}: {ma:?} {advice}");
        assert!(
            ma[ramp..].iter().all(|&m| m == supra),
            "{site}: {ma:?} {advice}"
        );
        // What the exam kept (the rejected sweep left out) is the same ramp.
        let kept: Vec<f64> = status[i]["intensities_ma"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let rejected = if i == 1 { 1 } else { 0 };
        assert_eq!(kept.len() + rejected, ma.len(), "{site}: {kept:?} {ma:?}");
        assert_eq!(
            kept.iter().filter(|&&m| m >= supra).count(),
            2,
            "{site}: {kept:?}"
        );
    }
    // At the protocol's rate (1 Hz), counted from the instant each stimulus was given: the
    // exam asks for the next one once the stream it has taken in (which the device's clock
    // is ahead of) reaches that instant plus the period, and the amplifier fires when the
    // command arrives, later still. So no two stimuli are closer than the period (1 ms
    // allowed for the rounding of instants to samples).
    const ROUNDING: u64 = (1e-3 * FS) as u64;
    let period = FS as u64;
    let gaps: Vec<u64> = fired
        .windows(2)
        .map(|w| w[1].sample_index - w[0].sample_index)
        .collect();
    assert!(gaps.iter().all(|&g| g + ROUNDING >= period), "{gaps:?}");
    let stim = &last(&lines, "exam_summary")["stimulator"];
    assert_eq!(stim["fired"], fired.len(), "{stim}");
    assert_eq!(
        (
            &stim["fire_failures"],
            &stim["unmatched"],
            &stim["external"]
        ),
        (&0.into(), &0.into(), &0.into()),
        "{stim}"
    );
    assert_eq!(last(&lines, "link")["nacks"], 0);

    // The report: every response at its step's site and distance, the rejected one absent.
    let report = last(&lines, "report");
    let responses = report["responses"].as_array().unwrap();
    assert_eq!(responses.len(), fired.len() - 1);
    for r in responses {
        assert_eq!(
            r["distance_mm"],
            distance_mm(r["site"].as_str().unwrap()),
            "{r}"
        );
        assert_ne!(r["stimulus_time_s"].as_f64(), Some(rejected_t), "{r}");
    }
    assert_graded_as_the_truth(report);

    // The session: each stimulus the amplifier fired, at its instant, with the site where the
    // electrode was, the intensity fired and the distance measured; the rejected one marked.
    let t = session_tables(&file);
    assert_eq!(t["validate"], serde_json::json!([]), "{t}");
    assert_eq!(t["inspector"], serde_json::json!([]), "{t}");
    let stimuli = t["stimuli"].as_array().unwrap();
    assert_stimuli_are_the_fired(stimuli, &fired);
    for s in stimuli {
        assert_eq!(
            s["rejected"] == true,
            s["start_time"].as_f64() == Some(rejected_t),
            "{s}"
        );
    }
    assert_eq!(stimuli.iter().filter(|s| s["rejected"] == true).count(), 1);
    assert_analyze_reproduces(&file, report);
}

/// The amplifier has no stimulator; the examiner follows the study's own stimuli; see the
/// module docs.
#[test]
fn an_external_stimulators_stimuli_carry_the_examiners_steps_and_intensities() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exam.nwb");
    let sock_path = dir.path().join("ncs.sock");
    // The worked example as a planned study: its own ramp at each site, a stimulus every 2 s
    // (time for the examiner to read a response and set the next intensity), 4 s before the
    // first (to connect) and 5 s after the last (to quit before the stream ends).
    let mut scenario = ncs_sim::scenario("median-worked-example").unwrap();
    scenario.stim_rate_hz = 0.5;
    scenario.lead_in_s = 4.0;
    scenario.tail_s = 5.0;
    let truth: Vec<(u64, String, f64)> = ncs_sim::StudySource::new(&scenario)
        .unwrap()
        .stimuli()
        .iter()
        .map(|s| (s.sample_index, canonical_site(&s.site), s.intensity_ma))
        .collect();
    let mut cfg = AmpConfig::new(Content::Study(Box::new(scenario)));
    cfg.stimulator = false;
    let amp = Amplifier::start(cfg);
    let mut live = acquire(&amp.path, &file, &sock_path);
    let mut sock = connect(&sock_path);

    // ncs knows it cannot fire this amplifier and says how the stimuli will be marked.
    let status = send(&mut sock, "status");
    assert_eq!(status["events"][0]["can_fire"], false, "{status}");
    live.wait("the external-stimulator advice", |v| {
        exam_event(v, "advice")
            && v["text"]
                .as_str()
                .is_some_and(|t| t.contains("external stimulator"))
    });
    let a = send(&mut sock, "run");
    assert_eq!(a["ok"], false, "{a}");
    assert!(
        a["events"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("external")),
        "{a}"
    );

    // The examiner: before each stimulus, the site (`next`, the elbow's distance measured)
    // and the intensity set on the stimulator, as each response comes in.
    let mut site = truth[0].1.clone();
    assert_eq!(
        send(&mut sock, &format!("intensity {}", truth[0].2))["ok"],
        true
    );
    for (k, (at, _, ma)) in truth.iter().enumerate() {
        live.wait("the next response", |v| {
            v["type"] == "response" && sample(&v["stimulus_time_s"]) == *at
        });
        let Some((_, next_site, next_ma)) = truth.get(k + 1) else {
            break;
        };
        if *next_site != site {
            let a = send(&mut sock, "next");
            assert_eq!(a["events"][0]["step"]["site"], next_site.as_str(), "{a}");
            if next_site == "elbow" {
                assert_eq!(send(&mut sock, "distance 290")["ok"], true);
            }
            site = next_site.clone();
        }
        if next_ma != ma || k == 0 {
            let a = send(&mut sock, &format!("intensity {next_ma}"));
            assert_eq!(a["ok"], true, "{a}");
        }
    }
    assert_eq!(send(&mut sock, "quit")["ok"], true);
    let lines = live.finish();
    let summary = amp.finish();
    assert!(summary.stimuli.is_empty(), "the amplifier fired nothing");

    let stim = &last(&lines, "exam_summary")["stimulator"];
    assert_eq!(stim["external"], truth.len(), "{stim}");
    assert_eq!(stim["fired"], 0, "{stim}");
    // Nothing was sent to fire: the amplifier would have refused it, and that is counted.
    assert_eq!(last(&lines, "link")["nacks"], 0);

    // Every stimulus of the study is in the session at its instant, with the site the study
    // gave it there, the intensity the examiner entered and the distance measured.
    let t = session_tables(&file);
    assert_eq!(t["validate"], serde_json::json!([]), "{t}");
    assert_eq!(t["inspector"], serde_json::json!([]), "{t}");
    let stimuli = t["stimuli"].as_array().unwrap();
    assert_eq!(stimuli.len(), truth.len(), "{stimuli:?}");
    for (s, (at, site, ma)) in stimuli.iter().zip(&truth) {
        assert_eq!(sample(&s["start_time"]), *at, "{s}");
        assert_eq!(s["site"], site.as_str(), "{s}");
        assert_eq!(s["distance_mm"], distance_mm(site), "{s}");
        // The stimulator's intensity is kept to the µA.
        let got = s["intensity_ma"].as_f64().unwrap();
        assert!((got - ma).abs() < 5e-4, "{s}: entered {ma}");
        assert_eq!(s["rejected"], false, "{s}");
    }
    let report = last(&lines, "report");
    let responses = report["responses"].as_array().unwrap();
    assert_eq!(responses.len(), truth.len());
    for (r, (_, site, _)) in responses.iter().zip(&truth) {
        assert_eq!(r["site"], site.as_str(), "{r}");
        assert_eq!(r["distance_mm"], distance_mm(site), "{r}");
    }
    assert_graded_as_the_truth(report);
    assert_analyze_reproduces(&file, report);
}
