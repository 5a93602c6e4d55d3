//! `ncs acquire`, `ncs demo` and `ncs replay`: a source run through the live pipeline
//! (acquisition → processing → block detector, recorder and terminal/JSON output), with the
//! verdict table and the pipeline summary (data loss, latency) at the end.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use ncs_block::{CriteriaSet, SegmentVerdict};
use ncs_runtime::pipeline::{Analyzer, Event, Output};
use ncs_runtime::recorder::session_meta;
use ncs_runtime::{
    Finisher, Measurement, Overflow, Pace, PipelineConfig, ProcessorConfig, Recorder,
    RejectOutcome, Rejection, SessionSource, Source, StimulusTag, Summary,
};
use serde::Serialize;

use crate::analyze::{load_findings, load_study};
use crate::report::{
    print_segments, response_row, segment_row, segments_table_spec, Analysis, Report, SessionRow,
    SEGMENTS_TABLE,
};
use crate::sources::Link;

/// Options shared by the live commands.
#[derive(Debug, Clone, clap::Args)]
pub struct LiveOptions {
    /// Print JSON lines (one per response, per verdict update, then the summary and the
    /// report) instead of the terminal display.
    #[arg(long)]
    pub json: bool,
    /// Conduction-block criteria set: efns-pns-2010-mmn, aan-1991-cidp, efns-pns-2010-cidp.
    #[arg(long, default_value = "efns-pns-2010-mmn")]
    pub criteria: String,
    /// Study protocol (TOML): nerves, sites and distances.
    #[arg(long)]
    pub protocol: Option<PathBuf>,
    /// Clinical findings (TOML or JSON) for the patient-level summary.
    #[arg(long)]
    pub findings: Option<PathBuf>,
    /// Pre-stimulus baseline (ms).
    #[arg(long, default_value_t = 20.0)]
    pub pre_ms: f64,
    /// Post-stimulus window (ms).
    #[arg(long, default_value_t = 100.0)]
    pub post_ms: f64,
    /// Stop after this many seconds of wall time (Ctrl-C stops too).
    #[arg(long)]
    pub seconds: Option<f64>,
    /// The subject's age for the recorded session (ISO 8601 duration, e.g. P45Y); simulated
    /// studies record P40Y.
    #[arg(long)]
    pub subject_age: Option<String>,
}

/// Arguments of `ncs acquire`.
#[derive(Debug, Clone, clap::Args)]
pub struct AcquireArgs {
    /// Where samples come from: `sim` or `sim:SCENARIO` (see `ncs scenarios`), or an amplifier
    /// speaking the ncs protocol: `serial:PATH` or `serial:usb=VID:PID`.
    #[arg(long, default_value = "sim:mmn")]
    pub source: String,
    /// Record the session (NWB) to this file.
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Pace of a simulated source: a factor of real time (1 = real time) or `max`.
    #[arg(long, default_value = "1")]
    pub speed: String,
    /// Shared options.
    #[command(flatten)]
    pub live: LiveOptions,
}

/// Arguments of `ncs demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Session file to record (default: `mmn-demo.nwb` in a temporary folder).
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Pace: a factor of real time or `max`. The study lasts several minutes of real time;
    /// the default plays it 20× faster, still paced by the clock through every thread.
    #[arg(long, default_value = "20")]
    pub speed: String,
    /// Print JSON lines instead of the terminal display.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `ncs replay`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// NWB 2 session file.
    pub session: PathBuf,
    /// Acquisition series when the file holds several.
    #[arg(long)]
    pub series: Option<String>,
    /// Pace: a factor of real time or `max`.
    #[arg(long, default_value = "max")]
    pub speed: String,
    /// Shared options.
    #[command(flatten)]
    pub live: LiveOptions,
}

/// `ncs acquire`.
pub fn acquire(args: &AcquireArgs) -> anyhow::Result<()> {
    let opened = crate::sources::open(&args.source, &args.speed)?;
    run_live(
        opened.source,
        opened.pace,
        args.record.as_deref(),
        &args.live,
        opened.link,
    )
}

