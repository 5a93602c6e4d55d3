//! The worked example, dispersion, focal slowing, entrapment and absent responses.

use crate::common::{absent, close, motor, plateaued, resp, says, segment};
use ncs_block::{
    BlockDetector, CriteriaSet, Grade, Modality, NerveProtocol, NormalValues, NullSink,
    SiteProtocol, Study,
};

fn median_study() -> Study {
    Study {
        name: "worked example".into(),
        nerves: vec![NerveProtocol {
            name: "median".into(),
            side: "right".into(),
            modality: Modality::Motor,
            recording: "APB".into(),
            channel: 0,
            sites: [("wrist", 70.0), ("elbow", 290.0), ("upper arm", 380.0)]
                .iter()
                .map(|(n, d)| SiteProtocol {
                    name: (*n).into(),
                    distance_mm: *d,
                    intensity: None,
                    sweeps: None,
                })
                .collect(),
            intensity: None,
            sweeps: None,
        }],
        stimulation: Default::default(),
    }
}

#[test]
fn worked_median_example() {
    // clinical.md §3: wrist 5.7 mV / 41.5 mV·ms, elbow 1.2 / 8.2, upper arm 1.0 / 7.4.
    let mut det = BlockDetector::new(
        Some(median_study()),
        CriteriaSet::default(),
        NormalValues::default_adult(),
    )
    .expect("detector");
    let mut all = plateaued("median", "wrist", 70.0, 0.0, resp(5.7, 41.5, 6.0, 3.6));
    all.extend(plateaued(
        "median",
        "elbow",
        290.0,
        10.0,
        resp(1.2, 8.2, 6.4, 7.6),
    ));
    all.extend(plateaued(
        "median",
        "Upper Arm",
        380.0,
        20.0,
        resp(1.0, 7.4, 6.5, 9.2),
    ));
    det.push_all(all, &mut NullSink).expect("push");
    let s = det.segments();
    assert_eq!(s.len(), 2);
    let (fore, arm) = (&s[0], &s[1]);
    assert_eq!(
        (fore.from_site.as_str(), fore.to_site.as_str()),
        ("wrist", "elbow")
    );
    assert!(close(fore.amplitude_reduction_pct, 78.9, 0.1), "{fore:#?}");
    assert!(close(fore.area_reduction_pct, 80.2, 0.1), "{fore:#?}");
    assert!(close(fore.conduction_velocity_m_s, 220.0 / 4.0, 1e-9));
    assert_eq!(fore.block, Grade::Definite, "{:#?}", fore.reasons);
    assert!(fore.counts_for_mmn && !fore.entrapment_site);
    assert_eq!(
        (arm.from_site.as_str(), arm.to_site.as_str()),
        ("elbow", "upper_arm")
    );
    assert!(close(arm.area_reduction_pct, 9.76, 0.01), "{arm:#?}");
    assert_eq!(arm.block, Grade::NoBlock, "{:#?}", arm.reasons);
    assert!(!arm.counts_for_mmn);
}

#[test]
fn dispersion_without_block() {
    // area −20 %, amplitude −48 %, duration +47 % → no block, dispersion named.
    let d = resp(5.0, 35.0, 6.0, 3.0);
    let p = resp(5.0 * 0.52, 35.0 * 0.80, 6.0 * 1.47, 7.0);
    let mut det = BlockDetector::new(None, CriteriaSet::default(), NormalValues::default())
        .expect("detector");
    let mut all = plateaued("median", "wrist", 70.0, 0.0, d);
    all.extend(plateaued("median", "elbow", 290.0, 10.0, p));
    det.push_all(all, &mut NullSink).expect("push");
    let v = &det.segments()[0];
    assert!(close(v.amplitude_reduction_pct, 48.0, 1e-6));
    assert!(close(v.area_reduction_pct, 20.0, 1e-6));
    assert!(close(v.duration_increase_pct, 47.0, 1e-6));
    assert_eq!(v.block, Grade::NoBlock, "{:#?}", v.reasons);
    assert!(v.dispersion);
    assert!(says(v, "temporal dispersion"), "{:#?}", v.reasons);
    assert!(says(v, "dispersion without block"), "{:#?}", v.reasons);
}

#[test]
fn block_with_dispersion_is_probable() {
    let v = segment(
        "efns-pns-2010-mmn",
        "median",
        ("wrist", 70.0),
        ("elbow", 290.0),
        70.0,
        60.0,
        5.0,
    );
    assert_eq!(v.block, Grade::Probable, "{:#?}", v.reasons);
    assert!(v.dispersion);
    assert!(
        says(&v, "probable CB (with duration increase)"),
        "{:#?}",
        v.reasons
    );
}

