//! A protocol as the sequence of steps an examiner goes through: nerve by nerve, each nerve
//! from its distal site to its proximal one, as the protocol file lists them.

use ncs_block::{IntensityPlan, Modality, Study};
use ncs_runtime::StimulusTag;
use serde::Serialize;

/// One step of a study: one stimulation site of one nerve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Position in the study (0-based).
    pub index: usize,
    /// Nerve (canonical name).
    pub nerve: String,
    /// Side.
    pub side: String,
    /// Motor or sensory.
    pub modality: Modality,
    /// Site (canonical name).
    pub site: String,
    /// Recording muscle or site.
    pub recording: String,
    /// Channel recording the response.
    pub channel: usize,
    /// Distance from the site to the active electrode (mm), as the protocol gives it before
    /// the examiner measures it.
    pub distance_mm: f64,
    /// How the intensity is chosen.
    pub intensity: IntensityPlan,
    /// Sweeps to record once supramaximal (motor) or to average (sensory).
    pub sweeps: u32,
}

impl Step {
    /// `right median motor wrist`.
    pub fn label(&self) -> String {
        format!(
            "{} {} {} {}",
            self.side,
            self.nerve,
            self.modality,
            self.site.replace('_', " ")
        )
    }

    /// The stimulus description the pipeline attaches to stimuli of this step.
    pub fn tag(&self) -> StimulusTag {
        StimulusTag {
            nerve: Some(self.nerve.clone()),
            side: Some(self.side.clone()),
            site: Some(self.site.clone()),
            modality: Some(self.modality),
            distance_mm: Some(self.distance_mm),
            channel: Some(self.channel),
            intensity_ma: None,
        }
    }

    /// Whether `other` stimulates the same place (nerve, side, site).
    pub fn same_site(&self, other: &Step) -> bool {
        self.nerve == other.nerve && self.side == other.side && self.site == other.site
    }
}

/// The steps of a validated study, in protocol order.
pub fn steps(study: &Study) -> Vec<Step> {
    let mut out = Vec::new();
    for (ni, n) in study.nerves.iter().enumerate() {
        for (si, s) in n.sites.iter().enumerate() {
            out.push(Step {
                index: out.len(),
                nerve: n.name.clone(),
                side: n.side.clone(),
                modality: n.modality,
                site: s.name.clone(),
                recording: n.recording.clone(),
                channel: n.channel,
                distance_mm: s.distance_mm,
                intensity: study.intensity_plan(ni, si),
                sweeps: study.sweeps(ni, si),
            });
        }
    }
    out
}
