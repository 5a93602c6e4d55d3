//! Each threshold just above and just below, for each criteria set.

use crate::common::{says, segment};
use ncs_block::{CriteriaError, CriteriaSet, Grade};

const MMN: &str = "efns-pns-2010-mmn";
const AAN: &str = "aan-1991-cidp";
const CIDP: &str = "efns-pns-2010-cidp";

/// Median wrist → elbow: a long upper-limb segment and an AAN 1991 segment.
fn forearm(set: &str, red: f64, dur: f64, distal: f64) -> ncs_block::SegmentVerdict {
    segment(
        set,
        "median",
        ("wrist", 70.0),
        ("elbow", 290.0),
        red,
        dur,
        distal,
    )
}

#[test]
fn mmn_area_thresholds() {
    // ≥ 50 % → definite; 30–50 % on a long upper-limb segment → probable; < 30 % → none.
    assert_eq!(forearm(MMN, 51.0, 10.0, 5.0).block, Grade::Definite);
    let v = forearm(MMN, 49.0, 10.0, 5.0);
    assert_eq!(v.block, Grade::Probable);
    assert!(
        says(&v, "area reduction 49.0 % ≥ 50 % (failed)"),
        "{:#?}",
        v.reasons
    );
    assert!(says(&v, "long upper-limb segment"), "{:#?}", v.reasons);
    assert_eq!(forearm(MMN, 31.0, 10.0, 5.0).block, Grade::Probable);
    let v = forearm(MMN, 29.0, 10.0, 5.0);
    assert_eq!(v.block, Grade::NoBlock);
    assert!(says(&v, "29.0 % ≥ 30 % (failed)"), "{:#?}", v.reasons);
    // Outside a long segment, 30–50 % is no block: peroneal ankle → below fibular head.
    let v = segment(
        MMN,
        "peroneal",
        ("ankle", 90.0),
        ("below fibular head", 390.0),
        45.0,
        10.0,
        5.0,
    );
    assert_eq!(v.block, Grade::NoBlock, "{:#?}", v.reasons);
}

#[test]
fn mmn_duration_thresholds() {
    let v = forearm(MMN, 60.0, 29.0, 5.0);
    assert_eq!(v.block, Grade::Definite);
    assert!(!v.dispersion);
    let v = forearm(MMN, 60.0, 31.0, 5.0);
    assert_eq!(v.block, Grade::Probable, "{:#?}", v.reasons);
    assert!(v.dispersion);
    assert!(
        says(&v, "duration increase 31.0 % ≤ 30 % (failed)"),
        "{:#?}",
        v.reasons
    );
    assert!(says(&v, "temporal dispersion"), "{:#?}", v.reasons);
    // 30–50 % with duration > 30 % is neither definite nor probable.
    assert_eq!(forearm(MMN, 40.0, 31.0, 5.0).block, Grade::NoBlock);
    assert_eq!(forearm(MMN, 40.0, 29.0, 5.0).block, Grade::Probable);
}

#[test]
fn mmn_distal_amplitude_thresholds() {
    let v = forearm(MMN, 60.0, 10.0, 1.1);
    assert_eq!(v.block, Grade::Definite, "{:#?}", v.reasons);
    assert_eq!(v.distal_amplitude_ok, Some(true));
    assert!(says(&v, "1.10 mV > 1 mV (met)"), "{:#?}", v.reasons);
    // 0.9 mV fails "> 1 mV": not definite; the long-segment probable rule has no distal
    // requirement in clinical.md §2, so the forearm segment stays probable.
    let v = forearm(MMN, 60.0, 10.0, 0.9);
    assert_eq!(v.block, Grade::Probable, "{:#?}", v.reasons);
    assert_eq!(v.distal_amplitude_ok, Some(false));
    assert!(says(&v, "0.90 mV > 1 mV (failed)"), "{:#?}", v.reasons);
    // Peroneal (not an upper-limb long segment): 0.9 mV → no block at all.
    let leg = |a| {
        segment(
            MMN,
            "peroneal",
            ("ankle", 90.0),
            ("below fibular head", 390.0),
            60.0,
            10.0,
            a,
        )
    };
    assert_eq!(leg(1.1).block, Grade::Definite);
    assert_eq!(leg(0.9).block, Grade::NoBlock);
    // The 20 %-of-LLN half: ulnar LLN 6.0 mV → 1.2 mV.
    let ul = |a| {
        segment(
            MMN,
            "ulnar",
            ("wrist", 70.0),
            ("below elbow", 280.0),
            60.0,
            10.0,
            a,
        )
    };
    let v = ul(1.1);
    assert_ne!(v.block, Grade::Definite);
    assert!(
        says(&v, "20 % of LLN 6 mV = 1.20 mV (failed)"),
        "{:#?}",
        v.reasons
    );
    assert_eq!(ul(1.3).block, Grade::Definite);
}

