//! Shared generators and helpers.

use firmware_bridge::{
    encode_data_frame, DataHeader, Decoder, Frame, SampleFormat, StimMarks, MAX_FRAME_LEN,
};
use proptest::prelude::*;

/// One data frame as the encoder was given it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub header: DataHeader,
    pub samples: Vec<i32>,
}

impl Sent {
    pub fn sample_frames(&self) -> u64 {
        (self.samples.len() / usize::from(self.header.channels)) as u64
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0u8; MAX_FRAME_LEN];
        let n = encode_data_frame(&self.header, &self.samples, &mut out).expect("valid frame");
        out.truncate(n);
        out
    }
}

/// A data frame as the decoder returned it.
#[derive(Debug, Clone, PartialEq)]
pub struct Got {
    pub header: DataHeader,
    pub samples: Vec<i32>,
}

pub fn format() -> impl Strategy<Value = SampleFormat> {
    prop_oneof![Just(SampleFormat::I24), Just(SampleFormat::I16)]
}

/// Valid frames: 1..=8 channels, 1..=24 sample-frames, up to 3 marks, masks within channels.
pub fn sent_frame() -> impl Strategy<Value = Sent> {
    (1u8..=8, 1usize..=24, format()).prop_flat_map(|(ch, n, fmt)| {
        let mask = (1u32 << ch) - 1;
        (
            any::<u32>(),
            any::<u64>(),
            prop::collection::vec(fmt.min()..=fmt.max(), n * usize::from(ch)),
            prop::collection::vec(0..n as u16, 0..=3),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(move |(seq, first, samples, marks, sat, lead)| {
                let mut m = StimMarks::new();
                for x in marks {
                    m.push(x);
                }
                Sent {
                    header: DataHeader {
                        sequence: seq,
                        first_sample: first,
                        channels: ch,
                        format: fmt,
                        marks: m,
                        saturation: sat & mask,
                        lead_off: lead & mask,
                    },
                    samples,
                }
            })
    })
}

/// A consecutive run of frames from one device: sequence +1, first sample contiguous.
pub fn stream(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<Sent>> {
    (
        prop::collection::vec(sent_frame(), len),
        any::<u32>(),
        0u64..1 << 40,
    )
        .prop_map(|(mut frames, seq0, first0)| {
            let mut next = first0;
            for (i, f) in frames.iter_mut().enumerate() {
                f.header.sequence = seq0.wrapping_add(i as u32);
                f.header.first_sample = next;
                next += f.sample_frames();
            }
            frames
        })
}

/// Splits `bytes` at the given cut points and feeds the pieces; collects data frames and errors.
pub fn decode_split(bytes: &[u8], cuts: &[usize]) -> (Vec<Got>, usize, Decoder) {
    let mut dec = Decoder::new();
    let mut got = Vec::new();
    let mut errors = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut prev = 0;
    for &c in cuts.iter().chain(std::iter::once(&bytes.len())) {
        dec.feed(&bytes[prev..c], |item| match item {
            Ok(Frame::Data(d)) => {
                let mut s = vec![0; d.len()];
                d.samples_into(&mut s).expect("sized");
                got.push(Got {
                    header: *d.header(),
                    samples: s,
                });
            }
            Ok(other) => panic!("unexpected frame {other:?}"),
            Err(_) => errors += 1,
        });
        prev = c;
    }
    (got, errors, dec)
}

pub fn as_got(s: &Sent) -> Got {
    Got {
        header: s.header,
        samples: s.samples.clone(),
    }
}
