//! The streaming detector: observations in, site/segment/patient verdicts out to a sink.
//!
//! Timing contract: `push` does work proportional to the sweeps of the touched site plus the
//! sites of the touched nerve (tens at most in a clinical study), so it returns well before
//! the next stimulus (≥ 0.5 s at the usual 1 Hz stimulation). It allocates; it runs on the
//! analysis thread, not on the sample path.

use ncs_cmap::Response;
use serde::{Deserialize, Serialize};

use crate::criteria::CriteriaSet;
use crate::names::{canonical_nerve, canonical_side, canonical_site, nerve_limb, site_level, Limb};
use crate::normals::NormalValues;
use crate::observation::{Observation, ObservationError};
use crate::patient::{ClinicalFindings, PatientSummary};
use crate::segment::{evaluate, DetectorOptions, SegmentContext, SegmentVerdict, SiteEnd};
use crate::select::{select, Selection};
use crate::study::{Modality, Study, StudyError};

/// Receives verdicts as they change. Every method has a no-op default.
pub trait BlockSink {
    /// A site's supramaximal choice changed (or was made for the first time).
    fn on_site(&mut self, _site: &SiteVerdict) {}
    /// A segment verdict is new or changed.
    fn on_segment(&mut self, _segment: &SegmentVerdict) {}
    /// A segment no longer exists (a site arrived between its two ends; a long segment over
    /// that site keeps the same ends and is reported by `on_segment` with its new `spans`).
    fn on_segment_removed(&mut self, _segment: &SegmentVerdict) {}
    /// The patient summary changed (only when the detector holds clinical findings).
    fn on_patient(&mut self, _patient: &PatientSummary) {}
}

/// A sink that ignores everything (batch use: push all, then read).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;
impl BlockSink for NullSink {}

/// A sink that records every call, in order.
#[derive(Debug, Default, Clone)]
pub struct CollectSink {
    /// Site updates.
    pub sites: Vec<SiteVerdict>,
    /// Segment updates.
    pub segments: Vec<SegmentVerdict>,
    /// Removed segments.
    pub removed: Vec<SegmentVerdict>,
    /// Patient updates.
    pub patients: Vec<PatientSummary>,
}

impl BlockSink for CollectSink {
    fn on_site(&mut self, s: &SiteVerdict) {
        self.sites.push(s.clone());
    }
    fn on_segment(&mut self, s: &SegmentVerdict) {
        self.segments.push(s.clone());
    }
    fn on_segment_removed(&mut self, s: &SegmentVerdict) {
        self.removed.push(s.clone());
    }
    fn on_patient(&mut self, p: &PatientSummary) {
        self.patients.push(p.clone());
    }
}

/// The state of one site: its supramaximal choice and the selected response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteVerdict {
    /// Canonical nerve.
    pub nerve: String,
    /// Canonical side.
    pub side: String,
    /// Modality.
    pub modality: Modality,
    /// Channel.
    pub channel: usize,
    /// Canonical site.
    pub site: String,
    /// Distance to the active electrode (mm).
    pub distance_mm: Option<f64>,
    /// The supramaximal choice.
    pub selection: Selection,
    /// Stimulus time of the selected observation (s).
    pub stimulus_time_s: Option<f64>,
    /// Intensity of the selected observation (mA).
    pub intensity_ma: Option<f64>,
    /// The selected response.
    pub response: Option<Response>,
}

#[derive(Debug, Clone)]
struct SiteState {
    name: String,
    distance_mm: Option<f64>,
    obs: Vec<usize>,
    verdict: Option<SiteVerdict>,
}

#[derive(Debug, Clone)]
struct NerveState {
    nerve: String,
    side: String,
    modality: Modality,
    channel: usize,
    sites: Vec<SiteState>,
    segments: Vec<SegmentVerdict>,
}

/// Two sites of a nerve to form a segment from.
struct Pair<'a> {
    distal: &'a SiteState,
    proximal: &'a SiteState,
    /// The distal end is the nerve's most distal site.
    first: bool,
    /// Why the segment cannot be graded (a site has no distance).
    why: Option<String>,
    /// Intermediate sites of a long segment.
    spans: Vec<String>,
}

