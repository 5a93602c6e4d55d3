//! `ncs acquire --source serial:…` against amplifiers on real pseudo-terminals: the virtual
//! amplifier (on a thread of the test) unplugged mid-recording and running clean, and the
//! Backyard Brains and text-line formats written by the test.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ncs_io::Session;
use ncs_virtual_amp::{Amp, AmpConfig, Content, FaultEvent, FaultPlan, RunSummary};
use serialport::{SerialPort, TTYPort};

use crate::common::*;

/// The virtual amplifier streaming `median-worked-example` (1 channel, 20 kHz, a stimulus a
/// second) at `speed` × real time until stopped.
struct Amplifier {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<RunSummary>,
}

impl Amplifier {
    fn start(speed: f64, link: Option<PathBuf>, faults: FaultPlan, log: Option<PathBuf>) -> Self {
        let scenario = ncs_sim::scenario("median-worked-example").unwrap();
        let mut cfg = AmpConfig::new(Content::Study(Box::new(scenario)));
        cfg.speed = speed;
        cfg.link = link;
        cfg.faults = faults;
        cfg.fault_log = log;
        let mut amp = Amp::new(cfg).unwrap();
        let path = amp.path().to_owned();
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let handle = std::thread::spawn(move || amp.run(&s).unwrap());
        Amplifier { path, stop, handle }
    }

    fn finish(self) -> RunSummary {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap()
    }
}

/// `ncs acquire --source SOURCE --record FILE --seconds S --json`; the JSON lines by type.
fn acquire(source: &str, file: &Path, seconds: &str) -> Vec<serde_json::Value> {
    let out = ncs(&[
        "acquire",
        "--source",
        source,
        "--record",
        file.to_str().unwrap(),
        "--seconds",
        seconds,
        "--json",
    ]);
    assert!(
        out.status.success(),
        "ncs acquire failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn of_type<'a>(lines: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    lines.iter().filter(|l| l["type"] == kind).collect()
}

/// Counters of a `link` line that say something went wrong (everything but the byte, frame
/// and sample totals). `stalls` is left out: it is a wall-clock observation (100 ms without
/// a byte), which a shared, loaded test machine can produce without any fault on the link.
fn fault_counts(link: &serde_json::Value) -> Vec<(String, u64)> {
    link.as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| {
            ![
                "type",
                "bytes_received",
                "data_frames",
                "samples_delivered",
                "stalls",
                "status",
            ]
            .contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

/// One `ncs analyze` row: stimulus time, present, flags, negative-peak amplitude.
type Row = (f64, bool, Vec<String>, Option<f64>);

/// `ncs analyze FILE` rows, and the session's duration (s).
fn analyzed(file: &Path) -> (Vec<Row>, f64) {
    let r = analyze_json(file, &[]);
    let rows = r["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["stimulus_time_s"].as_f64().unwrap(),
                row["present"].as_bool().unwrap(),
                row["flags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap().to_owned())
                    .collect(),
                row["negative_peak_amplitude_mv"].as_f64(),
            )
        })
        .collect();
    (rows, r["session"]["duration_s"].as_f64().unwrap())
}

#[test]
fn unplugging_mid_recording_leaves_a_session_with_the_gap_and_flags_its_sweeps() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("faults.jsonl");
    // Stimuli are at whole seconds (sample 20 000 k); the link drops at 3.05 s, so the sweep
    // of the stimulus at 3 s (window −20..+100 ms) runs into the gap while its mark arrived.
    let amp = Amplifier::start(
        2.0,
        Some(dir.path().join("amp")),
        FaultPlan {
            disconnects: vec![61_000],
            down_ms: 300,
            saturations: vec![30_000],
            status_frames: 3,
            ..FaultPlan::default()
        },
        Some(log.clone()),
    );
    let file = dir.path().join("unplugged.nwb");
    let source = format!("serial:{}", amp.path.display());
    let lines = acquire(&source, &file, "6");
    let logged = amp.finish().faults;
    assert_eq!(ncs_virtual_amp::read_fault_log(&log).unwrap(), logged);
    let lost: Vec<(u64, u64)> = logged.iter().filter_map(FaultEvent::lost).collect();
    assert_eq!(lost.len(), 1, "{logged:?}");
    let (gap_first, gap_count) = lost[0];
    assert_eq!(gap_first, 61_000);

    // Live: the gap as it was noticed, and the link counts.
    let gaps = of_type(&lines, "gap");
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0]["first_sample"], gap_first);
    assert_eq!(gaps[0]["count"], gap_count);
    let links = of_type(&lines, "link");
    let last = links.last().unwrap();
    assert!(last["reconnects"].as_u64().unwrap() >= 1, "{last}");
    assert_eq!(last["lost_samples"], gap_count);
    assert_eq!(last["saturated_frames"], 3);

    // The session: valid for pynwb, the gap at the emulator's sample indices, the link counts.
    let script = r#"