#[test]
fn ulnar_slowing_across_elbow_without_block() {
    // BE 5.0 mV / 21.8 mV·ms, AE 4.8 / 21.5, 35 m/s over 110 mm.
    let be = resp(5.0, 21.8, 6.0, 7.0);
    let ae = resp(4.8, 21.5, 6.1, 7.0 + 110.0 / 35.0);
    let mut det = BlockDetector::new(None, CriteriaSet::default(), NormalValues::default())
        .expect("detector");
    let mut all = plateaued("ulnar", "below elbow", 280.0, 0.0, be);
    all.extend(plateaued("ulnar", "above elbow", 390.0, 10.0, ae));
    det.push_all(all, &mut NullSink).expect("push");
    let v = &det.segments()[0];
    assert!(close(v.conduction_velocity_m_s, 35.0, 1e-9), "{v:#?}");
    assert!(close(v.distance_mm, 110.0, 1e-9));
    assert_eq!(v.block, Grade::NoBlock, "{:#?}", v.reasons);
    assert!(v.focal_slowing);
    assert!(
        says(
            v,
            "focal slowing: conduction velocity 35.0 m/s over 110 mm < lower limit 49 m/s"
        ),
        "{:#?}",
        v.reasons
    );
    assert!(v.entrapment_site, "the elbow is an ulnar entrapment site");
    assert!(!v.counts_for_mmn);
}

#[test]
fn entrapment_segment_graded_but_not_counted() {
    let v = segment(
        "efns-pns-2010-mmn",
        "ulnar",
        ("below elbow", 280.0),
        ("above elbow", 390.0),
        60.0,
        10.0,
        5.0,
    );
    assert_eq!(v.block, Grade::Definite, "{:#?}", v.reasons);
    assert!(v.entrapment_site);
    assert_eq!(v.entrapment_name.as_deref(), Some("ulnar across the elbow"));
    assert!(!v.counts_for_mmn);
    assert!(says(&v, "never counted towards MMN"), "{:#?}", v.reasons);
    let v = segment(
        "efns-pns-2010-mmn",
        "fibular",
        ("below fibular head", 390.0),
        ("knee", 490.0),
        60.0,
        10.0,
        5.0,
    );
    assert_eq!(v.nerve, "peroneal");
    assert_eq!(v.to_site, "popliteal_fossa");
    assert_eq!(v.block, Grade::Definite);
    assert!(v.entrapment_site && !v.counts_for_mmn);
    // The same drop in the ulnar forearm counts.
    let v = segment(
        "efns-pns-2010-mmn",
        "ulnar",
        ("wrist", 70.0),
        ("below elbow", 280.0),
        60.0,
        10.0,
        5.0,
    );
    assert!(!v.entrapment_site && v.counts_for_mmn);
}

#[test]
fn absent_proximal_response_is_not_assessable() {
    let mut det = BlockDetector::new(None, CriteriaSet::default(), NormalValues::default())
        .expect("detector");
    let mut all = plateaued("median", "wrist", 70.0, 0.0, resp(5.7, 41.5, 6.0, 3.6));
    all.push(motor("median", "axilla", 450.0, 40.0, 10.0, absent()));
    all.push(motor("median", "axilla", 450.0, 60.0, 11.0, absent()));
    det.push_all(all, &mut NullSink).expect("push");
    let v = &det.segments()[0];
    assert_eq!(v.block, Grade::NotAssessable);
    assert_eq!(v.amplitude_reduction_pct, Some(100.0));
    assert_eq!(v.area_reduction_pct, Some(100.0));
    assert!(
        says(v, "possible complete block or technical failure"),
        "{:#?}",
        v.reasons
    );
    assert!(v.flags.iter().any(|f| f == "no_proximal_response"));
    // The selected absent sweep is the one at the highest intensity.
    assert_eq!(det.selected_index("median", "right", "axilla"), Some(3));
}

#[test]
fn absent_distal_response_is_not_assessable() {
    let mut det = BlockDetector::new(None, CriteriaSet::default(), NormalValues::default())
        .expect("detector");
    let mut all = vec![motor("median", "wrist", 70.0, 50.0, 0.0, absent())];
    all.extend(plateaued(
        "median",
        "elbow",
        290.0,
        10.0,
        resp(1.0, 7.0, 6.0, 7.0),
    ));
    det.push_all(all, &mut NullSink).expect("push");
    let v = &det.segments()[0];
    assert_eq!(v.block, Grade::NotAssessable);
    assert_eq!(v.amplitude_reduction_pct, None);
    assert!(
        says(v, "no response at distal site wrist"),
        "{:#?}",
        v.reasons
    );
}

#[test]
fn missing_area_is_not_assessable_for_an_area_rule() {
    let mut d = resp(5.0, 35.0, 6.0, 3.0);
    let mut p = resp(2.0, 14.0, 6.0, 7.0);
    d.measures.negative_peak_area_mv_ms = None;
    p.measures.negative_peak_area_mv_ms = None;
    let mut det = BlockDetector::new(None, CriteriaSet::default(), NormalValues::default())
        .expect("detector");
    let mut all = plateaued("median", "wrist", 70.0, 0.0, d);
    all.extend(plateaued("median", "elbow", 290.0, 10.0, p));
    det.push_all(all, &mut NullSink).expect("push");
    let v = &det.segments()[0];
    assert_eq!(v.block, Grade::NotAssessable, "{:#?}", v.reasons);
    assert!(says(v, "missing (cannot check)"), "{:#?}", v.reasons);
}
