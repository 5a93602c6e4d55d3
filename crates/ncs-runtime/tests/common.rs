//! Shared helpers: a short simulated study, offline processing, serialised pipeline runs.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};

use ncs_runtime::{
    Measurement, MemorySource, Pace, Processor, ProcessorConfig, SimSource, Source, SourceInfo,
    StimulusMark, StimulusTag,
};

/// Pipeline tests measure process-wide memory and timing: run them one at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn no_stop() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

/// The worked-example median study, stimulated at 5 Hz with short pauses (a few seconds).
pub fn short_scenario() -> ncs_sim::Scenario {
    let mut s = ncs_sim::scenario("median-worked-example").unwrap();
    s.stim_rate_hz = 5.0;
    s.site_gap_s = 0.2;
    s.lead_in_s = 0.05;
    s.tail_s = 0.1;
    s
}

/// `n` samples of deterministic white noise of 10 µV RMS (volts; uniform, from a xorshift
/// generator started at `seed`).
pub fn noise_10uv(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) as f32 * 3.46e-5
        })
        .collect()
}

/// A whole source read into memory.
pub struct Recorded {
    pub info: SourceInfo,
    pub tags: Vec<StimulusTag>,
    pub data: Vec<f32>,
    pub marks: Vec<StimulusMark>,
}

impl Recorded {
    pub fn frames(&self) -> u64 {
        (self.data.len() / self.info.channels) as u64
    }

    pub fn memory(&self) -> MemorySource {
        MemorySource::new(
            self.info.clone(),
            self.data.clone(),
            self.marks.clone(),
            self.tags.clone(),
        )
    }
}

pub fn read_all(mut src: impl Source) -> Recorded {
    let info = src.info().clone();
    let tags = src.tags().to_vec();
    let mut data = Vec::new();
    let mut marks = Vec::new();
    let mut buf = vec![0.0f32; 4096 * info.channels];
    let mut m = Vec::with_capacity(256);
    loop {
        m.clear();
        match src.read(&mut buf, &mut m).unwrap() {
            ncs_runtime::ReadOutcome::Frames { frames, .. } => {
                data.extend_from_slice(&buf[..frames * info.channels]);
                marks.extend_from_slice(&m);
            }
            ncs_runtime::ReadOutcome::Lost { .. } => panic!("no loss expected"),
            ncs_runtime::ReadOutcome::End => break,
        }
    }
    Recorded {
        info,
        tags,
        data,
        marks,
    }
}

pub fn short_study() -> Recorded {
    read_all(SimSource::new(&short_scenario(), Pace::Max).unwrap())
}

/// The processor run on one thread over `rec` in blocks of `block` frames, with optional gaps
/// (announced where they start, their frames skipped).
pub fn offline(
    cfg: &ProcessorConfig,
    rec: &Recorded,
    block: usize,
    gaps: &[(u64, u64)],
) -> Vec<Measurement> {
    let mut p = Processor::new(cfg.clone(), &rec.info, rec.tags.clone()).unwrap();
    let mut out = Vec::new();
    let ch = rec.info.channels;
    let n = rec.frames();
    let mut pos = 0u64;
    let mut sink = |m: &Measurement| out.push(*m);
    while pos < n {
        if let Some(&(g0, gc)) = gaps.iter().find(|g| g.0 == pos) {
            p.gap(g0, gc);
            let marks: Vec<_> = rec
                .marks
                .iter()
                .copied()
                .filter(|m| m.sample_index >= g0 && m.sample_index < g0 + gc)
                .collect();
            p.push(g0 + gc, &[], &marks, &mut sink);
            pos = g0 + gc;
            continue;
        }
        let mut end = (pos + block as u64).min(n);
        if let Some(&(g0, _)) = gaps.iter().find(|g| g.0 > pos && g.0 < end) {
            end = g0;
        }
        let marks: Vec<_> = rec
            .marks
            .iter()
            .copied()
            .filter(|m| m.sample_index >= pos && m.sample_index < end)
            .collect();
        p.push(
            pos,
            &rec.data[pos as usize * ch..end as usize * ch],
            &marks,
            &mut sink,
        );
        pos = end;
    }
    p.finish(&mut sink);
    out
}
