//! The simulated patient: each FireStimulus gives the response of the nerve and site where the
//! electrode is placed, at the commanded intensity, marked at the instant fired and logged;
//! an amplifier without a stimulator says so and refuses to fire.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command as Process, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use firmware_bridge::{encode_command, Command, Decoder, Frame, NackCode, Response, SampleFormat};
use ncs_virtual_amp::{
    quantise, read_fault_log, read_stimulus_log, Amp, AmpConfig, Content, Placement,
    DEFAULT_INTENSITY_UA, PATIENT_SECONDS,
};

/// A host on the raw protocol: sends commands, keeps every data frame's counts and marks.
struct Host {
    port: Box<dyn serialport::SerialPort>,
    dec: Decoder,
    tag: u16,
    /// Counts of channel 0 by sample index, from the first frame received.
    counts: Vec<i32>,
    first: Option<u64>,
    /// Absolute sample index of every mark received.
    marks: Vec<u64>,
}

impl Host {
    fn open(path: &str) -> Host {
        let port = serialport::new(path, 3_000_000)
            .timeout(Duration::from_millis(20))
            .open()
            .expect("host opens the pty");
        Host {
            port,
            dec: Decoder::new(),
            tag: 0,
            counts: Vec::new(),
            first: None,
            marks: Vec::new(),
        }
    }

    /// Reads once; returns the answer to `tag` if it came.
    fn pump(&mut self, tag: Option<u16>) -> Option<Response> {
        let mut buf = [0u8; 4096];
        let n = self.port.read(&mut buf).unwrap_or(0);
        let mut answer = None;
        let (counts, first, marks) = (&mut self.counts, &mut self.first, &mut self.marks);
        self.dec.feed(&buf[..n], |item| match item {
            Ok(Frame::Response { tag: t, response }) if Some(t) == tag => answer = Some(response),
            Ok(Frame::Data(f)) => {
                let h = *f.header();
                let start = *first.get_or_insert(h.first_sample);
                assert_eq!(
                    start + counts.len() as u64 / u64::from(h.channels),
                    h.first_sample,
                    "frames arrive contiguous"
                );
                let mut c = vec![0i32; f.len()];
                f.samples_into(&mut c).expect("samples");
                counts.extend(c.iter().step_by(usize::from(h.channels)));
                marks.extend(
                    h.marks
                        .as_slice()
                        .iter()
                        .map(|&m| h.first_sample + u64::from(m)),
                );
            }
            _ => {}
        });
        answer
    }

    fn ask(&mut self, c: Command) -> Response {
        self.tag += 1;
        let tag = self.tag;
        let mut out = [0u8; 32];
        let n = encode_command(tag, &c, &mut out).expect("encodes");
        self.port.write_all(&out[..n]).expect("writes");
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Some(r) = self.pump(Some(tag)) {
                return r;
            }
        }
        panic!("no answer to {c:?}");
    }

    /// Reads until sample `at` has arrived.
    fn read_until(&mut self, at: u64) {
        let until = Instant::now() + Duration::from_secs(20);
        while self.first.unwrap_or(0) + (self.counts.len() as u64) < at {
            assert!(Instant::now() < until, "no sample {at} within 20 s");
            self.pump(None);
        }
    }
}

fn fire(ma: f64) -> Command {
    Command::FireStimulus {
        pulse_width_us: 200,
        intensity_ua: (ma * 1000.0) as u32,
    }
}

fn acked(r: Response) -> bool {
    matches!(r, Response::Ack { command: 0x44 })
}

/// Peak |count| 3..40 ms after `mark` (the response, past the artefact's spike).
fn peak_after(counts: &[i32], mark: u64) -> i32 {
    let m = mark as usize;
    counts[m + 60..m + 800]
        .iter()
        .map(|c| c.abs())
        .max()
        .expect("window")
}

