//! Backyard Brains SpikerBox format.

use firmware_bridge::byb::{
    encode_frame, encode_message, BybConfig, BybDecoder, BybEncodeError, BybError, BybItem,
    ESCAPE_END, ESCAPE_START,
};
use firmware_bridge::ConfigError;
use proptest::prelude::*;

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Frame(u64, Vec<i32>),
    Event(u64, u8),
    Message(u64, Vec<u8>, Vec<u8>),
    Error(BybError),
}

fn decoder(channels: usize, bits: u8) -> BybDecoder {
    BybConfig {
        channels,
        bits,
        volts_per_count: 1e-6,
    }
    .build()
    .expect("valid config")
}

fn run(dec: &mut BybDecoder, bytes: &[u8], chunk: usize) -> Vec<Item> {
    let mut items = Vec::new();
    for piece in bytes.chunks(chunk.max(1)) {
        dec.feed(piece, |it| {
            items.push(match it {
                BybItem::Frame { index, samples } => Item::Frame(index, samples.to_vec()),
                BybItem::Event { index, marker } => Item::Event(index, marker),
                BybItem::Message { index, kind, value } => {
                    Item::Message(index, kind.to_vec(), value.to_vec())
                }
                BybItem::Error(e) => Item::Error(e),
            })
        });
    }
    items
}

fn frame(samples: &[i32], bits: u8) -> Vec<u8> {
    let mut out = [0u8; 32];
    let n = encode_frame(samples, bits, &mut out).expect("in range");
    out[..n].to_vec()
}

fn message(kind: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = [0u8; 80];
    let n = encode_message(kind, value, &mut out).expect("fits");
    out[..n].to_vec()
}

#[test]
fn bytes_match_the_spikerbox_layout() {
    // 10-bit code 1023 (centred +511) and code 0 (centred -512).
    assert_eq!(frame(&[511, -512], 10), vec![0x80 | 0x07, 0x7F, 0x00, 0x00]);
    // 14-bit code 16383 starts with FF: the first escape byte, which must not confuse the
    // decoder.
    assert_eq!(frame(&[8191], 14), vec![0xFF, 0x7F]);
    let m = message(b"EVNT", b"3");
    assert_eq!(&m[..6], &ESCAPE_START);
    assert_eq!(&m[6..13], b"EVNT:3;");
    assert_eq!(&m[13..], &ESCAPE_END);
}

#[test]
fn events_and_messages_land_between_frames() {
    let mut bytes = frame(&[1, 2], 10);
    bytes.extend(message(b"EVNT", b"4"));
    bytes.extend(frame(&[3, 4], 10));
    bytes.extend(message(b"HWT", b"MUSCLESS"));
    bytes.extend(frame(&[8191 / 16, -512], 10));
    for chunk in [1, 2, 3, 7, 100] {
        let items = run(&mut decoder(2, 10), &bytes, chunk);
        assert_eq!(
            items,
            vec![
                Item::Frame(0, vec![1, 2]),
                Item::Event(1, 4),
                Item::Frame(1, vec![3, 4]),
                Item::Message(2, b"HWT".to_vec(), b"MUSCLESS".to_vec()),
                Item::Frame(2, vec![511, -512]),
            ],
            "chunk {chunk}"
        );
    }
}

#[test]
fn an_escape_inside_a_frame_is_removed_from_the_samples() {
    let f = frame(&[100, -100, 5], 14);
    let mut bytes = f[..3].to_vec();
    bytes.extend(message(b"EVNT", b"1"));
    bytes.extend(&f[3..]);
    let items = run(&mut decoder(3, 14), &bytes, 1);
    assert_eq!(
        items,
        vec![Item::Event(0, 1), Item::Frame(0, vec![100, -100, 5])]
    );
}

#[test]
fn broken_frames_are_dropped_and_counted() {
    let mut dec = decoder(2, 10);
    let good = frame(&[7, 8], 10);
    let mut bytes = good[..3].to_vec(); // short: next frame start arrives early
    bytes.extend(&good);
    bytes.extend([0x05, 0x06]); // stray bytes after a complete frame
    bytes.extend([0x80 | 0x0F, 0x7F, 0, 0]); // code 2047 does not fit 10 bits
    bytes.extend(&good);
    let items = run(&mut dec, &bytes, 4);
    assert_eq!(
        items,
        vec![
            Item::Error(BybError::ShortFrame {
                got: 1,
                expected: 2
            }),
            Item::Frame(0, vec![7, 8]),
            Item::Error(BybError::Stray { count: 1 }),
            Item::Error(BybError::Stray { count: 1 }),
            Item::Error(BybError::SampleRange {
                code: 2047,
                limit: 1024
            }),
            Item::Error(BybError::Stray { count: 1 }),
            Item::Error(BybError::Stray { count: 1 }),
            Item::Frame(1, vec![7, 8]),
        ]
    );
    let s = dec.stats();
    assert_eq!(
        (s.frames, s.short_frames, s.stray_bytes, s.out_of_range),
        (2, 1, 4, 1)
    );
}

