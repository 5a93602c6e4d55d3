//! The nerve model: a population of axons (motor units or sensory fibres), stimulation sites,
//! per-segment pathology, and the noise-free response at the recording electrode.
//!
//! A motor axon `u` stimulated at a site at distance `d_k` (mm from the active electrode)
//! reaches the muscle after `d_0 / cv_u + terminal_u + Σ_{segments j below k} (L_j / (cv_u ·
//! slowing_j) − L_j / cv_u + extra_{j,u})` ms (mm / (m/s) = ms), where `d_0` is the distal
//! site's distance, `terminal_u` the distal motor latency part that is not conduction
//! (terminal branches, neuromuscular junction) and `extra_{j,u}` the temporal-dispersion delay
//! of segment `j`. It does not arrive at all if a segment between the site and the muscle
//! blocks it. The CMAP is the sum of the motor-unit potentials (MUPs) of the axons that the
//! stimulus recruits and that conduct, each delayed by its arrival time.

use std::f64::consts::PI;

use rand::seq::SliceRandom;
use rand_distr::{Distribution, Gamma, LogNormal, Normal};
use serde::{Deserialize, Serialize};

use crate::error::{check, SimError};
use crate::seed::{self, tag};
use crate::truth;

/// Motor or sensory nerve (what is recorded: a CMAP over a muscle or a SNAP over the nerve).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    /// Compound muscle action potential from a muscle.
    Motor,
    /// Sensory nerve action potential.
    Sensory,
}

/// Body side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Left.
    Left,
    /// Right.
    Right,
}

/// One stimulation site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSpec {
    /// Site name ("wrist", "elbow", ...).
    pub name: String,
    /// Distance along the nerve from the site to the active recording electrode (mm).
    pub distance_mm: f64,
    /// Median axon threshold at this site (mA); proximal (deeper) sites need more.
    pub threshold_ma: f64,
}

/// Which axons a conduction block stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockSelect {
    /// A random subset (seeded by the block's seed).
    #[default]
    Random,
    /// The axons with the largest motor units first.
    Largest,
    /// The axons with the smallest motor units first.
    Smallest,
    /// The fastest axons first.
    Fastest,
    /// The slowest axons first.
    Slowest,
}

/// Conduction block in a segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockSpec {
    /// Fraction (0..=1) of the axons still conducting at the segment's distal end that stop
    /// conducting in it (rounded to a whole number of axons).
    pub fraction: f64,
    /// Which axons are blocked.
    #[serde(default)]
    pub select: BlockSelect,
    /// Seed of the random selection (default: derived from the scenario seed).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Explicit axons to block (indices into the nerve's axon population, `0..units`); when
    /// given, `fraction` and `select` are ignored.
    #[serde(default)]
    pub axons: Option<Vec<usize>>,
}

/// Temporal dispersion in a segment: every axon gets its own extra delay, drawn from a gamma
/// distribution with the given mean and coefficient of variation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispersionSpec {
    /// Mean extra delay per axon across the segment (ms).
    pub mean_extra_ms: f64,
    /// Standard deviation of the extra delay relative to its mean (default 1).
    #[serde(default = "one")]
    pub spread: f64,
}

fn one() -> f64 {
    1.0
}

/// Focal slowing in a segment: all axons conduct at `cv_factor` × their velocity there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowingSpec {
    /// Velocity factor in the segment, in (0, 1].
    pub cv_factor: f64,
}

/// Pathology of the segment between two adjacent sites of a nerve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentSpec {
    /// The distal site's name.
    pub distal: String,
    /// The proximal site's name (the next site up the nerve).
    pub proximal: String,
    /// Conduction block.
    #[serde(default)]
    pub block: Option<BlockSpec>,
    /// Temporal dispersion.
    #[serde(default)]
    pub dispersion: Option<DispersionSpec>,
    /// Focal slowing.
    #[serde(default)]
    pub slowing: Option<SlowingSpec>,
}

