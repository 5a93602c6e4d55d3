//! Patient level: EFNS/PNS 2010 MMN category, AAEM 2003 count and the differential table.
//!
//! Decision support for a clinician, not a diagnosis: every output lists the criteria met,
//! missed and unknown, so the clinician can see what the category rests on.

use serde::{Deserialize, Serialize};

use crate::criteria::{CriteriaSet, Grade};
use crate::detector::SiteVerdict;
use crate::names::{canonical_nerve, canonical_side};
use crate::normals::NormalValues;
use crate::segment::SegmentVerdict;
use crate::study::Modality;

/// The text every patient output carries.
pub const DECISION_SUPPORT: &str = "Decision support for a clinician, not a diagnosis: the categories below apply published criteria to the measured segments and the clinical findings entered; a clinician must review the recordings, the findings and the alternatives.";

/// Pattern of the lower-motor-neuron weakness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeaknessPattern {
    /// Asymmetric, in the territories of several individual nerves.
    AsymmetricMultifocal,
    /// Asymmetric, in one territory.
    AsymmetricFocal,
    /// Diffuse and symmetric.
    SymmetricDiffuse,
    /// Segmental and symmetric (as in spinal muscular atrophy).
    SymmetricSegmental,
}

/// Which limbs are mainly affected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimbPredominance {
    /// Arms more than legs.
    Arms,
    /// Legs more than arms.
    Legs,
    /// Arms and legs alike.
    Equal,
}

/// Distal versus proximal weakness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// Distal more than proximal.
    Distal,
    /// Proximal more than distal.
    Proximal,
    /// Proximal and distal alike.
    Equal,
}

/// Objective sensory loss on examination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SensoryLoss {
    /// None.
    None,
    /// Only minor vibration-sense loss in the legs (allowed by EFNS/PNS 2010).
    MinorVibrationLegs,
    /// More than minor vibration loss.
    Present,
}

/// A sensory study done elsewhere (not streamed through the detector).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensoryStudyFinding {
    /// Nerve.
    pub nerve: String,
    /// Side.
    pub side: String,
    /// Whether the study was normal.
    pub normal: bool,
}

/// Clinical findings (TOML or JSON). Every field is optional: a missing field is "unknown"
/// and shows up as such in the output.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClinicalFindings {
    /// Weakness pattern.
    pub weakness_pattern: Option<WeaknessPattern>,
    /// Number of individual motor-nerve territories with weakness.
    pub weak_nerve_territories: Option<u32>,
    /// Slowly or stepwise progressive.
    pub progressive: Option<bool>,
    /// Duration of symptoms (months).
    pub duration_months: Option<f64>,
    /// Arms versus legs.
    pub limbs: Option<LimbPredominance>,
    /// Distal versus proximal.
    pub distribution: Option<Distribution>,
    /// Upper-motor-neuron signs (spasticity, clonus, Babinski sign, pseudobulbar palsy).
    pub upper_motor_neuron_signs: Option<bool>,
    /// Marked bulbar involvement.
    pub bulbar_signs: Option<bool>,
    /// Cranial nerve involvement.
    pub cranial_nerve_involvement: Option<bool>,
    /// Objective sensory loss.
    pub objective_sensory_loss: Option<SensoryLoss>,
    /// Diffuse symmetric weakness during the first weeks.
    pub diffuse_symmetric_weakness_at_onset: Option<bool>,
    /// Reduced or absent tendon reflexes in affected limbs.
    pub reduced_reflexes: Option<bool>,
    /// Cramps or fasciculations in affected limbs.
    pub cramps_or_fasciculations: Option<bool>,
    /// Raised IgM anti-GM1 antibodies.
    pub anti_gm1_raised: Option<bool>,
    /// CSF protein (g/L).
    pub csf_protein_g_l: Option<f64>,
    /// Upper limit of normal CSF protein in the lab (g/L; default 0.45, a common lab value
    /// not given in `clinical.md`).
    pub csf_protein_upper_normal_g_l: Option<f64>,
    /// MRI T2 hyperintensity of the brachial plexus.
    pub mri_plexus_t2_hyperintensity: Option<bool>,
    /// Objective improvement after IVIG.
    pub ivig_improvement: Option<bool>,
    /// Improvement after steroids.
    pub steroid_improvement: Option<bool>,
    /// Paraspinal needle EMG shows denervation.
    pub paraspinal_emg_affected: Option<bool>,
    /// Motor evoked potentials show a central conduction deficit.
    pub central_motor_conduction_deficit: Option<bool>,
    /// Sensory studies done outside this session.
    pub sensory_studies: Vec<SensoryStudyFinding>,
    /// Clinician's statement that sensory conduction across the blocked segments is normal
    /// (overrides the detector when the same segments were not studied here).
    pub sensory_conduction_normal_across_blocks: Option<bool>,
}

/// Errors reading clinical findings.
#[derive(Debug, thiserror::Error)]
pub enum FindingsError {
    /// TOML did not parse.
    #[error("clinical findings: {0}")]
    Toml(#[from] toml::de::Error),
    /// JSON did not parse.
    #[error("clinical findings: {0}")]
    Json(#[from] serde_json::Error),
    /// A number out of range.
    #[error("clinical findings: {field} must be a finite number >= 0, got {value}")]
    BadValue {
        /// Field.
        field: &'static str,
        /// Value.
        value: f64,
    },
}

impl ClinicalFindings {
    /// Parses findings from TOML.
    pub fn from_toml_str(text: &str) -> Result<Self, FindingsError> {
        let f: ClinicalFindings = toml::from_str(text)?;
        f.checked()
    }

    /// Parses findings from JSON.
    pub fn from_json_str(text: &str) -> Result<Self, FindingsError> {
        let f: ClinicalFindings = serde_json::from_str(text)?;
        f.checked()
    }

    fn checked(self) -> Result<Self, FindingsError> {
        for (field, v) in [
            ("duration_months", self.duration_months),
            ("csf_protein_g_l", self.csf_protein_g_l),
            (
                "csf_protein_upper_normal_g_l",
                self.csf_protein_upper_normal_g_l,
            ),
        ] {
            if let Some(value) = v {
                if !(value.is_finite() && value >= 0.0) {
                    return Err(FindingsError::BadValue { field, value });
                }
            }
        }
        Ok(self)
    }
}

/// Met, missed or unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The criterion holds.
    Met,
    /// The criterion fails.
    Missed,
    /// Not enough information.
    Unknown,
}

/// One criterion with its status and evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Criterion {
    /// Short id, e.g. `"core-1"`.
    pub id: String,
    /// The criterion as the source states it.
    pub text: String,
    /// Status.
    pub status: Status,
    /// The findings or numbers it rests on.
    pub evidence: String,
}