/// What one `push` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushReport {
    /// Arrival index given to the observation.
    pub index: usize,
    /// Segment verdicts that are new or changed.
    pub segments_changed: usize,
    /// Segment verdicts removed.
    pub segments_removed: usize,
}

/// The detector cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum DetectorError {
    /// The study does not validate against the normal values.
    #[error(transparent)]
    Study(#[from] StudyError),
    /// An option is out of range.
    #[error("detector option plateau_growth must be a finite number in (0, 1), got {0}")]
    PlateauGrowth(f64),
}

/// Streaming conduction-block detector. Batch use is the same code: push everything, then
/// read [`BlockDetector::segments`] and [`BlockDetector::patient`].
#[derive(Debug, Clone)]
pub struct BlockDetector {
    study: Option<Study>,
    criteria: CriteriaSet,
    normals: NormalValues,
    options: DetectorOptions,
    observations: Vec<Observation>,
    nerves: Vec<NerveState>,
    findings: Option<ClinicalFindings>,
    patient: Option<PatientSummary>,
}

impl BlockDetector {
    /// A detector for a study protocol (validated here against `normals`) or, with `None`,
    /// one that discovers nerves and sites from the observations.
    pub fn new(
        study: Option<Study>,
        criteria: CriteriaSet,
        normals: NormalValues,
    ) -> Result<Self, DetectorError> {
        Self::with_options(study, criteria, normals, DetectorOptions::default())
    }

