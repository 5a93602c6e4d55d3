//! A whole study, streamed: interleaved f32 frames block by block, the list of stimuli, and the
//! truth of each stimulus on demand.
//!
//! Memory is bounded by the scenario's plan, not by the session's length: noise, mains and
//! drift are generated sample by sample, and only the responses whose sweep window covers the
//! current position are held (one window per active stimulus). The stimulus list is metadata
//! (a few dozen bytes per stimulus); the truth waveform of a stimulus is recomputed when asked.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::error::SimError;
use crate::impair::{add_artefact, ChannelGen};
use crate::nerve::{Modality, NerveModel, Side};
use crate::scenario::Scenario;
use crate::seed::{self, tag};
use crate::truth::{self, TrueMeasures};

/// One stimulus of the study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stimulus {
    /// Ordinal of the stimulus in the study (0-based).
    pub index: usize,
    /// Absolute frame index of the stimulus instant.
    pub sample_index: u64,
    /// Time of the stimulus from the start of the stream (s).
    pub time_s: f64,
    /// Nerve name.
    pub nerve: String,
    /// Index of the nerve in the scenario.
    pub nerve_index: usize,
    /// Body side.
    pub side: Side,
    /// Site name.
    pub site: String,
    /// Index of the site in the nerve (0 = most distal).
    pub site_index: usize,
    /// Motor or sensory.
    pub modality: Modality,
    /// Distance from the site to the active recording electrode (mm).
    pub distance_mm: f64,
    /// Recording channel.
    pub channel: usize,
    /// Stimulus intensity (mA).
    pub intensity_ma: f64,
    /// Sweep number at this intensity (0-based).
    pub sweep: usize,
    /// TRUE: every axon at this site is recruited (the response no longer grows).
    pub supramaximal: bool,
}

/// The truth of one stimulus: its noise-free response over the sweep window and its measures.
#[derive(Debug, Clone, PartialEq)]
pub struct StimulusTruth {
    /// Ordinal of the stimulus.
    pub stimulus: usize,
    /// Sample rate (Hz).
    pub sample_rate_hz: f64,
    /// Absolute frame index of `clean[0]`.
    pub window_start: u64,
    /// Index of the stimulus instant in `clean`.
    pub stimulus_offset: usize,
    /// Noise-free response (volts) over the sweep window (pre_ms before to post_ms after).
    pub clean: Vec<f64>,
    /// TRUE measures of `clean`; `None` if nothing is recruited or everything is blocked.
    pub measures: Option<TrueMeasures>,
    /// Fraction of the nerve's axons recruited at this intensity.
    pub recruited_fraction: f64,
    /// Fraction of the nerve's axons that conduct from this site to the recording electrode.
    pub conducting_fraction: f64,
}

/// A response (+ artefact) being played into the stream.
#[derive(Debug)]
struct Active {
    start: u64,
    channel: usize,
    samples: Vec<f64>,
}

/// The study as a stream of interleaved f32 frames (volts).
#[derive(Debug)]
pub struct StudySource {
    scenario: Scenario,
    models: Vec<NerveModel>,
    stimuli: Vec<Stimulus>,
    gens: Vec<ChannelGen>,
    pre: usize,
    post: usize,
    pulse: u64,
    total_frames: u64,
    pos: u64,
    next_stim: usize,
    active: VecDeque<Active>,
    /// Window buffers not in use, so that streaming allocates nothing once started.
    pool: Vec<Vec<f64>>,
    /// The last rendered (nerve, site, intensity bits) response: consecutive sweeps at one
    /// intensity share it.
    cache: Option<((usize, usize, u64), Vec<f64>)>,
}

/// Window buffers kept ready per recording channel: a stimulus plays one window per channel
/// (its response, and artefact crosstalk on the others), and windows overlap at most a few
/// deep at clinical stimulation rates.
const POOL_PER_CHANNEL: usize = 4;

