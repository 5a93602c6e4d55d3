//! The protocol's per-frame status bits: every saturated or lead-off frame the emulator sends
//! is counted, listed as a sample range with its channels, and readable live.

use ncs_serial::LinkEvent;
use ncs_virtual_amp::{FaultEvent, FaultPlan};

use crate::common::*;

#[test]
fn every_saturated_and_lead_off_frame_is_counted_with_its_samples() {
    let total = 40_000;
    let mut cfg = amp_config(total);
    cfg.faults = FaultPlan {
        // A saturation of 3 frames, a single one, and one that a lead-off overlaps.
        saturations: vec![2_000, 10_010, 30_000],
        lead_offs: vec![5_000, 30_020],
        status_frames: 3,
        status_channels: 0b101,
        ..FaultPlan::default()
    };
    let amp = start(cfg.clone());
    let mut host = open_host(&amp.path, total);
    let live = host.live_stats();
    let rec = record(&mut host, total);
    let logged = amp.finish().faults;

    let frames = |sat: bool| -> Vec<(u64, u64, u32)> {
        logged
            .iter()
            .filter_map(|e| match *e {
                FaultEvent::Saturation {
                    first_sample,
                    frames,
                    channels,
                    ..
                } if sat => Some((first_sample, frames, channels)),
                FaultEvent::LeadOff {
                    first_sample,
                    frames,
                    channels,
                    ..
                } if !sat => Some((first_sample, frames, channels)),
                _ => None,
            })
            .collect()
    };
    let (sat, lead) = (frames(true), frames(false));
    // Each injection marks 3 frames of 20 samples, from the first frame at or after it.
    assert_eq!(
        sat.iter().map(|f| f.0).collect::<Vec<_>>(),
        vec![2_000, 2_020, 2_040, 10_020, 10_040, 10_060, 30_000, 30_020, 30_040]
    );
    assert_eq!(
        lead.iter().map(|f| f.0).collect::<Vec<_>>(),
        vec![5_000, 5_020, 5_040, 30_020, 30_040, 30_060]
    );
    assert!(sat.iter().chain(&lead).all(|f| f.1 == 20 && f.2 == 0b101));

    let s = host.stats();
    assert_eq!(s.saturated_frames, sat.len() as u64);
    assert_eq!(s.lead_off_frames, lead.len() as u64);
    let ranges = |v: &[(u64, u64, u32)]| coalesce(v.iter().map(|f| (f.0, f.1)).collect());
    let want: Vec<LinkEvent> = {
        // In the order the host meets them: by first sample, saturation first at a tie.
        let mut w: Vec<(u64, u8, LinkEvent)> = ranges(&sat)
            .into_iter()
            .map(|(first_sample, count)| {
                (
                    first_sample,
                    0,
                    LinkEvent::Saturation {
                        first_sample,
                        count,
                        channels: 0b101,
                    },
                )
            })
            .chain(ranges(&lead).into_iter().map(|(first_sample, count)| {
                (
                    first_sample,
                    1,
                    LinkEvent::LeadOff {
                        first_sample,
                        count,
                        channels: 0b101,
                    },
                )
            }))
            .collect();
        w.sort_by_key(|(f, k, _)| (*f, *k));
        w.into_iter().map(|(_, _, e)| e).collect()
    };
    assert_eq!(want.len(), 5, "{want:?}");
    assert_eq!(host.events(), want.as_slice(), "ranges as sample indices");
    assert_eq!(live.snapshot(), s, "counts readable live");
    assert_eq!(live.report().status, want, "ranges readable live");

    // The bits say something about the samples; they do not change them.
    assert_contiguous(&rec, total);
    let (volts, _) = expected(total, &cfg);
    assert!(rec
        .data
        .iter()
        .zip(&volts)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
}
