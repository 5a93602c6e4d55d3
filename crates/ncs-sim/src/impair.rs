//! Recording impairments: white noise, mains, baseline drift, stimulus artefact, amplifier
//! saturation.
//!
//! Noise, mains and drift are generated sample by sample from per-channel state
//! ([`ChannelGen`]) whose random streams are seeded per channel, so the samples depend only on
//! the seed and the absolute sample index, never on how the stream is cut into blocks.

use std::f64::consts::TAU;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::error::{check, SimError};
use crate::seed::{self, tag};

/// Mains interference: a sinusoid at `frequency_hz` plus harmonics, each with a random phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mains {
    /// Fundamental frequency (50 or 60 Hz; any positive value is accepted).
    pub frequency_hz: f64,
    /// Amplitude of the fundamental (µV, peak).
    pub amplitude_uv: f64,
    /// Amplitudes of harmonics 2, 3, ... relative to the fundamental.
    #[serde(default)]
    pub harmonics: Vec<f64>,
}

/// Baseline drift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Drift {
    /// A mean-reverting random walk (Ornstein–Uhlenbeck): stationary RMS `rms_uv`,
    /// correlation time `tau_s`. Bounded however long the study runs.
    Wander {
        /// Stationary RMS (µV).
        rms_uv: f64,
        /// Correlation time (s).
        tau_s: f64,
    },
    /// A low-frequency sinusoid (random phase).
    Sine {
        /// Amplitude (µV, peak).
        amplitude_uv: f64,
        /// Frequency (Hz).
        frequency_hz: f64,
    },
}

/// Polarity of the artefact's spike.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Polarity {
    /// Positive spike.
    #[default]
    Positive,
    /// Negative spike.
    Negative,
}

/// Stimulus artefact: a flat spike for `spike_ms` from the stimulus instant, of amplitude
/// `amplitude_mv_per_ma × intensity`, then an exponential tail starting at `tail_fraction` of
/// the spike (signed: negative means opposite polarity) decaying with `tail_tau_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artefact {
    /// Spike amplitude per mA of stimulus (mV/mA).
    pub amplitude_mv_per_ma: f64,
    /// Spike polarity.
    #[serde(default)]
    pub polarity: Polarity,
    /// Spike duration (ms), typically 0.1–0.3.
    pub spike_ms: f64,
    /// Tail start relative to the spike amplitude (signed).
    pub tail_fraction: f64,
    /// Tail time constant (ms), typically 0.3–2.
    pub tail_tau_ms: f64,
}

impl Default for Artefact {
    fn default() -> Self {
        Self {
            amplitude_mv_per_ma: 0.3,
            polarity: Polarity::Positive,
            spike_ms: 0.2,
            tail_fraction: 0.1,
            tail_tau_ms: 0.8,
        }
    }
}

/// Everything that corrupts the recording of one channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Impairments {
    /// White Gaussian noise (µV RMS).
    #[serde(default)]
    pub noise_uv_rms: f64,
    /// Mains interference.
    #[serde(default)]
    pub mains: Option<Mains>,
    /// Baseline drift.
    #[serde(default)]
    pub drift: Option<Drift>,
    /// Stimulus artefact (on the stimulated nerve's channel).
    #[serde(default)]
    pub artefact: Option<Artefact>,
    /// Amplifier rails (±mV): the recorded signal is clipped there.
    #[serde(default)]
    pub rail_mv: Option<f64>,
    /// Fraction of the stimulus artefact that also reaches the other recording channels of a
    /// study (0 = the artefact is on the stimulated nerve's channel only).
    #[serde(default)]
    pub artefact_crosstalk: f64,
}

