//! Zero allocations on the acquisition and processing threads after start, with every
//! consumer attached (analysis, output, recorder).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ncs_runtime::pipeline::{Analyzer, Hooks, Role};
use ncs_runtime::recorder::session_meta;
use ncs_runtime::{run, CollectMeasurements, Measurement, Overflow, PipelineConfig, Recorder};

use crate::alloc::thread_allocations;
use crate::common::*;

#[derive(Default)]
struct Probe {
    /// Per role: allocations of the thread at start and at stop.
    start: [AtomicUsize; 2],
    stop: [AtomicUsize; 2],
    started: [AtomicUsize; 2],
}

fn slot(role: Role) -> usize {
    match role {
        Role::Acquisition => 0,
        Role::Processing => 1,
    }
}

impl Hooks for Probe {
    fn started(&self, role: Role) {
        self.start[slot(role)].store(thread_allocations(), Ordering::SeqCst);
        self.started[slot(role)].fetch_add(1, Ordering::SeqCst);
    }
    fn stopping(&self, role: Role) {
        self.stop[slot(role)].store(thread_allocations(), Ordering::SeqCst);
    }
}

/// An analyzer that allocates freely (it runs on its own thread).
struct Allocating(Vec<String>);
impl Analyzer for Allocating {
    type Update = String;
    fn on_measurement(&mut self, m: &Measurement, updates: &mut Vec<String>) {
        let s = format!("stimulus {} present {}", m.seq, m.response.present);
        self.0.push(s.clone());
        updates.push(s);
    }
}

/// Runs `source` with every consumer attached and returns the allocations the acquisition and
/// processing threads made between their start and stop hooks.
fn allocations_after_start<S: ncs_runtime::Source + 'static>(
    source: S,
) -> (ncs_runtime::Summary, [usize; 2]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alloc.nwb");
    let meta = session_meta(source.info(), "alloc", "2024-05-01T09:30:00Z");
    let writer = ncs_io::SessionWriter::create(&path, &meta).unwrap();
    let probe = Arc::new(Probe::default());
    let config = PipelineConfig {
        overflow: Overflow::Wait,
        block_frames: 128,
        hooks: Some(probe.clone()),
        traces: true,
        ..PipelineConfig::default()
    };
    let done = run(
        source,
        config,
        Allocating(Vec::new()),
        CollectMeasurements::default(),
        Some(Recorder::new(writer).with_default_measurements()),
        no_stop(),
    )
    .unwrap();
    let s = done.summary;
    assert_eq!(done.analyzer.0.len() as u64, s.measurements);
    // Every measured sweep's trace is offered to the display (a full queue drops the oldest
    // unshown, never blocks); each trace belongs to a measured sweep.
    let traces = &done.output.traces;
    assert!(traces.len() as u64 <= s.processor.measured);
    assert_eq!(traces.is_empty(), s.processor.measured == 0);
    for t in traces {
        assert!(done.output.measurements.iter().any(|m| m.seq == t.seq));
        assert!(t.points > 0 && t.mv[..t.points].iter().all(|v| v.is_finite()));
    }
    assert_eq!(s.recorder.as_ref().unwrap().rows, s.measurements);
    assert!(s.recorder.as_ref().unwrap().error.is_none());
    let mut n = [0; 2];
    for role in [Role::Acquisition, Role::Processing] {
        let k = slot(role);
        assert_eq!(probe.started[k].load(Ordering::SeqCst), 1);
        n[k] = probe.stop[k].load(Ordering::SeqCst) - probe.start[k].load(Ordering::SeqCst);
    }
    (s, n)
}

