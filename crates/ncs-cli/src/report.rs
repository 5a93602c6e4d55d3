//! The analysis report: JSON rows (a public contract, documented in the README), the
//! conversion from measurements to block-detector observations, and the terminal tables.

use ncs_block::{
    BlockDetector, ClinicalFindings, CriteriaSet, Modality, NormalValues, NullSink, Observation,
    SegmentVerdict, Study,
};
use ncs_runtime::{Measurement, StimulusTag};
use serde::Serialize;

/// `session` in the JSON report.
#[derive(Debug, Clone, Serialize)]
pub struct SessionRow {
    /// File analysed.
    pub path: String,
    /// Sample rate (Hz).
    pub sample_rate_hz: f64,
    /// Channels in the acquisition series.
    pub channels: usize,
    /// Length (s).
    pub duration_s: f64,
    /// Mains interference per channel, estimated by FFT over the first 2 s.
    pub mains: Vec<crate::analyze::MainsRow>,
    /// Channels that hold their extreme value for runs of samples: the amplifier or converter
    /// saturated somewhere in the record.
    pub saturated_channels: Vec<usize>,
}

/// One element of `responses` in the JSON report (field names are a public contract).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ResponseRow {
    /// Stimulus instant on the session clock (s).
    pub stimulus_time_s: f64,
    /// Nerve.
    pub nerve: Option<String>,
    /// Side.
    pub side: Option<String>,
    /// Stimulation site.
    pub site: Option<String>,
    /// `motor` or `sensory`.
    pub modality: &'static str,
    /// Site to active electrode (mm).
    pub distance_mm: Option<f64>,
    /// Channel measured.
    pub channel: usize,
    /// Stimulus intensity (mA).
    pub intensity_ma: Option<f64>,
    /// Whether a response was found.
    pub present: bool,
    /// Whether this is the supramaximal response used for the segments.
    pub selected: bool,
    /// Onset latency (ms).
    pub onset_latency_ms: Option<f64>,
    /// Negative-peak latency (ms).
    pub negative_peak_latency_ms: Option<f64>,
    /// Negative-peak amplitude (mV).
    pub negative_peak_amplitude_mv: Option<f64>,
    /// Peak-to-peak amplitude (mV).
    pub peak_to_peak_amplitude_mv: Option<f64>,
    /// Negative-peak area (mV·ms).
    pub negative_peak_area_mv_ms: Option<f64>,
    /// Negative-peak duration (ms).
    pub negative_peak_duration_ms: Option<f64>,
    /// Total duration (ms).
    pub total_duration_ms: Option<f64>,
    /// Sweeps averaged (sensory responses are measured on their site's running average).
    pub averaged_sweeps: usize,
    /// Quality flags.
    pub flags: Vec<&'static str>,
}

/// The whole JSON report of `ncs analyze`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The session.
    pub session: SessionRow,
    /// One row per stimulus, in time order.
    pub responses: Vec<ResponseRow>,
    /// Segment verdicts.
    pub segments: Vec<SegmentVerdict>,
    /// Patient-level summary (decision support for a clinician).
    pub patient: serde_json::Value,
    /// What was assumed about the input (missing columns, defaults).
    pub assumptions: Vec<String>,
    /// Measurements the block detector could not use, with the reason.
    pub warnings: Vec<String>,
}

fn modality_name(m: Modality) -> &'static str {
    match m {
        Modality::Motor => "motor",
        Modality::Sensory => "sensory",
    }
}

/// The block detector's view of a measurement, when its stimulus says which nerve and site it
/// was (a stimulus without a nerve or site cannot be placed on a segment).
pub fn observation(m: &Measurement, tag: Option<&StimulusTag>) -> Option<Observation> {
    let t = tag?;
    Some(Observation {
        stimulus_time_s: m.stimulus_time_s,
        nerve: t.nerve.clone()?,
        side: t.side.clone().unwrap_or_else(|| "unknown".into()),
        site: t.site.clone()?,
        modality: m.modality,
        distance_mm: t.distance_mm.filter(|d| d.is_finite()),
        channel: m.channel,
        intensity_ma: m.intensity_ma.or(t.intensity_ma).filter(|i| i.is_finite()),
        response: m.response,
        averaged_sweeps: m.averaged_sweeps.max(1),
    })
}

