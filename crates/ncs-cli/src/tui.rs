//! The full-screen examiner view of `ncs acquire --protocol` on a terminal: the current step,
//! the last responses of the step overlaid with their markers, the intensity ramp, the running
//! segment verdicts and the exam's events, driven by single keystrokes that become the same
//! [`Command`]s as the control socket's.
//!
//! Threads: the pipeline's output thread turns its events into [`Msg`]s and hands them over
//! with `try_send` (a slow terminal drops messages, never stalls the output thread, which
//! never stalls the pipeline); the view thread owns the terminal, reads the keys, and redraws
//! at most every [`FRAME`] when something changed. In raw mode Ctrl-C is a key, not a signal:
//! the view sets the run's stop flag itself, as the signal handler would. The terminal is given
//! back on every way out: the end of the run, an error (the [`Tui`] guard's drop) and a panic
//! (ratatui's panic hook).

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use crossbeam_channel::{bounded, Receiver, Sender};
use crossterm::event::{self, Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ncs_block::{IntensityPlan, SegmentVerdict};
use ncs_exam::{Command, Completion, ExamEvent, Phase, Step};
use ncs_runtime::pipeline::{Event, Output};
use ncs_runtime::{GapRecord, MarkersMs, Measurement, Progress, RejectOutcome, Rejection};
use ncs_runtime::{SweepTrace, TRACE_POINTS};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Context, Line as Segment};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Wrap};
use ratatui::{DefaultTerminal, Frame};

use crate::exam::Incoming;
use crate::live::{counts_line, exam_text, phase_text, LiveUpdate};
use crate::sources::Link;

/// The view redraws at most this often (about 15 frames per second).
pub const FRAME: Duration = Duration::from_millis(66);

/// Responses of the current step overlaid.
const OVERLAID: usize = 4;

/// Sweep traces kept per step (the overlaid ones and a few more, for when the last is
/// rejected).
const KEPT_TRACES: usize = OVERLAID + 2;

/// Event lines kept.
const LOG_LINES: usize = 200;

/// Messages waiting for the view thread; more are dropped.
const QUEUE: usize = 4096;

/// Colours of the overlaid responses, oldest first; the newest is always the last colour.
const TRACE_COLOURS: [Color; OVERLAID] = [Color::Blue, Color::Magenta, Color::Cyan, Color::Yellow];

/// Where the exam stands, sent by the analysis thread whenever it changes.
#[derive(Debug, Clone, PartialEq)]
pub struct ExamState {
    /// The current step (its distance as entered).
    pub step: Step,
    /// Steps in the study.
    pub of: usize,
    /// Where the current step's stimulation stands.
    pub phase: Phase,
    /// Stimulating by the plan.
    pub running: bool,
    /// Every step is complete.
    pub complete: bool,
}

/// What the output thread hands the view.
#[derive(Debug)]
pub enum Msg {
    /// A measured sweep's display trace (before its measurement).
    Trace(Box<SweepTrace>),
    /// A measurement.
    Measurement(Box<Measurement>),
    /// An exam event.
    Exam(ExamEvent),
    /// A segment verdict changed.
    Segment(Box<SegmentVerdict>),
    /// The exam's state changed.
    State(Box<ExamState>),
    /// Samples were lost.
    Gap(GapRecord),
    /// A sweep was rejected (or the rejection refused).
    Rejected(Rejection),
    /// Progress of the stream, with the source's link counts.
    Progress(Progress, Option<String>),
}

/// The pipeline's output while the view runs.
pub struct TuiOutput {
    tx: Sender<Msg>,
    link: Option<Link>,
}

impl TuiOutput {
    fn send(&self, m: Msg) {
        // A full queue: the view is behind; it shows the newest state once it catches up.
        let _ = self.tx.try_send(m);
    }
}

impl Output<LiveUpdate> for TuiOutput {
    fn on_event(&mut self, ev: &Event<LiveUpdate>) {
        let m = match ev {
            Event::Measurement { m, .. } => Msg::Measurement(Box::new(*m)),
            Event::Update { update, .. } => match update {
                LiveUpdate::Exam(e) => Msg::Exam(e.clone()),
                LiveUpdate::Segment(s) => Msg::Segment(s.clone()),
                LiveUpdate::View(s) => Msg::State(s.clone()),
            },
            Event::Gap(g) => Msg::Gap(*g),
            Event::Rejected(r) => Msg::Rejected(*r),
            Event::Progress(p) => Msg::Progress(*p, self.link.as_ref().map(|l| counts_line(&l()))),
        };
        self.send(m);
    }

    fn on_trace(&mut self, trace: &SweepTrace) {
        self.send(Msg::Trace(Box::new(*trace)));
    }
}

