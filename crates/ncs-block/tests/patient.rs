//! Patient level: EFNS/PNS 2010 category, AAEM 2003 count, differential table.

use crate::common::{obs, plateaued, resp};
use ncs_block::patient::{Category, ClinicalFindings, Fit, Status};
use ncs_block::{BlockDetector, CriteriaSet, Modality, NormalValues, NullSink, Observation};

fn findings() -> ClinicalFindings {
    let text =
        std::fs::read_to_string(crate::common::crate_file("protocols/findings-example.toml"))
            .expect("read");
    ClinicalFindings::from_toml_str(&text).expect("findings")
}

fn side(mut v: Vec<Observation>, s: &str) -> Vec<Observation> {
    for o in &mut v {
        o.side = s.into();
    }
    v
}

/// Definite forearm blocks in right median, left median and left ulnar (the worked
/// example's patient), an ulnar elbow entrapment block, and normal sensory studies.
fn mmn_patient(criteria: &str) -> BlockDetector {
    let mut o = vec![];
    o.extend(plateaued(
        "median",
        "wrist",
        70.0,
        0.0,
        resp(5.7, 41.5, 6.0, 3.6),
    ));
    o.extend(plateaued(
        "median",
        "elbow",
        290.0,
        10.0,
        resp(1.2, 8.2, 6.4, 7.6),
    ));
    o.extend(side(
        plateaued("median", "wrist", 70.0, 20.0, resp(6.0, 42.0, 6.0, 3.5)),
        "left",
    ));
    o.extend(side(
        plateaued("median", "elbow", 285.0, 30.0, resp(2.0, 14.0, 6.2, 7.4)),
        "left",
    ));
    o.extend(side(
        plateaued("ulnar", "wrist", 70.0, 40.0, resp(8.0, 50.0, 6.0, 3.0)),
        "left",
    ));
    o.extend(side(
        plateaued("ulnar", "BE", 280.0, 50.0, resp(3.0, 19.0, 6.1, 6.8)),
        "left",
    ));
    // Right ulnar: a 60 % drop across the elbow (entrapment, never counted).
    for mut x in plateaued("ulnar", "BE", 280.0, 60.0, resp(8.0, 50.0, 6.0, 6.8)) {
        x.channel = 1;
        o.push(x);
    }
    for mut x in plateaued("ulnar", "AE", 390.0, 70.0, resp(3.2, 20.0, 6.1, 8.8)) {
        x.channel = 1;
        o.push(x);
    }
    let s = |nerve: &str, site: &str, d: f64, onset: f64, t: f64| {
        obs(
            nerve,
            "right",
            Modality::Sensory,
            2,
            site,
            Some(d),
            None,
            t,
            resp(0.03, 0.03, 1.0, onset),
        )
    };
    o.push(s("median", "wrist", 130.0, 2.4, 80.0));
    o.push(s("median", "elbow", 350.0, 6.2, 81.0));
    o.push(s("ulnar", "wrist", 110.0, 2.0, 82.0));
    o.push(s("radial", "forearm", 100.0, 1.8, 83.0));
    let mut det = BlockDetector::new(
        None,
        CriteriaSet::by_name(criteria).expect("set"),
        NormalValues::default(),
    )
    .expect("detector");
    det.push_all(o, &mut NullSink).expect("push");
    det
}

#[test]
fn definite_mmn_with_three_blocked_nerves() {
    let det = mmn_patient("efns-pns-2010-mmn");
    let mut f = findings();
    let p = det.patient(&f);
    assert!(
        p.decision_support
            .contains("decision support for a clinician")
            || p.decision_support
                .contains("Decision support for a clinician")
    );
    assert_eq!(p.aaem_2003.definite_cb_count, 3, "{:#?}", p.counted_blocks);
    assert_eq!(
        p.aaem_2003.definite_cb_nerves,
        ["right median", "left median", "left ulnar"]
    );
    assert!(
        !p.counted_blocks.iter().any(|b| b.contains("above_elbow")),
        "entrapment not counted"
    );
    assert_eq!(
        p.efns_pns_2010.category,
        Category::Definite,
        "{:#?}",
        p.efns_pns_2010
    );
    assert!(
        p.efns_pns_2010.missed.is_empty(),
        "{:#?}",
        p.efns_pns_2010.missed
    );
    // Sensory: 3 measured + 1 from the findings, all normal.
    assert_eq!(p.sensory.len(), 4);
    assert!(
        p.sensory.iter().all(|s| s.normal == Some(true)),
        "{:#?}",
        p.sensory
    );
    // Sensory conduction was measured across the right median forearm only: AAEM criterion 3
    // stays unknown for the left nerves until the clinician states it.
    let c3 = p
        .aaem_2003
        .result
        .criteria
        .iter()
        .find(|c| c.id == "aaem-3")
        .expect("aaem-3");
    assert_eq!(c3.status, Status::Unknown, "{c3:#?}");
    assert_eq!(p.aaem_2003.result.category, Category::NotMet);
    f.sensory_conduction_normal_across_blocks = Some(true);
    let p = det.patient(&f);
    assert_eq!(
        p.aaem_2003.result.category,
        Category::Definite,
        "{:#?}",
        p.aaem_2003
    );
}