#[test]
fn the_patient_responds_from_where_the_electrode_is_at_the_intensity_fired() {
    const TOTAL: u64 = 80_000;
    let scenario = ncs_sim::scenario("median-worked-example").expect("scenario");
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("amp.jsonl");
    let mut cfg = AmpConfig::new(Content::Patient(Box::new(scenario.clone())));
    cfg.speed = 0.0;
    cfg.max_frames = Some(TOTAL);
    cfg.exit_at_end = true;
    cfg.fault_log = Some(log.clone());
    let mut amp = Amp::new(cfg.clone()).expect("amp");
    let hand = amp.hand();
    let path = amp.path().display().to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&stop);
    let thread = std::thread::spawn(move || amp.run(&s).expect("runs"));

    let mut host = Host::open(&path);
    assert!(acked_any(host.ask(Command::Start)));
    // The hand: a place the scenario lacks is refused and changes nothing.
    let e = hand
        .place(&Placement::new("ulnar", "right", "wrist"))
        .expect_err("no ulnar nerve");
    assert!(e.to_string().contains("must name a site"), "{e}");
    assert_eq!(hand.placement(), None);
    let wrist = hand
        .place(&Placement::new("Median", "Rt", "wrist"))
        .expect("placed");
    assert_eq!(wrist, Placement::new("median", "right", "wrist"));
    host.read_until(10_000);
    assert!(acked(host.ask(fire(5.0))));
    host.read_until(25_000);
    assert!(acked(host.ask(fire(30.0))));
    host.read_until(40_000);
    hand.lift();
    assert!(acked(host.ask(fire(30.0))));
    host.read_until(55_000);
    hand.place(&Placement::new("median", "right", "upper_arm"))
        .expect("placed");
    assert!(acked(host.ask(fire(40.0))));
    // 0 asks for the device default.
    host.read_until(62_000);
    assert!(acked(host.ask(fire(0.0))));
    host.read_until(TOTAL);
    let summary = thread.join().expect("emulator thread");
    assert_eq!(host.first, Some(0));
    assert_eq!(host.counts.len() as u64, TOTAL);

    // Every stimulus carried out is logged, in memory and in the file alike.
    let fired = summary.stimuli.clone();
    assert_eq!(read_stimulus_log(&log).expect("log"), fired);
    assert!(read_fault_log(&log).expect("log").is_empty(), "no faults");
    let places: Vec<Option<&str>> = fired
        .iter()
        .map(|f| f.placement.as_ref().map(|p| p.site.as_str()))
        .collect();
    assert_eq!(
        places,
        [
            Some("wrist"),
            Some("wrist"),
            None,
            Some("upper arm"),
            Some("upper arm")
        ]
    );
    let ua: Vec<u32> = fired.iter().map(|f| f.intensity_ua).collect();
    assert_eq!(ua, [5_000, 30_000, 30_000, 40_000, DEFAULT_INTENSITY_UA]);
    assert!(fired.iter().all(|f| f.pulse_width_us == 200));
    // Each is marked in the data at the instant logged, once; each came after it was asked.
    let at: Vec<u64> = fired.iter().map(|f| f.sample_index).collect();
    assert_eq!(host.marks, at);
    for (a, asked) in at.iter().zip([10_000, 25_000, 40_000, 55_000, 62_000]) {
        assert!(*a >= asked, "fired at {a}, asked after {asked}");
    }

    // The stream is the simulator's patient stimulated at those instants, bit for bit.
    let frames = (PATIENT_SECONDS * scenario.sample_rate_hz).round() as u64;
    let mut study = ncs_sim::StudySource::on_demand(&scenario, frames).expect("study");
    let mut volts = vec![0f32; TOTAL as usize];
    let mut pos = 0usize;
    for f in &fired {
        let upto = f.sample_index as usize;
        assert_eq!(study.fill(&mut volts[pos..upto]), upto - pos);
        pos = upto;
        let target = f.placement.as_ref().map(|p| {
            let si = scenario.nerves[0]
                .sites
                .iter()
                .position(|s| s.name == p.site)
                .expect("site");
            (0, si)
        });
        study.fire_at(
            f.sample_index,
            target,
            0,
            f64::from(f.intensity_ua) / 1000.0,
        );
    }
    assert_eq!(study.fill(&mut volts[pos..]), TOTAL as usize - pos);
    let want: Vec<i32> = volts
        .iter()
        .map(|&v| {
            quantise(
                f64::from(v),
                f64::from(cfg.volts_per_count),
                SampleFormat::I24,
            )
        })
        .collect();
    let differ = host
        .counts
        .iter()
        .zip(&want)
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(differ, 0, "every sample as the simulator gives it");

    // Recruitment: the fraction of the nerve's axons each on-nerve stimulus excites.
    let model = &study.models()[0];
    let recruited = |site: usize, ua: u32| model.recruited_fraction(site, f64::from(ua) / 1000.0);
    let (wrist_5, wrist_30) = (recruited(0, ua[0]), recruited(0, ua[1]));
    assert!(wrist_5 < 0.5 && wrist_30 == 1.0, "{wrist_5} {wrist_30}");
    let peak: Vec<i32> = at.iter().map(|&m| peak_after(&host.counts, m)).collect();
    // 5.7 mV at 20 nV per count is 285 000 counts; noise is 10 µV rms (500 counts).
    assert!(peak[1] > 200_000, "wrist at 30 mA: {peak:?}");
    assert!(
        peak[0] < peak[1] / 4,
        "wrist at 5 mA recruits less: {peak:?}"
    );
    assert!(
        peak[2] < 5_000,
        "off the nerve only noise after the artefact: {peak:?}"
    );
    // Above the forearm block the response is about a fifth of the wrist's.
    assert!(
        peak[3] > 20_000 && peak[3] < peak[1] / 3,
        "upper arm at 40 mA: {peak:?}"
    );
}