/// The running view; dropping it gives the terminal back.
pub struct Tui {
    tx: Sender<Msg>,
    ended: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Tui {
    /// Takes over the terminal (raw mode, alternate screen) and starts the view thread; keys
    /// become commands on `commands`, Ctrl-C sets `stop`.
    pub fn start(commands: Sender<Incoming>, stop: Arc<AtomicBool>) -> anyhow::Result<Tui> {
        let terminal = match ratatui::try_init() {
            Ok(t) => t,
            Err(e) => {
                restore();
                return Err(e).context("cannot take over the terminal for the examiner view");
            }
        };
        let (tx, rx) = bounded(QUEUE);
        let ended = Arc::new(AtomicBool::new(false));
        // A panic on any thread stops the drawing before ratatui's hook (called next) gives
        // the terminal back, so that no frame lands on the main screen over the message.
        let previous = std::panic::take_hook();
        let on_panic = ended.clone();
        std::panic::set_hook(Box::new(move |info| {
            on_panic.store(true, Ordering::SeqCst);
            previous(info);
        }));
        let flag = ended.clone();
        let thread = std::thread::Builder::new()
            .name("ncs-view".into())
            .spawn(move || {
                let r = view_loop(terminal, &rx, &commands, &stop, &flag);
                restore();
                r
            });
        match thread {
            Ok(t) => Ok(Tui {
                tx,
                ended,
                thread: Some(t),
            }),
            Err(e) => {
                restore();
                Err(e).context("cannot start the examiner view's thread")
            }
        }
    }

    /// The pipeline output feeding this view.
    pub fn output(&self, link: Option<Link>) -> TuiOutput {
        TuiOutput {
            tx: self.tx.clone(),
            link,
        }
    }

    /// Ends the view and gives the terminal back; the view's own error, if it failed.
    pub fn finish(mut self) -> anyhow::Result<()> {
        self.end()
    }

    fn end(&mut self) -> anyhow::Result<()> {
        self.ended.store(true, Ordering::SeqCst);
        let Some(t) = self.thread.take() else {
            return Ok(());
        };
        match t.join() {
            Ok(r) => r.context("the examiner view failed"),
            Err(_) => {
                // The panic hook gave the terminal back already; once more does no harm.
                restore();
                anyhow::bail!("the examiner view panicked")
            }
        }
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        let _ = self.end();
    }
}

/// Raw mode off, the main screen back, the cursor shown.
fn restore() {
    ratatui::restore();
    let _ = crossterm::execute!(io::stdout(), crossterm::cursor::Show);
}

fn view_loop(
    mut terminal: DefaultTerminal,
    rx: &Receiver<Msg>,
    commands: &Sender<Incoming>,
    stop: &AtomicBool,
    ended: &AtomicBool,
) -> io::Result<()> {
    let mut view = View::default();
    let mut dirty = true;
    let mut drawn: Option<Instant> = None;
    while !ended.load(Ordering::SeqCst) {
        while let Ok(m) = rx.try_recv() {
            view.apply(m);
            dirty = true;
        }
        let due = drawn.is_none_or(|d| d.elapsed() >= FRAME);
        if dirty && due {
            terminal.draw(|f| view.draw(f))?;
            drawn = Some(Instant::now());
            dirty = false;
        }
        // Keys are read while waiting for the next frame.
        let wait = drawn.map_or(FRAME, |d| FRAME.saturating_sub(d.elapsed()));
        if event::poll(wait.max(Duration::from_millis(5)))? {
            match event::read()? {
                TermEvent::Key(k) if k.kind != KeyEventKind::Release => {
                    match view.key(k) {
                        Act::Send(command) => {
                            let what = command.name();
                            if commands
                                .try_send(Incoming {
                                    command,
                                    reply: None,
                                })
                                .is_err()
                            {
                                view.say(format!("{what}: the study is not taking commands"));
                            }
                        }
                        Act::Stop => stop.store(true, Ordering::SeqCst),
                        Act::Nothing => {}
                    }
                    dirty = true;
                }
                TermEvent::Resize(..) => dirty = true,
                _ => {}
            }
        }
    }
    Ok(())
}

/// What a keystroke asks for.
#[derive(Debug, Clone, PartialEq)]
enum Act {
    /// Send this command to the exam.
    Send(Command),
    /// Stop the run (Ctrl-C).
    Stop,
    /// Nothing for the exam (a prompt was opened, edited or closed).
    Nothing,
}

/// A line being typed in the footer.
#[derive(Debug, Clone, PartialEq)]
enum Prompt {
    /// No prompt: keys are commands.
    Keys,
    /// The measured distance (mm) of the current site.
    Distance(String),
    /// The intensity (mA) set on an external stimulator.
    Intensity(String),
    /// A note.
    Note(String),
    /// The study is not complete: quit anyway?
    Quit,
}

/// One measured sweep as the view knows it.
#[derive(Debug)]
struct Sweep {
    seq: u64,
    intensity_ma: Option<f64>,
    present: bool,
    amplitude_mv: Option<f64>,
    area_mv_ms: Option<f64>,
    markers: Option<MarkersMs>,
    trace: Option<Box<SweepTrace>>,
    rejected: bool,
    gap: bool,
}

/// How a log line is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tone {
    Plain,
    Advice,
    Refusal,
    Rejection,
}

/// Everything the view shows; changed only by [`View::apply`] and [`View::key`].
#[derive(Debug)]
struct View {
    state: Option<ExamState>,
    /// Sweeps by step.
    sweeps: Vec<Vec<Sweep>>,
    /// Traces waiting for their measurement.
    traces: VecDeque<Box<SweepTrace>>,
    segments: Vec<SegmentVerdict>,
    log: VecDeque<(Tone, String)>,
    /// The last advice per step.
    advice: Vec<Option<String>>,
    last_fired_ma: Option<f64>,
    entered_ma: Option<f64>,
    progress: Option<Progress>,
    link: Option<String>,
    prompt: Prompt,
}

impl Default for View {
    fn default() -> Self {
        View {
            state: None,
            sweeps: Vec::new(),
            traces: VecDeque::with_capacity(TRACE_QUEUE_KEPT + 1),
            segments: Vec::new(),
            log: VecDeque::with_capacity(LOG_LINES + 1),
            advice: Vec::new(),
            last_fired_ma: None,
            entered_ma: None,
            progress: None,
            link: None,
            prompt: Prompt::Keys,
        }
    }
}

/// Traces kept while their measurement has not come (the pipeline queues as many).
const TRACE_QUEUE_KEPT: usize = 16;

impl View {
    fn say(&mut self, text: String) {
        self.log_line(Tone::Plain, text);
    }

    fn log_line(&mut self, tone: Tone, text: String) {
        if self.log.len() == LOG_LINES {
            self.log.pop_front();
        }
        self.log.push_back((tone, text));
    }

