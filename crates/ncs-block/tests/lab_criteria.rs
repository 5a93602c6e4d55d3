//! A criteria table edited by a lab (TOML) changes the grading; a malformed table is refused
//! with an error naming the field.

use crate::common::{plateaued, resp, says};
use ncs_block::{
    BlockDetector, CriteriaError, CriteriaSet, Grade, NormalValues, NullSink, SegmentVerdict,
};

/// The built-in EFNS/PNS 2010 MMN table as TOML, as a lab would start from it.
fn builtin_text() -> String {
    CriteriaSet::efns_pns_2010_mmn().to_toml_string()
}

/// The lab's edit: definite CB from 40 % area reduction instead of 50 %.
fn lab_text() -> String {
    let text = builtin_text()
        .replacen("name = \"efns-pns-2010-mmn\"", "name = \"lab-mmn-40\"", 1)
        .replacen("version = \"1\"", "version = \"lab-2\"", 1);
    // The first bound in the text is the definite rule's area bound.
    let at = text
        .find("value = 50.0")
        .expect("definite bound in the table");
    format!(
        "{}value = 40.0{}",
        &text[..at],
        &text[at + "value = 50.0".len()..]
    )
}

/// Peroneal ankle → below fibular head (not a long segment, not an entrapment site) with an
/// area (and amplitude) reduction of `red` %, distal 5 mV, duration unchanged.
fn leg(set: CriteriaSet, red: f64) -> SegmentVerdict {
    let f = 1.0 - red / 100.0;
    let mut o = plateaued("peroneal", "ankle", 90.0, 0.0, resp(5.0, 35.0, 6.0, 4.0));
    o.extend(plateaued(
        "peroneal",
        "below fibular head",
        390.0,
        10.0,
        resp(5.0 * f, 35.0 * f, 6.0, 10.0),
    ));
    let mut det = BlockDetector::new(None, set, NormalValues::default_adult()).expect("detector");
    det.push_all(o, &mut NullSink).expect("push");
    det.segments().into_iter().next().expect("one segment")
}

#[test]
fn edited_definite_threshold_changes_the_grade() {
    let lab = CriteriaSet::from_toml_str(&lab_text()).expect("lab table loads");
    assert_eq!(lab.name, "lab-mmn-40");
    assert_eq!(lab.rules[0].reduction_bound.value, 40.0);
    // Everything else is the built-in table.
    let mut same = lab.clone();
    same.name = "efns-pns-2010-mmn".into();
    same.version = "1".into();
    same.rules[0].reduction_bound.value = 50.0;
    assert_eq!(same, CriteriaSet::efns_pns_2010_mmn());

    let v = leg(lab, 45.0);
    assert_eq!(v.block, Grade::Definite, "{:#?}", v.reasons);
    assert_eq!(v.criteria, "lab-mmn-40");
    assert_eq!(v.criteria_version, "lab-2");
    assert!(
        says(&v, "negative-peak area reduction 45.0 % ≥ 40 % (met)"),
        "{:#?}",
        v.reasons
    );
    // The built-in table grades the same segment no block.
    let v = leg(CriteriaSet::efns_pns_2010_mmn(), 45.0);
    assert_eq!(v.block, Grade::NoBlock, "{:#?}", v.reasons);
    // And below the lab's threshold the lab table gives no block either.
    let v = leg(
        CriteriaSet::from_toml_str(&lab_text()).expect("lab table"),
        39.0,
    );
    assert_eq!(v.block, Grade::NoBlock, "{:#?}", v.reasons);
}

/// Loads `text`, expecting an error whose message contains every needle.
fn refused(text: &str, needles: &[&str]) -> CriteriaError {
    let e = CriteriaSet::from_toml_str(text).expect_err("malformed table must be refused");
    let msg = e.to_string();
    for n in needles {
        assert!(msg.contains(n), "`{n}` not in: {msg}");
    }
    e
}

#[test]
fn malformed_tables_name_the_field() {
    let good = lab_text();
    // A number written as text.
    refused(
        &good.replacen("value = 40.0", "value = \"forty\"", 1),
        &["value = \"forty\"", "expected"],
    );
    // A required field left out.
    refused(
        &good.replacen("reduction = \"negative_peak_area\"\n", "", 1),
        &["missing field `reduction`"],
    );
    // A misspelt field.
    refused(
        &good.replacen(
            "requires_distal_amplitude = true",
            "requires_distal_amplitud = true",
            1,
        ),
        &["requires_distal_amplitud"],
    );
    // An unknown operator.
    refused(
        &good.replacen("op = \"ge\"", "op = \"at_least\"", 1),
        &["at_least"],
    );
    // Parsable but unusable numbers and names.
    let e = refused(
        &good.replacen("value = 40.0", "value = nan", 1),
        &[
            "lab-mmn-40",
            "rule[0].reduction_bound.value",
            "[0, 100]",
            "NaN",
        ],
    );
    assert!(matches!(e, CriteriaError::Invalid { .. }), "{e:?}");
    refused(
        &good.replacen("value = 40.0", "value = 400.0", 1),
        &["rule[0].reduction_bound.value", "got 400"],
    );
    refused(
        &good.replacen(
            "proximal_at_or_above = \"axilla\"",
            "proximal_at_or_above = \"axila2\"",
            1,
        ),
        &["long_segment[1].proximal_at_or_above", "axila2"],
    );
    refused(
        &good.replacen("name = \"lab-mmn-40\"", "name = \" \"", 1),
        &["name must be a non-empty name"],
    );
}
