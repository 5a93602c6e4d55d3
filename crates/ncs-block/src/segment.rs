//! Per-segment measures and verdicts (distal site → proximal site of one nerve).

use ncs_cmap::Response;
use serde::{Deserialize, Serialize};

use crate::criteria::{CriteriaSet, Grade, GradeInput};
use crate::names::{nerve_limb, site_level};
use crate::normals::NormalValues;
use crate::select::Selection;
use crate::study::Modality;

/// What to do with a block whose proximal response may be submaximal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmaximalPolicy {
    /// Definite becomes probable (default: a submaximal proximal response can fake a block,
    /// so the block is not definite until the plateau is shown).
    #[default]
    Downgrade,
    /// Keep the grade and only say so in the reasons and flags.
    MarkOnly,
}

/// Settings of the detector beyond the criteria set and the normal values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DetectorOptions {
    /// Growth of the last intensity step below which the response has plateaued (fraction;
    /// default 0.05).
    pub plateau_growth: f64,
    /// Policy for blocks whose proximal response may be submaximal.
    pub submaximal_policy: SubmaximalPolicy,
}

impl Default for DetectorOptions {
    fn default() -> Self {
        DetectorOptions {
            plateau_growth: crate::select::DEFAULT_PLATEAU_GROWTH,
            submaximal_policy: SubmaximalPolicy::Downgrade,
        }
    }
}

/// The verdict on one segment. The first fourteen fields are a public JSON contract
/// (`ncs analyze --format json`); the others are additions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentVerdict {
    /// Canonical nerve.
    pub nerve: String,
    /// Canonical side.
    pub side: String,
    /// Distal site (canonical).
    pub from_site: String,
    /// Proximal site (canonical).
    pub to_site: String,
    /// Segment length (mm).
    pub distance_mm: Option<f64>,
    /// Δdistance / Δonset latency (m/s).
    pub conduction_velocity_m_s: Option<f64>,
    /// 1 − amp(P)/amp(D), negative-peak amplitude (%).
    pub amplitude_reduction_pct: Option<f64>,
    /// 1 − area(P)/area(D), negative-peak area (%).
    pub area_reduction_pct: Option<f64>,
    /// dur(P)/dur(D) − 1, negative-peak duration (%).
    pub duration_increase_pct: Option<f64>,
    /// The grade.
    pub block: Grade,
    /// Whether the segment spans a common entrapment site (`clinical.md` §2).
    pub entrapment_site: bool,
    /// Whether the segment counts towards MMN: motor, graded definite or probable by an MMN
    /// criteria set, and outside entrapment sites.
    pub counts_for_mmn: bool,
    /// Criteria set name.
    pub criteria: String,
    /// Every rule considered, with its numbers and the condition that held or failed.
    pub reasons: Vec<String>,
    /// Motor or sensory.
    pub modality: Modality,
    /// Amplifier channel.
    pub channel: usize,
    /// Criteria set version.
    pub criteria_version: String,
    /// Which entrapment site, when `entrapment_site`.
    pub entrapment_name: Option<String>,
    /// 1 − p2p(P)/p2p(D), peak-to-peak amplitude (%).
    pub peak_to_peak_reduction_pct: Option<f64>,
    /// Temporal dispersion named by the set.
    pub dispersion: bool,
    /// Conduction velocity below the lower limit of normal.
    pub focal_slowing: bool,
    /// Long upper-limb segment in the set's sense.
    pub long_segment: bool,
    /// Distal amplitude requirement held (`None`: the set has none, or not evaluated).
    pub distal_amplitude_ok: Option<bool>,
    /// Distal negative-peak amplitude (mV).
    pub distal_amplitude_mv: Option<f64>,
    /// Proximal negative-peak amplitude (mV).
    pub proximal_amplitude_mv: Option<f64>,
    /// Machine-readable flags: `possibly_submaximal_proximal`, `possibly_submaximal_distal`,
    /// `saturated_distal`, `saturated_proximal`, `downgraded_submaximal`,
    /// `abnormal_distal_duration`, `no_proximal_response`, `no_distal_response`.
    pub flags: Vec<String>,
    /// Arrival index of the distal observation used.
    pub from_observation: Option<usize>,
    /// Arrival index of the proximal observation used.
    pub to_observation: Option<usize>,
    /// Intermediate sites a long segment spans, distal first; empty for a segment between
    /// adjacent sites. A long segment is graded besides the short segments it covers, so the
    /// same block can show on both: counts at patient level are per nerve, never per segment.
    #[serde(default)]
    pub spans: Vec<String>,
}

