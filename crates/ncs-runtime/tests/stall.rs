//! A stalled processing thread makes the ring overflow: the gap is recorded with exact
//! indices (summary, processor, session), the sweeps it touches are flagged, every other
//! measurement is identical to an un-stalled run, and memory does not grow with the stall.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ncs_cmap::Flag;
use ncs_runtime::pipeline::Hooks;
use ncs_runtime::recorder::session_meta;
use ncs_runtime::{
    run, CollectMeasurements, GapReason, NoAnalysis, Overflow, Pace, PipelineConfig, Processor,
    ProcessorConfig, Recorder,
};

use crate::alloc::{peak_bytes, reset_peak};
use crate::common::*;

struct Stall {
    at: u64,
    for_: Duration,
    done: AtomicBool,
}

impl Hooks for Stall {
    fn before_block(&self, first_sample: u64) {
        if first_sample >= self.at && !self.done.swap(true, Ordering::SeqCst) {
            std::thread::sleep(self.for_);
        }
    }
}

const BLOCK: usize = 200;
/// 1.5 s of signal: 150 ms of wall time at 10× pace, ample for a busy machine, under a third
/// of the stall.
const RING: usize = 30_000;

fn live(
    rec: &Recorded,
    repeats: u64,
    stall: Option<(u64, Duration)>,
    path: &std::path::Path,
) -> (ncs_runtime::Summary, Vec<ncs_runtime::Measurement>, usize) {
    let meta = session_meta(&rec.info, "stall", "2024-05-01T09:30:00Z");
    let writer = ncs_io::SessionWriter::create(path, &meta).unwrap();
    let hooks: Option<Arc<dyn Hooks>> = stall.map(|(at, for_)| {
        Arc::new(Stall {
            at,
            for_,
            done: AtomicBool::new(false),
        }) as Arc<dyn Hooks>
    });
    let config = PipelineConfig {
        overflow: Overflow::Drop,
        block_frames: BLOCK,
        ring_frames: RING,
        hooks,
        ..PipelineConfig::default()
    };
    let base = reset_peak();
    let done = run(
        rec.memory()
            .repeat(repeats)
            .paced(Pace::RealTime { speed: 10.0 }),
        config,
        NoAnalysis,
        CollectMeasurements::default(),
        Some(Recorder::new(writer)),
        no_stop(),
    )
    .unwrap();
    let grew = peak_bytes().saturating_sub(base);
    (done.summary, done.output.measurements, grew)
}

fn overlaps(s: u64, pre: u64, post: u64, g0: u64, g1: u64) -> bool {
    s.saturating_sub(pre) < g1 && s + post > g0
}

#[test]
fn stalled_consumer_loses_an_exact_gap_and_flags_only_its_sweeps() {
    let _g = serial();
    let rec = short_study();
    let repeats = 3;
    let total = rec.frames() * repeats;
    let dir = tempfile::tempdir().unwrap();
    let stall_at = (total / 3) / BLOCK as u64 * BLOCK as u64;
    let (s, live_m, grew_stalled) = live(
        &rec,
        repeats,
        Some((stall_at, Duration::from_millis(500))),
        &dir.path().join("stalled.nwb"),
    );
    let (s_ref, ref_m, grew_ref) = live(&rec, repeats, None, &dir.path().join("ref.nwb"));

    // The un-stalled run lost nothing and equals the processor run offline.
    assert!(
        s_ref.gaps.is_empty(),
        "reference run lost data: {:?}",
        s_ref.gaps
    );
    let cfg = ProcessorConfig::default();
    let long = Recorded {
        info: rec.info.clone(),
        tags: rec.tags.clone(),
        data: rec.data.repeat(repeats as usize),
        marks: (0..repeats)
            .flat_map(|r| {
                let (marks, n) = (&rec.marks, rec.frames());
                marks
                    .iter()
                    .map(move |m| ncs_runtime::StimulusMark::new(m.sample_index + r * n, m.tag))
            })
            .collect(),
    };
    assert_eq!(ref_m, offline(&cfg, &long, 4096, &[]));

    // Exactly one gap, made of whole dropped blocks, after the stall point and no further than
    // the ring could hold.
    assert_eq!(s.gaps.len(), 1, "gaps: {:?}", s.gaps);
    let g = s.gaps[0];
    assert_eq!(g.reason, GapReason::RingOverflow);
    assert_eq!(g.first_sample % BLOCK as u64, 0);
    assert_eq!(g.count % BLOCK as u64, 0);
    assert!(g.first_sample >= stall_at);
    assert!(g.first_sample <= stall_at + (RING + 2 * BLOCK) as u64);
    assert!(
        g.count >= 20_000,
        "a 400 ms stall at 10× pace drops ~60000 frames, got {}",
        g.count
    );
    assert_eq!(g.count, s.acquisition.dropped_frames);
    assert_eq!(s.processor.lost_frames, g.count);
    assert_eq!(s.frames, total);

    // Same stimuli; those whose window touches the gap are flagged, the rest identical.
    let p = Processor::new(cfg.clone(), &rec.info, rec.tags.clone()).unwrap();
    let (pre, post) = (p.pre_samples() as u64, p.post_samples() as u64);
    assert_eq!(live_m.len(), ref_m.len());
    let mut flagged = 0;
    for (a, b) in live_m.iter().zip(&ref_m) {
        assert_eq!(
            (a.seq, a.sample_index, a.tag),
            (b.seq, b.sample_index, b.tag)
        );
        if overlaps(
            a.sample_index,
            pre,
            post,
            g.first_sample,
            g.first_sample + g.count,
        ) {
            assert!(
                a.response.flags.contains(Flag::DataGap),
                "stimulus {} not flagged",
                a.seq
            );
            assert!(!a.response.present);
            flagged += 1;
        } else {
            assert_eq!(a, b, "stimulus {} changed", a.seq);
        }
    }
    assert!(flagged > 0, "the gap should cover some stimuli");
    assert_eq!(s.incomplete, flagged);

    // The session holds the same gap, placeholders in it and the data elsewhere.
    let sess = ncs_io::Session::open(dir.path().join("stalled.nwb"), None).unwrap();
    let gaps = sess.gaps().unwrap();
    assert_eq!(gaps.len(), 1);
    assert_eq!(
        (gaps[0].first_sample, gaps[0].sample_count),
        (g.first_sample, g.count)
    );
    assert_eq!(sess.info().n_samples, total);
    let all = sess.read_frames_vec(0, total as usize).unwrap();
    for (i, &x) in all.iter().enumerate() {
        let f = i as u64;
        if f >= g.first_sample && f < g.first_sample + g.count {
            assert_eq!(x, 0.0);
        } else {
            assert_eq!(x as f32, long.data[i], "frame {f}");
        }
    }

    // Memory: the stall did not make anything grow (the ~70 000 dropped frames would be
    // 280 kB; allow less than that over the un-stalled run).
    assert!(
        grew_stalled <= grew_ref + 256 * 1024,
        "stalled run grew {grew_stalled} B, un-stalled {grew_ref} B"
    );
}