impl StudySource {
    /// Validates the scenario, builds every nerve and lays out the stimuli.
    pub fn new(scenario: &Scenario) -> Result<Self, SimError> {
        scenario.validate()?;
        let fs = scenario.sample_rate_hz;
        let models = scenario
            .nerves
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let s = n
                    .seed
                    .unwrap_or_else(|| seed::derive(scenario.seed, &[tag::NERVE, i as u64]));
                NerveModel::build(n, s, fs)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let frames = |s: f64| (s * fs).round() as u64;
        let period = frames(1.0 / scenario.stim_rate_hz).max(1);
        let mut stimuli = Vec::new();
        let mut t = frames(scenario.lead_in_s);
        for (ni, (n, m)) in scenario.nerves.iter().zip(&models).enumerate() {
            let sweeps = n
                .sweeps_per_intensity
                .unwrap_or(scenario.sweeps_per_intensity);
            for (si, site) in n.sites.iter().enumerate() {
                let supra = m.supramaximal_ma(si);
                let intensities = n.intensity.intensities(supra);
                let last = intensities.len().saturating_sub(1);
                for (k, intensity) in intensities.into_iter().enumerate() {
                    let sweeps = match n.supramaximal_sweeps {
                        Some(s) if k == last => s,
                        _ => sweeps,
                    };
                    for sweep in 0..sweeps {
                        stimuli.push(Stimulus {
                            index: stimuli.len(),
                            sample_index: t,
                            time_s: t as f64 / fs,
                            nerve: n.name.clone(),
                            nerve_index: ni,
                            side: n.side,
                            site: site.name.clone(),
                            site_index: si,
                            modality: n.modality,
                            distance_mm: site.distance_mm,
                            channel: n.channel,
                            intensity_ma: intensity,
                            sweep,
                            supramaximal: intensity >= supra,
                        });
                        t += period;
                    }
                }
                t += frames(scenario.site_gap_s);
            }
        }
        let pre = (scenario.pre_ms * fs / 1000.0).round() as usize;
        let post = ((scenario.post_ms * fs / 1000.0).round() as usize).max(1);
        let last = stimuli.last().map_or(0, |s| s.sample_index);
        let total_frames = last + post as u64 + frames(scenario.tail_s);
        let gens = (0..scenario.channels)
            .map(|c| ChannelGen::new(&scenario.impairments, fs, scenario.seed, c as u64))
            .collect();
        Ok(Self {
            scenario: scenario.clone(),
            models,
            stimuli,
            gens,
            pre,
            post,
            pulse: ((scenario.pulse_ms * fs / 1000.0).round() as u64).max(1),
            total_frames,
            pos: 0,
            next_stim: 0,
            active: VecDeque::with_capacity(POOL_PER_CHANNEL * (scenario.channels + 1)),
            pool: (0..POOL_PER_CHANNEL * (scenario.channels + 1))
                .map(|_| vec![0.0; pre + post])
                .collect(),
            cache: Some(((usize::MAX, usize::MAX, 0), vec![0.0; pre + post])),
        })
    }

    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The built nerve models, in scenario order.
    pub fn models(&self) -> &[NerveModel] {
        &self.models
    }

    /// Every stimulus of the study, in time order.
    pub fn stimuli(&self) -> &[Stimulus] {
        &self.stimuli
    }

    /// Sample rate (Hz).
    pub fn sample_rate_hz(&self) -> f64 {
        self.scenario.sample_rate_hz
    }

    /// Channels per frame, the trigger channel included.
    pub fn channel_count(&self) -> usize {
        self.scenario.channels + usize::from(self.scenario.trigger_channel)
    }

    /// Length of the study in frames.
    pub fn total_frames(&self) -> u64 {
        self.total_frames
    }

    /// Frames written so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Response and artefact samples currently held for playback (a few sweep windows at
    /// most, however long the study): the stream's memory does not grow with its length.
    pub fn buffered_samples(&self) -> usize {
        self.active.iter().map(|a| a.samples.len()).sum::<usize>()
            + self.cache.as_ref().map_or(0, |(_, b)| b.len())
    }

