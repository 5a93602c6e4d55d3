//! The supramaximal choice and how it travels into the segment verdict.

use crate::common::{absent, motor, obs, plateaued, resp, says};
use ncs_block::detector::SiteVerdict;
use ncs_block::{
    BlockDetector, CriteriaSet, DetectorOptions, Grade, Modality, NormalValues, NullSink,
    Observation, SubmaximalPolicy,
};
use ncs_cmap::Flag;

fn site_of(det: &BlockDetector, site: &str) -> SiteVerdict {
    det.sites()
        .into_iter()
        .find(|s| s.site == site)
        .expect("site exists")
}

fn run(obs: Vec<Observation>, options: DetectorOptions) -> BlockDetector {
    let mut det = BlockDetector::with_options(
        None,
        CriteriaSet::default(),
        NormalValues::default(),
        options,
    )
    .expect("detector");
    det.push_all(obs, &mut NullSink).expect("push");
    det
}

fn area(a: f64) -> ncs_cmap::Response {
    resp(a / 7.0, a, 6.0, 3.0)
}

#[test]
fn plateau_picks_the_largest_step() {
    // 10, 18, 18.5 mV·ms: the last step grew 2.8 % < 5 % → supramaximal.
    let o = vec![
        motor("median", "wrist", 70.0, 10.0, 0.0, area(10.0)),
        motor("median", "wrist", 70.0, 20.0, 1.0, area(18.0)),
        motor("median", "wrist", 70.0, 30.0, 2.0, area(18.5)),
    ];
    let det = run(o, DetectorOptions::default());
    let s = site_of(&det, "wrist");
    assert_eq!(s.selection.selected, Some(2));
    assert!(!s.selection.possibly_submaximal);
    assert_eq!(s.selection.steps, 3);
    assert_eq!(det.selected_stimulus("Median", "R", "WR"), Some(2.0));
    assert!(det.is_selected(2) && !det.is_selected(1));
}

#[test]
fn growth_just_above_and_below_the_plateau_rule() {
    for (last, submax) in [(10.49, false), (10.51, true)] {
        let o = vec![
            motor("median", "wrist", 70.0, 20.0, 0.0, area(10.0)),
            motor("median", "wrist", 70.0, 30.0, 1.0, area(last)),
        ];
        let det = run(o, DetectorOptions::default());
        assert_eq!(
            site_of(&det, "wrist").selection.possibly_submaximal,
            submax,
            "{last}"
        );
    }
}

#[test]
fn repeated_sweeps_use_the_median_and_the_medoid_sweep() {
    // Three sweeps at 30 mA: 18, 25 (outlier), 18.4 → median 18.4; the 20 mA step is 18.0,
    // so the last step grew 2.2 % → plateau; the selected sweep is the 18.4 one.
    let o = vec![
        motor("median", "wrist", 70.0, 20.0, 0.0, area(18.0)),
        motor("median", "wrist", 70.0, 30.0, 1.0, area(18.0)),
        motor("median", "wrist", 70.0, 30.0, 2.0, area(25.0)),
        motor("median", "wrist", 70.0, 30.0, 3.0, area(18.4)),
    ];
    let det = run(o, DetectorOptions::default());
    let s = site_of(&det, "wrist");
    assert!(!s.selection.possibly_submaximal, "{:#?}", s.selection);
    assert_eq!(s.selection.selected, Some(3));
}

#[test]
fn data_gap_sweep_is_never_used() {
    let mut gap = area(40.0);
    gap.flags.insert(Flag::DataGap);
    let o = vec![
        motor("median", "wrist", 70.0, 20.0, 0.0, area(18.0)),
        motor("median", "wrist", 70.0, 30.0, 1.0, area(18.2)),
        motor("median", "wrist", 70.0, 40.0, 2.0, gap),
    ];
    let det = run(o, DetectorOptions::default());
    let s = site_of(&det, "wrist");
    assert_eq!(s.selection.selected, Some(1));
    assert_eq!(s.selection.data_gap_sweeps, 1);
    assert!(!s.selection.possibly_submaximal);
}

#[test]
fn submaximal_proximal_downgrades_a_definite_block() {
    let mut o = plateaued("median", "wrist", 70.0, 0.0, resp(5.0, 35.0, 6.0, 3.0));
    // Proximal still growing 50 % at the last step.
    o.push(motor(
        "median",
        "elbow",
        290.0,
        20.0,
        10.0,
        resp(1.0, 7.0, 6.0, 7.0),
    ));
    o.push(motor(
        "median",
        "elbow",
        290.0,
        30.0,
        11.0,
        resp(1.5, 10.5, 6.0, 7.0),
    ));
    let det = run(o.clone(), DetectorOptions::default());
    let v = &det.segments()[0];
    assert_eq!(v.block, Grade::Probable, "{:#?}", v.reasons);
    assert!(v.flags.iter().any(|f| f == "possibly_submaximal_proximal"));
    assert!(v.flags.iter().any(|f| f == "downgraded_submaximal"));
    assert!(
        says(v, "definite downgraded to probable"),
        "{:#?}",
        v.reasons
    );
    // MarkOnly keeps the grade but still says so.
    let det = run(
        o,
        DetectorOptions {
            submaximal_policy: SubmaximalPolicy::MarkOnly,
            ..DetectorOptions::default()
        },
    );
    let v = &det.segments()[0];
    assert_eq!(v.block, Grade::Definite);
    assert!(says(v, "possibly submaximal"), "{:#?}", v.reasons);
}

