//! Between the examiner and the acquisition thread: which step the stimuli belong to, the
//! intensity entered for an external stimulator, and the stimuli to fire.
//!
//! [`ExamSource`] wraps the amplifier's [`Source`] on the acquisition thread. Each stimulus
//! mark that comes out of it is tagged with a step ([`Source::tags`] are the protocol's
//! steps) and an intensity:
//! - a stimulus `ncs` asked for (a [`Steering::fire`] request, carried out by the source
//!   between two reads) is matched to its request in order, and gets the request's step and
//!   intensity; requests whose mark does not come within [`MARK_WAIT_S`] are counted as
//!   unmatched;
//! - any other stimulus (an external stimulator's trigger line) gets the current step and the
//!   intensity the examiner entered, if any.
//!
//! The examiner's side ([`Steering`], on the analysis thread) and the acquisition side share
//! atomics and a single-producer/single-consumer ring: the acquisition thread takes no lock
//! and allocates nothing.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use ncs_runtime::{
    FireRequest, ReadOutcome, Source, SourceError, SourceInfo, StimulusMark, StimulusTag,
};
use ringbuf::traits::{Consumer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};
use serde::Serialize;

use crate::steps::Step;

/// How long a fired stimulus's mark may take to come back (s of signal).
pub const MARK_WAIT_S: f64 = 1.0;

/// Fire requests waiting for the acquisition thread, and fired ones waiting for their mark.
const QUEUE: usize = 64;

/// `u32::MAX` in [`Shared::manual_ua`]: no intensity entered.
const NONE: u32 = u32::MAX;

#[derive(Debug)]
struct Shared {
    step: AtomicU32,
    manual_ua: AtomicU32,
    position: AtomicU64,
    fired: AtomicU64,
    fire_failures: AtomicU64,
    unmatched: AtomicU64,
    external: AtomicU64,
    can_fire: AtomicBool,
}

#[derive(Debug, Clone, Copy)]
struct Fire {
    step: u32,
    intensity_ua: u32,
    pulse_width_us: u16,
}

/// Counts of what the stimulator did, readable from any thread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StimulatorStats {
    /// Stimuli the source fired on request.
    pub fired: u64,
    /// Requests the source refused or failed.
    pub fire_failures: u64,
    /// Fired stimuli whose mark never came back.
    pub unmatched: u64,
    /// Stimuli not fired by `ncs` (an external stimulator's trigger).
    pub external: u64,
}

/// The examiner's handle on the acquisition side (held by the analysis thread).
pub struct Steering {
    shared: Arc<Shared>,
    fire_tx: HeapProd<Fire>,
    pulse_width_us: u16,
    sample_rate_hz: f64,
    starting_time_s: f64,
}

/// A source whose stimuli are tagged with the examiner's steps; see the module docs.
pub struct ExamSource<S> {
    inner: S,
    info: SourceInfo,
    tags: Vec<StimulusTag>,
    shared: Arc<Shared>,
    fire_rx: HeapCons<Fire>,
    /// Fired: (step, intensity µA, stream position when fired).
    waiting: VecDeque<(u32, u32, u64)>,
    wait_frames: u64,
}

impl std::fmt::Debug for Steering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Steering")
            .field("step", &self.shared.step)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<S> std::fmt::Debug for ExamSource<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExamSource")
            .field("info", &self.info)
            .field("steps", &self.tags.len())
            .finish_non_exhaustive()
    }
}

/// Wraps `inner` so that its stimuli are tagged with `steps`; returns the source for the
/// pipeline and the examiner's [`Steering`]. `pulse_width_us` is the pulse fired on request.
pub fn steer<S: Source>(
    inner: S,
    steps: &[Step],
    pulse_width_us: u16,
) -> (ExamSource<S>, Steering) {
    let info = inner.info().clone();
    let shared = Arc::new(Shared {
        step: AtomicU32::new(0),
        manual_ua: AtomicU32::new(NONE),
        position: AtomicU64::new(0),
        fired: AtomicU64::new(0),
        fire_failures: AtomicU64::new(0),
        unmatched: AtomicU64::new(0),
        external: AtomicU64::new(0),
        can_fire: AtomicBool::new(inner.can_fire()),
    });
    let (fire_tx, fire_rx) = HeapRb::<Fire>::new(QUEUE).split();
    let steering = Steering {
        shared: shared.clone(),
        fire_tx,
        pulse_width_us,
        sample_rate_hz: info.sample_rate_hz,
        starting_time_s: info.starting_time_s,
    };
    let wait_frames = (MARK_WAIT_S * info.sample_rate_hz).ceil() as u64;
    let source = ExamSource {
        inner,
        info,
        tags: steps.iter().map(Step::tag).collect(),
        shared,
        fire_rx,
        waiting: VecDeque::with_capacity(QUEUE),
        wait_frames,
    };
    (source, steering)
}