#[test]
fn an_unterminated_message_ends_at_64_bytes() {
    let mut bytes = ESCAPE_START.to_vec();
    bytes.extend(b"BRD:1;");
    bytes.extend(std::iter::repeat_n(b'x', 80));
    bytes.extend(frame(&[0], 10));
    let items = run(&mut decoder(1, 10), &bytes, 9);
    // The message is parsed at 64 bytes; the rest of the x's are stray data bytes.
    assert_eq!(items[0], Item::Message(0, b"BRD".to_vec(), b"1".to_vec()));
    assert_eq!(items.last(), Some(&Item::Frame(0, vec![0])));
    let strays = items
        .iter()
        .filter(|i| matches!(i, Item::Error(BybError::Stray { .. })))
        .count();
    assert_eq!(strays, 80 - (64 - 6));
}

#[test]
fn configs_and_encoder_inputs_are_validated() {
    let bad = |channels, bits, vpc| {
        BybConfig {
            channels,
            bits,
            volts_per_count: vpc,
        }
        .build()
        .err()
    };
    assert_eq!(
        bad(0, 10, 1.0),
        Some(ConfigError::Channels { got: 0, max: 8 })
    );
    assert_eq!(
        bad(9, 10, 1.0),
        Some(ConfigError::Channels { got: 9, max: 8 })
    );
    assert_eq!(bad(1, 9, 1.0), Some(ConfigError::Bits { got: 9 }));
    assert_eq!(bad(1, 15, 1.0), Some(ConfigError::Bits { got: 15 }));
    assert!(matches!(
        bad(1, 10, 0.0),
        Some(ConfigError::VoltsPerCount { .. })
    ));
    assert!(matches!(
        bad(1, 10, f64::NAN),
        Some(ConfigError::VoltsPerCount { .. })
    ));
    let mut out = [0u8; 4];
    assert_eq!(
        encode_frame(&[512], 10, &mut out),
        Err(BybEncodeError::SampleRange {
            index: 0,
            value: 512,
            min: -512,
            max: 511
        })
    );
    assert!(matches!(
        encode_frame(&[0, 0, 0], 10, &mut out),
        Err(BybEncodeError::BufferTooSmall { needed: 6, got: 4 })
    ));
    let mut big = [0u8; 100];
    assert!(encode_message(b"A;B", b"1", &mut big).is_err());
    assert!(encode_message(b"A", &[b'v'; 60], &mut big).is_err());
    let d = decoder(2, 10);
    assert!((d.scale().to_volts(-512) + 512e-6).abs() < 1e-15);
}

proptest! {
    #[test]
    fn frames_and_events_survive_any_split(
        bits in 10u8..=14,
        channels in 1usize..=6,
        seed in prop::collection::vec((any::<u32>(), prop::option::of(0u8..10)), 1..40),
        chunk in 1usize..64,
    ) {
        let half = 1i64 << (bits - 1);
        let mut bytes = Vec::new();
        let mut want = Vec::new();
        for (i, (s, ev)) in seed.iter().enumerate() {
            let samples: Vec<i32> = (0..channels)
                .map(|c| ((i64::from(s.rotate_left(c as u32 * 5)) % (2 * half)) - half) as i32)
                .collect();
            if let Some(m) = ev {
                bytes.extend(message(b"EVNT", &[b'0' + m]));
                want.push(Item::Event(i as u64, *m));
            }
            bytes.extend(frame(&samples, bits));
            want.push(Item::Frame(i as u64, samples));
        }
        let got = run(&mut decoder(channels, bits), &bytes, chunk);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn noise_never_panics(noise in prop::collection::vec(any::<u8>(), 0..2000)) {
        let mut dec = decoder(3, 12);
        dec.feed(&noise, |it| {
            if let BybItem::Frame { samples, .. } = it {
                assert_eq!(samples.len(), 3);
                assert!(samples.iter().all(|s| (-2048..2048).contains(s)));
            }
        });
    }
}
