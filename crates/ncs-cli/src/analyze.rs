//! `ncs analyze`: offline analysis of a recorded session through the same processor as the live
//! pipeline.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use ncs_block::{ClinicalFindings, CriteriaSet, Modality, NormalValues, Study};
use ncs_cmap::saturation::{ClipReport, ClipTracker};
use ncs_dsp::{Edge, MainsConfig, TriggerConfig};
use ncs_io::Session;
use ncs_runtime::{
    Detection, Measurement, Processor, ProcessorConfig, SourceInfo, StimulusMark, StimulusTag,
};

use crate::report::{Analysis, Report, SessionRow};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Terminal tables.
    Table,
    /// One JSON object (the contract documented in the README).
    Json,
}

/// Direction of the first phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PolarityArg {
    /// The clinical convention: the first phase is negative in volts.
    NegativeFirst,
    /// Electrodes the other way round.
    PositiveFirst,
}

/// Arguments of `ncs analyze`.
#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// NWB 2 session file.
    pub session: PathBuf,
    /// Acquisition series to analyse when the file holds several.
    #[arg(long)]
    pub series: Option<String>,
    /// Conduction-block criteria set (a built-in name, or a lab's TOML table): efns-pns-2010-mmn, aan-1991-cidp, efns-pns-2010-cidp.
    #[arg(long, default_value = "efns-pns-2010-mmn")]
    pub criteria: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Find stimuli on this trigger channel instead of the stimuli table.
    #[arg(long)]
    pub trigger_channel: Option<usize>,
    /// Trigger level (in the channel's units, volts); default: half the channel's range.
    #[arg(long)]
    pub trigger_level: Option<f64>,
    /// Find stimuli from the stimulus artefact on this channel (no stimuli table, no trigger).
    #[arg(long)]
    pub artefact_channel: Option<usize>,
    /// Channel to measure for stimuli that name none.
    #[arg(long, default_value_t = 0)]
    pub channel: usize,
    /// Study protocol (TOML): nerves, sites and distances.
    #[arg(long)]
    pub protocol: Option<PathBuf>,
    /// Clinical findings (TOML or JSON) for the patient-level summary.
    #[arg(long)]
    pub findings: Option<PathBuf>,
    /// Pre-stimulus baseline (ms).
    #[arg(long, default_value_t = 20.0)]
    pub pre_ms: f64,
    /// Direction of the response's first phase at the active electrode.
    #[arg(long, value_enum, default_value = "negative-first")]
    pub polarity: PolarityArg,
    /// Post-stimulus window (ms). Longer than the 20–50 ms shown clinically, so that the
    /// baseline is seen again after slow proximal responses.
    #[arg(long, default_value_t = 100.0)]
    pub post_ms: f64,
    /// Sweep filters.
    #[command(flatten)]
    pub filters: FilterArgs,
}

/// Sweep filters: a low-pass and a notch on each finished sweep, zero-phase (forward–backward),
/// so that they do not delay the latencies (the delay they would add run causally, as an
/// amplifier's hardware filters do, is stated). There is no high-pass: offsets and drift are
/// removed by the measurer's baseline model, and a software high-pass after a large stimulus
/// artefact would shift the baseline the onset is measured against.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FilterArgs {
    /// Low-pass cut-off (Hz, Butterworth order 4, zero-phase on each sweep), e.g. 3000.
    #[arg(long, value_name = "HZ")]
    pub lowpass: Option<f64>,
    /// Notch at the mains frequency (Hz, Q 30, zero-phase on each sweep): 50 or 60. Rarely
    /// needed: the baseline model removes mains, and a notch rings around the response.
    #[arg(long, value_name = "HZ")]
    pub notch: Option<f64>,
}

impl FilterArgs {
    /// The processing settings with these filters.
    pub fn apply(&self, cfg: ProcessorConfig) -> ProcessorConfig {
        ProcessorConfig {
            lowpass_hz: self.lowpass,
            notch_hz: self.notch,
            ..cfg
        }
    }
}