impl Impairments {
    /// Checks every parameter.
    pub fn validate(&self) -> Result<(), SimError> {
        check(
            self.noise_uv_rms >= 0.0,
            "noise_uv_rms",
            ">= 0",
            self.noise_uv_rms,
        )?;
        if let Some(m) = &self.mains {
            check(
                m.frequency_hz > 0.0,
                "mains.frequency_hz",
                "> 0",
                m.frequency_hz,
            )?;
            check(
                m.amplitude_uv >= 0.0,
                "mains.amplitude_uv",
                ">= 0",
                m.amplitude_uv,
            )?;
            for &h in &m.harmonics {
                check(h >= 0.0, "mains.harmonics", ">= 0", h)?;
            }
        }
        match &self.drift {
            Some(Drift::Wander { rms_uv, tau_s }) => {
                check(*rms_uv >= 0.0, "drift.rms_uv", ">= 0", *rms_uv)?;
                check(*tau_s > 0.0, "drift.tau_s", "> 0", *tau_s)?;
            }
            Some(Drift::Sine {
                amplitude_uv,
                frequency_hz,
            }) => {
                check(
                    *amplitude_uv >= 0.0,
                    "drift.amplitude_uv",
                    ">= 0",
                    *amplitude_uv,
                )?;
                check(
                    *frequency_hz > 0.0,
                    "drift.frequency_hz",
                    "> 0",
                    *frequency_hz,
                )?;
            }
            None => {}
        }
        if let Some(a) = &self.artefact {
            check(
                a.amplitude_mv_per_ma >= 0.0,
                "artefact.amplitude_mv_per_ma",
                ">= 0",
                a.amplitude_mv_per_ma,
            )?;
            check(a.spike_ms > 0.0, "artefact.spike_ms", "> 0", a.spike_ms)?;
            check(
                a.tail_tau_ms > 0.0,
                "artefact.tail_tau_ms",
                "> 0",
                a.tail_tau_ms,
            )?;
            check(
                a.tail_fraction.abs() <= 10.0,
                "artefact.tail_fraction",
                "in -10..=10",
                a.tail_fraction,
            )?;
        }
        check(
            (0.0..=1.0).contains(&self.artefact_crosstalk),
            "artefact_crosstalk",
            "in 0..=1",
            self.artefact_crosstalk,
        )?;
        if let Some(r) = self.rail_mv {
            check(r > 0.0, "rail_mv", "> 0", r)?;
        }
        Ok(())
    }

    /// Clips `v` (volts) to the rails; returns the value and whether it hit a rail.
    pub(crate) fn clip(&self, v: f64) -> (f64, bool) {
        match self.rail_mv {
            Some(r) => {
                let r = r * 1e-3;
                if v >= r {
                    (r, true)
                } else if v <= -r {
                    (-r, true)
                } else {
                    (v, false)
                }
            }
            None => (v, false),
        }
    }
}

/// Adds the artefact of a stimulus of `intensity_ma` at sample `stimulus_index` to `out`
/// (volts).
pub(crate) fn add_artefact(
    a: &Artefact,
    intensity_ma: f64,
    sample_rate_hz: f64,
    stimulus_index: usize,
    out: &mut [f64],
) {
    let sign = match a.polarity {
        Polarity::Positive => 1.0,
        Polarity::Negative => -1.0,
    };
    let amp = sign * a.amplitude_mv_per_ma * intensity_ma * 1e-3;
    let dt_ms = 1000.0 / sample_rate_hz;
    for (k, o) in out.iter_mut().skip(stimulus_index).enumerate() {
        let t = k as f64 * dt_ms;
        let v = if t < a.spike_ms {
            amp
        } else {
            amp * a.tail_fraction * (-(t - a.spike_ms) / a.tail_tau_ms).exp()
        };
        // Stop once the tail is far below any noise floor.
        if t >= a.spike_ms && v.abs() < 1e-9 {
            break;
        }
        *o += v;
    }
}

/// Per-channel generator of noise + mains + drift, one sample at a time.
#[derive(Debug, Clone)]
pub(crate) struct ChannelGen {
    noise_sd: f64,
    noise_rng: ChaCha8Rng,
    /// (oscillator, amplitude V) per mains harmonic.
    mains: Vec<(Osc, f64)>,
    drift: DriftState,
}

#[derive(Debug, Clone)]
enum DriftState {
    None,
    Wander {
        x: f64,
        a: f64,
        b: f64,
        // Boxed: the generator is large and only this variant needs it.
        rng: Box<ChaCha8Rng>,
    },
    Sine {
        osc: Osc,
        amp: f64,
    },
}

