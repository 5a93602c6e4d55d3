//! The JSON contract used by `ncs analyze --format json`.

use crate::common::segment;
use ncs_block::patient::ClinicalFindings;
use ncs_block::{BlockDetector, CriteriaSet, NormalValues};

const SEGMENT_FIELDS: [&str; 14] = [
    "nerve",
    "side",
    "from_site",
    "to_site",
    "distance_mm",
    "conduction_velocity_m_s",
    "amplitude_reduction_pct",
    "area_reduction_pct",
    "duration_increase_pct",
    "block",
    "entrapment_site",
    "counts_for_mmn",
    "criteria",
    "reasons",
];

#[test]
fn segment_json_field_names() {
    let v = segment(
        "efns-pns-2010-mmn",
        "median",
        ("wrist", 70.0),
        ("elbow", 290.0),
        60.0,
        10.0,
        5.0,
    );
    let j = serde_json::to_value(&v).expect("json");
    for f in SEGMENT_FIELDS {
        assert!(j.get(f).is_some(), "missing {f}: {j}");
    }
    assert_eq!(j["block"], "definite");
    assert_eq!(j["criteria"], "efns-pns-2010-mmn");
    assert!(j["reasons"]
        .as_array()
        .is_some_and(|r| r.iter().all(|x| x.is_string())));
    let back: ncs_block::SegmentVerdict = serde_json::from_value(j).expect("round trip");
    assert_eq!(back, v);
    // Grades and null measures.
    let none = segment(
        "efns-pns-2010-mmn",
        "median",
        ("wrist", 70.0),
        ("elbow", 290.0),
        5.0,
        0.0,
        5.0,
    );
    assert_eq!(serde_json::to_value(&none).expect("json")["block"], "none");
    let na = segment(
        "aan-1991-cidp",
        "median",
        ("elbow", 290.0),
        ("axilla", 450.0),
        60.0,
        0.0,
        5.0,
    );
    let j = serde_json::to_value(&na).expect("json");
    assert_eq!(j["block"], "not_assessable");
}

#[test]
fn patient_json_carries_decision_support() {
    let det = BlockDetector::new(None, CriteriaSet::default(), NormalValues::default())
        .expect("detector");
    let j = serde_json::to_value(det.patient(&ClinicalFindings::default())).expect("json");
    assert!(j["decision_support"]
        .as_str()
        .is_some_and(|s| s.contains("clinician")));
    assert_eq!(j["efns_pns_2010"]["category"], "not_met");
    assert_eq!(j["aaem_2003"]["definite_cb_count"], 0);
    assert!(j["aaem_2003"]["criteria"].is_array());
    assert_eq!(j["differential"].as_array().map(|a| a.len()), Some(5));
}