/// The filters of `cfg` as the session and the report state them: cut-offs, where each runs,
/// the delay the causal one adds and the delay the zero-phase ones avoid.
pub fn filters_json(cfg: &ProcessorConfig, info: &SourceInfo) -> serde_json::Value {
    let p = Processor::new(cfg.clone(), info, Vec::new()).ok();
    serde_json::json!({
        "highpass_hz": cfg.highpass_hz,
        "highpass": "causal, on the stream (Butterworth order 2)",
        "lowpass_hz": cfg.lowpass_hz,
        "notch_hz": cfg.notch_hz,
        "sweep_filters": "zero-phase, on each sweep (low-pass Butterworth order 4, notch Q 30)",
        "causal_group_delay_ms_at_300_hz": p.as_ref().map(|p| p.filter_delay_ms()),
        "avoided_group_delay_ms_at_300_hz": p.as_ref().map(|p| p.avoided_delay_ms()),
    })
}

/// One line saying which filters ran and what they do to the latencies, or none.
pub fn filters_note(cfg: &ProcessorConfig, info: &SourceInfo) -> Option<String> {
    if cfg.highpass_hz.is_none() && cfg.lowpass_hz.is_none() && cfg.notch_hz.is_none() {
        return None;
    }
    let p = Processor::new(cfg.clone(), info, Vec::new()).ok()?;
    let mut parts = Vec::new();
    if let Some(f) = cfg.highpass_hz {
        parts.push(format!(
            "high-pass {f} Hz causal on the stream: latencies delayed by {:.4} ms at 300 Hz (not corrected)",
            p.filter_delay_ms()
        ));
    }
    if cfg.lowpass_hz.is_some() || cfg.notch_hz.is_some() {
        let f = |v: Option<f64>| v.map_or_else(|| "none".to_owned(), |x| format!("{x} Hz"));
        parts.push(format!(
            "sweeps filtered zero-phase (low-pass {}, notch {}): latencies not delayed, where the same filters run causally would delay them by {:.3} ms at 300 Hz",
            f(cfg.lowpass_hz),
            f(cfg.notch_hz),
            p.avoided_delay_ms()
        ));
    }
    if cfg.notch_hz.is_some() {
        parts.push("a notch rings before and after a response and can move its onset by a tenth of a ms (the baseline model removes mains without one)".into());
    }
    Some(format!("filters: {}", parts.join("; ")))
}

/// Everything `analyze` needs before reading samples, checked up front so that bad input fails
/// before any work and no partial result is printed.
pub struct Prepared {
    /// The open session.
    pub session: Session,
    /// Stream description.
    pub info: SourceInfo,
    /// Stimulus descriptions.
    pub tags: Vec<StimulusTag>,
    /// Stimulus marks from the table (empty when detected from a channel).
    pub marks: Vec<StimulusMark>,
    /// Processing settings.
    pub config: ProcessorConfig,
    /// What was assumed.
    pub assumptions: Vec<String>,
}

fn read_text(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} file {}", path.display()))
}

/// Loads the study protocol, if given.
pub fn load_study(path: Option<&Path>) -> anyhow::Result<Option<Study>> {
    path.map(|p| {
        let text = crate::exam::protocol_text(p)?;
        Study::from_toml_str(&text, &NormalValues::default_adult())
            .with_context(|| format!("protocol {} is not valid", p.display()))
    })
    .transpose()
}

/// The study protocol for analysing `session`: `--protocol` if given, else the protocol the
/// session was recorded with (`study_protocol`, with the distances measured during the
/// study), so that offline analysis grades the study as it was graded live. Says which it
/// used in `assumptions`.
pub fn study_for(
    protocol: Option<&Path>,
    session: &Session,
    assumptions: &mut Vec<String>,
) -> anyhow::Result<Option<Study>> {
    if protocol.is_some() {
        return load_study(protocol);
    }
    let texts = session.texts()?;
    let Some(text) = texts.get(crate::exam::PROTOCOL_TEXT) else {
        return Ok(None);
    };
    let study = Study::from_toml_str(text, &NormalValues::default_adult()).with_context(|| {
        format!(
            "the study protocol recorded in {} (/processing/ncs/ncs_text, {}) is not valid",
            session.info().path.display(),
            crate::exam::PROTOCOL_TEXT
        )
    })?;
    assumptions.push(format!(
        "study protocol {:?} as recorded in the session ({})",
        study.name,
        crate::exam::PROTOCOL_TEXT
    ));
    Ok(Some(study))
}

