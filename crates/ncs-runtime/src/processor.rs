//! Stimulus-locked processing of a sample stream: keep a bounded history, find or take the
//! stimuli, cut a sweep around each one once its window is complete, suppress the artefact and
//! measure the response. Pure (no threads, no I/O), so offline analysis and the live pipeline run
//! exactly the same code: `ncs analyze` feeds a file through a [`Processor`] on one thread, the
//! live pipeline feeds it from the ring buffer on its processing thread.
//!
//! Timing contract: [`Processor::push`] does a bounded amount of work per frame and per completed
//! sweep and allocates nothing after construction as long as blocks stay within
//! `max_block_frames` and pending stimuli within `max_pending`.

use std::collections::VecDeque;

use ncs_block::Modality;
use ncs_cmap::{
    Averager, Flag, Flags, Markers, MeasureConfig, Measurer, Response, Scratch, SweepView,
    MIN_BASELINE_SAMPLES, MIN_WINDOW_SAMPLES,
};
use ncs_dsp::sweep::SuppressScratch;
use ncs_dsp::{
    ArtefactConfig, ArtefactDetector, ArtefactState, Cascade, CascadeConfig, CascadeState,
    FilterSpec, Suppression, SweepConfig, SweepExtractor, TriggerConfig, TriggerDetector,
    TriggerState, ZeroPhase,
};

use crate::source::{SourceInfo, StimulusMark, StimulusTag};

/// How stimuli are found.
#[derive(Debug, Clone, PartialEq)]
pub enum Detection {
    /// The source marks them (trigger line wired to the amplifier, simulator, stimuli table).
    Marks,
    /// A trigger channel: level crossings with hysteresis and a refractory period.
    Trigger {
        /// Channel carrying the trigger.
        channel: usize,
        /// Levels, edge and refractory period.
        config: TriggerConfig,
    },
    /// No trigger at all: the stimulus artefact on a recording channel.
    Artefact {
        /// Channel to search.
        channel: usize,
    },
}

/// Processing settings; [`Processor::new`] checks them.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessorConfig {
    /// Pre-stimulus baseline kept in each sweep (ms). 20 ms spans a whole mains period at 50 Hz,
    /// so the baseline model can remove mains from the baseline alone.
    pub pre_ms: f64,
    /// Post-stimulus window (ms). The default, 100 ms, is longer than the 20–50 ms shown
    /// clinically so that the baseline is seen again after slow proximal responses, which pins
    /// down the drift and artefact-tail terms of the baseline model.
    pub post_ms: f64,
    /// Stimulus artefact suppression applied to each sweep before measuring.
    pub suppression: Suppression,
    /// Longest artefact blanked (ms).
    pub max_blank_ms: f64,
    /// High-pass (Hz, Butterworth order 2) applied causally to the stream, as an amplifier's
    /// hardware high-pass is, or none (the default, and what `ncs` uses). The measurer's
    /// baseline model removes offsets and drift without it, and run in software after a
    /// large stimulus artefact a high-pass shifts the baseline the onset is measured against
    /// (by up to milliseconds on small proximal responses in the simulated studies). Causal,
    /// because run forward and backward over a short sweep its slow response reaches back
    /// before the response; its delay at a CMAP's frequencies is a few µs
    /// ([`Processor::filter_delay_ms`]).
    pub highpass_hz: Option<f64>,
    /// Low-pass (Hz, Butterworth order 4) applied to each finished sweep, zero-phase
    /// (forward–backward, as `scipy.signal.sosfiltfilt`), so that it does not delay the
    /// latencies; or none (clinical band-pass: about 2–10 Hz to 10 kHz, clinical.md §1).
    pub lowpass_hz: Option<f64>,
    /// Notch (Hz, Q 30) applied to each finished sweep, zero-phase, or none. The measurer
    /// models mains in the baseline; a notch removes harmonics as well, but rings around the
    /// response.
    pub notch_hz: Option<f64>,
    /// Motor measurement settings.
    pub motor: MeasureConfig,
    /// Sensory measurement settings.
    pub sensory: MeasureConfig,
    /// How stimuli are found.
    pub detection: Detection,
    /// Channel measured for stimuli whose tag names none.
    pub default_channel: usize,
    /// Most frames one `push` may carry without growing buffers.
    pub max_block_frames: usize,
    /// Most stimuli waiting for their window to complete.
    pub max_pending: usize,
    /// Fastest conduction a response is searched for (m/s): a stimulus whose description
    /// gives its distance to the recording electrode is not searched for a response earlier
    /// than that distance takes at this velocity, where only the stimulus artefact's remnant
    /// can be (human motor and sensory fibres conduct at up to about 75 m/s). `None` searches
    /// from the artefact's end.
    pub max_velocity_m_s: Option<f64>,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        ProcessorConfig {
            pre_ms: 20.0,
            post_ms: 100.0,
            suppression: Suppression::Blank,
            max_blank_ms: 1.0,
            highpass_hz: None,
            lowpass_hz: None,
            notch_hz: None,
            motor: MeasureConfig::default(),
            sensory: MeasureConfig::sensory(),
            detection: Detection::Marks,
            default_channel: 0,
            max_block_frames: 16_384,
            max_pending: 256,
            max_velocity_m_s: Some(120.0),
        }
    }
}