/// The intensities given at each site: `start_ma`, `start_ma + step_ma`, ... until every axon
/// is recruited (the response stops growing: supramaximal), then one more at that intensity ×
/// `supra_factor`. Stops at `max_ma` if supramaximal is never reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntensityPlan {
    /// First intensity (mA).
    pub start_ma: f64,
    /// Increment (mA).
    pub step_ma: f64,
    /// Highest intensity the stimulator gives (mA).
    pub max_ma: f64,
    /// Factor applied once supramaximal (e.g. 1.2 for +20 %).
    pub supra_factor: f64,
}

impl Default for IntensityPlan {
    fn default() -> Self {
        Self {
            start_ma: 5.0,
            step_ma: 5.0,
            max_ma: 100.0,
            supra_factor: 1.2,
        }
    }
}

impl IntensityPlan {
    /// The intensities for a site whose last axon is recruited at `supramaximal_ma`.
    pub fn intensities(&self, supramaximal_ma: f64) -> Vec<f64> {
        let mut out = Vec::new();
        let mut i = self.start_ma;
        while i <= self.max_ma + 1e-9 {
            out.push(i);
            if i >= supramaximal_ma {
                out.push(i * self.supra_factor);
                break;
            }
            i += self.step_ma;
        }
        out
    }
}

/// One nerve as studied: recording channel, axon population, sites and pathology.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NerveSpec {
    /// Nerve name ("median", "ulnar", ...).
    pub name: String,
    /// Body side.
    pub side: Side,
    /// Motor (CMAP) or sensory (SNAP).
    pub modality: Modality,
    /// Recording site label (muscle "APB", or "digit II").
    #[serde(default)]
    pub recording: String,
    /// Recording channel (0-based).
    pub channel: usize,
    /// Number of motor units (motor) or fibres (sensory).
    pub units: usize,
    /// Mean conduction velocity (m/s).
    pub cv_mean_m_s: f64,
    /// Standard deviation of the conduction velocity (m/s).
    pub cv_sd_m_s: f64,
    /// Mean terminal latency: the part of the distal latency that is not conduction (ms);
    /// 0 for sensory nerves.
    #[serde(default)]
    pub terminal_latency_ms: f64,
    /// Standard deviation of the terminal latency across units (ms).
    #[serde(default)]
    pub terminal_sd_ms: f64,
    /// TRUE amplitude at the most distal site, supramaximal (mV): the negative-peak amplitude
    /// of a CMAP, the peak-to-peak amplitude of a SNAP.
    pub distal_amplitude_mv: f64,
    /// Motor: duration of one unit's negative phase (ms). Sensory: the width (σ) of one
    /// fibre's potential (ms).
    pub unit_duration_ms: f64,
    /// Log-normal σ of the unit durations.
    #[serde(default = "default_duration_spread")]
    pub duration_spread: f64,
    /// Log-normal σ of the unit sizes.
    #[serde(default = "default_size_spread")]
    pub size_spread: f64,
    /// Log-normal σ of the axon thresholds around each site's median threshold.
    #[serde(default = "default_threshold_spread")]
    pub threshold_spread: f64,
    /// Initial positive dip (motor only): the size of a positive phase before each unit's
    /// negative phase, as a fraction of the unit's negative peak (0 = none).
    #[serde(default)]
    pub positive_dip: f64,
    /// Duration of the initial positive dip (ms).
    #[serde(default = "default_dip_ms")]
    pub positive_dip_ms: f64,
    /// Stimulation sites, distal first, distances increasing.
    pub sites: Vec<SiteSpec>,
    /// Pathology per segment (segments not listed are normal).
    #[serde(default)]
    pub segments: Vec<SegmentSpec>,
    /// Intensity plan used at every site.
    #[serde(default)]
    pub intensity: IntensityPlan,
    /// Seed of this nerve's axon population (default: derived from the scenario seed).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Sweeps per intensity for this nerve (default: the scenario's; SNAPs need more, to be
    /// averaged).
    #[serde(default)]
    pub sweeps_per_intensity: Option<usize>,
    /// Sweeps at each site's last, supramaximal intensity (default: `sweeps_per_intensity`):
    /// the ramp finds the plateau in a few sweeps a step, and a SNAP is averaged there.
    #[serde(default)]
    pub supramaximal_sweeps: Option<usize>,
}