/// Loads clinical findings (TOML, or JSON by extension), if given.
pub fn load_findings(path: Option<&Path>) -> anyhow::Result<ClinicalFindings> {
    let Some(p) = path else {
        return Ok(ClinicalFindings::default());
    };
    let text = read_text(p, "findings")?;
    let parsed = if p
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        ClinicalFindings::from_json_str(&text)
    } else {
        ClinicalFindings::from_toml_str(&text)
    };
    parsed.with_context(|| format!("findings {} are not valid", p.display()))
}

/// Opens the session and works out stimuli and settings.
pub fn prepare(args: &AnalyzeArgs) -> anyhow::Result<Prepared> {
    let session = Session::open(&args.session, args.series.as_deref())?;
    let si = session.info().clone();
    let info = SourceInfo {
        sample_rate_hz: si.sample_rate_hz,
        channels: si.channels,
        channel_names: (0..si.channels).map(|c| format!("ch{c}")).collect(),
        starting_time_s: si.starting_time,
        description: format!("{} ({})", si.path.display(), si.series),
    };
    let mut assumptions: Vec<String> = si.unit_assumption().into_iter().collect();
    let mut tags = Vec::new();
    let mut marks = Vec::new();
    let detection = if let Some(ch) = args.trigger_channel {
        let level = match args.trigger_level {
            Some(l) => l,
            None => {
                let level = trigger_midpoint(&session, ch)?;
                assumptions.push(format!(
                    "trigger level {level:.6} (half the range of channel {ch})"
                ));
                level
            }
        };
        Detection::Trigger {
            channel: ch,
            config: TriggerConfig {
                sample_rate_hz: si.sample_rate_hz,
                arm_level: level,
                disarm_level: level * 0.5,
                edge: Edge::Rising,
                refractory_ms: 100.0,
            },
        }
    } else if let Some(ch) = args.artefact_channel {
        Detection::Artefact { channel: ch }
    } else {
        match session.stimuli()? {
            Some(table) => {
                assumptions.extend(table.assumptions);
                for (i, row) in table.rows.iter().enumerate() {
                    let sample = ((row.time_s - si.starting_time) * si.sample_rate_hz).round();
                    if !(sample >= 0.0 && (sample as u64) < si.n_samples) {
                        bail!(
                            "stimulus row {i} at {} s lies outside the recording ({} s to {} s) in {}",
                            row.time_s,
                            si.starting_time,
                            si.starting_time + si.duration_s,
                            si.path.display()
                        );
                    }
                    tags.push(StimulusTag {
                        nerve: row.nerve.clone(),
                        side: row.side.clone(),
                        site: row.site.clone(),
                        modality: row.modality.map(|m| match m {
                            ncs_io::Modality::Motor => Modality::Motor,
                            ncs_io::Modality::Sensory => Modality::Sensory,
                        }),
                        distance_mm: row.distance_mm,
                        channel: row.channel,
                        intensity_ma: row.intensity_ma,
                    });
                    marks.push(StimulusMark::new(sample as u64, Some(i as u32)));
                }
                marks.sort_by_key(|m| m.sample_index);
                Detection::Marks
            }
            None => {
                assumptions.push(format!(
                    "no stimuli table (/intervals/stimuli): stimuli searched as artefacts on channel {}",
                    args.channel
                ));
                Detection::Artefact {
                    channel: args.channel,
                }
            }
        }
    };
    let polarity = match args.polarity {
        PolarityArg::NegativeFirst => ncs_cmap::Polarity::NegativeFirst,
        PolarityArg::PositiveFirst => ncs_cmap::Polarity::PositiveFirst,
    };
    let defaults = ProcessorConfig::default();
    let config = ProcessorConfig {
        motor: ncs_cmap::MeasureConfig {
            polarity,
            ..defaults.motor.clone()
        },
        sensory: ncs_cmap::MeasureConfig {
            polarity,
            ..defaults.sensory.clone()
        },
        pre_ms: args.pre_ms,
        post_ms: args.post_ms,
        detection,
        default_channel: args.channel,
        ..args.filters.apply(defaults)
    };
    assumptions.extend(filters_note(&config, &info));
    Ok(Prepared {
        session,
        info,
        tags,
        marks,
        config,
        assumptions,
    })
}