/// A processing setting or stimulus description that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    /// A filter, trigger, artefact or sweep setting was refused.
    // The message carries the cause; it is not also chained as a source, or a report of
    // the chain (`{:#}`) would say it twice.
    #[error("processing setting refused: {0}")]
    Dsp(ncs_dsp::DspError),
    /// A measurement setting was refused.
    #[error("measurement setting refused: {0}")]
    Measure(ncs_cmap::Error),
    /// A channel named by a setting or a stimulus does not exist.
    #[error(
        "{what} names channel {channel}, but the recording has {channels} channel(s) (0-based)"
    )]
    Channel {
        /// What named it.
        what: String,
        /// The channel.
        channel: usize,
        /// Channels available.
        channels: usize,
    },
    /// A size or rate setting is zero (or not a positive number).
    #[error("processing setting `{0}` must be > 0")]
    Zero(&'static str),
}

impl From<ncs_dsp::DspError> for ProcessorError {
    fn from(e: ncs_dsp::DspError) -> Self {
        ProcessorError::Dsp(e)
    }
}

impl From<ncs_cmap::Error> for ProcessorError {
    fn from(e: ncs_cmap::Error) -> Self {
        ProcessorError::Measure(e)
    }
}

/// One measured (or flagged) stimulus.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// Order of the stimulus in the stream, from 0.
    pub seq: u64,
    /// Absolute sample index of the stimulus.
    pub sample_index: u64,
    /// Stimulus instant on the session clock (s).
    pub stimulus_time_s: f64,
    /// Index into the source's tags, when known.
    pub tag: Option<u32>,
    /// Intensity of this stimulus (mA) as its mark gave it, which takes precedence over the
    /// tag's intensity.
    pub intensity_ma: Option<f64>,
    /// Channel measured.
    pub channel: usize,
    /// Motor or sensory (sensory responses are measured on the running average of their site at
    /// their intensity).
    pub modality: Modality,
    /// The result.
    pub response: Response,
    /// Where the markers fell, as ms from the stimulus.
    pub markers_ms: Option<MarkersMs>,
    /// Sweeps in the average measured (1 for motor responses).
    pub averaged_sweeps: usize,
    /// Absolute index one past the last sample of the sweep window: the sample whose arrival
    /// completed the sweep (latency is counted from it).
    pub window_end_sample: u64,
}

/// Markers in ms from the stimulus.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarkersMs {
    /// Onset.
    pub onset: f64,
    /// Negative peak.
    pub negative_peak: f64,
    /// End of the negative phase.
    pub negative_end: Option<f64>,
    /// Positive peak.
    pub positive_peak: Option<f64>,
    /// Final return to baseline.
    pub end: Option<f64>,
}

/// The examiner's rejection of a sweep already measured (by its order in the stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RejectRequest {
    /// [`Measurement::seq`] of the sweep.
    pub seq: u64,
    /// Its stimulus frame.
    pub sample_index: u64,
    /// Its tag (which says whether it went into a sensory average).
    pub tag: Option<u32>,
}

/// What became of a [`RejectRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectOutcome {
    /// The sweep is out: a motor sweep is simply dropped, a sensory sweep was taken out of its
    /// site's running average exactly.
    Rejected,
    /// A sensory sweep that newer sweeps of its site were averaged after: it can no longer be
    /// taken out exactly, so the rejection is refused.
    NotLastInAverage,
    /// No sweep with that order was measured.
    Unknown,
}

/// A rejection as the processor carried it out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rejection {
    /// [`Measurement::seq`] of the sweep.
    pub seq: u64,
    /// Its stimulus frame.
    pub sample_index: u64,
    /// Its stimulus instant on the session clock (s), as in its measurement.
    pub stimulus_time_s: f64,
    /// What happened.
    pub outcome: RejectOutcome,
}

