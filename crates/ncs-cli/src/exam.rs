//! The examiner's workflow in `ncs acquire --protocol`: every stimulus tagged with the current
//! protocol step, the examiner's commands (keyboard, stdin, control socket) carried out on the
//! analysis thread, the stimulator fired by the plan where the amplifier can fire it, and every
//! action recorded in the session with its time.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use crossbeam_channel::{bounded, Receiver, Sender};
use ncs_block::Study;
use ncs_exam::{Action, Command, Effect, Exam, ExamEvent, Steering};
use ncs_io::{ColumnSpec, ColumnType, TableSpec, Value};
use ncs_runtime::{RecorderCommand, RejectRequest};

/// Name of the examiner's action log under `/processing/ncs`.
pub const ACTIONS_TABLE: &str = "examiner_actions";

/// Name of the session text holding the study protocol (with the distances measured).
pub const PROTOCOL_TEXT: &str = "study_protocol";

/// The columns of [`ACTIONS_TABLE`].
pub fn actions_table_spec() -> TableSpec {
    let c = ColumnSpec::new;
    TableSpec::new(
        ACTIONS_TABLE,
        "the examiner's actions during the study, in order: step changes, distances, rejected sweeps, notes, intensities, stimulator commands",
        vec![
            c("time_s", "session time of the action (s)", ColumnType::F64),
            c("unix_time_s", "wall-clock time of the action (s since 1970, UTC)", ColumnType::F64),
            c("action", "next, previous, goto, advance, distance, reject, note, intensity, fire, repeat, run, pause, site_complete, quit", ColumnType::Str),
            c("step", "protocol step it concerns (0-based), -1 if none", ColumnType::I64),
            c("nerve", "nerve of that step", ColumnType::Str),
            c("side", "side of that step", ColumnType::Str),
            c("site", "site of that step", ColumnType::Str),
            c("value", "number with it: distance (mm) or intensity (mA); NaN if none", ColumnType::F64),
            c("text", "text with it: the note, the outcome", ColumnType::Str),
            c("stimulus_time_s", "stimulus it concerns (a rejected sweep), NaN if none", ColumnType::F64),
        ],
    )
}

/// A command and where its answer goes.
pub struct Incoming {
    /// The command.
    pub command: Command,
    /// Receives one JSON line: `{"ok": bool, "events": [...]}`.
    pub reply: Option<Sender<String>>,
}

/// What [`ExamDriver`] changed that the live analysis must act on.
#[derive(Debug, Default)]
pub struct DriverOutput {
    /// Events to show.
    pub events: Vec<ExamEvent>,
    /// The study protocol changed (a distance): grade again with it.
    pub study: Option<Study>,
}

/// The examiner's study on the analysis thread: commands in, effects carried out.
pub struct ExamDriver {
    exam: Exam,
    steering: Steering,
    study: Study,
    commands: Receiver<Incoming>,
    recorder: Option<Sender<RecorderCommand>>,
    requests: VecDeque<RejectRequest>,
    stop: Arc<AtomicBool>,
    started: bool,
    run: bool,
    effects: Vec<Effect>,
}