/// Diagnostic category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Definite MMN.
    Definite,
    /// Probable MMN.
    Probable,
    /// Possible MMN.
    Possible,
    /// No category met with the findings known.
    NotMet,
}

/// The result of one set of patient criteria.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryResult {
    /// Source.
    pub source: String,
    /// Category.
    pub category: Category,
    /// What the category rests on.
    pub because: String,
    /// Every criterion.
    pub criteria: Vec<Criterion>,
    /// Ids of met criteria.
    pub met: Vec<String>,
    /// Ids of missed criteria.
    pub missed: Vec<String>,
    /// Ids of unknown criteria.
    pub unknown: Vec<String>,
    /// Caveats.
    pub notes: Vec<String>,
}

/// The AAEM 2003 count and category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AaemResult {
    /// Nerves (`"right median"`) with definite CB outside entrapment sites.
    pub definite_cb_nerves: Vec<String>,
    /// Nerves with probable (and no definite) CB outside entrapment sites.
    pub probable_cb_nerves: Vec<String>,
    /// `definite_cb_nerves.len()`.
    pub definite_cb_count: usize,
    /// `probable_cb_nerves.len()`.
    pub probable_cb_count: usize,
    /// Category and criteria.
    #[serde(flatten)]
    pub result: CategoryResult,
}

/// A sensory nerve's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensoryNerveResult {
    /// Nerve.
    pub nerve: String,
    /// Side.
    pub side: String,
    /// Where the result comes from (`"measured"` or `"clinical findings"`).
    pub source: String,
    /// Normal (`None`: no normal values to judge by).
    pub normal: Option<bool>,
    /// Why.
    pub reasons: Vec<String>,
}

/// Fit of one patient finding to one entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fit {
    /// Consistent with the entity.
    Fits,
    /// Against the entity (as the table gives it).
    Contradicts,
    /// Finding not known, or not discriminating.
    Unknown,
}

/// One cell of the differential table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DifferentialItem {
    /// Feature.
    pub feature: String,
    /// The patient's finding (`None`: unknown).
    pub patient: Option<String>,
    /// What the entity shows.
    pub expected: String,
    /// Fit.
    pub fit: Fit,
    /// Caveat.
    pub note: Option<String>,
}

/// One entity of the differential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityAssessment {
    /// Entity name.
    pub entity: String,
    /// Findings that fit.
    pub fits: Vec<String>,
    /// Findings that contradict.
    pub contradicts: Vec<String>,
    /// Findings unknown or not discriminating.
    pub unknown: Vec<String>,
    /// Every feature.
    pub items: Vec<DifferentialItem>,
}

/// The patient-level output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientSummary {
    /// Decision-support statement.
    pub decision_support: String,
    /// Criteria set the segment grades come from.
    pub segment_criteria: String,
    /// EFNS/PNS 2010 MMN category.
    pub efns_pns_2010: CategoryResult,
    /// AAEM 2003 count and category.
    pub aaem_2003: AaemResult,
    /// Sensory results.
    pub sensory: Vec<SensoryNerveResult>,
    /// Blocked segments counted towards MMN (`"right median wrist–elbow: definite"`).
    pub counted_blocks: Vec<String>,
    /// Differential table: MMN, MADSAM, SMA, ALS, post-polio.
    pub differential: Vec<EntityAssessment>,
}

/// A finding for the evidence text: its JSON spelling, or "unknown".
fn show<T: Serialize>(v: &Option<T>) -> String {
    match v {
        None => "unknown".into(),
        Some(x) => serde_json::to_string(x)
            .map(|t| t.trim_matches('"').to_string())
            .unwrap_or_else(|_| "?".into()),
    }
}

fn crit(id: &str, text: &str, status: Status, evidence: impl Into<String>) -> Criterion {
    Criterion {
        id: id.into(),
        text: text.into(),
        status,
        evidence: evidence.into(),
    }
}

fn from_bool(b: Option<bool>) -> Status {
    match b {
        Some(true) => Status::Met,
        Some(false) => Status::Missed,
        None => Status::Unknown,
    }
}

fn all(s: &[Status]) -> Status {
    if s.contains(&Status::Missed) {
        Status::Missed
    } else if s.contains(&Status::Unknown) {
        Status::Unknown
    } else {
        Status::Met
    }
}

/// Evidence about the blocks, per nerve, and sensory conduction across them.
struct BlockEvidence {
    definite: Vec<String>,
    probable: Vec<String>,
    counted: Vec<String>,
    /// Per nerve with a counted block: sensory conduction across its block segments.
    sensory_across: Vec<(String, Grade, Status, String)>,
}

fn nerve_key(nerve: &str, side: &str) -> String {
    format!("{side} {nerve}")
}