#[test]
fn aan_thresholds() {
    // > 20 % drop with < 15 % duration change → partial block (definite); the MMN numbers
    // 49/51 and 29/31 are all above 20 %.
    for red in [51.0, 49.0, 31.0, 29.0, 21.0] {
        let v = forearm(AAN, red, 10.0, 5.0);
        assert_eq!(v.block, Grade::Definite, "{red}: {:#?}", v.reasons);
    }
    let v = forearm(AAN, 19.0, 10.0, 5.0);
    assert_eq!(v.block, Grade::NoBlock);
    assert!(says(&v, "19.0 % > 20 % (failed)"), "{:#?}", v.reasons);
    // Duration: 29/31 are both > 15 % → dispersion / possible block (probable); 14/16 straddle.
    for dur in [29.0, 31.0, 16.0, -16.0] {
        let v = forearm(AAN, 60.0, dur, 5.0);
        assert_eq!(v.block, Grade::Probable, "{dur}: {:#?}", v.reasons);
        assert!(v.dispersion);
    }
    assert_eq!(forearm(AAN, 60.0, 14.0, 5.0).block, Grade::Definite);
    // No distal amplitude requirement in this set.
    for a in [0.9, 1.1] {
        let v = forearm(AAN, 60.0, 10.0, a);
        assert_eq!(v.block, Grade::Definite);
        assert!(
            says(&v, "no distal amplitude requirement"),
            "{:#?}",
            v.reasons
        );
    }
    // Segments outside the set's list are not graded.
    let v = segment(
        AAN,
        "median",
        ("elbow", 290.0),
        ("axilla", 450.0),
        60.0,
        10.0,
        5.0,
    );
    assert_eq!(v.block, Grade::NotAssessable);
    assert!(says(&v, "no rule of this set covers"), "{:#?}", v.reasons);
}

#[test]
fn cidp_thresholds() {
    assert_eq!(forearm(CIDP, 51.0, 10.0, 5.0).block, Grade::Definite);
    assert_eq!(forearm(CIDP, 49.0, 10.0, 5.0).block, Grade::Probable);
    assert_eq!(forearm(CIDP, 31.0, 10.0, 5.0).block, Grade::Probable);
    let v = forearm(CIDP, 29.0, 10.0, 5.0);
    assert_eq!(v.block, Grade::NoBlock);
    assert!(
        says(&v, "amplitude reduction 29.0 % ≥ 30 % (failed)"),
        "{:#?}",
        v.reasons
    );
    // No duration bound on the grade; dispersion is named above 30 %.
    let v = forearm(CIDP, 60.0, 29.0, 5.0);
    assert_eq!((v.block, v.dispersion), (Grade::Definite, false));
    let v = forearm(CIDP, 60.0, 31.0, 5.0);
    assert_eq!((v.block, v.dispersion), (Grade::Definite, true));
    // Distal ≥ 20 % of LLN (median 4.0 mV → 0.8 mV): 0.9 and 1.1 pass, 0.7 fails.
    assert_eq!(forearm(CIDP, 60.0, 10.0, 0.9).block, Grade::Definite);
    assert_eq!(forearm(CIDP, 60.0, 10.0, 1.1).block, Grade::Definite);
    let v = forearm(CIDP, 60.0, 10.0, 0.7);
    assert_eq!(v.block, Grade::NoBlock, "{:#?}", v.reasons);
    assert!(
        says(&v, "0.70 mV ≥ 20 % of LLN 4 mV = 0.80 mV (failed)"),
        "{:#?}",
        v.reasons
    );
    // Tibial is excluded from probable.
    let tib = |r| {
        segment(
            CIDP,
            "tibial",
            ("ankle", 90.0),
            ("popliteal fossa", 480.0),
            r,
            10.0,
            5.0,
        )
    };
    assert_eq!(tib(40.0).block, Grade::NoBlock);
    assert_eq!(tib(55.0).block, Grade::Definite);
    // Abnormal distal duration (total duration 2 × 6 ms = 12 ms ≥ 6.6 ms for the median).
    let v = forearm(CIDP, 10.0, 0.0, 5.0);
    assert!(
        v.flags.iter().any(|f| f == "abnormal_distal_duration"),
        "{:#?}",
        v
    );
}

#[test]
fn lookup_by_name_and_round_trip() {
    for name in ncs_block::criteria::BUILTIN_NAMES {
        let s = CriteriaSet::by_name(name).expect("built-in");
        assert_eq!(s.name, name);
        let back = CriteriaSet::from_toml_str(&s.to_toml_string()).expect("round trip");
        assert_eq!(back, s);
    }
    match CriteriaSet::by_name("aaem-2003") {
        Err(e @ CriteriaError::Unknown { .. }) => {
            let msg = e.to_string();
            for n in ncs_block::criteria::BUILTIN_NAMES {
                assert!(msg.contains(n), "{msg}");
            }
        }
        other => panic!("expected Unknown, got {other:?}"),
    }
}

#[test]
fn every_grade_carries_reasons_naming_the_set() {
    for set in ncs_block::criteria::BUILTIN_NAMES {
        let title = CriteriaSet::by_name(set).expect("set").title;
        for red in [10.0, 40.0, 70.0] {
            let v = forearm(set, red, 10.0, 5.0);
            assert!(says(&v, &title), "{set} {red}: {:#?}", v.reasons);
            assert_eq!(v.criteria, set);
        }
    }
}

mod props {
    use ncs_block::criteria::{CriteriaSet, GradeInput, BUILTIN_NAMES};
    use proptest::prelude::*;

    proptest! {
        /// A larger reduction never gives a lower grade (same duration, distal amplitude and
        /// segment), for every set.
        #[test]
        fn grade_is_monotone_in_the_reduction(
            a in 0.0f64..100.0, b in 0.0f64..100.0,
            dur in -40.0f64..80.0, distal in 0.2f64..10.0, set in 0usize..3,
        ) {
            let s = CriteriaSet::by_name(BUILTIN_NAMES[set]).expect("set");
            let g = |r: f64| s.grade(&GradeInput {
                nerve: "median",
                distal_site: "wrist",
                proximal_site: "elbow",
                area_reduction_pct: Some(r),
                amplitude_reduction_pct: Some(r),
                peak_to_peak_reduction_pct: Some(r),
                duration_increase_pct: Some(dur),
                distal_amplitude_mv: Some(distal),
                lln_amplitude_mv: Some(4.0),
            }).grade;
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(g(lo) <= g(hi), "{lo} → {:?}, {hi} → {:?}", g(lo), g(hi));
        }
    }
}