/// A sinusoid generated by rotating a unit phasor, one sample at a time: a multiply-add per
/// sample instead of a `sin` call (mains on 8 channels with harmonics would otherwise dominate
/// the study's cost). Renormalised periodically so rounding cannot make it grow or decay.
#[derive(Debug, Clone)]
struct Osc {
    c: f64,
    s: f64,
    cw: f64,
    sw: f64,
    n: u32,
}

impl Osc {
    fn new(radians_per_sample: f64, phase: f64) -> Self {
        Self {
            c: phase.cos(),
            s: phase.sin(),
            cw: radians_per_sample.cos(),
            sw: radians_per_sample.sin(),
            n: 0,
        }
    }

    /// `sin(w·n + phase)` for n = 0, 1, 2, ...
    fn next_sample(&mut self) -> f64 {
        let out = self.s;
        let c = self.c * self.cw - self.s * self.sw;
        self.s = self.s * self.cw + self.c * self.sw;
        self.c = c;
        self.n += 1;
        if self.n == 1024 {
            self.n = 0;
            let r = (self.c * self.c + self.s * self.s).sqrt();
            self.c /= r;
            self.s /= r;
        }
        out
    }
}

impl ChannelGen {
    /// A generator for `channel` with impairments `imp` (already validated).
    pub(crate) fn new(imp: &Impairments, sample_rate_hz: f64, seed: u64, channel: u64) -> Self {
        let mut mains = Vec::new();
        if let Some(m) = &imp.mains {
            let mut rng = seed::rng(seed, &[tag::MAINS, channel]);
            let rel = std::iter::once(1.0).chain(m.harmonics.iter().copied());
            for (h, r) in rel.enumerate() {
                let f = m.frequency_hz * (h + 1) as f64;
                let phase = rng.random::<f64>() * TAU;
                mains.push((
                    Osc::new(TAU * f / sample_rate_hz, phase),
                    m.amplitude_uv * r * 1e-6,
                ));
            }
        }
        let drift = match &imp.drift {
            None => DriftState::None,
            Some(Drift::Wander { rms_uv, tau_s }) => {
                let mut rng = seed::rng(seed, &[tag::DRIFT, channel]);
                let sd = rms_uv * 1e-6;
                let a = (-1.0 / (tau_s * sample_rate_hz)).exp();
                let x0: f64 = StandardNormal.sample(&mut rng);
                DriftState::Wander {
                    x: x0 * sd,
                    a,
                    b: sd * (1.0 - a * a).sqrt(),
                    rng: Box::new(rng),
                }
            }
            Some(Drift::Sine {
                amplitude_uv,
                frequency_hz,
            }) => {
                let mut rng = seed::rng(seed, &[tag::DRIFT, channel]);
                DriftState::Sine {
                    osc: Osc::new(
                        TAU * frequency_hz / sample_rate_hz,
                        rng.random::<f64>() * TAU,
                    ),
                    amp: amplitude_uv * 1e-6,
                }
            }
        };
        Self {
            noise_sd: imp.noise_uv_rms * 1e-6,
            noise_rng: seed::rng(seed, &[tag::NOISE, channel]),
            mains,
            drift,
        }
    }

    /// The next sample (volts).
    pub(crate) fn next_sample(&mut self) -> f64 {
        let mut v = 0.0;
        if self.noise_sd > 0.0 {
            let z: f64 = StandardNormal.sample(&mut self.noise_rng);
            v += self.noise_sd * z;
        }
        for (osc, amp) in &mut self.mains {
            v += *amp * osc.next_sample();
        }
        match &mut self.drift {
            DriftState::None => {}
            DriftState::Wander { x, a, b, rng } => {
                v += *x;
                let z: f64 = StandardNormal.sample(rng.as_mut());
                *x = *a * *x + *b * z;
            }
            DriftState::Sine { osc, amp } => v += *amp * osc.next_sample(),
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oscillator_matches_sin_after_ten_minutes_at_20_khz() {
        let w = TAU * 150.0 / 20_000.0;
        let mut osc = Osc::new(w, 0.7);
        let n = 12_000_000u64;
        for _ in 0..n {
            osc.next_sample();
        }
        let want = (w * n as f64 + 0.7).sin();
        assert!((osc.next_sample() - want).abs() < 1e-6);
    }
}