/// `ncs demo`: the simulated MMN study acquired through the whole pipeline, recorded, with
/// the verdict table at the end.
pub fn demo(args: &DemoArgs) -> anyhow::Result<()> {
    let pace = Pace::parse(&args.speed).map_err(anyhow::Error::msg)?;
    let path = match &args.record {
        Some(p) => p.clone(),
        None => {
            let dir = std::env::temp_dir().join(format!("ncs-demo-{}", std::process::id()));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            dir.join("mmn-demo.nwb")
        }
    };
    let source = crate::sources::sim("sim:mmn", pace)?;
    let live = LiveOptions {
        json: args.json,
        criteria: "efns-pns-2010-mmn".into(),
        protocol: None,
        findings: None,
        pre_ms: 20.0,
        post_ms: 100.0,
        seconds: None,
        subject_age: None,
    };
    if !args.json {
        eprintln!(
            "ncs demo: simulated MMN study, {} through the live pipeline, recording to {}",
            match pace {
                Pace::Max => "at maximum speed".to_owned(),
                Pace::RealTime { speed: 1.0 } => "in real time".to_owned(),
                Pace::RealTime { speed } => format!("paced at {speed}× real time"),
            },
            path.display()
        );
    }
    run_live(source, pace, Some(&path), &live, None)
}

/// `ncs replay`: a recorded session through the same pipeline (its recorded gaps are lost
/// again, so the same sweeps are flagged).
pub fn replay(args: &ReplayArgs) -> anyhow::Result<()> {
    let pace = Pace::parse(&args.speed).map_err(anyhow::Error::msg)?;
    let source = SessionSource::open(&args.session, args.series.as_deref(), pace)?;
    for a in source.assumptions() {
        eprintln!("assumed: {a}");
    }
    run_live(source, pace, None, &args.live, None)
}

/// The pipeline settings for a source at `pace`.
pub fn pipeline_config(pace: Pace, opts: &LiveOptions) -> PipelineConfig {
    PipelineConfig {
        processor: ProcessorConfig {
            pre_ms: opts.pre_ms,
            post_ms: opts.post_ms,
            ..ProcessorConfig::default()
        },
        // A paced source is a live amplifier: it cannot wait, so a full ring is recorded
        // loss. A source at maximum speed can be paused instead.
        overflow: if pace.is_paced() {
            Overflow::Drop
        } else {
            Overflow::Wait
        },
        ..PipelineConfig::default()
    }
}

fn run_live<S: Source + 'static>(
    source: S,
    pace: Pace,
    record: Option<&Path>,
    opts: &LiveOptions,
    link: Option<Link>,
) -> anyhow::Result<()> {
    let info = source.info().clone();
    let tags = source.tags().to_vec();
    let criteria = CriteriaSet::by_name(&opts.criteria)?;
    let study = load_study(opts.protocol.as_deref())?;
    let findings = load_findings(opts.findings.as_deref())?;
    let analysis = Analysis::new(criteria, study, findings, tags.clone())?;
    // The segment verdicts as the analysis thread last left them, for the recorder to write
    // once everything has drained (neither thread is on the sample path).
    let final_segments: Arc<Mutex<Vec<SegmentVerdict>>> = Arc::default();
    let recorder = match record {
        Some(path) => {
            let mut meta = session_meta(&info, &identifier(), &now_iso8601());
            meta.tables.push(segments_table_spec());
            let simulated = info.description.contains("simulat");
            meta.subject.age = opts
                .subject_age
                .clone()
                .or_else(|| simulated.then(|| "P40Y".to_string()));
            let mut writer = ncs_io::SessionWriter::create(path, &meta)
                .with_context(|| format!("cannot create the session {}", path.display()))?;
            // What produced the numbers, so the session explains itself.
            let config = serde_json::json!({
                "criteria": opts.criteria,
                "pre_ms": opts.pre_ms,
                "post_ms": opts.post_ms,
                "motor": ProcessorConfig::default().motor,
                "sensory": ProcessorConfig::default().sensory,
            });
            writer.set_text("pipeline_config", &config.to_string())?;
            if let Some(p) = &opts.protocol {
                writer.set_text("study_protocol", &std::fs::read_to_string(p)?)?;
            }
            let segments = final_segments.clone();
            let link = link.clone();
            let finish: Finisher = Box::new(move |w: &mut ncs_io::SessionWriter| {
                let rows = segments.lock().map(|s| s.clone()).unwrap_or_default();
                for s in &rows {
                    w.append_row(SEGMENTS_TABLE, &segment_row(s))?;
                }
                if let Some(link) = &link {
                    w.set_text(LINK_TEXT, &link().to_string())?;
                }
                Ok(())
            });
            Some(
                Recorder::new(writer)
                    .with_default_measurements()
                    .with_finisher(finish),
            )
        }
        None => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    // A second pipeline in the same process cannot install the handler again; Ctrl-C then
    // ends the process as usual, which is all that is lost.
    let _ = ncs_runtime::stop_on_ctrl_c(stop.clone());
    if let Some(s) = opts.seconds {
        if !(s.is_finite() && s > 0.0) {
            bail!("--seconds must be a number > 0, got {s}");
        }
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs_f64(s));
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
        });
    }
    let output = LiveOutput {
        json: opts.json,
        tags,
        progress_shown: false,
        link: link.clone(),
        last_link: None,
    };
    let done = ncs_runtime::run(
        source,
        pipeline_config(pace, opts),
        LiveAnalysis {
            analysis,
            last: Vec::new(),
            shared: final_segments,
        },
        output,
        recorder,
        stop,
    )?;
    let mut output = done.output;
    output.clear_progress();
    let summary = done.summary;
    let session = SessionRow {
        path: record.map_or_else(|| info.description.clone(), |p| p.display().to_string()),
        sample_rate_hz: info.sample_rate_hz,
        channels: info.channels,
        duration_s: summary.stream_s,
        mains: Vec::new(),
        saturated_channels: Vec::new(),
    };
    let report = done.analyzer.analysis.report(session, Vec::new())?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if opts.json {
        json_line(&mut out, &Tagged::new("summary", &summary))?;
        if let Some(link) = &link {
            json_line(&mut out, &Tagged::new("link", &link()))?;
        }
        json_line(&mut out, &Tagged::new("report", &report))?;
    } else {
        print_end(&mut out, &report, &summary)?;
        if let Some(link) = &link {
            writeln!(out, "link: {}", counts_line(&link()))?;
        }
    }
    if let Some(e) = &summary.source_error {
        bail!("the source failed: {e}");
    }
    if let Some(e) = summary.recorder.as_ref().and_then(|r| r.error.as_ref()) {
        bail!("the recording failed: {e}");
    }
    Ok(())
}

