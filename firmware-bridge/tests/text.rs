//! Plain text lines of integers.

use firmware_bridge::text::{encode_line, TextConfig, TextDecoder, TextError};
use firmware_bridge::ConfigError;
use proptest::prelude::*;

fn cfg(channels: Option<usize>) -> TextConfig {
    TextConfig {
        channels,
        volts_per_count: 5.0 / 1024.0,
        offset_counts: 512.0,
    }
}

/// (frame index, line number, counts) of a good line.
type Line = (u64, u64, Vec<i32>);

fn run<const L: usize>(
    dec: &mut TextDecoder<L>,
    bytes: &[u8],
    chunk: usize,
) -> Vec<Result<Line, TextError>> {
    let mut out = Vec::new();
    for piece in bytes.chunks(chunk.max(1)) {
        dec.feed(piece, |r| {
            out.push(r.map(|f| (f.index, f.line, f.counts.to_vec())))
        });
    }
    out
}

#[test]
fn separators_line_endings_and_blank_lines() {
    let text = b"1023 512 7\r\n\n  -5,\t+6;7\n0 0 0\n";
    let mut dec = cfg(None).build().expect("valid");
    let got = run(&mut dec, text, 3);
    assert_eq!(
        got,
        vec![
            Ok((0, 1, vec![1023, 512, 7])),
            Ok((1, 3, vec![-5, 6, 7])),
            Ok((2, 4, vec![0, 0, 0])),
        ]
    );
    assert_eq!(dec.channels(), Some(3));
    assert_eq!(dec.scale().to_volts(1024 - 512 + 512), 5.0 / 2.0);
}

#[test]
fn bad_lines_are_reported_and_skipped() {
    let text = b"StartUp!\n1 2\n1 2 3\n99999999999 1\n1 x\n3 4\n";
    let mut dec = cfg(Some(2)).build().expect("valid");
    let got = run(&mut dec, text, 5);
    assert_eq!(
        got,
        vec![
            Err(TextError::BadNumber { line: 1, column: 1 }),
            Ok((0, 2, vec![1, 2])),
            Err(TextError::ChannelCount {
                line: 3,
                expected: 2,
                got: 3
            }),
            Err(TextError::BadNumber { line: 4, column: 1 }),
            Err(TextError::BadNumber { line: 5, column: 3 }),
            Ok((1, 6, vec![3, 4])),
        ]
    );
    assert_eq!((dec.frames(), dec.errors()), (2, 4));
}

#[test]
fn long_lines_are_rejected_and_the_next_line_is_read() {
    let mut dec = cfg(None).build_with_capacity::<8>().expect("valid");
    let got = run(&mut dec, b"1 2 3 4 5 6\n7 8\n", 4);
    assert_eq!(
        got,
        vec![
            Err(TextError::LineTooLong { line: 1, max: 8 }),
            Ok((0, 2, vec![7, 8])),
        ]
    );
}

#[test]
fn configs_are_validated() {
    assert_eq!(
        cfg(Some(0)).build().err(),
        Some(ConfigError::Channels { got: 0, max: 32 })
    );
    let mut c = cfg(None);
    c.offset_counts = f64::INFINITY;
    assert!(matches!(c.build().err(), Some(ConfigError::Offset { .. })));
    c = cfg(None);
    c.volts_per_count = -1.0;
    assert!(matches!(
        c.build().err(),
        Some(ConfigError::VoltsPerCount { .. })
    ));
}

proptest! {
    #[test]
    fn encoded_lines_round_trip(rows in prop::collection::vec(prop::collection::vec(any::<i32>(), 4), 1..30), chunk in 1usize..40) {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 64];
        for r in &rows {
            let n = encode_line(r, &mut buf).expect("fits");
            bytes.extend_from_slice(&buf[..n]);
        }
        let mut dec = cfg(Some(4)).build().expect("valid");
        let got = run(&mut dec, &bytes, chunk);
        let want: Vec<_> = rows.iter().enumerate().map(|(i, r)| Ok((i as u64, i as u64 + 1, r.clone()))).collect();
        prop_assert_eq!(got, want);
    }
}