fn block_evidence(
    segments: &[SegmentVerdict],
    normals: &NormalValues,
    f: &ClinicalFindings,
) -> BlockEvidence {
    let mut best: Vec<(String, Grade, Vec<&SegmentVerdict>)> = vec![];
    let mut counted = vec![];
    // A long segment covers the short segments it spans, so one block can show on several
    // segments of a nerve: the criteria count nerves (clinical.md §3), so grades are merged
    // per nerve below and every segment is only listed.
    for s in segments.iter().filter(|s| s.counts_for_mmn) {
        let over = if s.spans.is_empty() {
            String::new()
        } else {
            format!(" (long segment over {})", s.spans.join(", "))
        };
        counted.push(format!(
            "{} {}–{}{over}: {}",
            nerve_key(&s.nerve, &s.side),
            s.from_site,
            s.to_site,
            s.block
        ));
        let k = nerve_key(&s.nerve, &s.side);
        match best.iter_mut().find(|b| b.0 == k) {
            Some(b) => {
                b.1 = b.1.max(s.block);
                b.2.push(s);
            }
            None => best.push((k, s.block, vec![s])),
        }
    }
    let definite = best
        .iter()
        .filter(|b| b.1 == Grade::Definite)
        .map(|b| b.0.clone())
        .collect();
    let probable = best
        .iter()
        .filter(|b| b.1 == Grade::Probable)
        .map(|b| b.0.clone())
        .collect();
    let mut sensory_across = vec![];
    for (k, g, segs) in &best {
        let mut statuses = vec![];
        let mut ev = vec![];
        for m in segs {
            let sensory = segments.iter().find(|s| {
                s.modality == Modality::Sensory
                    && s.nerve == m.nerve
                    && s.side == m.side
                    && s.from_site == m.from_site
                    && s.to_site == m.to_site
            });
            let lln = normals
                .get(&m.nerve, Modality::Sensory)
                .map(|n| n.conduction_velocity_m_s);
            match (sensory.and_then(|s| s.conduction_velocity_m_s), lln) {
                (Some(cv), Some(l)) => {
                    let ok = cv >= l;
                    statuses.push(if ok { Status::Met } else { Status::Missed });
                    ev.push(format!(
                        "{}–{}: sensory CV {cv:.1} m/s {} {l} m/s",
                        m.from_site,
                        m.to_site,
                        if ok { "≥" } else { "<" }
                    ));
                }
                (Some(cv), None) => {
                    statuses.push(Status::Unknown);
                    ev.push(format!(
                        "{}–{}: sensory CV {cv:.1} m/s, no sensory normal value for {}",
                        m.from_site, m.to_site, m.nerve
                    ));
                }
                (None, _) => {
                    statuses.push(Status::Unknown);
                    ev.push(format!(
                        "{}–{}: no sensory conduction measured across this segment",
                        m.from_site, m.to_site
                    ));
                }
            }
        }
        let mut st = all(&statuses);
        if st == Status::Unknown {
            if let Some(b) = f.sensory_conduction_normal_across_blocks {
                st = from_bool(Some(b));
                ev.push(format!(
                    "clinical findings state sensory conduction across the blocks is {}",
                    if b { "normal" } else { "abnormal" }
                ));
            }
        }
        sensory_across.push((k.clone(), *g, st, ev.join("; ")));
    }
    BlockEvidence {
        definite,
        probable,
        counted,
        sensory_across,
    }
}