/// Collects measurements, feeds the block detector and builds the report. The live pipeline
/// and `ncs analyze` both go through this, so their outputs agree.
pub struct Analysis {
    detector: BlockDetector,
    criteria: CriteriaSet,
    study: Option<Study>,
    tags: Vec<StimulusTag>,
    measurements: Vec<Measurement>,
    /// Per measurement, its index among the detector's observations.
    observation_index: Vec<Option<usize>>,
    findings: ClinicalFindings,
    warnings: Vec<String>,
}

impl Analysis {
    /// A new analysis with the given criteria set, optional study protocol and findings.
    pub fn new(
        criteria: CriteriaSet,
        study: Option<Study>,
        findings: ClinicalFindings,
        tags: Vec<StimulusTag>,
    ) -> anyhow::Result<Self> {
        let detector = BlockDetector::new(
            study.clone(),
            criteria.clone(),
            NormalValues::default_adult(),
        )?;
        Ok(Analysis {
            detector,
            criteria,
            study,
            tags,
            measurements: Vec::new(),
            observation_index: Vec::new(),
            findings,
            warnings: Vec::new(),
        })
    }

    /// Adds one measurement (in stimulus order); returns the segment verdicts it changed.
    pub fn add(&mut self, m: &Measurement) -> usize {
        let (index, changed) = self.observe(m);
        self.measurements.push(*m);
        self.observation_index.push(index);
        changed
    }

    fn observe(&mut self, m: &Measurement) -> (Option<usize>, usize) {
        let tag = m.tag.and_then(|t| self.tags.get(t as usize));
        match observation(m, tag) {
            Some(obs) => match self.detector.push(obs, &mut NullSink) {
                Ok(report) => (Some(report.index), report.segments_changed),
                Err(e) => {
                    self.warnings
                        .push(format!("stimulus at {:.4} s: {e}", m.stimulus_time_s));
                    (None, 0)
                }
            },
            None => (None, 0),
        }
    }

    /// Replaces the study protocol (a distance measured during the study) and grades every
    /// measurement again, in the order they came.
    pub fn set_study(&mut self, study: Study) -> anyhow::Result<()> {
        self.study = Some(study);
        self.rebuild()
    }

    /// Leaves out the measurement of stimulus `seq` (the examiner rejected it) and grades
    /// the rest again; returns whether there was one.
    pub fn reject(&mut self, seq: u64) -> anyhow::Result<bool> {
        let Some(k) = self.measurements.iter().position(|m| m.seq == seq) else {
            return Ok(false);
        };
        self.measurements.remove(k);
        self.rebuild()?;
        Ok(true)
    }

    fn rebuild(&mut self) -> anyhow::Result<()> {
        self.detector = BlockDetector::new(
            self.study.clone(),
            self.criteria.clone(),
            NormalValues::default_adult(),
        )?;
        self.warnings.clear();
        let all = std::mem::take(&mut self.measurements);
        self.observation_index.clear();
        for m in &all {
            let (index, _) = self.observe(m);
            self.observation_index.push(index);
        }
        self.measurements = all;
        Ok(())
    }

    /// The detector (segments, sites, patient).
    pub fn detector(&self) -> &BlockDetector {
        &self.detector
    }

    /// One JSON row per measurement so far.
    pub fn rows(&self) -> Vec<ResponseRow> {
        self.measurements
            .iter()
            .zip(&self.observation_index)
            .map(|(m, idx)| {
                let selected = idx.is_some_and(|i| self.detector.is_selected(i));
                let tag = m.tag.and_then(|t| self.tags.get(t as usize));
                let mut row = response_row(m, tag, selected);
                // The block detector takes a site's distance from the protocol when it gives
                // one (measured during the study, perhaps after the stimulus): so does the row.
                if let Some(d) = tag.and_then(|t| self.protocol_distance(t, m)) {
                    row.distance_mm = Some(d);
                }
                row
            })
            .collect()
    }

