//! Incremental and batch use give identical results.

use std::collections::BTreeMap;

use crate::common::{obs, resp};
use ncs_block::patient::ClinicalFindings;
use ncs_block::{
    BlockDetector, BlockSink, CollectSink, CriteriaSet, Modality, NormalValues, NullSink,
    Observation, SegmentVerdict, Study,
};

/// A session over two arms: several intensities per site (growing, then plateauing), sites
/// pushed in a clinical order, with some sensory sweeps.
fn session() -> Vec<Observation> {
    let mut out = vec![];
    let mut t = 0.0;
    let nerves = [
        (
            "median",
            "right",
            0usize,
            vec![
                ("wrist", 70.0, 5.7, 3.6),
                ("elbow", 290.0, 1.2, 7.6),
                ("upper arm", 380.0, 1.0, 9.2),
            ],
        ),
        (
            "ulnar",
            "right",
            1,
            vec![
                ("wrist", 70.0, 8.0, 3.0),
                ("BE", 280.0, 7.6, 6.8),
                ("AE", 390.0, 7.5, 8.8),
                ("axilla", 500.0, 3.0, 10.6),
            ],
        ),
        (
            "median",
            "left",
            0,
            vec![
                ("wrist", 70.0, 6.0, 3.5),
                ("elbow", 285.0, 2.0, 7.4),
                ("axilla", 445.0, 1.9, 10.2),
            ],
        ),
    ];
    for (nerve, side, ch, sites) in nerves {
        for (k, (site, dist, amp, onset)) in sites.into_iter().enumerate() {
            for (step, frac) in [(0, 0.6), (1, 0.97), (2, 1.0)] {
                let ma = 15.0 + 10.0 * step as f64;
                // Three sweeps per intensity with slightly different sizes (an odd count, so
                // the median is one sweep and the choice cannot depend on arrival order).
                for rep in [0.0, 0.01, 0.02] {
                    let a = amp * (frac - rep) * (1.0 + 0.001 * k as f64);
                    t += 1.0;
                    out.push(obs(
                        nerve,
                        side,
                        Modality::Motor,
                        ch,
                        site,
                        Some(dist),
                        Some(ma),
                        t,
                        resp(a, a * 7.2, 6.0, onset),
                    ));
                }
            }
        }
    }
    for (site, dist, onset) in [("wrist", 130.0, 2.4), ("elbow", 350.0, 6.2)] {
        for ma in [10.0, 15.0] {
            t += 1.0;
            out.push(obs(
                "median",
                "right",
                Modality::Sensory,
                2,
                site,
                Some(dist),
                Some(ma),
                t,
                resp(0.03, 0.03, 1.0, onset),
            ));
        }
    }
    out
}

fn protocol() -> Study {
    let text = std::fs::read_to_string(crate::common::crate_file("protocols/mmn-arm.toml"))
        .expect("protocol file");
    Study::from_toml_str(&text, &NormalValues::default()).expect("valid protocol")
}

/// Replays the sink's segment messages into the state they describe.
#[derive(Default)]
struct Replay {
    segs: BTreeMap<(String, String, usize, String, String), SegmentVerdict>,
    patients: usize,
}

fn key(s: &SegmentVerdict) -> (String, String, usize, String, String) {
    (
        s.nerve.clone(),
        s.side.clone(),
        s.channel,
        s.from_site.clone(),
        s.to_site.clone(),
    )
}

impl BlockSink for Replay {
    fn on_segment(&mut self, s: &SegmentVerdict) {
        self.segs.insert(key(s), s.clone());
    }
    fn on_segment_removed(&mut self, s: &SegmentVerdict) {
        assert!(
            self.segs.remove(&key(s)).is_some(),
            "removed a segment never announced"
        );
    }
    fn on_patient(&mut self, _p: &ncs_block::PatientSummary) {
        self.patients += 1;
    }
}

fn sorted(mut v: Vec<SegmentVerdict>) -> Vec<SegmentVerdict> {
    v.sort_by_key(key);
    v
}