    fn step_sweeps(&mut self, step: usize) -> &mut Vec<Sweep> {
        if self.sweeps.len() <= step {
            self.sweeps.resize_with(step + 1, Vec::new);
        }
        &mut self.sweeps[step]
    }

    fn apply(&mut self, m: Msg) {
        match m {
            Msg::Trace(t) => {
                if self.traces.len() == TRACE_QUEUE_KEPT {
                    self.traces.pop_front();
                }
                self.traces.push_back(t);
            }
            Msg::Measurement(m) => self.measurement(&m),
            Msg::Exam(e) => self.exam(e),
            Msg::Segment(s) => match self.segments.iter_mut().find(|x| same_segment(x, &s)) {
                Some(x) => *x = *s,
                None => self.segments.push(*s),
            },
            Msg::State(s) => {
                if self.advice.len() < s.of {
                    self.advice.resize(s.of, None);
                }
                self.state = Some(*s);
            }
            Msg::Gap(g) => self.log_line(
                Tone::Refusal,
                format!(
                    "{} frames lost from frame {} ({})",
                    g.count,
                    g.first_sample,
                    g.reason.as_str()
                ),
            ),
            Msg::Rejected(r) => {
                let rejected = r.outcome == RejectOutcome::Rejected;
                if let Some(s) = self.sweeps.iter_mut().flatten().find(|s| s.seq == r.seq) {
                    s.rejected = rejected;
                }
            }
            Msg::Progress(p, link) => {
                self.progress = Some(p);
                self.link = link;
            }
        }
    }

    fn measurement(&mut self, m: &Measurement) {
        let trace = self
            .traces
            .iter()
            .position(|t| t.seq == m.seq)
            .and_then(|k| self.traces.remove(k));
        // Traces of earlier sweeps that never got a measurement are not coming.
        self.traces.retain(|t| t.seq > m.seq);
        let Some(step) = m.tag.map(|t| t as usize) else {
            return;
        };
        let r = &m.response;
        let sweeps = self.step_sweeps(step);
        sweeps.push(Sweep {
            seq: m.seq,
            intensity_ma: m.intensity_ma,
            present: r.present,
            amplitude_mv: r.measures.negative_peak_amplitude_mv,
            area_mv_ms: r.measures.negative_peak_area_mv_ms,
            markers: m.markers_ms,
            trace,
            rejected: false,
            gap: r.flags.contains(ncs_cmap::Flag::DataGap),
        });
        // Only the newest traces are drawn; older ones give their memory back.
        let mut kept = 0;
        for s in sweeps.iter_mut().rev() {
            if s.trace.is_some() && !s.rejected {
                kept += 1;
                if kept > KEPT_TRACES {
                    s.trace = None;
                }
            }
        }
    }

    fn exam(&mut self, e: ExamEvent) {
        match &e {
            // Every stimulus: the header shows the last one.
            ExamEvent::Fired { intensity_ma, .. } => {
                self.last_fired_ma = Some(*intensity_ma);
                return;
            }
            ExamEvent::Intensity { intensity_ma } => self.entered_ma = Some(*intensity_ma),
            ExamEvent::Advice { step, text } => {
                if self.advice.len() <= *step {
                    self.advice.resize(step + 1, None);
                }
                self.advice[*step] = Some(text.clone());
            }
            _ => {}
        }
        let tone = match &e {
            ExamEvent::Advice { .. } => Tone::Advice,
            ExamEvent::Refused { .. } => Tone::Refusal,
            ExamEvent::Rejected { .. } => Tone::Rejection,
            _ => Tone::Plain,
        };
        self.log_line(tone, exam_text(&e));
    }

    /// One keystroke.
    fn key(&mut self, k: KeyEvent) -> Act {
        if k.modifiers.contains(KeyModifiers::CONTROL) {
            if matches!(k.code, KeyCode::Char('c' | 'C')) {
                self.prompt = Prompt::Keys;
                self.say("Ctrl-C: stopping the run".into());
                return Act::Stop;
            }
            return Act::Nothing;
        }
        let prompt = std::mem::replace(&mut self.prompt, Prompt::Keys);
        match prompt {
            Prompt::Keys => self.command_key(k.code),
            Prompt::Quit => match k.code {
                KeyCode::Char('y' | 'Y') => Act::Send(Command::Quit),
                KeyCode::Char('n' | 'N') | KeyCode::Esc => Act::Nothing,
                _ => {
                    self.prompt = Prompt::Quit;
                    Act::Nothing
                }
            },
            Prompt::Distance(text) => self.number_key(k.code, text, true),
            Prompt::Intensity(text) => self.number_key(k.code, text, false),
            Prompt::Note(mut text) => match k.code {
                KeyCode::Enter if !text.trim().is_empty() => Act::Send(Command::Note {
                    text: text.trim().to_owned(),
                }),
                KeyCode::Enter | KeyCode::Esc => Act::Nothing,
                KeyCode::Backspace => {
                    text.pop();
                    self.prompt = Prompt::Note(text);
                    Act::Nothing
                }
                KeyCode::Char(c) => {
                    text.push(c);
                    self.prompt = Prompt::Note(text);
                    Act::Nothing
                }
                _ => {
                    self.prompt = Prompt::Note(text);
                    Act::Nothing
                }
            },
        }
    }

    fn command_key(&mut self, code: KeyCode) -> Act {
        let KeyCode::Char(c) = code else {
            return Act::Nothing;
        };
        let running = self.state.as_ref().is_some_and(|s| s.running);
        let complete = self.state.as_ref().is_some_and(|s| s.complete);
        match c.to_ascii_lowercase() {
            'n' => Act::Send(Command::Next),
            'p' => Act::Send(Command::Previous),
            'r' => Act::Send(Command::Repeat),
            'f' => Act::Send(Command::Fire),
            ' ' | 'g' if running => Act::Send(Command::Pause),
            ' ' | 'g' => Act::Send(Command::Run),
            'x' => Act::Send(Command::Reject),
            's' => Act::Send(Command::Status),
            'd' => {
                self.prompt = Prompt::Distance(String::new());
                Act::Nothing
            }
            'i' => {
                self.prompt = Prompt::Intensity(String::new());
                Act::Nothing
            }
            'a' => {
                self.prompt = Prompt::Note(String::new());
                Act::Nothing
            }
            'q' if complete => Act::Send(Command::Quit),
            'q' => {
                self.prompt = Prompt::Quit;
                Act::Nothing
            }
            _ => Act::Nothing,
        }
    }