/// Receives measurements as sweeps complete.
pub trait MeasurementSink {
    /// Called once per stimulus, in stimulus order.
    fn on_measurement(&mut self, m: &Measurement);

    /// The sweep a measurement was made on (volts; the running average for a sensory
    /// response), its stimulus at index `pre`, just before [`on_measurement`] for it. For
    /// display; must not allocate.
    ///
    /// [`on_measurement`]: MeasurementSink::on_measurement
    fn on_sweep(&mut self, _seq: u64, _samples: &[f64], _pre: usize) {}
}

impl<F: FnMut(&Measurement)> MeasurementSink for F {
    fn on_measurement(&mut self, m: &Measurement) {
        self(m)
    }
}

/// Counters of what the processor had to skip or flag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProcessorStats {
    /// Frames pushed.
    pub frames: u64,
    /// Frames announced lost (gaps).
    pub lost_frames: u64,
    /// Stimuli seen.
    pub stimuli: u64,
    /// Sweeps measured.
    pub measured: u64,
    /// Sweeps flagged and not measured because their window overlapped lost data, started
    /// before the stream or ended after it.
    pub incomplete: u64,
    /// Stimuli dropped because too many were pending (the oldest go first).
    pub dropped_pending: u64,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    seq: u64,
    sample: u64,
    tag: Option<u32>,
    intensity_ua: Option<u32>,
}

/// The streaming stimulus-locked processor. See the module docs.
pub struct Processor {
    cfg: ProcessorConfig,
    fs: f64,
    channels: usize,
    starting_time_s: f64,
    tags: Vec<StimulusTag>,
    /// Per tag: channel, modality and sensory-average slot.
    tag_info: Vec<(usize, Modality, Option<usize>)>,
    /// Causal stream filter (the high-pass).
    stream_filter: Option<(Cascade, CascadeState)>,
    filtered: Vec<f32>,
    /// Zero-phase sweep filter (low-pass, notch) and its buffers.
    sweep_filter: Option<SweepFilter>,
    /// Interleaved history of the last `cap` frames (volts).
    history: Vec<f64>,
    cap: usize,
    /// Frames seen (including lost ones): the absolute index of the next frame.
    written: u64,
    pending: VecDeque<Pending>,
    gaps: VecDeque<(u64, u64)>,
    extractor: SweepExtractor,
    suppress_scratch: SuppressScratch,
    pre: usize,
    post: usize,
    sweep: Vec<f64>,
    average: Vec<f64>,
    motor: Measurer,
    sensory: Measurer,
    scratch: Scratch,
    averagers: Vec<Averager>,
    /// Per average: the order of the last sweep added.
    averaged_last: Vec<Option<u64>>,
    /// The last stimulus measured or reported (absolute sample), whose response may reach into
    /// the next one's baseline.
    last_stimulus: Option<u64>,
    /// Per average: the intensity (µA) of the sweeps in it, once it holds any.
    averaged_intensity: Vec<Option<Option<u32>>>,
    trigger: Option<(TriggerDetector, TriggerState, usize)>,
    artefact: Option<(ArtefactDetector, ArtefactState, usize)>,
    channel_buf: Vec<f64>,
    found: Vec<u64>,
    seq: u64,
    stats: ProcessorStats,
}

/// A zero-phase filter for finished sweeps with its preallocated buffers.
struct SweepFilter {
    zp: ZeroPhase,
    out: Vec<f64>,
    scratch: Vec<f64>,
    causal_delay_ms: f64,
}

/// Gaps remembered for flagging sweeps (older gaps have left the history anyway).
const MAX_GAPS: usize = 64;

/// A window ends this long (ms) before the next stimulus inside it: its artefact is not this
/// stimulus's response.
const NEXT_STIMULUS_GUARD_MS: f64 = 0.5;
/// A baseline starts this long (ms) after a previous stimulus inside it.
const PREVIOUS_STIMULUS_GUARD_MS: f64 = 1.0;
/// Shortest post-stimulus part (ms) a cut-short window is measured on.
const MIN_TRUNCATED_POST_MS: f64 = 10.0;
/// Shortest baseline (ms) a cut-short window is measured with.
const MIN_TRUNCATED_PRE_MS: f64 = 2.0;

