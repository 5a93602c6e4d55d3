//! Study protocols, names and validation errors.

use crate::common::{obs, resp, says};
use ncs_block::{
    BlockDetector, CriteriaSet, Grade, IntensityPlan, Modality, NormalValues, NullSink,
    ObservationError, Study, StudyError,
};

fn normals() -> NormalValues {
    NormalValues::default_adult()
}

#[test]
fn protocol_files_load_and_canonicalise() {
    let text =
        std::fs::read_to_string(crate::common::crate_file("protocols/mmn-arm.toml")).expect("read");
    let s = Study::from_toml_str(&text, &normals()).expect("valid");
    assert_eq!(s.nerves.len(), 8);
    let radial = &s.nerves[4];
    assert_eq!(
        (radial.name.as_str(), radial.modality),
        ("radial", Modality::Motor)
    );
    assert_eq!(radial.sites.last().map(|x| x.name.as_str()), Some("erb"));
    // The live-study plan: the file's [stimulation] table, per-nerve ramps, defaults.
    assert_eq!(s.stimulation.rate_hz, 1.0);
    assert_eq!(s.stimulation.margin_pct, 20.0);
    assert_eq!(
        s.intensity_plan(4, 0),
        IntensityPlan::Ramp {
            start_ma: 10.0,
            step_ma: 5.0,
            max_ma: 75.0
        }
    );
    assert_eq!(
        s.intensity_plan(0, 0),
        IntensityPlan::default_for(Modality::Motor)
    );
    assert_eq!(s.sweeps(0, 0), 2);
    assert_eq!(
        s.sweeps(5, 0),
        10,
        "sensory sweeps are averaged 10 at a time"
    );
    let ulnar = &s.nerves[1];
    assert_eq!(ulnar.name, "ulnar");
    let names: Vec<&str> = ulnar.sites.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(
        names,
        ["wrist", "below_elbow", "above_elbow", "axilla", "erb"]
    );
    let text =
        std::fs::read_to_string(crate::common::crate_file("protocols/mmn-leg.toml")).expect("read");
    let s = Study::from_toml_str(&text, &normals()).expect("valid");
    assert_eq!(s.nerves[0].name, "peroneal");
    assert_eq!(s.nerves[0].sites[1].name, "below_fibular_head");
    assert_eq!(s.nerves[1].sites[1].name, "popliteal_fossa");
}

const BASE: &str = r#"
[[nerve]]
name = "median"
side = "right"
modality = "motor"
channel = 0
"#;

fn with_sites(sites: &str) -> String {
    format!("{BASE}sites = [{sites}]\n")
}

#[test]
fn validation_errors_are_clear() {
    let e = Study::from_toml_str(
        &with_sites(r#"{ name = "wrist", distance_mm = 70 }, { name = "WR", distance_mm = 90 }"#),
        &normals(),
    )
    .expect_err("duplicate");
    assert!(
        matches!(e, StudyError::DuplicateSite { ref site, .. } if site == "wrist"),
        "{e}"
    );

    let e = Study::from_toml_str(
        &with_sites(
            r#"{ name = "wrist", distance_mm = 70 }, { name = "elbow", distance_mm = 60 }"#,
        ),
        &normals(),
    )
    .expect_err("not increasing");
    let msg = e.to_string();
    assert!(
        msg.contains("must increase strictly") && msg.contains("60"),
        "{msg}"
    );

    let e = Study::from_toml_str(
        &with_sites(r#"{ name = "wrist", distance_mm = -5 }"#),
        &normals(),
    )
    .expect_err("negative");
    assert!(e.to_string().contains("got -5"), "{e}");

    let text = r#"
[[nerve]]
name = "musculocutaneous"
side = "left"
modality = "motor"
channel = 0
sites = [{ name = "erb", distance_mm = 200 }]
"#;
    let e = Study::from_toml_str(text, &normals()).expect_err("no normals");
    let msg = e.to_string();
    assert!(
        msg.contains("musculocutaneous") && msg.contains("median"),
        "{msg}"
    );

    let e = Study::from_toml_str("name = \"x\"\nnerve = []\n", &normals()).expect_err("empty");
    assert!(matches!(e, StudyError::NoNerves));
    let e = Study::from_toml_str(&format!("{BASE}sites = []\nbogus = 1\n"), &normals())
        .expect_err("unknown field");
    assert!(e.to_string().contains("bogus"), "{e}");
}

#[test]
fn observations_outside_the_protocol_are_rejected() {
    let s = Study::from_toml_str(
        &with_sites(
            r#"{ name = "wrist", distance_mm = 70 }, { name = "elbow", distance_mm = 290 }"#,
        ),
        &normals(),
    )
    .expect("valid");
    let mut det = BlockDetector::new(Some(s), CriteriaSet::default(), normals()).expect("det");
    let e = det
        .push(
            obs(
                "median",
                "right",
                Modality::Motor,
                0,
                "axilla",
                None,
                Some(30.0),
                0.0,
                resp(5.0, 35.0, 6.0, 3.0),
            ),
            &mut NullSink,
        )
        .expect_err("site not in protocol");
    assert!(matches!(e, ObservationError::SiteNotInStudy { .. }), "{e}");
    let e = det
        .push(
            obs(
                "ulnar",
                "right",
                Modality::Motor,
                0,
                "wrist",
                None,
                Some(30.0),
                0.0,
                resp(5.0, 35.0, 6.0, 3.0),
            ),
            &mut NullSink,
        )
        .expect_err("nerve not in protocol");
    assert!(e.to_string().contains("right median motor ch0"), "{e}");
    let e = det
        .push(
            obs(
                "median",
                "right",
                Modality::Motor,
                0,
                "wrist",
                None,
                Some(f64::NAN),
                0.0,
                resp(5.0, 35.0, 6.0, 3.0),
            ),
            &mut NullSink,
        )
        .expect_err("NaN intensity");
    assert!(e.to_string().contains("intensity_ma"), "{e}");
    assert!(
        det.observations().is_empty(),
        "rejected observations change nothing"
    );
    // Spellings are forgiven; the protocol's distance is used, not the observation's.
    det.push(
        obs(
            "Median Nerve",
            "Rt",
            Modality::Motor,
            0,
            "WR",
            Some(999.0),
            Some(30.0),
            0.0,
            resp(5.0, 35.0, 6.0, 3.0),
        ),
        &mut NullSink,
    )
    .expect("accepted");
    det.push(
        obs(
            "median",
            "right",
            Modality::Motor,
            0,
            "Elbow",
            None,
            Some(30.0),
            1.0,
            resp(4.8, 34.0, 6.0, 7.0),
        ),
        &mut NullSink,
    )
    .expect("accepted");
    assert_eq!(det.segments()[0].distance_mm, Some(220.0));
}

#[test]
fn discovered_site_without_distance_is_not_assessable() {
    let mut det = BlockDetector::new(None, CriteriaSet::default(), normals()).expect("det");
    for (site, d, t) in [("wrist", Some(70.0), 0.0), ("mystery point", None, 1.0)] {
        det.push(
            obs(
                "median",
                "right",
                Modality::Motor,
                0,
                site,
                d,
                Some(30.0),
                t,
                resp(5.0, 35.0, 6.0, 3.0),
            ),
            &mut NullSink,
        )
        .expect("push");
    }
    let s = det.segments();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].to_site, "mystery_point");
    assert_eq!(s[0].block, Grade::NotAssessable);
    assert!(says(&s[0], "has no distance_mm"), "{:#?}", s[0].reasons);
}

