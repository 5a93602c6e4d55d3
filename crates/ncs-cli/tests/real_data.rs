//! Recordings made by others on real hardware (`../shared/data`, see its README).

use crate::common::*;

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn motometrics_responses_grow_with_intensity_to_a_plateau() {
    for k in 1..=3 {
        let r = analyze_json(
            &shared_data().join(format!("motometrics_biceps_{k}.nwb")),
            &[],
        );
        let rows = r["responses"].as_array().unwrap();
        assert_eq!(rows.len(), 60, "file {k}");
        // 6 intensities × 10 sweeps, in order.
        let mut levels: Vec<(f64, Vec<f64>, usize)> = Vec::new();
        for x in rows {
            let i = x["intensity_ma"].as_f64().unwrap();
            if levels.last().is_none_or(|l| l.0 != i) {
                levels.push((i, Vec::new(), 0));
            }
            let l = levels.last_mut().unwrap();
            l.1.push(x["peak_to_peak_amplitude_mv"].as_f64().unwrap_or(0.0));
            l.2 += usize::from(x["present"] == true);
        }
        assert_eq!(levels.len(), 6, "file {k}");
        let means: Vec<f64> = levels.iter().map(|l| mean(&l.1)).collect();
        // A response in every sweep at the three highest intensities.
        for l in &levels[3..] {
            assert_eq!(l.2, 10, "file {k}: intensity {} has {} responses", l.0, l.2);
        }
        // Growth: the plateau is far above the lowest intensity, and flat within ±40 %.
        let top = &means[3..];
        let (lo, hi) = top
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
        assert!(lo > 5.0 * means[0].max(1e-6), "file {k}: means {means:?}");
        assert!(hi / lo < 1.4, "file {k}: no plateau in {means:?}");
        assert!(
            means[2] > means[1] && means[1] >= means[0],
            "file {k}: no growth in {means:?}"
        );
        // The supramaximal choice lands on the plateau.
        let sel: Vec<f64> = rows
            .iter()
            .filter(|x| x["selected"] == true)
            .map(|x| x["intensity_ma"].as_f64().unwrap())
            .collect();
        assert_eq!(sel.len(), 1, "file {k}");
        assert!(sel[0] >= levels[2].0, "file {k}: selected {sel:?}");
    }
}

#[test]
fn needle_emg_without_stimuli_gives_no_response_and_clipping_is_flagged() {
    for (name, saturated) in [
        ("healthy", false),
        ("myopathy", false),
        ("neuropathy", true),
    ] {
        let r = analyze_json(&shared_data().join(format!("emgdb_{name}.nwb")), &[]);
        assert_eq!(
            r["responses"].as_array().unwrap().len(),
            0,
            "{name}: no stimulus may be found"
        );
        let sat = r["session"]["saturated_channels"].as_array().unwrap();
        assert_eq!(!sat.is_empty(), saturated, "{name}: {sat:?}");
        assert!(r["assumptions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a.as_str().unwrap().contains("no stimuli table")));
    }
}
