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
pub const SOURCE_FORMS: &str =
    "`sim`, `sim:SCENARIO`, `serial:PORT[,format=ncs|byb|text][,OPTION=VALUE...]` \
(PORT a path or usb=VID:PID), `audio` or `audio:NAME[,OPTION=VALUE...]`";

/// Opens the source `spec` names; `speed` paces a simulated one. With `patient` a simulated
/// source is a simulated patient: nothing is stimulated until the examiner fires, and the
/// response comes from where the current protocol step places the electrode.
pub fn open(spec: &str, speed: &str, patient: bool) -> anyhow::Result<Opened> {
    if spec == "audio" || spec.starts_with("audio:") {
        let rest = spec.strip_prefix("audio").unwrap_or_default();
        return audio(rest.strip_prefix(':').unwrap_or(rest));
    }
    if let Some(rest) = spec.strip_prefix("serial:") {
        return serial(rest);
    }
    let pace = Pace::parse(speed).map_err(anyhow::Error::msg)?;
    let source: Box<dyn Source> = if patient {
        Box::new(patient_sim(spec, pace)?)
    } else {
        Box::new(sim(spec, pace)?)
    };
    Ok(Opened {
        source,
        pace,
        link: None,
    })
}

/// How long a simulated patient lasts (s of signal) unless the examiner quits first.
pub const PATIENT_SECONDS: f64 = 3600.0;

/// The simulated patient of `spec` (`sim` or `sim:SCENARIO`): the scenario's nerves,
/// stimulated on demand.
fn patient_sim(spec: &str, pace: Pace) -> anyhow::Result<SimSource> {
    let planned = sim(spec, pace)?;
    let scenario = planned.study().scenario().clone();
    Ok(SimSource::on_demand(&scenario, pace, PATIENT_SECONDS)?)
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

/// Options of `serial:PORT,...`, for messages.
const SERIAL_OPTIONS: &str = "format=ncs|byb|text, baud=N; byb: bits=N, channels=N, \
volts_per_count=V, rate=HZ; text: channels=N, volts_per_count=V, offset=N, rate=HZ";

/// A serial amplifier: `PORT[,key=value...]`, the ncs protocol unless `format=byb` (Backyard
/// Brains) or `format=text` (lines of integers) with their stated scale.
fn serial(rest: &str) -> anyhow::Result<Opened> {
    let spec: ncs_serial::SerialSpec = rest
        .parse()
        .map_err(|e| anyhow::anyhow!("--source serial:{rest}: {e} (options: {SERIAL_OPTIONS})"))?;
    let port = spec.port.to_string();
    let cannot = || format!("cannot start the amplifier on {port} (--source serial:{rest})");
    // An amplifier paces itself: its samples arrive at the device's rate.
    let pace = Pace::RealTime { speed: 1.0 };
    let (source, link): (Box<dyn Source>, Link) = match spec.format {
        ncs_serial::SerialFormat::Ncs => {
            let mut cfg = ncs_serial::SerialConfig::new(spec.port);
            cfg.baud = spec.baud;
            let source = ncs_serial::SerialSource::open(cfg).with_context(cannot)?;
            let live = source.live_stats();
            (
                Box::new(source),
                std::sync::Arc::new(move || {
                    serde_json::to_value(live.report()).unwrap_or_default()
                }),
            )
        }
        ncs_serial::SerialFormat::Byb {
            config,
            sample_rate_hz,
        } => {
            let source = ncs_serial::BybSource::open(&spec.port, spec.baud, config, sample_rate_hz)
                .with_context(cannot)?;
            let live = source.live_stats();
            (
                Box::new(source),
                std::sync::Arc::new(move || {
                    serde_json::to_value(live.snapshot()).unwrap_or_default()
                }),
            )
        }
        ncs_serial::SerialFormat::Text {
            channels,
            volts_per_count,
            offset_counts,
            sample_rate_hz,
        } => {
            let source = ncs_serial::TextLineSource::open(
                &spec.port,
                spec.baud,
                channels,
                volts_per_count,
                offset_counts,
                sample_rate_hz,
            )
            .with_context(cannot)?;
            let live = source.live_stats();
            (
                Box::new(source),
                std::sync::Arc::new(move || {
                    serde_json::to_value(live.snapshot()).unwrap_or_default()
                }),
            )
        }
    };
    Ok(Opened {
        source,
        pace,
        link: Some(link),
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
        let e = open("bogus", "max", false).err().unwrap();
        assert!(e.to_string().contains("--source must be"), "{e}");
        let e = open("sim", "fast", false).err().unwrap();
        assert!(!e.to_string().is_empty());
        // Serial options are checked before any port is opened.
        let e = open("serial:/dev/null,format=byb,bits=9", "1", false)
            .err()
            .unwrap();
        assert!(
            e.to_string().contains("ADC bits must be 10..=14, got 9"),
            "{e}"
        );
        assert!(e.to_string().contains("volts_per_count=V"), "{e}");
        let e = open("serial:/dev/null,offset=3", "1", false).err().unwrap();
        assert!(
            e.to_string()
                .contains("offset does not apply to format=ncs"),
            "{e}"
        );
        assert!(SOURCE_FORMS.contains("`audio:NAME[,OPTION=VALUE...]`"));
        // Options are checked before any device is opened.
        let e = open("audio:USB,rate=fast", "1", false).err().unwrap();
        assert!(e.to_string().contains("rate must be a whole number"), "{e}");
        assert!(e.to_string().contains("volts_full_scale=V"), "{e}");
        let e = open("audio:USB,colour=red", "1", false).err().unwrap();
        assert!(
            e.to_string().contains("must be one of the audio options"),
            "{e}"
        );
    }
}