/// Midpoint between a channel's minimum and maximum over the first 10 s.
fn trigger_midpoint(session: &Session, channel: usize) -> anyhow::Result<f64> {
    let info = session.info();
    if channel >= info.channels {
        bail!(
            "--trigger-channel {channel} does not exist: the recording has {} channel(s) (0-based)",
            info.channels
        );
    }
    let n = (info.n_samples as usize).min((info.sample_rate_hz * 10.0) as usize);
    let mut buf = vec![0.0; n];
    session.read_channel(channel, 0, n, &mut buf)?;
    let (lo, hi) = buf
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    Ok(0.5 * (lo + hi))
}

/// Frames read per chunk.
const CHUNK: usize = 8192;

/// Blocks the reader may be ahead of the processing.
const READ_AHEAD: usize = 4;

/// One stretch of the record, in order.
enum Step {
    /// Frames `(start, count)` to read and process.
    Read(u64, usize),
    /// A recorded gap from the first frame to the second (exclusive).
    Gap(u64, u64),
}

/// What a pass over the whole session found besides the measurements.
pub struct Processed {
    /// Processor counters.
    pub stats: ncs_runtime::ProcessorStats,
    /// Per channel, whether the record holds its extreme value for runs of samples (clipping).
    pub clipping: Vec<ClipReport>,
    /// Per channel, mains interference over the first seconds of the record (FFT).
    pub mains: Vec<MainsRow>,
}

/// Runs the processor over the whole session, calling `on` for each measurement in order, and
/// scans every channel for clipping on the way.
pub fn process(prepared: &Prepared, on: &mut dyn FnMut(&Measurement)) -> anyhow::Result<Processed> {
    let Prepared {
        session,
        info,
        tags,
        marks,
        config,
        ..
    } = prepared;
    let mut processor = Processor::new(
        ProcessorConfig {
            max_block_frames: CHUNK,
            ..config.clone()
        },
        info,
        tags.clone(),
    )?;
    let n = session.info().n_samples;
    let ch = info.channels;
    let mut frames = vec![0.0f32; CHUNK * ch];
    let mut sink = |m: &Measurement| on(m);
    let mut next_mark = 0;
    // A physiological signal sampled this fast does not hold one value for 0.15 ms.
    let min_run = ((0.15e-3 * info.sample_rate_hz).round() as usize).max(3);
    let mut clips = vec![ClipTracker::new(min_run); ch];
    // The first 2 s of every channel, for the mains estimate.
    let mains_len = ((2.0 * info.sample_rate_hz) as usize).min(n as usize);
    let mut head: Vec<Vec<f64>> = vec![Vec::with_capacity(mains_len); ch];
    // Recorded data loss: its frames hold placeholders, so the processor is told of the gap
    // (sweeps over it are flagged, not measured) instead of being fed them.
    let mut gaps: Vec<(u64, u64)> = session
        .gaps()?
        .into_iter()
        .filter(|g| g.sample_count > 0)
        .map(|g| (g.first_sample, (g.first_sample + g.sample_count).min(n)))
        .collect();
    gaps.sort_unstable();
    // The record in order: blocks to read (start, frames) and gaps to report.
    let mut steps: Vec<Step> = Vec::new();
    let (mut start, mut next_gap) = (0u64, 0);
    while start < n {
        while next_gap < gaps.len() && gaps[next_gap].1 <= start {
            next_gap += 1;
        }
        if let Some(&(_, g1)) = gaps.get(next_gap).filter(|g| g.0 <= start) {
            steps.push(Step::Gap(start, g1));
            start = g1;
            continue;
        }
        let limit = gaps.get(next_gap).map_or(n, |g| g.0);
        let count = ((limit - start) as usize).min(CHUNK);
        steps.push(Step::Read(start, count));
        start += count as u64;
    }
    let marks_until = |end: u64, next_mark: &mut usize| {
        let first = *next_mark;
        while *next_mark < marks.len() && marks[*next_mark].sample_index < end {
            *next_mark += 1;
        }
        first..*next_mark
    };
    // Reading (the HDF5 library, conversion to volts, the finite check) runs on its own
    // thread, a few blocks ahead of the processing: the two overlap instead of adding up.
    // Buffers go round between the two, so nothing is allocated per block.
    let (full_tx, full_rx) = crossbeam_channel::bounded::<anyhow::Result<Vec<f64>>>(READ_AHEAD);
    let (free_tx, free_rx) = crossbeam_channel::bounded::<Vec<f64>>(READ_AHEAD + 1);
    for _ in 0..=READ_AHEAD {
        let _ = free_tx.send(vec![0.0f64; CHUNK * ch]);
    }
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let steps = &steps;
        scope.spawn(move || {
            let reads = steps.iter().filter_map(|s| match *s {
                Step::Read(a, k) => Some((a, k)),
                Step::Gap(..) => None,
            });
            for (a, k) in reads {
                let Ok(mut buf) = free_rx.recv() else { return };
                let r = session
                    .read_frames(a, k, &mut buf[..k * ch])
                    .map(|()| buf)
                    .map_err(anyhow::Error::from);
                let failed = r.is_err();
                if full_tx.send(r).is_err() || failed {
                    return;
                }
            }
        });
        for step in steps {
            match *step {
                Step::Gap(a, g1) => {
                    processor.gap(a, g1 - a);
                    let in_gap = marks_until(g1, &mut next_mark);
                    processor.push(g1, &[], &marks[in_gap], &mut sink);
                }
                Step::Read(start, count) => {
                    let buf = full_rx
                        .recv()
                        .map_err(|_| anyhow::anyhow!("the session's reader stopped"))??;
                    let block = &buf[..count * ch];
                    for (f, &x) in frames.iter_mut().zip(block) {
                        *f = x as f32;
                    }
                    ClipTracker::push_interleaved(&mut clips, block);
                    for (c, h) in head.iter_mut().enumerate() {
                        let room = mains_len - h.len();
                        h.extend(block.iter().skip(c).step_by(ch).take(room));
                    }
                    let end = start + count as u64;
                    let these = marks_until(end, &mut next_mark);
                    processor.push(start, &frames[..count * ch], &marks[these], &mut sink);
                    let _ = free_tx.send(buf);
                }
            }
        }
        // Unblocks the reader if it is still waiting for a buffer.
        drop(free_tx);
        Ok(())
    })?;
    processor.finish(&mut sink);
    let clipping = clips
        .iter()
        .enumerate()
        .map(|(c, t)| {
            let mut r = t.report();
            // Integer data that reaches (within 0.1 %) its storage type's limits saturated the
            // converter even without flat runs (a clipped peak may last a single sample).
            if let Some((lo, hi)) = session.full_scale_volts(c) {
                let margin = 1e-3 * (hi - lo);
                if r.high >= hi - margin {
                    r.high_runs = r.high_runs.max(1);
                }
                if r.low <= lo + margin {
                    r.low_runs = r.low_runs.max(1);
                }
            }
            r
        })
        .collect();
    let mains = mains_rows(&head, info.sample_rate_hz);
    Ok(Processed {
        stats: processor.stats(),
        clipping,
        mains,
    })
}

