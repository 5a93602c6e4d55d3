//! The examiner's state machine: ramps, plateau advice, supramaximal sweeps, advancing,
//! rejections, distances and refusals.

use ncs_block::{Modality, NormalValues, Study};
use ncs_cmap::{Flag, Measures, Response};
use ncs_exam::{steps, Command, Completion, Effect, Exam, ExamEvent, Phase};
use ncs_runtime::{Measurement, RejectOutcome, Rejection};

fn study(extra: &str) -> Study {
    let text = format!(
        r#"
[stimulation]
motor_sweeps = 2
sensory_sweeps = 3
{extra}

[[nerve]]
name = "median"
side = "right"
modality = "motor"
channel = 0
intensity = {{ start_ma = 10, step_ma = 10, max_ma = 50 }}
sites = [{{ name = "wrist", distance_mm = 70 }}, {{ name = "elbow", distance_mm = 290 }}]

[[nerve]]
name = "median"
side = "right"
modality = "sensory"
channel = 2
sites = [{{ name = "wrist", distance_mm = 130 }}]
"#
    );
    Study::from_toml_str(&text, &NormalValues::default_adult()).unwrap()
}

/// A CMAP whose size follows recruitment: area `area` mV·ms.
fn response(area: f64) -> Response {
    if area <= 0.0 {
        return Response::default();
    }
    Response {
        present: true,
        measures: Measures {
            onset_latency_ms: Some(3.5),
            negative_peak_latency_ms: Some(6.0),
            negative_peak_amplitude_mv: Some(area / 7.0),
            peak_to_peak_amplitude_mv: Some(area / 5.0),
            negative_peak_area_mv_ms: Some(area),
            negative_peak_duration_ms: Some(6.0),
            total_duration_ms: Some(14.0),
        },
        flags: Default::default(),
        baseline_noise_rms_mv: 0.01,
        baseline_mv: 0.0,
    }
}

struct Run {
    exam: Exam,
    seq: u64,
    out: Vec<Effect>,
    now: f64,
}

impl Run {
    fn new(extra: &str, can_fire: bool) -> Run {
        let s = study(extra);
        let mut exam = Exam::new(steps(&s), s.stimulation, can_fire);
        let mut out = Vec::new();
        exam.start(false, 0.0, &mut out);
        Run {
            exam,
            seq: 0,
            out,
            now: 0.0,
        }
    }

    fn cmd(&mut self, c: Command) -> Vec<Effect> {
        let mut out = Vec::new();
        self.exam.command(c, self.seq as f64, &mut out);
        self.out.extend(out.clone());
        out
    }

    /// One second passes; returns what was fired.
    fn tick(&mut self) -> Option<(usize, f64)> {
        self.now += 1.0;
        let mut out = Vec::new();
        self.exam.tick(self.now, &mut out);
        self.out.extend(out.clone());
        out.iter().find_map(|e| match e {
            Effect::Fire { step, intensity_ma } => Some((*step, *intensity_ma)),
            _ => None,
        })
    }

    fn measured(&mut self, step: usize, ma: f64, area: f64) -> Vec<Effect> {
        let m = Measurement {
            seq: self.seq,
            sample_index: 20_000 * (self.seq + 1),
            stimulus_time_s: (self.seq + 1) as f64,
            tag: Some(step as u32),
            intensity_ma: Some(ma),
            channel: 0,
            modality: Modality::Motor,
            response: response(area),
            markers_ms: None,
            averaged_sweeps: 1,
            window_end_sample: 20_000 * (self.seq + 1) + 2000,
        };
        self.seq += 1;
        let mut out = Vec::new();
        self.exam.on_measurement(&m, m.stimulus_time_s, &mut out);
        self.out.extend(out.clone());
        out
    }
}

