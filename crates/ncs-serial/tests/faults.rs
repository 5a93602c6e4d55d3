//! Injected faults: every one is noticed and accounted for, no corrupted sample passes, and
//! the measurements of untouched sweeps equal those of a clean run.

use std::collections::HashMap;

use firmware_bridge::{encode_data_frame, DataHeader, SampleFormat, MAX_FRAME_LEN, SYNC};
use ncs_cmap::Flag;
use ncs_runtime::{Measurement, Processor, ProcessorConfig, ReadOutcome, Source};
use ncs_serial::LinkEvent;
use ncs_virtual_amp::{FaultEvent, FaultPlan};

use crate::common::*;

/// The bytes of a corrupted frame exactly as the emulator wrote them: the frame rebuilt from
/// the study's counts, its marks and status bits, with the logged XOR masks applied.
fn sent_bytes(
    e: &FaultEvent,
    counts: &[i32],
    stims: &[u64],
    status: &HashMap<u32, (u32, u32)>,
) -> Vec<u8> {
    let FaultEvent::Corrupt {
        sequence,
        first_sample,
        frames,
        len,
        altered,
        ..
    } = e
    else {
        panic!("not a corrupt event: {e:?}")
    };
    let (first, n) = (*first_sample, *frames);
    let mut h = DataHeader::new(*sequence, first, 8, SampleFormat::I24);
    for &s in stims.iter().filter(|&&s| (first..first + n).contains(&s)) {
        assert!(h.marks.push((s - first) as u16));
    }
    if let Some(&(sat, lead)) = status.get(sequence) {
        h.saturation = sat;
        h.lead_off = lead;
    }
    let mut wire = vec![0u8; MAX_FRAME_LEN];
    let a = first as usize * 8;
    let got = encode_data_frame(&h, &counts[a..a + n as usize * 8], &mut wire).expect("encodes");
    assert_eq!(
        got, *len as usize,
        "rebuilt frame {sequence} has the logged length"
    );
    wire.truncate(got);
    for &(at, mask) in altered {
        wire[at as usize] ^= mask;
    }
    wire
}

/// Sync markers (`EB 90`) in `bytes`, overlapping none.
fn syncs(bytes: &[u8]) -> u64 {
    bytes.windows(2).filter(|w| *w == SYNC).count() as u64
}

const PRE_MS: u64 = 5;
const POST_MS: u64 = 20;

fn measure(rec: &Recording, info: &ncs_runtime::SourceInfo) -> Vec<Measurement> {
    // Short windows: at 1e-4 per byte about one frame in twenty is corrupted, so a 70-ms
    // sweep is almost never untouched; 25 ms leaves some to compare.
    let cfg = ProcessorConfig {
        pre_ms: PRE_MS as f64,
        post_ms: POST_MS as f64,
        ..ProcessorConfig::default()
    };
    let mut p = Processor::new(cfg, info, Vec::new()).expect("processor");
    let mut out = Vec::new();
    let mut sink = |m: &Measurement| out.push(*m);
    let ch = rec.channels;
    let mut marks = rec.marks.iter().peekable();
    for o in &rec.outcomes {
        match *o {
            ReadOutcome::Frames {
                first_sample,
                frames,
            } => {
                let end = first_sample + frames as u64;
                let mut here = Vec::new();
                while let Some(m) = marks.next_if(|m| m.sample_index < end) {
                    here.push(*m);
                }
                let a = first_sample as usize * ch;
                p.push(
                    first_sample,
                    &rec.data[a..a + frames * ch],
                    &here,
                    &mut sink,
                );
            }
            ReadOutcome::Lost {
                first_sample,
                count,
            } => p.gap(first_sample, count),
            ReadOutcome::End => {}
        }
    }
    p.finish(&mut sink);
    out
}

