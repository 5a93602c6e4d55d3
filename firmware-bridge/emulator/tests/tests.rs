//! The emulator binary: prints its path, answers commands, streams, logs faults.

use std::io::{BufRead, BufReader};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use firmware_bridge::{encode_command, Command, Decoder, Frame, Response};
use ncs_virtual_amp::{read_fault_log, FaultEvent};

mod patient;

fn ask(
    port: &mut dyn serialport::SerialPort,
    dec: &mut Decoder,
    tag: u16,
    c: Command,
) -> Vec<(Option<Response>, u64)> {
    let mut out = [0u8; 32];
    let n = encode_command(tag, &c, &mut out).expect("encodes");
    port.write_all(&out[..n]).expect("writes");
    let mut got: Vec<(Option<Response>, u64)> = Vec::new();
    let until = Instant::now() + Duration::from_secs(2);
    let mut buf = [0u8; 4096];
    while Instant::now() < until && got.iter().all(|(r, _)| r.is_none()) {
        let n = port.read(&mut buf).unwrap_or(0);
        dec.feed(&buf[..n], |item| match item {
            Ok(Frame::Response { tag: t, response }) if t == tag => got.push((Some(response), 0)),
            Ok(Frame::Data(f)) => got.push((None, f.header().first_sample)),
            _ => {}
        });
    }
    got
}

#[test]
fn binary_prints_its_path_answers_commands_and_logs_faults() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("faults.jsonl");
    let mut child = Process::new(env!("CARGO_BIN_EXE_ncs-virtual-amp"))
        .args([
            "--scenario",
            "median-worked-example",
            "--speed",
            "0",
            "--drop-frames",
            "3",
        ])
        .arg("--fault-log")
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("emulator starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let path = line.trim().to_owned();
    assert!(path.starts_with("/dev/pts/"), "{path}");
    let mut port = serialport::new(&path, 3_000_000)
        .timeout(Duration::from_millis(50))
        .open()
        .expect("host opens the pty");
    let mut dec = Decoder::new();
    let info = ask(port.as_mut(), &mut dec, 1, Command::GetDeviceInfo);
    match info.last() {
        Some((Some(Response::DeviceInfo(d)), _)) => {
            assert_eq!(d.sample_rate_hz, 20_000);
            assert_eq!(d.samples_per_frame, 20);
            assert_eq!(d.serial_bytes(), b"VAMP-0001");
        }
        other => panic!("expected device info, got {other:?}"),
    }
    let pong = ask(port.as_mut(), &mut dec, 2, Command::Ping { token: 77 });
    assert!(matches!(
        pong.last(),
        Some((Some(Response::Pong { token: 77 }), _))
    ));
    let started = ask(port.as_mut(), &mut dec, 3, Command::Start);
    // Data may follow the Ack in the same read.
    assert!(started
        .iter()
        .any(|(r, _)| matches!(r, Some(Response::Ack { command: 0x40 }))));
    // Refused while streaming.
    let refused = ask(
        port.as_mut(),
        &mut dec,
        4,
        Command::SetChannels { count: 1 },
    );
    assert!(refused
        .iter()
        .any(|(r, _)| matches!(r, Some(Response::Nack { .. }))));
    // Frames arrive; frame 3 (samples 60..80) was dropped and logged.
    let mut firsts: Vec<u64> = started
        .iter()
        .chain(&refused)
        .filter(|(r, _)| r.is_none())
        .map(|(_, f)| *f)
        .collect();
    let mut buf = [0u8; 4096];
    while firsts.len() < 10 {
        let n = port.read(&mut buf).unwrap_or(0);
        dec.feed(&buf[..n], |item| {
            if let Ok(Frame::Data(f)) = item {
                firsts.push(f.header().first_sample);
            }
        });
    }
    assert!(!firsts.contains(&60), "{firsts:?}");
    child.kill().expect("stops");
    let _ = child.wait();
    let events = read_fault_log(&log).expect("log");
    assert_eq!(
        events,
        vec![FaultEvent::Drop {
            sequence: 3,
            first_sample: 60,
            frames: 20
        }]
    );
}

