//! Single sweeps for accuracy grids: one CMAP of a chosen TRUE amplitude, recorded with chosen
//! impairments, with its noise-free waveform and TRUE measures.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{check, SimError};
use crate::impair::{add_artefact, ChannelGen, Impairments};
use crate::nerve::{IntensityPlan, Modality, NerveModel, NerveSpec, Side, SiteSpec};
use crate::seed::{self, tag};
use crate::truth::{self, TrueMeasures};

/// What to generate for one sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepConfig {
    /// Sample rate (Hz), any positive value (4 kHz … 48 kHz and beyond).
    pub sample_rate_hz: f64,
    /// TRUE negative-peak amplitude of the response (mV); the CMAP is scaled so that the
    /// measure of the noise-free samples equals it exactly.
    pub target_amplitude_mv: f64,
    /// Time before the stimulus (ms).
    pub pre_ms: f64,
    /// Time after the stimulus (ms).
    pub post_ms: f64,
    /// Stimulus intensity (mA); scales the artefact only (the response is supramaximal).
    pub intensity_ma: f64,
    /// Noise, mains, drift, artefact, rails.
    pub impairments: Impairments,
    /// Initial positive dip before the negative phase, relative to a unit's negative peak
    /// (0 = none).
    pub positive_dip: f64,
    /// The response's nerve; `None` draws a varied shape from the seed (unit count, CV mean
    /// and spread, unit duration, terminal latency, distance) so detectors are not tuned to
    /// one shape. Its `distal_amplitude_mv` is overridden by `target_amplitude_mv`.
    pub nerve: Option<NerveSpec>,
    /// Seed of everything random in the sweep.
    pub seed: u64,
}

impl SweepConfig {
    /// A clean sweep: 5 ms before, 50 ms after the stimulus, 30 mA, no impairments, shape
    /// drawn from the seed.
    pub fn new(sample_rate_hz: f64, target_amplitude_mv: f64, seed: u64) -> Self {
        Self {
            sample_rate_hz,
            target_amplitude_mv,
            pre_ms: 5.0,
            post_ms: 50.0,
            intensity_ma: 30.0,
            impairments: Impairments::default(),
            positive_dip: 0.0,
            nerve: None,
            seed,
        }
    }

    fn validate(&self) -> Result<(), SimError> {
        check(
            self.sample_rate_hz > 0.0,
            "sample_rate_hz",
            "> 0",
            self.sample_rate_hz,
        )?;
        check(
            self.target_amplitude_mv > 0.0,
            "target_amplitude_mv",
            "> 0",
            self.target_amplitude_mv,
        )?;
        check(self.pre_ms >= 0.0, "pre_ms", ">= 0", self.pre_ms)?;
        check(self.post_ms > 0.0, "post_ms", "> 0", self.post_ms)?;
        check(
            self.intensity_ma >= 0.0,
            "intensity_ma",
            ">= 0",
            self.intensity_ma,
        )?;
        check(
            (0.0..=1.0).contains(&self.positive_dip),
            "positive_dip",
            "in 0..=1",
            self.positive_dip,
        )?;
        self.impairments.validate()
    }

    /// The nerve used for the response: the configured one, or one drawn from the seed.
    pub fn nerve_spec(&self) -> NerveSpec {
        let mut spec = self
            .nerve
            .clone()
            .unwrap_or_else(|| random_median(self.seed));
        spec.distal_amplitude_mv = self.target_amplitude_mv;
        spec.positive_dip = self.positive_dip;
        spec
    }

    /// Generates the sweep: a supramaximal CMAP with its TRUE measures, plus impairments.
    pub fn generate(&self) -> Result<SimSweep, SimError> {
        self.validate()?;
        let spec = self.nerve_spec();
        let model = NerveModel::build(
            &spec,
            spec.seed
                .unwrap_or_else(|| seed::derive(self.seed, &[tag::NERVE])),
            self.sample_rate_hz,
        )?;
        let (stim, len) = self.layout();
        let mut clean = vec![0.0; len];
        model.add_response(0, f64::INFINITY, self.sample_rate_hz, stim, &mut clean);
        // Scale so the TRUE amplitude on these very samples is the target, whatever the
        // window cuts off.
        let mut truth = truth::measure(&clean, self.sample_rate_hz, stim);
        if let Some(t) = truth {
            let k = self.target_amplitude_mv / t.negative_peak_amplitude_mv;
            clean.iter_mut().for_each(|v| *v *= k);
            truth = truth::measure(&clean, self.sample_rate_hz, stim);
        }
        Ok(self.record(clean, stim, truth))
    }