impl Processor {
    /// Prepares a processor for a stream described by `info`, whose stimuli may refer to `tags`.
    pub fn new(
        cfg: ProcessorConfig,
        info: &SourceInfo,
        tags: Vec<StimulusTag>,
    ) -> Result<Self, ProcessorError> {
        let fs = info.sample_rate_hz;
        let channels = info.channels;
        if channels == 0 {
            return Err(ProcessorError::Zero("channels"));
        }
        if cfg.max_block_frames == 0 {
            return Err(ProcessorError::Zero("max_block_frames"));
        }
        if cfg.max_pending == 0 {
            return Err(ProcessorError::Zero("max_pending"));
        }
        if cfg
            .max_velocity_m_s
            .is_some_and(|v| !(v.is_finite() && v > 0.0))
        {
            return Err(ProcessorError::Zero("max_velocity_m_s"));
        }
        let check_channel = |what: String, channel: usize| {
            if channel >= channels {
                Err(ProcessorError::Channel {
                    what,
                    channel,
                    channels,
                })
            } else {
                Ok(())
            }
        };
        check_channel("default_channel".into(), cfg.default_channel)?;
        let extractor = SweepConfig {
            sample_rate_hz: fs,
            pre_ms: cfg.pre_ms,
            post_ms: cfg.post_ms,
            suppression: cfg.suppression,
            max_blank_ms: cfg.max_blank_ms,
            tail_fit_end_ms: (cfg.max_blank_ms + 0.5).min(cfg.post_ms * 0.5),
        }
        .build()?;
        let pre = extractor.pre_samples();
        let post = extractor.len() - pre;
        let motor = cfg.motor.build()?;
        let sensory = cfg.sensory.build()?;
        let stream_filter = match cfg.highpass_hz {
            Some(f) => {
                let c = CascadeConfig {
                    sample_rate_hz: fs,
                    channels,
                    stages: vec![FilterSpec::Highpass {
                        order: 2,
                        cutoff_hz: f,
                    }],
                }
                .build()?;
                let st = c.new_state();
                Some((c, st))
            }
            None => None,
        };
        let mut stages = Vec::new();
        if let Some(f) = cfg.lowpass_hz {
            stages.push(FilterSpec::Lowpass {
                order: 4,
                cutoff_hz: f,
            });
        }
        if let Some(f) = cfg.notch_hz {
            stages.push(FilterSpec::Notch {
                freq_hz: f,
                q: 30.0,
            });
        }
        let sweep_filter = if stages.is_empty() {
            None
        } else {
            let c = CascadeConfig {
                sample_rate_hz: fs,
                channels: 1,
                stages,
            }
            .build()?;
            let zp = ZeroPhase::new(&c);
            let causal_delay_ms = c.group_delay_ms(300.0);
            let len = pre + post;
            if len <= zp.padlen() {
                return Err(ProcessorError::Dsp(ncs_dsp::DspError::TooShort {
                    len,
                    padlen: zp.padlen(),
                }));
            }
            Some(SweepFilter {
                out: vec![0.0; len],
                scratch: vec![0.0; zp.scratch_len(len)],
                causal_delay_ms,
                zp,
            })
        };
        let mut tag_info = Vec::with_capacity(tags.len());
        // Sensory sweeps are averaged per nerve, side, site and channel (and intensity: see
        // `measure`).
        let mut groups: Vec<(&StimulusTag, usize)> = Vec::new();
        for (i, t) in tags.iter().enumerate() {
            let ch = t.channel.unwrap_or(cfg.default_channel);
            check_channel(format!("stimulus {i} ({})", describe(t)), ch)?;
            let modality = t.modality.unwrap_or(Modality::Motor);
            let slot = (modality == Modality::Sensory).then(|| {
                let same = |g: &(&StimulusTag, usize)| {
                    g.0.nerve == t.nerve && g.0.side == t.side && g.0.site == t.site && g.1 == ch
                };
                groups.iter().position(same).unwrap_or_else(|| {
                    groups.push((t, ch));
                    groups.len() - 1
                })
            });
            tag_info.push((ch, modality, slot));
        }
        let len = pre + post;
        let averagers = (0..groups.len()).map(|_| Averager::new(len, pre)).collect();
        let averaged_last = vec![None; groups.len()];
        let averaged_intensity = vec![None; groups.len()];
        let trigger = match &cfg.detection {
            Detection::Trigger { channel, config } => {
                check_channel("trigger channel".into(), *channel)?;
                let d = TriggerConfig {
                    sample_rate_hz: fs,
                    ..*config
                }
                .build()?;
                let s = d.new_state();
                Some((d, s, *channel))
            }
            _ => None,
        };
        let artefact = match &cfg.detection {
            Detection::Artefact { channel } => {
                check_channel("artefact channel".into(), *channel)?;
                let d = ArtefactConfig::new(fs).build()?;
                let s = d.new_state();
                Some((d, s, *channel))
            }
            _ => None,
        };
        // History: a whole sweep plus the largest block, so a stimulus whose window completes
        // inside a block can still reach back to its baseline.
        let cap = len + cfg.max_block_frames + 1;
        // Both settings' regressors computed now, so that measuring allocates nothing.
        let mut scratch = Scratch::with_capacity(len, 256);
        motor.prepare(fs, len, &mut scratch);
        sensory.prepare(fs, len, &mut scratch);
        Ok(Processor {
            fs,
            channels,
            starting_time_s: info.starting_time_s,
            tags,
            tag_info,
            stream_filter,
            filtered: Vec::with_capacity(cfg.max_block_frames * channels),
            sweep_filter,
            history: vec![0.0; cap * channels],
            cap,
            written: 0,
            pending: VecDeque::with_capacity(cfg.max_pending),
            gaps: VecDeque::with_capacity(MAX_GAPS),
            suppress_scratch: extractor.scratch(),
            extractor,
            pre,
            post,
            sweep: Vec::with_capacity(len),
            average: Vec::with_capacity(len),
            motor,
            sensory,
            scratch,
            averagers,
            averaged_last,
            averaged_intensity,
            last_stimulus: None,
            trigger,
            artefact,
            channel_buf: Vec::with_capacity(cfg.max_block_frames),
            found: Vec::with_capacity(64),
            seq: 0,
            stats: ProcessorStats::default(),
            cfg,
        })
    }