/// The pipeline's own work (rings, marks, gaps, emitting to every consumer, histograms,
/// forwarding to the recorder) with the measurement core left out: every stimulus falls in a
/// device-side gap, so each is reported (flagged) through all the channels but none is
/// measured.
#[test]
fn pipeline_threads_do_not_allocate_after_start() {
    let _g = serial();
    let rec = short_study();
    let losses: Vec<(u64, u64)> = rec
        .marks
        .iter()
        .map(|m| (m.sample_index - 50, 100))
        .collect();
    let (s, n) = allocations_after_start(rec.memory().repeat(1).with_source_loss(losses));
    assert_eq!(s.frames, rec.frames());
    assert_eq!(s.measurements, rec.marks.len() as u64);
    assert_eq!(s.incomplete, s.measurements);
    assert_eq!(s.gaps.len(), rec.marks.len());
    assert_eq!(
        n,
        [0, 0],
        "allocations after start [acquisition, processing]"
    );
}

/// The whole processing thread, measurement included: the scratch is readied for the sweep
/// length and both measurement settings when the processor is built.
#[test]
fn measuring_threads_do_not_allocate_after_start() {
    let _g = serial();
    let rec = short_study();
    let (s, n) = allocations_after_start(rec.memory().repeat(2));
    assert!(s.processor.measured > 0);
    assert_eq!(
        n,
        [0, 0],
        "allocations after start [acquisition, processing]"
    );
}

#[test]
fn the_probe_sees_allocations() {
    // The counter the test above relies on does count this thread's allocations.
    let before = thread_allocations();
    let v = std::hint::black_box(vec![1u8; 100]);
    assert!(thread_allocations() > before);
    drop(v);
}

/// The simulated amplifier (the default source of `ncs acquire` and `ncs demo`) reads without
/// allocating too: its responses play from window buffers kept ready.
#[test]
fn the_simulated_amplifier_reads_without_allocating() {
    let _g = serial();
    let mut sc = ncs_sim::scenario("median-worked-example").unwrap();
    sc.lead_in_s = 0.5;
    sc.site_gap_s = 0.2;
    sc.stim_rate_hz = 5.0;
    let source = ncs_runtime::SimSource::new(&sc, ncs_runtime::Pace::Max).unwrap();
    let (s, n) = allocations_after_start(source);
    assert!(s.processor.measured >= 10, "{}", s.processor.measured);
    assert_eq!(
        n,
        [0, 0],
        "allocations after start [acquisition, processing]"
    );
}

/// A simulated patient fired on demand allocates nothing either.
#[test]
fn a_simulated_patient_fires_without_allocating() {
    struct Firing {
        inner: ncs_runtime::SimSource,
        place: ncs_runtime::StimulusTag,
        reads: u64,
    }
    impl ncs_runtime::Source for Firing {
        fn info(&self) -> &ncs_runtime::SourceInfo {
            self.inner.info()
        }
        fn read(
            &mut self,
            frames: &mut [f32],
            marks: &mut Vec<ncs_runtime::StimulusMark>,
        ) -> Result<ncs_runtime::ReadOutcome, ncs_runtime::SourceError> {
            self.reads += 1;
            // Every 200 reads of 128 frames at 20 kHz (1.28 s): a stimulus at the wrist.
            if self.reads % 200 == 0 {
                self.inner.fire(&ncs_runtime::FireRequest {
                    intensity_ma: 20.0,
                    pulse_width_us: 200,
                    placement: Some(&self.place),
                })?;
            }
            self.inner.read(frames, marks)
        }
    }
    let _g = serial();
    let sc = ncs_sim::scenario("median-worked-example").unwrap();
    let inner = ncs_runtime::SimSource::on_demand(&sc, ncs_runtime::Pace::Max, 20.0).unwrap();
    let place = ncs_runtime::StimulusTag {
        nerve: Some("median".into()),
        side: Some("right".into()),
        site: Some("wrist".into()),
        channel: Some(0),
        ..Default::default()
    };
    let (s, n) = allocations_after_start(Firing {
        inner,
        place,
        reads: 0,
    });
    assert!(s.processor.measured >= 10, "{}", s.processor.measured);
    assert_eq!(
        n,
        [0, 0],
        "allocations after start [acquisition, processing]"
    );
}
