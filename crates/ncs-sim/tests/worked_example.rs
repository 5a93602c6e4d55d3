//! The `median-worked-example` scenario reproduces clinical.md §3.

use ncs_sim::{scenario, StudySource, TrueMeasures};

/// TRUE measures of the last (supramaximal) stimulus at each site of nerve 0.
pub fn supramaximal_by_site(src: &StudySource, nerve: usize) -> Vec<TrueMeasures> {
    let st = src.stimuli();
    let sites = src.scenario().nerves[nerve].sites.len();
    (0..sites)
        .map(|site| {
            let k = st
                .iter()
                .rposition(|s| s.nerve_index == nerve && s.site_index == site)
                .expect("site stimulated");
            assert!(st[k].supramaximal);
            src.truth(k)
                .expect("stimulus")
                .measures
                .expect("a response")
        })
        .collect()
}

#[test]
fn amplitudes_and_areas_match_within_two_percent() {
    let src = StudySource::new(&scenario("median-worked-example").expect("builtin")).expect("ok");
    let m = supramaximal_by_site(&src, 0);
    let want = [(5.7, 41.5), (1.2, 8.2), (1.0, 7.4)];
    for (i, (t, (amp, area))) in m.iter().zip(want).enumerate() {
        let ea = t.negative_peak_amplitude_mv / amp - 1.0;
        let er = t.negative_peak_area_mv_ms / area - 1.0;
        assert!(
            ea.abs() <= 0.02,
            "site {i}: amplitude {} vs {amp}",
            t.negative_peak_amplitude_mv
        );
        assert!(
            er.abs() <= 0.02,
            "site {i}: area {} vs {area}",
            t.negative_peak_area_mv_ms
        );
    }
    // Forearm: area −80 % with a duration increase ≤ 30 % (a definite block).
    let area_drop = 1.0 - m[1].negative_peak_area_mv_ms / m[0].negative_peak_area_mv_ms;
    let dur_inc = m[1].negative_peak_duration_ms / m[0].negative_peak_duration_ms - 1.0;
    assert!(
        area_drop >= 0.5 && dur_inc <= 0.3,
        "drop {area_drop} increase {dur_inc}"
    );
    // Above the elbow: a small further drop only.
    let area_drop2 = 1.0 - m[2].negative_peak_area_mv_ms / m[1].negative_peak_area_mv_ms;
    assert!(
        area_drop2 < 0.2 && area_drop2 > 0.0,
        "upper drop {area_drop2}"
    );
    // Latencies grow with distance; the wrist onset is a median distal latency.
    assert!((3.0..4.4).contains(&m[0].onset_latency_ms));
    assert!(m[0].onset_latency_ms < m[1].onset_latency_ms);
    assert!(m[1].onset_latency_ms < m[2].onset_latency_ms);
}
