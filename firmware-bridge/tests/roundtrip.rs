//! Encode → decode round trips and every rejection path of encoder and decoder.

use crate::common::{as_got, decode_split, sent_frame};
use firmware_bridge::crc::{crc16, crc32c};
use firmware_bridge::{
    data_frame_len, encode_command, encode_data_frame, encode_device_info, encode_response,
    Command, DataHeader, DecodeError, Decoder, DeviceInfo, EncodeError, Frame, NackCode, Response,
    SampleFormat, StimMarks, DEVICE_FLAG_NO_STIMULATOR, HEADER_LEN, MAX_FRAME_LEN,
    PROTOCOL_VERSION, SYNC,
};
use proptest::prelude::*;

fn info() -> DeviceInfo {
    let mut serial = [0u8; 16];
    serial[..8].copy_from_slice(b"NCS-0042");
    DeviceInfo {
        channels: 8,
        max_channels: 8,
        format: SampleFormat::I24,
        sample_rate_hz: 20_000,
        samples_per_frame: 20,
        firmware_version: (1, 2, 300),
        gain: 12.0,
        volts_per_count: 2.4 / 12.0 / 8_388_608.0,
        serial,
        stimulator: true,
    }
}

/// Builds a frame by hand with valid CRCs, to reach decoder paths the encoder never produces.
fn raw_frame(version: u8, frame_type: u8, body: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&SYNC);
    f.push(version);
    f.push(frame_type);
    f.extend_from_slice(&(body.len() as u16).to_le_bytes());
    let h = crc16(&f[2..6]);
    f.extend_from_slice(&h.to_le_bytes());
    f.extend_from_slice(body);
    let c = crc32c(&f[2..]);
    f.extend_from_slice(&c.to_le_bytes());
    f
}

fn decode_one(bytes: &[u8]) -> Result<Frame<'static>, DecodeError> {
    // Leaked so the frame may borrow the decoder for the rest of the test (a few KiB).
    let dec: &'static mut Decoder = Box::leak(Box::new(Decoder::new()));
    assert_eq!(dec.push(bytes), bytes.len());
    dec.next_frame().expect("a complete frame was pushed")
}

#[test]
fn commands_round_trip() {
    let cmds = [
        Command::Start,
        Command::Stop,
        Command::SetSampleRate { hz: 20_000 },
        Command::SetChannels { count: 4 },
        Command::FireStimulus {
            pulse_width_us: 200,
            intensity_ua: 25_000,
        },
        Command::Ping { token: 0xDEAD_BEEF },
        Command::GetDeviceInfo,
    ];
    let mut buf = [0u8; 64];
    for (i, c) in cmds.iter().enumerate() {
        let n = encode_command(i as u16 + 100, c, &mut buf).expect("fits");
        match decode_one(&buf[..n]) {
            Ok(Frame::Command { tag, command }) => {
                assert_eq!(tag, i as u16 + 100);
                assert_eq!(command, *c);
            }
            other => panic!("{c:?} decoded as {other:?}"),
        }
    }
}