    /// The stimulus descriptions stimuli refer to.
    pub fn tags(&self) -> &[StimulusTag] {
        &self.tags
    }

    /// What was skipped or flagged so far.
    pub fn stats(&self) -> ProcessorStats {
        self.stats
    }

    /// Sample rate (Hz).
    pub fn sample_rate_hz(&self) -> f64 {
        self.fs
    }

    /// Samples before the stimulus in each sweep.
    pub fn pre_samples(&self) -> usize {
        self.pre
    }

    /// Samples after the stimulus in each sweep.
    pub fn post_samples(&self) -> usize {
        self.post
    }

    /// Group delay (ms at 300 Hz, the middle of a CMAP's band) that the causal stream filter
    /// (the high-pass) adds to every latency; 0 without one. Latencies are not corrected by
    /// it: a 2-Hz high-pass delays a CMAP by a few µs. The sweep filters (low-pass, notch) are
    /// zero-phase and add none.
    pub fn filter_delay_ms(&self) -> f64 {
        self.stream_filter
            .as_ref()
            .map_or(0.0, |(c, _)| c.group_delay_ms(300.0))
    }

    /// The group delay (ms at 300 Hz) the sweep filters (low-pass, notch) would add if they
    /// ran causally, as an amplifier's hardware filters do; they run forward and backward
    /// instead, so this is what separates these latencies from a causally filtered machine's.
    pub fn avoided_delay_ms(&self) -> f64 {
        self.sweep_filter
            .as_ref()
            .map_or(0.0, |f| f.causal_delay_ms)
    }

    /// Announces that `count` frames from `first_sample` were lost. Sweeps overlapping them are
    /// flagged [`Flag::DataGap`] and not measured.
    pub fn gap(&mut self, first_sample: u64, count: u64) {
        if count == 0 {
            return;
        }
        if self.gaps.len() == MAX_GAPS {
            self.gaps.pop_front();
        }
        self.gaps.push_back((first_sample, first_sample + count));
        self.stats.lost_frames += count;
        // Lost frames still advance the stream position: hold zeros in their place.
        if first_sample + count > self.written {
            let from = self.written.max(first_sample);
            for f in from..first_sample + count {
                let at = (f % self.cap as u64) as usize * self.channels;
                self.history[at..at + self.channels].fill(0.0);
            }
            self.written = first_sample + count;
        }
    }

