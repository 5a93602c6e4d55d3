//! The examiner's study as a state machine: which step is current, where each step's
//! intensity ramp stands, when the response has stopped growing, and what to fire next.
//!
//! [`Exam`] is pure: it is told about measurements, rejections, commands and the passing of
//! time, and answers with [`Effect`]s that the caller carries out (fire a stimulus, tag the
//! stimuli with another step, reject a sweep, write an action to the session, show an event).
//!
//! The supramaximal rule is the block detector's (`ncs_block::select`): a site's response has
//! stopped growing when its last intensity step grew by less than 5 % over the one before.
//! A ramp then gives the protocol's sweeps at the intensity of the step before the last plus
//! the margin (clinical.md §1: "intensity raised until the response stops growing, then
//! +10–20 %"), and the site is complete.

use ncs_block::select::DEFAULT_PLATEAU_GROWTH;
use ncs_block::{IntensityPlan, Modality, Observation, StimulationPlan, MAX_INTENSITY_MA};
use ncs_runtime::{Measurement, RejectOutcome, RejectRequest, Rejection};
use serde::Serialize;

use crate::command::Command;
use crate::steps::Step;

/// How long (s of signal) a fired stimulus may go unmeasured before the ramp goes on without
/// it.
pub const MEASUREMENT_WAIT_S: f64 = 2.0;

/// Intensities closer than this (mA) are the same intensity.
const SAME_MA: f64 = 0.0005;

/// Where a step's stimulation stands.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Raising the intensity; the next stimulus is at `next_ma`.
    Ramp {
        /// Next intensity (mA).
        next_ma: f64,
    },
    /// The response stopped growing at `plateau_ma`: sweeps at `supramaximal_ma`.
    Supramaximal {
        /// Where the response stopped growing (mA).
        plateau_ma: f64,
        /// Plateau plus the margin (mA).
        supramaximal_ma: f64,
    },
    /// The same intensity for every sweep (sensory averaging, fixed plans).
    Fixed {
        /// Intensity (mA).
        ma: f64,
    },
    /// The examiner sets the intensity.
    Manual,
    /// Nothing more to do at this site.
    Complete {
        /// Why.
        reason: Completion,
    },
}

/// Why a step is complete.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "because", rename_all = "snake_case")]
pub enum Completion {
    /// The planned sweeps at the supramaximal intensity are in.
    Supramaximal {
        /// The intensity (mA).
        supramaximal_ma: f64,
    },
    /// The planned sweeps at a fixed intensity are in (or averaged).
    Sweeps,
    /// The ramp reached its maximum and the response was still growing: possibly
    /// submaximal.
    StillGrowing {
        /// The ramp's maximum (mA).
        max_ma: f64,
    },
    /// The ramp reached its maximum without a response.
    NoResponse {
        /// The ramp's maximum (mA).
        max_ma: f64,
    },
}

/// Something to show the examiner (terminal, JSON lines).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ExamEvent {
    /// The current step changed.
    Step {
        /// The step.
        step: Step,
        /// Steps in the study.
        of: usize,
        /// Where its stimulation stands.
        phase: Phase,
    },
    /// A stimulus was asked for.
    Fired {
        /// Step.
        step: usize,
        /// Intensity (mA).
        intensity_ma: f64,
    },
    /// Advice for the examiner.
    Advice {
        /// Step.
        step: usize,
        /// The advice.
        text: String,
    },
    /// A site is complete.
    SiteComplete {
        /// Step.
        step: usize,
        /// Why.
        reason: Completion,
    },
    /// Every step is complete.
    StudyComplete,
    /// Stimulating by the plan started or stopped.
    Running {
        /// Whether it runs.
        running: bool,
    },
    /// A site's distance was entered.
    Distance {
        /// Step.
        step: usize,
        /// Distance (mm).
        distance_mm: f64,
    },
    /// The intensity for an external stimulator was entered.
    Intensity {
        /// Intensity (mA).
        intensity_ma: f64,
    },
    /// A note was kept.
    Note {
        /// Step.
        step: usize,
        /// The note.
        text: String,
    },
    /// A sweep was rejected, or the rejection refused.
    Rejected {
        /// Step of the sweep.
        step: Option<usize>,
        /// Its stimulus instant (s).
        stimulus_time_s: f64,
        /// What happened.
        outcome: RejectOutcome,
    },
    /// A command could not be carried out.
    Refused {
        /// The command.
        command: String,
        /// Why.
        reason: String,
    },
    /// The whole state (`status`).
    Status(Status),
}