fn advice(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Show(ExamEvent::Advice { text, .. }) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// Recruitment: area 0 below 10 mA, 20 at 10, 38 at 20, 39 from 30 mA (2.6 % more: the
/// plateau is at 20 mA).
fn area_at(ma: f64) -> f64 {
    match ma {
        x if x < 10.0 => 0.0,
        x if x < 20.0 => 20.0,
        x if x < 30.0 => 38.0,
        _ => 39.0,
    }
}

#[test]
fn a_ramp_finds_the_plateau_and_gives_the_supramaximal_sweeps() {
    let mut r = Run::new("", true);
    r.cmd(Command::Run);
    let mut fired = Vec::new();
    for _ in 0..10 {
        let Some((step, ma)) = r.tick() else { break };
        assert_eq!(step, 0);
        fired.push(ma);
        r.measured(step, ma, area_at(ma));
    }
    // 10, 20, 30 (grew < 5 %: plateau at 20), then sweeps at 20 + 20 % = 24 mA until two
    // are at or above it (the 30-mA sweep is one).
    assert_eq!(fired, vec![10.0, 20.0, 30.0, 24.0], "{:?}", r.out);
    assert!(
        advice(&r.out).contains(&"plateau at 20 mA; give +20 % = 24 mA".to_string()),
        "{:?}",
        advice(&r.out)
    );
    assert_eq!(
        r.exam.phase(0),
        Some(Phase::Complete {
            reason: Completion::Supramaximal {
                supramaximal_ma: 24.0
            }
        })
    );
    // Not auto-advancing: stimulation stops, the examiner is told to move on.
    assert!(!r.exam.running());
    assert!(advice(&r.out).iter().any(|a| a.contains("`next`")));
    assert_eq!(r.tick(), None);
    assert_eq!(r.exam.current(), 0);
}

#[test]
fn auto_advance_moves_through_the_sites_and_ends_the_study() {
    let mut r = Run::new("auto_advance = true", true);
    r.cmd(Command::Run);
    let mut by_step = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..40 {
        let Some((step, ma)) = r.tick() else { break };
        by_step[step].push(ma);
        r.measured(step, ma, area_at(ma) * if step == 1 { 0.3 } else { 1.0 });
    }
    assert_eq!(by_step[0], vec![10.0, 20.0, 30.0, 24.0]);
    assert_eq!(by_step[1], vec![10.0, 20.0, 30.0, 24.0]);
    // The sensory site averages 3 sweeps at its fixed 20 mA.
    assert_eq!(by_step[2], vec![20.0, 20.0, 20.0]);
    assert!(r
        .out
        .iter()
        .any(|e| matches!(e, Effect::Show(ExamEvent::StudyComplete))));
    let advanced: Vec<usize> = r
        .out
        .iter()
        .filter_map(|e| match e {
            Effect::Log(a) if a.action == "advance" => a.step,
            _ => None,
        })
        .collect();
    assert_eq!(advanced, vec![1, 2]);
    assert!(!r.exam.running());
}

#[test]
fn a_ramp_that_never_plateaus_says_possibly_submaximal() {
    let mut r = Run::new("", true);
    r.cmd(Command::Run);
    let mut fired = Vec::new();
    while let Some((_, ma)) = r.tick() {
        fired.push(ma);
        r.measured(0, ma, ma); // grows all the way
    }
    assert_eq!(fired, vec![10.0, 20.0, 30.0, 40.0, 50.0]);
    assert_eq!(
        r.exam.phase(0),
        Some(Phase::Complete {
            reason: Completion::StillGrowing { max_ma: 50.0 }
        })
    );
    assert!(advice(&r.out)
        .iter()
        .any(|a| a.contains("possibly submaximal")));

    let mut r = Run::new("", true);
    r.cmd(Command::Run);
    while let Some((_, ma)) = r.tick() {
        r.measured(0, ma, 0.0);
    }
    assert_eq!(
        r.exam.phase(0),
        Some(Phase::Complete {
            reason: Completion::NoResponse { max_ma: 50.0 }
        })
    );
    assert!(advice(&r.out)
        .iter()
        .any(|a| a.contains("no response up to 50 mA")));
}

#[test]
fn the_next_stimulus_waits_for_the_rate_and_for_the_last_measurement() {
    let mut r = Run::new("rate_hz = 0.5", true);
    r.cmd(Command::Run);
    assert!(r.tick().is_some());
    // Not measured yet, and 1 s < 2 s period.
    assert!(r.tick().is_none());
    r.measured(0, 10.0, 20.0);
    assert!(r.tick().is_some(), "2 s after the first stimulus, measured");
    // Unmeasured for the measurement wait: the ramp goes on.
    assert!(r.tick().is_none());
    assert!(r.tick().is_some());
}

#[test]
fn rejecting_the_last_sweep_reopens_the_ramp_at_that_intensity() {
    let mut r = Run::new("", true);
    r.cmd(Command::Run);
    for _ in 0..3 {
        let (s, ma) = r.tick().unwrap();
        r.measured(s, ma, area_at(ma));
    }
    assert!(matches!(r.exam.phase(0), Some(Phase::Supramaximal { .. })));
    let effects = r.cmd(Command::Reject);
    let req = effects
        .iter()
        .find_map(|e| match e {
            Effect::Reject(q) => Some(*q),
            _ => None,
        })
        .expect("a rejection for the processing thread");
    assert_eq!((req.seq, req.tag), (2, Some(0)));
    let mut out = Vec::new();
    r.exam.on_rejection(
        &Rejection {
            seq: 2,
            sample_index: req.sample_index,
            stimulus_time_s: 3.0,
            outcome: RejectOutcome::Rejected,
        },
        3.5,
        &mut out,
    );
    // Without the 30-mA sweep the response is still growing: back to 30 mA.
    assert_eq!(r.exam.phase(0), Some(Phase::Ramp { next_ma: 30.0 }));
    assert!(out
        .iter()
        .any(|e| matches!(e, Effect::Log(a) if a.action == "reject"
        && a.stimulus_time_s == Some(3.0) && a.text == "rejected")));
    // The next reject is the sweep before it.
    let effects = r.cmd(Command::Reject);
    assert!(effects
        .iter()
        .any(|e| matches!(e, Effect::Reject(q) if q.seq == 1)));
}

#[test]
fn a_refused_rejection_keeps_the_sweep() {
    let mut r = Run::new("", true);
    r.cmd(Command::Run);
    let (s, ma) = r.tick().unwrap();
    r.measured(s, ma, area_at(ma));
    r.cmd(Command::Reject);
    let mut out = Vec::new();
    r.exam.on_rejection(
        &Rejection {
            seq: 0,
            sample_index: 20_000,
            stimulus_time_s: 1.0,
            outcome: RejectOutcome::NotLastInAverage,
        },
        1.5,
        &mut out,
    );
    assert_eq!(r.exam.status().steps[0].sweeps, 1);
    assert!(out.iter().any(|e| matches!(
        e,
        Effect::Show(ExamEvent::Rejected {
            outcome: RejectOutcome::NotLastInAverage,
            ..
        })
    )));
    // It can be asked again.
    assert!(r
        .cmd(Command::Reject)
        .iter()
        .any(|e| matches!(e, Effect::Reject(q) if q.seq == 0)));
}

#[test]
fn a_sweep_over_lost_data_does_not_move_the_ramp() {
    let mut r = Run::new("", true);
    r.cmd(Command::Run);
    let (s, ma) = r.tick().unwrap();
    let m = Measurement {
        seq: 0,
        sample_index: 20_000,
        stimulus_time_s: 1.0,
        tag: Some(s as u32),
        intensity_ma: Some(ma),
        channel: 0,
        modality: Modality::Motor,
        response: Response {
            flags: [Flag::DataGap].into_iter().collect(),
            ..Response::default()
        },
        markers_ms: None,
        averaged_sweeps: 0,
        window_end_sample: 22_000,
    };
    let mut out = Vec::new();
    r.exam.on_measurement(&m, 1.0, &mut out);
    assert_eq!(r.exam.phase(0), Some(Phase::Ramp { next_ma: 10.0 }));
    assert_eq!(r.tick(), Some((0, 10.0)));
}

#[test]
fn steps_distances_notes_and_intensities_are_logged_with_their_time() {
    let mut r = Run::new("", false);
    let e = r.cmd(Command::Next);
    assert!(e.contains(&Effect::SetStep(1)));
    assert!(e
        .iter()
        .any(|x| matches!(x, Effect::Log(a) if a.action == "next" && a.step == Some(1))));
    let e = r.cmd(Command::Distance {
        mm: 285.0,
        step: None,
    });
    assert!(e.contains(&Effect::Distance {
        step: 1,
        distance_mm: 285.0
    }));
    assert_eq!(r.exam.steps()[1].distance_mm, 285.0);
    let e = r.cmd(Command::Note {
        text: "cold hand, warmed".into(),
    });
    assert!(e.iter().any(
        |x| matches!(x, Effect::Log(a) if a.action == "note" && a.text == "cold hand, warmed")
    ));
    let e = r.cmd(Command::Intensity { ma: 25.0 });
    assert!(e.contains(&Effect::SetManualIntensity(Some(25.0))));
    assert_eq!(r.exam.status().manual_intensity_ma, Some(25.0));
    let e = r.cmd(Command::Goto { step: 0 });
    assert!(e.contains(&Effect::SetStep(0)));
    let e = r.cmd(Command::Quit);
    assert!(e.contains(&Effect::Quit));
}

#[test]
fn what_cannot_be_done_is_refused_with_the_reason() {
    let refused = |e: &[Effect]| -> Option<String> {
        e.iter().find_map(|x| match x {
            Effect::Show(ExamEvent::Refused { reason, .. }) => Some(reason.clone()),
            _ => None,
        })
    };
    // An external stimulator: ncs cannot fire it.
    let mut r = Run::new("", false);
    assert!(refused(&r.cmd(Command::Run)).unwrap().contains("external"));
    assert!(refused(&r.cmd(Command::Fire)).unwrap().contains("external"));
    assert!(refused(&r.cmd(Command::Previous))
        .unwrap()
        .contains("no step before"));
    assert!(refused(&r.cmd(Command::Goto { step: 9 }))
        .unwrap()
        .contains("steps 0 to 2, got 9"));
    assert!(refused(&r.cmd(Command::Reject))
        .unwrap()
        .contains("no sweep"));
    assert!(refused(&r.cmd(Command::Distance {
        mm: -3.0,
        step: None
    }))
    .unwrap()
    .contains("between 0 and 2000"));
    assert!(refused(&r.cmd(Command::Intensity { ma: 250.0 }))
        .unwrap()
        .contains("between 0 and 100"));
    let mut r = Run::new("", true);
    assert!(refused(&r.cmd(Command::Repeat))
        .unwrap()
        .contains("nothing to repeat"));
    // After a stimulus, repeat fires the same intensity again.
    r.cmd(Command::Fire);
    r.measured(0, 10.0, 20.0);
    let e = r.cmd(Command::Repeat);
    assert!(e.contains(&Effect::Fire {
        step: 0,
        intensity_ma: 10.0
    }));
}

#[test]
fn a_manual_plan_advises_from_the_examiners_intensities() {
    let mut r = Run::new("", false);
    // Manual plan on an external stimulator: the examiner's intensities drive the advice.
    let s = study("");
    let mut st = steps(&s);
    for x in &mut st {
        x.intensity = ncs_block::IntensityPlan::Manual(ncs_block::study::ManualIntensity::Manual);
    }
    r.exam = Exam::new(st, s.stimulation, false);
    for ma in [10.0, 20.0, 30.0] {
        r.cmd(Command::Intensity { ma });
        r.measured(0, ma, area_at(ma));
    }
    assert!(advice(&r.out).contains(&"plateau at 20 mA; give +20 % = 24 mA".to_string()));
    r.measured(0, 25.0, 39.0);
    assert!(matches!(
        r.exam.phase(0),
        Some(Phase::Complete {
            reason: Completion::Supramaximal { .. }
        })
    ));
}