    /// Feeds `frames` (interleaved volts) starting at absolute frame `first_sample`, with the
    /// stimulus marks that fall in them. A jump forward in `first_sample` is taken as lost data.
    /// Completed sweeps are measured and reported to `sink` in stimulus order.
    pub fn push(
        &mut self,
        first_sample: u64,
        frames: &[f32],
        marks: &[StimulusMark],
        sink: &mut dyn MeasurementSink,
    ) {
        if first_sample > self.written {
            self.gap(self.written, first_sample - self.written);
        }
        let ch = self.channels;
        let n = frames.len() / ch;
        // Frames at or before what was already seen are ignored (a source must not repeat).
        let skip = (self.written.saturating_sub(first_sample) as usize).min(n);
        let frames = &frames[skip * ch..n * ch];
        let n = n - skip;
        let start = self.written;
        // Stream filter.
        let data: &[f32] = match &mut self.stream_filter {
            Some((c, st)) => {
                self.filtered.clear();
                self.filtered.extend_from_slice(frames);
                c.process_in_place(st, &mut self.filtered);
                &self.filtered
            }
            None => frames,
        };
        // Into the history ring in contiguous runs: no division per frame.
        let (mut at, mut rest) = ((start % self.cap as u64) as usize, data);
        while !rest.is_empty() {
            let (run, next) = rest.split_at((self.cap - at).min(rest.len() / ch) * ch);
            for (h, &x) in self.history[at * ch..at * ch + run.len()]
                .iter_mut()
                .zip(run)
            {
                *h = f64::from(x);
            }
            (at, rest) = (0, next);
        }
        self.stats.frames += n as u64;
        // Stimuli.
        self.found.clear();
        if let Some((d, st, c)) = &mut self.trigger {
            self.channel_buf.clear();
            self.channel_buf
                .extend(data.chunks_exact(ch).map(|f| f64::from(f[*c])));
            let found = &mut self.found;
            d.process(st, &self.channel_buf, |i| found.push(i));
        }
        if let Some((d, st, c)) = &mut self.artefact {
            self.channel_buf.clear();
            self.channel_buf
                .extend(data.chunks_exact(ch).map(|f| f64::from(f[*c])));
            let found = &mut self.found;
            d.process(st, &self.channel_buf, |i| found.push(i));
        }
        self.written = start + n as u64;
        if self.cfg.detection == Detection::Marks {
            for m in marks {
                self.enqueue(m.sample_index, m.tag, m.intensity_ua, sink);
            }
        } else {
            for k in 0..self.found.len() {
                let i = self.found[k];
                self.enqueue(i, None, None, sink);
            }
        }
        self.complete(false, sink);
    }

    /// Ends the stream: stimuli whose window can no longer complete are reported flagged.
    pub fn finish(&mut self, sink: &mut dyn MeasurementSink) {
        if let Some((d, st, _)) = &mut self.artefact {
            let found = &mut self.found;
            found.clear();
            d.finish(st, |i| found.push(i));
            for k in 0..self.found.len() {
                let i = self.found[k];
                self.enqueue(i, None, None, sink);
            }
        }
        self.complete(true, sink);
    }

    /// Rejects a measured sweep: a sensory sweep comes out of its site's running average
    /// (exactly, when it is the last one added), so later averages are what they would have
    /// been without it. Allocation-free.
    pub fn reject(&mut self, r: &RejectRequest) -> Rejection {
        let stimulus_time_s = self.starting_time_s + r.sample_index as f64 / self.fs;
        let outcome = if r.seq >= self.seq {
            RejectOutcome::Unknown
        } else {
            let tag = r.tag.filter(|&t| (t as usize) < self.tags.len());
            match self.channel_and_modality(tag).2 {
                None => RejectOutcome::Rejected,
                Some(slot) if self.averaged_last[slot] == Some(r.seq) => {
                    if self.averagers[slot].remove_last() {
                        self.averaged_last[slot] = None;
                        RejectOutcome::Rejected
                    } else {
                        RejectOutcome::NotLastInAverage
                    }
                }
                Some(_) => RejectOutcome::NotLastInAverage,
            }
        };
        Rejection {
            seq: r.seq,
            sample_index: r.sample_index,
            stimulus_time_s,
            outcome,
        }
    }

    fn enqueue(
        &mut self,
        sample: u64,
        tag: Option<u32>,
        intensity_ua: Option<u32>,
        sink: &mut dyn MeasurementSink,
    ) {
        if self.pending.len() == self.cfg.max_pending {
            // Keep the newest; the oldest is reported unmeasured rather than silently lost.
            if let Some(old) = self.pending.pop_front() {
                self.stats.dropped_pending += 1;
                self.report_unmeasured(old, Flag::DataGap, sink);
            }
        }
        let tag = tag.filter(|&t| (t as usize) < self.tags.len());
        self.pending.push_back(Pending {
            seq: self.seq,
            sample,
            tag,
            intensity_ua,
        });
        self.seq += 1;
        self.stats.stimuli += 1;
    }