/// The examiner's view of the study.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// Current step.
    pub step: usize,
    /// Steps.
    pub of: usize,
    /// Stimulating by the plan.
    pub running: bool,
    /// Whether the source fires the stimulator itself.
    pub can_fire: bool,
    /// Intensity entered for an external stimulator (mA).
    pub manual_intensity_ma: Option<f64>,
    /// Per step: label, distance, phase and sweeps kept.
    pub steps: Vec<StepStatus>,
}

/// One step in a [`Status`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepStatus {
    /// `right median motor wrist`.
    pub label: String,
    /// Distance (mm), as entered or planned.
    pub distance_mm: f64,
    /// Where the stimulation stands.
    pub phase: Phase,
    /// Sweeps kept (rejected ones left out).
    pub sweeps: usize,
    /// Intensities tried (mA), in order.
    pub intensities_ma: Vec<f64>,
}

/// One entry of the action log, written to the session with its time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    /// Session time (s) when it happened.
    pub time_s: f64,
    /// What (`next`, `distance`, `reject`, `note`, `fire`, `advance`, ...).
    pub action: &'static str,
    /// The step it concerns.
    pub step: Option<usize>,
    /// A number that goes with it (distance mm, intensity mA).
    pub value: Option<f64>,
    /// A text that goes with it (the note, the outcome).
    pub text: String,
    /// The stimulus it concerns (a rejected sweep).
    pub stimulus_time_s: Option<f64>,
}

/// What the caller must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Fire one stimulus for `step` at `intensity_ma`.
    Fire {
        /// Step.
        step: usize,
        /// Intensity (mA).
        intensity_ma: f64,
    },
    /// Tag the stimuli from now on with `step`.
    SetStep(usize),
    /// The intensity for stimuli of an external stimulator.
    SetManualIntensity(Option<f64>),
    /// Ask the processing thread to reject a sweep.
    Reject(RejectRequest),
    /// The distance of `step`'s site changed: re-grade, and rewrite the session's stimuli.
    Distance {
        /// Step.
        step: usize,
        /// Distance (mm).
        distance_mm: f64,
    },
    /// Write this action to the session.
    Log(Action),
    /// Show this.
    Show(ExamEvent),
    /// End the study.
    Quit,
}

#[derive(Debug, Clone)]
struct Sweep {
    seq: u64,
    obs: Observation,
}

#[derive(Debug, Clone, Copy)]
struct Measured {
    seq: u64,
    sample_index: u64,
    tag: Option<u32>,
}

/// The examiner's study; see the module docs.
#[derive(Debug)]
pub struct Exam {
    steps: Vec<Step>,
    plan: StimulationPlan,
    growth: f64,
    can_fire: bool,
    current: usize,
    sweeps: Vec<Vec<Sweep>>,
    phases: Vec<Phase>,
    last_ma: Vec<Option<f64>>,
    running: bool,
    manual_ma: Option<f64>,
    /// Session time of the last stimulus fired and not measured yet.
    awaiting: Option<f64>,
    /// Session time of the last stimulus fired.
    last_fire: Option<f64>,
    measured: Vec<Measured>,
    /// Rejections asked for and not answered yet: (seq, step).
    rejecting: Vec<(u64, Option<usize>)>,
    complete: bool,
}

impl Exam {
    /// A study of `steps` stimulated by `plan`; `can_fire`: the source fires the stimulator
    /// itself (otherwise an external stimulator's trigger marks the stimuli).
    pub fn new(steps: Vec<Step>, plan: StimulationPlan, can_fire: bool) -> Exam {
        let n = steps.len();
        let mut e = Exam {
            steps,
            plan,
            growth: DEFAULT_PLATEAU_GROWTH,
            can_fire,
            current: 0,
            sweeps: vec![Vec::new(); n],
            phases: Vec::with_capacity(n),
            last_ma: vec![None; n],
            running: false,
            manual_ma: None,
            awaiting: None,
            last_fire: None,
            measured: Vec::new(),
            rejecting: Vec::new(),
            complete: false,
        };
        e.phases = (0..n).map(|s| e.evaluate(s)).collect();
        e
    }