fn acked_any(r: Response) -> bool {
    matches!(r, Response::Ack { .. })
}

#[test]
fn an_amplifier_without_a_stimulator_says_so_and_refuses_to_fire() {
    let scenario = ncs_sim::scenario("median-worked-example").expect("scenario");
    let mut cfg = AmpConfig::new(Content::Study(Box::new(scenario)));
    cfg.speed = 0.0;
    cfg.stimulator = false;
    let mut amp = Amp::new(cfg).expect("amp");
    let path = amp.path().display().to_string();
    let e = amp
        .hand()
        .place(&Placement::new("median", "right", "wrist"))
        .expect_err("a planned study has no patient to place on");
    assert!(e.to_string().contains("simulated patient"), "{e}");
    let stop = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&stop);
    let thread = std::thread::spawn(move || amp.run(&s).expect("runs"));
    let mut host = Host::open(&path);
    match host.ask(Command::GetDeviceInfo) {
        Response::DeviceInfo(d) => assert!(!d.stimulator),
        other => panic!("{other:?}"),
    }
    assert!(acked_any(host.ask(Command::Start)));
    assert_eq!(
        host.ask(fire(10.0)),
        Response::Nack {
            command: 0x44,
            code: NackCode::Unsupported,
            detail: 0
        }
    );
    host.read_until(30_000);
    stop.store(true, Ordering::Relaxed);
    let summary = thread.join().expect("emulator thread");
    assert!(summary.stimuli.is_empty());
    // The content's own stimuli (the external stimulator's) are marked all the same.
    assert_eq!(host.marks.first(), Some(&20_000), "{:?}", host.marks);
}

