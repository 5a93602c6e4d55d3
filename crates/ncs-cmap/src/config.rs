//! Measurement settings, validated once by [`MeasureConfig::build`].

use crate::numeric::{gaussian_kernel, normal_quantile};
use crate::Error;

/// Highest mains harmonic [`MeasureConfig::mains_harmonics`] may ask for.
pub const MAX_MAINS_HARMONICS: usize = 5;

/// Which way the first phase of the response goes at the active electrode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Polarity {
    /// The clinical convention: the first phase is negative in volts (drawn upward).
    #[default]
    NegativeFirst,
    /// Electrodes wired the other way round: the first phase is positive in volts.
    PositiveFirst,
}

/// How mains interference is removed from the baseline model.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MainsModel {
    /// Do not model mains.
    Off,
    /// Try 50 Hz and 60 Hz and keep the one that explains the quiet samples better, when it does
    /// so significantly.
    #[default]
    Auto,
    /// Model this mains frequency (Hz) when it is significant.
    Hz(f64),
}

/// Settings for measuring responses. Defaults follow clinical practice (`clinical.md` §1) and
/// are documented field by field; [`MeasureConfig::build`] checks them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct MeasureConfig {
    /// Direction of the first phase.
    pub polarity: Polarity,
    /// Earliest onset searched for (ms after the stimulus). Motor onsets under 1 ms are not
    /// physiological for surface recordings; sensory onsets under 1 ms neither.
    pub min_onset_ms: f64,
    /// Latest onset accepted (ms after the stimulus); `None` = anywhere in the sweep.
    pub max_onset_ms: Option<f64>,
    /// Standard deviation of the zero-phase Gaussian smoothing used to locate markers (ms).
    /// 0.1 ms keeps everything below ~1.3 kHz, which holds the whole CMAP spectrum.
    pub smoothing_ms: f64,
    /// Probability that a sweep of pure baseline noise is declared a response.
    pub false_positive_rate: f64,
    /// Floor on the detection threshold, in standard deviations of the smoothed baseline noise.
    pub min_detection_sigma: f64,
    /// Shortest negative phase (onset → return to baseline) accepted as a response (ms).
    pub min_phase_ms: f64,
    /// Pre-stimulus samples within this interval before the stimulus are left out of the
    /// baseline (a stimulus marker may lag the pulse slightly) (ms).
    pub baseline_guard_ms: f64,
    /// Mains model for the baseline.
    pub mains: MainsModel,
    /// Highest mains harmonic removed (1 = the fundamental alone). Mains interference is rarely
    /// a pure sinusoid (rectifier loads add odd harmonics, 150 and 250 Hz at 50 Hz mains), and a
    /// stimulator at a whole-number rate is phase-locked to it, so averaging does not remove
    /// it: harmonics left in a microvolt SNAP's baseline would set the detection threshold.
    /// They are fitted once the fundamental is found and removed when they explain a material
    /// part of the residual (see `measure.rs`, step 9).
    pub mains_harmonics: usize,
    /// Amplifier rails (±volts at the input) when known; otherwise clipping is recognised as
    /// flat runs at the sweep's extremes.
    pub rails_volts: Option<f64>,
    /// Longest stimulus artefact searched for when the sweep does not declare its end (ms).
    pub max_artefact_ms: f64,
}

impl Default for MeasureConfig {
    fn default() -> Self {
        MeasureConfig {
            polarity: Polarity::NegativeFirst,
            min_onset_ms: 1.0,
            max_onset_ms: None,
            smoothing_ms: 0.1,
            false_positive_rate: 1e-5,
            min_detection_sigma: 6.0,
            min_phase_ms: 0.3,
            baseline_guard_ms: 0.2,
            mains: MainsModel::Auto,
            mains_harmonics: 5,
            rails_volts: None,
            max_artefact_ms: 1.0,
        }
    }
}

impl MeasureConfig {
    /// Settings for sensory responses (SNAPs): shorter phases are accepted.
    pub fn sensory() -> Self {
        MeasureConfig {
            min_phase_ms: 0.15,
            smoothing_ms: 0.05,
            ..MeasureConfig::default()
        }
    }

    /// Checks every setting and prepares a [`Measurer`].
    pub fn build(&self) -> Result<Measurer, Error> {
        let positive = |name: &'static str, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(Error::Config {
                    name,
                    rule: "must be a finite number > 0",
                    value,
                })
            }
        };
        let non_negative = |name: &'static str, value: f64| {
            if value.is_finite() && value >= 0.0 {
                Ok(())
            } else {
                Err(Error::Config {
                    name,
                    rule: "must be a finite number ≥ 0",
                    value,
                })
            }
        };
        non_negative("min_onset_ms", self.min_onset_ms)?;
        if let Some(max) = self.max_onset_ms {
            if !(max.is_finite() && max > self.min_onset_ms) {
                return Err(Error::Config {
                    name: "max_onset_ms",
                    rule: "must be finite and greater than min_onset_ms",
                    value: max,
                });
            }
        }
        non_negative("smoothing_ms", self.smoothing_ms)?;
        if !(self.false_positive_rate > 0.0 && self.false_positive_rate < 0.5) {
            return Err(Error::Config {
                name: "false_positive_rate",
                rule: "must lie in (0, 0.5)",
                value: self.false_positive_rate,
            });
        }
        positive("min_detection_sigma", self.min_detection_sigma)?;
        non_negative("min_phase_ms", self.min_phase_ms)?;
        non_negative("baseline_guard_ms", self.baseline_guard_ms)?;
        non_negative("max_artefact_ms", self.max_artefact_ms)?;
        if let MainsModel::Hz(f) = self.mains {
            positive("mains", f)?;
        }
        if let Some(r) = self.rails_volts {
            positive("rails_volts", r)?;
        }
        if !(1..=MAX_MAINS_HARMONICS).contains(&self.mains_harmonics) {
            return Err(Error::Config {
                name: "mains_harmonics",
                rule: "must lie in 1..=5",
                value: self.mains_harmonics as f64,
            });
        }
        Ok(Measurer {
            config: self.clone(),
        })
    }
}

/// Validated settings, ready to measure sweeps through `&self`.
#[derive(Debug, Clone)]
pub struct Measurer {
    pub(crate) config: MeasureConfig,
}

impl Measurer {
    /// The settings this measurer was built from.
    pub fn config(&self) -> &MeasureConfig {
        &self.config
    }

    /// Detection threshold (in σ of the smoothed noise) for a search window of `window`
    /// samples whose smoothed noise has a correlation length of `corr` samples: the one-sided
    /// normal quantile at `false_positive_rate / M`, where `M = window / corr` counts the
    /// effectively independent samples searched (a Bonferroni bound), never below
    /// `min_detection_sigma`.
    pub(crate) fn threshold_sigma(&self, window: usize, corr: f64) -> f64 {
        let m = (window as f64 / corr.max(1.0)).max(1.0);
        normal_quantile(1.0 - self.config.false_positive_rate / m)
            .max(self.config.min_detection_sigma)
    }

    pub(crate) fn kernel_for(&self, sample_rate_hz: f64, out: &mut Vec<f64>) {
        gaussian_kernel(self.config.smoothing_ms * 1e-3 * sample_rate_hz, out);
    }
}