fn default_duration_spread() -> f64 {
    0.12
}
fn default_size_spread() -> f64 {
    0.6
}
fn default_threshold_spread() -> f64 {
    0.15
}
fn default_dip_ms() -> f64 {
    1.5
}

/// Zero crossing of the MUP kernel in units of its time scale: the kernel is
/// `−x³ e^{−x} (1 − x/MUP_Q)`, negative on `(0, MUP_Q)`, positive after (a long, lower
/// positive phase with nearly the same area, as in a surface CMAP).
const MUP_Q: f64 = 4.3;
/// Peak of `x³ e^{−x}` (at x = 3), to keep unit weights near 1.
const MUP_NORM: f64 = 1.344_180_6;
/// Support of the MUP kernel (beyond it the kernel is < 1e-7 of its peak).
const MUP_X_MAX: f64 = 32.0;
/// Start and end of the SFAP kernel support in units of its width.
const SFAP_X0: f64 = -3.5;
const SFAP_X1: f64 = 6.0;

fn mup_kernel(x: f64, dip: f64, dip_x: f64) -> f64 {
    if x > 0.0 {
        -(x * x * x) * (-x).exp() * (1.0 - x / MUP_Q) / MUP_NORM
    } else if dip > 0.0 && x > -dip_x {
        // A sin² lobe of relative size `dip` ending where the negative phase starts; 0.43 is
        // the kernel's negative peak, so `dip` is relative to it.
        let s = (PI * x / dip_x).sin();
        dip * 0.43 * s * s
    } else {
        0.0
    }
}

/// Triphasic fibre potential (a Ricker wavelet): positive, negative, positive. `x` runs over
/// `SFAP_X0..=SFAP_X1`; the negative peak is at `x = 0`.
fn sfap_kernel(x: f64) -> f64 {
    (x * x - 1.0) * (-0.5 * x * x).exp()
}

/// One axon of the built model.
#[derive(Debug, Clone, Copy)]
struct Unit {
    cv: f64,
    terminal_ms: f64,
    tau_ms: f64,
    weight: f64,
    threshold_factor: f64,
}

/// A built, validated nerve: axons drawn, pathology applied, gain set so the distal
/// supramaximal TRUE amplitude equals the spec's at the build sample rate.
#[derive(Debug, Clone)]
pub struct NerveModel {
    spec: NerveSpec,
    units: Vec<Unit>,
    /// `arrival[k][u]`: arrival time (ms after the stimulus) at the recording electrode of
    /// axon `u` stimulated at site `k`, `None` if blocked on the way.
    arrival: Vec<Vec<Option<f64>>>,
    gain: f64,
}