fn print_end(out: &mut dyn Write, report: &Report, summary: &Summary) -> anyhow::Result<()> {
    print_segments(&report.segments, out)?;
    for w in &report.warnings {
        writeln!(out, "warning: {w}")?;
    }
    writeln!(out)?;
    write!(out, "{summary}")?;
    Ok(())
}

/// The block detector on its own thread: each measurement goes through the same
/// [`Analysis`] as `ncs analyze`; the segment verdicts it changed are the updates.
struct LiveAnalysis {
    analysis: Analysis,
    last: Vec<SegmentVerdict>,
    shared: Arc<Mutex<Vec<SegmentVerdict>>>,
}

impl Analyzer for LiveAnalysis {
    type Update = SegmentVerdict;

    fn on_measurement(&mut self, m: &Measurement, updates: &mut Vec<SegmentVerdict>) {
        if self.analysis.add(m) == 0 {
            return;
        }
        let now = self.analysis.detector().segments();
        for s in &now {
            if !self.last.contains(s) {
                updates.push(s.clone());
            }
        }
        if let Ok(mut shared) = self.shared.lock() {
            shared.clone_from(&now);
        }
        self.last = now;
    }
}

/// A JSON line with its kind first.
#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(flatten)]
    body: &'a T,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_us: Option<f64>,
}

impl<'a, T: Serialize> Tagged<'a, T> {
    fn new(kind: &'a str, body: &'a T) -> Self {
        Tagged {
            kind,
            body,
            latency_us: None,
        }
    }
}

fn json_line(out: &mut dyn Write, v: &impl Serialize) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, v)?;
    writeln!(out)?;
    Ok(())
}

struct LiveOutput {
    json: bool,
    tags: Vec<StimulusTag>,
    progress_shown: bool,
    link: Option<Link>,
    last_link: Option<serde_json::Value>,
}

/// A rejection as a JSON line.
#[derive(Serialize)]
struct RejectionRow {
    stimulus_time_s: f64,
    outcome: RejectOutcome,
}

impl From<&Rejection> for RejectionRow {
    fn from(r: &Rejection) -> Self {
        RejectionRow {
            stimulus_time_s: r.stimulus_time_s,
            outcome: r.outcome,
        }
    }
}

/// Name of the session text holding the source's link counts at the end of the run.
pub const LINK_TEXT: &str = "source_link";

/// `name value` for every non-zero count of a JSON object of counters, or `ok`.
fn counts_line(counts: &serde_json::Value) -> String {
    let nonzero: Vec<String> = counts
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, v)| v.as_f64().is_some_and(|x| x != 0.0))
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if nonzero.is_empty() {
        "ok".into()
    } else {
        nonzero.join(", ")
    }
}

impl LiveOutput {
    fn clear_progress(&mut self) {
        if self.progress_shown {
            eprint!("\r{:100}\r", "");
            self.progress_shown = false;
        }
    }

