//! Injected faults: every one is noticed and accounted for, no corrupted sample passes, and
//! the measurements of untouched sweeps equal those of a clean run.

use ncs_cmap::Flag;
use ncs_runtime::{Measurement, Processor, ProcessorConfig, ReadOutcome, Source};
use ncs_serial::LinkEvent;
use ncs_virtual_amp::{FaultEvent, FaultPlan};

use crate::common::*;

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
    assert!(
        s.crc_failures + s.resyncs >= corrupt,
        "each corrupted frame fails a check: {s:?}"
    );
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
    for e in host.events() {
        if let LinkEvent::Reconnect { down_ms, .. } = e {
            eprintln!("reconnected after {down_ms} ms (device away 200 ms)");
        }
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