    /// Frames the sweep window has before / after the stimulus instant.
    pub fn window_frames(&self) -> (usize, usize) {
        (self.pre, self.post)
    }

    /// A study with no planned stimulus, `frames` long: a simulated patient on whom the
    /// examiner places the electrode and fires the stimulator ([`StudySource::fire`]). The
    /// scenario's nerves, noise and impairments apply as in a planned study.
    pub fn on_demand(scenario: &Scenario, frames: u64) -> Result<Self, SimError> {
        let mut s = Self::new(scenario)?;
        s.stimuli.clear();
        s.total_frames = frames;
        Ok(s)
    }

    /// Fires a stimulus of `intensity_ma` at the next frame to be filled (at the earliest one
    /// pre-stimulus window into the stream), with the electrode over site `site` of nerve
    /// `nerve` (indices into the scenario), or over no nerve of the scenario (`None`: only the
    /// artefact), recorded on `channel`. Returns whether the electrode was over a nerve.
    /// Fired stimuli are not listed in [`StudySource::stimuli`] (that is the planned study),
    /// so that firing allocates nothing.
    pub fn fire(
        &mut self,
        target: Option<(usize, usize)>,
        channel: usize,
        intensity_ma: f64,
    ) -> bool {
        self.fire_at(self.pos, target, channel, intensity_ma)
    }

    /// As [`StudySource::fire`], at frame `at` (not before the next frame to be filled, nor
    /// before one pre-stimulus window into the stream).
    pub fn fire_at(
        &mut self,
        at: u64,
        target: Option<(usize, usize)>,
        channel: usize,
        intensity_ma: f64,
    ) -> bool {
        let fs = self.scenario.sample_rate_hz;
        let at = at.max(self.pos).max(self.pre as u64);
        let Some((ni, si)) = target.filter(|&(n, s)| {
            self.scenario
                .nerves
                .get(n)
                .is_some_and(|nerve| s < nerve.sites.len())
        }) else {
            let _ = fs;
            self.play(at, None, channel, intensity_ma);
            return false;
        };
        // The recording electrodes are wherever the examiner put them.
        self.play(at, Some((ni, si)), channel, intensity_ma);
        true
    }

    /// The noise-free response of stimulus `k` over the window (volts) and the index of the
    /// stimulus in it.
    fn clean_window(&self, k: usize) -> Option<Vec<f64>> {
        let s = self.stimuli.get(k)?;
        let mut buf = vec![0.0; self.pre + self.post];
        self.models[s.nerve_index].add_response(
            s.site_index,
            s.intensity_ma,
            self.scenario.sample_rate_hz,
            self.pre,
            &mut buf,
        );
        Some(buf)
    }

    /// The truth of stimulus `k` (its noise-free waveform over the sweep window and its TRUE
    /// measures), recomputed on demand; `None` if there is no such stimulus.
    pub fn truth(&self, k: usize) -> Option<StimulusTruth> {
        let s = self.stimuli.get(k)?;
        let clean = self.clean_window(k)?;
        let m = &self.models[s.nerve_index];
        Some(StimulusTruth {
            stimulus: k,
            sample_rate_hz: self.scenario.sample_rate_hz,
            window_start: s.sample_index - self.pre as u64,
            stimulus_offset: self.pre,
            measures: truth::measure(&clean, self.scenario.sample_rate_hz, self.pre),
            clean,
            recruited_fraction: m.recruited_fraction(s.site_index, s.intensity_ma),
            conducting_fraction: m.conducting_fraction(s.site_index),
        })
    }

    /// Starts playing stimulus `k`: its response and artefact over the sweep window.
    fn activate(&mut self, k: usize) {
        let s = &self.stimuli[k];
        let (at, target, channel, intensity) = (
            s.sample_index,
            Some((s.nerve_index, s.site_index)),
            s.channel,
            s.intensity_ma,
        );
        self.play(at, target, channel, intensity);
    }