    /// The distance the study protocol gives the site of `tag`, recorded on `m`'s channel.
    fn protocol_distance(&self, tag: &StimulusTag, m: &Measurement) -> Option<f64> {
        use ncs_block::names::{canonical_nerve, canonical_side, canonical_site};
        let study = self.study.as_ref()?;
        let nerve = study.find(
            &canonical_nerve(tag.nerve.as_deref()?),
            &canonical_side(tag.side.as_deref()?),
            m.modality,
            m.channel,
        )?;
        let site = canonical_site(tag.site.as_deref()?);
        nerve
            .sites
            .iter()
            .find(|s| s.name == site)
            .map(|s| s.distance_mm)
    }

    /// The full report.
    pub fn report(&self, session: SessionRow, assumptions: Vec<String>) -> anyhow::Result<Report> {
        let patient = serde_json::to_value(self.detector.patient(&self.findings))?;
        Ok(Report {
            session,
            responses: self.rows(),
            segments: self.detector.segments(),
            patient,
            assumptions,
            warnings: self
                .warnings
                .iter()
                .cloned()
                .chain(polarity_warnings(&self.measurements))
                .collect(),
        })
    }
}

/// One warning per channel and modality whose sweeps go the other way from the configured first
/// phase (flag `opposite_polarity`) more often than not.
fn polarity_warnings(measurements: &[Measurement]) -> Vec<String> {
    use ncs_cmap::Flag;
    let mut seen: Vec<((usize, Modality), usize, usize)> = Vec::new();
    for m in measurements
        .iter()
        .filter(|m| !m.response.flags.contains(Flag::DataGap))
    {
        let key = (m.channel, m.modality);
        let i = match seen.iter().position(|(k, _, _)| *k == key) {
            Some(i) => i,
            None => {
                seen.push((key, 0, 0));
                seen.len() - 1
            }
        };
        seen[i].1 += 1;
        seen[i].2 += usize::from(m.response.flags.contains(Flag::OppositePolarity));
    }
    seen.into_iter()
        .filter(|&(_, n, opposite)| opposite > 0 && 2 * opposite > n)
        .map(|((channel, modality), n, opposite)| {
            format!(
                "channel {channel}: {opposite} of {n} {} sweeps deflect the other way from the \
                 first phase measured (flag opposite_polarity): active and reference electrodes \
                 swapped, or the polarity setting (--polarity) is the wrong way round",
                modality_name(modality)
            )
        })
        .collect()
}

/// The JSON row of one measurement.
pub fn response_row(m: &Measurement, tag: Option<&StimulusTag>, selected: bool) -> ResponseRow {
    let x = m.response.measures;
    ResponseRow {
        stimulus_time_s: m.stimulus_time_s,
        nerve: tag.and_then(|t| t.nerve.clone()),
        side: tag.and_then(|t| t.side.clone()),
        site: tag.and_then(|t| t.site.clone()),
        modality: modality_name(m.modality),
        distance_mm: tag.and_then(|t| t.distance_mm).filter(|d| d.is_finite()),
        channel: m.channel,
        intensity_ma: m
            .intensity_ma
            .or(tag.and_then(|t| t.intensity_ma))
            .filter(|i| i.is_finite()),
        present: m.response.present,
        selected,
        onset_latency_ms: x.onset_latency_ms,
        negative_peak_latency_ms: x.negative_peak_latency_ms,
        negative_peak_amplitude_mv: x.negative_peak_amplitude_mv,
        peak_to_peak_amplitude_mv: x.peak_to_peak_amplitude_mv,
        negative_peak_area_mv_ms: x.negative_peak_area_mv_ms,
        negative_peak_duration_ms: x.negative_peak_duration_ms,
        total_duration_ms: x.total_duration_ms,
        averaged_sweeps: m.averaged_sweeps,
        flags: m.response.flags.iter().map(|f| f.name()).collect(),
    }
}

fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.digits$}"))
}

/// Writes the responses and segment verdicts as terminal tables.
pub fn print_tables(report: &Report, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: {:.0} Hz, {} channel(s), {:.1} s",
        report.session.path,
        report.session.sample_rate_hz,
        report.session.channels,
        report.session.duration_s
    )?;
    for c in &report.session.saturated_channels {
        writeln!(
            out,
            "channel {c} saturates (clipped at the amplifier's or converter's limit)"
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:>9} {:<10} {:<6} {:<12} {:>3} {:>6} {:>4} {:>7} {:>7} {:>7} {:>7} {:>8} {:>6}  flags",
        "time s",
        "nerve",
        "side",
        "site",
        "ch",
        "mA",
        "sel",
        "onset",
        "peak",
        "amp mV",
        "p-p mV",
        "area",
        "dur"
    )?;
    for r in &report.responses {
        writeln!(
            out,
            "{:>9.3} {:<10} {:<6} {:<12} {:>3} {:>6} {:>4} {:>7} {:>7} {:>7} {:>7} {:>8} {:>6}  {}",
            r.stimulus_time_s,
            r.nerve.as_deref().unwrap_or("-"),
            r.side.as_deref().unwrap_or("-"),
            r.site.as_deref().unwrap_or("-"),
            r.channel,
            num(r.intensity_ma, 1),
            if r.selected { "*" } else { "" },
            num(r.onset_latency_ms, 2),
            num(r.negative_peak_latency_ms, 2),
            num(r.negative_peak_amplitude_mv, 3),
            num(r.peak_to_peak_amplitude_mv, 3),
            num(r.negative_peak_area_mv_ms, 2),
            num(r.negative_peak_duration_ms, 2),
            r.flags.join(",")
        )?;
    }
    print_segments(&report.segments, out)?;
    print_patient(&report.patient, out)?;
    for w in &report.warnings {
        writeln!(out, "warning: {w}")?;
    }
    Ok(())
}

/// Writes the segment verdict table.
pub fn print_segments(
    segments: &[SegmentVerdict],
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "{:<10} {:<6} {:<22} {:>6} {:>6} {:>7} {:>7} {:>7}  {:<15} note",
        "nerve", "side", "segment", "mm", "CV m/s", "amp ↓%", "area ↓%", "dur ↑%", "block"
    )?;
    for s in segments.iter().filter(|s| s.modality == Modality::Motor) {
        let block = serde_json::to_value(s.block)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let mut notes = Vec::new();
        if s.entrapment_site {
            let name = s.entrapment_name.as_deref().unwrap_or("-");
            notes.push(format!("entrapment site ({name}), not counted"));
        }
        if s.dispersion {
            notes.push("temporal dispersion".to_string());
        }
        if s.focal_slowing {
            notes.push("focal slowing".to_string());
        }
        if !s.spans.is_empty() {
            notes.push(format!("long segment over {}", s.spans.join(", ")));
        }
        let note = notes.join("; ");
        writeln!(
            out,
            "{:<10} {:<6} {:<22} {:>6} {:>6} {:>7} {:>7} {:>7}  {:<15} {}",
            s.nerve,
            s.side,
            format!("{} → {}", s.from_site, s.to_site),
            num(s.distance_mm, 0),
            num(s.conduction_velocity_m_s, 1),
            num(s.amplitude_reduction_pct, 1),
            num(s.area_reduction_pct, 1),
            num(s.duration_increase_pct, 1),
            block,
            note
        )?;
    }
    writeln!(out)?;
    writeln!(out, "Decision support for a clinician, not a diagnosis.")?;
    Ok(())
}

