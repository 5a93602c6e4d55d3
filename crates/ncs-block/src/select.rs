//! Choosing the supramaximal response at one site.
//!
//! The rule (`clinical.md` §1: "intensity raised until the response stops growing"):
//!
//! 1. Sweeps flagged `data_gap` are never used, nor a sweep cut short (`window_truncated`)
//!    without a response in it: a response may lie beyond its end.
//! 2. Every other sweep has a size: its negative-peak area when every present sweep of the
//!    site has one, else its negative-peak amplitude; a sweep without a response has size 0.
//! 3. Sweeps at the same intensity (to 1 µA) form one step whose size is the median of its
//!    sweeps' sizes — or, when they are running averages (sensory responses, each measured on
//!    the average of the step's sweeps so far), the size of the fullest average (over the most
//!    sweeps; the latest of equals), of which the earlier ones are parts. Steps are ordered by
//!    intensity. When any sweep lacks an intensity, the
//!    intensities cannot be trusted to order the steps and every sweep is its own step in
//!    arrival order (operators raise the intensity as they go).
//! 4. The response has plateaued when there are at least two steps and the last step grew
//!    by less than the plateau growth (default 5 %) over the step before it.
//! 5. The chosen step is the largest (ties: the higher intensity); within it, the selected
//!    sweep is the one whose size is nearest the step's median (ties: the earliest). Of
//!    running averages, the chosen step is the highest with a response: a SNAP only grows with
//!    the intensity, and the few-sweep average of a ramp step is noisier than the long one
//!    taken at the plateau.
//! 6. When the response never plateaued, the largest is still chosen but flagged
//!    `possibly_submaximal`: a submaximal proximal response can fake a block.
//! 7. When no usable sweep has a response, the site has no response; the selected sweep is
//!    the one at the highest step (the most convincing absence).

use ncs_cmap::Flag;
use serde::{Deserialize, Serialize};

use crate::observation::Observation;

/// Default plateau growth: the last intensity step grew by less than 5 %.
pub const DEFAULT_PLATEAU_GROWTH: f64 = 0.05;

/// Which measure sized the sweeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeMeasure {
    /// Negative-peak area.
    NegativePeakArea,
    /// Negative-peak amplitude.
    NegativePeakAmplitude,
}

/// The outcome of the supramaximal choice at one site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// Arrival index of the selected observation (`None`: no usable sweep).
    pub selected: Option<usize>,
    /// Whether the selected sweep has a response.
    pub present: bool,
    /// The response never stopped growing with intensity.
    pub possibly_submaximal: bool,
    /// The selected sweep is saturated: its amplitude and area are lower bounds.
    pub saturated: bool,
    /// Sweeps seen at the site.
    pub sweeps: usize,
    /// Sweeps skipped because they overlap a data gap.
    pub data_gap_sweeps: usize,
    /// Intensity steps.
    pub steps: usize,
    /// Measure used to size the sweeps.
    pub size_measure: Option<SizeMeasure>,
    /// What was done and why.
    pub notes: Vec<String>,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Applies the rule in the module docs to the sweeps of one site (`(arrival index, obs)`).
