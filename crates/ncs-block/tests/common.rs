//! Helpers that build observations and single segments.
#![allow(dead_code)]

use ncs_block::{
    BlockDetector, CriteriaSet, Modality, NormalValues, NullSink, Observation, SegmentVerdict,
};
use ncs_cmap::{Measures, Response};

/// A present response: negative-peak amplitude, area, negative-peak duration, onset.
pub fn resp(amp: f64, area: f64, dur: f64, onset: f64) -> Response {
    Response {
        present: true,
        measures: Measures {
            onset_latency_ms: Some(onset),
            negative_peak_latency_ms: Some(onset + dur / 2.0),
            negative_peak_amplitude_mv: Some(amp),
            peak_to_peak_amplitude_mv: Some(amp * 1.6),
            negative_peak_area_mv_ms: Some(area),
            negative_peak_duration_ms: Some(dur),
            total_duration_ms: Some(dur * 2.0),
        },
        flags: Default::default(),
        baseline_noise_rms_mv: 0.01,
        baseline_mv: 0.0,
    }
}

/// No response.
pub fn absent() -> Response {
    Response {
        present: false,
        ..Response::default()
    }
}

/// An observation with every field given.
#[allow(clippy::too_many_arguments)]
pub fn obs(
    nerve: &str,
    side: &str,
    modality: Modality,
    channel: usize,
    site: &str,
    distance_mm: Option<f64>,
    intensity_ma: Option<f64>,
    t: f64,
    response: Response,
) -> Observation {
    Observation {
        stimulus_time_s: t,
        nerve: nerve.into(),
        side: side.into(),
        site: site.into(),
        modality,
        distance_mm,
        channel,
        intensity_ma,
        response,
        averaged_sweeps: 1,
    }
}

/// Motor observation on channel 0, right side.
pub fn motor(nerve: &str, site: &str, dist: f64, ma: f64, t: f64, r: Response) -> Observation {
    obs(
        nerve,
        "right",
        Modality::Motor,
        0,
        site,
        Some(dist),
        Some(ma),
        t,
        r,
    )
}

/// Two plateaued intensity steps (identical responses at 25 and 35 mA) at one site.
pub fn plateaued(nerve: &str, site: &str, dist: f64, t0: f64, r: Response) -> Vec<Observation> {
    vec![
        motor(nerve, site, dist, 25.0, t0, r),
        motor(nerve, site, dist, 35.0, t0 + 1.0, r),
    ]
}

/// The detector's verdict on one segment built from a reduction (applied to amplitude, area
/// and peak-to-peak alike), a duration increase and a distal amplitude.
pub fn segment(
    criteria: &str,
    nerve: &str,
    distal: (&str, f64),
    proximal: (&str, f64),
    reduction_pct: f64,
    duration_increase_pct: f64,
    distal_amp_mv: f64,
) -> SegmentVerdict {
    let f = 1.0 - reduction_pct / 100.0;
    let d = resp(distal_amp_mv, distal_amp_mv * 7.0, 6.0, 3.0);
    let p = resp(
        distal_amp_mv * f,
        distal_amp_mv * 7.0 * f,
        6.0 * (1.0 + duration_increase_pct / 100.0),
        3.0 + (proximal.1 - distal.1) / 55.0,
    );
    let mut det = BlockDetector::new(
        None,
        CriteriaSet::by_name(criteria).expect("built-in set"),
        NormalValues::default_adult(),
    )
    .expect("detector");
    let mut all = plateaued(nerve, distal.0, distal.1, 0.0, d);
    all.extend(plateaued(nerve, proximal.0, proximal.1, 10.0, p));
    det.push_all(all, &mut NullSink).expect("push");
    let segs = det.segments();
    assert_eq!(segs.len(), 1, "one segment expected: {segs:#?}");
    segs.into_iter().next().expect("one segment")
}

/// Whether any reason contains `needle`.
pub fn says(v: &SegmentVerdict, needle: &str) -> bool {
    v.reasons.iter().any(|r| r.contains(needle))
}

/// `a` is within `tol` of `b`.
pub fn close(a: Option<f64>, b: f64, tol: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() <= tol)
}

/// Path of a file under the crate directory.
pub fn crate_file(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}