/// One end of a segment.
#[derive(Debug, Clone, Copy)]
pub struct SiteEnd<'a> {
    /// Canonical site.
    pub name: &'a str,
    /// Distance to the active electrode (mm).
    pub distance_mm: Option<f64>,
    /// The supramaximal choice.
    pub selection: &'a Selection,
    /// The selected response.
    pub response: Option<&'a Response>,
}

/// Nerve-level context of a segment.
#[derive(Debug, Clone, Copy)]
pub struct SegmentContext<'a> {
    /// Canonical nerve.
    pub nerve: &'a str,
    /// Canonical side.
    pub side: &'a str,
    /// Modality.
    pub modality: Modality,
    /// Channel.
    pub channel: usize,
    /// Whether the distal end is the nerve's most distal site (for distal-duration rules).
    pub distal_is_first: bool,
    /// Why the segment cannot be formed, if a site has no distance.
    pub unplaceable: Option<&'a str>,
    /// Intermediate sites, for a long segment formed over them (empty otherwise).
    pub spans: &'a [String],
}

const ENTRAPMENTS: &[(&str, &str, &str, &str)] = &[
    // clinical.md §2 "Common entrapment sites to exclude".
    (
        "median",
        "palm",
        "wrist",
        "median at the wrist (carpal tunnel)",
    ),
    (
        "ulnar",
        "palm",
        "wrist",
        "ulnar at the wrist (Guyon's canal)",
    ),
    (
        "ulnar",
        "below_elbow",
        "above_elbow",
        "ulnar across the elbow",
    ),
    (
        "peroneal",
        "below_fibular_head",
        "popliteal_fossa",
        "peroneal across the fibular head",
    ),
];

/// Whether a segment spans a common entrapment site (`clinical.md` §2): `Ok(Some(name))`,
/// `Ok(None)`, or `Err(())` when a site's anatomical level is unknown and the nerve has
/// entrapment sites.
///
/// A segment spans a zone between sites L and H when its distal end lies below H and its
/// proximal end above L, so a wrist → above-elbow ulnar segment spans the elbow too.
#[allow(clippy::result_unit_err)]
pub fn entrapment(nerve: &str, distal: &str, proximal: &str) -> Result<Option<&'static str>, ()> {
    let zones: Vec<_> = ENTRAPMENTS.iter().filter(|z| z.0 == nerve).collect();
    if zones.is_empty() {
        return Ok(None);
    }
    let (Some((_, d)), Some((_, p))) = (site_level(distal), site_level(proximal)) else {
        return Err(());
    };
    for (_, lo, hi, name) in zones {
        if let (Some((_, l)), Some((_, h))) = (site_level(lo), site_level(hi)) {
            if d < h && p > l {
                return Ok(Some(name));
            }
        }
    }
    Ok(None)
}

fn reduction(d: Option<f64>, p: Option<f64>) -> Option<f64> {
    match (d, p) {
        (Some(d), Some(p)) if d > 0.0 => Some((1.0 - p / d) * 100.0),
        _ => None,
    }
}

