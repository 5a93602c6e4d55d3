//! `--source` specifications of `ncs acquire`: which source to open, how it is paced, and what
//! it reports about its link at the end of a run.

use anyhow::{bail, Context};
use ncs_runtime::{Pace, SimSource, Source};

/// An opened source with what the live commands need besides its samples.
pub struct Opened {
    /// The source.
    pub source: Box<dyn Source>,
    /// Its pace: hardware paces itself (real time); a simulator follows `--speed`.
    pub pace: Pace,
    /// Link health (counts of the faults noticed so far: CRC failures, resyncs, sequence gaps,
    /// reconnects, ...), readable from any thread while the source runs, when the source has a
    /// link to report on. Shown live, printed at the end and stored in the session.
    pub link: Option<Link>,
}

/// Reads a source's link counts as JSON (an object of counters).
pub type Link = std::sync::Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// Every form `--source` takes, for messages.
pub const SOURCE_FORMS: &str = "`sim`, `sim:SCENARIO`, `serial:PATH`, `serial:usb=VID:PID`, \
`audio` or `audio:NAME[,OPTION=VALUE...]`";

/// Opens the source `spec` names; `speed` paces a simulated one.
pub fn open(spec: &str, speed: &str) -> anyhow::Result<Opened> {
    if spec == "audio" || spec.starts_with("audio:") {
        let rest = spec.strip_prefix("audio").unwrap_or_default();
        return audio(rest.strip_prefix(':').unwrap_or(rest));
    }
    if let Some(port) = spec.strip_prefix("serial:") {
        // An amplifier paces itself: its samples arrive at the device's rate.
        let spec: ncs_serial::PortSpec = port
            .parse()
            .map_err(|e| anyhow::anyhow!("--source serial:{port}: {e}"))?;
        let source = ncs_serial::SerialSource::open(ncs_serial::SerialConfig::new(spec))
            .with_context(|| format!("cannot start the amplifier on {port}"))?;
        let live = source.live_stats();
        return Ok(Opened {
            source: Box::new(source),
            pace: Pace::RealTime { speed: 1.0 },
            link: Some(std::sync::Arc::new(move || {
                serde_json::to_value(live.snapshot()).unwrap_or_default()
            })),
        });
    }
    let pace = Pace::parse(speed).map_err(anyhow::Error::msg)?;
    Ok(Opened {
        source: Box::new(sim(spec, pace)?),
        pace,
        link: None,
    })
}

/// An audio input: `NAME` (exact or a part of it; empty for the default input) and options,
/// e.g. `USB Audio,rate=48000,channels=2,trigger=1,volts_full_scale=0.01`.
fn audio(spec: &str) -> anyhow::Result<Opened> {
    let cfg: ncs_audio::AudioConfig = spec.parse().map_err(|e| {
        anyhow::anyhow!(
            "--source audio:{spec}: {e} (options: {})",
            ncs_audio::AUDIO_OPTIONS
        )
    })?;
    let source = ncs_audio::AudioSource::open(cfg)
        .with_context(|| format!("cannot start the audio input (--source audio:{spec})"))?;
    let live = source.live_stats();
    Ok(Opened {
        source: Box::new(source),
        // The device's clock paces the stream.
        pace: Pace::RealTime { speed: 1.0 },
        link: Some(std::sync::Arc::new(move || {
            serde_json::to_value(live.snapshot()).unwrap_or_default()
        })),
    })
}

/// The simulated amplifier `spec` (`sim` or `sim:SCENARIO`) names.
pub fn sim(spec: &str, pace: Pace) -> anyhow::Result<SimSource> {
    let scenario = match spec.split_once(':') {
        None if spec == "sim" => "mmn",
        Some(("sim", name)) if !name.is_empty() => name,
        _ => bail!(
            "--source must be {SOURCE_FORMS} (scenarios: {}), got {spec:?}",
            ncs_sim::list_scenarios().join(", ")
        ),
    };
    Ok(SimSource::named(scenario, pace)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_specs_are_checked() {
        assert!(sim("sim:normal", Pace::Max).is_ok());
        let e = sim("serial:/dev/ttyUSB0", Pace::Max).err().unwrap();
        assert!(e.to_string().contains("--source must be"), "{e}");
        assert!(sim("sim:nope", Pace::Max).is_err());
        let e = open("bogus", "max").err().unwrap();
        assert!(e.to_string().contains("--source must be"), "{e}");
        let e = open("sim", "fast").err().unwrap();
        assert!(!e.to_string().is_empty());
        assert!(SOURCE_FORMS.contains("`audio:NAME[,OPTION=VALUE...]`"));
        // Options are checked before any device is opened.
        let e = open("audio:USB,rate=fast", "1").err().unwrap();
        assert!(e.to_string().contains("rate must be a whole number"), "{e}");
        assert!(e.to_string().contains("volts_full_scale=V"), "{e}");
        let e = open("audio:USB,colour=red", "1").err().unwrap();
        assert!(
            e.to_string().contains("must be one of the audio options"),
            "{e}"
        );
    }
}