import sys, json, warnings
import pynwb
from pynwb import NWBHDF5IO
warnings.simplefilter("ignore")
path = sys.argv[1]
with NWBHDF5IO(path, "r", load_namespaces=True) as io:
    nwb = io.read()
    loss = nwb.processing["ncs"]["data_loss"].to_dataframe()
    text = nwb.processing["ncs"]["ncs_text"].to_dataframe()
    print(json.dumps({
        "gaps": [[int(a), int(b)] for a, b in zip(loss["first_sample"], loss["sample_count"])],
        "link": [v for k, v in zip(text["key"], text["text"]) if k == "source_link"],
        "validate": [str(e) for e in pynwb.validate(path=path)]}))
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
    assert_eq!(got["validate"], serde_json::json!([]), "{got}");
    assert_eq!(got["gaps"], serde_json::json!([[gap_first, gap_count]]));
    let link: serde_json::Value = serde_json::from_str(
        got["link"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert!(link["reconnects"].as_u64().unwrap() >= 1, "{link}");
    assert_eq!(
        link["status"],
        serde_json::json!([{"event": "saturation", "first_sample": 30_000, "count": 60,
                            "channels": 1}])
    );

    // Offline: the sweep over the gap is flagged, not measured; the others measure as the same
    // study written by `ncs simulate` does (the amplifier's 20-nV counts aside).
    let (rows, duration_s) = analyzed(&file);
    let reference = dir.path().join("reference.nwb");
    let sim = ncs(&[
        "simulate",
        "median-worked-example",
        "-o",
        reference.to_str().unwrap(),
    ]);
    assert!(
        sim.status.success(),
        "{}",
        String::from_utf8_lossy(&sim.stderr)
    );
    let (clean, _) = analyzed(&reference);
    let fs = 20_000.0;
    let (gap_a, gap_b) = (gap_first as f64 / fs, (gap_first + gap_count) as f64 / fs);
    let (mut flagged, mut measured) = (0, 0);
    for (t, present, flags, amp) in &rows {
        let (a, b) = (t - 0.020, t + 0.100);
        if a < gap_b && b > gap_a {
            assert!(!present, "sweep at {t} s over the gap must not be measured");
            assert_eq!(flags, &["data_gap"], "sweep at {t} s");
            flagged += 1;
        } else if b < duration_s {
            let c = clean
                .iter()
                .find(|c| (c.0 - t).abs() < 1e-9)
                .unwrap_or_else(|| panic!("stimulus at {t} s is in the study"));
            assert_eq!((present, flags), (&c.1, &c.2), "sweep at {t} s");
            if let (Some(x), Some(y)) = (amp, c.3) {
                assert!(
                    (x - y).abs() <= 1e-3 * y.abs(),
                    "sweep at {t} s: {x} mV vs {y} mV"
                );
            }
            measured += 1;
        }
    }
    eprintln!(
        "{} rows over {duration_s:.2} s: {flagged} over the gap {gap_a}..{gap_b} s flagged, \
         {measured} measured as the reference",
        rows.len()
    );
    assert_eq!(flagged, 1, "{rows:?}");
    assert!(measured >= 4, "{rows:?}");
    // Stimuli whose own frames were lost are gone with their marks: none other is missing.
    for c in clean.iter().filter(|c| c.0 + 0.1 < duration_s) {
        let in_gap = c.0 >= gap_a && c.0 < gap_b;
        assert_eq!(
            rows.iter().any(|r| (r.0 - c.0).abs() < 1e-9),
            !in_gap,
            "stimulus at {} s",
            c.0
        );
    }
}

#[test]
fn a_clean_serial_run_measures_responses_and_reports_no_fault() {
    let dir = tempfile::tempdir().unwrap();
    let amp = Amplifier::start(4.0, None, FaultPlan::default(), None);
    let file = dir.path().join("clean.nwb");
    let lines = acquire(&format!("serial:{}", amp.path.display()), &file, "3");
    assert!(amp.finish().faults.is_empty());

    let links = of_type(&lines, "link");
    assert!(links.len() >= 2, "link counts shown as they change");
    for l in &links {
        assert!(
            fault_counts(l).iter().all(|(_, v)| *v == 0),
            "no fault counted: {l}"
        );
        assert_eq!(l["status"], serde_json::json!([]));
    }
    assert!(links.last().unwrap()["samples_delivered"].as_u64().unwrap() > 100_000);
    assert!(of_type(&lines, "gap").is_empty());
    let responses = of_type(&lines, "response");
    let present = responses.iter().filter(|r| r["present"] == true).count();
    assert!(present >= 3, "responses measured live: {responses:?}");
    let s = Session::open(&file, None).unwrap();
    assert!(s.gaps().unwrap().is_empty());
    // Only a stimulus whose 100-ms window the end of the run cut off is left unmeasured.
    let end_s = s.info().duration_s;
    for r in &responses {
        let cut = r["stimulus_time_s"].as_f64().unwrap() + 0.1 > end_s;
        let flagged = r["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "data_gap");
        assert!(!flagged || cut, "{r} (recording ends at {end_s} s)");
    }
}

/// A pseudo-terminal the test writes into: the master, the slave kept open (so the terminal
/// survives `ncs` closing it), the slave's path.
fn pty() -> (TTYPort, TTYPort, String) {
    let (master, slave) = TTYPort::pair().unwrap();
    let path = slave.name().unwrap();
    (master, slave, path)
}

/// Writes `chunk(k)` every 10 ms on another thread until stopped; partial writes resume
/// where they stopped, so the byte stream stays whole.
fn writer(
    mut master: TTYPort,
    mut chunk: impl FnMut(u64) -> Vec<u8> + Send + 'static,
) -> (Arc<AtomicBool>, JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&stop);
    let handle = std::thread::spawn(move || {
        master.set_timeout(Duration::from_millis(20)).unwrap();
        let t0 = Instant::now();
        let mut k = 0u64;
        while !s.load(Ordering::Relaxed) {
            let bytes = chunk(k);
            let mut at = 0;
            while at < bytes.len() && !s.load(Ordering::Relaxed) {
                match master.write(&bytes[at..]) {
                    Ok(n) => at += n,
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                    Err(e) => panic!("pty write: {e}"),
                }
            }
            k += 1;
            let due = t0 + Duration::from_millis(10 * k);
            if let Some(d) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
        }
    });
    (stop, handle)
}

fn frames_of(file: &Path) -> (Session, Vec<Vec<f64>>) {
    let s = Session::open(file, None).unwrap();
    let (n, ch) = (s.info().n_samples, s.info().channels);
    let flat = s.read_frames_vec(0, n as usize).unwrap();
    let frames = flat.chunks(ch).map(<[f64]>::to_vec).collect();
    (s, frames)
}

#[test]
fn spikerbox_frames_from_the_cli_are_scaled_as_stated() {
    use firmware_bridge::byb::{encode_frame, encode_message};
    let (master, _slave, path) = pty();
    // 10 kHz: 100 frames per 10 ms. Channel 0 counts up through −500..499, channel 1 mirrors
    // it; an event before every frame where channel 0 is −500.
    let (stop, handle) = writer(master, |k| {
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        for i in k * 100..(k + 1) * 100 {
            let c = (i % 1000) as i32 - 500;
            if c == -500 {
                let n = encode_message(b"EVNT", b"1", &mut buf).unwrap();
                out.extend_from_slice(&buf[..n]);
            }
            let n = encode_frame(&[c, -c], 10, &mut buf).unwrap();
            out.extend_from_slice(&buf[..n]);
        }
        out
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("byb.nwb");
    let source = format!("serial:{path},format=byb,channels=2,volts_per_count=1e-6");
    let lines = acquire(&source, &file, "2");
    stop.store(true, Ordering::Relaxed);
    handle.join().unwrap();

    let (s, frames) = frames_of(&file);
    assert_eq!(s.info().sample_rate_hz, 10_000.0, "the default rate");
    assert!(frames.len() >= 5_000, "{} frames", frames.len());
    assert!(s.gaps().unwrap().is_empty());
    // volts = (code − 512) × 1e-6, stored as f32.
    let count = |v: f64| {
        let c = (v / 1e-6).round();
        assert_eq!(v, f64::from((c * 1e-6) as f32), "{v} V is a whole count");
        c as i32
    };
    let c0: Vec<i32> = frames.iter().map(|f| count(f[0])).collect();
    for (k, f) in frames.iter().enumerate() {
        assert_eq!(count(f[1]), -c0[k], "frame {k}");
        if k > 0 {
            let want = if c0[k - 1] == 499 {
                -500
            } else {
                c0[k - 1] + 1
            };
            assert_eq!(c0[k], want, "frame {k} follows frame {}", k - 1);
        }
    }
    let stimuli = s.stimuli().unwrap().unwrap().rows;
    assert!(stimuli.len() >= 4, "{} events", stimuli.len());
    for st in &stimuli {
        let at = (st.time_s * 10_000.0).round() as usize;
        assert_eq!(c0[at], -500, "event at frame {at} marks the frame after it");
    }
    let link = of_type(&lines, "link").last().copied().unwrap().clone();
    assert_eq!(link["rejected"], 0, "{link}");
    assert_eq!(link["events"], stimuli.len() as u64);
}

#[test]
fn text_lines_from_the_cli_are_scaled_as_stated() {
    let (master, _slave, path) = pty();
    // 2 kHz: 20 lines per 10 ms, three integers each.
    let (stop, handle) = writer(master, |k| {
        let mut out = Vec::new();
        for i in k * 20..(k + 1) * 20 {
            let c = i % 1000;
            writeln!(out, "{c} {}\t512", 1023 - c).unwrap();
        }
        out
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("text.nwb");
    let source =
        format!("serial:{path},format=text,channels=3,volts_per_count=2e-6,offset=512,rate=2000");
    let lines = acquire(&source, &file, "2");
    stop.store(true, Ordering::Relaxed);
    handle.join().unwrap();

    let (s, frames) = frames_of(&file);
    assert_eq!(s.info().sample_rate_hz, 2_000.0);
    assert_eq!(s.info().channels, 3);
    assert!(frames.len() >= 1_000, "{} frames", frames.len());
    // volts = (count − 512) × 2e-6, stored as f32.
    let count = |v: f64| {
        let c = (v / 2e-6).round();
        assert_eq!(v, f64::from((c * 2e-6) as f32), "{v} V is a whole count");
        c as i64 + 512
    };
    // The port may open in the middle of a line, and a cut line can still be a valid one (the
    // format has no framing beyond the line end), so the comparison starts at the second.
    let c: Vec<[i64; 3]> = frames
        .iter()
        .map(|f| [count(f[0]), count(f[1]), count(f[2])])
        .collect();
    for k in 1..c.len() {
        assert_eq!(c[k][1], 1023 - c[k][0], "frame {k}");
        assert_eq!(c[k][2], 512, "frame {k}: 512 counts are 0 V");
        if k > 1 {
            assert_eq!(c[k][0], (c[k - 1][0] + 1) % 1000, "frame {k}");
        }
    }
    let link = of_type(&lines, "link").last().copied().unwrap().clone();
    assert_eq!(link["rejected"], 0, "{link}");
    assert!(s.gaps().unwrap().is_empty());
}