#[test]
fn missing_findings_are_unknown_and_umn_signs_exclude() {
    let det = mmn_patient("efns-pns-2010-mmn");
    let p = det.patient(&ClinicalFindings::default());
    assert_eq!(p.efns_pns_2010.category, Category::NotMet);
    assert!(p.efns_pns_2010.unknown.iter().any(|c| c == "core-1"));
    assert!(p.efns_pns_2010.met.iter().any(|c| c == "electro-1"));
    let mut f = findings();
    f.upper_motor_neuron_signs = Some(true);
    let p = det.patient(&f);
    assert_eq!(p.efns_pns_2010.category, Category::NotMet);
    assert!(p.efns_pns_2010.missed.iter().any(|c| c == "exclusion-umn"));
    assert!(p.aaem_2003.result.missed.iter().any(|c| c == "aaem-5"));
}

#[test]
fn non_mmn_set_counts_no_block() {
    let det = mmn_patient("efns-pns-2010-cidp");
    let p = det.patient(&findings());
    assert_eq!(p.aaem_2003.definite_cb_count, 0);
    assert!(p
        .efns_pns_2010
        .notes
        .iter()
        .any(|n| n.contains("not an MMN set")));
}

#[test]
fn differential_table() {
    let det = mmn_patient("efns-pns-2010-mmn");
    let p = det.patient(&findings());
    let names: Vec<&str> = p.differential.iter().map(|e| e.entity.as_str()).collect();
    assert_eq!(
        names,
        [
            "MMN",
            "MADSAM",
            "spinal muscular atrophy",
            "ALS",
            "post-polio"
        ]
    );
    let get = |e: &str, feature: &str| {
        p.differential
            .iter()
            .find(|x| x.entity == e)
            .and_then(|x| x.items.iter().find(|i| i.feature == feature))
            .map(|i| i.fit)
            .expect("cell")
    };
    assert_eq!(get("MMN", "motor NCS"), Fit::Fits);
    assert_eq!(get("ALS", "motor NCS"), Fit::Contradicts);
    assert_eq!(get("ALS", "upper motor neuron signs"), Fit::Contradicts);
    assert_eq!(get("MADSAM", "sensory NCS"), Fit::Contradicts);
    assert_eq!(
        get("spinal muscular atrophy", "lower motor neuron weakness"),
        Fit::Contradicts
    );
    assert_eq!(get("MMN", "anti-GM1 antibodies"), Fit::Fits);
    assert_eq!(
        get("MMN", "motor evoked potentials"),
        Fit::Unknown,
        "not in the findings"
    );
    let mmn = &p.differential[0];
    assert!(mmn.contradicts.is_empty(), "{:#?}", mmn.contradicts);
}

#[test]
fn findings_parse_from_json_and_reject_typos() {
    let f = ClinicalFindings::from_json_str(r#"{"anti_gm1_raised": true, "csf_protein_g_l": 0.3}"#)
        .expect("json");
    assert_eq!(f.anti_gm1_raised, Some(true));
    let e = ClinicalFindings::from_toml_str("anti_gm1 = true\n").expect_err("typo");
    assert!(e.to_string().contains("anti_gm1"), "{e}");
    let e = ClinicalFindings::from_json_str(r#"{"csf_protein_g_l": -1}"#).expect_err("negative");
    assert!(e.to_string().contains("got -1"), "{e}");
}

#[test]
fn minor_vibration_loss_is_allowed_by_efns_but_not_by_aaem() {
    use ncs_block::patient::SensoryLoss;
    let det = mmn_patient("efns-pns-2010-mmn");
    let mut f = findings();
    f.sensory_conduction_normal_across_blocks = Some(true);
    let crit = |r: &ncs_block::patient::CategoryResult, id: &str| {
        r.criteria
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("{id}"))
            .clone()
    };
    // No sensory loss: both met (the baseline the two cases below depart from).
    f.objective_sensory_loss = Some(SensoryLoss::None);
    let p = det.patient(&f);
    assert_eq!(crit(&p.aaem_2003.result, "aaem-1").status, Status::Met);
    assert_eq!(p.aaem_2003.result.category, Category::Definite);
    assert_eq!(crit(&p.efns_pns_2010, "core-2").status, Status::Met);
    assert_eq!(p.efns_pns_2010.category, Category::Definite);

    // Minor vibration loss in the legs: EFNS/PNS 2010 core criterion 2 allows it; AAEM 2003
    // criterion 1 ("weakness without objective sensory loss") does not.
    f.objective_sensory_loss = Some(SensoryLoss::MinorVibrationLegs);
    let p = det.patient(&f);
    let efns = crit(&p.efns_pns_2010, "core-2");
    assert_eq!(efns.status, Status::Met, "{efns:#?}");
    assert!(
        efns.evidence.contains("allowed by EFNS/PNS 2010"),
        "{efns:#?}"
    );
    assert_eq!(p.efns_pns_2010.category, Category::Definite);
    let aaem = crit(&p.aaem_2003.result, "aaem-1");
    assert_eq!(aaem.status, Status::Missed, "{aaem:#?}");
    assert!(
        aaem.text.contains("without objective sensory loss"),
        "{aaem:#?}"
    );
    assert!(
        aaem.evidence.contains("AAEM 2003 requires none"),
        "{aaem:#?}"
    );
    assert_eq!(p.aaem_2003.result.category, Category::NotMet);
    assert!(p.aaem_2003.result.missed.iter().any(|c| c == "aaem-1"));

    // More than minor loss fails both.
    f.objective_sensory_loss = Some(SensoryLoss::Present);
    let p = det.patient(&f);
    assert_eq!(crit(&p.efns_pns_2010, "core-2").status, Status::Missed);
    assert_eq!(crit(&p.aaem_2003.result, "aaem-1").status, Status::Missed);
}