impl NerveModel {
    /// Validates `spec` and builds the model with axons drawn from `seed`; the gain is set at
    /// `sample_rate_hz` so the distal supramaximal TRUE amplitude equals
    /// `spec.distal_amplitude_mv` at that rate.
    pub fn build(spec: &NerveSpec, seed: u64, sample_rate_hz: f64) -> Result<Self, SimError> {
        validate(spec)?;
        check(
            sample_rate_hz > 0.0,
            "sample_rate_hz",
            "> 0",
            sample_rate_hz,
        )?;
        let n = spec.units;
        let mut rng = seed::rng(seed, &[tag::UNITS]);
        let cv_dist =
            Normal::new(spec.cv_mean_m_s, spec.cv_sd_m_s).map_err(|_| SimError::OutOfRange {
                name: format!("nerve {:?} cv_sd_m_s", spec.name),
                rule: ">= 0",
                value: spec.cv_sd_m_s,
            })?;
        let term = Normal::new(spec.terminal_latency_ms, spec.terminal_sd_ms).map_err(|_| {
            SimError::OutOfRange {
                name: format!("nerve {:?} terminal_sd_ms", spec.name),
                rule: ">= 0",
                value: spec.terminal_sd_ms,
            }
        })?;
        let lognormal = |sigma: f64, what: &str| {
            LogNormal::new(0.0, sigma).map_err(|_| SimError::OutOfRange {
                name: format!("nerve {:?} {what}", spec.name),
                rule: ">= 0",
                value: sigma,
            })
        };
        let dur = lognormal(spec.duration_spread, "duration_spread")?;
        let size = lognormal(spec.size_spread, "size_spread")?;
        let thr = lognormal(spec.threshold_spread, "threshold_spread")?;
        let tau0 = match spec.modality {
            Modality::Motor => spec.unit_duration_ms / MUP_Q,
            Modality::Sensory => spec.unit_duration_ms,
        };
        let units: Vec<Unit> = (0..n)
            .map(|_| Unit {
                cv: cv_dist
                    .sample(&mut rng)
                    .max(0.4 * spec.cv_mean_m_s)
                    .max(1.0),
                terminal_ms: term.sample(&mut rng).max(0.0),
                tau_ms: tau0 * dur.sample(&mut rng),
                weight: size.sample(&mut rng),
                threshold_factor: thr.sample(&mut rng),
            })
            .collect();

        let arrival = arrivals(spec, &units, seed)?;
        let mut model = NerveModel {
            spec: spec.clone(),
            units,
            arrival,
            gain: 1.0,
        };
        // Gain: render the distal supramaximal response with unit gain and scale it.
        let (buf, stim) = model.render_window(0, f64::INFINITY, sample_rate_hz);
        let m = truth::measure(&buf, sample_rate_hz, stim).ok_or_else(|| {
            SimError::Invalid(format!("nerve {:?} produces no response", spec.name))
        })?;
        let measured = match spec.modality {
            Modality::Motor => m.negative_peak_amplitude_mv,
            Modality::Sensory => m.peak_to_peak_amplitude_mv,
        };
        model.gain = spec.distal_amplitude_mv / measured;
        Ok(model)
    }

    /// The spec this model was built from.
    pub fn spec(&self) -> &NerveSpec {
        &self.spec
    }

    /// Number of axons.
    pub fn axon_count(&self) -> usize {
        self.units.len()
    }

    /// Threshold (mA) of every axon at site `site`.
    fn threshold(&self, site: usize, u: usize) -> f64 {
        self.spec.sites[site].threshold_ma * self.units[u].threshold_factor
    }

    /// Fraction of all axons recruited (excited) at `site` by `intensity_ma`, whether or not
    /// they conduct to the muscle. Monotone in intensity, from 0 to 1.
    pub fn recruited_fraction(&self, site: usize, intensity_ma: f64) -> f64 {
        if site >= self.spec.sites.len() || self.units.is_empty() {
            return 0.0;
        }
        let k = (0..self.units.len())
            .filter(|&u| self.threshold(site, u) <= intensity_ma)
            .count();
        k as f64 / self.units.len() as f64
    }

    /// The intensity (mA) at which the last axon at `site` is recruited: at and above it the
    /// response no longer grows.
    pub fn supramaximal_ma(&self, site: usize) -> f64 {
        if site >= self.spec.sites.len() {
            return f64::INFINITY;
        }
        (0..self.units.len())
            .map(|u| self.threshold(site, u))
            .fold(0.0, f64::max)
    }

    /// Fraction of axons that conduct from `site` to the recording electrode (1 − blocks).
    pub fn conducting_fraction(&self, site: usize) -> f64 {
        match self.arrival.get(site) {
            Some(a) if !a.is_empty() => {
                a.iter().filter(|x| x.is_some()).count() as f64 / a.len() as f64
            }
            _ => 0.0,
        }
    }

    /// Latest arrival time (ms) of any conducting axon from any site, plus the unit
    /// potential's support: the response is 0 after this many ms from the stimulus.
    pub fn response_span_ms(&self) -> f64 {
        let last = self
            .arrival
            .iter()
            .flatten()
            .flatten()
            .fold(0.0_f64, |a, &b| a.max(b));
        let tail = self
            .units
            .iter()
            .map(|u| self.support(u).1)
            .fold(0.0, f64::max);
        last + tail
    }