    fn number_key(&mut self, code: KeyCode, mut text: String, distance: bool) -> Act {
        let reopen = |text: String| {
            if distance {
                Prompt::Distance(text)
            } else {
                Prompt::Intensity(text)
            }
        };
        match code {
            KeyCode::Char(c) if c.is_ascii_digit() || (c == '.' && !text.contains('.')) => {
                text.push(c);
                self.prompt = reopen(text);
                Act::Nothing
            }
            KeyCode::Backspace => {
                text.pop();
                self.prompt = reopen(text);
                Act::Nothing
            }
            KeyCode::Esc => Act::Nothing,
            KeyCode::Enter if text.is_empty() => Act::Nothing,
            KeyCode::Enter => match text.parse::<f64>() {
                Ok(v) if distance => Act::Send(Command::Distance { mm: v, step: None }),
                Ok(v) => Act::Send(Command::Intensity { ma: v }),
                Err(_) => {
                    self.log_line(Tone::Refusal, format!("not a number: {text:?}"));
                    Act::Nothing
                }
            },
            _ => {
                self.prompt = reopen(text);
                Act::Nothing
            }
        }
    }

    fn draw(&self, f: &mut Frame<'_>) {
        let [header, middle, lower, footer] = Layout::vertical([
            Constraint::Length(4),
            Constraint::Percentage(55),
            Constraint::Min(6),
            Constraint::Length(1),
        ])
        .areas(f.area());
        self.draw_header(f, header);
        let [responses, ramp] =
            Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)])
                .areas(middle);
        self.draw_responses(f, responses);
        self.draw_ramp(f, ramp);
        let [verdicts, events] =
            Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)])
                .areas(lower);
        self.draw_verdicts(f, verdicts);
        self.draw_events(f, events);
        self.draw_footer(f, footer);
    }

    fn draw_header(&self, f: &mut Frame<'_>, area: Rect) {
        let block = Block::bordered().title(" ncs acquire · examiner ");
        let bold = Style::default().add_modifier(Modifier::BOLD);
        let dim = Style::default().fg(Color::DarkGray);
        let lines = match &self.state {
            None => vec![Line::from("starting the study…")],
            Some(s) => {
                let (run_text, run_style) = if s.running {
                    (
                        "● stimulating by the plan",
                        Style::default().fg(Color::Green),
                    )
                } else {
                    ("‖ paused", Style::default().fg(Color::Yellow))
                };
                let ma = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| format!("{v:.1} mA"));
                let mut second = vec![
                    Span::styled(run_text, run_style),
                    Span::styled("   last stimulus ", dim),
                    Span::raw(ma(self.last_fired_ma)),
                    Span::styled("   intensity entered ", dim),
                    Span::raw(ma(self.entered_ma)),
                ];
                if let Some(p) = &self.progress {
                    second.push(Span::styled(
                        format!(
                            "   {:.1} s of signal · {} responses · lost {} · ring {:.0} %",
                            p.stream_s,
                            p.measurements,
                            p.lost_frames,
                            100.0 * p.ring_fill
                        ),
                        dim,
                    ));
                }
                if let Some(l) = &self.link {
                    second.push(Span::styled(format!(" · link: {l}"), dim));
                }
                vec![
                    Line::from(vec![
                        Span::styled(format!("step {}/{}  ", s.step.index + 1, s.of), bold),
                        Span::styled(s.step.label(), bold.fg(Color::Cyan)),
                        Span::raw(format!(
                            "   {} ch{}   {} mm   ",
                            s.step.recording, s.step.channel, s.step.distance_mm
                        )),
                        Span::styled(
                            phase_text(&s.phase),
                            if s.complete {
                                Style::default().fg(Color::Green)
                            } else {
                                Style::default()
                            },
                        ),
                        Span::styled(
                            if s.complete {
                                "   · every step is complete"
                            } else {
                                ""
                            },
                            Style::default().fg(Color::Green),
                        ),
                    ]),
                    Line::from(second),
                ]
            }
        };
        f.render_widget(Paragraph::new(lines).block(block), area);
    }

    /// The current step's sweeps, when the state is known.
    fn current(&self) -> Option<(&ExamState, &[Sweep])> {
        let s = self.state.as_ref()?;
        Some((
            s,
            self.sweeps
                .get(s.step.index)
                .map(Vec::as_slice)
                .unwrap_or(&[]),
        ))
    }

    fn draw_responses(&self, f: &mut Frame<'_>, area: Rect) {
        let Some((state, sweeps)) = self.current() else {
            f.render_widget(Block::bordered().title(" responses "), area);
            return;
        };
        let shown: Vec<&Sweep> = {
            let mut v: Vec<&Sweep> = sweeps
                .iter()
                .rev()
                .filter(|s| !s.rejected && s.trace.is_some())
                .take(OVERLAID)
                .collect();
            v.reverse();
            v
        };
        let offset = OVERLAID - shown.len();
        let colour = move |k: usize| TRACE_COLOURS[offset + k];
        let mut title = vec![Span::raw(format!(
            " responses at {} (negative up) ",
            state.step.site.replace('_', " ")
        ))];
        for (k, s) in shown.iter().enumerate() {
            title.push(Span::styled(
                format!("━ {} ", fmt_ma(s.intensity_ma)),
                Style::default().fg(colour(k)),
            ));
        }
        let block = Block::bordered()
            .title(Line::from(title))
            .title_bottom(Line::from(
                " ◆ onset  ▲ negative peak  ● end of negative phase ",
            ));
        if shown.is_empty() {
            f.render_widget(
                Paragraph::new("no response at this site yet: g runs the plan, f fires once")
                    .block(block),
                area,
            );
            return;
        }
        let traces: Vec<&SweepTrace> = shown.iter().filter_map(|s| s.trace.as_deref()).collect();
        let end = traces
            .iter()
            .map(|t| t.first_ms + (t.points.saturating_sub(1)) as f64 * t.ms_per_point)
            .fold(f64::MIN, f64::max);
        let first = traces.iter().map(|t| t.first_ms).fold(f64::MAX, f64::min);
        // Wide enough for the negative phase and as much baseline after it.
        let latest = shown
            .iter()
            .filter_map(|s| s.markers)
            .map(|m| m.negative_end.unwrap_or(m.negative_peak))
            .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))));
        let x_max = latest.map_or(end.min(50.0), |e| (e * 2.0 + 10.0).clamp(15.0, end));
        let x_min = (-0.1 * x_max).max(first);
        // The stimulus artefact (from the stimulus to shortly before the earliest onset) is
        // left out of the scale, and clipped: the responses fill the height.
        let quiet_from = shown
            .iter()
            .filter_map(|s| s.markers)
            .map(|m| m.onset - 0.5)
            .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.min(v))))
            .unwrap_or(3.0)
            .max(0.0);
        let (mut lo, mut hi) = (0.0f64, 0.0f64);
        for t in &traces {
            for (x, y) in points(t) {
                if (x_min..=x_max).contains(&x) && !(0.0..quiet_from).contains(&x) {
                    lo = lo.min(y);
                    hi = hi.max(y);
                }
            }
        }
        let pad = ((hi - lo) * 0.1).max(0.05);
        let (lo, hi) = (lo - pad, hi + pad);
        let canvas = Canvas::default()
            .block(block)
            .marker(Marker::Braille)
            .x_bounds([x_min, x_max])
            .y_bounds([lo, hi])
            .paint(move |ctx| {
                ctx.draw(&Segment::new(x_min, 0.0, x_max, 0.0, Color::DarkGray));
                ctx.draw(&Segment::new(0.0, lo, 0.0, hi, Color::DarkGray));
                ctx.layer();
                for (k, t) in traces.iter().enumerate() {
                    let c = colour(k);
                    let mut prev: Option<(f64, f64)> = None;
                    for (x, y) in points(t) {
                        if let Some((px, py)) = prev {
                            ctx.draw(&Segment::new(px, py, x, y, c));
                        }
                        prev = Some((x, y));
                    }
                    ctx.layer();
                }
                for (k, s) in shown.iter().enumerate() {
                    let (Some(m), Some(t)) = (s.markers, s.trace.as_deref()) else {
                        continue;
                    };
                    let c = Style::default().fg(colour(k)).add_modifier(Modifier::BOLD);
                    for (ms, sym) in [
                        (Some(m.onset), "◆"),
                        (Some(m.negative_peak), "▲"),
                        (m.negative_end, "●"),
                    ] {
                        if let Some(ms) = ms {
                            ctx.print(ms, value_at(t, ms), Span::styled(sym, c));
                        }
                    }
                }
                label(ctx, x_min, hi, format!("{:.1} mV", hi));
                label(ctx, x_min, lo, format!("{:.1} mV", lo));
                label(ctx, 0.0, lo, "0 ms".into());
                label(
                    ctx,
                    x_max - 0.08 * (x_max - x_min),
                    lo,
                    format!("{x_max:.0} ms"),
                );
            });
        f.render_widget(canvas, area);
    }

    fn draw_ramp(&self, f: &mut Frame<'_>, area: Rect) {
        let Some((state, sweeps)) = self.current() else {
            f.render_widget(Block::bordered().title(" intensity ramp "), area);
            return;
        };
        let usable: Vec<&Sweep> = sweeps
            .iter()
            .filter(|s| !s.gap && s.intensity_ma.is_some())
            .collect();
        // Sized as the exam sizes them: area when every present sweep has one.
        let by_area = usable
            .iter()
            .filter(|s| s.present)
            .all(|s| s.area_mv_ms.is_some());
        let size = |s: &Sweep| {
            if !s.present {
                0.0
            } else if by_area {
                s.area_mv_ms.unwrap_or(0.0).abs()
            } else {
                s.amplitude_mv.unwrap_or(0.0).abs()
            }
        };
        let unit = if by_area {
            "area mV·ms"
        } else {
            "amplitude mV"
        };
        let block = Block::bordered().title(format!(" intensity ramp: {unit} vs mA "));
        let inner = block.inner(area);
        f.render_widget(block, area);
        let [plot, text] =
            Layout::vertical([Constraint::Min(3), Constraint::Length(3)]).areas(inner);
        let advice = self
            .advice
            .get(state.step.index)
            .and_then(Option::as_ref)
            .cloned()
            .unwrap_or_default();
        f.render_widget(
            Paragraph::new(vec![
                Line::from(Span::styled(
                    phase_text(&state.phase),
                    Style::default().add_modifier(Modifier::BOLD),
                )),
                Line::from(Span::styled(advice, Style::default().fg(Color::Yellow))),
            ])
            .wrap(Wrap { trim: true }),
            text,
        );
        let plan_max = match state.step.intensity {
            IntensityPlan::Ramp { max_ma, .. } => Some(max_ma),
            _ => None,
        };
        let top_ma = usable
            .iter()
            .filter_map(|s| s.intensity_ma)
            .fold(plan_max.unwrap_or(0.0), f64::max)
            .max(1.0)
            * 1.05;
        let top_size = usable
            .iter()
            .map(|s| size(s))
            .fold(0.0f64, f64::max)
            .max(1e-3)
            * 1.2;
        let supra = match state.phase {
            Phase::Supramaximal {
                plateau_ma,
                supramaximal_ma,
            } => Some((Some(plateau_ma), supramaximal_ma)),
            Phase::Complete {
                reason: Completion::Supramaximal { supramaximal_ma },
            } => Some((None, supramaximal_ma)),
            _ => None,
        };
        // The median size per intensity, joined.
        let mut steps: Vec<(f64, f64)> = Vec::new();
        {
            let mut kept: Vec<(f64, f64)> = usable
                .iter()
                .filter(|s| !s.rejected)
                .filter_map(|s| s.intensity_ma.map(|i| (i, size(s))))
                .collect();
            kept.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut i = 0;
            while i < kept.len() {
                let ma = kept[i].0;
                let mut group: Vec<f64> = kept[i..]
                    .iter()
                    .take_while(|(m, _)| (m - ma).abs() < 5e-4)
                    .map(|(_, s)| *s)
                    .collect();
                i += group.len();
                group.sort_by(f64::total_cmp);
                steps.push((ma, group[group.len() / 2]));
            }
        }
        let dots: Vec<(f64, f64, bool)> = usable
            .iter()
            .filter_map(|s| s.intensity_ma.map(|i| (i, size(s), s.rejected)))
            .collect();
        let canvas = Canvas::default()
            .marker(Marker::Braille)
            .x_bounds([0.0, top_ma])
            .y_bounds([0.0, top_size])
            .paint(move |ctx| {
                if let Some((plateau, supra)) = supra {
                    if let Some(p) = plateau {
                        ctx.draw(&Segment::new(p, 0.0, p, top_size, Color::Yellow));
                    }
                    ctx.draw(&Segment::new(supra, 0.0, supra, top_size, Color::Green));
                    ctx.layer();
                }
                for w in steps.windows(2) {
                    ctx.draw(&Segment::new(
                        w[0].0,
                        w[0].1,
                        w[1].0,
                        w[1].1,
                        Color::DarkGray,
                    ));
                }
                ctx.layer();
                for &(ma, s, rejected) in &dots {
                    if rejected {
                        ctx.print(ma, s, Span::styled("×", Style::default().fg(Color::Red)));
                    } else {
                        ctx.print(ma, s, Span::styled("●", Style::default().fg(Color::Cyan)));
                    }
                }
                label(ctx, 0.0, top_size, format!("{top_size:.1}"));
                label(ctx, 0.0, 0.0, "0".into());
                label(ctx, top_ma * 0.88, 0.0, format!("{top_ma:.0} mA"));
            });
        f.render_widget(canvas, plot);
    }

    fn draw_verdicts(&self, f: &mut Frame<'_>, area: Rect) {
        let pct = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |x| format!("{x:.0}"));
        let rows: Vec<Row<'_>> = self
            .segments
            .iter()
            .map(|s| {
                let grade = serde_json::to_value(s.block)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let style = match grade.as_str() {
                    "definite" => Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
                    "probable" => Style::default().fg(Color::Yellow),
                    "none" => Style::default().fg(Color::Green),
                    _ => Style::default().fg(Color::DarkGray),
                };
                let segment = segment_name(s);
                let mut notes = Vec::new();
                if s.entrapment_site {
                    notes.push("entrapment site".to_owned());
                }
                notes.extend(s.flags.iter().cloned());
                Row::new(vec![
                    Cell::from(segment),
                    Cell::from(
                        s.distance_mm
                            .map_or_else(|| "-".into(), |d| format!("{d:.0}")),
                    ),
                    Cell::from(
                        s.conduction_velocity_m_s
                            .map_or_else(|| "-".into(), |v| format!("{v:.1}")),
                    ),
                    Cell::from(pct(s.amplitude_reduction_pct)),
                    Cell::from(pct(s.area_reduction_pct)),
                    Cell::from(Span::styled(grade, style)),
                    Cell::from(notes.join(", ")),
                ])
            })
            .collect();
        let empty = rows.is_empty();
        let name_width = self
            .segments
            .iter()
            .map(|s| segment_name(s).chars().count())
            .max()
            .unwrap_or(0)
            .max(8) as u16;
        let table = Table::new(
            rows,
            [
                Constraint::Length(name_width),
                Constraint::Length(5),
                Constraint::Length(6),
                Constraint::Length(6),
                Constraint::Length(7),
                Constraint::Length(15),
                Constraint::Fill(1),
            ],
        )
        .header(
            Row::new(vec![
                "segment",
                "mm",
                "CV m/s",
                "amp ↓%",
                "area ↓%",
                "block",
                "note",
            ])
            .style(Style::default().add_modifier(Modifier::BOLD)),
        )
        .block(Block::bordered().title(if empty {
            " segment verdicts (none yet: two sites of a nerve make a segment) "
        } else {
            " segment verdicts "
        }));
        f.render_widget(table, area);
    }

    fn draw_events(&self, f: &mut Frame<'_>, area: Rect) {
        let block = Block::bordered().title(" events ");
        let inner = block.inner(area);
        let width = inner.width.max(1) as usize;
        // The newest lines that fit, wrapped, oldest at the top.
        let mut rows = 0usize;
        let mut first = self.log.len();
        for (_, text) in self.log.iter().rev() {
            let h = text.chars().count().div_ceil(width).max(1);
            if rows + h > inner.height as usize {
                break;
            }
            rows += h;
            first -= 1;
        }
        let lines: Vec<Line<'_>> = self
            .log
            .iter()
            .skip(first)
            .map(|(tone, text)| {
                let style = match tone {
                    Tone::Plain => Style::default(),
                    Tone::Advice => Style::default().fg(Color::Yellow),
                    Tone::Refusal => Style::default().fg(Color::Red),
                    Tone::Rejection => Style::default().fg(Color::Magenta),
                };
                Line::from(Span::styled(text.as_str(), style))
            })
            .collect();
        f.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(block),
            area,
        );
    }

    fn draw_footer(&self, f: &mut Frame<'_>, area: Rect) {
        let key = Style::default().fg(Color::Black).bg(Color::Gray);
        let ask = Style::default()
            .fg(Color::Yellow)
            .add_modifier(Modifier::BOLD);
        let line = match &self.prompt {
            Prompt::Keys => {
                let running = self.state.as_ref().is_some_and(|s| s.running);
                let mut spans = Vec::new();
                for (k, what) in [
                    ("n", "next"),
                    ("p", "previous"),
                    ("r", "repeat"),
                    ("f", "fire once"),
                    ("g/space", if running { "pause" } else { "run" }),
                    ("x", "reject last"),
                    ("d", "distance"),
                    ("i", "intensity"),
                    ("a", "note"),
                    ("s", "status"),
                    ("q", "quit"),
                ] {
                    spans.push(Span::styled(format!(" {k} "), key));
                    spans.push(Span::raw(format!(" {what}  ")));
                }
                Line::from(spans)
            }
            Prompt::Distance(t) => Line::from(vec![
                Span::styled(
                    format!(
                        "distance (mm) of {}: ",
                        self.state
                            .as_ref()
                            .map_or_else(|| "this site".into(), |s| s.step.label())
                    ),
                    ask,
                ),
                Span::raw(format!("{t}▏")),
                Span::raw("   Enter sends, Esc cancels"),
            ]),
            Prompt::Intensity(t) => Line::from(vec![
                Span::styled("intensity set on the stimulator (mA): ", ask),
                Span::raw(format!("{t}▏")),
                Span::raw("   Enter sends, Esc cancels"),
            ]),
            Prompt::Note(t) => Line::from(vec![
                Span::styled("note: ", ask),
                Span::raw(format!("{t}▏")),
                Span::raw("   Enter keeps it, Esc cancels"),
            ]),
            Prompt::Quit => Line::from(Span::styled(
                "the study is not complete: quit anyway? y/n",
                ask,
            )),
        };
        f.render_widget(Paragraph::new(line), area);
    }
}

