//! `ncs simulate`: write a simulated study as an NWB session, with its ground truth.

use std::path::{Path, PathBuf};

use anyhow::Context;
use ncs_io::{
    ColumnSpec, ColumnType, SessionMeta, SessionWriter, Stimulus, Subject, TableSpec, Value,
};
use ncs_sim::{Modality as SimModality, Scenario, Side, StudySource};

/// Arguments of `ncs simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// A built-in scenario name (`ncs scenarios` lists them) or a scenario TOML file.
    pub scenario: String,
    /// Session file to write.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Override the scenario's random seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the scenario's sample rate (Hz).
    #[arg(long)]
    pub sample_rate: Option<f64>,
}

/// Loads a scenario by built-in name or from a TOML file.
pub fn load_scenario(name: &str) -> anyhow::Result<Scenario> {
    let path = Path::new(name);
    if path.extension().is_some_and(|e| e == "toml") || path.exists() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read scenario file {name}"))?;
        return Scenario::from_toml_str(&text)
            .with_context(|| format!("scenario file {name} is not valid"));
    }
    ncs_sim::scenario(name).map_err(|e| anyhow::anyhow!("{e}"))
}

/// The name of the table holding each stimulus's true measures.
pub const TRUTH_TABLE: &str = "simulation_truth";

fn truth_table() -> TableSpec {
    let col = |name: &str, description: &str, ty| ColumnSpec {
        name: name.into(),
        description: description.into(),
        ty,
    };
    TableSpec {
        name: TRUTH_TABLE.into(),
        description: "Ground truth of each simulated stimulus: measures of the noise-free response"
            .into(),
        columns: vec![
            col("stimulus_time_s", "stimulus instant (s)", ColumnType::F64),
            col(
                "recruited_fraction",
                "fraction of axons excited",
                ColumnType::F64,
            ),
            col(
                "conducting_fraction",
                "fraction of excited axons conducting to the muscle",
                ColumnType::F64,
            ),
            col(
                "onset_latency_ms",
                "true onset latency (ms), NaN without a response",
                ColumnType::F64,
            ),
            col(
                "negative_peak_amplitude_mv",
                "true negative-peak amplitude (mV)",
                ColumnType::F64,
            ),
            col(
                "negative_peak_area_mv_ms",
                "true negative-peak area (mV·ms)",
                ColumnType::F64,
            ),
            col(
                "negative_peak_duration_ms",
                "true negative-peak duration (ms)",
                ColumnType::F64,
            ),
        ],
    }
}

/// Writes the scenario's whole study to `output`.
pub fn simulate(args: &SimulateArgs) -> anyhow::Result<()> {
    let mut scenario = load_scenario(&args.scenario)?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    if let Some(fs) = args.sample_rate {
        scenario.sample_rate_hz = fs;
    }
    let mut source = StudySource::new(&scenario).map_err(|e| anyhow::anyhow!("{e}"))?;
    let ch = source.channel_count();
    let names: Vec<String> = (0..ch)
        .map(|c| {
            if scenario.trigger_channel && c == ch - 1 {
                "trigger".into()
            } else {
                format!("emg{c}")
            }
        })
        .collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut meta = SessionMeta::new(
        &format!("ncs-simulate-{}-{}", scenario.name, scenario.seed),
        &format!(
            "Simulated nerve-conduction study `{}`: {}",
            scenario.name, scenario.description
        ),
        "2026-01-01T09:00:00+00:00",
        source.sample_rate_hz(),
        &name_refs,
    );
    meta.subject = Subject {
        subject_id: "simulated".into(),
        species: "Homo sapiens".into(),
        sex: "U".into(),
        age: Some("P40Y".into()),
    };
    meta.tables.push(truth_table());
    let mut writer = SessionWriter::create(&args.output, &meta)?;
    writer.set_text(
        "scenario",
        &scenario
            .to_toml_string()
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    )?;
    writer.set_text(
        "generator",
        &format!("ncs {} simulate", env!("CARGO_PKG_VERSION")),
    )?;
    let stimuli = source.stimuli().to_vec();
    for s in &stimuli {
        writer.append_stimulus(&Stimulus {
            time_s: s.time_s,
            nerve: Some(s.nerve.clone()),
            side: Some(match s.side {
                Side::Left => "left".into(),
                Side::Right => "right".into(),
            }),
            site: Some(s.site.clone()),
            modality: Some(match s.modality {
                SimModality::Motor => ncs_io::Modality::Motor,
                SimModality::Sensory => ncs_io::Modality::Sensory,
            }),
            distance_mm: Some(s.distance_mm),
            channel: Some(s.channel),
            intensity_ma: Some(s.intensity_ma),
        })?;
    }
    for (k, stimulus) in stimuli.iter().enumerate() {
        let t = source.truth(k);
        let m = t.as_ref().and_then(|t| t.measures);
        let f = |v: Option<f64>| Value::F64(v.unwrap_or(f64::NAN));
        writer.append_row(
            TRUTH_TABLE,
            &[
                Value::F64(stimulus.time_s),
                Value::F64(t.as_ref().map_or(f64::NAN, |t| t.recruited_fraction)),
                Value::F64(t.as_ref().map_or(f64::NAN, |t| t.conducting_fraction)),
                f(m.map(|m| m.onset_latency_ms)),
                f(m.map(|m| m.negative_peak_amplitude_mv)),
                f(m.map(|m| m.negative_peak_area_mv_ms)),
                f(m.map(|m| m.negative_peak_duration_ms)),
            ],
        )?;
    }
    let mut block = vec![0.0f32; 8192 * ch];
    loop {
        let n = source.fill(&mut block);
        if n == 0 {
            break;
        }
        writer.append_frames(&block[..n * ch])?;
    }
    let frames = writer.finish()?;
    tracing::info!(
        frames,
        stimuli = stimuli.len(),
        "wrote {}",
        args.output.display()
    );
    Ok(())
}