#[test]
fn the_stimulator_refuses_what_it_cannot_give() {
    let scenario = ncs_sim::scenario("median-worked-example").expect("scenario");
    let mut cfg = AmpConfig::new(Content::Patient(Box::new(scenario)));
    cfg.speed = 0.0;
    cfg.max_intensity_ua = 50_000;
    let mut amp = Amp::new(cfg).expect("amp");
    let path = amp.path().display().to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&stop);
    let thread = std::thread::spawn(move || amp.run(&s).expect("runs"));
    let mut host = Host::open(&path);
    match host.ask(Command::GetDeviceInfo) {
        Response::DeviceInfo(d) => assert!(d.stimulator),
        other => panic!("{other:?}"),
    }
    // Not streaming yet.
    assert!(matches!(
        host.ask(fire(10.0)),
        Response::Nack {
            code: NackCode::WrongState,
            ..
        }
    ));
    assert!(acked_any(host.ask(Command::Start)));
    assert_eq!(
        host.ask(fire(60.0)),
        Response::Nack {
            command: 0x44,
            code: NackCode::BadArgument,
            detail: 60_000
        }
    );
    assert!(acked(host.ask(fire(50.0))));
    host.read_until(20_000);
    stop.store(true, Ordering::Relaxed);
    let summary = thread.join().expect("emulator thread");
    assert_eq!(summary.stimuli.len(), 1);
    assert_eq!(summary.stimuli[0].intensity_ua, 50_000);
    assert_eq!(
        summary.stimuli[0].placement, None,
        "the electrode was never placed"
    );
    assert_eq!(host.marks, [summary.stimuli[0].sample_index]);
}

#[test]
fn binary_takes_the_electrode_placement_on_stdin() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("amp.jsonl");
    let mut child = Process::new(env!("CARGO_BIN_EXE_ncs-virtual-amp"))
        .args([
            "--scenario",
            "median-worked-example",
            "--patient",
            "--speed",
            "0",
        ])
        .arg("--fault-log")
        .arg(&log)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("emulator starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("first line");
    let mut host = Host::open(line.trim());
    let mut say = |text: &str| -> serde_json::Value {
        writeln!(stdin, "{text}").expect("writes");
        let mut answer = String::new();
        out.read_line(&mut answer).expect("answer");
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"))
    };
    assert_eq!(
        say("place median right upper arm"),
        serde_json::json!({"placed": {"nerve": "median", "side": "right", "site": "upper arm"}})
    );
    assert!(acked_any(host.ask(Command::Start)));
    host.read_until(12_000);
    assert!(acked(host.ask(fire(25.0))));
    let bad = say("place median left wrist");
    assert!(
        bad["error"]
            .as_str()
            .is_some_and(|e| e.contains("must name a site")),
        "{bad}"
    );
    assert!(say("jump").get("error").is_some());
    assert_eq!(
        say(r#"{"nerve":"median","side":"right","site":"Elbow"}"#),
        serde_json::json!({"placed": {"nerve": "median", "side": "right", "site": "elbow"}})
    );
    host.read_until(24_000);
    assert!(acked(host.ask(fire(12.5))));
    assert_eq!(say("lift"), serde_json::json!({"placed": null}));
    host.read_until(36_000);
    assert!(acked(host.ask(fire(12.5))));
    host.read_until(48_000);
    child.kill().expect("stops");
    let _ = child.wait();
    let fired = read_stimulus_log(&log).expect("log");
    let line: Vec<(u32, Option<Placement>)> = fired
        .iter()
        .map(|f| (f.intensity_ua, f.placement.clone()))
        .collect();
    assert_eq!(
        line,
        [
            (25_000, Some(Placement::new("median", "right", "upper arm"))),
            (12_500, Some(Placement::new("median", "right", "elbow"))),
            (12_500, None),
        ]
    );
    assert_eq!(
        host.marks,
        fired.iter().map(|f| f.sample_index).collect::<Vec<_>>()
    );
    // The log's lines as a test reading the file sees them.
    let text = std::fs::read_to_string(&log).expect("log");
    let first: serde_json::Value =
        serde_json::from_str(text.lines().next().expect("a line")).expect("json");
    assert_eq!(
        first,
        serde_json::json!({
            "event": "stimulus",
            "sample_index": fired[0].sample_index,
            "intensity_ua": 25_000,
            "pulse_width_us": 200,
            "placement": {"nerve": "median", "side": "right", "site": "upper arm"}
        })
    );
}