/// Writes the patient-level summary in a few lines (the JSON report holds all of it).
pub fn print_patient(
    patient: &serde_json::Value,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").replace('_', " ");
    let list = |v: &serde_json::Value| {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "none".to_string())
    };
    let efns = &patient["efns_pns_2010"];
    writeln!(out, "Patient summary (decision support for a clinician):")?;
    writeln!(
        out,
        "EFNS/PNS 2010 MMN: {} — {}",
        text(&efns["category"]),
        text(&efns["because"])
    )?;
    let aaem = &patient["aaem_2003"];
    writeln!(
        out,
        "AAEM 2003: definite conduction block in {} nerve(s) outside entrapment sites ({}); {}",
        aaem["definite_cb_count"].as_u64().unwrap_or(0),
        list(&aaem["definite_cb_nerves"]),
        text(&aaem["category"])
    )?;
    let unknown = efns["unknown"].as_array().map_or(0, Vec::len);
    if unknown > 0 {
        writeln!(
            out,
            "{unknown} clinical criteria unknown: give them with --findings FILE"
        )?;
    }
    Ok(())
}

/// Name of the segment-verdict table a live recording writes under `/processing/ncs`.
pub const SEGMENTS_TABLE: &str = "segments";

/// The columns of [`SEGMENTS_TABLE`]: the JSON report's segment fields, reasons joined by
/// " | ".
pub fn segments_table_spec() -> ncs_io::TableSpec {
    use ncs_io::{ColumnSpec, ColumnType};
    let col = |name: &str, description: &str, ty| ColumnSpec {
        name: name.into(),
        description: description.into(),
        ty,
    };
    ncs_io::TableSpec {
        name: SEGMENTS_TABLE.into(),
        description: "Conduction-block verdict per nerve segment at the end of the study (decision support for a clinician)".into(),
        columns: vec![
            col("nerve", "nerve", ColumnType::Str),
            col("side", "side", ColumnType::Str),
            col("from_site", "distal site", ColumnType::Str),
            col("to_site", "proximal site", ColumnType::Str),
            col("distance_mm", "segment length (mm), NaN when unknown", ColumnType::F64),
            col("conduction_velocity_m_s", "conduction velocity (m/s), NaN when unknown", ColumnType::F64),
            col("amplitude_reduction_pct", "negative-peak amplitude reduction (%)", ColumnType::F64),
            col("area_reduction_pct", "negative-peak area reduction (%)", ColumnType::F64),
            col("duration_increase_pct", "negative-peak duration increase (%)", ColumnType::F64),
            col("block", "definite, probable, none or not_assessable", ColumnType::Str),
            col("entrapment_site", "segment crosses a common entrapment site", ColumnType::Bool),
            col("counts_for_mmn", "counts towards MMN criteria", ColumnType::Bool),
            col("criteria", "criteria set", ColumnType::Str),
            col("reasons", "rules, numbers and conditions behind the grade, joined by ' | '", ColumnType::Str),
            col("spans", "intermediate sites a long segment passes over, joined by ', ' (empty: adjacent sites)", ColumnType::Str),
        ],
    }
}

/// One row of [`SEGMENTS_TABLE`].
pub fn segment_row(s: &SegmentVerdict) -> Vec<ncs_io::Value> {
    use ncs_io::Value;
    let f = |v: Option<f64>| Value::F64(v.unwrap_or(f64::NAN));
    let block = serde_json::to_value(s.block)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    vec![
        Value::Str(s.nerve.clone()),
        Value::Str(s.side.clone()),
        Value::Str(s.from_site.clone()),
        Value::Str(s.to_site.clone()),
        f(s.distance_mm),
        f(s.conduction_velocity_m_s),
        f(s.amplitude_reduction_pct),
        f(s.area_reduction_pct),
        f(s.duration_increase_pct),
        Value::Str(block),
        Value::Bool(s.entrapment_site),
        Value::Bool(s.counts_for_mmn),
        Value::Str(s.criteria.clone()),
        Value::Str(s.reasons.join(" | ")),
        Value::Str(s.spans.join(", ")),
    ]
}