    /// Support (start, end) of a unit's potential relative to its arrival (ms).
    fn support(&self, u: &Unit) -> (f64, f64) {
        match self.spec.modality {
            Modality::Motor => {
                let dip = if self.spec.positive_dip > 0.0 {
                    self.spec.positive_dip_ms
                } else {
                    0.0
                };
                (-dip, MUP_X_MAX * u.tau_ms)
            }
            // The negative peak comes as the impulse passes under the active electrode (the
            // fibre's arrival); the leading positive phase is the impulse approaching it.
            Modality::Sensory => (SFAP_X0 * u.tau_ms, SFAP_X1 * u.tau_ms),
        }
    }

    /// Adds the noise-free response (volts) to `out`, where sample `i` is at
    /// `(i − stimulus_index) / sample_rate_hz` s from the stimulus at site `site` of intensity
    /// `intensity_ma`.
    pub fn add_response(
        &self,
        site: usize,
        intensity_ma: f64,
        sample_rate_hz: f64,
        stimulus_index: usize,
        out: &mut [f64],
    ) {
        let Some(arrivals) = self.arrival.get(site) else {
            return;
        };
        let dt_ms = 1000.0 / sample_rate_hz;
        let dip = self.spec.positive_dip.max(0.0);
        for (u, unit) in self.units.iter().enumerate() {
            let Some(a) = arrivals[u] else { continue };
            if self.threshold(site, u) > intensity_ma {
                continue;
            }
            let (s0, s1) = self.support(unit);
            // Sample range covering [a + s0, a + s1].
            let i0 = stimulus_index as f64 + (a + s0) / dt_ms;
            let i1 = stimulus_index as f64 + (a + s1) / dt_ms;
            let lo = i0.floor().max(0.0) as usize;
            let hi = (i1.ceil().max(0.0) as usize).min(out.len());
            let w = unit.weight * self.gain * 1e-3;
            for (i, o) in out.iter_mut().enumerate().take(hi).skip(lo) {
                let t = (i as f64 - stimulus_index as f64) * dt_ms - a;
                let v = match self.spec.modality {
                    Modality::Motor => mup_kernel(
                        t / unit.tau_ms,
                        dip,
                        self.spec.positive_dip_ms / unit.tau_ms,
                    ),
                    Modality::Sensory => {
                        // The fibre's negative peak (x = 0) comes at its arrival.
                        let x = t / unit.tau_ms;
                        if (SFAP_X0..=SFAP_X1).contains(&x) {
                            sfap_kernel(x)
                        } else {
                            0.0
                        }
                    }
                };
                *o += w * v;
            }
        }
    }

    /// Renders the full response of one stimulus into a fresh buffer long enough to hold it,
    /// with the stimulus at the returned index.
    pub(crate) fn render_window(
        &self,
        site: usize,
        intensity_ma: f64,
        sample_rate_hz: f64,
    ) -> (Vec<f64>, usize) {
        let lead_ms = self
            .units
            .iter()
            .map(|u| -self.support(u).0)
            .fold(0.0_f64, f64::max);
        let pre = (lead_ms * sample_rate_hz / 1000.0).ceil() as usize + 2;
        let len = pre + (self.response_span_ms() * sample_rate_hz / 1000.0).ceil() as usize + 2;
        let mut buf = vec![0.0; len];
        self.add_response(site, intensity_ma, sample_rate_hz, pre, &mut buf);
        (buf, pre)
    }
}