/// Mains interference on one channel (`session.mains` in the JSON report).
#[derive(Debug, Clone, serde::Serialize)]
pub struct MainsRow {
    /// Channel.
    pub channel: usize,
    /// 50 or 60.
    pub nominal_hz: f64,
    /// Measured fundamental frequency (Hz).
    pub frequency_hz: f64,
    /// RMS of the fundamental (µV).
    pub fundamental_uv_rms: f64,
    /// RMS of the fundamental and its harmonics together (µV).
    pub with_harmonics_uv_rms: f64,
}

fn mains_rows(head: &[Vec<f64>], fs: f64) -> Vec<MainsRow> {
    let Ok(analyzer) = (MainsConfig {
        sample_rate_hz: fs,
        harmonics: 5,
    })
    .build() else {
        return Vec::new();
    };
    head.iter()
        .enumerate()
        .filter_map(|(channel, x)| {
            // A record shorter than the analyser needs gives no estimate rather than a wrong one.
            let r = analyzer.analyze(x).ok()?;
            Some(MainsRow {
                channel,
                nominal_hz: r.nominal_hz,
                frequency_hz: r.fundamental_hz,
                fundamental_uv_rms: r.fundamental_uv_rms,
                with_harmonics_uv_rms: r.lines.iter().map(|l| l.rms * l.rms).sum::<f64>().sqrt()
                    * 1e6,
            })
        })
        .collect()
}

/// The criteria set `spec` names: a built-in name, or a TOML table a lab wrote (see
/// `ncs_block::CriteriaSet::to_toml_string`).
pub fn load_criteria(spec: &str) -> anyhow::Result<CriteriaSet> {
    let path = Path::new(spec);
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
        || path.is_file()
    {
        let text = read_text(path, "criteria")?;
        return CriteriaSet::from_toml_str(&text)
            .with_context(|| format!("criteria table {} is not valid", path.display()));
    }
    Ok(CriteriaSet::by_name(spec)?)
}

