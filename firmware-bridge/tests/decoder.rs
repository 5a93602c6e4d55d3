//! Property tests of the streaming decoder over corrupted, truncated, padded and gappy streams.

use crate::common::{as_got, decode_split, stream, Got, Sent};
use firmware_bridge::{Decoder, Frame};
use proptest::prelude::*;

fn concat(frames: &[Sent]) -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
    let mut bytes = Vec::new();
    let mut spans = Vec::new();
    for f in frames {
        let start = bytes.len();
        bytes.extend_from_slice(&f.encode());
        spans.push(start..bytes.len());
    }
    (bytes, spans)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Flipping bytes never yields a corrupted sample, and every untouched frame comes out:
    /// the decoder resynchronises within one frame.
    #[test]
    fn corruption_never_leaks_and_intact_frames_survive(
        frames in stream(1..=12),
        hits in prop::collection::vec((any::<usize>(), 1u8..=255), 0..8),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let (mut bytes, spans) = concat(&frames);
        let mut damaged = vec![false; frames.len()];
        for &(pos, x) in &hits {
            let pos = pos % bytes.len();
            bytes[pos] ^= x;
            let i = spans.iter().position(|s| s.contains(&pos)).expect("inside a frame");
            damaged[i] = true;
        }
        let (got, errors, dec) = decode_split(&bytes, &cuts);
        let want: Vec<Got> = frames.iter().zip(&damaged).filter(|(_, d)| !**d).map(|(f, _)| as_got(f)).collect();
        prop_assert_eq!(got, want);
        let n_damaged = damaged.iter().filter(|d| **d).count();
        prop_assert!(errors <= bytes.len());
        // Every byte of a damaged frame is skipped, or still held waiting if it is the last.
        let damaged_bytes: usize = spans.iter().zip(&damaged).filter(|(_, d)| **d).map(|(s, _)| s.len()).sum();
        prop_assert_eq!(dec.stats().bytes_skipped as usize + dec.buffered(), damaged_bytes);
        prop_assert_eq!(dec.stats().frames_ok as usize, frames.len() - n_damaged);
    }

    /// Garbage between frames is skipped byte for byte and costs no frame.
    #[test]
    fn inserted_garbage_is_skipped_exactly(
        frames in stream(1..=8),
        garbage in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 8),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut bytes = Vec::new();
        let mut total = 0;
        for (f, g) in frames.iter().zip(garbage.iter().cycle()) {
            bytes.extend_from_slice(g);
            total += g.len();
            bytes.extend_from_slice(&f.encode());
        }
        let (got, _errors, dec) = decode_split(&bytes, &cuts);
        prop_assert_eq!(got, frames.iter().map(as_got).collect::<Vec<_>>());
        prop_assert_eq!(dec.stats().bytes_skipped, total as u64);
        prop_assert_eq!(dec.stats().sequence_gaps, 0);
    }

    /// Dropped frames are counted exactly: gaps, lost frames, lost samples.
    #[test]
    fn dropped_frames_are_counted_exactly(
        frames in stream(2..=16),
        keep in prop::collection::vec(any::<bool>(), 16),
    ) {
        let kept: Vec<&Sent> = frames.iter().zip(&keep).filter(|(_, k)| **k).map(|(f, _)| f).collect();
        let bytes: Vec<u8> = kept.iter().flat_map(|f| f.encode()).collect();
        let (got, errors, dec) = decode_split(&bytes, &[]);
        prop_assert_eq!(errors, 0);
        prop_assert_eq!(got.len(), kept.len());
        // Expected: walk the kept indices.
        let idx: Vec<usize> = keep.iter().take(frames.len()).enumerate().filter(|(_, k)| **k).map(|(i, _)| i).collect();
        let (mut gaps, mut lost_f, mut lost_s) = (0u64, 0u64, 0u64);
        for w in idx.windows(2) {
            if w[1] != w[0] + 1 {
                gaps += 1;
                lost_f += (w[1] - w[0] - 1) as u64;
                lost_s += frames[w[0] + 1..w[1]].iter().map(Sent::sample_frames).sum::<u64>();
            }
        }
        let s = dec.stats();
        prop_assert_eq!((s.sequence_gaps, s.lost_frames, s.lost_samples), (gaps, lost_f, lost_s));
    }

    /// A stream cut anywhere yields every complete frame, no error, and waits for the rest.
    #[test]
    fn truncation_is_need_more_not_error(frames in stream(1..=8), cut in any::<usize>()) {
        let (bytes, spans) = concat(&frames);
        let cut = cut % (bytes.len() + 1);
        let (got, errors, dec) = decode_split(&bytes[..cut], &[]);
        let complete = spans.iter().filter(|s| s.end <= cut).count();
        prop_assert_eq!(errors, 0);
        prop_assert_eq!(got, frames[..complete].iter().map(as_got).collect::<Vec<_>>());
        let tail = cut - spans.get(complete).map_or(cut, |s| s.start);
        prop_assert_eq!(dec.buffered(), tail);
    }

    /// A frame cut short (device reset mid-frame) costs that frame only, even though its
    /// length field makes the decoder wait into the next frame.
    #[test]
    fn a_truncated_frame_costs_only_itself(frames in stream(3..=8), which in any::<usize>(), cut in any::<usize>()) {
        let which = 1 + which % (frames.len() - 2);
        let mut bytes = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let e = f.encode();
            if i == which {
                bytes.extend_from_slice(&e[..1 + cut % (e.len() - 1)]);
            } else {
                bytes.extend_from_slice(&e);
            }
        }
        // The cut frame's length field holds back what follows until that many bytes have come;
        // in a live stream the next frames supply them, here padding does.
        bytes.extend(std::iter::repeat_n(0u8, frames[which].encode().len()));
        let (got, _errors, dec) = decode_split(&bytes, &[]);
        let want: Vec<Got> = frames.iter().enumerate().filter(|(i, _)| *i != which).map(|(_, f)| as_got(f)).collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(dec.stats().sequence_gaps, 1);
        prop_assert_eq!(dec.stats().lost_frames, 1);
    }

    /// Random bytes never panic and never make a frame.
    #[test]
    fn noise_makes_no_frames(noise in prop::collection::vec(any::<u8>(), 0..4000)) {
        let mut dec = Decoder::new();
        let mut frames = 0;
        dec.feed(&noise, |r| if r.is_ok() { frames += 1 });
        prop_assert_eq!(frames, 0);
        prop_assert!(dec.buffered() <= noise.len());
    }
}

