//! The committed sessions in `fixtures/` (written by `ncs simulate`) and their expected
//! `analyze --format json` output. Regenerate both with `scripts/regen-fixtures.sh`.

use crate::common::*;

fn check(name: &str) -> serde_json::Value {
    let file = format!("fixtures/{name}.nwb");
    let got = analyze_json(std::path::Path::new(&file), &[]);
    let want: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join(format!("fixtures/expected/{name}.json"))).unwrap(),
    )
    .unwrap();
    assert_json_close(&got, &want, name);
    got
}

fn segment<'a>(r: &'a serde_json::Value, nerve: &str, from: &str) -> &'a serde_json::Value {
    r["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["nerve"] == nerve && s["from_site"] == from)
        .unwrap_or_else(|| panic!("no {nerve} segment from {from}"))
}

#[test]
fn worked_median_example_output_is_stable() {
    let r = check("median-worked-example");
    // clinical.md §3: definite forearm block, none above the elbow.
    let forearm = segment(&r, "median", "wrist");
    assert_eq!(forearm["block"], "definite");
    assert!(forearm["area_reduction_pct"].as_f64().unwrap() > 75.0);
    assert_eq!(segment(&r, "median", "elbow")["block"], "none");
    // Exactly one selected response per site.
    let selected = r["responses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["selected"] == true)
        .count();
    assert_eq!(selected, 3);
}

#[test]
fn forearm_block_and_ulnar_elbow_output_is_stable() {
    let r = check("ulnar-elbow-and-median-block");
    assert_eq!(segment(&r, "median", "wrist")["block"], "definite");
    let elbow = segment(&r, "ulnar", "below_elbow");
    assert_eq!(elbow["entrapment_site"], true);
    assert_eq!(elbow["counts_for_mmn"], false);
    assert_eq!(elbow["focal_slowing"], true);
}

#[test]
fn json_contract_field_names() {
    let r = analyze_json(
        std::path::Path::new("fixtures/median-worked-example.nwb"),
        &[],
    );
    for k in ["path", "sample_rate_hz", "channels", "duration_s"] {
        assert!(r["session"].get(k).is_some(), "session.{k}");
    }
    let row = &r["responses"][0];
    for k in [
        "stimulus_time_s",
        "nerve",
        "side",
        "site",
        "modality",
        "distance_mm",
        "channel",
        "intensity_ma",
        "present",
        "selected",
        "onset_latency_ms",
        "negative_peak_latency_ms",
        "negative_peak_amplitude_mv",
        "peak_to_peak_amplitude_mv",
        "negative_peak_area_mv_ms",
        "negative_peak_duration_ms",
        "flags",
    ] {
        assert!(row.get(k).is_some(), "responses[].{k}");
    }
    // The first stimulus is subthreshold: absent measures are null, not missing or zero.
    assert_eq!(row["present"], false);
    assert!(row["onset_latency_ms"].is_null());
    let seg = &r["segments"][0];
    for k in [
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
    ] {
        assert!(seg.get(k).is_some(), "segments[].{k}");
    }
    assert!(["definite", "probable", "none", "not_assessable"]
        .contains(&seg["block"].as_str().unwrap()));
    assert!(r["patient"].is_object());
}

#[test]
fn criteria_set_is_selectable() {
    let r = analyze_json(
        std::path::Path::new("fixtures/median-worked-example.nwb"),
        &["--criteria", "aan-1991-cidp"],
    );
    let crit = r["segments"][0]["criteria"]
        .as_str()
        .unwrap()
        .to_lowercase();
    assert!(crit.contains("aan"), "{crit}");
}

#[test]
fn table_output_names_the_verdicts() {
    let out = ncs(&["analyze", "fixtures/median-worked-example.nwb"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("definite") && text.contains("Decision support"),
        "{text}"
    );
}

/// The worked example analysed as if its electrodes were swapped (`--polarity positive-first`):
/// its CMAPs now deflect the other way from the first phase looked for, which every such
/// sweep is flagged for, and the report warns about the channel once, naming the causes.
#[test]
fn a_study_measured_the_wrong_way_up_is_warned_about() {
    let file = std::path::Path::new("fixtures/median-worked-example.nwb");
    let warns = |r: &serde_json::Value| -> Vec<String> {
        r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|w| w.as_str())
            .filter(|w| w.contains("opposite_polarity"))
            .map(str::to_owned)
            .collect()
    };
    let upright = analyze_json(file, &[]);
    assert!(warns(&upright).is_empty(), "{}", upright["warnings"]);
    let turned = analyze_json(file, &["--polarity", "positive-first"]);
    let w = warns(&turned);
    assert_eq!(w.len(), 1, "{}", turned["warnings"]);
    assert!(
        w[0].starts_with("channel 0: ") && w[0].contains("motor"),
        "{w:?}"
    );
    assert!(
        w[0].contains("swapped") && w[0].contains("--polarity"),
        "{w:?}"
    );
    let rows = turned["responses"].as_array().unwrap();
    let flagged = rows
        .iter()
        .filter(|r| {
            r["flags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == "opposite_polarity")
        })
        .count();
    assert!(2 * flagged > rows.len(), "{flagged} of {}", rows.len());
}