/// `right median wrist → elbow`, and the sites a long segment spans.
fn segment_name(s: &SegmentVerdict) -> String {
    let mut name = format!("{} {} {} → {}", s.side, s.nerve, s.from_site, s.to_site);
    if !s.spans.is_empty() {
        name.push_str(&format!(" (over {})", s.spans.join(", ")));
    }
    name
}

/// Two verdicts of the same segment.
fn same_segment(a: &SegmentVerdict, b: &SegmentVerdict) -> bool {
    a.nerve == b.nerve
        && a.side == b.side
        && a.modality == b.modality
        && a.from_site == b.from_site
        && a.to_site == b.to_site
        && a.spans == b.spans
}

/// A trace's points as (ms, drawn value): negative up, the clinical convention.
fn points(t: &SweepTrace) -> impl Iterator<Item = (f64, f64)> + '_ {
    t.mv[..t.points.min(TRACE_POINTS)]
        .iter()
        .enumerate()
        .map(|(k, v)| (t.first_ms + k as f64 * t.ms_per_point, -f64::from(*v)))
}

/// The drawn value of a trace at `ms`.
fn value_at(t: &SweepTrace, ms: f64) -> f64 {
    let n = t.points.min(TRACE_POINTS);
    if n == 0 || t.ms_per_point <= 0.0 {
        return 0.0;
    }
    let k = ((ms - t.first_ms) / t.ms_per_point)
        .round()
        .clamp(0.0, (n - 1) as f64) as usize;
    -f64::from(t.mv[k])
}