    /// Generates a sweep with no response at all (noise, mains, drift, artefact only), for
    /// false-positive tests; `truth` is `None` and `clean` is all zeros.
    pub fn generate_noise_only(&self) -> Result<SimSweep, SimError> {
        self.validate()?;
        let (stim, len) = self.layout();
        Ok(self.record(vec![0.0; len], stim, None))
    }

    fn layout(&self) -> (usize, usize) {
        let pre = (self.pre_ms * self.sample_rate_hz / 1000.0).round() as usize;
        let post = ((self.post_ms * self.sample_rate_hz / 1000.0).round() as usize).max(1);
        (pre, pre + post)
    }

    fn record(&self, clean: Vec<f64>, stim: usize, truth: Option<TrueMeasures>) -> SimSweep {
        let mut gen = ChannelGen::new(&self.impairments, self.sample_rate_hz, self.seed, 0);
        let mut data: Vec<f64> = clean.iter().map(|c| c + gen.next_sample()).collect();
        if let Some(a) = &self.impairments.artefact {
            add_artefact(a, self.intensity_ma, self.sample_rate_hz, stim, &mut data);
        }
        let mut saturated = false;
        for v in &mut data {
            let (c, hit) = self.impairments.clip(*v);
            *v = c;
            saturated |= hit;
        }
        SimSweep {
            sample_rate_hz: self.sample_rate_hz,
            stimulus_index: stim,
            data,
            clean,
            truth,
            saturated,
            nerve: self.nerve_spec(),
        }
    }
}

/// One simulated sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SimSweep {
    /// Sample rate (Hz).
    pub sample_rate_hz: f64,
    /// Index of the stimulus instant in `data` and `clean`.
    pub stimulus_index: usize,
    /// What the amplifier records (volts): response + noise + mains + drift + artefact,
    /// clipped at the rails.
    pub data: Vec<f64>,
    /// The response alone, noise-free (volts).
    pub clean: Vec<f64>,
    /// TRUE measures of `clean`; `None` for a noise-only sweep.
    pub truth: Option<TrueMeasures>,
    /// Whether any sample of `data` hit a rail.
    pub saturated: bool,
    /// The nerve that produced the response (shape parameters drawn from the seed).
    pub nerve: NerveSpec,
}

/// A median-like motor nerve (APB) with shape parameters drawn from `seed`: 100–300 units, CV
/// 52–62 ± 3–6 m/s, unit negative phase 3.5–5.5 ms, terminal latency 1.9–2.5 ms, distal
/// site 60–80 mm.
pub fn random_median(seed: u64) -> NerveSpec {
    let mut r = seed::rng(seed, &[tag::SHAPE]);
    NerveSpec {
        name: "median".into(),
        side: Side::Right,
        modality: Modality::Motor,
        recording: "APB".into(),
        channel: 0,
        units: r.random_range(100..=300),
        cv_mean_m_s: r.random_range(52.0..62.0),
        cv_sd_m_s: r.random_range(3.0..6.0),
        terminal_latency_ms: r.random_range(1.9..2.5),
        terminal_sd_ms: r.random_range(0.1..0.4),
        distal_amplitude_mv: 8.0,
        unit_duration_ms: r.random_range(3.5..5.5),
        duration_spread: r.random_range(0.05..0.2),
        size_spread: r.random_range(0.4..0.8),
        threshold_spread: 0.15,
        positive_dip: 0.0,
        positive_dip_ms: 1.5,
        sites: vec![SiteSpec {
            name: "wrist".into(),
            distance_mm: r.random_range(60.0..80.0),
            threshold_ma: 8.0,
        }],
        segments: Vec::new(),
        intensity: IntensityPlan::default(),
        seed: None,
        sweeps_per_intensity: None,
        supramaximal_sweeps: None,
    }
}
