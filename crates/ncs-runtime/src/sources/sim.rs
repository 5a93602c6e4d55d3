//! The simulated amplifier: an `ncs_sim` study streamed block by block, paced in real time
//! (or faster), with a stimulus mark for every stimulus of the study.

use ncs_block::Modality;
use ncs_sim::{Scenario, StudySource};

use crate::source::{ReadOutcome, Source, SourceError, SourceInfo, StimulusMark, StimulusTag};

use super::{Pace, Pacer};

/// A simulated study as a [`Source`]. Tag `k` describes stimulus `k` of the study.
///
/// The simulator renders each stimulus's response when its window starts, which allocates
/// (once per stimulus, on the thread that reads); a hardware amplifier's driver does its own
/// buffering the same way, outside the pipeline's allocation-free threads' control.
#[derive(Debug)]
pub struct SimSource {
    study: StudySource,
    info: SourceInfo,
    tags: Vec<StimulusTag>,
    marks: Vec<u64>,
    next_mark: usize,
    pacer: Pacer,
}

impl SimSource {
    /// Streams `scenario` at `pace`.
    pub fn new(scenario: &Scenario, pace: Pace) -> Result<Self, SourceError> {
        let study = StudySource::new(scenario)
            .map_err(|e| SourceError::Failed(format!("scenario {:?}: {e}", scenario.name)))?;
        let mut channel_names: Vec<String> =
            (0..scenario.channels).map(|c| format!("ch{c}")).collect();
        if scenario.trigger_channel {
            channel_names.push("trigger".to_owned());
        }
        let info = SourceInfo {
            sample_rate_hz: study.sample_rate_hz(),
            channels: study.channel_count(),
            channel_names,
            starting_time_s: 0.0,
            description: format!("simulated amplifier, scenario {}", scenario.name),
        };
        let tags = study
            .stimuli()
            .iter()
            .map(|s| StimulusTag {
                nerve: Some(s.nerve.clone()),
                side: Some(side_name(s.side)),
                site: Some(s.site.clone()),
                modality: Some(match s.modality {
                    ncs_sim::Modality::Motor => Modality::Motor,
                    ncs_sim::Modality::Sensory => Modality::Sensory,
                }),
                distance_mm: Some(s.distance_mm),
                channel: Some(s.channel),
                intensity_ma: Some(s.intensity_ma),
            })
            .collect();
        let marks = study.stimuli().iter().map(|s| s.sample_index).collect();
        let pacer = Pacer::new(pace, info.sample_rate_hz);
        Ok(SimSource {
            study,
            info,
            tags,
            marks,
            next_mark: 0,
            pacer,
        })
    }

    /// The built-in scenario `name` at `pace`.
    pub fn named(name: &str, pace: Pace) -> Result<Self, SourceError> {
        let sc = ncs_sim::scenario(name).map_err(|e| SourceError::Failed(e.to_string()))?;
        Self::new(&sc, pace)
    }

    /// The underlying study (stimuli, ground truth).
    pub fn study(&self) -> &StudySource {
        &self.study
    }

    /// Length of the study in frames.
    pub fn total_frames(&self) -> u64 {
        self.study.total_frames()
    }
}

fn side_name(s: ncs_sim::Side) -> String {
    match s {
        ncs_sim::Side::Left => "left",
        ncs_sim::Side::Right => "right",
    }
    .to_owned()
}

impl Source for SimSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn tags(&self) -> &[StimulusTag] {
        &self.tags
    }

    fn read(
        &mut self,
        out: &mut [f32],
        marks: &mut Vec<StimulusMark>,
    ) -> Result<ReadOutcome, SourceError> {
        let ch = self.info.channels;
        let want = (out.len() / ch).min(self.pacer.max_frames());
        let first = self.study.position();
        let n = self.study.fill(&mut out[..want * ch]);
        if n == 0 {
            return Ok(ReadOutcome::End);
        }
        let end = first + n as u64;
        while let Some(&s) = self.marks.get(self.next_mark) {
            if s >= end {
                break;
            }
            if marks.len() < marks.capacity() {
                marks.push(StimulusMark::new(s, Some(self.next_mark as u32)));
            }
            self.next_mark += 1;
        }
        self.pacer.wait_until(first, end);
        Ok(ReadOutcome::Frames {
            first_sample: first,
            frames: n,
        })
    }
}