    /// Measures (or reports unmeasured) the pending stimuli whose windows are complete. A
    /// window ends early at the next stimulus (less a guard for its artefact) and, at the end of
    /// the stream, at the last sample; its baseline starts after the previous stimulus when that
    /// one lies inside it. Such a sweep is measured on what there is, flagged
    /// [`Flag::WindowTruncated`], when at least [`MIN_TRUNCATED_POST_MS`] after and
    /// [`MIN_TRUNCATED_PRE_MS`] before the stimulus remain.
    fn complete(&mut self, at_end: bool, sink: &mut dyn MeasurementSink) {
        let fs = self.fs;
        let ms = move |v: f64| (v * 1e-3 * fs).round() as u64;
        while let Some(&p) = self.pending.front() {
            let full_end = p.sample + self.post as u64;
            let next = self
                .pending
                .get(1)
                .map(|q| q.sample)
                .filter(|&q| q > p.sample && q < full_end + ms(NEXT_STIMULUS_GUARD_MS));
            let mut end = next.map_or(full_end, |q| q.saturating_sub(ms(NEXT_STIMULUS_GUARD_MS)));
            end = end.min(full_end);
            if end > self.written && !at_end {
                break;
            }
            self.pending.pop_front();
            end = end.min(self.written).max(p.sample);
            let full_start = p.sample.checked_sub(self.pre as u64);
            let start = match (full_start, self.last_stimulus) {
                (Some(s), Some(prev)) if prev < p.sample => {
                    Some(s.max(prev + ms(PREVIOUS_STIMULUS_GUARD_MS)))
                }
                (s, _) => s,
            };
            // The previous stimulus's window reaching into this baseline: its response may too.
            let after_previous = self
                .last_stimulus
                .is_some_and(|prev| full_start.is_some_and(|s| prev + self.post as u64 > s));
            self.last_stimulus = Some(p.sample);
            let in_history = start.is_some_and(|s| s + (self.cap as u64) >= self.written);
            let gap = self
                .gaps
                .iter()
                .any(|&(a, b)| start.is_some_and(|s| a < end && b > s));
            let truncated = end < full_end || start != full_start || after_previous;
            let enough = start.is_some_and(|s| {
                p.sample.saturating_sub(s)
                    >= ms(MIN_TRUNCATED_PRE_MS).max(MIN_BASELINE_SAMPLES as u64)
            }) && end - p.sample
                >= ms(MIN_TRUNCATED_POST_MS).max(MIN_WINDOW_SAMPLES as u64);
            match (start, in_history && !gap && (!truncated || enough)) {
                (Some(s), true) => self.measure(p, (s, end), truncated, sink),
                _ if gap || !in_history => self.report_unmeasured(p, Flag::DataGap, sink),
                _ => self.report_unmeasured(p, Flag::WindowTruncated, sink),
            }
        }
    }

    fn channel_and_modality(&self, tag: Option<u32>) -> (usize, Modality, Option<usize>) {
        tag.map_or((self.cfg.default_channel, Modality::Motor, None), |t| {
            self.tag_info[t as usize]
        })
    }

    fn base(&self, p: Pending, channel: usize, modality: Modality) -> Measurement {
        Measurement {
            seq: p.seq,
            sample_index: p.sample,
            stimulus_time_s: self.starting_time_s + p.sample as f64 / self.fs,
            tag: p.tag,
            intensity_ma: p.intensity_ua.map(|ua| f64::from(ua) / 1000.0),
            channel,
            modality,
            response: Response::default(),
            markers_ms: None,
            averaged_sweeps: 0,
            window_end_sample: p.sample + self.post as u64,
        }
    }

    fn report_unmeasured(&mut self, p: Pending, why: Flag, sink: &mut dyn MeasurementSink) {
        let (channel, modality, _) = self.channel_and_modality(p.tag);
        let mut m = self.base(p, channel, modality);
        let mut flags = Flags::empty();
        flags.insert(why);
        m.response.flags = flags;
        self.stats.incomplete += 1;
        sink.on_measurement(&m);
    }