fn label(ctx: &mut Context<'_>, x: f64, y: f64, text: String) {
    ctx.print(
        x,
        y,
        Span::styled(text, Style::default().fg(Color::DarkGray)),
    );
}

/// `25 mA`, `–` when unknown.
fn fmt_ma(v: Option<f64>) -> String {
    match v {
        Some(v) if (v - v.round()).abs() < 0.05 => format!("{v:.0} mA"),
        Some(v) => format!("{v:.1} mA"),
        None => "–".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    fn chars(v: &mut View, s: &str) -> Vec<Act> {
        s.chars().map(|c| v.key(key(KeyCode::Char(c)))).collect()
    }

    fn state(running: bool, complete: bool) -> ExamState {
        let study = crate::analyze::load_study(Some(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/worked-example-protocol.toml"
        ))))
        .unwrap()
        .unwrap();
        let steps = ncs_exam::steps(&study);
        ExamState {
            step: steps[1].clone(),
            of: steps.len(),
            phase: Phase::Supramaximal {
                plateau_ma: 25.0,
                supramaximal_ma: 30.0,
            },
            running,
            complete,
        }
    }

    fn screen(v: &View) -> String {
        let mut t = Terminal::new(TestBackend::new(160, 48)).unwrap();
        t.draw(|f| v.draw(f)).unwrap();
        let buf = t.backend().buffer().clone();
        let mut s = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                s.push_str(buf[(x, y)].symbol());
            }
            s.push('\n');
        }
        s
    }

    #[test]
    fn keys_become_the_examiners_commands() {
        let mut v = View::default();
        v.apply(Msg::State(Box::new(state(false, false))));
        assert_eq!(
            chars(&mut v, "nprfgxs"),
            [
                Act::Send(Command::Next),
                Act::Send(Command::Previous),
                Act::Send(Command::Repeat),
                Act::Send(Command::Fire),
                Act::Send(Command::Run),
                Act::Send(Command::Reject),
                Act::Send(Command::Status),
            ]
        );
        // g and space pause what runs.
        v.apply(Msg::State(Box::new(state(true, false))));
        assert_eq!(
            chars(&mut v, "g "),
            [Act::Send(Command::Pause), Act::Send(Command::Pause)]
        );
        // A distance is typed, edited and sent with Enter; Esc sends nothing.
        assert!(chars(&mut v, "d2x99").iter().all(|a| *a == Act::Nothing));
        assert_eq!(v.key(key(KeyCode::Backspace)), Act::Nothing);
        assert_eq!(chars(&mut v, "0"), [Act::Nothing]);
        assert_eq!(
            v.key(key(KeyCode::Enter)),
            Act::Send(Command::Distance {
                mm: 290.0,
                step: None
            })
        );
        chars(&mut v, "d12");
        assert_eq!(v.key(key(KeyCode::Esc)), Act::Nothing);
        assert_eq!(v.prompt, Prompt::Keys);
        // Intensity with a decimal point (one only).
        chars(&mut v, "i12.5.");
        assert_eq!(
            v.key(key(KeyCode::Enter)),
            Act::Send(Command::Intensity { ma: 12.5 })
        );
        // A note takes any character, command letters too.
        chars(&mut v, "acold hand, n=1");
        assert_eq!(
            v.key(key(KeyCode::Enter)),
            Act::Send(Command::Note {
                text: "cold hand, n=1".into()
            })
        );
        // An empty note sends nothing.
        chars(&mut v, "a");
        assert_eq!(v.key(key(KeyCode::Enter)), Act::Nothing);
        // Quit asks while the study is not complete: n keeps it, y quits.
        assert_eq!(
            chars(&mut v, "qzn"),
            [Act::Nothing, Act::Nothing, Act::Nothing]
        );
        assert_eq!(v.prompt, Prompt::Keys);
        assert_eq!(
            chars(&mut v, "qy"),
            [Act::Nothing, Act::Send(Command::Quit)]
        );
        v.apply(Msg::State(Box::new(state(false, true))));
        assert_eq!(chars(&mut v, "q"), [Act::Send(Command::Quit)]);
        // Ctrl-C stops the run, from a prompt too.
        chars(&mut v, "a");
        assert_eq!(
            v.key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Act::Stop
        );
        assert_eq!(v.prompt, Prompt::Keys);
    }

    #[test]
    fn the_screen_shows_step_responses_ramp_verdicts_and_events() {
        let mut v = View::default();
        v.apply(Msg::State(Box::new(state(true, false))));
        // Two sweeps of the elbow step with their traces: a negative (upward) response.
        for (seq, ma) in [(7u64, 25.0), (8, 30.0)] {
            let mut t = SweepTrace {
                seq,
                points: 200,
                first_ms: -20.0,
                ms_per_point: 0.5,
                mv: [0.0; TRACE_POINTS],
            };
            for k in 0..200 {
                let ms = -20.0 + k as f64 * 0.5;
                t.mv[k] = (-5.0 * (-(ms - 8.0).powi(2) / 4.0).exp()) as f32;
            }
            v.apply(Msg::Trace(Box::new(t)));
            let mut m = Measurement {
                seq,
                sample_index: 0,
                stimulus_time_s: seq as f64,
                tag: Some(1),
                intensity_ma: Some(ma),
                channel: 0,
                modality: ncs_block::Modality::Motor,
                response: ncs_cmap::Response::default(),
                markers_ms: Some(MarkersMs {
                    onset: 5.0,
                    negative_peak: 8.0,
                    negative_end: Some(11.0),
                    positive_peak: None,
                    end: Some(14.0),
                }),
                averaged_sweeps: 1,
                window_end_sample: 0,
            };
            m.response.present = true;
            m.response.measures.negative_peak_area_mv_ms = Some(20.0);
            v.apply(Msg::Measurement(Box::new(m)));
        }
        assert!(
            v.sweeps[1].iter().all(|s| s.trace.is_some()),
            "traces matched"
        );
        v.apply(Msg::Exam(ExamEvent::Advice {
            step: 1,
            text: "plateau at 25 mA; give +20 % = 30 mA".into(),
        }));
        v.apply(Msg::Exam(ExamEvent::Refused {
            command: "distance".into(),
            reason: "distances must increase".into(),
        }));
        let s = screen(&v);
        for want in [
            "step 2/3",
            "right median motor elbow",
            "280 mm",
            "plateau at 25.0 mA, supramaximal 30.0 mA",
            "● stimulating by the plan",
            "━ 25 mA",
            "━ 30 mA",
            "▲",
            "intensity ramp: area mV·ms vs mA",
            "plateau at 25 mA; give +20 % = 30 mA",
            "distance: distances must increase",
            " q  quit",
        ] {
            assert!(s.contains(want), "{want:?} not on the screen:\n{s}");
        }
        // The upward response: the negative-peak marker is above the baseline's row.
        let rows: Vec<&str> = s.lines().collect();
        let peak = rows.iter().position(|r| r.contains('▲')).unwrap();
        let onset = rows.iter().position(|r| r.contains('◆')).unwrap();
        assert!(peak < onset, "negative peak drawn above the onset:\n{s}");
        // A rejected sweep leaves the overlay.
        v.apply(Msg::Rejected(Rejection {
            seq: 8,
            sample_index: 0,
            stimulus_time_s: 8.0,
            outcome: RejectOutcome::Rejected,
        }));
        let s = screen(&v);
        assert!(s.contains("━ 25 mA") && !s.contains("━ 30 mA"), "{s}");
        // Prompts replace the key help.
        chars(&mut v, "d29");
        let s = screen(&v);
        assert!(
            s.contains("distance (mm) of right median motor elbow: 29"),
            "{s}"
        );
        assert!(!s.contains(" q  quit"), "{s}");
    }
}
