//! Long upper-limb segments formed over intermediate sites (EFNS/PNS 2010 MMN, `clinical.md`
//! §2: probable CB at ≥ 30 % area reduction on wrist–elbow and elbow–axilla), counted once
//! per nerve at patient level.

use crate::common::{plateaued, resp, says};
use ncs_block::patient::ClinicalFindings;
use ncs_block::{
    BlockDetector, CollectSink, CriteriaSet, Grade, NormalValues, NullSink, Observation,
    SegmentVerdict,
};

/// Right median sites with their negative-peak area (mV·ms); amplitude follows the area,
/// duration 6 ms everywhere, onsets at 55 m/s.
fn median(sites: &[(&str, f64, f64)]) -> Vec<Observation> {
    let mut out = vec![];
    for (k, (site, dist, area)) in sites.iter().enumerate() {
        let amp = area / 7.0;
        let onset = 3.0 + (dist - 70.0) / 55.0;
        out.extend(plateaued(
            "median",
            site,
            *dist,
            10.0 * k as f64,
            resp(amp, *area, 6.0, onset),
        ));
    }
    out
}

fn detect(o: Vec<Observation>) -> BlockDetector {
    let mut det = BlockDetector::new(None, CriteriaSet::default(), NormalValues::default_adult())
        .expect("detector");
    det.push_all(o, &mut NullSink).expect("push");
    det
}

fn seg<'a>(segs: &'a [SegmentVerdict], from: &str, to: &str) -> &'a SegmentVerdict {
    segs.iter()
        .find(|s| s.from_site == from && s.to_site == to)
        .unwrap_or_else(|| panic!("no segment {from}–{to}: {segs:#?}"))
}

/// Wrist 35, elbow 35, upper arm 28 (−20 %), axilla 21 mV·ms (−25 % more; −40 % from the
/// elbow).
const SPREAD: [(&str, f64, f64); 4] = [
    ("wrist", 70.0, 35.0),
    ("elbow", 290.0, 35.0),
    ("upper arm", 380.0, 28.0),
    ("axilla", 450.0, 21.0),
];

#[test]
fn drop_spread_over_an_intermediate_site_is_probable_on_the_long_segment() {
    let det = detect(median(&SPREAD));
    let segs = det.segments();
    // Three short segments and one long elbow → axilla over the upper arm.
    assert_eq!(segs.len(), 4, "{segs:#?}");
    for (from, to) in [
        ("wrist", "elbow"),
        ("elbow", "upper_arm"),
        ("upper_arm", "axilla"),
    ] {
        let s = seg(&segs, from, to);
        assert_eq!(s.block, Grade::NoBlock, "{from}–{to}: {:#?}", s.reasons);
        assert!(s.spans.is_empty());
    }
    let long = seg(&segs, "elbow", "axilla");
    assert_eq!(long.spans, ["upper_arm"]);
    assert!((long.area_reduction_pct.expect("area") - 40.0).abs() < 1e-9);
    assert_eq!(long.distance_mm, Some(160.0));
    assert_eq!(long.block, Grade::Probable, "{:#?}", long.reasons);
    assert!(long.long_segment);
    assert!(long.counts_for_mmn);
    assert!(
        says(long, "probable CB (long upper-limb segment)")
            && says(long, "40.0 % ≥ 30 % (met)")
            && says(long, "over upper_arm"),
        "{:#?}",
        long.reasons
    );
    // The short segment carrying part of the drop says why it is not probable.
    assert!(
        says(
            seg(&segs, "elbow", "upper_arm"),
            "elbow–upper_arm is not one"
        ),
        "{:#?}",
        seg(&segs, "elbow", "upper_arm").reasons
    );
    // The JSON contract fields are all there, plus `spans`.
    let j = serde_json::to_value(long).expect("json");
    assert_eq!(j["from_site"], "elbow");
    assert_eq!(j["to_site"], "axilla");
    assert_eq!(j["block"], "probable");
    assert_eq!(j["spans"], serde_json::json!(["upper_arm"]));
}

#[test]
fn same_drop_on_a_short_segment_only_is_no_block() {
    // Elbow → upper arm −40 % and no axilla site: no long segment can be formed.
    let det = detect(median(&[
        ("wrist", 70.0, 35.0),
        ("elbow", 290.0, 35.0),
        ("upper arm", 380.0, 21.0),
    ]));
    let segs = det.segments();
    assert_eq!(segs.len(), 2, "{segs:#?}");
    assert!(segs.iter().all(|s| s.spans.is_empty()));
    let s = seg(&segs, "elbow", "upper_arm");
    assert!((s.area_reduction_pct.expect("area") - 40.0).abs() < 1e-9);
    assert_eq!(s.block, Grade::NoBlock, "{:#?}", s.reasons);
    assert!(!s.long_segment);
    assert!(!s.counts_for_mmn);
}

#[test]
fn shipped_arm_protocol_forms_the_elbow_axilla_segment() {
    let text = std::fs::read_to_string(crate::common::crate_file("protocols/mmn-arm.toml"))
        .expect("read protocol");
    let study =
        ncs_block::Study::from_toml_str(&text, &NormalValues::default_adult()).expect("protocol");
    let mut det = BlockDetector::new(
        Some(study),
        CriteriaSet::default(),
        NormalValues::default_adult(),
    )
    .expect("detector");
    let mut o = median(&SPREAD);
    o.extend(median(&[("Erb's point", 640.0, 21.0)]));
    det.push_all(o, &mut NullSink).expect("push");
    let segs = det.segments();
    let long: Vec<_> = segs.iter().filter(|s| !s.spans.is_empty()).collect();
    assert_eq!(long.len(), 1, "{segs:#?}");
    assert_eq!(
        (long[0].from_site.as_str(), long[0].to_site.as_str()),
        ("elbow", "axilla")
    );
    assert_eq!(long[0].block, Grade::Probable, "{:#?}", long[0].reasons);
}

