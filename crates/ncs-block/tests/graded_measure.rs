//! Which measure each criteria set grades on (`clinical.md` §2): the reductions of
//! negative-peak area, negative-peak amplitude and peak-to-peak amplitude are set apart so a
//! set reading the wrong one fails.

use crate::common::{plateaued, resp, says, segment};
use ncs_block::{BlockDetector, CriteriaSet, Grade, NormalValues, NullSink, SegmentVerdict};

const MMN: &str = "efns-pns-2010-mmn";
const AAN: &str = "aan-1991-cidp";
const CIDP: &str = "efns-pns-2010-cidp";

/// Median wrist (5 mV, 35 mV·ms, p2p 8 mV) → elbow with separate reductions (%) of area,
/// negative-peak amplitude and peak-to-peak amplitude; duration unchanged.
fn forearm(set: &str, area: f64, amp: f64, p2p: f64) -> SegmentVerdict {
    let d = resp(5.0, 35.0, 6.0, 3.0);
    let mut p = resp(
        5.0 * (1.0 - amp / 100.0),
        35.0 * (1.0 - area / 100.0),
        6.0,
        7.0,
    );
    p.measures.peak_to_peak_amplitude_mv = Some(8.0 * (1.0 - p2p / 100.0));
    let mut o = plateaued("median", "wrist", 70.0, 0.0, d);
    for x in &mut o {
        x.response.measures.peak_to_peak_amplitude_mv = Some(8.0);
    }
    o.extend(plateaued("median", "elbow", 290.0, 10.0, p));
    let mut det = BlockDetector::new(
        None,
        CriteriaSet::by_name(set).expect("set"),
        NormalValues::default_adult(),
    )
    .expect("detector");
    det.push_all(o, &mut NullSink).expect("push");
    let segs = det.segments();
    assert_eq!(segs.len(), 1, "{segs:#?}");
    let v = segs.into_iter().next().expect("segment");
    // The three reductions are what the test asked for.
    for (got, want) in [
        (v.area_reduction_pct, area),
        (v.amplitude_reduction_pct, amp),
        (v.peak_to_peak_reduction_pct, p2p),
    ] {
        assert!(
            got.is_some_and(|g| (g - want).abs() < 1e-9),
            "{got:?} != {want}"
        );
    }
    v
}

#[test]
fn mmn_grades_on_negative_peak_area_only() {
    let v = forearm(MMN, 60.0, 10.0, 10.0);
    assert_eq!(v.block, Grade::Definite, "{:#?}", v.reasons);
    assert!(
        says(&v, "negative-peak area reduction 60.0 % ≥ 50 % (met)"),
        "{:#?}",
        v.reasons
    );
    let v = forearm(MMN, 10.0, 60.0, 60.0);
    assert_eq!(v.block, Grade::NoBlock, "{:#?}", v.reasons);
    assert!(
        says(&v, "negative-peak area reduction 10.0 % ≥ 50 % (failed)"),
        "{:#?}",
        v.reasons
    );
}

#[test]
fn aan_takes_area_or_peak_to_peak() {
    // Peak-to-peak alone (area and negative-peak amplitude −10 %).
    let v = forearm(AAN, 10.0, 10.0, 25.0);
    assert_eq!(v.block, Grade::Definite, "{:#?}", v.reasons);
    assert!(
        says(&v, "partial conduction block: area or peak-to-peak amplitude reduction 25.0 % > 20 % (met)"),
        "{:#?}",
        v.reasons
    );
    // Area alone.
    let v = forearm(AAN, 25.0, 10.0, 10.0);
    assert_eq!(v.block, Grade::Definite, "{:#?}", v.reasons);
    // Negative-peak amplitude is not one of its measures.
    let v = forearm(AAN, 10.0, 60.0, 10.0);
    assert_eq!(v.block, Grade::NoBlock, "{:#?}", v.reasons);
    assert!(says(&v, "10.0 % > 20 % (failed)"), "{:#?}", v.reasons);
}

#[test]
fn efns_cidp_grades_on_negative_peak_amplitude() {
    let v = forearm(CIDP, 10.0, 55.0, 10.0);
    assert_eq!(v.block, Grade::Definite, "{:#?}", v.reasons);
    assert!(
        says(&v, "negative-peak amplitude reduction 55.0 % ≥ 50 % (met)"),
        "{:#?}",
        v.reasons
    );
    let v = forearm(CIDP, 55.0, 10.0, 55.0);
    assert_eq!(v.block, Grade::NoBlock, "{:#?}", v.reasons);
}

#[test]
fn short_upper_limb_segment_is_not_probable_under_mmn() {
    // Median elbow → upper arm (not an entrapment site, not a long segment): −40 % area.
    let v = segment(
        MMN,
        "median",
        ("elbow", 290.0),
        ("upper arm", 380.0),
        40.0,
        0.0,
        5.0,
    );
    assert!(!v.entrapment_site);
    assert!(!v.long_segment);
    assert_eq!(v.block, Grade::NoBlock, "{:#?}", v.reasons);
    assert!(
        says(
            &v,
            "probable CB (long upper-limb segment): does not apply (needs a long upper-limb segment (wrist–below_elbow, above_elbow–axilla), elbow–upper_arm is not one)"
        ),
        "{:#?}",
        v.reasons
    );
    assert!(says(&v, "40.0 % ≥ 50 % (failed)"), "{:#?}", v.reasons);
    // The same drop on the long wrist → elbow segment is probable.
    let v = segment(
        MMN,
        "median",
        ("wrist", 70.0),
        ("elbow", 290.0),
        40.0,
        0.0,
        5.0,
    );
    assert_eq!(v.block, Grade::Probable, "{:#?}", v.reasons);
}