impl ExamDriver {
    /// A driver for `exam` over `steering`, following `study` (whose distances it edits).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        exam: Exam,
        steering: Steering,
        study: Study,
        commands: Receiver<Incoming>,
        recorder: Option<Sender<RecorderCommand>>,
        stop: Arc<AtomicBool>,
        run: bool,
    ) -> Self {
        ExamDriver {
            exam,
            steering,
            study,
            commands,
            recorder,
            requests: VecDeque::new(),
            stop,
            started: false,
            run,
            effects: Vec::new(),
        }
    }

    /// The exam.
    pub fn exam(&self) -> &Exam {
        &self.exam
    }

    /// What the stimulator did.
    pub fn stimulator(&self) -> ncs_exam::StimulatorStats {
        self.steering.stats()
    }

    /// A rejection for the processing thread, if one is waiting.
    pub fn next_request(&mut self) -> Option<RejectRequest> {
        self.requests.pop_front()
    }

    fn t(&self) -> f64 {
        self.steering.stream_time_s()
    }

    /// Time passes: the first call starts the study; commands waiting are carried out and the
    /// stimulator's schedule is kept.
    pub fn idle(&mut self, out: &mut DriverOutput) {
        let t = self.t();
        if !self.started {
            self.started = true;
            let mut fx = std::mem::take(&mut self.effects);
            self.exam.start(self.run, t, &mut fx);
            self.apply(&mut fx, out);
            self.effects = fx;
        }
        while let Ok(inc) = self.commands.try_recv() {
            self.command(inc, out);
        }
        let mut fx = std::mem::take(&mut self.effects);
        self.exam.tick(t, &mut fx);
        self.apply(&mut fx, out);
        self.effects = fx;
    }

    fn command(&mut self, inc: Incoming, out: &mut DriverOutput) {
        let t = self.t();
        let mut fx = std::mem::take(&mut self.effects);
        let first_event = out.events.len();
        // A distance that would break the protocol's order is refused before it is taken.
        if let Command::Distance { mm, step } = &inc.command {
            let s = step.unwrap_or(self.exam.current());
            if let Err(reason) = self.edited(s, *mm) {
                fx.push(Effect::Show(ExamEvent::Refused {
                    command: "distance".into(),
                    reason,
                }));
                self.apply(&mut fx, out);
                self.effects = fx;
                return self.reply(inc.reply, &out.events[first_event..]);
            }
        }
        self.exam.command(inc.command, t, &mut fx);
        self.apply(&mut fx, out);
        self.effects = fx;
        self.reply(inc.reply, &out.events[first_event..]);
    }

    fn reply(&self, to: Option<Sender<String>>, events: &[ExamEvent]) {
        let Some(to) = to else { return };
        let ok = !events
            .iter()
            .any(|e| matches!(e, ExamEvent::Refused { .. }));
        let line = serde_json::json!({ "ok": ok, "events": events });
        let _ = to.try_send(line.to_string());
    }

    /// The study with step `step`'s site at `mm`, validated.
    fn edited(&self, step: usize, mm: f64) -> Result<Study, String> {
        let s = self
            .exam
            .steps()
            .get(step)
            .ok_or_else(|| format!("no step {step}"))?;
        let mut study = self.study.clone();
        let site = study
            .nerves
            .iter_mut()
            .filter(|n| n.name == s.nerve && n.side == s.side && n.modality == s.modality)
            .flat_map(|n| n.sites.iter_mut())
            .find(|x| x.name == s.site)
            .ok_or_else(|| format!("step {step} is not in the protocol"))?;
        site.distance_mm = mm;
        study
            .validated(&ncs_block::NormalValues::default_adult())
            .map_err(|e| e.to_string())
    }

    /// A measurement arrived.
    pub fn measurement(&mut self, m: &ncs_runtime::Measurement, out: &mut DriverOutput) {
        let mut fx = std::mem::take(&mut self.effects);
        self.exam.on_measurement(m, m.stimulus_time_s, &mut fx);
        self.apply(&mut fx, out);
        self.effects = fx;
    }

    /// A rejection came back from the processing thread.
    pub fn rejection(&mut self, r: &ncs_runtime::Rejection, out: &mut DriverOutput) {
        let t = self.t();
        let mut fx = std::mem::take(&mut self.effects);
        self.exam.on_rejection(r, t, &mut fx);
        self.apply(&mut fx, out);
        self.effects = fx;
    }

    fn apply(&mut self, fx: &mut Vec<Effect>, out: &mut DriverOutput) {
        for e in fx.drain(..) {
            match e {
                Effect::Fire { step, intensity_ma } => {
                    if !self.steering.fire(step, intensity_ma) {
                        out.events.push(ExamEvent::Refused {
                            command: "fire".into(),
                            reason: "the acquisition is not taking stimulator requests".into(),
                        });
                    }
                }
                Effect::SetStep(s) => self.steering.set_step(s),
                Effect::SetManualIntensity(ma) => self.steering.set_manual_intensity(ma),
                Effect::Reject(r) => self.requests.push_back(r),
                Effect::Distance { step, distance_mm } => match self.edited(step, distance_mm) {
                    Ok(study) => {
                        let s = &self.exam.steps()[step];
                        self.record(RecorderCommand::SiteDistance {
                            nerve: s.nerve.clone(),
                            side: s.side.clone(),
                            site: s.site.clone(),
                            distance_mm,
                        });
                        if let Ok(text) = study.to_toml() {
                            self.record(RecorderCommand::Text {
                                name: PROTOCOL_TEXT.into(),
                                text,
                            });
                        }
                        self.study = study.clone();
                        out.study = Some(study);
                    }
                    Err(reason) => out.events.push(ExamEvent::Refused {
                        command: "distance".into(),
                        reason,
                    }),
                },
                Effect::Log(a) => {
                    let row = self.action_row(&a);
                    self.record(RecorderCommand::Row {
                        table: ACTIONS_TABLE.into(),
                        values: row,
                    });
                }
                Effect::Show(ev) => out.events.push(ev),
                Effect::Quit => self.stop.store(true, Ordering::SeqCst),
            }
        }
    }

    fn record(&self, c: RecorderCommand) {
        if let Some(r) = &self.recorder {
            // The recorder's queue is far longer than a study's actions; a full queue means
            // the recorder is stuck, which its own report says.
            let _ = r.try_send(c);
        }
    }

    fn action_row(&self, a: &Action) -> Vec<Value> {
        let step = a.step.and_then(|s| self.exam.steps().get(s));
        let text = |f: fn(&ncs_exam::Step) -> &str| Value::Str(step.map(f).unwrap_or("").into());
        vec![
            Value::F64(a.time_s),
            Value::F64(unix_time_s()),
            Value::Str(a.action.into()),
            Value::I64(a.step.map_or(-1, |s| s as i64)),
            text(|s| &s.nerve),
            text(|s| &s.side),
            text(|s| &s.site),
            Value::F64(a.value.unwrap_or(f64::NAN)),
            Value::Str(a.text.clone()),
            Value::F64(a.stimulus_time_s.unwrap_or(f64::NAN)),
        ]
    }
}