/// Checks every rule of a nerve spec; the message names the nerve and the parameter.
pub(crate) fn validate(spec: &NerveSpec) -> Result<(), SimError> {
    let n = |p: &str| format!("nerve {:?} {p}", spec.name);
    check(spec.units > 0, n("units"), "> 0", spec.units as f64)?;
    check(
        spec.cv_mean_m_s > 0.0,
        n("cv_mean_m_s"),
        "> 0",
        spec.cv_mean_m_s,
    )?;
    check(
        spec.cv_sd_m_s >= 0.0,
        n("cv_sd_m_s"),
        ">= 0",
        spec.cv_sd_m_s,
    )?;
    check(
        spec.terminal_latency_ms >= 0.0,
        n("terminal_latency_ms"),
        ">= 0",
        spec.terminal_latency_ms,
    )?;
    check(
        spec.terminal_sd_ms >= 0.0,
        n("terminal_sd_ms"),
        ">= 0",
        spec.terminal_sd_ms,
    )?;
    check(
        spec.distal_amplitude_mv > 0.0,
        n("distal_amplitude_mv"),
        "> 0",
        spec.distal_amplitude_mv,
    )?;
    check(
        spec.unit_duration_ms > 0.0,
        n("unit_duration_ms"),
        "> 0",
        spec.unit_duration_ms,
    )?;
    for (v, p) in [
        (spec.duration_spread, "duration_spread"),
        (spec.size_spread, "size_spread"),
        (spec.threshold_spread, "threshold_spread"),
    ] {
        check((0.0..=2.0).contains(&v), n(p), "in 0..=2", v)?;
    }
    check(
        (0.0..=1.0).contains(&spec.positive_dip),
        n("positive_dip"),
        "in 0..=1",
        spec.positive_dip,
    )?;
    check(
        spec.positive_dip_ms > 0.0,
        n("positive_dip_ms"),
        "> 0",
        spec.positive_dip_ms,
    )?;
    if spec.sites.is_empty() {
        return Err(SimError::Invalid(format!(
            "nerve {:?} has no sites",
            spec.name
        )));
    }
    let mut last = f64::NEG_INFINITY;
    for s in &spec.sites {
        let sn = |p: &str| format!("nerve {:?} site {:?} {p}", spec.name, s.name);
        check(s.distance_mm > 0.0, sn("distance_mm"), "> 0", s.distance_mm)?;
        check(
            s.threshold_ma > 0.0,
            sn("threshold_ma"),
            "> 0",
            s.threshold_ma,
        )?;
        check(
            s.distance_mm > last,
            sn("distance_mm"),
            "greater than the previous (more distal) site's",
            s.distance_mm,
        )?;
        last = s.distance_mm;
    }
    let p = &spec.intensity;
    check(p.start_ma > 0.0, n("intensity.start_ma"), "> 0", p.start_ma)?;
    check(p.step_ma > 0.0, n("intensity.step_ma"), "> 0", p.step_ma)?;
    check(
        p.max_ma >= p.start_ma,
        n("intensity.max_ma"),
        ">= start_ma",
        p.max_ma,
    )?;
    check(
        p.supra_factor >= 1.0,
        n("intensity.supra_factor"),
        ">= 1",
        p.supra_factor,
    )?;
    for seg in &spec.segments {
        segment_index(spec, seg)?;
        let sn = |p: &str| {
            format!(
                "nerve {:?} segment {}-{} {p}",
                spec.name, seg.distal, seg.proximal
            )
        };
        if let Some(b) = &seg.block {
            check(
                (0.0..=1.0).contains(&b.fraction),
                sn("block.fraction"),
                "in 0..=1",
                b.fraction,
            )?;
            if let Some(&u) = b.axons.iter().flatten().find(|&&u| u >= spec.units) {
                check(false, sn("block.axons"), "< units", u as f64)?;
            }
        }
        if let Some(d) = &seg.dispersion {
            check(
                d.mean_extra_ms >= 0.0,
                sn("dispersion.mean_extra_ms"),
                ">= 0",
                d.mean_extra_ms,
            )?;
            check(d.spread > 0.0, sn("dispersion.spread"), "> 0", d.spread)?;
        }
        if let Some(s) = &seg.slowing {
            check(
                s.cv_factor > 0.0 && s.cv_factor <= 1.0,
                sn("slowing.cv_factor"),
                "in (0, 1]",
                s.cv_factor,
            )?;
        }
    }
    Ok(())
}