    /// As [`BlockDetector::new`], with options.
    pub fn with_options(
        study: Option<Study>,
        criteria: CriteriaSet,
        normals: NormalValues,
        options: DetectorOptions,
    ) -> Result<Self, DetectorError> {
        if !(options.plateau_growth.is_finite()
            && options.plateau_growth > 0.0
            && options.plateau_growth < 1.0)
        {
            return Err(DetectorError::PlateauGrowth(options.plateau_growth));
        }
        let study = study.map(|s| s.validated(&normals)).transpose()?;
        let nerves = study
            .as_ref()
            .map(|s| {
                s.nerves
                    .iter()
                    .map(|n| NerveState {
                        nerve: n.name.clone(),
                        side: n.side.clone(),
                        modality: n.modality,
                        channel: n.channel,
                        sites: n
                            .sites
                            .iter()
                            .map(|s| SiteState {
                                name: s.name.clone(),
                                distance_mm: Some(s.distance_mm),
                                obs: vec![],
                                verdict: None,
                            })
                            .collect(),
                        segments: vec![],
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(BlockDetector {
            study,
            criteria,
            normals,
            options,
            observations: vec![],
            nerves,
            findings: None,
            patient: None,
        })
    }

    /// Holds clinical findings so that every `push` also updates the patient summary and
    /// reports it to the sink when it changes.
    pub fn set_findings(&mut self, findings: ClinicalFindings, sink: &mut dyn BlockSink) {
        self.findings = Some(findings);
        self.update_patient(sink);
    }

    /// The criteria set in use.
    pub fn criteria(&self) -> &CriteriaSet {
        &self.criteria
    }

    /// The normal values in use.
    pub fn normals(&self) -> &NormalValues {
        &self.normals
    }

    /// The study protocol, if one was given.
    pub fn study(&self) -> Option<&Study> {
        self.study.as_ref()
    }

    /// Every observation pushed, in arrival order (index = arrival index).
    pub fn observations(&self) -> &[Observation] {
        &self.observations
    }

    /// Adds one observation, updates the verdicts it affects and reports the changes to the
    /// sink. An observation that cannot be used is an error and changes nothing.
    pub fn push(
        &mut self,
        obs: Observation,
        sink: &mut dyn BlockSink,
    ) -> Result<PushReport, ObservationError> {
        obs.check()?;
        let nerve = canonical_nerve(&obs.nerve);
        let side = canonical_side(&obs.side);
        let site = canonical_site(&obs.site);
        let label = format!("{side} {nerve} {} ch{}", obs.modality, obs.channel);
        let ni = match self.nerves.iter().position(|n| {
            n.nerve == nerve
                && n.side == side
                && n.modality == obs.modality
                && n.channel == obs.channel
        }) {
            Some(i) => i,
            None if self.study.is_some() => {
                return Err(ObservationError::NerveNotInStudy {
                    nerve: label,
                    known: self
                        .study
                        .iter()
                        .flat_map(|s| s.nerves.iter().map(|n| n.label()))
                        .collect(),
                })
            }
            None => {
                self.nerves.push(NerveState {
                    nerve: nerve.clone(),
                    side: side.clone(),
                    modality: obs.modality,
                    channel: obs.channel,
                    sites: vec![],
                    segments: vec![],
                });
                self.nerves.len() - 1
            }
        };
        let discovering = self.study.is_none();
        let n = &mut self.nerves[ni];
        let si = match n.sites.iter().position(|s| s.name == site) {
            Some(i) => i,
            None if !discovering => {
                return Err(ObservationError::SiteNotInStudy {
                    site,
                    nerve: label,
                    known: n.sites.iter().map(|s| s.name.clone()).collect(),
                })
            }
            None => {
                n.sites.push(SiteState {
                    name: site.clone(),
                    distance_mm: None,
                    obs: vec![],
                    verdict: None,
                });
                n.sites.len() - 1
            }
        };
        // Without a protocol the first distance reported for a site places it.
        if discovering && n.sites[si].distance_mm.is_none() {
            n.sites[si].distance_mm = obs.distance_mm;
        }
        let index = self.observations.len();
        self.observations.push(obs);
        self.nerves[ni].sites[si].obs.push(index);

        self.update_site(ni, si, sink);
        let (changed, removed) = self.update_segments(ni, sink);
        if changed + removed > 0 || self.nerves[ni].modality == Modality::Sensory {
            self.update_patient(sink);
        }
        Ok(PushReport {
            index,
            segments_changed: changed,
            segments_removed: removed,
        })
    }

    /// Pushes every observation in order; stops at the first unusable one.
    pub fn push_all<I: IntoIterator<Item = Observation>>(
        &mut self,
        observations: I,
        sink: &mut dyn BlockSink,
    ) -> Result<(), ObservationError> {
        for o in observations {
            self.push(o, sink)?;
        }
        Ok(())
    }

    fn update_site(&mut self, ni: usize, si: usize, sink: &mut dyn BlockSink) {
        let n = &self.nerves[ni];
        let s = &n.sites[si];
        let sweeps: Vec<(usize, &Observation)> =
            s.obs.iter().map(|&i| (i, &self.observations[i])).collect();
        let selection = select(&sweeps, self.options.plateau_growth);
        let chosen = selection.selected.map(|i| &self.observations[i]);
        let verdict = SiteVerdict {
            nerve: n.nerve.clone(),
            side: n.side.clone(),
            modality: n.modality,
            channel: n.channel,
            site: s.name.clone(),
            distance_mm: s.distance_mm,
            stimulus_time_s: chosen.map(|o| o.stimulus_time_s),
            intensity_ma: chosen.and_then(|o| o.intensity_ma),
            response: chosen.map(|o| o.response),
            selection,
        };
        let s = &mut self.nerves[ni].sites[si];
        if s.verdict.as_ref() != Some(&verdict) {
            sink.on_site(&verdict);
            s.verdict = Some(verdict);
        }
    }

    fn compute_segments(&self, n: &NerveState) -> Vec<SegmentVerdict> {
        let mut placed: Vec<&SiteState> = n
            .sites
            .iter()
            .filter(|s| s.verdict.is_some() && s.distance_mm.is_some())
            .collect();
        placed.sort_by(|a, b| {
            a.distance_mm
                .unwrap_or(0.0)
                .total_cmp(&b.distance_mm.unwrap_or(0.0))
                .then(a.name.cmp(&b.name))
        });
        let unplaced: Vec<&SiteState> = n
            .sites
            .iter()
            .filter(|s| s.verdict.is_some() && s.distance_mm.is_none())
            .collect();
        let end = |s: &'_ SiteState| -> Option<(String, Option<f64>, Selection, Option<Response>)> {
            let v = s.verdict.as_ref()?;
            Some((
                s.name.clone(),
                s.distance_mm,
                v.selection.clone(),
                v.response,
            ))
        };
        let mut out = vec![];
        let mut pairs: Vec<Pair<'_>> = placed
            .windows(2)
            .enumerate()
            .map(|(k, w)| Pair {
                distal: w[0],
                proximal: w[1],
                first: k == 0,
                why: None,
                spans: vec![],
            })
            .collect();
        for (di, pi) in long_spans(&self.criteria, &n.nerve, &placed) {
            // A long segment is graded as a whole besides the short segments it spans; it is
            // not the nerve's first segment for distal-duration rules, so a distal finding is
            // reported once.
            let spans = placed[di + 1..pi].iter().map(|s| s.name.clone()).collect();
            pairs.push(Pair {
                distal: placed[di],
                proximal: placed[pi],
                first: false,
                why: None,
                spans,
            });
        }
        for u in &unplaced {
            // A site without a distance cannot be placed along the nerve; it is compared
            // with the most distal placed site (or the first other site) so its numbers are
            // still shown, but it is never graded.
            let reference = match placed.first() {
                Some(f) => Some(*f),
                None => unplaced.first().filter(|f| f.name != u.name).copied(),
            };
            if let Some(r) = reference {
                pairs.push(Pair {
                    distal: r,
                    proximal: u,
                    first: false,
                    why: Some(format!(
                        "site {:?} has no distance_mm: its place along the nerve is unknown, so it cannot form a segment",
                        u.name
                    )),
                    spans: vec![],
                });
            }
        }
        for Pair {
            distal: d,
            proximal: p,
            first,
            why,
            spans,
        } in pairs
        {
            let (Some(de), Some(pe)) = (end(d), end(p)) else {
                continue;
            };
            let ctx = SegmentContext {
                nerve: &n.nerve,
                side: &n.side,
                modality: n.modality,
                channel: n.channel,
                distal_is_first: first,
                unplaceable: why.as_deref(),
                spans: &spans,
            };
            let dist = SiteEnd {
                name: &de.0,
                distance_mm: de.1,
                selection: &de.2,
                response: de.3.as_ref(),
            };
            let prox = SiteEnd {
                name: &pe.0,
                distance_mm: pe.1,
                selection: &pe.2,
                response: pe.3.as_ref(),
            };
            out.push(evaluate(
                &ctx,
                &dist,
                &prox,
                &self.criteria,
                &self.normals,
                &self.options,
            ));
        }
        out
    }

    fn update_segments(&mut self, ni: usize, sink: &mut dyn BlockSink) -> (usize, usize) {
        let new = self.compute_segments(&self.nerves[ni]);
        let old = std::mem::take(&mut self.nerves[ni].segments);
        let same_key = |a: &SegmentVerdict, b: &SegmentVerdict| {
            a.from_site == b.from_site && a.to_site == b.to_site
        };
        let mut removed = 0;
        for o in &old {
            if !new.iter().any(|x| same_key(x, o)) {
                sink.on_segment_removed(o);
                removed += 1;
            }
        }
        let mut changed = 0;
        for x in &new {
            if !old.iter().any(|o| o == x) {
                sink.on_segment(x);
                changed += 1;
            }
        }
        self.nerves[ni].segments = new;
        (changed, removed)
    }

    fn update_patient(&mut self, sink: &mut dyn BlockSink) {
        let Some(f) = &self.findings else { return };
        let p = self.patient(f);
        if self.patient.as_ref() != Some(&p) {
            sink.on_patient(&p);
            self.patient = Some(p);
        }
    }

    /// Every current segment verdict, nerve by nerve in first-seen (or protocol) order,
    /// distal to proximal.
    pub fn segments(&self) -> Vec<SegmentVerdict> {
        self.nerves
            .iter()
            .flat_map(|n| n.segments.iter().cloned())
            .collect()
    }

    /// Every site with at least one observation.
    pub fn sites(&self) -> Vec<SiteVerdict> {
        self.nerves
            .iter()
            .flat_map(|n| n.sites.iter().filter_map(|s| s.verdict.clone()))
            .collect()
    }

    /// Arrival indices of the selected (supramaximal) observations, ascending.
    pub fn selected_indices(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .nerves
            .iter()
            .flat_map(|n| n.sites.iter())
            .filter_map(|s| s.verdict.as_ref()?.selection.selected)
            .collect();
        v.sort_unstable();
        v
    }

    /// Whether the observation with this arrival index is a selected one.
    pub fn is_selected(&self, index: usize) -> bool {
        self.selected_indices().binary_search(&index).is_ok()
    }

    /// Arrival index of the selected observation at a site (any spelling of the names);
    /// motor before sensory, lowest channel first, when several nerves match.
    pub fn selected_index(&self, nerve: &str, side: &str, site: &str) -> Option<usize> {
        let (nerve, side, site) = (
            canonical_nerve(nerve),
            canonical_side(side),
            canonical_site(site),
        );
        let mut matches: Vec<&NerveState> = self
            .nerves
            .iter()
            .filter(|n| n.nerve == nerve && n.side == side)
            .collect();
        matches.sort_by_key(|n| (n.modality, n.channel));
        matches.iter().find_map(|n| {
            n.sites
                .iter()
                .find(|s| s.name == site)?
                .verdict
                .as_ref()?
                .selection
                .selected
        })
    }

    /// Stimulus time of the selected observation at a site (see
    /// [`BlockDetector::selected_index`]).
    pub fn selected_stimulus(&self, nerve: &str, side: &str, site: &str) -> Option<f64> {
        self.selected_index(nerve, side, site)
            .map(|i| self.observations[i].stimulus_time_s)
    }

    /// The patient-level summary for these clinical findings.
    pub fn patient(&self, findings: &ClinicalFindings) -> PatientSummary {
        crate::patient::summarise(
            &self.segments(),
            &self.sites(),
            &self.criteria,
            &self.normals,
            findings,
        )
    }
}

/// The long upper-limb segments of a criteria set (`CriteriaSet::long_segments`) that span
/// intermediate sites, as (distal, proximal) indices into the placed sites (distal first).
///
/// EFNS/PNS 2010 MMN (van Schaik et al. 2010; `clinical.md` §2) grades a 30–49 % area
/// reduction as probable CB only on a long upper-limb segment (wrist–elbow, elbow–axilla).
/// With an intermediate site (e.g. upper arm between elbow and axilla) only short segments
/// would be formed and a drop spread over them could never be graded probable, so each long
/// segment of the set is also formed between its anatomical ends: the distal end is the most
/// proximal site at or below the definition's distal level, the proximal end the first site
/// beyond it at or above the definition's proximal level. Pairs that are already adjacent are
/// left to the short segments.
fn long_spans(criteria: &CriteriaSet, nerve: &str, placed: &[&SiteState]) -> Vec<(usize, usize)> {
    if nerve_limb(nerve) != Some(Limb::Upper) {
        return vec![];
    }
    let level = |s: &SiteState| match site_level(&s.name) {
        Some((Limb::Upper, v)) => Some(v),
        _ => None,
    };
    let mut out = vec![];
    for l in &criteria.long_segments {
        let (Some((_, lo)), Some((_, hi))) = (
            site_level(&l.distal_at_or_below),
            site_level(&l.proximal_at_or_above),
        ) else {
            continue;
        };
        let Some(di) = placed
            .iter()
            .rposition(|s| level(s).is_some_and(|v| v <= lo))
        else {
            continue;
        };
        let Some(pi) = (di + 1..placed.len()).find(|&i| level(placed[i]).is_some_and(|v| v >= hi))
        else {
            continue;
        };
        if pi > di + 1
            && !out.contains(&(di, pi))
            && criteria.is_long_segment(nerve, &placed[di].name, &placed[pi].name) == Some(true)
        {
            out.push((di, pi));
        }
    }
    out
}