#[test]
fn responses_round_trip() {
    let resps = [
        Response::DeviceInfo(info()),
        Response::DeviceInfo(DeviceInfo {
            stimulator: false,
            ..info()
        }),
        Response::Pong { token: 7 },
        Response::Ack { command: 0x44 },
        Response::Nack {
            command: 0x42,
            code: NackCode::BadArgument,
            detail: 1_000_000,
        },
        Response::Nack {
            command: 0x99,
            code: NackCode::Other(77),
            detail: 0,
        },
    ];
    let mut buf = [0u8; 64];
    for r in &resps {
        let n = encode_response(9, r, &mut buf).expect("fits");
        match decode_one(&buf[..n]) {
            Ok(Frame::Response { tag, response }) => {
                assert_eq!(tag, 9);
                assert_eq!(response, *r);
            }
            other => panic!("{r:?} decoded as {other:?}"),
        }
    }
    let n = encode_device_info(0, &info(), &mut buf).expect("fits");
    match decode_one(&buf[..n]) {
        Ok(Frame::Response {
            tag: 0,
            response: Response::DeviceInfo(d),
        }) => assert_eq!(d.serial_bytes(), b"NCS-0042"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn device_flags_say_whether_the_device_can_fire() {
    let mut buf = [0u8; 64];
    let flags = |stimulator: bool, buf: &mut [u8; 64]| {
        let n = encode_device_info(
            1,
            &DeviceInfo {
                stimulator,
                ..info()
            },
            buf,
        )
        .expect("fits");
        // Body: tag (2 bytes), then the device info; the flags byte is its offset 3.
        (n, buf[HEADER_LEN + 2 + 3])
    };
    assert_eq!(flags(true, &mut buf).1, 0);
    assert_eq!(flags(false, &mut buf).1, DEVICE_FLAG_NO_STIMULATOR);
    // Flag bits not defined yet are ignored on reading: only bit 0 says "no stimulator".
    for (byte, stimulator) in [(0x00, true), (0xFE, true), (0x01, false), (0xFF, false)] {
        let (n, _) = flags(true, &mut buf);
        let mut body = buf[HEADER_LEN..n - 4].to_vec();
        body[2 + 3] = byte;
        match decode_one(&raw_frame(1, 2, &body)) {
            Ok(Frame::Response {
                response: Response::DeviceInfo(d),
                ..
            }) => {
                assert_eq!(d.stimulator, stimulator, "flags {byte:#04x}");
                assert_eq!(
                    DeviceInfo {
                        stimulator: true,
                        ..d
                    },
                    info()
                );
            }
            other => panic!("flags {byte:#04x}: {other:?}"),
        }
    }
}

#[test]
fn a_small_decoder_reads_commands_and_rejects_big_frames() {
    let mut dec = Decoder::<64>::with_capacity();
    let mut buf = [0u8; 64];
    let n = encode_command(1, &Command::Ping { token: 5 }, &mut buf).expect("fits");
    assert_eq!(dec.push(&buf[..n]), n);
    assert!(matches!(
        dec.next_frame(),
        Some(Ok(Frame::Command {
            tag: 1,
            command: Command::Ping { token: 5 }
        }))
    ));
    let h = DataHeader::new(0, 0, 8, SampleFormat::I24);
    let mut big = vec![0u8; MAX_FRAME_LEN];
    let n = encode_data_frame(&h, &[1; 80], &mut big).expect("fits");
    let mut errs = Vec::new();
    dec.feed(&big[..n], |r| errs.push(r.map(|_| ()).unwrap_err()));
    assert_eq!(
        errs[0],
        DecodeError::BodyTooLong {
            len: n - 12,
            max: 52
        }
    );
    assert!(dec.stats().frames_ok == 1);
}

#[test]
fn decoder_rejects_bad_content_with_valid_crcs() {
    let cases: Vec<(Vec<u8>, DecodeError)> = vec![
        (
            raw_frame(2, 0x45, &[0; 6]),
            DecodeError::UnsupportedVersion { version: 2 },
        ),
        (
            raw_frame(PROTOCOL_VERSION, 0x7F, &[0; 2]),
            DecodeError::UnknownType { frame_type: 0x7F },
        ),
        (
            raw_frame(PROTOCOL_VERSION, 0x45, &[0; 5]),
            DecodeError::BodyLength {
                frame_type: 0x45,
                len: 5,
                expected: 6,
            },
        ),
        (
            raw_frame(PROTOCOL_VERSION, 0x01, &[0; 10]),
            DecodeError::BodyLength {
                frame_type: 0x01,
                len: 10,
                expected: 26,
            },
        ),
    ];
    for (bytes, want) in cases {
        assert_eq!(decode_one(&bytes).map(|_| ()), Err(want));
    }
    // A data frame with a channel count of 0.
    let h = DataHeader::new(0, 0, 1, SampleFormat::I16);
    let mut buf = [0u8; 64];
    let n = encode_data_frame(&h, &[5], &mut buf).expect("fits");
    let mut body = buf[8..n - 4].to_vec();
    body[12] = 0;
    let err = decode_one(&raw_frame(1, 1, &body)).map(|_| ()).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::InvalidField {
                field: "channels",
                value: 0,
                ..
            }
        ),
        "{err}"
    );
    // A mark past the end of the frame.
    let mut body = buf[8..n - 4].to_vec();
    body[16] = 1;
    body.splice(26..26, [1u8, 0]);
    let err = decode_one(&raw_frame(1, 1, &body)).map(|_| ()).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::InvalidField {
                field: "mark_offset",
                value: 1,
                ..
            }
        ),
        "{err}"
    );
    // Device info with an unknown sample format.
    let n = encode_device_info(3, &info(), &mut buf).expect("fits");
    let mut body = buf[8..n - 4].to_vec();
    body[2 + 2] = 9;
    let err = decode_one(&raw_frame(1, 2, &body)).map(|_| ()).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::InvalidField {
                field: "format",
                value: 9,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn crc_failures_are_reported_and_counted() {
    let mut buf = [0u8; 64];
    let n = encode_command(1, &Command::Stop, &mut buf).expect("fits");
    let mut hdr = buf[..n].to_vec();
    hdr[4] ^= 0x40; // length field
    let mut dec = Decoder::new();
    dec.push(&hdr);
    assert!(matches!(
        dec.next_frame(),
        Some(Err(DecodeError::HeaderCrc { .. }))
    ));
    assert!(dec.next_frame().is_none());
    assert_eq!(dec.stats().header_crc_errors, 1);
    assert_eq!(dec.stats().bytes_skipped, n as u64);

    let mut body = buf[..n].to_vec();
    body[9] ^= 1;
    let mut dec = Decoder::new();
    dec.push(&body);
    assert!(matches!(
        dec.next_frame(),
        Some(Err(DecodeError::FrameCrc {
            frame_type: 0x41,
            ..
        }))
    ));
    assert!(dec.next_frame().is_none());
    assert_eq!(dec.stats().crc_failures(), 1);
}

#[test]
fn encoder_validates_every_input() {
    let mut out = [0u8; 256];
    let h = DataHeader::new(0, 0, 2, SampleFormat::I16);
    assert_eq!(
        encode_data_frame(&DataHeader::new(0, 0, 0, SampleFormat::I16), &[1], &mut out),
        Err(EncodeError::Channels { got: 0, max: 32 })
    );
    assert_eq!(
        encode_data_frame(
            &DataHeader::new(0, 0, 33, SampleFormat::I16),
            &[1],
            &mut out
        ),
        Err(EncodeError::Channels { got: 33, max: 32 })
    );
    assert_eq!(
        encode_data_frame(&h, &[1, 2, 3], &mut out),
        Err(EncodeError::SampleCount {
            got: 3,
            channels: 2
        })
    );
    assert_eq!(
        encode_data_frame(&h, &[], &mut out),
        Err(EncodeError::SampleCount {
            got: 0,
            channels: 2
        })
    );
    assert_eq!(
        encode_data_frame(&h, &[1, 40_000], &mut out),
        Err(EncodeError::SampleRange {
            index: 1,
            value: 40_000,
            min: -32768,
            max: 32767
        })
    );
    let h24 = DataHeader::new(0, 0, 1, SampleFormat::I24);
    assert!(matches!(
        encode_data_frame(&h24, &[1 << 23], &mut out),
        Err(EncodeError::SampleRange { .. })
    ));
    let mut hm = h;
    hm.marks.push(1);
    assert_eq!(
        encode_data_frame(&hm, &[1, 2], &mut out),
        Err(EncodeError::MarkOffset {
            offset: 1,
            frames: 1
        })
    );
    let mut hs = h;
    hs.saturation = 0b100;
    assert!(matches!(
        encode_data_frame(&hs, &[1, 2], &mut out),
        Err(EncodeError::ChannelMask {
            mask: "saturation",
            ..
        })
    ));
    let big = vec![0; 8 * 400];
    assert!(matches!(
        encode_data_frame(&DataHeader::new(0, 0, 8, SampleFormat::I24), &big, &mut out),
        Err(EncodeError::BodyTooLong { .. })
    ));
    assert_eq!(
        encode_data_frame(&h, &[1, 2], &mut out[..20]),
        Err(EncodeError::BufferTooSmall {
            needed: data_frame_len(2, 1, SampleFormat::I16, 0),
            got: 20
        })
    );
    assert!(matches!(
        encode_command(0, &Command::Start, &mut out[..5]),
        Err(EncodeError::BufferTooSmall { needed: 14, got: 5 })
    ));
    let mut marks = StimMarks::new();
    for i in 0..8 {
        assert!(marks.push(i));
    }
    assert!(!marks.push(8), "a ninth mark must be refused");
    assert_eq!(marks.len(), 8);
}

#[test]
fn extreme_samples_survive() {
    for fmt in [SampleFormat::I24, SampleFormat::I16] {
        let s = [fmt.min(), fmt.max(), 0, -1, 1];
        let sent = crate::common::Sent {
            header: DataHeader::new(1, 2, 5, fmt),
            samples: s.to_vec(),
        };
        let (got, errors, _) = decode_split(&sent.encode(), &[]);
        assert_eq!(errors, 0);
        assert_eq!(got, vec![as_got(&sent)]);
    }
}

proptest! {
    #[test]
    fn data_frames_round_trip_in_any_split(f in sent_frame(), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
        let bytes = f.encode();
        prop_assert_eq!(bytes.len(), data_frame_len(
            usize::from(f.header.channels), f.sample_frames() as usize, f.header.format, f.header.marks.len()));
        let (got, errors, dec) = decode_split(&bytes, &cuts);
        prop_assert_eq!(errors, 0);
        prop_assert_eq!(got, vec![as_got(&f)]);
        prop_assert_eq!(dec.stats().bytes_skipped, 0);
        prop_assert_eq!(dec.buffered(), 0);
    }

    #[test]
    fn iterator_and_slice_agree(f in sent_frame()) {
        let bytes = f.encode();
        let mut dec = Decoder::new();
        dec.push(&bytes);
        let Some(Ok(Frame::Data(d))) = dec.next_frame() else { panic!("no frame") };
        let it: Vec<i32> = d.samples().collect();
        prop_assert_eq!(&it, &f.samples);
        prop_assert_eq!(d.samples().len(), f.samples.len());
        let mut short = vec![0; d.len() - 1];
        prop_assert!(d.samples_into(&mut short).is_err());
    }
}