/// Index `j` of the segment between site `j` and `j + 1` named by `seg`.
fn segment_index(spec: &NerveSpec, seg: &SegmentSpec) -> Result<usize, SimError> {
    let find = |name: &str| {
        spec.sites
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| SimError::Unknown {
                kind: "site",
                name: name.to_owned(),
                known: spec
                    .sites
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    };
    let d = find(&seg.distal)?;
    let p = find(&seg.proximal)?;
    if p != d + 1 {
        return Err(SimError::Invalid(format!(
            "nerve {:?} segment {}-{}: proximal must be the next site after distal",
            spec.name, seg.distal, seg.proximal
        )));
    }
    Ok(d)
}

/// Arrival times per site and axon, with blocks, dispersion and slowing applied.
fn arrivals(
    spec: &NerveSpec,
    units: &[Unit],
    seed: u64,
) -> Result<Vec<Vec<Option<f64>>>, SimError> {
    let nseg = spec.sites.len().saturating_sub(1);
    let mut extra = vec![vec![0.0; units.len()]; nseg];
    let mut blocked = vec![vec![false; units.len()]; nseg];
    for seg in &spec.segments {
        let j = segment_index(spec, seg)?;
        let len = spec.sites[j + 1].distance_mm - spec.sites[j].distance_mm;
        if let Some(s) = &seg.slowing {
            for (e, u) in extra[j].iter_mut().zip(units) {
                *e += len / (u.cv * s.cv_factor) - len / u.cv;
            }
        }
        if let Some(d) = &seg.dispersion {
            if d.mean_extra_ms > 0.0 {
                let shape = 1.0 / (d.spread * d.spread);
                let g = Gamma::new(shape, d.mean_extra_ms / shape).map_err(|_| {
                    SimError::OutOfRange {
                        name: format!("nerve {:?} dispersion.spread", spec.name),
                        rule: "> 0",
                        value: d.spread,
                    }
                })?;
                let mut rng = seed::rng(seed, &[tag::DISPERSION, j as u64]);
                for e in extra[j].iter_mut() {
                    *e += g.sample(&mut rng);
                }
            }
        }
    }
    // Blocks compose from distal to proximal: a fraction of the axons still conducting at
    // the segment's distal end.
    let mut conducting = vec![true; units.len()];
    for (j, blocked_j) in blocked.iter_mut().enumerate() {
        let Some(b) = spec
            .segments
            .iter()
            .find(|s| s.distal == spec.sites[j].name)
            .and_then(|s| s.block.as_ref())
        else {
            continue;
        };
        let mut cand: Vec<usize> = (0..units.len()).filter(|&u| conducting[u]).collect();
        let key = |u: &usize| units[*u];
        match b.select {
            BlockSelect::Random => {
                let s = b
                    .seed
                    .unwrap_or_else(|| seed::derive(seed, &[tag::BLOCK, j as u64]));
                cand.shuffle(&mut seed::rng(s, &[tag::BLOCK]));
            }
            BlockSelect::Largest => cand.sort_by(|a, b| key(b).weight.total_cmp(&key(a).weight)),
            BlockSelect::Smallest => cand.sort_by(|a, b| key(a).weight.total_cmp(&key(b).weight)),
            BlockSelect::Fastest => cand.sort_by(|a, b| key(b).cv.total_cmp(&key(a).cv)),
            BlockSelect::Slowest => cand.sort_by(|a, b| key(a).cv.total_cmp(&key(b).cv)),
        }
        let k = (b.fraction * cand.len() as f64).round() as usize;
        let chosen: Vec<usize> = match &b.axons {
            Some(list) => list
                .iter()
                .copied()
                .filter(|&u| u < units.len() && conducting[u])
                .collect(),
            None => cand.iter().take(k).copied().collect(),
        };
        for u in chosen {
            blocked_j[u] = true;
            conducting[u] = false;
        }
    }
    let d0 = spec.sites[0].distance_mm;
    let mut out = Vec::with_capacity(spec.sites.len());
    for k in 0..spec.sites.len() {
        let row = units
            .iter()
            .enumerate()
            .map(|(u, unit)| {
                let mut t = d0 / unit.cv + unit.terminal_ms;
                for j in 0..k {
                    if blocked[j][u] {
                        return None;
                    }
                    let len = spec.sites[j + 1].distance_mm - spec.sites[j].distance_mm;
                    t += len / unit.cv + extra[j][u];
                }
                Some(t)
            })
            .collect();
        out.push(row);
    }
    Ok(out)
}
