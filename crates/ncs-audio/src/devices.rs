//! Finding and describing audio inputs.

use std::fmt;

use cpal::traits::{DeviceTrait, HostTrait};
use cpal::{SampleFormat, SupportedStreamConfigRange};
use serde::Serialize;

use crate::AudioError;

/// A stream configuration: channels, rate and sample format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamSummary {
    /// Channels per frame.
    pub channels: u16,
    /// Sample rate (Hz).
    pub sample_rate_hz: u32,
    /// Sample format (`i16`, `f32`, ...).
    pub format: String,
}

/// One audio input present on the machine (`ncs devices`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputInfo {
    /// Name to open it by.
    pub name: String,
    /// Whether it is the system's default input.
    pub is_default: bool,
    /// What it delivers when nothing is asked for, if it says.
    pub default_config: Option<StreamSummary>,
    /// Channel counts it supports.
    pub channels: Vec<u16>,
    /// Sample rates it supports, as inclusive ranges (Hz).
    pub rates: Vec<(u32, u32)>,
    /// Sample formats it supports.
    pub formats: Vec<String>,
}

impl fmt::Display for InputInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        if self.is_default {
            write!(f, " (default input)")?;
        }
        match &self.default_config {
            Some(d) => write!(
                f,
                ": default {} ch × {} Hz {}",
                d.channels, d.sample_rate_hz, d.format
            )?,
            None => write!(f, ": no default configuration")?,
        }
        write!(
            f,
            "; rates {}; channels {}; formats {}",
            rates_text(&self.rates),
            channels_text(&self.channels),
            self.formats.join(", ")
        )
    }
}

/// Inclusive rate ranges as text: `8000, 44100, 48000 Hz` or `1–384000 Hz`.
pub(crate) fn rates_text(rates: &[(u32, u32)]) -> String {
    if rates.is_empty() {
        return "none".into();
    }
    let parts: Vec<String> = rates
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}–{b}")
            }
        })
        .collect();
    format!("{} Hz", parts.join(", "))
}

/// Channel counts as text, runs shortened: `1–32` or `1, 2, 6`.
pub(crate) fn channels_text(ch: &[u16]) -> String {
    if ch.is_empty() {
        return "none".into();
    }
    let mut parts = Vec::new();
    let mut i = 0;
    while i < ch.len() {
        let mut j = i;
        while j + 1 < ch.len() && ch[j + 1] == ch[j] + 1 {
            j += 1;
        }
        parts.push(if j > i + 1 {
            format!("{}–{}", ch[i], ch[j])
        } else if j == i + 1 {
            format!("{}, {}", ch[i], ch[j])
        } else {
            ch[i].to_string()
        });
        i = j + 1;
    }
    parts.join(", ")
}

fn host_error(e: impl fmt::Display) -> AudioError {
    AudioError::Host(e.to_string())
}

/// The audio inputs present, with what each supports. An error means the audio system itself
/// cannot be used; a machine with no input gives an empty list.
pub fn list_inputs() -> Result<Vec<InputInfo>, AudioError> {
    let host = cpal::default_host();
    let default_name = host.default_input_device().and_then(|d| d.name().ok());
    let mut out = Vec::new();
    for d in host.input_devices().map_err(host_error)? {
        let Ok(name) = d.name() else { continue };
        let ranges: Vec<SupportedStreamConfigRange> = match d.supported_input_configs() {
            Ok(r) => r.collect(),
            Err(_) => continue,
        };
        let mut channels: Vec<u16> = ranges.iter().map(|r| r.channels()).collect();
        channels.sort_unstable();
        channels.dedup();
        let mut rates: Vec<(u32, u32)> = ranges
            .iter()
            .map(|r| (r.min_sample_rate().0, r.max_sample_rate().0))
            .collect();
        rates.sort_unstable();
        rates.dedup();
        let mut formats: Vec<SampleFormat> = ranges.iter().map(|r| r.sample_format()).collect();
        formats.sort_unstable();
        formats.dedup();
        let default_config = d.default_input_config().ok().map(|c| StreamSummary {
            channels: c.channels(),
            sample_rate_hz: c.sample_rate().0,
            format: c.sample_format().to_string(),
        });
        out.push(InputInfo {
            is_default: default_name.as_deref() == Some(name.as_str()),
            name,
            default_config,
            channels,
            rates,
            formats: formats.iter().map(|f| f.to_string()).collect(),
        });
    }
    Ok(out)
}

/// The input named `name` (exact name first, then the one input whose name contains it,
/// ignoring case), or the default input.
pub(crate) fn find_input(
    host: &cpal::Host,
    name: Option<&str>,
) -> Result<(cpal::Device, String), AudioError> {
    let mut named: Vec<(cpal::Device, String)> = host
        .input_devices()
        .map_err(host_error)?
        .filter_map(|d| d.name().ok().map(|n| (d, n)))
        .collect();
    let available = || {
        if named.is_empty() {
            "none".to_string()
        } else {
            named
                .iter()
                .map(|(_, n)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let Some(asked) = name else {
        let d = host
            .default_input_device()
            .ok_or_else(|| AudioError::NoDefault {
                available: available(),
            })?;
        let n = d.name().unwrap_or_else(|_| "default".into());
        return Ok((d, n));
    };
    if let Some(i) = named.iter().position(|(_, n)| n == asked) {
        return Ok(named.swap_remove(i));
    }
    let low = asked.to_lowercase();
    let hits: Vec<usize> = (0..named.len())
        .filter(|&i| named[i].1.to_lowercase().contains(&low))
        .collect();
    match hits.as_slice() {
        [i] => Ok(named.swap_remove(*i)),
        [] => Err(AudioError::NoDevice {
            asked: asked.to_string(),
            available: available(),
        }),
        many => Err(AudioError::Ambiguous {
            asked: asked.to_string(),
            matches: many
                .iter()
                .map(|&i| named[i].1.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_read_as_text() {
        assert_eq!(channels_text(&[1, 2, 3, 4]), "1–4");
        assert_eq!(channels_text(&[1, 2, 6]), "1, 2, 6");
        assert_eq!(channels_text(&[2]), "2");
        assert_eq!(channels_text(&[]), "none");
        assert_eq!(
            rates_text(&[(44100, 44100), (48000, 48000)]),
            "44100, 48000 Hz"
        );
        assert_eq!(rates_text(&[(1, 384000)]), "1–384000 Hz");
    }
}