/// Computes the measures of one segment and grades it.
pub fn evaluate(
    ctx: &SegmentContext<'_>,
    distal: &SiteEnd<'_>,
    proximal: &SiteEnd<'_>,
    criteria: &CriteriaSet,
    normals: &NormalValues,
    options: &DetectorOptions,
) -> SegmentVerdict {
    let mut v = SegmentVerdict {
        nerve: ctx.nerve.to_string(),
        side: ctx.side.to_string(),
        from_site: distal.name.to_string(),
        to_site: proximal.name.to_string(),
        distance_mm: None,
        conduction_velocity_m_s: None,
        amplitude_reduction_pct: None,
        area_reduction_pct: None,
        duration_increase_pct: None,
        block: Grade::NotAssessable,
        entrapment_site: false,
        counts_for_mmn: false,
        criteria: criteria.name.clone(),
        reasons: vec![],
        modality: ctx.modality,
        channel: ctx.channel,
        criteria_version: criteria.version.clone(),
        entrapment_name: None,
        peak_to_peak_reduction_pct: None,
        dispersion: false,
        focal_slowing: false,
        long_segment: false,
        distal_amplitude_ok: None,
        distal_amplitude_mv: None,
        proximal_amplitude_mv: None,
        flags: vec![],
        from_observation: distal.selection.selected,
        to_observation: proximal.selection.selected,
        spans: ctx.spans.to_vec(),
    };
    if !ctx.spans.is_empty() {
        v.reasons.push(format!(
            "long segment {} over {}: graded as a whole besides its short segments, because {} grades some blocks only on long upper-limb segments; the nerve is counted once at patient level",
            seg_name(&v),
            ctx.spans.join(", "),
            criteria.title
        ));
    }
    let normal = normals.get(ctx.nerve, ctx.modality);
    if normal.is_none() {
        v.reasons.push(format!(
            "no {} normal values for {} in table {:?}: limits that need them cannot be checked",
            ctx.modality, ctx.nerve, normals.name
        ));
    }

    // Entrapment marking is anatomical, so it is decided whatever the numbers are.
    match entrapment(ctx.nerve, distal.name, proximal.name) {
        Ok(Some(name)) => {
            v.entrapment_site = true;
            v.entrapment_name = Some(name.to_string());
            v.reasons.push(format!(
                "entrapment site: {} spans {name} (clinical.md §2): graded by the numbers but never counted towards MMN",
                seg_name(&v)
            ));
        }
        Ok(None) => {}
        Err(()) => v.reasons.push(format!(
            "entrapment status unknown: the anatomical level of {:?} or {:?} is not known, so the segment is not counted towards MMN",
            distal.name, proximal.name
        )),
    }
    let entrapment_unknown = entrapment(ctx.nerve, distal.name, proximal.name).is_err();

    if let (Some(d), Some(p)) = (distal.distance_mm, proximal.distance_mm) {
        v.distance_mm = Some(p - d);
    }
    let (dr, pr) = match (distal.response, proximal.response) {
        (Some(d), Some(p)) => (d, p),
        (None, _) => {
            v.reasons.push(format!(
                "no usable sweep at distal site {} (every sweep overlaps a data gap or was cut short without a response, or none arrived) → not_assessable",
                distal.name
            ));
            return v;
        }
        (_, None) => {
            v.reasons.push(format!(
                "no usable sweep at proximal site {} (every sweep overlaps a data gap or was cut short without a response, or none arrived) → not_assessable",
                proximal.name
            ));
            return v;
        }
    };
    let dm = &dr.measures;
    let pm = &pr.measures;
    v.distal_amplitude_mv = dm.negative_peak_amplitude_mv;
    v.proximal_amplitude_mv = pm.negative_peak_amplitude_mv;
    if !distal.selection.present {
        v.flags.push("no_distal_response".into());
        v.reasons.push(format!(
            "no response at distal site {} in {} sweep(s): nothing to compare the proximal response with → not_assessable",
            distal.name, distal.selection.sweeps
        ));
        return v;
    }
    if !proximal.selection.present {
        v.flags.push("no_proximal_response".into());
        v.amplitude_reduction_pct = Some(100.0);
        v.area_reduction_pct = Some(100.0);
        v.peak_to_peak_reduction_pct = Some(100.0);
        v.reasons.push(format!(
            "no response at proximal site {} in {} sweep(s) while the distal response is {}: 100 % reduction — possible complete block or technical failure (check the stimulation at {}) → not_assessable",
            proximal.name,
            proximal.selection.sweeps,
            dm.negative_peak_amplitude_mv
                .map_or("present".to_string(), |a| format!("{a:.2} mV")),
            proximal.name
        ));
        return v;
    }

    v.amplitude_reduction_pct =
        reduction(dm.negative_peak_amplitude_mv, pm.negative_peak_amplitude_mv);
    v.area_reduction_pct = reduction(dm.negative_peak_area_mv_ms, pm.negative_peak_area_mv_ms);
    v.peak_to_peak_reduction_pct =
        reduction(dm.peak_to_peak_amplitude_mv, pm.peak_to_peak_amplitude_mv);
    v.duration_increase_pct = match (dm.negative_peak_duration_ms, pm.negative_peak_duration_ms) {
        (Some(d), Some(p)) if d > 0.0 => Some((p / d - 1.0) * 100.0),
        _ => None,
    };

    // Conduction velocity = Δdistance / Δonset latency (clinical.md §1), mm/ms = m/s.
    match (v.distance_mm, dm.onset_latency_ms, pm.onset_latency_ms) {
        (Some(dist), Some(ld), Some(lp)) if dist > 0.0 && lp > ld => {
            let cv = dist / (lp - ld);
            v.conduction_velocity_m_s = Some(cv);
            if let Some(n) = normal {
                if cv < n.conduction_velocity_m_s {
                    v.focal_slowing = true;
                    v.reasons.push(format!(
                        "focal slowing: conduction velocity {cv:.1} m/s over {dist:.0} mm < lower limit {} m/s ({}): reported as a finding, not a block",
                        n.conduction_velocity_m_s, n.source
                    ));
                }
            }
        }
        (Some(dist), Some(ld), Some(lp)) => v.reasons.push(format!(
            "conduction velocity not computed: distance {dist:.0} mm and onset latencies {ld:.2} → {lp:.2} ms must both increase"
        )),
        _ => v.reasons.push(
            "conduction velocity not computed: a distance or an onset latency is missing".into(),
        ),
    }

    if ctx.modality == Modality::Sensory {
        v.reasons.push(
            "sensory segment: conduction-block criteria apply to motor responses; the segment serves to check sensory conduction across motor blocks → not_assessable"
                .into(),
        );
        return v;
    }
    if let Some(why) = ctx.unplaceable {
        v.reasons.push(format!("{why} → not_assessable"));
        return v;
    }
    if v.distance_mm.is_some_and(|d| d <= 0.0) {
        v.reasons.push(format!(
            "sites {} and {} are at the same distance: no segment between them → not_assessable",
            distal.name, proximal.name
        ));
        return v;
    }

    let input = GradeInput {
        nerve: ctx.nerve,
        distal_site: distal.name,
        proximal_site: proximal.name,
        area_reduction_pct: v.area_reduction_pct,
        amplitude_reduction_pct: v.amplitude_reduction_pct,
        peak_to_peak_reduction_pct: v.peak_to_peak_reduction_pct,
        duration_increase_pct: v.duration_increase_pct,
        distal_amplitude_mv: dm.negative_peak_amplitude_mv,
        lln_amplitude_mv: normal.map(|n| n.distal_amplitude_mv),
    };
    let out = criteria.grade(&input);
    v.block = out.grade;
    v.dispersion = out.dispersion;
    v.long_segment = out.long_segment;
    v.distal_amplitude_ok = out.distal_amplitude_ok;
    v.reasons.extend(out.reasons);
    if v.dispersion && v.block == Grade::NoBlock {
        v.reasons.push(
            "dispersion without block: the response widens and its amplitude falls, but the set's block conditions are not met"
                .into(),
        );
    }

    if distal.selection.possibly_submaximal {
        v.flags.push("possibly_submaximal_distal".into());
        v.reasons.push(format!(
            "distal response at {} possibly submaximal (never plateaued with intensity): the reductions may be understated",
            distal.name
        ));
    }
    if proximal.selection.possibly_submaximal {
        v.flags.push("possibly_submaximal_proximal".into());
        let blocked = matches!(v.block, Grade::Definite | Grade::Probable);
        let mut text = format!(
            "proximal response at {} possibly submaximal (never plateaued with intensity): a submaximal proximal response can fake a block",
            proximal.name
        );
        if v.block == Grade::Definite && options.submaximal_policy == SubmaximalPolicy::Downgrade {
            v.block = Grade::Probable;
            v.flags.push("downgraded_submaximal".into());
            text.push_str(" → definite downgraded to probable until a plateau is shown");
        } else if blocked {
            text.push_str(" → the block is not confirmed until a plateau is shown");
        }
        v.reasons.push(text);
    }
    if distal.selection.saturated {
        v.flags.push("saturated_distal".into());
        v.reasons.push(
            "distal response saturated: its amplitude and area are lower bounds, so the reductions are lower bounds"
                .into(),
        );
    }
    if proximal.selection.saturated {
        v.flags.push("saturated_proximal".into());
        v.reasons.push(
            "proximal response saturated: its amplitude and area are lower bounds, so the reductions are upper bounds"
                .into(),
        );
    }

    if ctx.distal_is_first {
        if let Some(lim) = criteria
            .distal_duration_limits
            .iter()
            .find(|l| l.nerve == ctx.nerve)
        {
            match dm.total_duration_ms {
                Some(t) if t >= lim.abnormal_at_or_above_ms => {
                    v.flags.push("abnormal_distal_duration".into());
                    v.reasons.push(format!(
                        "{}: distal CMAP duration {t:.1} ms ≥ {} ms: abnormal distal duration",
                        criteria.title, lim.abnormal_at_or_above_ms
                    ));
                }
                Some(t) => v.reasons.push(format!(
                    "{}: distal CMAP duration {t:.1} ms < {} ms: normal",
                    criteria.title, lim.abnormal_at_or_above_ms
                )),
                None => {}
            }
        }
    }

    let blocked = matches!(v.block, Grade::Definite | Grade::Probable);
    v.counts_for_mmn = blocked && criteria.for_mmn && !v.entrapment_site && !entrapment_unknown;
    if blocked && !criteria.for_mmn {
        v.reasons.push(format!(
            "{} is not an MMN criteria set: its grades are not counted towards MMN",
            criteria.title
        ));
    }
    if nerve_limb(ctx.nerve).is_none() {
        v.reasons
            .push(format!("nerve {:?} is not a known nerve name", ctx.nerve));
    }
    v
}

fn seg_name(v: &SegmentVerdict) -> String {
    format!("{} {} {}–{}", v.side, v.nerve, v.from_site, v.to_site)
}