#[test]
fn single_sweep_without_intensity_is_possibly_submaximal() {
    let o = vec![obs(
        "median",
        "right",
        Modality::Motor,
        0,
        "wrist",
        Some(70.0),
        None,
        0.0,
        area(30.0),
    )];
    let det = run(o, DetectorOptions::default());
    let s = site_of(&det, "wrist");
    assert!(s.selection.possibly_submaximal);
    assert_eq!(s.selection.selected, Some(0));
}

#[test]
fn saturated_selected_response_is_a_lower_bound() {
    let mut sat = resp(5.0, 35.0, 6.0, 3.0);
    sat.flags.insert(Flag::Saturated);
    let mut o = vec![
        motor("median", "wrist", 70.0, 25.0, 0.0, sat),
        motor("median", "wrist", 70.0, 35.0, 1.0, sat),
    ];
    o.extend(plateaued(
        "median",
        "elbow",
        290.0,
        10.0,
        resp(1.0, 7.0, 6.0, 7.0),
    ));
    let det = run(o, DetectorOptions::default());
    let v = &det.segments()[0];
    assert!(v.flags.iter().any(|f| f == "saturated_distal"));
    assert!(says(v, "lower bounds"), "{:#?}", v.reasons);
}

#[test]
fn bad_plateau_option_is_an_error() {
    let e = BlockDetector::with_options(
        None,
        CriteriaSet::default(),
        NormalValues::default(),
        DetectorOptions {
            plateau_growth: 0.0,
            ..DetectorOptions::default()
        },
    )
    .expect_err("0 is out of range");
    assert!(e.to_string().contains("got 0"), "{e}");
}

/// Sensory rows of the right median nerve at the wrist, one a second, each a running average:
/// `(intensity mA, sweeps in the average, negative-peak µV or None for no response)`.
fn running_averages(rows: &[(f64, usize, Option<f64>)]) -> Vec<Observation> {
    let snap = |uv: f64| resp(uv * 1e-3, uv * 1e-3 * 0.5, 1.0, 2.5);
    rows.iter()
        .enumerate()
        .map(|(k, &(ma, n, uv))| {
            let mut x = obs(
                "median",
                "right",
                Modality::Sensory,
                3,
                "wrist",
                Some(140.0),
                Some(ma),
                k as f64,
                uv.map_or_else(absent, snap),
            );
            x.averaged_sweeps = n;
            x
        })
        .collect()
}

#[test]
fn running_averages_are_sized_by_their_fullest_one() {
    // Sensory rows are running averages over a step's sweeps: 1, 2, 3 sweeps at 10 mA, then 1
    // and 2 at 15 mA. The early averages are noisier parts of the last: each step is sized by
    // its fullest average, and that average is the one selected. By the median of the rows,
    // the single-sweep overshoot at 15 mA (30 µV) would have made the 15 mA step grow by 24 %
    // (no plateau), and the overshoot itself could have been picked.
    let o = running_averages(&[
        (10.0, 1, Some(14.0)),
        (10.0, 2, Some(17.0)),
        (10.0, 3, Some(20.0)),
        (15.0, 1, Some(30.0)),
        (15.0, 2, Some(19.8)),
    ]);
    let det = run(o, DetectorOptions::default());
    let s = site_of(&det, "wrist");
    assert_eq!(s.selection.steps, 2);
    // 20 µV at 10 mA, 19.8 µV at 15 mA: no growth, a plateau; of running averages the highest
    // step with a response is kept, by its fullest average.
    assert_eq!(s.selection.selected, Some(4));
    assert!(!s.selection.possibly_submaximal);
}

#[test]
fn of_running_averages_the_highest_step_with_a_response_is_kept() {
    // A ramp of short averages (4 sweeps: noisy, their peaks biased up by the noise) and a long
    // one at the supramaximal intensity: the long one is kept even though a short one at a
    // lower intensity came out larger. A step above it without a response is passed over.
    let rows: Vec<(f64, usize, Option<f64>)> = [(5.0, 4, 9.0), (10.0, 4, 16.5), (12.0, 64, 14.9)]
        .into_iter()
        .flat_map(|(ma, n, uv)| {
            (1..=n).map(move |k| (ma, k, Some(uv * (0.9 + 0.1 * k as f64 / n as f64))))
        })
        .chain((1..=4).map(|k| (15.0, k, None)))
        .collect();
    let det = run(running_averages(&rows), DetectorOptions::default());
    let s = site_of(&det, "wrist");
    assert_eq!(s.selection.steps, 4);
    assert!(s.selection.present);
    // The 64-sweep average at 12 mA (the last of its step), not the 16.5 µV one at 10 mA.
    assert_eq!(s.selection.selected, Some(4 + 4 + 63));
}

#[test]
fn a_cut_short_sweep_without_a_response_is_never_used() {
    // The last, strongest step holds only a sweep cut short by the end of the record in which
    // nothing was found: no evidence of absence, so the site keeps its real response.
    let mut cut = absent();
    cut.flags.insert(Flag::WindowTruncated);
    let mut o = vec![
        motor("median", "wrist", 70.0, 20.0, 0.0, area(18.0)),
        motor("median", "wrist", 70.0, 30.0, 1.0, area(18.2)),
    ];
    o.push(motor("median", "wrist", 70.0, 40.0, 2.0, cut));
    let det = run(o, DetectorOptions::default());
    let s = site_of(&det, "wrist");
    assert!(s.selection.present);
    assert_eq!(s.selection.selected, Some(1));
    assert_eq!(s.selection.data_gap_sweeps, 1);
}
