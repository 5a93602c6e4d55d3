//! Backyard Brains and text-line amplifiers over a pseudo-terminal.

use std::io::Write;

use firmware_bridge::byb::{encode_frame, encode_message};
use ncs_runtime::{ReadOutcome, Source};
use ncs_serial::{BybConfig, BybSource, PortSpec, TextLineSource};
use serialport::{SerialPort, TTYPort};

fn pty() -> (TTYPort, TTYPort, PortSpec) {
    let (master, slave) = TTYPort::pair().expect("pty");
    let path = slave.name().expect("slave path");
    (master, slave, PortSpec::Path(path.into()))
}

/// Reads until `frames` frames have been delivered; returns frames (by index) and outcomes.
fn collect(src: &mut dyn Source, frames: u64) -> (Vec<Vec<f32>>, Vec<ReadOutcome>, Vec<u64>) {
    let ch = src.info().channels;
    let mut got = Vec::new();
    let mut outcomes = Vec::new();
    let mut marks = Vec::new();
    let mut block = vec![0f32; 64 * ch];
    let mut covered = 0;
    let mut idle = 0;
    while covered < frames {
        let o = src.read(&mut block, &mut marks).expect("reads");
        match o {
            ReadOutcome::Frames { frames: 0, .. } => {
                idle += 1;
                assert!(idle < 200, "stream stalled at {covered}");
                continue;
            }
            ReadOutcome::Frames {
                first_sample,
                frames: n,
            } => {
                assert_eq!(first_sample, covered);
                got.extend(block[..n * ch].chunks(ch).map(<[f32]>::to_vec));
                covered += n as u64;
            }
            ReadOutcome::Lost {
                first_sample,
                count,
            } => {
                assert_eq!(first_sample, covered);
                got.extend((0..count).map(|_| Vec::new()));
                covered += count;
            }
            ReadOutcome::End => break,
        }
        outcomes.push(o);
    }
    (
        got,
        outcomes,
        marks.iter().map(|m| m.sample_index).collect(),
    )
}

#[test]
fn spikerbox_frames_events_and_a_short_frame() {
    let (mut master, _slave, spec) = pty();
    let cfg = BybConfig {
        channels: 2,
        bits: 10,
        volts_per_count: 1e-6,
    };
    let mut src = BybSource::open(&spec, 222_222, cfg, 10_000.0).expect("opens");
    assert_eq!(src.info().channels, 2);
    let mut wire = Vec::new();
    let mut buf = [0u8; 64];
    for i in 0..10i32 {
        if i == 4 {
            let n = encode_message(b"EVNT", b"1", &mut buf).expect("message");
            wire.extend_from_slice(&buf[..n]);
        }
        // Centred counts (the wire carries them + 512 at 10 bits).
        let n = encode_frame(&[i, -i], 10, &mut buf).expect("frame");
        if i == 6 {
            // A frame cut after its first byte: the decoder drops it.
            wire.extend_from_slice(&buf[..1]);
        } else {
            wire.extend_from_slice(&buf[..n]);
        }
    }
    // One more frame so the cut one is known to be short.
    let n = encode_frame(&[0, 0], 10, &mut buf).expect("frame");
    wire.extend_from_slice(&buf[..n]);
    master.write_all(&wire).expect("write");
    let (got, outcomes, marks) = collect(&mut src, 11);
    assert!(outcomes.contains(&ReadOutcome::Lost {
        first_sample: 6,
        count: 1
    }));
    for (i, f) in got.iter().enumerate().take(10) {
        if i == 6 {
            assert!(f.is_empty());
        } else {
            let want = [i as f32 * 1e-6, -(i as f32) * 1e-6];
            for (a, b) in f.iter().zip(want) {
                assert!((a - b).abs() < 1e-9, "frame {i}: {f:?}");
            }
        }
    }
    assert_eq!(marks, vec![4], "the event marks the next frame");
    assert_eq!(src.stats().rejected, 1);
}

#[test]
fn text_lines_with_a_stated_scale_and_a_bad_line() {
    let (mut master, _slave, spec) = pty();
    let mut src = TextLineSource::open(&spec, 115_200, 3, 0.5e-3, 512.0, 1000.0).expect("opens");
    master
        .write_all(b"512 513 511\n1023,0,512\nnot a number\n600\t500\t512\n")
        .expect("write");
    let (got, _, _) = collect(&mut src, 4);
    let v = |c: &[f64]| c.iter().map(|&c| (c * 0.5e-3) as f32).collect::<Vec<f32>>();
    assert_eq!(got[0], v(&[0.0, 1.0, -1.0]));
    assert_eq!(got[1], v(&[511.0, -512.0, 0.0]));
    assert!(got[2].is_empty(), "the bad line is one lost frame");
    assert_eq!(got[3], v(&[88.0, -12.0, 0.0]));
    assert_eq!(src.stats().rejected, 1);

    let e = TextLineSource::open(&spec, 115_200, 3, -1.0, 0.0, 1000.0).expect_err("bad scale");
    assert!(e.to_string().contains("-1"), "{e}");
}