fn sensory_results(
    segments: &[SegmentVerdict],
    sites: &[SiteVerdict],
    normals: &NormalValues,
    f: &ClinicalFindings,
) -> Vec<SensoryNerveResult> {
    let mut out: Vec<SensoryNerveResult> = vec![];
    let mut keys: Vec<(String, String, usize)> = vec![];
    for s in sites.iter().filter(|s| s.modality == Modality::Sensory) {
        let k = (s.nerve.clone(), s.side.clone(), s.channel);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    for (nerve, side, channel) in keys {
        let mut reasons = vec![];
        let lln = normals.get(&nerve, Modality::Sensory);
        let mut these: Vec<&SiteVerdict> = sites
            .iter()
            .filter(|s| {
                s.modality == Modality::Sensory
                    && s.nerve == nerve
                    && s.side == side
                    && s.channel == channel
            })
            .collect();
        these.sort_by(|a, b| {
            a.distance_mm
                .unwrap_or(f64::INFINITY)
                .total_cmp(&b.distance_mm.unwrap_or(f64::INFINITY))
        });
        let mut statuses = vec![];
        if let Some(d) = these.first() {
            if !d.selection.present {
                statuses.push(Status::Missed);
                reasons.push(format!("no SNAP at {}", d.site));
            } else if let Some(r) = &d.response {
                let m = &r.measures;
                let amp = m.peak_to_peak_amplitude_mv.or(m.negative_peak_amplitude_mv);
                match (amp, lln) {
                    (Some(a), Some(n)) => {
                        let ok = a >= n.distal_amplitude_mv;
                        statuses.push(if ok { Status::Met } else { Status::Missed });
                        reasons.push(format!(
                            "SNAP amplitude {:.1} µV {} {:.1} µV at {}",
                            a * 1000.0,
                            if ok { "≥" } else { "<" },
                            n.distal_amplitude_mv * 1000.0,
                            d.site
                        ));
                    }
                    _ => {
                        statuses.push(Status::Unknown);
                        reasons.push("SNAP amplitude or its normal value missing".into());
                    }
                }
                // Sensory CV from the stimulus site to the recording electrode
                // (clinical.md §1: onset latency and distance).
                match (d.distance_mm, m.onset_latency_ms, lln) {
                    (Some(dist), Some(l), Some(n)) if l > 0.0 => {
                        let cv = dist / l;
                        let ok = cv >= n.conduction_velocity_m_s;
                        statuses.push(if ok { Status::Met } else { Status::Missed });
                        reasons.push(format!(
                            "sensory CV {cv:.1} m/s {} {} m/s ({} → recording)",
                            if ok { "≥" } else { "<" },
                            n.conduction_velocity_m_s,
                            d.site
                        ));
                    }
                    _ => reasons.push("distal sensory CV not computed".into()),
                }
            }
        }
        for s in segments.iter().filter(|s| {
            s.modality == Modality::Sensory
                && s.nerve == nerve
                && s.side == side
                && s.channel == channel
        }) {
            if let (Some(cv), Some(n)) = (s.conduction_velocity_m_s, lln) {
                let ok = cv >= n.conduction_velocity_m_s;
                statuses.push(if ok { Status::Met } else { Status::Missed });
                reasons.push(format!(
                    "sensory CV {}–{} {cv:.1} m/s {} {} m/s",
                    s.from_site,
                    s.to_site,
                    if ok { "≥" } else { "<" },
                    n.conduction_velocity_m_s
                ));
            }
        }
        let normal = match all(&statuses) {
            Status::Met => Some(true),
            Status::Missed => Some(false),
            Status::Unknown => None,
        };
        out.push(SensoryNerveResult {
            nerve,
            side,
            source: "measured".into(),
            normal,
            reasons,
        });
    }
    for s in &f.sensory_studies {
        let nerve = canonical_nerve(&s.nerve);
        let side = canonical_side(&s.side);
        if out.iter().any(|o| o.nerve == nerve && o.side == side) {
            continue;
        }
        out.push(SensoryNerveResult {
            nerve,
            side,
            source: "clinical findings".into(),
            normal: Some(s.normal),
            reasons: vec![format!(
                "reported {}",
                if s.normal { "normal" } else { "abnormal" }
            )],
        });
    }
    out
}

/// Builds the patient summary from the segment verdicts, the sites and the findings.
pub fn summarise(
    segments: &[SegmentVerdict],
    sites: &[SiteVerdict],
    criteria: &CriteriaSet,
    normals: &NormalValues,
    f: &ClinicalFindings,
) -> PatientSummary {
    let blocks = block_evidence(segments, normals, f);
    let sensory = sensory_results(segments, sites, normals, f);
    let n_tested = sensory.len();
    let n_normal = sensory.iter().filter(|s| s.normal == Some(true)).count();
    let n_abnormal = sensory.iter().filter(|s| s.normal == Some(false)).count();
    let sensory_evidence = format!(
        "{n_tested} sensory nerve(s) tested: {n_normal} normal, {n_abnormal} abnormal, {} undetermined",
        n_tested - n_normal - n_abnormal
    );

    let mut notes = vec![];
    if !criteria.for_mmn {
        notes.push(format!(
            "segments were graded with {}, not an MMN set: no block is counted towards MMN",
            criteria.title
        ));
    }

    let efns = efns(
        f,
        &blocks,
        &sensory_evidence,
        n_tested,
        n_normal,
        n_abnormal,
        notes.clone(),
    );
    let aaem = aaem(
        f,
        &blocks,
        &sensory_evidence,
        n_tested,
        n_normal,
        n_abnormal,
        notes,
    );
    let differential = differential(f, segments, &blocks, n_tested, n_normal, n_abnormal);
    PatientSummary {
        decision_support: DECISION_SUPPORT.to_string(),
        segment_criteria: format!("{} v{}", criteria.name, criteria.version),
        efns_pns_2010: efns,
        aaem_2003: aaem,
        sensory,
        counted_blocks: blocks.counted.clone(),
        differential,
    }
}

/// EFNS/PNS 2010 core criterion 2 (van Schaik et al., J Peripher Nerv Syst 2010;15:295–301;
/// clinical.md §3): "no objective sensory loss beyond minor vibration loss in the legs".
fn efns_sensory_loss_ok(f: &ClinicalFindings) -> (Status, String) {
    match f.objective_sensory_loss {
        Some(SensoryLoss::None) => (Status::Met, "no objective sensory loss".into()),
        Some(SensoryLoss::MinorVibrationLegs) => (
            Status::Met,
            "only minor vibration loss in the legs (allowed by EFNS/PNS 2010)".into(),
        ),
        Some(SensoryLoss::Present) => (Status::Missed, "objective sensory loss present".into()),
        None => (
            Status::Unknown,
            "objective sensory loss not recorded".into(),
        ),
    }
}

/// AAEM 2003 criterion 1 (Olney et al., Muscle Nerve 2003;27:117–121; clinical.md §3):
/// "weakness without objective sensory loss". The consensus makes no allowance for minor
/// vibration loss in the legs (that allowance is EFNS/PNS 2010's), and reduced vibration
/// sense on examination is objective sensory loss, so it fails this criterion.
fn aaem_sensory_loss_ok(f: &ClinicalFindings) -> (Status, String) {
    match f.objective_sensory_loss {
        Some(SensoryLoss::None) => (Status::Met, "no objective sensory loss".into()),
        Some(SensoryLoss::MinorVibrationLegs) => (
            Status::Missed,
            "minor vibration loss in the legs is objective sensory loss: AAEM 2003 requires none (the minor-vibration allowance is EFNS/PNS 2010's)".into(),
        ),
        Some(SensoryLoss::Present) => (Status::Missed, "objective sensory loss present".into()),
        None => (
            Status::Unknown,
            "objective sensory loss not recorded".into(),
        ),
    }
}

fn asymmetric(f: &ClinicalFindings) -> Status {
    match f.weakness_pattern {
        Some(WeaknessPattern::AsymmetricMultifocal | WeaknessPattern::AsymmetricFocal) => {
            Status::Met
        }
        Some(_) => Status::Missed,
        None => Status::Unknown,
    }
}

fn finish(
    source: &str,
    category: Category,
    because: String,
    criteria: Vec<Criterion>,
    notes: Vec<String>,
) -> CategoryResult {
    let ids = |s: Status| -> Vec<String> {
        criteria
            .iter()
            .filter(|c| c.status == s)
            .map(|c| c.id.clone())
            .collect()
    };
    CategoryResult {
        source: source.into(),
        category,
        because,
        met: ids(Status::Met),
        missed: ids(Status::Missed),
        unknown: ids(Status::Unknown),
        criteria,
        notes,
    }
}

/// EFNS/PNS 2010 MMN guideline (van Schaik et al. 2010; clinical.md §3).
fn efns(
    f: &ClinicalFindings,
    b: &BlockEvidence,
    sensory_evidence: &str,
    n_tested: usize,
    n_normal: usize,
    n_abnormal: usize,
    mut notes: Vec<String>,
) -> CategoryResult {
    let months = f.duration_months.map(|m| m > 1.0);
    let territories = f.weak_nerve_territories;
    let core1 = all(&[
        asymmetric(f),
        from_bool(f.progressive),
        from_bool(territories.map(|t| t >= 2)),
        from_bool(months),
    ]);
    let core1_one_nerve = all(&[
        asymmetric(f),
        from_bool(f.progressive),
        from_bool(territories.map(|t| t == 1)),
        from_bool(months),
    ]);
    let (core2, core2_ev) = efns_sensory_loss_ok(f);
    let mut c = vec![
        crit(
            "core-1",
            "progressive focal asymmetric weakness in the territory of ≥ 2 nerves for > 1 month",
            core1,
            format!(
                "pattern {}, progressive {}, territories {}, duration {} months",
                show(&f.weakness_pattern),
                show(&f.progressive),
                show(&territories),
                show(&f.duration_months)
            ),
        ),
        crit(
            "core-2",
            "no objective sensory loss beyond minor vibration loss in the legs",
            core2,
            core2_ev.clone(),
        ),
        crit(
            "exclusion-umn",
            "no upper-motor-neuron signs",
            from_bool(f.upper_motor_neuron_signs.map(|x| !x)),
            format!(
                "upper-motor-neuron signs {}",
                show(&f.upper_motor_neuron_signs)
            ),
        ),
        crit(
            "exclusion-bulbar",
            "no marked bulbar involvement",
            from_bool(f.bulbar_signs.map(|x| !x)),
            format!("bulbar signs {}", show(&f.bulbar_signs)),
        ),
        crit(
            "exclusion-sensory",
            "no sensory loss beyond minor vibration loss in the legs",
            core2,
            core2_ev,
        ),
        crit(
            "exclusion-diffuse-onset",
            "no diffuse symmetric weakness in the first weeks",
            from_bool(f.diffuse_symmetric_weakness_at_onset.map(|x| !x)),
            format!(
                "diffuse symmetric weakness at onset {}",
                show(&f.diffuse_symmetric_weakness_at_onset)
            ),
        ),
    ];
    let excl = all(&[c[2].status, c[3].status, c[4].status, c[5].status]);

    // Electrophysiology: per nerve with a counted block, sensory conduction across it.
    let def_normal: Vec<&(String, Grade, Status, String)> = b
        .sensory_across
        .iter()
        .filter(|x| x.1 == Grade::Definite)
        .collect();
    let any_def_normal = all_any(def_normal.iter().map(|x| x.2));
    let any_prob_normal = all_any(b.sensory_across.iter().map(|x| x.2));
    let n_prob_normal = b
        .sensory_across
        .iter()
        .filter(|x| x.2 == Status::Met)
        .count();
    let sens_ev: Vec<String> = b
        .sensory_across
        .iter()
        .map(|x| format!("{} ({}): {}", x.0, x.1, x.3))
        .collect();
    c.push(crit(
        "electro-1",
        "definite motor CB in ≥ 1 nerve (outside entrapment sites)",
        if b.definite.is_empty() {
            Status::Missed
        } else {
            Status::Met
        },
        format!("definite CB in {:?}", b.definite),
    ));
    c.push(crit(
        "electro-2",
        "probable (or definite) motor CB in ≥ 1 nerve (outside entrapment sites)",
        if b.definite.is_empty() && b.probable.is_empty() {
            Status::Missed
        } else {
            Status::Met
        },
        format!("definite {:?}, probable {:?}", b.definite, b.probable),
    ));
    c.push(crit(
        "electro-3",
        "normal sensory conduction across the segments with motor CB",
        any_prob_normal,
        if sens_ev.is_empty() {
            "no counted block".to_string()
        } else {
            sens_ev.join(" | ")
        },
    ));
    let snap3 = if n_normal >= 3 {
        Status::Met
    } else if n_tested >= 3 || n_abnormal > 0 {
        Status::Missed
    } else {
        Status::Unknown
    };
    c.push(crit(
        "sensory-snaps",
        "normal SNAPs in ≥ 3 nerves",
        snap3,
        sensory_evidence.to_string(),
    ));
    // Supportive criteria (clinical and laboratory).
    let csf = f.csf_protein_g_l.map(|p| p < 1.0);
    c.push(crit(
        "supportive-arms",
        "arms mainly affected",
        from_bool(f.limbs.map(|l| l == LimbPredominance::Arms)),
        format!("limbs {}", show(&f.limbs)),
    ));
    c.push(crit(
        "supportive-reflexes",
        "reduced tendon reflexes in affected limbs",
        from_bool(f.reduced_reflexes),
        show(&f.reduced_reflexes),
    ));
    c.push(crit(
        "supportive-no-cranial",
        "no cranial nerve involvement",
        from_bool(f.cranial_nerve_involvement.map(|x| !x)),
        format!(
            "cranial nerve involvement {}",
            show(&f.cranial_nerve_involvement)
        ),
    ));
    c.push(crit(
        "supportive-cramps",
        "cramps or fasciculations in affected limbs",
        from_bool(f.cramps_or_fasciculations),
        show(&f.cramps_or_fasciculations),
    ));
    let lab = [
        (
            "supportive-lab-csf",
            "CSF protein < 1 g/L",
            csf,
            format!("{} g/L", show(&f.csf_protein_g_l)),
        ),
        (
            "supportive-lab-gm1",
            "raised IgM anti-GM1",
            f.anti_gm1_raised,
            show(&f.anti_gm1_raised),
        ),
        (
            "supportive-lab-mri",
            "MRI T2 hyperintensity of the brachial plexus",
            f.mri_plexus_t2_hyperintensity,
            show(&f.mri_plexus_t2_hyperintensity),
        ),
        (
            "supportive-lab-ivig",
            "objective improvement after IVIG",
            f.ivig_improvement,
            show(&f.ivig_improvement),
        ),
    ];
    let mut lab_met = 0;
    for (id, text, v, ev) in lab {
        if v == Some(true) {
            lab_met += 1;
        }
        c.push(crit(id, text, from_bool(v), ev));
    }

    let base = all(&[core1, core2, excl]);
    let base_one = all(&[core1_one_nerve, core2, excl]);
    let (category, because) = if base == Status::Met && any_def_normal == Status::Met {
        (Category::Definite, "core criteria 1 and 2, no exclusion, definite CB with normal sensory conduction across it in ≥ 1 nerve".to_string())
    } else if base == Status::Met && n_prob_normal >= 2 {
        (Category::Probable, "core criteria 1 and 2, no exclusion, probable CB with normal sensory conduction in ≥ 2 nerves".to_string())
    } else if base == Status::Met && n_prob_normal >= 1 && lab_met >= 2 {
        (Category::Probable, format!("core criteria 1 and 2, no exclusion, probable CB with normal sensory conduction in 1 nerve and {lab_met} supportive laboratory criteria"))
    } else if base == Status::Met
        && n_tested > 0
        && n_abnormal == 0
        && f.ivig_improvement == Some(true)
    {
        (Category::Possible, "core criteria 1 and 2, no exclusion, normal sensory studies and objective improvement after IVIG, without a demonstrated CB".to_string())
    } else if base_one == Status::Met && n_prob_normal >= 1 {
        (Category::Possible, "weakness in one nerve territory only, core criterion 2, no exclusion, CB with normal sensory conduction".to_string())
    } else {
        let mut why = vec![];
        if base != Status::Met {
            why.push(format!(
                "core/exclusion criteria {}",
                if base == Status::Missed {
                    "missed"
                } else {
                    "not all known"
                }
            ));
        }
        if any_prob_normal != Status::Met {
            why.push(format!(
                "no CB with normal sensory conduction across it ({})",
                match any_prob_normal {
                    Status::Missed => "missed",
                    _ => "unknown",
                }
            ));
        }
        (Category::NotMet, why.join("; "))
    };
    notes.push("Categories follow the diagnostic categories of van Schaik et al. 2010 (definite: core 1+2, no exclusion, definite CB + normal sensory conduction in 1 nerve; probable: probable CB in 2 nerves, or in 1 nerve with ≥ 2 supportive laboratory criteria; possible: normal sensory NCS + IVIG response, or weakness in one nerve with CB); clinical.md §3 lists the criteria but not the category table, so verify against the source.".into());
    finish(
        "EFNS/PNS 2010 MMN (van Schaik et al., J Peripher Nerv Syst 2010;15:295–301)",
        category,
        because,
        c,
        notes,
    )
}

/// Met if any is met, else unknown if any unknown, else missed (empty → missed).
fn all_any<I: Iterator<Item = Status>>(it: I) -> Status {
    let v: Vec<Status> = it.collect();
    if v.contains(&Status::Met) {
        Status::Met
    } else if v.contains(&Status::Unknown) {
        Status::Unknown
    } else {
        Status::Missed
    }
}

/// AAEM 2003 MMN consensus (Olney et al., Muscle Nerve 2003;27:117–121; clinical.md §3).
fn aaem(
    f: &ClinicalFindings,
    b: &BlockEvidence,
    sensory_evidence: &str,
    n_tested: usize,
    n_normal: usize,
    n_abnormal: usize,
    mut notes: Vec<String>,
) -> AaemResult {
    let (sens, sens_ev) = aaem_sensory_loss_ok(f);
    let weakness = all(&[
        from_bool(f.weak_nerve_territories.map(|t| t >= 2)),
        sens,
        from_bool(f.diffuse_symmetric_weakness_at_onset.map(|x| !x)),
    ]);
    let nd = b.definite.len();
    let np = b.probable.len();
    let cb_def = if nd >= 2 { Status::Met } else { Status::Missed };
    let cb_prob = if nd + np >= 2 {
        Status::Met
    } else {
        Status::Missed
    };
    let across = all(&b.sensory_across.iter().map(|x| x.2).collect::<Vec<_>>());
    let across = if b.sensory_across.is_empty() {
        Status::Missed
    } else {
        across
    };
    let all_normal = if n_abnormal > 0 {
        Status::Missed
    } else if n_tested >= 3 && n_normal == n_tested {
        Status::Met
    } else if n_tested < 3 && n_normal == n_tested {
        if n_tested == 0 {
            Status::Unknown
        } else {
            Status::Missed
        }
    } else {
        Status::Unknown
    };
    let c = vec![
        crit(
            "aaem-1",
            "weakness without objective sensory loss in the territory of ≥ 2 motor nerves (diffuse symmetric weakness at onset excludes)",
            weakness,
            format!(
                "territories {}; {sens_ev}; diffuse symmetric onset {}",
                show(&f.weak_nerve_territories),
                show(&f.diffuse_symmetric_weakness_at_onset)
            ),
        ),
        crit(
            "aaem-2-definite",
            "definite CB in ≥ 2 nerves outside common entrapment sites",
            cb_def,
            format!("{nd} nerve(s) with definite CB: {:?}", b.definite),
        ),
        crit(
            "aaem-2-probable",
            "probable CB in ≥ 2 nerves, or definite in one and probable in another",
            cb_prob,
            format!(
                "{nd} definite {:?}, {np} probable {:?}",
                b.definite, b.probable
            ),
        ),
        crit(
            "aaem-3",
            "normal sensory conduction velocity across the same segments as the motor CB",
            across,
            b.sensory_across
                .iter()
                .map(|x| format!("{}: {}", x.0, x.3))
                .collect::<Vec<_>>()
                .join(" | "),
        ),
        crit(
            "aaem-4",
            "normal sensory NCS in all nerves tested, at least 3 nerves",
            all_normal,
            sensory_evidence.to_string(),
        ),
        crit(
            "aaem-5",
            "no upper-motor-neuron signs",
            from_bool(f.upper_motor_neuron_signs.map(|x| !x)),
            show(&f.upper_motor_neuron_signs),
        ),
    ];
    let others = all(&[c[0].status, c[3].status, c[4].status, c[5].status]);
    let (category, because) = if others == Status::Met && cb_def == Status::Met {
        (
            Category::Definite,
            format!("definite CB in {nd} nerves and criteria 1, 3, 4, 5 met"),
        )
    } else if others == Status::Met && cb_prob == Status::Met {
        (
            Category::Probable,
            format!("{nd} definite + {np} probable CB nerves and criteria 1, 3, 4, 5 met"),
        )
    } else {
        (
            Category::NotMet,
            format!(
                "CB count {nd} definite / {np} probable; criteria 1, 3, 4, 5 {}",
                match others {
                    Status::Met => "met",
                    Status::Missed => "not all met",
                    Status::Unknown => "not all known",
                }
            ),
        )
    };
    notes.push("The per-nerve grades come from the segment criteria set; the AAEM 2003 per-segment percentage table is unverified and not implemented, only its patient-level count rule.".into());
    AaemResult {
        definite_cb_count: nd,
        probable_cb_count: np,
        definite_cb_nerves: b.definite.clone(),
        probable_cb_nerves: b.probable.clone(),
        result: finish(
            "AAEM 2003 MMN consensus (Olney et al., Muscle Nerve 2003;27:117–121)",
            category,
            because,
            c,
            notes,
        ),
    }
}

const ENTITIES: [&str; 5] = [
    "MMN",
    "MADSAM",
    "spinal muscular atrophy",
    "ALS",
    "post-polio",
];

/// One row of `clinical.md` §3's differential table: the patient's value (if known) and, per
/// entity, (expected text, fit, note) for that value.
type Row = (
    &'static str,
    Option<String>,
    [(&'static str, Fit, Option<&'static str>); 5],
);

fn differential(
    f: &ClinicalFindings,
    segments: &[SegmentVerdict],
    b: &BlockEvidence,
    n_tested: usize,
    n_normal: usize,
    n_abnormal: usize,
) -> Vec<EntityAssessment> {
    use Fit::{Contradicts as C, Fits as F, Unknown as U};
    let mut rows: Vec<Row> = vec![];
    let pick = |known: bool, v: Fit| if known { v } else { U };

    // Lower-motor-neuron weakness pattern.
    let asym = asymmetric(f);
    let k = asym != Status::Unknown;
    let a = asym == Status::Met;
    rows.push((
        "lower motor neuron weakness",
        f.weakness_pattern.map(|p| show(&Some(p))),
        [
            (
                "asymmetric, focal, multifocal",
                pick(k, if a { F } else { C }),
                None,
            ),
            ("asymmetric", pick(k, if a { F } else { C }), None),
            ("segmental, symmetric", pick(k, if a { C } else { F }), None),
            ("asymmetric early, symmetric later", pick(k, F), None),
            (
                "asymmetric, multifocal",
                pick(k, if a { F } else { C }),
                None,
            ),
        ],
    ));
    // Limbs.
    let l = f.limbs;
    let lk = l.is_some();
    let is = |x: LimbPredominance| l == Some(x);
    rows.push((
        "limbs",
        l.map(|x| show(&Some(x))),
        [
            ("arms > legs", pick(lk, if is(LimbPredominance::Arms) { F } else { C }), None),
            (
                "legs > arms",
                pick(lk, if is(LimbPredominance::Arms) { U } else { F }),
                Some("the review's table gives legs > arms; other series report arm onset more often"),
            ),
            ("variable by type", pick(lk, F), None),
            ("arms = legs", pick(lk, if is(LimbPredominance::Equal) { F } else { C }), None),
            ("arms = legs", pick(lk, if is(LimbPredominance::Equal) { F } else { C }), None),
        ],
    ));
    // Distribution.
    let d = f.distribution;
    let dk = d.is_some();
    let distal = d == Some(Distribution::Distal);
    let equal = d == Some(Distribution::Equal);
    rows.push((
        "distribution",
        d.map(|x| show(&Some(x))),
        [
            (
                "distal > proximal",
                pick(dk, if distal { F } else { C }),
                None,
            ),
            (
                "distal > proximal",
                pick(dk, if distal { F } else { C }),
                None,
            ),
            ("variable by type", pick(dk, F), None),
            (
                "distal > proximal",
                pick(dk, if distal { F } else { C }),
                None,
            ),
            (
                "proximal = distal",
                pick(dk, if equal { F } else { C }),
                None,
            ),
        ],
    ));
    // UMN signs.
    let u = f.upper_motor_neuron_signs;
    let uk = u.is_some();
    let uy = u == Some(true);
    let no = |y: bool| if y { C } else { F };
    let yes = |y: bool| if y { F } else { C };
    rows.push((
        "upper motor neuron signs",
        u.map(|x| if x { "yes" } else { "no" }.into()),
        [
            ("no", pick(uk, no(uy)), None),
            ("no", pick(uk, no(uy)), None),
            ("no", pick(uk, no(uy)), None),
            ("yes", pick(uk, yes(uy)), None),
            ("no", pick(uk, no(uy)), None),
        ],
    ));
    // Sensory deficits.
    let s = f.objective_sensory_loss;
    let sk = s.is_some();
    let sy = s == Some(SensoryLoss::Present);
    rows.push((
        "sensory deficits",
        s.map(|x| show(&Some(x))),
        [
            ("no", pick(sk, no(sy)), None),
            ("yes", pick(sk, yes(sy)), None),
            ("no", pick(sk, no(sy)), None),
            ("no", pick(sk, no(sy)), None),
            ("no", pick(sk, no(sy)), None),
        ],
    ));
    // Bulbar.
    let bu = f.bulbar_signs;
    let bk = bu.is_some();
    let by = bu == Some(true);
    rows.push((
        "bulbar / cranial nerves",
        bu.map(|x| if x { "yes" } else { "no" }.into()),
        [
            ("rare", pick(bk, no(by)), by.then_some("rare in MMN")),
            ("rare", pick(bk, no(by)), by.then_some("rare in MADSAM")),
            ("no", pick(bk, no(by)), None),
            (
                "yes",
                pick(bk, F),
                (!by).then_some("absence does not exclude ALS (limb onset)"),
            ),
            ("rare", pick(bk, no(by)), by.then_some("rare after polio")),
        ],
    ));
    // Motor NCS.
    let motor: Vec<&SegmentVerdict> = segments
        .iter()
        .filter(|s| s.modality == Modality::Motor && s.block != Grade::NotAssessable)
        .collect();
    let blocks = !b.counted.is_empty();
    let mk = blocks || !motor.is_empty();
    let slowed = motor.iter().any(|s| s.focal_slowing);
    rows.push((
        "motor NCS",
        mk.then(|| {
            if blocks {
                format!(
                    "conduction blocks{}",
                    if slowed { ", slowed CV" } else { "" }
                )
            } else {
                format!(
                    "no conduction block{}",
                    if slowed { ", slowed CV" } else { "" }
                )
            }
        }),
        [
            (
                "conduction blocks",
                pick(mk, yes(blocks)),
                (!blocks).then_some("blocks may lie in segments not studied (proximal segments)"),
            ),
            (
                "conduction blocks, slowed CV",
                pick(mk, yes(blocks || slowed)),
                None,
            ),
            ("normal (small CMAP possible)", pick(mk, no(blocks)), None),
            ("normal (small CMAP possible)", pick(mk, no(blocks)), None),
            ("normal (small CMAP possible)", pick(mk, no(blocks)), None),
        ],
    ));
    // Sensory NCS.
    let sk = n_tested > 0 && (n_abnormal > 0 || n_normal == n_tested);
    let sab = n_abnormal > 0;
    rows.push((
        "sensory NCS",
        sk.then(|| {
            if sab {
                "abnormal".to_string()
            } else {
                "normal".to_string()
            }
        }),
        [
            ("normal", pick(sk, no(sab)), None),
            ("slowed CV", pick(sk, yes(sab)), None),
            ("normal", pick(sk, no(sab)), None),
            ("normal", pick(sk, no(sab)), None),
            ("normal", pick(sk, no(sab)), None),
        ],
    ));
    // Anti-GM1.
    let g = f.anti_gm1_raised;
    let gk = g.is_some();
    let gy = g == Some(true);
    rows.push((
        "anti-GM1 antibodies",
        g.map(|x| if x { "raised" } else { "not raised" }.into()),
        [
            (
                "raised in 30–70 %",
                pick(gk, F),
                (!gy).then_some("not raised in 30–70 % of MMN"),
            ),
            ("no", pick(gk, no(gy)), None),
            ("no", pick(gk, no(gy)), None),
            (
                "raised in < 15 %",
                pick(gk, F),
                gy.then_some("raised in < 15 % of ALS: unusual"),
            ),
            ("no", pick(gk, no(gy)), None),
        ],
    ));
    // CSF protein.
    let upper = f.csf_protein_upper_normal_g_l.unwrap_or(0.45);
    let p = f.csf_protein_g_l;
    let pk = p.is_some();
    let raised = p.is_some_and(|x| x > upper);
    let high = p.is_some_and(|x| x >= 1.0);
    rows.push((
        "CSF protein",
        p.map(|x| format!("{x} g/L (upper normal {upper} g/L)")),
        [
            (
                "normal",
                pick(pk, if high { C } else { F }),
                (raised && !high)
                    .then_some("EFNS/PNS 2010 lists a raised CSF protein < 1 g/L as supportive"),
            ),
            ("possibly raised", pick(pk, F), None),
            ("normal", pick(pk, no(raised)), None),
            ("normal", pick(pk, no(raised)), None),
            (
                "normal or slightly raised",
                pick(pk, if high { C } else { F }),
                None,
            ),
        ],
    ));
    // Treatment.
    let iv = f.ivig_improvement;
    let st = f.steroid_improvement;
    let tk = iv.is_some() || st.is_some();
    let ivy = iv == Some(true);
    let sty = st == Some(true);
    let improved = ivy || sty;
    rows.push((
        "treatment response",
        tk.then(|| {
            format!(
                "IVIG improvement {}, steroid improvement {}",
                show(&iv),
                show(&st)
            )
        }),
        [
            (
                "IVIG first line",
                if iv.is_some() {
                    if ivy {
                        F
                    } else {
                        U
                    }
                } else {
                    U
                },
                (iv == Some(false)).then_some("some MMN patients do not respond to IVIG"),
            ),
            (
                "steroids first line",
                if st.is_some() {
                    if sty {
                        F
                    } else {
                        U
                    }
                } else {
                    U
                },
                None,
            ),
            ("no disease-modifying drug", pick(tk, no(improved)), None),
            ("riluzole (small effect)", pick(tk, no(improved)), None),
            ("no disease-modifying drug", pick(tk, no(improved)), None),
        ],
    ));
    // Paraspinal EMG.
    let pe = f.paraspinal_emg_affected;
    let pek = pe.is_some();
    let pey = pe == Some(true);
    rows.push((
        "paraspinal EMG",
        pe.map(|x| if x { "affected" } else { "spared" }.into()),
        [
            ("spared", pick(pek, no(pey)), None),
            ("not specified", U, None),
            ("affected", pick(pek, yes(pey)), None),
            ("often affected", pick(pek, F), None),
            ("possibly affected", pick(pek, F), None),
        ],
    ));
    // MEP.
    let me = f.central_motor_conduction_deficit;
    let mek = me.is_some();
    let mey = me == Some(true);
    rows.push((
        "motor evoked potentials",
        me.map(|x| {
            if x {
                "central conduction deficit"
            } else {
                "normal"
            }
            .into()
        }),
        [
            ("normal, possibly proximal CB", pick(mek, no(mey)), None),
            ("normal", pick(mek, no(mey)), None),
            ("normal", pick(mek, no(mey)), None),
            ("central conduction deficit", pick(mek, yes(mey)), None),
            ("normal", pick(mek, no(mey)), None),
        ],
    ));

    ENTITIES
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let items: Vec<DifferentialItem> = rows
                .iter()
                .map(|(feature, patient, cells)| {
                    let (expected, fit, note) = cells[i];
                    DifferentialItem {
                        feature: (*feature).into(),
                        patient: patient.clone(),
                        expected: expected.into(),
                        fit: if patient.is_none() { Fit::Unknown } else { fit },
                        note: note.map(String::from),
                    }
                })
                .collect();
            let line = |it: &DifferentialItem| {
                format!(
                    "{}: {} (expected: {}){}",
                    it.feature,
                    it.patient.as_deref().unwrap_or("unknown"),
                    it.expected,
                    it.note
                        .as_ref()
                        .map(|n| format!(" — {n}"))
                        .unwrap_or_default()
                )
            };
            EntityAssessment {
                entity: (*e).into(),
                fits: items
                    .iter()
                    .filter(|x| x.fit == Fit::Fits)
                    .map(line)
                    .collect(),
                contradicts: items
                    .iter()
                    .filter(|x| x.fit == Fit::Contradicts)
                    .map(line)
                    .collect(),
                unknown: items
                    .iter()
                    .filter(|x| x.fit == Fit::Unknown)
                    .map(line)
                    .collect(),
                items,
            }
        })
        .collect()
}