#[test]
fn unknown_nerve_discovered_has_no_normals_and_says_so() {
    let mut det = BlockDetector::new(None, CriteriaSet::default(), normals()).expect("det");
    for (site, d, t, r) in [
        ("wrist", 70.0, 0.0, resp(5.0, 35.0, 6.0, 3.0)),
        ("elbow", 290.0, 1.0, resp(1.0, 7.0, 6.0, 7.0)),
    ] {
        det.push(
            obs(
                "martin gruber",
                "left",
                Modality::Motor,
                0,
                site,
                Some(d),
                Some(30.0),
                t,
                r,
            ),
            &mut NullSink,
        )
        .expect("push");
    }
    let v = &det.segments()[0];
    assert!(
        says(v, "no motor normal values for martin_gruber"),
        "{:#?}",
        v.reasons
    );
    assert!(says(v, "does not apply"), "{:#?}", v.reasons);
    assert_ne!(v.block, Grade::Definite);
}

#[test]
fn lab_normal_table_replaces_the_default() {
    let t = NormalValues::from_toml_str(
        r#"
name = "lab"
[[entry]]
nerve = "Median"
modality = "motor"
distal_amplitude_mv = 8.0
conduction_velocity_m_s = 60
"#,
    )
    .expect("table");
    assert_eq!(
        t.get("median", Modality::Motor)
            .map(|e| e.distal_amplitude_mv),
        Some(8.0)
    );
    let e = NormalValues::from_toml_str(
        "name = \"x\"\n[[entry]]\nnerve = \"ulnar\"\nmodality = \"motor\"\ndistal_amplitude_mv = 0\nconduction_velocity_m_s = 50\n",
    )
    .expect_err("zero");
    assert!(e.to_string().contains("got 0"), "{e}");
}

#[test]
fn stimulation_plans_are_checked() {
    let plan = |extra: &str, site: &str| {
        format!(
            "{extra}\n[[nerve]]\nname = \"median\"\nside = \"right\"\nmodality = \"motor\"\nchannel = 0\nsites = [{{ name = \"wrist\", distance_mm = 70{site} }}]\n"
        )
    };
    let ok = Study::from_toml_str(
        &plan(
            "[stimulation]\nrate_hz = 2.0\nauto_advance = true",
            ", intensity = \"manual\", sweeps = 3",
        ),
        &normals(),
    )
    .expect("valid");
    assert!(ok.stimulation.auto_advance);
    assert!(matches!(ok.intensity_plan(0, 0), IntensityPlan::Manual(_)));
    assert_eq!(ok.sweeps(0, 0), 3);
    let fixed = Study::from_toml_str(&plan("", ", intensity = { ma = 15 }"), &normals()).unwrap();
    assert_eq!(
        fixed.intensity_plan(0, 0),
        IntensityPlan::Fixed { ma: 15.0 }
    );
    for (extra, site, says) in [
        ("[stimulation]\nrate_hz = 0.0", "", "rate_hz must be > 0"),
        (
            "[stimulation]\nmargin_pct = 150.0",
            "",
            "margin_pct must be between",
        ),
        (
            "[stimulation]\nmotor_sweeps = 0",
            "",
            "motor_sweeps must be between 1",
        ),
        (
            "",
            ", intensity = { start_ma = 50, step_ma = 5, max_ma = 20 }",
            "start_ma <= max_ma",
        ),
        (
            "",
            ", intensity = { start_ma = 5, step_ma = 0, max_ma = 20 }",
            "step_ma must be > 0",
        ),
        ("", ", intensity = { ma = 500 }", "<= 100 mA"),
        (
            "",
            ", sweeps = 0",
            "sweeps must be between 1 and 1000, got 0",
        ),
    ] {
        let e = Study::from_toml_str(&plan(extra, site), &normals()).unwrap_err();
        assert!(e.to_string().contains(says), "{extra} {site}: {e}");
    }
}
