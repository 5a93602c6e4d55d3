//! `ncs analyze --criteria FILE.toml`: a lab's own criteria table grades the segments; a
//! malformed one is refused naming the field.

use crate::common::*;

#[test]
fn a_labs_criteria_table_grades_the_segments() {
    let dir = tempfile::tempdir().unwrap();
    let text = ncs_block::CriteriaSet::efns_pns_2010_mmn()
        .to_toml_string()
        .replacen("name = \"efns-pns-2010-mmn\"", "name = \"lab-mmn-40\"", 1)
        .replacen("value = 50.0", "value = 40.0", 1);
    let table = dir.path().join("lab.toml");
    std::fs::write(&table, text).unwrap();
    let file = root().join("fixtures/median-worked-example.nwb");
    let r = analyze_json(&file, &["--criteria", table.to_str().unwrap()]);
    let seg = &r["segments"][0];
    assert_eq!(seg["criteria"], "lab-mmn-40", "{seg}");
    assert_eq!(seg["block"], "definite");
    let reasons = seg["reasons"].to_string();
    assert!(reasons.contains("≥ 40 %"), "{reasons}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        ncs_block::CriteriaSet::efns_pns_2010_mmn()
            .to_toml_string()
            .replacen("value = 50.0", "value = 150.0", 1),
    )
    .unwrap();
    let out = ncs(&[
        "analyze",
        file.to_str().unwrap(),
        "--criteria",
        bad.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("reduction_bound.value") && err.contains("150"),
        "{err}"
    );
}