#[test]
fn resync_happens_within_one_frame_even_when_the_length_lies() {
    let frames: Vec<Sent> = (0..4)
        .map(|i| Sent {
            header: firmware_bridge::DataHeader::new(
                i,
                u64::from(i) * 4,
                2,
                firmware_bridge::SampleFormat::I16,
            ),
            samples: vec![i as i32; 8],
        })
        .collect();
    let (mut bytes, spans) = concat(&frames);
    // Corrupt frame 1's length to claim the maximum, and fix its header CRC so the lie is
    // believed: the frame CRC must still reject it and frame 2 must still be found.
    let s = spans[1].start;
    bytes[s + 4..s + 6].copy_from_slice(&8000u16.to_le_bytes());
    let h = firmware_bridge::crc::crc16(&bytes[s + 2..s + 6]);
    bytes[s + 6..s + 8].copy_from_slice(&h.to_le_bytes());
    // Pad so the lying length can be satisfied.
    bytes.extend(std::iter::repeat_n(0u8, 8100));
    let mut dec = Decoder::new();
    let mut seqs = Vec::new();
    let mut errs = 0;
    dec.feed(&bytes, |r| match r {
        Ok(Frame::Data(d)) => seqs.push(d.header().sequence),
        Ok(_) => {}
        Err(_) => errs += 1,
    });
    assert_eq!(seqs, vec![0, 2, 3]);
    assert_eq!(errs, 1);
    assert_eq!(dec.stats().frame_crc_errors, 1);
    assert_eq!(dec.stats().lost_frames, 1);
    assert_eq!(dec.stats().lost_samples, 4);
}

#[test]
fn abandon_partial_releases_frames_held_behind_a_cut_frame() {
    let mk = |seq: u32, n: usize| Sent {
        header: firmware_bridge::DataHeader::new(seq, 0, 4, firmware_bridge::SampleFormat::I24),
        samples: vec![7; 4 * n],
    };
    let big = mk(0, 20).encode();
    let small = mk(1, 1).encode();
    let mut bytes = big[..30].to_vec();
    bytes.extend_from_slice(&small);
    let mut dec = Decoder::new();
    let mut seqs = Vec::new();
    dec.feed(&bytes, |r| {
        if let Ok(Frame::Data(d)) = r {
            seqs.push(d.header().sequence)
        }
    });
    assert!(seqs.is_empty(), "the small frame waits behind the cut one");
    assert!(dec.abandon_partial());
    while let Some(r) = dec.next_frame() {
        if let Ok(Frame::Data(d)) = r {
            seqs.push(d.header().sequence)
        }
    }
    assert_eq!(seqs, vec![1]);
    assert!(!dec.abandon_partial(), "nothing left to abandon");
    assert_eq!(dec.buffered(), 0);
}

#[test]
fn reset_sequence_forgets_the_previous_frame() {
    let a = Sent {
        header: firmware_bridge::DataHeader::new(10, 100, 1, firmware_bridge::SampleFormat::I16),
        samples: vec![1],
    };
    let b = Sent {
        header: firmware_bridge::DataHeader::new(0, 0, 1, firmware_bridge::SampleFormat::I16),
        samples: vec![2],
    };
    let mut dec = Decoder::new();
    dec.feed(&a.encode(), |_| {});
    dec.reset_sequence();
    let mut gap = None;
    dec.feed(&b.encode(), |r| {
        if let Ok(Frame::Data(d)) = r {
            gap = Some(d.gap());
        }
    });
    assert_eq!(gap, Some(None));
    dec.feed(&a.encode(), |r| {
        if let Ok(Frame::Data(d)) = r {
            gap = Some(d.gap());
        }
    });
    let g = gap.flatten().expect("a jump from 0 to 10 is a gap");
    assert_eq!((g.lost_frames(), g.lost_samples()), (9, 99));
    dec.reset();
    assert_eq!(*dec.stats(), firmware_bridge::Stats::default());
}