    /// The steps (distances as entered).
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The current step.
    pub fn current(&self) -> usize {
        self.current
    }

    /// Where step `step` stands.
    pub fn phase(&self, step: usize) -> Option<Phase> {
        self.phases.get(step).copied()
    }

    /// Whether stimulating by the plan.
    pub fn running(&self) -> bool {
        self.running
    }

    /// The events to show at the start, and stimulation by the plan started when the
    /// source can fire and `run` is asked.
    pub fn start(&mut self, run: bool, t: f64, out: &mut Vec<Effect>) {
        out.push(Effect::SetStep(self.current));
        out.push(Effect::Show(self.step_event()));
        if run {
            self.command(Command::Run, t, out);
        } else if !self.can_fire {
            out.push(Effect::Show(ExamEvent::Advice {
                step: self.current,
                text: "external stimulator: its trigger marks the stimuli; enter each intensity with `intensity MA`".into(),
            }));
        }
    }

    /// The whole state.
    pub fn status(&self) -> Status {
        Status {
            step: self.current,
            of: self.steps.len(),
            running: self.running,
            can_fire: self.can_fire,
            manual_intensity_ma: self.manual_ma,
            steps: self
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| StepStatus {
                    label: s.label(),
                    distance_mm: s.distance_mm,
                    phase: self.phases[i],
                    sweeps: self.sweeps[i].len(),
                    intensities_ma: self.sweeps[i]
                        .iter()
                        .filter_map(|w| w.obs.intensity_ma)
                        .collect(),
                })
                .collect(),
        }
    }

    fn step_event(&self) -> ExamEvent {
        ExamEvent::Step {
            step: self.steps[self.current].clone(),
            of: self.steps.len(),
            phase: self.phases[self.current],
        }
    }

    fn log(&self, t: f64, action: &'static str, value: Option<f64>, text: &str) -> Effect {
        Effect::Log(Action {
            time_s: t,
            action,
            step: Some(self.current),
            value,
            text: text.to_owned(),
            stimulus_time_s: None,
        })
    }

    fn refuse(command: &Command, reason: impl Into<String>, out: &mut Vec<Effect>) {
        out.push(Effect::Show(ExamEvent::Refused {
            command: command.name().to_owned(),
            reason: reason.into(),
        }));
    }

    /// The intensity the plan (or the examiner) gives the next stimulus of `step`.
    fn planned_ma(&self, step: usize) -> Option<f64> {
        match self.phases[step] {
            Phase::Ramp { next_ma } => Some(next_ma),
            Phase::Supramaximal {
                supramaximal_ma, ..
            } => Some(supramaximal_ma),
            Phase::Fixed { ma } => Some(ma),
            Phase::Manual => self.manual_ma,
            Phase::Complete { .. } => self.last_ma[step].or(self.manual_ma),
        }
    }

    /// Carries out one examiner command at session time `t`.
    pub fn command(&mut self, cmd: Command, t: f64, out: &mut Vec<Effect>) {
        let n = self.steps.len();
        match &cmd {
            Command::Next | Command::Previous | Command::Goto { .. } => {
                let to = match cmd {
                    Command::Next if self.current + 1 < n => self.current + 1,
                    Command::Previous if self.current > 0 => self.current - 1,
                    Command::Goto { step } if step < n => step,
                    Command::Goto { step } => {
                        return Self::refuse(
                            &cmd,
                            format!("the study has steps 0 to {}, got {step}", n - 1),
                            out,
                        )
                    }
                    _ => {
                        return Self::refuse(
                            &cmd,
                            format!(
                                "no step {} the current one",
                                if matches!(cmd, Command::Next) {
                                    "after"
                                } else {
                                    "before"
                                }
                            ),
                            out,
                        )
                    }
                };
                self.move_to(to, cmd.name(), t, out);
            }
            Command::Fire | Command::Repeat => {
                if !self.can_fire {
                    return Self::refuse(
                        &cmd,
                        "the stimulator is external: fire it by hand, its trigger marks the stimulus",
                        out,
                    );
                }
                let ma = if matches!(cmd, Command::Repeat) {
                    self.last_ma[self.current]
                } else {
                    self.planned_ma(self.current)
                };
                let Some(ma) = ma else {
                    return Self::refuse(
                        &cmd,
                        if matches!(cmd, Command::Repeat) {
                            "nothing to repeat at this site yet"
                        } else {
                            "no intensity planned: enter one with `intensity MA`"
                        },
                        out,
                    );
                };
                out.push(self.log(t, cmd.name(), Some(ma), ""));
                self.fire(ma, t, out);
            }
            Command::Run => {
                if !self.can_fire {
                    return Self::refuse(
                        &cmd,
                        "the stimulator is external: `ncs` cannot fire it",
                        out,
                    );
                }
                self.running = true;
                out.push(self.log(t, "run", None, ""));
                out.push(Effect::Show(ExamEvent::Running { running: true }));
            }
            Command::Pause => {
                self.running = false;
                out.push(self.log(t, "pause", None, ""));
                out.push(Effect::Show(ExamEvent::Running { running: false }));
            }
            Command::Reject => {
                let Some(m) = self.measured.pop() else {
                    return Self::refuse(&cmd, "no sweep to reject", out);
                };
                let step = m.tag.map(|s| s as usize).filter(|&s| s < n);
                self.rejecting.push((m.seq, step));
                out.push(Effect::Reject(RejectRequest {
                    seq: m.seq,
                    sample_index: m.sample_index,
                    tag: m.tag,
                }));
            }
            Command::Distance { mm, step } => {
                let s = step.unwrap_or(self.current);
                if s >= n {
                    return Self::refuse(
                        &cmd,
                        format!("the study has steps 0 to {}, got {s}", n - 1),
                        out,
                    );
                }
                if !(mm.is_finite() && *mm >= 0.0 && *mm <= 2000.0) {
                    return Self::refuse(
                        &cmd,
                        format!("a distance is a number of mm between 0 and 2000, got {mm}"),
                        out,
                    );
                }
                self.steps[s].distance_mm = *mm;
                out.push(Effect::Log(Action {
                    time_s: t,
                    action: "distance",
                    step: Some(s),
                    value: Some(*mm),
                    text: String::new(),
                    stimulus_time_s: None,
                }));
                out.push(Effect::Distance {
                    step: s,
                    distance_mm: *mm,
                });
                out.push(Effect::Show(ExamEvent::Distance {
                    step: s,
                    distance_mm: *mm,
                }));
            }
            Command::Intensity { ma } => {
                if !(ma.is_finite() && *ma >= 0.0 && *ma <= MAX_INTENSITY_MA) {
                    return Self::refuse(
                        &cmd,
                        format!(
                            "an intensity is a number of mA between 0 and {MAX_INTENSITY_MA}, got {ma}"
                        ),
                        out,
                    );
                }
                self.manual_ma = Some(*ma);
                out.push(self.log(t, "intensity", Some(*ma), ""));
                out.push(Effect::SetManualIntensity(Some(*ma)));
                out.push(Effect::Show(ExamEvent::Intensity { intensity_ma: *ma }));
            }
            Command::Note { text } => {
                out.push(self.log(t, "note", None, text));
                out.push(Effect::Show(ExamEvent::Note {
                    step: self.current,
                    text: text.clone(),
                }));
            }
            Command::Status => out.push(Effect::Show(ExamEvent::Status(self.status()))),
            Command::Quit => {
                self.running = false;
                out.push(self.log(t, "quit", None, ""));
                out.push(Effect::Quit);
            }
        }
    }

    fn move_to(&mut self, to: usize, why: &'static str, t: f64, out: &mut Vec<Effect>) {
        self.current = to;
        self.awaiting = None;
        out.push(self.log(t, why, None, &self.steps[to].label()));
        out.push(Effect::SetStep(to));
        out.push(Effect::Show(self.step_event()));
    }

    fn fire(&mut self, ma: f64, now: f64, out: &mut Vec<Effect>) {
        self.awaiting = Some(now);
        self.last_fire = Some(now);
        out.push(Effect::Fire {
            step: self.current,
            intensity_ma: ma,
        });
        out.push(Effect::Show(ExamEvent::Fired {
            step: self.current,
            intensity_ma: ma,
        }));
    }

    /// Time passes (`now`: session time, s, so that a simulated patient played faster than
    /// real time is stimulated at the protocol's rate of its own clock): fires the next
    /// stimulus of the plan when it is due (the protocol's rate, and the previous stimulus
    /// measured or given up on).
    pub fn tick(&mut self, now: f64, out: &mut Vec<Effect>) {
        if !(self.running && self.can_fire) {
            return;
        }
        if self.awaiting.is_some_and(|a| now - a < MEASUREMENT_WAIT_S) {
            return;
        }
        let period = 1.0 / self.plan.rate_hz;
        // A hair under the period: times read from the stream's sample clock.
        if self.last_fire.is_some_and(|l| now - l < period - 1e-9) {
            return;
        }
        if matches!(self.phases[self.current], Phase::Complete { .. }) {
            return;
        }
        match self.planned_ma(self.current) {
            Some(ma) => self.fire(ma, now, out),
            None => {
                self.running = false;
                out.push(Effect::Show(ExamEvent::Advice {
                    step: self.current,
                    text: "manual intensity: enter one with `intensity MA`, then `run`".into(),
                }));
                out.push(Effect::Show(ExamEvent::Running { running: false }));
            }
        }
    }

    /// A measurement arrived (its tag is its step).
    pub fn on_measurement(&mut self, m: &Measurement, t: f64, out: &mut Vec<Effect>) {
        let Some(step) = m.tag.map(|s| s as usize).filter(|&s| s < self.steps.len()) else {
            return;
        };
        if step == self.current {
            self.awaiting = None;
            // The rate counts from the instant the stimulus was given (the amplifier fires when
            // the command reaches it, a little after it was asked for).
            self.last_fire = Some(
                self.last_fire
                    .map_or(m.stimulus_time_s, |l| l.max(m.stimulus_time_s)),
            );
        }
        self.measured.push(Measured {
            seq: m.seq,
            sample_index: m.sample_index,
            tag: m.tag,
        });
        if m.response.flags.contains(ncs_cmap::Flag::DataGap) {
            // Lost data: nothing to learn from this sweep; the ramp repeats the intensity.
            return;
        }
        let s = &self.steps[step];
        self.last_ma[step] = m.intensity_ma.or(self.last_ma[step]);
        self.sweeps[step].push(Sweep {
            seq: m.seq,
            obs: Observation {
                stimulus_time_s: m.stimulus_time_s,
                nerve: s.nerve.clone(),
                side: s.side.clone(),
                site: s.site.clone(),
                modality: s.modality,
                distance_mm: Some(s.distance_mm),
                channel: m.channel,
                intensity_ma: m.intensity_ma,
                response: m.response,
                averaged_sweeps: m.averaged_sweeps.max(1),
            },
        });
        self.reevaluate(step, t, out);
    }

    /// The processing thread carried out (or refused) a rejection.
    pub fn on_rejection(&mut self, r: &Rejection, t: f64, out: &mut Vec<Effect>) {
        let Some(k) = self.rejecting.iter().position(|(seq, _)| *seq == r.seq) else {
            return;
        };
        let (_, step) = self.rejecting.remove(k);
        let text = match r.outcome {
            RejectOutcome::Rejected => "rejected",
            RejectOutcome::NotLastInAverage => "refused: newer sweeps were averaged after it",
            RejectOutcome::Unknown => "refused: no such sweep",
        };
        out.push(Effect::Log(Action {
            time_s: t,
            action: "reject",
            step,
            value: None,
            text: text.to_owned(),
            stimulus_time_s: Some(r.stimulus_time_s),
        }));
        out.push(Effect::Show(ExamEvent::Rejected {
            step,
            stimulus_time_s: r.stimulus_time_s,
            outcome: r.outcome,
        }));
        match r.outcome {
            RejectOutcome::Rejected => {
                if let Some(s) = step {
                    self.sweeps[s].retain(|w| w.seq != r.seq);
                    self.reevaluate(s, t, out);
                }
            }
            // Still in use: it can be rejected again only as it is, the last one.
            _ => self.measured.push(Measured {
                seq: r.seq,
                sample_index: r.sample_index,
                tag: step.map(|s| s as u32),
            }),
        }
    }

    fn reevaluate(&mut self, step: usize, t: f64, out: &mut Vec<Effect>) {
        let before = self.phases[step];
        let after = self.evaluate(step);
        self.phases[step] = after;
        if before == after {
            return;
        }
        let plateau = |p: &Phase| match *p {
            Phase::Supramaximal { plateau_ma, .. } => Some(plateau_ma),
            _ => None,
        };
        if let Phase::Supramaximal {
            plateau_ma,
            supramaximal_ma,
        } = after
        {
            if plateau(&before) != Some(plateau_ma) {
                out.push(Effect::Show(ExamEvent::Advice {
                    step,
                    text: format!(
                        "plateau at {} mA; give +{} % = {} mA",
                        fmt_ma(plateau_ma),
                        self.plan.margin_pct,
                        fmt_ma(supramaximal_ma)
                    ),
                }));
            }
        }
        if let Phase::Complete { reason } = after {
            if let Completion::Supramaximal { .. } = reason {
            } else if let Some(p) = self.plateau_hint(step, &reason) {
                out.push(Effect::Show(ExamEvent::Advice { step, text: p }));
            }
            out.push(Effect::Log(Action {
                time_s: t,
                action: "site_complete",
                step: Some(step),
                value: None,
                text: serde_json::to_string(&reason).unwrap_or_default(),
                stimulus_time_s: None,
            }));
            out.push(Effect::Show(ExamEvent::SiteComplete { step, reason }));
            if step == self.current {
                self.site_complete(t, out);
            }
        }
    }

    fn plateau_hint(&self, _step: usize, reason: &Completion) -> Option<String> {
        match reason {
            Completion::StillGrowing { max_ma } => Some(format!(
                "the response still grew at {} mA, the ramp's maximum: possibly submaximal (a submaximal proximal response can fake a block)",
                fmt_ma(*max_ma)
            )),
            Completion::NoResponse { max_ma } => Some(format!(
                "no response up to {} mA: check the electrodes, or a complete block",
                fmt_ma(*max_ma)
            )),
            _ => None,
        }
    }

    fn site_complete(&mut self, t: f64, out: &mut Vec<Effect>) {
        let last = self.current + 1 == self.steps.len();
        let all = self
            .phases
            .iter()
            .all(|p| matches!(p, Phase::Complete { .. }));
        if self.plan.auto_advance && !last {
            self.move_to(self.current + 1, "advance", t, out);
            return;
        }
        self.running = false;
        out.push(Effect::Show(ExamEvent::Running { running: false }));
        if all && !self.complete {
            self.complete = true;
            out.push(Effect::Show(ExamEvent::StudyComplete));
        } else if !last {
            out.push(Effect::Show(ExamEvent::Advice {
                step: self.current,
                text: "site complete: `next` for the next site".into(),
            }));
        }
    }

    /// Where step `step` stands, from its sweeps alone (so a rejection re-evaluates it).
    fn evaluate(&self, step: usize) -> Phase {
        let s = &self.steps[step];
        let sweeps = &self.sweeps[step];
        let want = s.sweeps as usize;
        let margin = 1.0 + self.plan.margin_pct / 100.0;
        let plan = match (s.modality, s.intensity) {
            // A sensory response is the running average of its site: one intensity.
            (Modality::Sensory, IntensityPlan::Ramp { start_ma, .. }) => {
                IntensityPlan::Fixed { ma: start_ma }
            }
            (_, p) => p,
        };
        let at_least = |ma: f64| {
            sweeps
                .iter()
                .filter(|w| w.obs.intensity_ma.is_some_and(|i| i >= ma - SAME_MA))
                .count()
        };
        match plan {
            IntensityPlan::Fixed { ma } => {
                if sweeps.len() >= want {
                    Phase::Complete {
                        reason: Completion::Sweeps,
                    }
                } else {
                    Phase::Fixed { ma }
                }
            }
            IntensityPlan::Manual(_) => match self.plateau(step) {
                Some(p) => {
                    let supra = p * margin;
                    if at_least(supra) >= want {
                        Phase::Complete {
                            reason: Completion::Supramaximal {
                                supramaximal_ma: supra,
                            },
                        }
                    } else {
                        Phase::Supramaximal {
                            plateau_ma: p,
                            supramaximal_ma: supra,
                        }
                    }
                }
                None => Phase::Manual,
            },
            IntensityPlan::Ramp {
                start_ma,
                step_ma,
                max_ma,
            } => {
                if let Some(p) = self.plateau(step) {
                    let supra = (p * margin).min(max_ma.max(p));
                    return if at_least(supra) >= want {
                        Phase::Complete {
                            reason: Completion::Supramaximal {
                                supramaximal_ma: supra,
                            },
                        }
                    } else {
                        Phase::Supramaximal {
                            plateau_ma: p,
                            supramaximal_ma: supra,
                        }
                    };
                }
                let top = sweeps
                    .iter()
                    .filter_map(|w| w.obs.intensity_ma)
                    .fold(None, |a: Option<f64>, i| Some(a.map_or(i, |a| a.max(i))));
                let Some(top) = top else {
                    return Phase::Ramp { next_ma: start_ma };
                };
                let next = top + step_ma;
                if next > max_ma + SAME_MA {
                    let any = sweeps.iter().any(|w| w.obs.response.present);
                    Phase::Complete {
                        reason: if any {
                            Completion::StillGrowing { max_ma }
                        } else {
                            Completion::NoResponse { max_ma }
                        },
                    }
                } else {
                    Phase::Ramp { next_ma: next }
                }
            }
        }
    }

    /// The intensity at which step `step`'s response stopped growing, if it has: the lowest
    /// intensity step after which no higher step grew by the plateau growth (5 %) or more.
    /// Sweeps are sized as the block detector sizes them (`ncs_block::select`): negative-peak
    /// area when every present sweep has one, else negative-peak amplitude; a step's size is
    /// the median of its sweeps. While the ramp climbs this is the detector's rule (the last
    /// step grew by less than 5 % over the one before); the supramaximal sweeps that follow
    /// do not move it, and a later step that grows again shows the plateau was not one.
    fn plateau(&self, step: usize) -> Option<f64> {
        let sweeps: Vec<&Observation> = self.sweeps[step]
            .iter()
            .map(|w| &w.obs)
            .filter(|o| !o.response.flags.contains(ncs_cmap::Flag::DataGap))
            .collect();
        let by_area = sweeps
            .iter()
            .filter(|o| o.response.present)
            .all(|o| o.response.measures.negative_peak_area_mv_ms.is_some());
        let mut sized = Vec::with_capacity(sweeps.len());
        for o in &sweeps {
            let m = o.response.measures;
            let size = if !o.response.present {
                0.0
            } else if by_area {
                m.negative_peak_area_mv_ms.unwrap_or(0.0)
            } else {
                m.negative_peak_amplitude_mv.unwrap_or(0.0)
            };
            sized.push((o.intensity_ma?, size.abs()));
        }
        sized.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut groups: Vec<(f64, f64)> = Vec::new();
        let mut i = 0;
        while i < sized.len() {
            let ma = sized[i].0;
            let mut sizes: Vec<f64> = sized[i..]
                .iter()
                .take_while(|(m, _)| (m - ma).abs() < SAME_MA)
                .map(|(_, s)| *s)
                .collect();
            i += sizes.len();
            sizes.sort_by(f64::total_cmp);
            let k = sizes.len();
            let median = if k % 2 == 1 {
                sizes[k / 2]
            } else {
                0.5 * (sizes[k / 2 - 1] + sizes[k / 2])
            };
            groups.push((ma, median));
        }
        (0..groups.len().saturating_sub(1)).find_map(|k| {
            let (ma, size) = groups[k];
            let flat = groups[k + 1..]
                .iter()
                .all(|&(_, s)| s < size * (1.0 + self.growth));
            (size > 0.0 && flat).then_some(ma)
        })
    }
}

/// `32`, `32.5`.
fn fmt_ma(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}