pub fn select(sweeps: &[(usize, &Observation)], plateau_growth: f64) -> Selection {
    let usable: Vec<(usize, &Observation)> = sweeps
        .iter()
        .filter(|(_, o)| {
            let f = o.response.flags;
            !f.contains(Flag::DataGap) && (!f.contains(Flag::WindowTruncated) || o.response.present)
        })
        .copied()
        .collect();
    let mut sel = Selection {
        selected: None,
        present: false,
        possibly_submaximal: false,
        saturated: false,
        sweeps: sweeps.len(),
        data_gap_sweeps: sweeps.len() - usable.len(),
        steps: 0,
        size_measure: None,
        notes: vec![],
    };
    if sel.data_gap_sweeps > 0 {
        sel.notes.push(format!(
            "{} sweep(s) overlapping a data gap, or cut short without a response, never used",
            sel.data_gap_sweeps
        ));
    }
    if usable.is_empty() {
        sel.notes.push("no usable sweep at this site".to_string());
        return sel;
    }
    let present: Vec<&Observation> = usable
        .iter()
        .map(|(_, o)| *o)
        .filter(|o| o.response.present)
        .collect();
    let measure = if present
        .iter()
        .all(|o| o.response.measures.negative_peak_area_mv_ms.is_some())
    {
        SizeMeasure::NegativePeakArea
    } else {
        SizeMeasure::NegativePeakAmplitude
    };
    sel.size_measure = Some(measure);
    let size = |o: &Observation| -> f64 {
        if !o.response.present {
            return 0.0;
        }
        let m = &o.response.measures;
        match measure {
            SizeMeasure::NegativePeakArea => m.negative_peak_area_mv_ms,
            SizeMeasure::NegativePeakAmplitude => m.negative_peak_amplitude_mv,
        }
        .unwrap_or(0.0)
    };

    // Steps: (intensity key for ordering, members).
    let by_intensity = usable.iter().all(|(_, o)| o.intensity_ma.is_some());
    let mut steps: Vec<(f64, Vec<(usize, &Observation)>)> = vec![];
    if by_intensity {
        for &(i, o) in &usable {
            let key = (o.intensity_ma.unwrap_or(0.0) * 1000.0).round() / 1000.0;
            match steps.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push((i, o)),
                None => steps.push((key, vec![(i, o)])),
            }
        }
        steps.sort_by(|a, b| a.0.total_cmp(&b.0));
    } else {
        let mut ordered = usable.clone();
        ordered.sort_by(|a, b| {
            a.1.stimulus_time_s
                .total_cmp(&b.1.stimulus_time_s)
                .then(a.0.cmp(&b.0))
        });
        steps = ordered
            .into_iter()
            .enumerate()
            .map(|(k, x)| (k as f64, vec![x]))
            .collect();
        sel.notes.push(
            "some sweeps lack an intensity: each sweep is one step, in arrival order".to_string(),
        );
    }
    sel.steps = steps.len();
    let sizes: Vec<f64> = steps
        .iter()
        .map(|(_, v)| match fullest(v) {
            Some((_, o)) => size(o),
            None => median(&mut v.iter().map(|(_, o)| size(o)).collect::<Vec<_>>()),
        })
        .collect();

    let mut best = 0;
    for (k, s) in sizes.iter().enumerate() {
        if *s >= sizes[best] {
            best = k;
        }
    }
    // Rule 5, running averages: the highest step with a response. A SNAP only grows with the
    // intensity, and its average at a step of a few sweeps is noisier (its peak biased up by
    // the noise) than the long average taken once the plateau is reached.
    let averaged = steps.iter().any(|(_, v)| fullest(v).is_some());
    if averaged {
        if let Some(k) = sizes.iter().rposition(|&s| s > 0.0) {
            best = k;
        }
    }
    let best_size = sizes[best];
    let members = &steps[best].1;
    let mut pick = members[0];
    let mut pick_d = f64::INFINITY;
    for &(i, o) in members {
        let d = (size(o) - best_size).abs();
        if d < pick_d || (d == pick_d && i < pick.0) {
            pick = (i, o);
            pick_d = d;
        }
    }
    if let Some(f) = fullest(members) {
        pick = f;
    }
    sel.selected = Some(pick.0);
    sel.present = pick.1.response.present && best_size > 0.0;
    let unit = match measure {
        SizeMeasure::NegativePeakArea => "mV·ms (area)",
        SizeMeasure::NegativePeakAmplitude => "mV (amplitude)",
    };
    if !sel.present {
        // Rule 7: the absence at the highest step is the most convincing one.
        let last = &steps[steps.len() - 1].1;
        sel.selected = last.last().map(|(i, _)| *i);
        sel.notes.push(format!(
            "no response in {} usable sweep(s) over {} step(s)",
            usable.len(),
            steps.len()
        ));
        return sel;
    }
    let n = sizes.len();
    let plateau = n >= 2 && sizes[n - 1] < (1.0 + plateau_growth) * sizes[n - 2];
    if plateau {
        sel.notes.push(format!(
            "supramaximal: the last step grew {:+.1} % (< {:.0} %) over the one before; chose the {} ({best_size:.3} {unit}, {} of {} sweep(s))",
            growth_pct(sizes[n - 2], sizes[n - 1]),
            plateau_growth * 100.0,
            if averaged { "highest step with a response" } else { "largest step" },
            if averaged { "average" } else { "median" },
            if averaged { pick.1.averaged_sweeps } else { members.len() }
        ));
    } else {
        sel.possibly_submaximal = true;
        if n < 2 {
            sel.notes.push(format!(
                "possibly submaximal: only one intensity step, so no plateau could be seen; kept {best_size:.3} {unit}"
            ));
        } else {
            sel.notes.push(format!(
                "possibly submaximal: the last step still grew {:+.1} % (≥ {:.0} %); kept the {} ({best_size:.3} {unit})",
                growth_pct(sizes[n - 2], sizes[n - 1]),
                plateau_growth * 100.0,
                if averaged { "highest step with a response" } else { "largest" }
            ));
        }
    }
    if pick.1.response.flags.contains(Flag::Saturated) {
        sel.saturated = true;
        sel.notes.push(
            "selected sweep is saturated: its amplitude and area are lower bounds".to_string(),
        );
    }
    sel
}

/// The fullest average of a step whose responses are running averages (module docs, rule 3).
fn fullest<'a>(step: &[(usize, &'a Observation)]) -> Option<(usize, &'a Observation)> {
    if step.iter().all(|(_, o)| o.averaged_sweeps <= 1) {
        return None;
    }
    step.iter().copied().max_by(|a, b| {
        (a.1.averaged_sweeps.cmp(&b.1.averaged_sweeps))
            .then(a.1.stimulus_time_s.total_cmp(&b.1.stimulus_time_s))
    })
}

fn growth_pct(prev: f64, last: f64) -> f64 {
    if prev > 0.0 {
        (last / prev - 1.0) * 100.0
    } else {
        f64::INFINITY
    }
}