#[test]
fn a_nerve_blocked_on_short_and_long_segments_counts_once() {
    // Elbow → upper arm −60 % (definite); the long elbow → axilla is −60 % as well.
    let det = detect(median(&[
        ("wrist", 70.0, 35.0),
        ("elbow", 290.0, 35.0),
        ("upper arm", 380.0, 14.0),
        ("axilla", 450.0, 14.0),
    ]));
    let segs = det.segments();
    assert_eq!(seg(&segs, "elbow", "upper_arm").block, Grade::Definite);
    assert_eq!(seg(&segs, "elbow", "axilla").block, Grade::Definite);
    let counted = segs.iter().filter(|s| s.counts_for_mmn).count();
    assert_eq!(counted, 2, "both segments are graded and listed");
    let p = det.patient(&ClinicalFindings::default());
    assert_eq!(p.aaem_2003.definite_cb_count, 1, "{:#?}", p.counted_blocks);
    assert_eq!(p.aaem_2003.definite_cb_nerves, ["right median"]);
    assert_eq!(p.aaem_2003.probable_cb_count, 0);
    assert!(
        p.counted_blocks
            .iter()
            .any(|b| b.contains("elbow–axilla (long segment over upper_arm)")),
        "{:#?}",
        p.counted_blocks
    );
    // Probable on the long segment only: one probable nerve.
    let p = detect(median(&SPREAD)).patient(&ClinicalFindings::default());
    assert_eq!(p.aaem_2003.probable_cb_nerves, ["right median"]);
    assert_eq!(p.aaem_2003.definite_cb_count, 0);
}

#[test]
fn intermediate_site_arriving_last_turns_the_segment_long() {
    // Elbow and axilla first: elbow → axilla is an adjacent segment; when the upper arm
    // arrives it keeps its ends and gains `spans`, and the result equals the batch one.
    let all = median(&SPREAD);
    let (upper, rest): (Vec<Observation>, Vec<Observation>) =
        all.into_iter().partition(|o| o.site == "upper arm");
    let mut det = BlockDetector::new(None, CriteriaSet::default(), NormalValues::default_adult())
        .expect("detector");
    let mut sink = CollectSink::default();
    det.push_all(rest.clone(), &mut sink).expect("push");
    let before = det.segments();
    assert!(seg(&before, "elbow", "axilla").spans.is_empty());
    // Adjacent elbow → axilla is itself a long segment: −40 % there is probable already.
    assert_eq!(seg(&before, "elbow", "axilla").block, Grade::Probable);
    let n_before = sink.segments.len();
    det.push_all(upper.clone(), &mut sink).expect("push");
    let after = det.segments();
    assert_eq!(seg(&after, "elbow", "axilla").spans, ["upper_arm"]);
    assert!(
        sink.segments[n_before..]
            .iter()
            .any(|s| s.from_site == "elbow" && s.to_site == "axilla" && s.spans == ["upper_arm"]),
        "the long segment is reported as changed"
    );
    assert!(
        !sink
            .removed
            .iter()
            .any(|s| s.from_site == "elbow" && s.to_site == "axilla"),
        "{:#?}",
        sink.removed
    );
    let mut batch = rest;
    batch.extend(upper);
    batch.sort_by(|a, b| a.stimulus_time_s.total_cmp(&b.stimulus_time_s));
    let key = |v: Vec<SegmentVerdict>| {
        let mut v: Vec<_> = v
            .into_iter()
            .map(|mut s| {
                s.from_observation = None;
                s.to_observation = None;
                s
            })
            .collect();
        v.sort_by(|a, b| (&a.from_site, &a.to_site).cmp(&(&b.from_site, &b.to_site)));
        v
    };
    assert_eq!(key(after), key(detect(batch).segments()));
}

#[test]
fn lower_limb_and_non_long_sets_form_no_long_segments() {
    let leg = |criteria: &str| {
        let mut o = vec![];
        for (k, (site, dist, area)) in [
            ("ankle", 90.0, 35.0),
            ("below fibular head", 390.0, 30.0),
            ("popliteal fossa", 480.0, 21.0),
        ]
        .iter()
        .enumerate()
        {
            o.extend(plateaued(
                "peroneal",
                site,
                *dist,
                10.0 * k as f64,
                resp(area / 7.0, *area, 6.0, 4.0 + dist / 50.0),
            ));
        }
        let mut det = BlockDetector::new(
            None,
            CriteriaSet::by_name(criteria).expect("set"),
            NormalValues::default_adult(),
        )
        .expect("detector");
        det.push_all(o, &mut NullSink).expect("push");
        det.segments()
    };
    assert_eq!(leg("efns-pns-2010-mmn").len(), 2);
    // A set without long segments forms only adjacent ones on the arm as well.
    let mut det = BlockDetector::new(
        None,
        CriteriaSet::by_name("efns-pns-2010-cidp").expect("set"),
        NormalValues::default_adult(),
    )
    .expect("detector");
    det.push_all(median(&SPREAD), &mut NullSink).expect("push");
    let segs = det.segments();
    assert_eq!(segs.len(), 3, "{segs:#?}");
    assert!(segs.iter().all(|s| s.spans.is_empty()));
}