    fn write(&mut self, ev: &Event<SegmentVerdict>) -> anyhow::Result<()> {
        let us = |d: &Option<Duration>| d.map(|d| d.as_secs_f64() * 1e6);
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        match ev {
            Event::Measurement { m, latency } => {
                let tag = m.tag.and_then(|t| self.tags.get(t as usize));
                let row = response_row(m, tag, false);
                if self.json {
                    let mut t = Tagged::new("response", &row);
                    t.latency_us = us(latency);
                    json_line(&mut out, &t)?;
                } else {
                    self.clear_progress();
                    let num = |v: Option<f64>, d: usize| {
                        v.map_or_else(|| "-".to_owned(), |x| format!("{x:.d$}"))
                    };
                    writeln!(
                        out,
                        "{:>9.3} s  {:<8} {:<6} {:<12} ch{:<2} {:>6} mA  onset {:>6} ms  amp {:>6} mV  area {:>6} mV·ms  {}{}",
                        row.stimulus_time_s,
                        row.nerve.as_deref().unwrap_or("-"),
                        row.side.as_deref().unwrap_or("-"),
                        row.site.as_deref().unwrap_or("-"),
                        row.channel,
                        num(row.intensity_ma, 1),
                        num(row.onset_latency_ms, 2),
                        num(row.negative_peak_amplitude_mv, 2),
                        num(row.negative_peak_area_mv_ms, 1),
                        if row.present { "" } else { "no response " },
                        row.flags.join(",")
                    )?;
                }
            }
            Event::Update { update: s, latency } => {
                if self.json {
                    let mut t = Tagged::new("segment", s);
                    t.latency_us = us(latency);
                    json_line(&mut out, &t)?;
                } else {
                    self.clear_progress();
                    let grade = serde_json::to_value(s.block)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    let pct =
                        |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |x| format!("{x:.0} %"));
                    writeln!(
                        out,
                        "    ⇒ {} {} {} → {}: {}  (amplitude ↓ {}, area ↓ {})",
                        s.side,
                        s.nerve,
                        s.from_site,
                        s.to_site,
                        grade,
                        pct(s.amplitude_reduction_pct),
                        pct(s.area_reduction_pct)
                    )?;
                }
            }
            Event::Gap(g) => {
                if self.json {
                    json_line(&mut out, &Tagged::new("gap", g))?;
                } else {
                    self.clear_progress();
                    writeln!(
                        out,
                        "  !! {} frames lost from frame {} ({})",
                        g.count,
                        g.first_sample,
                        g.reason.as_str()
                    )?;
                }
            }
            Event::Rejected(r) => {
                if self.json {
                    json_line(&mut out, &Tagged::new("rejected", &RejectionRow::from(r)))?;
                } else {
                    self.clear_progress();
                    writeln!(
                        out,
                        "  ✗ sweep at {:.3} s: {}",
                        r.stimulus_time_s,
                        match r.outcome {
                            RejectOutcome::Rejected => "rejected, not used",
                            RejectOutcome::NotLastInAverage =>
                                "not rejected: newer sweeps were averaged after it",
                            RejectOutcome::Unknown => "not rejected: no such sweep",
                        }
                    )?;
                }
            }
            Event::Progress(p) => {
                if self.json {
                    // A line when the counts change: a fault shows up as it is noticed.
                    if let Some(link) = &self.link {
                        let now = link();
                        if self.last_link.as_ref() != Some(&now) {
                            json_line(&mut out, &Tagged::new("link", &now))?;
                            self.last_link = Some(now);
                        }
                    }
                } else {
                    eprint!(
                        "\r  {:>8.1} s of signal in {:>7.1} s  responses {:<5} lost {:<7} ring {:>3.0} %",
                        p.stream_s,
                        p.wall_s,
                        p.measurements,
                        p.lost_frames,
                        100.0 * p.ring_fill
                    );
                    if let Some(link) = &self.link {
                        eprint!("  link: {}", counts_line(&link()));
                    }
                    self.progress_shown = true;
                }
            }
        }
        Ok(())
    }
}

impl Output<SegmentVerdict> for LiveOutput {
    fn on_event(&mut self, ev: &Event<SegmentVerdict>) {
        // A closed stdout (e.g. piped into `head`) must not stop the acquisition: the
        // recording and the summary go on.
        let _ = self.write(ev);
    }
}

fn identifier() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("ncs-{}-{}", t.as_secs(), std::process::id())
}

/// The current UTC time, ISO 8601.
fn now_iso8601() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_time_has_the_shape_nwb_wants() {
        let t = now_iso8601();
        assert_eq!(t.len(), 20, "{t}");
        assert!(
            t.starts_with("20") && t.ends_with('Z') && &t[10..11] == "T",
            "{t}"
        );
    }
}
