//! Study scenarios: nerves, sites, intensity plans, pathology and impairments, loadable from
//! TOML; plus the built-in named scenarios (their TOML lives in `scenarios/`).

use serde::{Deserialize, Serialize};

use crate::error::{check, SimError};
use crate::impair::Impairments;
use crate::nerve::{validate, NerveSpec};

/// A whole simulated study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Scenario name.
    pub name: String,
    /// What the scenario shows.
    #[serde(default)]
    pub description: String,
    /// Seed of everything random in the study.
    pub seed: u64,
    /// Sample rate (Hz).
    pub sample_rate_hz: f64,
    /// Number of recording channels (the trigger channel, if any, comes on top).
    pub channels: usize,
    /// Append a trigger channel (1.0 during each stimulus pulse, else 0) after the recording
    /// channels.
    #[serde(default)]
    pub trigger_channel: bool,
    /// Stimulation rate (Hz).
    #[serde(default = "default_rate")]
    pub stim_rate_hz: f64,
    /// Sweeps per intensity (a nerve may override it).
    #[serde(default = "default_sweeps")]
    pub sweeps_per_intensity: usize,
    /// Sweep window before the stimulus (ms); the truth waveforms cover it.
    #[serde(default = "default_pre")]
    pub pre_ms: f64,
    /// Sweep window after the stimulus (ms).
    #[serde(default = "default_post")]
    pub post_ms: f64,
    /// Recording before the first stimulus (s).
    #[serde(default = "default_lead")]
    pub lead_in_s: f64,
    /// Pause when moving to another site or nerve (s).
    #[serde(default = "default_gap")]
    pub site_gap_s: f64,
    /// Recording after the last stimulus's window (s).
    #[serde(default = "default_lead")]
    pub tail_s: f64,
    /// Stimulus pulse width (ms), for the trigger channel.
    #[serde(default = "default_pulse")]
    pub pulse_ms: f64,
    /// Impairments of every recording channel.
    #[serde(default)]
    pub impairments: Impairments,
    /// The nerves, studied in this order, each site distal to proximal.
    pub nerves: Vec<NerveSpec>,
}

fn default_rate() -> f64 {
    1.0
}
fn default_sweeps() -> usize {
    1
}
fn default_pre() -> f64 {
    5.0
}
fn default_post() -> f64 {
    50.0
}
fn default_lead() -> f64 {
    1.0
}
fn default_gap() -> f64 {
    3.0
}
fn default_pulse() -> f64 {
    0.2
}

impl Scenario {
    /// Parses a scenario from TOML and validates it.
    pub fn from_toml_str(text: &str) -> Result<Self, SimError> {
        let s: Scenario = toml::from_str(text).map_err(|e| SimError::Toml(e.to_string()))?;
        s.validate()?;
        Ok(s)
    }

    /// Writes the scenario as TOML.
    pub fn to_toml_string(&self) -> Result<String, SimError> {
        toml::to_string(self).map_err(|e| SimError::Toml(e.to_string()))
    }

    /// Checks every rule: rates, windows, channels, each nerve.
    pub fn validate(&self) -> Result<(), SimError> {
        check(
            self.sample_rate_hz > 0.0,
            "sample_rate_hz",
            "> 0",
            self.sample_rate_hz,
        )?;
        check(self.channels > 0, "channels", "> 0", self.channels as f64)?;
        check(
            self.stim_rate_hz > 0.0,
            "stim_rate_hz",
            "> 0",
            self.stim_rate_hz,
        )?;
        check(
            self.sweeps_per_intensity > 0,
            "sweeps_per_intensity",
            "> 0",
            self.sweeps_per_intensity as f64,
        )?;
        check(self.pre_ms >= 0.0, "pre_ms", ">= 0", self.pre_ms)?;
        check(self.post_ms > 0.0, "post_ms", "> 0", self.post_ms)?;
        check(
            self.pre_ms + self.post_ms < 1000.0 / self.stim_rate_hz,
            "pre_ms + post_ms",
            "shorter than the stimulus period",
            self.pre_ms + self.post_ms,
        )?;
        check(
            self.lead_in_s * 1000.0 >= self.pre_ms,
            "lead_in_s",
            ">= pre_ms / 1000",
            self.lead_in_s,
        )?;
        check(
            self.site_gap_s >= 0.0,
            "site_gap_s",
            ">= 0",
            self.site_gap_s,
        )?;
        check(self.tail_s >= 0.0, "tail_s", ">= 0", self.tail_s)?;
        check(self.pulse_ms > 0.0, "pulse_ms", "> 0", self.pulse_ms)?;
        self.impairments.validate()?;
        if self.nerves.is_empty() {
            return Err(SimError::Invalid("scenario has no nerves".into()));
        }
        for n in &self.nerves {
            validate(n)?;
            check(
                n.channel < self.channels,
                format!("nerve {:?} channel", n.name),
                "< channels",
                n.channel as f64,
            )?;
            for (s, what) in [
                (n.sweeps_per_intensity, "sweeps_per_intensity"),
                (n.supramaximal_sweeps, "supramaximal_sweeps"),
            ] {
                if let Some(s) = s {
                    check(s > 0, format!("nerve {:?} {what}", n.name), "> 0", s as f64)?;
                }
            }
        }
        Ok(())
    }
}

/// Built-in scenarios: name and TOML text.
const BUILTIN: [(&str, &str); 4] = [
    (
        "median-worked-example",
        include_str!("../scenarios/median-worked-example.toml"),
    ),
    ("mmn", include_str!("../scenarios/mmn.toml")),
    ("normal", include_str!("../scenarios/normal.toml")),
    ("dispersion", include_str!("../scenarios/dispersion.toml")),
];

/// Names of the built-in scenarios.
pub fn list_scenarios() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// The built-in scenario `name`.
pub fn scenario(name: &str) -> Result<Scenario, SimError> {
    let (_, text) = BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| SimError::Unknown {
            kind: "scenario",
            name: name.to_owned(),
            known: list_scenarios().join(", "),
        })?;
    Scenario::from_toml_str(text)
}