fn unix_time_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Where examiner commands come from besides the keyboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Lines on standard input.
    Stdin,
    /// A Unix socket at this path: one command per line, one JSON answer per line.
    Socket(PathBuf),
}

impl Control {
    /// `-` for stdin, anything else a socket path.
    pub fn parse(s: &str) -> Control {
        if s == "-" {
            Control::Stdin
        } else {
            Control::Socket(PathBuf::from(s))
        }
    }
}

/// Starts reading commands from `control` into `tx`; the socket file is removed when the
/// returned guard drops.
pub fn listen(control: &Control, tx: Sender<Incoming>) -> anyhow::Result<Option<SocketGuard>> {
    match control {
        Control::Stdin => {
            std::thread::Builder::new()
                .name("ncs-control-stdin".into())
                .spawn(move || {
                    let stdin = std::io::stdin();
                    for line in stdin.lock().lines() {
                        let Ok(line) = line else { break };
                        if line.trim().is_empty() {
                            continue;
                        }
                        match Command::parse(&line) {
                            Ok(command) => {
                                if tx
                                    .send(Incoming {
                                        command,
                                        reply: None,
                                    })
                                    .is_err()
                                {
                                    break;
                                }
                            }
                            Err(e) => eprintln!("{e}"),
                        }
                    }
                })
                .context("cannot start the stdin control thread")?;
            Ok(None)
        }
        Control::Socket(path) => {
            if path.exists() {
                // A socket left by a run that was killed; anything else is not ours to remove.
                let meta = std::fs::symlink_metadata(path)?;
                use std::os::unix::fs::FileTypeExt;
                if !meta.file_type().is_socket() {
                    anyhow::bail!(
                        "--control {}: the path exists and is not a socket",
                        path.display()
                    );
                }
                std::fs::remove_file(path)?;
            }
            let listener = std::os::unix::net::UnixListener::bind(path).with_context(|| {
                format!("cannot listen on the control socket {}", path.display())
            })?;
            std::thread::Builder::new()
                .name("ncs-control-socket".into())
                .spawn(move || {
                    for conn in listener.incoming() {
                        let Ok(conn) = conn else { continue };
                        let tx = tx.clone();
                        let _ = std::thread::Builder::new()
                            .name("ncs-control-client".into())
                            .spawn(move || serve(conn, &tx));
                    }
                })
                .context("cannot start the control socket thread")?;
            Ok(Some(SocketGuard(path.clone())))
        }
    }
}

/// Removes the control socket's file.
pub struct SocketGuard(PathBuf);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn serve(conn: std::os::unix::net::UnixStream, tx: &Sender<Incoming>) {
    let Ok(mut w) = conn.try_clone() else { return };
    for line in BufReader::new(conn).lines() {
        let Ok(line) = line else { return };
        if line.trim().is_empty() {
            continue;
        }
        let answer = match Command::parse(&line) {
            Ok(command) => {
                let (rtx, rrx) = bounded(1);
                if tx
                    .send(Incoming {
                        command,
                        reply: Some(rtx),
                    })
                    .is_err()
                {
                    serde_json::json!({"ok": false, "error": "the study has ended"}).to_string()
                } else {
                    rrx.recv_timeout(Duration::from_secs(5))
                        .unwrap_or_else(|_| {
                            serde_json::json!({"ok": false, "error": "no answer within 5 s"})
                                .to_string()
                        })
                }
            }
            Err(e) => serde_json::json!({"ok": false, "error": e.to_string()}).to_string(),
        };
        if writeln!(w, "{answer}").is_err() {
            return;
        }
    }
}

/// Reads a protocol by shipped name (`ncs protocols`) or from a file.
pub fn protocol_text(spec: &Path) -> anyhow::Result<String> {
    if !spec.exists() {
        if let Some(s) = spec
            .to_str()
            .and_then(|k| ncs_block::protocols::SHIPPED.iter().find(|s| s.key == k))
        {
            return Ok(s.text.to_owned());
        }
    }
    std::fs::read_to_string(spec).with_context(|| {
        format!(
            "cannot read the protocol file {} (shipped protocols: {})",
            spec.display(),
            ncs_block::protocols::SHIPPED
                .iter()
                .map(|s| s.key)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}