#[test]
fn every_injected_fault_is_accounted_for() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("faults.jsonl");
    let mut cfg = amp_config(FRAMES_30S);
    cfg.speed = 10.0;
    cfg.link = Some(dir.path().join("amp"));
    cfg.fault_log = Some(log.clone());
    cfg.faults = FaultPlan {
        corrupt_rate: 1e-4,
        drop_frames: vec![1_000, 17_003],
        stalls: vec![250_000],
        stall_ms: 400,
        disconnects: vec![150_000, 420_000],
        down_ms: 200,
        unplug_at: None,
        seed: 7,
        saturations: vec![80_000, 500_000],
        lead_offs: vec![81_000],
        status_frames: 5,
        status_channels: 0b1001,
    };
    let amp = start(cfg.clone());
    let mut host = open_host(&amp.path, FRAMES_30S);
    let rec = record(&mut host, FRAMES_30S);
    let info = host.info().clone();
    let summary = amp.finish();
    let logged = ncs_virtual_amp::read_fault_log(&log).expect("fault log");
    assert_eq!(logged, summary.faults, "the file holds every fault");

    let count = |f: fn(&FaultEvent) -> bool| logged.iter().filter(|e| f(e)).count() as u64;
    let corrupt = count(|e| matches!(e, FaultEvent::Corrupt { .. }));
    assert!(
        corrupt >= 5,
        "1e-4 per byte over 15 MB corrupts many frames, got {corrupt}"
    );
    assert_eq!(count(|e| matches!(e, FaultEvent::Drop { .. })), 2);
    assert_eq!(count(|e| matches!(e, FaultEvent::Stall { .. })), 1);
    assert_eq!(count(|e| matches!(e, FaultEvent::Disconnect { .. })), 2);

    // The samples the host reports lost are exactly those the emulator lost, no more.
    assert_contiguous(&rec, FRAMES_30S);
    let faulted = coalesce(logged.iter().filter_map(FaultEvent::lost).collect());
    let reported = coalesce(rec.lost.clone());
    let first_diff = reported
        .iter()
        .zip(&faulted)
        .find(|(a, b)| a != b)
        .map(|(a, b)| (*a, *b));
    assert_eq!(
        (reported.len(), first_diff),
        (faulted.len(), None),
        "host-reported losses must equal the emulator's"
    );

    let s = host.stats();
    assert_eq!(
        s.sequence_gaps,
        faulted.len() as u64,
        "one gap per lost stretch"
    );
    assert_eq!(s.lost_samples, faulted.iter().map(|g| g.1).sum::<u64>());
    assert_eq!(s.reconnects, 2);
    assert_eq!(s.malformed, 0, "corruption never passes both CRCs: {s:?}");

    // Corruption, exactly. Every frame the emulator sent intact is delivered, and the bytes
    // the decoder discards are exactly the bytes of the corrupted frames: an intact frame is
    // consumed whole, and after a rejection the search restarts one byte on, so each byte of a
    // corrupted frame is skipped once. The decoder checks a header at every sync marker it
    // meets among those bytes: the frame's own when its first two bytes survived, and any
    // marker that occurs by chance in the (corrupted) body; each check is one CRC failure
    // (header CRC, or the frame CRC when only the body or trailer was hit). Rebuilding the
    // corrupted bytes from the log therefore predicts the CRC failures exactly. What cannot be
    // exact: `resyncs` counts skips, and one stretch of garbage is skipped in as many pieces
    // as the reads that delivered it, so only a lower bound holds (one skip per run of
    // adjacent corrupted frames). The prediction also assumes no chance marker's header passes
    // CRC-16 (p = 2⁻¹⁶ each; it would be refused as another version or length instead) and
    // that no corrupted frame is cut by a disconnect; the stream is deterministic (seeded), so
    // this holds or fails the same way on every run.
    let (counts, stims) = expected_counts(FRAMES_30S, &cfg);
    let mut status: HashMap<u32, (u32, u32)> = HashMap::new();
    for e in &logged {
        match *e {
            FaultEvent::Saturation {
                sequence, channels, ..
            } => status.entry(sequence).or_default().0 = channels,
            FaultEvent::LeadOff {
                sequence, channels, ..
            } => status.entry(sequence).or_default().1 = channels,
            _ => {}
        }
    }
    let corrupted: Vec<&FaultEvent> = logged
        .iter()
        .filter(|e| matches!(e, FaultEvent::Corrupt { .. }))
        .collect();
    let seq = |e: &FaultEvent| match e {
        FaultEvent::Corrupt { sequence, .. } => *sequence,
        _ => unreachable!(),
    };
    // Runs of frames adjacent on the wire (consecutive sequence numbers), rebuilt as sent: a
    // chance marker may straddle two of them.
    let mut runs: Vec<Vec<u8>> = Vec::new();
    let mut last_seq = None;
    for e in &corrupted {
        let bytes = sent_bytes(e, &counts, &stims, &status);
        match runs.last_mut() {
            Some(run) if last_seq.map(|q: u32| q + 1) == Some(seq(e)) => run.extend(bytes),
            _ => runs.push(bytes),
        }
        last_seq = Some(seq(e));
    }
    let skipped: u64 = runs.iter().map(|r| r.len() as u64).sum();
    let checked: u64 = runs.iter().map(|r| syncs(r)).sum();
    let intact_sync = corrupted
        .iter()
        .filter(|e| match e {
            FaultEvent::Corrupt { altered, .. } => altered.iter().all(|&(at, _)| at >= 2),
            _ => false,
        })
        .count() as u64;
    eprintln!(
        "corruption: {corrupt} frames in {} runs, {skipped} bytes, {intact_sync} with their sync \
         intact, {} chance markers; host: {} CRC failures, {} resyncs, {} bytes skipped",
        runs.len(),
        checked - intact_sync,
        s.crc_failures,
        s.resyncs,
        s.bytes_skipped
    );
    assert_eq!(
        s.data_frames,
        summary.frames_sent - corrupt,
        "every frame sent intact is delivered, no corrupted one"
    );
    assert_eq!(
        s.bytes_skipped, skipped,
        "exactly the corrupted frames' bytes are discarded"
    );
    assert_eq!(
        s.crc_failures, checked,
        "one CRC failure per sync marker in the discarded bytes"
    );
    assert!(
        s.resyncs >= runs.len() as u64,
        "at least one skip per run of corrupted frames: {s:?}"
    );
    // Frames missing by sequence number: the corrupted, the dropped and those the device
    // produced while unplugged (whole frames of 20).
    let lost_frames: u64 = logged
        .iter()
        .map(|e| match e {
            FaultEvent::Corrupt { .. } | FaultEvent::Drop { .. } => 1,
            FaultEvent::Disconnect { frames, .. } => frames / 20,
            _ => 0,
        })
        .sum();
    assert_eq!(s.lost_frames, lost_frames);

    // Status bits: every frame sent with them is counted, unless it was corrupted (its bits
    // went with it); the ranges are those of the log.
    let corrupt_seq: Vec<u32> = corrupted.iter().map(|e| seq(e)).collect();
    let sat: Vec<(u64, u64)> = logged
        .iter()
        .filter_map(|e| match *e {
            FaultEvent::Saturation {
                sequence,
                first_sample,
                frames,
                ..
            } if !corrupt_seq.contains(&sequence) => Some((first_sample, frames)),
            _ => None,
        })
        .collect();
    assert_eq!(s.saturated_frames, sat.len() as u64);
    assert!(s.saturated_frames >= 5, "{s:?}");
    let host_sat: Vec<(u64, u64)> = host
        .events()
        .iter()
        .filter_map(|e| match *e {
            LinkEvent::Saturation {
                first_sample,
                count,
                channels,
            } => {
                assert_eq!(channels, 0b1001);
                Some((first_sample, count))
            }
            _ => None,
        })
        .collect();
    assert_eq!(host_sat, coalesce(sat));
    assert_eq!(
        s.lead_off_frames,
        logged
            .iter()
            .filter(|e| matches!(e, FaultEvent::LeadOff { sequence, .. } if !corrupt_seq.contains(sequence)))
            .count() as u64
    );
    assert_eq!(host.live_stats().snapshot(), s);

    assert!(s.stalls >= 1);
    for e in &logged {
        if let FaultEvent::Stall { first_sample, .. } = e {
            assert!(
                host.events().contains(&LinkEvent::Stall {
                    sample: *first_sample
                }),
                "stall before sample {first_sample} noticed: {:?}",
                host.events()
            );
        }
    }
    // Reconnection: from the instant the emulator had the link back (its new pseudo-terminal
    // open and the stable path pointing at it, `back_unix_us` in its log) to the instant the
    // source had the device's answer again (`at_unix_us` of its Reconnect event), both on the
    // wall clock; the n-th reconnection answers the n-th disconnection.
    let back: Vec<u64> = logged
        .iter()
        .filter_map(|e| match e {
            FaultEvent::Disconnect { back_unix_us, .. } => {
                Some(back_unix_us.expect("the emulator logs when the link came back"))
            }
            _ => None,
        })
        .collect();
    let again: Vec<(u64, u64)> = host
        .events()
        .iter()
        .filter_map(|e| match e {
            LinkEvent::Reconnect {
                at_unix_us,
                down_ms,
                ..
            } => Some((*at_unix_us, *down_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(again.len(), back.len());
    for (b, (at, down_ms)) in back.iter().zip(&again) {
        let after_us = *at as i128 - *b as i128;
        eprintln!(
            "reconnected {:.1} ms after the device came back ({down_ms} ms after the failure, \
             device away 200 ms)",
            after_us as f64 / 1e3
        );
        assert!(
            (0..=1_000_000).contains(&after_us),
            "reconnect within 1 s of the device coming back, took {after_us} µs"
        );
    }

    // No corrupted sample passes: everything delivered equals the clean stream.
    let (want, _) = expected(FRAMES_30S, &cfg);
    let ch = rec.channels;
    let mut delivered = 0u64;
    for (f, (got, exp)) in rec.data.chunks(ch).zip(want.chunks(ch)).enumerate() {
        let lost = faulted
            .iter()
            .any(|&(a, c)| (a..a + c).contains(&(f as u64)));
        if lost {
            assert!(got.iter().all(|v| v.is_nan()), "frame {f} was lost");
        } else {
            delivered += 1;
            assert!(
                got.iter().zip(exp).all(|(a, b)| a.to_bits() == b.to_bits()),
                "frame {f} must be bit-exact"
            );
        }
    }
    assert_eq!(delivered, s.samples_delivered);

    // Measurements: untouched sweeps identical to a clean run, touched ones flagged.
    let clean_rec = {
        let amp = start(amp_config(FRAMES_30S));
        let mut host = open_host(&amp.path, FRAMES_30S);
        let r = record(&mut host, FRAMES_30S);
        amp.finish();
        r
    };
    let clean = measure(&clean_rec, &info);
    let faulty = measure(&rec, &info);
    let pre = PRE_MS * 20; // samples at 20 kHz
    let post = POST_MS * 20;
    let (mut same, mut flagged, mut vanished) = (0, 0, 0);
    for c in &clean {
        let window = c.sample_index.saturating_sub(pre)..c.sample_index + post;
        let touched = faulted
            .iter()
            .any(|&(a, n)| a < window.end && a + n > window.start);
        match faulty.iter().find(|m| m.sample_index == c.sample_index) {
            Some(m) if touched => {
                assert!(m.response.flags.contains(Flag::DataGap), "{m:?} flagged");
                flagged += 1;
            }
            Some(m) => {
                assert_eq!(
                    m.response, c.response,
                    "untouched sweep at {}",
                    c.sample_index
                );
                same += 1;
            }
            None => {
                // Only a stimulus whose own frame was lost can vanish.
                assert!(
                    faulted
                        .iter()
                        .any(|&(a, n)| (a..a + n).contains(&c.sample_index)),
                    "stimulus at {} vanished",
                    c.sample_index
                );
                vanished += 1;
            }
        }
    }
    eprintln!("sweeps: {same} identical, {flagged} flagged, {vanished} lost with their mark");
    assert!(
        same >= 2 && flagged >= 1,
        "both kinds present: {same} same, {flagged} flagged"
    );
}