impl Steering {
    /// Tags the stimuli from now on with step `step`.
    pub fn set_step(&self, step: usize) {
        self.shared.step.store(step as u32, Ordering::Release);
    }

    /// The intensity (mA) the examiner entered for an external stimulator, or none.
    pub fn set_manual_intensity(&self, ma: Option<f64>) {
        let ua = ma.map_or(NONE, |m| {
            (m * 1000.0).round().clamp(0.0, (NONE - 1) as f64) as u32
        });
        self.shared.manual_ua.store(ua, Ordering::Release);
    }

    /// Whether the source can fire a stimulator.
    pub fn can_fire(&self) -> bool {
        self.shared.can_fire.load(Ordering::Relaxed)
    }

    /// Asks the acquisition thread to fire one stimulus for `step` at `intensity_ma`; false
    /// when the request queue is full (the source is not reading).
    pub fn fire(&mut self, step: usize, intensity_ma: f64) -> bool {
        self.fire_tx
            .try_push(Fire {
                step: step as u32,
                intensity_ua: (intensity_ma * 1000.0).round().max(0.0) as u32,
                pulse_width_us: self.pulse_width_us,
            })
            .is_ok()
    }

    /// The stream position (session time, s) the acquisition thread has reached.
    pub fn stream_time_s(&self) -> f64 {
        self.starting_time_s
            + self.shared.position.load(Ordering::Acquire) as f64 / self.sample_rate_hz
    }

    /// What the stimulator did so far.
    pub fn stats(&self) -> StimulatorStats {
        StimulatorStats {
            fired: self.shared.fired.load(Ordering::Relaxed),
            fire_failures: self.shared.fire_failures.load(Ordering::Relaxed),
            unmatched: self.shared.unmatched.load(Ordering::Relaxed),
            external: self.shared.external.load(Ordering::Relaxed),
        }
    }
}

impl<S: Source> ExamSource<S> {
    /// The wrapped source.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn fire_requested(&mut self) {
        while let Some(f) = self.fire_rx.try_pop() {
            let request = FireRequest {
                intensity_ma: f64::from(f.intensity_ua) / 1000.0,
                pulse_width_us: f.pulse_width_us,
                placement: self.tags.get(f.step as usize),
            };
            match self.inner.fire(&request) {
                Ok(()) => {
                    if self.waiting.len() == QUEUE {
                        self.waiting.pop_front();
                        self.shared.unmatched.fetch_add(1, Ordering::Relaxed);
                    }
                    let at = self.shared.position.load(Ordering::Relaxed);
                    self.waiting.push_back((f.step, f.intensity_ua, at));
                    self.shared.fired.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    self.shared.fire_failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    fn tag(
        waiting: &mut VecDeque<(u32, u32, u64)>,
        shared: &Shared,
        wait_frames: u64,
        m: &mut StimulusMark,
    ) {
        while let Some(&(_, _, at)) = waiting.front() {
            if m.sample_index > at + wait_frames {
                waiting.pop_front();
                shared.unmatched.fetch_add(1, Ordering::Relaxed);
            } else {
                break;
            }
        }
        if let Some((step, ua, _)) = waiting.pop_front() {
            m.tag = Some(step);
            m.intensity_ua = Some(ua);
        } else {
            m.tag = Some(shared.step.load(Ordering::Acquire));
            let manual = shared.manual_ua.load(Ordering::Acquire);
            if manual != NONE {
                m.intensity_ua = Some(manual);
            }
            shared.external.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl<S: Source> Source for ExamSource<S> {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn tags(&self) -> &[StimulusTag] {
        &self.tags
    }

    fn read(
        &mut self,
        frames: &mut [f32],
        marks: &mut Vec<StimulusMark>,
    ) -> Result<ReadOutcome, SourceError> {
        self.fire_requested();
        let from = marks.len();
        let outcome = self.inner.read(frames, marks)?;
        let end = match outcome {
            ReadOutcome::Frames {
                first_sample,
                frames,
            } => Some(first_sample + frames as u64),
            ReadOutcome::Lost {
                first_sample,
                count,
            } => Some(first_sample + count),
            ReadOutcome::End => None,
        };
        for m in &mut marks[from..] {
            Self::tag(&mut self.waiting, &self.shared, self.wait_frames, m);
        }
        if let Some(end) = end {
            self.shared.position.fetch_max(end, Ordering::Release);
        }
        Ok(outcome)
    }

    fn provenance(&self) -> Vec<(String, String)> {
        self.inner.provenance()
    }

    fn can_fire(&self) -> bool {
        self.inner.can_fire()
    }

    fn fire(&mut self, request: &FireRequest<'_>) -> Result<(), SourceError> {
        self.inner.fire(request)
    }
}