    /// Measures the stimulus `p` on the samples `start..end` of its window, `truncated` when
    /// that is not the whole window or the previous stimulus's window reaches into its baseline
    /// (see [`Processor::complete`]).
    fn measure(
        &mut self,
        p: Pending,
        (start, end): (u64, u64),
        truncated: bool,
        sink: &mut dyn MeasurementSink,
    ) {
        let (channel, modality, slot) = self.channel_and_modality(p.tag);
        let first = p.sample - self.pre as u64;
        let (lo, hi) = ((start - first) as usize, (end - first) as usize);
        if truncated && slot.is_some() {
            // A sensory average holds whole windows only.
            self.report_unmeasured(p, Flag::WindowTruncated, sink);
            return;
        }
        self.sweep.clear();
        for f in first..first + (self.pre + self.post) as u64 {
            let at = (f % self.cap as u64) as usize * self.channels;
            self.sweep.push(self.history[at + channel]);
        }
        // Outside the part kept, the window holds another stimulus or samples not yet (or no
        // longer) in the record: held at the nearest kept sample, so that blanking and filtering
        // see no step, and left out of the measurement below.
        let (head, tail) = (self.sweep[lo], self.sweep[hi - 1]);
        self.sweep[..lo].fill(head);
        self.sweep[hi..].fill(tail);
        let artefact_end = self
            .extractor
            .suppress_with(&mut self.sweep, &mut self.suppress_scratch);
        // Filtered after the artefact is blanked, so that the filter does not spread it.
        if let Some(f) = &mut self.sweep_filter {
            if f.zp
                .filtfilt_into(&self.sweep, &mut f.out, &mut f.scratch)
                .is_ok()
            {
                self.sweep.copy_from_slice(&f.out);
            }
        }
        let mut m = self.base(p, channel, modality);
        // The stimulus's intensity: its mark's, else its description's (a recorded session's
        // stimuli table), to the µA.
        let intensity_ua = p.intensity_ua.or_else(|| {
            let tag = self.tags.get(p.tag? as usize)?;
            tag.intensity_ma
                .filter(|ma| ma.is_finite() && *ma >= 0.0)
                .map(|ma| (ma * 1000.0).round().min(f64::from(u32::MAX)) as u32)
        });
        let (samples, averaged) = match slot {
            Some(slot) => {
                let avg = &mut self.averagers[slot];
                // A site's sweeps are averaged at one intensity: a new intensity starts a new
                // average, so that submaximal sweeps never dilute a supramaximal response.
                if self.averaged_intensity[slot] != Some(intensity_ua) {
                    avg.reset();
                    self.averaged_intensity[slot] = Some(intensity_ua);
                }
                // Same shape by construction, so adding cannot fail.
                let _ = avg.add(&self.sweep, self.pre);
                self.averaged_last[slot] = Some(p.seq);
                avg.mean_into(&mut self.average);
                (&self.average, avg.count())
            }
            None => (&self.sweep, 1),
        };
        let samples = &samples[lo..hi];
        // The earliest onset the nerve can deliver: its distance at the fastest conduction.
        let earliest_ms = p
            .tag
            .and_then(|t| self.tags.get(t as usize)?.distance_mm)
            .zip(self.cfg.max_velocity_m_s)
            .map_or(0.0, |(mm, v)| mm / v);
        let view = SweepView::new(samples, self.fs, self.pre - lo)
            .and_then(|v| match artefact_end {
                Some(e) if e < hi && e >= self.pre => v.with_artefact_end(e - lo),
                _ => Ok(v),
            })
            .map(|v| v.with_earliest_onset_ms(earliest_ms));
        let Ok(view) = view else {
            // Non-finite samples cannot come from a checked source; report rather than guess.
            self.report_unmeasured(p, Flag::DataGap, sink);
            return;
        };
        let (response, markers) = match modality {
            Modality::Motor => {
                let d = self.motor.measure_detailed(&view, &mut self.scratch);
                (d.response, d.markers)
            }
            Modality::Sensory => {
                let r = self.sensory.measure_sensory(&view, &mut self.scratch);
                (r, None)
            }
        };
        let stim = self.pre - lo;
        let to_ms = |i: f64| (i - stim as f64) * 1e3 / self.fs;
        sink.on_sweep(p.seq, samples, stim);
        m.response = response;
        m.window_end_sample = end;
        if truncated {
            m.response.flags.insert(Flag::WindowTruncated);
        }
        m.averaged_sweeps = averaged;
        m.markers_ms = markers.map(|k: Markers| MarkersMs {
            onset: to_ms(k.onset),
            negative_peak: to_ms(k.negative_peak),
            negative_end: k.negative_end.map(to_ms),
            positive_peak: k.positive_peak.map(to_ms),
            end: k.end.map(to_ms),
        });
        self.stats.measured += 1;
        sink.on_measurement(&m);
    }
}

fn describe(t: &StimulusTag) -> String {
    format!(
        "{} {} {}",
        t.nerve.as_deref().unwrap_or("?"),
        t.side.as_deref().unwrap_or("?"),
        t.site.as_deref().unwrap_or("?")
    )
}
