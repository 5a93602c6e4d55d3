//! The simulated amplifier: an `ncs_sim` study streamed block by block, paced in real time
//! (or faster), with a stimulus mark for every stimulus of the study.

use ncs_block::Modality;
use ncs_sim::{Scenario, StudySource};

use ncs_block::names::{canonical_nerve, canonical_side, canonical_site};

use crate::source::{
    FireRequest, ReadOutcome, Source, SourceError, SourceInfo, StimulusMark, StimulusTag,
};

use super::{Pace, Pacer};

/// Where an electrode can be placed on a simulated patient: (canonical nerve, side, site) and
/// the (nerve, site) indices in the scenario.
type Place = ((String, String, String), (usize, usize));

/// A simulated study as a [`Source`]. Tag `k` describes stimulus `k` of the study.
///
/// Reading allocates nothing once started: the simulator plays each stimulus's response from
/// window buffers it keeps ready, as an amplifier's driver would fill its own.
#[derive(Debug)]
pub struct SimSource {
    study: StudySource,
    info: SourceInfo,
    tags: Vec<StimulusTag>,
    marks: Vec<u64>,
    next_mark: usize,
    pacer: Pacer,
    /// On demand: the scenario's (canonical nerve, side, site) per (nerve, site) index, to
    /// find where the examiner placed the electrode; `None` for a planned study.
    on_demand: Option<Vec<Place>>,
    /// Marks of fired stimuli not yet delivered: (frame, intensity µA).
    fired: std::collections::VecDeque<(u64, u32)>,
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
            on_demand: None,
            fired: std::collections::VecDeque::new(),
        })
    }

    /// A simulated patient with the scenario's nerves, `seconds` long, on whom nothing is
    /// stimulated until the examiner fires ([`Source::fire`]): the response comes from the
    /// nerve and site the request names as the electrode's placement (names compared in
    /// canonical form), or is only an artefact when no nerve of the scenario is there.
    pub fn on_demand(scenario: &Scenario, pace: Pace, seconds: f64) -> Result<Self, SourceError> {
        if !(seconds.is_finite() && seconds > 0.0) {
            return Err(SourceError::Failed(format!(
                "a simulated patient must last > 0 s, got {seconds}"
            )));
        }
        let mut s = Self::new(scenario, pace)?;
        let frames = (seconds * s.info.sample_rate_hz).round() as u64;
        s.study = StudySource::on_demand(scenario, frames)
            .map_err(|e| SourceError::Failed(format!("scenario {:?}: {e}", scenario.name)))?;
        s.tags.clear();
        s.marks.clear();
        s.info.description = format!("simulated patient, scenario {}", scenario.name);
        let mut places = Vec::new();
        for (ni, n) in scenario.nerves.iter().enumerate() {
            for (si, site) in n.sites.iter().enumerate() {
                let key = (
                    canonical_nerve(&n.name),
                    canonical_side(&side_name(n.side)),
                    canonical_site(&site.name),
                );
                places.push((key, (ni, si)));
            }
        }
        s.on_demand = Some(places);
        s.fired = std::collections::VecDeque::with_capacity(64);
        Ok(s)
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

    /// The scenario (TOML) the simulated amplifier plays: its nerves, sites, distances,
    /// pathology, noise and seed, which reproduce every sample.
    fn provenance(&self) -> Vec<(String, String)> {
        match self.study.scenario().to_toml_string() {
            Ok(toml) => vec![("scenario".to_owned(), toml)],
            Err(_) => Vec::new(),
        }
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
        while let Some(&(at, ua)) = self.fired.front() {
            if at >= end {
                break;
            }
            self.fired.pop_front();
            if marks.len() < marks.capacity() {
                let mut m = StimulusMark::new(at, None);
                m.intensity_ua = Some(ua);
                marks.push(m);
            }
        }
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

    fn can_fire(&self) -> bool {
        self.on_demand.is_some()
    }

    fn fire(&mut self, request: &FireRequest<'_>) -> Result<(), SourceError> {
        let Some(places) = &self.on_demand else {
            return Err(SourceError::Failed(format!(
                "{} plays a planned study: it cannot fire",
                self.info.description
            )));
        };
        if !(request.intensity_ma.is_finite() && request.intensity_ma >= 0.0) {
            return Err(SourceError::Failed(format!(
                "stimulus intensity must be a number of mA >= 0, got {}",
                request.intensity_ma
            )));
        }
        // Names in tags are canonical already (a validated protocol); compared as they are.
        let target = request.placement.and_then(|t| {
            let (n, sd, st) = (t.nerve.as_deref()?, t.side.as_deref()?, t.site.as_deref()?);
            places
                .iter()
                .find(|((pn, ps, pt), _)| pn == n && ps == sd && pt == st)
                .map(|(_, idx)| *idx)
        });
        let channel = request.placement.and_then(|t| t.channel).unwrap_or(0);
        // Not before half a second into the stream: a sweep needs its pre-stimulus baseline.
        let lead = (0.5 * self.info.sample_rate_hz) as u64;
        let at = self.study.position().max(lead);
        self.study
            .fire_at(at, target, channel, request.intensity_ma);
        if self.fired.len() < self.fired.capacity() {
            self.fired
                .push_back((at, (request.intensity_ma * 1000.0).round() as u32));
        }
        Ok(())
    }
}