/// Stimuli found on a trigger channel or as artefacts carry no site: the protocol gives them
/// theirs. An examiner stimulates site after site, a run of stimuli at the stimulation rate
/// each, and moves the electrode in between; so the stimuli are cut into runs at pauses longer
/// than 2.5 times the median interval between stimuli (and at least 2 s), and the runs are
/// the protocol's steps in order. When the counts differ the analysis stops and says so,
/// rather than guess which run is which site.
fn place_found_stimuli(prepared: &mut Prepared, study: &Study) -> anyhow::Result<()> {
    let mut found = Vec::new();
    process(prepared, &mut |m| found.push(m.sample_index))?;
    let fs = prepared.info.sample_rate_hz;
    let steps = ncs_exam::steps(study);
    let how = match prepared.config.detection {
        Detection::Trigger { channel, .. } => format!("on trigger channel {channel}"),
        Detection::Artefact { channel } => format!("as artefacts on channel {channel}"),
        Detection::Marks => "in the stimuli table".to_owned(),
    };
    let mut gaps: Vec<u64> = found.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_unstable();
    let median = gaps.get(gaps.len() / 2).copied().unwrap_or(0) as f64 / fs;
    let pause = (2.5 * median).max(2.0);
    let mut runs: Vec<Vec<u64>> = Vec::new();
    for (i, &at) in found.iter().enumerate() {
        let new_run = i == 0 || (at - found[i - 1]) as f64 / fs > pause;
        if new_run {
            runs.push(Vec::new());
        }
        if let Some(r) = runs.last_mut() {
            r.push(at);
        }
    }
    if runs.len() != steps.len() {
        bail!(
            "{} stimuli found {how} fall into {} run(s) separated by pauses longer than {pause:.1} s, but the protocol {:?} has {} step(s) (sites): which run is which site cannot be told; give the stimuli a table (/intervals/stimuli) or a protocol with the steps stimulated",
            found.len(),
            runs.len(),
            study.name,
            steps.len()
        );
    }
    prepared.tags = steps.iter().map(ncs_exam::Step::tag).collect();
    prepared.marks = runs
        .iter()
        .enumerate()
        .flat_map(|(k, r)| {
            r.iter()
                .map(move |&at| StimulusMark::new(at, Some(k as u32)))
        })
        .collect();
    prepared.config.detection = Detection::Marks;
    prepared.assumptions.push(format!(
        "{} stimuli found {how}, in {} runs separated by pauses longer than {pause:.1} s, taken as the protocol's {} steps in order (intensities unknown: each sweep is its own intensity step, in order)",
        found.len(),
        runs.len(),
        steps.len()
    ));
    Ok(())
}

/// Analyses a session and returns the report.
pub fn analyze(args: &AnalyzeArgs) -> anyhow::Result<Report> {
    let criteria = load_criteria(&args.criteria)?;
    let findings = load_findings(args.findings.as_deref())?;
    let mut prepared = prepare(args)?;
    let study = study_for(
        args.protocol.as_deref(),
        &prepared.session,
        &mut prepared.assumptions,
    )?;
    if let Some(study) = &study {
        if prepared.config.detection != Detection::Marks {
            place_found_stimuli(&mut prepared, study)?;
        }
    }
    let mut analysis = Analysis::new(criteria, study, findings, prepared.tags.clone())?;
    let Processed {
        stats,
        clipping,
        mains,
    } = process(&prepared, &mut |m| {
        analysis.add(m);
    })?;
    tracing::info!(
        stimuli = stats.stimuli,
        measured = stats.measured,
        incomplete = stats.incomplete,
        segments = analysis.detector().segments().len(),
        "analysed {}",
        args.session.display()
    );
    let si = prepared.session.info();
    let session = SessionRow {
        path: args.session.display().to_string(),
        sample_rate_hz: si.sample_rate_hz,
        channels: si.channels,
        duration_s: si.duration_s,
        mains,
        saturated_channels: clipping
            .iter()
            .enumerate()
            .filter(|(_, c)| c.saturated())
            .map(|(i, _)| i)
            .collect(),
    };
    analysis.report(session, prepared.assumptions.clone())
}