#[test]
fn bad_settings_are_clear_errors() {
    let out = Process::new(env!("CARGO_BIN_EXE_ncs-virtual-amp"))
        .args(["--corrupt-rate", "2"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("corrupt rate must be in [0, 1), got 2"),
        "{err}"
    );
    let out = Process::new(env!("CARGO_BIN_EXE_ncs-virtual-amp"))
        .args(["--disconnect-at", "100"])
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--link"));
}

#[test]
fn fault_log_lines_round_trip() {
    let e = FaultEvent::Disconnect {
        first_sample: 5,
        frames: 40,
        down_ms: 200,
        back_unix_us: None,
    };
    let line = serde_json::to_string(&e).expect("json");
    assert_eq!(
        line,
        r#"{"fault":"disconnect","first_sample":5,"frames":40,"down_ms":200}"#
    );
    assert_eq!(e.lost(), Some((5, 40)));
}

#[test]
fn binary_sets_status_bits_on_the_frames_it_logs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("faults.jsonl");
    // One channel: of the mask 0b11 only channel 0's bit can be set.
    let mut child = Process::new(env!("CARGO_BIN_EXE_ncs-virtual-amp"))
        .args([
            "--scenario",
            "median-worked-example",
            "--speed",
            "0",
            "--saturate-at",
            "2030",
            "--lead-off-at",
            "2100",
            "--status-frames",
            "2",
            "--status-channels",
            "3",
        ])
        .arg("--fault-log")
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("emulator starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let mut port = serialport::new(line.trim(), 3_000_000)
        .timeout(Duration::from_millis(50))
        .open()
        .expect("host opens the pty");
    let mut dec = Decoder::new();
    let started = ask(port.as_mut(), &mut dec, 1, Command::Start);
    assert!(started
        .iter()
        .any(|(r, _)| matches!(r, Some(Response::Ack { .. }))));
    // (first sample, saturation, lead-off) of the frames up to sample 2200.
    let mut headers: Vec<(u64, u32, u32)> = Vec::new();
    let mut buf = [0u8; 4096];
    let until = Instant::now() + Duration::from_secs(5);
    while headers.last().is_none_or(|h| h.0 < 2200) && Instant::now() < until {
        let n = port.read(&mut buf).unwrap_or(0);
        dec.feed(&buf[..n], |item| {
            if let Ok(Frame::Data(f)) = item {
                let h = f.header();
                headers.push((h.first_sample, h.saturation, h.lead_off));
            }
        });
    }
    child.kill().expect("stops");
    let _ = child.wait();
    // `ask` consumed the frames that came with the Ack (a few hundred samples at most).
    let first_seen = headers.first().expect("frames arrive").0;
    assert!(first_seen < 2000, "{first_seen}");
    let flagged: Vec<(u64, u32, u32)> = headers
        .iter()
        .copied()
        .filter(|h| h.1 != 0 || h.2 != 0)
        .collect();
    assert_eq!(
        flagged,
        vec![(2040, 1, 0), (2060, 1, 0), (2100, 0, 1), (2120, 0, 1)]
    );
    let events = read_fault_log(&log).expect("log");
    assert_eq!(
        events[..4],
        [
            FaultEvent::Saturation {
                sequence: 102,
                first_sample: 2040,
                frames: 20,
                channels: 1
            },
            FaultEvent::Saturation {
                sequence: 103,
                first_sample: 2060,
                frames: 20,
                channels: 1
            },
            FaultEvent::LeadOff {
                sequence: 105,
                first_sample: 2100,
                frames: 20,
                channels: 1
            },
            FaultEvent::LeadOff {
                sequence: 106,
                first_sample: 2120,
                frames: 20,
                channels: 1
            },
        ]
    );
    assert_eq!(
        serde_json::to_string(&events[0]).expect("json"),
        r#"{"fault":"saturation","sequence":102,"first_sample":2040,"frames":20,"channels":1}"#
    );
}