#[test]
fn incremental_equals_batch() {
    for study in [None, Some(protocol())] {
        let findings = ClinicalFindings::from_toml_str(
            &std::fs::read_to_string(crate::common::crate_file("protocols/findings-example.toml"))
                .expect("findings file"),
        )
        .expect("findings");
        // Incremental, watching every message.
        let mut inc = BlockDetector::new(
            study.clone(),
            CriteriaSet::default(),
            NormalValues::default(),
        )
        .expect("detector");
        let mut replay = Replay::default();
        inc.set_findings(findings.clone(), &mut replay);
        let mut last_patient = None;
        for o in session() {
            let mut c = CollectSink::default();
            inc.push(o.clone(), &mut c).expect("push");
            for s in &c.segments {
                replay.on_segment(s);
            }
            for s in &c.removed {
                replay.on_segment_removed(s);
            }
            if let Some(p) = c.patients.last() {
                last_patient = Some(p.clone());
                replay.patients += 1;
            }
        }
        // Batch.
        let mut batch = BlockDetector::new(study, CriteriaSet::default(), NormalValues::default())
            .expect("detector");
        batch.push_all(session(), &mut NullSink).expect("push");

        let final_segs = inc.segments();
        assert_eq!(final_segs, batch.segments());
        assert_eq!(
            sorted(final_segs.clone()),
            replay.segs.into_values().collect::<Vec<_>>()
        );
        assert_eq!(inc.selected_indices(), batch.selected_indices());
        assert_eq!(inc.sites(), batch.sites());
        let p = batch.patient(&findings);
        assert_eq!(
            last_patient.as_ref(),
            Some(&p),
            "last on_patient equals the batch summary"
        );
        assert!(replay.patients >= 2);
        // The session has the blocks it was built with.
        let blocks: Vec<_> = final_segs
            .iter()
            .filter(|s| s.counts_for_mmn)
            .map(|s| format!("{} {} {}-{}", s.side, s.nerve, s.from_site, s.to_site))
            .collect();
        assert_eq!(
            blocks,
            [
                "right median wrist-elbow",
                "right ulnar above_elbow-axilla",
                "left median wrist-elbow"
            ],
            "{final_segs:#?}"
        );
    }
}

#[test]
fn arrival_order_does_not_change_the_verdicts() {
    let run = |obs: Vec<Observation>| {
        let mut d = BlockDetector::new(None, CriteriaSet::default(), NormalValues::default())
            .expect("detector");
        d.push_all(obs.clone(), &mut NullSink).expect("push");
        // Observation indices differ with order; compare stimulus times instead.
        let t = |i: Option<usize>| i.map(|i| obs[i].stimulus_time_s);
        sorted(d.segments())
            .into_iter()
            .map(|mut s| {
                let (a, b) = (t(s.from_observation), t(s.to_observation));
                s.from_observation = None;
                s.to_observation = None;
                (s, a, b)
            })
            .collect::<Vec<_>>()
    };
    let fwd = session();
    let mut rev = session();
    rev.reverse();
    assert_eq!(run(fwd), run(rev));
}

#[test]
fn a_site_arriving_between_two_others_replaces_their_segment() {
    let mut det = BlockDetector::new(None, CriteriaSet::default(), NormalValues::default())
        .expect("detector");
    let mut c = CollectSink::default();
    let mk = |site: &str, d: f64, t: f64| {
        obs(
            "median",
            "right",
            Modality::Motor,
            0,
            site,
            Some(d),
            Some(30.0),
            t,
            resp(5.0, 35.0, 6.0, 3.0 + d / 55.0),
        )
    };
    det.push(mk("wrist", 70.0, 0.0), &mut c).expect("push");
    det.push(mk("axilla", 450.0, 1.0), &mut c).expect("push");
    assert_eq!(c.segments.len(), 1);
    let r = det.push(mk("elbow", 290.0, 2.0), &mut c).expect("push");
    assert_eq!((r.segments_changed, r.segments_removed), (2, 1));
    assert_eq!(c.removed[0].to_site, "axilla");
    let s = det.segments();
    assert_eq!(
        s.iter()
            .map(|s| (s.from_site.as_str(), s.to_site.as_str()))
            .collect::<Vec<_>>(),
        [("wrist", "elbow"), ("elbow", "axilla")]
    );
    // Pushing a sweep that changes nothing reports nothing.
    let mut quiet = CollectSink::default();
    let r = det.push(mk("wrist", 70.0, 3.0), &mut quiet).expect("push");
    assert_eq!(r.segments_changed, 0);
    assert!(quiet.segments.is_empty());
}