    /// A zeroed window buffer from the pool (allocated only if more windows overlap than the
    /// pool was sized for).
    fn window(&mut self) -> Vec<f64> {
        let len = self.pre + self.post;
        match self.pool.pop() {
            Some(mut b) => {
                b.clear();
                b.resize(len, 0.0);
                b
            }
            None => vec![0.0; len],
        }
    }

    /// Plays a stimulus at frame `at` from site `target` (nerve, site) or from no nerve,
    /// recorded on `channel`: its response and artefact over the sweep window, and the
    /// artefact's crosstalk on the other channels.
    fn play(&mut self, at: u64, target: Option<(usize, usize)>, channel: usize, intensity: f64) {
        let channel = channel.min(self.scenario.channels.saturating_sub(1));
        let fs = self.scenario.sample_rate_hz;
        let mut samples = self.window();
        if let Some((ni, si)) = target {
            let key = (ni, si, intensity.to_bits());
            if let Some((ck, buf)) = &mut self.cache {
                if *ck != key {
                    buf.iter_mut().for_each(|v| *v = 0.0);
                    self.models[ni].add_response(si, intensity, fs, self.pre, buf);
                    *ck = key;
                }
                samples.copy_from_slice(buf);
            }
        }
        let start = at - self.pre as u64;
        if let Some(a) = self.scenario.impairments.artefact.clone() {
            add_artefact(&a, intensity, fs, self.pre, &mut samples);
            let crosstalk = self.scenario.impairments.artefact_crosstalk;
            if crosstalk > 0.0 {
                for c in (0..self.scenario.channels).filter(|&c| c != channel) {
                    let mut other = self.window();
                    add_artefact(&a, intensity * crosstalk, fs, self.pre, &mut other);
                    self.active.push_back(Active {
                        start,
                        channel: c,
                        samples: other,
                    });
                }
            }
        }
        self.active.push_back(Active {
            start,
            channel,
            samples,
        });
    }

    /// Fills `out` with whole interleaved frames (channel fastest, volts, clipped at the
    /// rails) and returns how many frames were written: `out.len() / channel_count()` until
    /// the study ends, then fewer, then 0. The samples do not depend on how the study is cut
    /// into blocks.
    pub fn fill(&mut self, out: &mut [f32]) -> usize {
        let nch = self.channel_count();
        let rec = self.scenario.channels;
        let want = (out.len() / nch) as u64;
        let frames = want.min(self.total_frames - self.pos) as usize;
        for f in 0..frames {
            let abs = self.pos + f as u64;
            while let Some(s) = self.stimuli.get(self.next_stim) {
                if s.sample_index - self.pre as u64 > abs {
                    break;
                }
                let k = self.next_stim;
                self.next_stim += 1;
                self.activate(k);
            }
            while self
                .active
                .front()
                .is_some_and(|a| a.start + a.samples.len() as u64 <= abs)
            {
                if let Some(a) = self.active.pop_front() {
                    if self.pool.len() < self.pool.capacity() {
                        self.pool.push(a.samples);
                    }
                }
            }
            let frame = &mut out[f * nch..(f + 1) * nch];
            for (ch, o) in frame.iter_mut().enumerate().take(rec) {
                let mut v = self.gens[ch].next_sample();
                for a in &self.active {
                    if a.channel == ch && abs >= a.start {
                        if let Some(x) = a.samples.get((abs - a.start) as usize) {
                            v += x;
                        }
                    }
                }
                *o = self.scenario.impairments.clip(v).0 as f32;
            }
            if self.scenario.trigger_channel {
                let on = self.stimuli[..self.next_stim]
                    .iter()
                    .rev()
                    .take(2)
                    .any(|s| abs >= s.sample_index && abs < s.sample_index + self.pulse);
                frame[rec] = if on { 1.0 } else { 0.0 };
            }
        }
        self.pos += frames as u64;
        frames
    }
}
