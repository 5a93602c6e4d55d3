//! `ncs acquire`, `ncs demo` and `ncs replay`: a source run through the live pipeline
//! (acquisition → processing → block detector, recorder and terminal/JSON output), with the
//! verdict table and the pipeline summary (data loss, latency) at the end.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use ncs_block::SegmentVerdict;
use ncs_runtime::pipeline::{Analyzer, Event, Output};
use ncs_runtime::recorder::session_meta;
use ncs_runtime::{
    Finisher, Measurement, Overflow, Pace, PipelineConfig, ProcessorConfig, Recorder,
    RecorderCommand, RejectOutcome, Rejection, SessionSource, Source, StimulusTag, Summary,
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
    /// Conduction-block criteria set: efns-pns-2010-mmn, aan-1991-cidp, efns-pns-2010-cidp, or
    /// a lab's own table (FILE.toml).
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
    /// Sweep filters (zero-phase).
    #[command(flatten)]
    pub filters: crate::analyze::FilterArgs,
}

/// Arguments of `ncs acquire`.
#[derive(Debug, Clone, clap::Args)]
pub struct AcquireArgs {
    /// Where samples come from: `sim` or `sim:SCENARIO` (see `ncs scenarios`); a serial
    /// amplifier `serial:PORT[,format=ncs|byb|text][,OPTION=VALUE...]` (PORT a path or
    /// `usb=VID:PID`; the ncs protocol by default); an audio interface
    /// `audio[:NAME][,rate=HZ][,channels=N][,trigger=CH][,volts_full_scale=V]` (see the
    /// README; `ncs devices` lists serial ports and audio inputs).
    #[arg(long, default_value = "sim:mmn")]
    pub source: String,
    /// Record the session (NWB) to this file.
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Pace of a simulated source: a factor of real time (1 = real time) or `max`.
    #[arg(long, default_value = "1")]
    pub speed: String,
    /// With `--protocol`: examiner commands from standard input (`-`) or a Unix socket at
    /// this path (one command per line, JSON or words; one JSON answer per line).
    #[arg(long)]
    pub control: Option<String>,
    /// With `--protocol`: stimulate by the plan from the start (where the amplifier fires
    /// the stimulator).
    #[arg(long)]
    pub run: bool,
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

/// `ncs acquire`. With `--protocol` the examiner's workflow runs: every stimulus is tagged
/// with the current protocol step, the examiner moves through the steps by commands, and a
/// simulated source becomes a simulated patient stimulated where the current step says.
pub fn acquire(args: &AcquireArgs) -> anyhow::Result<()> {
    let Some(protocol) = &args.live.protocol else {
        if args.control.is_some() || args.run {
            bail!("--control and --run need --protocol: they drive the protocol's steps");
        }
        let opened = crate::sources::open(&args.source, &args.speed, false)?;
        return run_live(
            opened.source,
            opened.pace,
            args.record.as_deref(),
            &args.live,
            opened.link,
            None,
        );
    };
    let study = load_study(Some(protocol))?
        .ok_or_else(|| anyhow::anyhow!("no protocol in {}", protocol.display()))?;
    let steps = ncs_exam::steps(&study);
    let opened = crate::sources::open(&args.source, &args.speed, true)?;
    let (source, steering) =
        ncs_exam::steer(opened.source, &steps, study.stimulation.pulse_width_us);
    let can_fire = steering.can_fire();
    let exam = ncs_exam::Exam::new(steps, study.stimulation, can_fire);
    let (tx, commands) = crossbeam_channel::bounded(256);
    // The full-screen view when a person is at the terminal: not for JSON, nor when the
    // commands come on stdin (the view reads the keys from the terminal).
    let view =
        !args.live.json && args.control.as_deref() != Some("-") && std::io::stdout().is_terminal();
    let guard = match &args.control {
        Some(c) => crate::exam::listen(&crate::exam::Control::parse(c), tx.clone())?,
        None => None,
    };
    let setup = ExamSetup {
        exam,
        steering,
        study,
        commands,
        run: args.run,
        keys: view.then(|| tx.clone()),
        _keep: (tx, guard),
    };
    run_live(
        source,
        opened.pace,
        args.record.as_deref(),
        &args.live,
        opened.link,
        Some(Planned::Exam(Box::new(setup))),
    )
}

/// What a live run follows besides its source.
enum Planned {
    /// The examiner's study.
    Exam(Box<ExamSetup>),
    /// A study protocol to grade by (or none), as resolved by the command.
    Study(Option<ncs_block::Study>),
}

/// The examiner's study handed to [`run_live`].
struct ExamSetup {
    exam: ncs_exam::Exam,
    steering: ncs_exam::Steering,
    study: ncs_block::Study,
    commands: crossbeam_channel::Receiver<crate::exam::Incoming>,
    run: bool,
    /// With the full-screen view: where its keystrokes go as commands.
    keys: Option<crossbeam_channel::Sender<crate::exam::Incoming>>,
    /// Keeps the command channel open and the control socket's file until the run ends.
    _keep: (
        crossbeam_channel::Sender<crate::exam::Incoming>,
        Option<crate::exam::SocketGuard>,
    ),
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
        filters: Default::default(),
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
    run_live(source, pace, Some(&path), &live, None, None)
}

/// `ncs replay`: a recorded session through the same pipeline (its recorded gaps are lost
/// again, so the same sweeps are flagged).
pub fn replay(args: &ReplayArgs) -> anyhow::Result<()> {
    let pace = Pace::parse(&args.speed).map_err(anyhow::Error::msg)?;
    let source = SessionSource::open(&args.session, args.series.as_deref(), pace)?;
    for a in source.assumptions() {
        eprintln!("assumed: {a}");
    }
    // The protocol the session was recorded with, as `ncs analyze` takes it.
    let session = ncs_io::Session::open(&args.session, args.series.as_deref())?;
    let mut assumed = Vec::new();
    let study = crate::analyze::study_for(args.live.protocol.as_deref(), &session, &mut assumed)?;
    for a in &assumed {
        eprintln!("assumed: {a}");
    }
    drop(session);
    run_live(
        source,
        pace,
        None,
        &args.live,
        None,
        Some(Planned::Study(study)),
    )
}

/// The pipeline settings for a source at `pace`.
pub fn pipeline_config(pace: Pace, opts: &LiveOptions) -> PipelineConfig {
    PipelineConfig {
        processor: ProcessorConfig {
            pre_ms: opts.pre_ms,
            post_ms: opts.post_ms,
            ..opts.filters.apply(ProcessorConfig::default())
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
    plan: Option<Planned>,
) -> anyhow::Result<()> {
    let info = source.info().clone();
    let tags = source.tags().to_vec();
    let provenance = source.provenance();
    let criteria = crate::analyze::load_criteria(&opts.criteria)?;
    let (study, exam) = match plan {
        Some(Planned::Exam(e)) => (Some(e.study.clone()), Some(*e)),
        Some(Planned::Study(s)) => (s, None),
        None => (load_study(opts.protocol.as_deref())?, None),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let (rec_tx, rec_rx) = crossbeam_channel::bounded::<RecorderCommand>(4096);
    let findings = load_findings(opts.findings.as_deref())?;
    let analysis = Analysis::new(criteria, study, findings, tags.clone())?;
    // The segment verdicts as the analysis thread last left them, for the recorder to write
    // once everything has drained (neither thread is on the sample path).
    let final_segments: Arc<Mutex<Vec<SegmentVerdict>>> = Arc::default();
    let recorder = match record {
        Some(path) => {
            let mut meta = session_meta(&info, &identifier(), &now_iso8601());
            meta.tables.push(segments_table_spec());
            if exam.is_some() {
                meta.tables.push(crate::exam::actions_table_spec());
            }
            let simulated = info.description.contains("simulat");
            meta.subject.age = opts
                .subject_age
                .clone()
                .or_else(|| simulated.then(|| "P40Y".to_string()));
            let mut writer = ncs_io::SessionWriter::create(path, &meta)
                .with_context(|| format!("cannot create the session {}", path.display()))?;
            // What produced the numbers, so the session explains itself.
            let pc = pipeline_config(pace, opts).processor;
            let config = serde_json::json!({
                "criteria": opts.criteria,
                "pre_ms": pc.pre_ms,
                "post_ms": pc.post_ms,
                "filters": crate::analyze::filters_json(&pc, &info),
                "motor": pc.motor,
                "sensory": pc.sensory,
            });
            writer.set_text("pipeline_config", &config.to_string())?;
            for (name, text) in &provenance {
                writer.set_text(name, text)?;
            }
            match (&exam, &opts.protocol) {
                // The protocol as followed (canonical names; distances as measured are
                // written again as the examiner enters them).
                (Some(e), _) => writer.set_text(crate::exam::PROTOCOL_TEXT, &e.study.to_toml()?)?,
                (None, Some(p)) => {
                    writer.set_text(crate::exam::PROTOCOL_TEXT, &crate::exam::protocol_text(p)?)?
                }
                (None, None) => {}
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
                    .with_finisher(finish)
                    .with_commands(rec_rx),
            )
        }
        None => None,
    };
    // The control socket and its command channel stay open until the run has ended.
    let keys = exam.as_ref().and_then(|e| e.keys.clone());
    let (driver, _control) = match exam {
        Some(e) => (
            Some(crate::exam::ExamDriver::new(
                e.exam,
                e.steering,
                e.study,
                e.commands,
                recorder.is_some().then_some(rec_tx),
                stop.clone(),
                e.run,
            )),
            Some(e._keep),
        ),
        None => (None, None),
    };
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
    let mut config = pipeline_config(pace, opts);
    // Last before the run, so that nothing that can fail before it leaves the terminal taken.
    let view = match keys.map(|k| crate::tui::Tui::start(k, stop.clone())) {
        Some(Ok(v)) => Some(v),
        // The study goes on (and is recorded) with the line display.
        Some(Err(e)) => {
            eprintln!("warning: {e:#}; showing lines instead");
            None
        }
        None => None,
    };
    let output = match &view {
        Some(v) => {
            config.traces = true;
            AnyOutput::View(v.output(link.clone()))
        }
        None => AnyOutput::Lines(LiveOutput {
            json: opts.json,
            tags,
            progress_shown: false,
            link: link.clone(),
            last_link: None,
        }),
    };
    let done = ncs_runtime::run(
        source,
        config,
        LiveAnalysis {
            analysis,
            last: Vec::new(),
            shared: final_segments,
            exam: driver,
            view: view.is_some().then(ViewTracker::default),
        },
        output,
        recorder,
        stop,
    );
    // The terminal back before anything is printed, the run's error included.
    let view_error = view.map(crate::tui::Tui::finish);
    let done = done?;
    if let Some(Err(e)) = view_error {
        eprintln!("warning: {e:#}");
    }
    if let AnyOutput::Lines(mut output) = done.output {
        output.clear_progress();
    }
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
    if let Some(d) = &done.analyzer.exam {
        let status = serde_json::json!({
            "status": d.exam().status(),
            "stimulator": d.stimulator(),
        });
        if opts.json {
            json_line(&mut out, &Tagged::new("exam_summary", &status))?;
        } else {
            print_exam_summary(&mut out, d)?;
        }
    }
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

fn print_exam_summary(out: &mut dyn Write, d: &crate::exam::ExamDriver) -> anyhow::Result<()> {
    let st = d.exam().status();
    writeln!(out, "study steps:")?;
    for (i, s) in st.steps.iter().enumerate() {
        writeln!(
            out,
            "  {i:>2} {:<36} {:>6.0} mm  {:>3} sweep(s)  {}",
            s.label,
            s.distance_mm,
            s.sweeps,
            phase_text(&s.phase)
        )?;
    }
    let f = d.stimulator();
    writeln!(
        out,
        "stimulator: {} fired, {} failed, {} without a mark; {} external stimuli",
        f.fired, f.fire_failures, f.unmatched, f.external
    )?;
    Ok(())
}

/// A step's phase in words.
pub(crate) fn phase_text(p: &ncs_exam::Phase) -> String {
    use ncs_exam::{Completion, Phase};
    match p {
        Phase::Ramp { next_ma } => format!("ramp, next {next_ma:.1} mA"),
        Phase::Supramaximal {
            plateau_ma,
            supramaximal_ma,
        } => format!("plateau at {plateau_ma:.1} mA, supramaximal {supramaximal_ma:.1} mA"),
        Phase::Fixed { ma } => format!("{ma:.1} mA"),
        Phase::Manual => "manual intensity".into(),
        Phase::Complete { reason } => match reason {
            Completion::Supramaximal { supramaximal_ma } => {
                format!("complete, supramaximal at {supramaximal_ma:.1} mA")
            }
            Completion::Sweeps => "complete".into(),
            Completion::StillGrowing { max_ma } => {
                format!("complete, still growing at {max_ma:.1} mA (possibly submaximal)")
            }
            Completion::NoResponse { max_ma } => {
                format!("complete, no response up to {max_ma:.1} mA")
            }
        },
    }
}

/// What the analysis thread tells the output.
#[derive(Debug, Clone)]
pub(crate) enum LiveUpdate {
    /// A segment verdict changed.
    Segment(Box<SegmentVerdict>),
    /// Something for the examiner.
    Exam(ncs_exam::ExamEvent),
    /// Where the exam stands changed (sent only to the full-screen view).
    View(Box<crate::tui::ExamState>),
}

/// The exam's state as last sent to the full-screen view.
#[derive(Debug, Default)]
struct ViewTracker {
    sent: Option<crate::tui::ExamState>,
}

impl ViewTracker {
    /// Sends the exam's state when it differs from the last one sent (checked without
    /// allocating: this runs every few milliseconds).
    fn update(&mut self, exam: &ncs_exam::Exam, updates: &mut Vec<LiveUpdate>) {
        let cur = exam.current();
        let (Some(step), Some(phase)) = (exam.steps().get(cur), exam.phase(cur)) else {
            return;
        };
        let of = exam.steps().len();
        let running = exam.running();
        let complete =
            (0..of).all(|s| matches!(exam.phase(s), Some(ncs_exam::Phase::Complete { .. })));
        if let Some(s) = &self.sent {
            if s.step == *step
                && s.of == of
                && s.phase == phase
                && s.running == running
                && s.complete == complete
            {
                return;
            }
        }
        let state = crate::tui::ExamState {
            step: step.clone(),
            of,
            phase,
            running,
            complete,
        };
        updates.push(LiveUpdate::View(Box::new(state.clone())));
        self.sent = Some(state);
    }
}

/// The block detector on its own thread: each measurement goes through the same
/// [`Analysis`] as `ncs analyze`; the segment verdicts it changed are the updates. With a
/// protocol, the examiner's study runs here too.
struct LiveAnalysis {
    analysis: Analysis,
    last: Vec<SegmentVerdict>,
    shared: Arc<Mutex<Vec<SegmentVerdict>>>,
    exam: Option<crate::exam::ExamDriver>,
    /// With the full-screen view: the state it was last sent.
    view: Option<ViewTracker>,
}

impl LiveAnalysis {
    fn segments_changed(&mut self, updates: &mut Vec<LiveUpdate>) {
        let now = self.analysis.detector().segments();
        for s in &now {
            if !self.last.contains(s) {
                updates.push(LiveUpdate::Segment(Box::new(s.clone())));
            }
        }
        if let Ok(mut shared) = self.shared.lock() {
            shared.clone_from(&now);
        }
        self.last = now;
    }

    fn absorb(&mut self, o: crate::exam::DriverOutput, updates: &mut Vec<LiveUpdate>) {
        updates.extend(o.events.into_iter().map(LiveUpdate::Exam));
        if let (Some(v), Some(d)) = (&mut self.view, &self.exam) {
            v.update(d.exam(), updates);
        }
        if let Some(study) = o.study {
            match self.analysis.set_study(study) {
                Ok(()) => self.segments_changed(updates),
                Err(e) => updates.push(LiveUpdate::Exam(ncs_exam::ExamEvent::Refused {
                    command: "distance".into(),
                    reason: e.to_string(),
                })),
            }
        }
    }
}

impl Analyzer for LiveAnalysis {
    type Update = LiveUpdate;

    fn on_measurement(&mut self, m: &Measurement, updates: &mut Vec<LiveUpdate>) {
        if self.analysis.add(m) > 0 {
            self.segments_changed(updates);
        }
        if let Some(d) = &mut self.exam {
            let mut o = crate::exam::DriverOutput::default();
            d.measurement(m, &mut o);
            self.absorb(o, updates);
        }
    }

    fn on_rejection(&mut self, r: &Rejection, updates: &mut Vec<LiveUpdate>) {
        if r.outcome == RejectOutcome::Rejected && self.analysis.reject(r.seq).unwrap_or(false) {
            self.segments_changed(updates);
        }
        if let Some(d) = &mut self.exam {
            let mut o = crate::exam::DriverOutput::default();
            d.rejection(r, &mut o);
            self.absorb(o, updates);
        }
    }

    fn on_idle(&mut self, updates: &mut Vec<LiveUpdate>) {
        if let Some(d) = &mut self.exam {
            let mut o = crate::exam::DriverOutput::default();
            d.idle(&mut o);
            self.absorb(o, updates);
        }
    }

    fn next_request(&mut self) -> Option<ncs_runtime::RejectRequest> {
        self.exam.as_mut().and_then(|d| d.next_request())
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
pub(crate) fn counts_line(counts: &serde_json::Value) -> String {
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

    fn write(&mut self, ev: &Event<LiveUpdate>) -> anyhow::Result<()> {
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
            Event::Update {
                update: LiveUpdate::Exam(e),
                latency: _,
            } => {
                if self.json {
                    json_line(&mut out, &Tagged::new("exam", e))?;
                } else {
                    self.clear_progress();
                    writeln!(out, "  » {}", exam_text(e))?;
                }
            }
            // The full-screen view's alone.
            Event::Update {
                update: LiveUpdate::View(_),
                ..
            } => {}
            Event::Update {
                update: LiveUpdate::Segment(s),
                latency,
            } => {
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

/// One line for an examiner event.
pub(crate) fn exam_text(e: &ncs_exam::ExamEvent) -> String {
    use ncs_exam::ExamEvent as E;
    match e {
        E::Step { step, of, phase } => format!(
            "step {}/{}: {} ({} mm, ch{}) — {}",
            step.index + 1,
            of,
            step.label(),
            step.distance_mm,
            step.channel,
            phase_text(phase)
        ),
        E::Fired { intensity_ma, .. } => format!("stimulus at {intensity_ma:.1} mA"),
        E::Advice { text, .. } => text.clone(),
        E::SiteComplete { step, reason } => format!(
            "step {} complete: {}",
            step + 1,
            phase_text(&ncs_exam::Phase::Complete { reason: *reason })
        ),
        E::StudyComplete => "every step is complete: `quit` ends the study".into(),
        E::Running { running } => {
            if *running {
                "stimulating by the plan".into()
            } else {
                "stimulation paused".into()
            }
        }
        E::Distance { step, distance_mm } => {
            format!("step {} distance {distance_mm} mm", step + 1)
        }
        E::Intensity { intensity_ma } => format!("intensity {intensity_ma} mA entered"),
        E::Note { text, .. } => format!("note: {text}"),
        E::Rejected {
            stimulus_time_s,
            outcome,
            ..
        } => format!(
            "sweep at {stimulus_time_s:.3} s: {}",
            match outcome {
                RejectOutcome::Rejected => "rejected",
                RejectOutcome::NotLastInAverage =>
                    "not rejected, newer sweeps were averaged after it",
                RejectOutcome::Unknown => "not rejected, no such sweep",
            }
        ),
        E::Refused { command, reason } => format!("{command}: {reason}"),
        E::Status(s) => format!(
            "step {}/{}, {}",
            s.step + 1,
            s.of,
            if s.running { "stimulating" } else { "paused" }
        ),
    }
}

impl Output<LiveUpdate> for LiveOutput {
    fn on_event(&mut self, ev: &Event<LiveUpdate>) {
        // A closed stdout (e.g. piped into `head`) must not stop the acquisition: the
        // recording and the summary go on.
        let _ = self.write(ev);
    }
}

/// Lines (or JSON lines), or the full-screen view.
enum AnyOutput {
    Lines(LiveOutput),
    View(crate::tui::TuiOutput),
}

impl Output<LiveUpdate> for AnyOutput {
    fn on_event(&mut self, ev: &Event<LiveUpdate>) {
        match self {
            AnyOutput::Lines(o) => o.on_event(ev),
            AnyOutput::View(o) => o.on_event(ev),
        }
    }

    fn on_trace(&mut self, trace: &ncs_runtime::SweepTrace) {
        if let AnyOutput::View(o) = self {
            o.on_trace(trace);
        }
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
