//! Conduction-block criteria sets as data: named, versioned tables of grading rules.
//!
//! Each built-in set transcribes `clinical.md` §2 (which cites the original papers). A lab
//! can serialise a set to TOML, edit it and load it back ([`CriteriaSet::from_toml_str`]);
//! the grading code only interprets the table.

use serde::{Deserialize, Serialize};

use crate::names::{canonical_nerve, canonical_site, nerve_limb, site_level, Limb};

/// Grade of one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// The numbers cannot be graded (missing response, missing measure, segment not covered).
    NotAssessable,
    /// Graded, no block.
    #[serde(rename = "none")]
    NoBlock,
    /// Probable conduction block.
    Probable,
    /// Definite conduction block.
    Definite,
}

impl Grade {
    /// The JSON name (`"definite"`, `"probable"`, `"none"`, `"not_assessable"`).
    pub const fn name(self) -> &'static str {
        match self {
            Grade::NotAssessable => "not_assessable",
            Grade::NoBlock => "none",
            Grade::Probable => "probable",
            Grade::Definite => "definite",
        }
    }
}

impl std::fmt::Display for Grade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cmp {
    /// ≥
    Ge,
    /// >
    Gt,
    /// ≤
    Le,
    /// <
    Lt,
}

/// `value op bound`, e.g. "≥ 50".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bound {
    /// The operator.
    pub op: Cmp,
    /// The bound.
    pub value: f64,
}

impl Bound {
    /// `≥ value`.
    pub const fn ge(value: f64) -> Self {
        Bound { op: Cmp::Ge, value }
    }
    /// `> value`.
    pub const fn gt(value: f64) -> Self {
        Bound { op: Cmp::Gt, value }
    }
    /// `≤ value`.
    pub const fn le(value: f64) -> Self {
        Bound { op: Cmp::Le, value }
    }
    /// `< value`.
    pub const fn lt(value: f64) -> Self {
        Bound { op: Cmp::Lt, value }
    }
    /// Whether `x` satisfies the bound.
    pub fn holds(&self, x: f64) -> bool {
        match self.op {
            Cmp::Ge => x >= self.value,
            Cmp::Gt => x > self.value,
            Cmp::Le => x <= self.value,
            Cmp::Lt => x < self.value,
        }
    }
    /// `"≥ 50"`.
    pub fn symbol(&self) -> &'static str {
        match self.op {
            Cmp::Ge => "≥",
            Cmp::Gt => ">",
            Cmp::Le => "≤",
            Cmp::Lt => "<",
        }
    }
}

/// Which reduction a rule tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReductionMeasure {
    /// Negative-peak area reduction.
    NegativePeakArea,
    /// Negative-peak amplitude reduction.
    NegativePeakAmplitude,
    /// The larger of negative-peak area and peak-to-peak amplitude reductions ("a drop in
    /// area or peak-to-peak amplitude").
    AreaOrPeakToPeak,
}

impl ReductionMeasure {
    fn describe(self) -> &'static str {
        match self {
            ReductionMeasure::NegativePeakArea => "negative-peak area reduction",
            ReductionMeasure::NegativePeakAmplitude => "negative-peak amplitude reduction",
            ReductionMeasure::AreaOrPeakToPeak => "area or peak-to-peak amplitude reduction",
        }
    }
}

/// How the duration change is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DurationChange {
    /// duration(P) / duration(D) − 1, signed.
    Increase,
    /// |duration(P) / duration(D) − 1| ("change in duration").
    Absolute,
}

/// One named segment a rule is restricted to (canonical names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedSegment {
    /// Nerve.
    pub nerve: String,
    /// Distal site.
    pub distal: String,
    /// Proximal site.
    pub proximal: String,
}

/// A "long segment": from at or below `distal_at_or_below` to at or above
/// `proximal_at_or_above`, by anatomical level ([`crate::names::site_level`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongSegment {
    /// The distal end must be at or distal to this site.
    pub distal_at_or_below: String,
    /// The proximal end must be at or proximal to this site.
    pub proximal_at_or_above: String,
}

/// Where a rule applies. Empty lists mean "any".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scope {
    /// Nerves the rule applies to.
    pub nerves: Vec<String>,
    /// Nerves the rule never applies to.
    pub exclude_nerves: Vec<String>,
    /// Only long segments (set's `long_segments`) of upper-limb nerves.
    pub long_upper_limb_segment: bool,
    /// Only these exact segments.
    pub segments: Vec<NamedSegment>,
}

/// One grading rule: if every condition holds, the segment gets `grade`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradeRule {
    /// Grade given when the rule holds.
    pub grade: Grade,
    /// Human label, e.g. `"definite CB"`.
    pub label: String,
    /// Which reduction is tested.
    pub reduction: ReductionMeasure,
    /// The reduction bound (percent).
    pub reduction_bound: Bound,
    /// The duration-change bound (percent), if the rule has one.
    #[serde(default)]
    pub duration: Option<Bound>,
    /// Whether the set's distal-amplitude requirement must hold.
    #[serde(default)]
    pub requires_distal_amplitude: bool,
    /// Where the rule applies.
    #[serde(default)]
    pub scope: Scope,
}

/// The distal-amplitude requirement of a set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistalAmplitudeRule {
    /// Absolute bound on the distal negative-peak amplitude (mV).
    #[serde(default)]
    pub absolute_mv: Option<Bound>,
    /// Bound on distal amplitude / lower limit of normal (fraction, e.g. > 0.2).
    #[serde(default)]
    pub fraction_of_lln: Option<Bound>,
}

/// Abnormal distal CMAP (total) duration for one nerve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistalDurationLimit {
    /// Nerve.
    pub nerve: String,
    /// Distal total duration at or above this is abnormal (ms).
    pub abnormal_at_or_above_ms: f64,
}

/// A named, versioned criteria set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CriteriaSet {
    /// Lookup name, e.g. `"efns-pns-2010-mmn"`.
    pub name: String,
    /// Version of this table (bumped whenever a number changes).
    pub version: String,
    /// Human title.
    pub title: String,
    /// The source.
    pub citation: String,
    /// Whether segments of this set count towards MMN at patient level.
    pub for_mmn: bool,
    /// Rules, strongest grade first; the first rule that holds gives the grade.
    #[serde(rename = "rule")]
    pub rules: Vec<GradeRule>,
    /// How duration change is measured for the rules.
    pub duration_change: DurationChange,
    /// Duration change beyond which temporal dispersion is named.
    #[serde(default)]
    pub dispersion: Option<Bound>,
    /// The distal-amplitude requirement, if any.
    #[serde(default)]
    pub distal_amplitude: Option<DistalAmplitudeRule>,
    /// Long segments (for `Scope::long_upper_limb_segment`).
    #[serde(default, rename = "long_segment")]
    pub long_segments: Vec<LongSegment>,
    /// Abnormal distal duration per nerve.
    #[serde(default, rename = "distal_duration_limit")]
    pub distal_duration_limits: Vec<DistalDurationLimit>,
    /// Notes on how the table was transcribed.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// A criteria set could not be found or loaded.
#[derive(Debug, thiserror::Error)]
pub enum CriteriaError {
    /// No built-in set of that name.
    #[error("criteria set {name:?} is unknown; valid names are {valid:?}")]
    Unknown {
        /// The requested name.
        name: String,
        /// Valid names.
        valid: Vec<&'static str>,
    },
    /// The TOML text did not parse.
    #[error("criteria set: {0}")]
    Toml(#[from] toml::de::Error),
    /// A set without rules.
    #[error("criteria set {name:?} must have at least one [[rule]], got none")]
    NoRules {
        /// The set's name.
        name: String,
    },
    /// A field holds a value the grading cannot use.
    #[error("criteria set {name:?}: {field} must be {rule}, got {got}")]
    Invalid {
        /// The set's name.
        name: String,
        /// Path of the field in the table, e.g. `rule[0].reduction_bound.value`.
        field: String,
        /// The rule the value breaks.
        rule: &'static str,
        /// The value as written.
        got: String,
    },
}

/// The numbers a set needs to grade one segment.
#[derive(Debug, Clone, Default)]
pub struct GradeInput<'a> {
    /// Canonical nerve.
    pub nerve: &'a str,
    /// Canonical distal site.
    pub distal_site: &'a str,
    /// Canonical proximal site.
    pub proximal_site: &'a str,
    /// Negative-peak area reduction (%).
    pub area_reduction_pct: Option<f64>,
    /// Negative-peak amplitude reduction (%).
    pub amplitude_reduction_pct: Option<f64>,
    /// Peak-to-peak amplitude reduction (%).
    pub peak_to_peak_reduction_pct: Option<f64>,
    /// Negative-peak duration increase (%), signed.
    pub duration_increase_pct: Option<f64>,
    /// Distal negative-peak amplitude (mV).
    pub distal_amplitude_mv: Option<f64>,
    /// Lower limit of normal of the distal amplitude (mV), if the table has the nerve.
    pub lln_amplitude_mv: Option<f64>,
}

/// What a set concluded for one segment.
#[derive(Debug, Clone, PartialEq)]
pub struct GradeOutcome {
    /// The grade.
    pub grade: Grade,
    /// Every rule considered, with its numbers and which condition held or failed.
    pub reasons: Vec<String>,
    /// Whether temporal dispersion was named.
    pub dispersion: bool,
    /// Whether the distal-amplitude requirement held (`None`: not applicable / unknown).
    pub distal_amplitude_ok: Option<bool>,
    /// Whether the segment is a long upper-limb segment in this set's sense.
    pub long_segment: bool,
}

/// Names of the built-in sets; the first is the default.
pub const BUILTIN_NAMES: [&str; 3] = ["efns-pns-2010-mmn", "aan-1991-cidp", "efns-pns-2010-cidp"];

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

impl CriteriaSet {
    /// A built-in set by name (`"efns-pns-2010-mmn"`, `"aan-1991-cidp"`,
    /// `"efns-pns-2010-cidp"`); an unknown name is an error listing the valid names.
    pub fn by_name(name: &str) -> Result<CriteriaSet, CriteriaError> {
        match name.trim().to_lowercase().replace('_', "-").as_str() {
            "efns-pns-2010-mmn" => Ok(Self::efns_pns_2010_mmn()),
            "aan-1991-cidp" => Ok(Self::aan_1991_cidp()),
            "efns-pns-2010-cidp" => Ok(Self::efns_pns_2010_cidp()),
            _ => Err(CriteriaError::Unknown {
                name: name.to_string(),
                valid: BUILTIN_NAMES.to_vec(),
            }),
        }
    }

    /// Parses a set from TOML (the format [`CriteriaSet::to_toml_string`] writes).
    pub fn from_toml_str(text: &str) -> Result<CriteriaSet, CriteriaError> {
        let mut s: CriteriaSet = toml::from_str(text)?;
        if s.rules.is_empty() {
            return Err(CriteriaError::NoRules { name: s.name });
        }
        // Tables written by hand may use any spelling; grading compares canonical names.
        for r in &mut s.rules {
            for n in r.scope.nerves.iter_mut().chain(&mut r.scope.exclude_nerves) {
                *n = canonical_nerve(n);
            }
            for seg in &mut r.scope.segments {
                seg.nerve = canonical_nerve(&seg.nerve);
                seg.distal = canonical_site(&seg.distal);
                seg.proximal = canonical_site(&seg.proximal);
            }
        }
        for l in &mut s.long_segments {
            l.distal_at_or_below = canonical_site(&l.distal_at_or_below);
            l.proximal_at_or_above = canonical_site(&l.proximal_at_or_above);
        }
        for d in &mut s.distal_duration_limits {
            d.nerve = canonical_nerve(&d.nerve);
        }
        s.check()?;
        Ok(s)
    }

    /// Checks the numbers and names that parsing alone cannot: a NaN bound or an unknown
    /// site would silently make a rule never (or always) hold.
    fn check(&self) -> Result<(), CriteriaError> {
        let bad = |field: String, rule: &'static str, got: String| CriteriaError::Invalid {
            name: self.name.clone(),
            field,
            rule,
            got,
        };
        if self.name.trim().is_empty() {
            return Err(bad(
                "name".into(),
                "a non-empty name",
                format!("{:?}", self.name),
            ));
        }
        for (i, r) in self.rules.iter().enumerate() {
            let v = r.reduction_bound.value;
            if !(v.is_finite() && (0.0..=100.0).contains(&v)) {
                return Err(bad(
                    format!("rule[{i}].reduction_bound.value"),
                    "a percentage in [0, 100]",
                    v.to_string(),
                ));
            }
            if let Some(d) = r.duration {
                if !d.value.is_finite() {
                    return Err(bad(
                        format!("rule[{i}].duration.value"),
                        "a finite percentage",
                        d.value.to_string(),
                    ));
                }
            }
        }
        if let Some(d) = self.dispersion {
            if !d.value.is_finite() {
                return Err(bad(
                    "dispersion.value".into(),
                    "a finite percentage",
                    d.value.to_string(),
                ));
            }
        }
        if let Some(a) = &self.distal_amplitude {
            for (field, b) in [
                ("distal_amplitude.absolute_mv.value", a.absolute_mv),
                ("distal_amplitude.fraction_of_lln.value", a.fraction_of_lln),
            ] {
                if let Some(b) = b {
                    if !(b.value.is_finite() && b.value >= 0.0) {
                        return Err(bad(
                            field.into(),
                            "a finite number >= 0",
                            b.value.to_string(),
                        ));
                    }
                }
            }
        }
        for (i, l) in self.long_segments.iter().enumerate() {
            for (field, site) in [
                ("distal_at_or_below", &l.distal_at_or_below),
                ("proximal_at_or_above", &l.proximal_at_or_above),
            ] {
                if site_level(site).is_none() {
                    return Err(bad(
                        format!("long_segment[{i}].{field}"),
                        "a site with a known anatomical level (wrist, elbow, axilla, …)",
                        format!("{site:?}"),
                    ));
                }
            }
        }
        for (i, d) in self.distal_duration_limits.iter().enumerate() {
            let v = d.abnormal_at_or_above_ms;
            if !(v.is_finite() && v > 0.0) {
                return Err(bad(
                    format!("distal_duration_limit[{i}].abnormal_at_or_above_ms"),
                    "a finite duration > 0 ms",
                    v.to_string(),
                ));
            }
        }
        Ok(())
    }

    /// Writes the set as TOML.
    pub fn to_toml_string(&self) -> String {
        // Every field is a plain number, string, bool, list or table: serialisation cannot
        // fail for this type.
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot serialise: {e}"))
    }

    /// EFNS/PNS 2010 MMN guideline (van Schaik et al., J Peripher Nerv Syst 2010;15:295–301),
    /// as tabulated in `clinical.md` §2. The default set.
    pub fn efns_pns_2010_mmn() -> CriteriaSet {
        let mup = strs(&["median", "ulnar", "peroneal"]);
        CriteriaSet {
            name: "efns-pns-2010-mmn".into(),
            version: "1".into(),
            title: "EFNS/PNS 2010 MMN".into(),
            citation: "van Schaik et al., J Peripher Nerv Syst 2010;15:295–301 (clinical.md §2)"
                .into(),
            for_mmn: true,
            rules: vec![
                GradeRule {
                    grade: Grade::Definite,
                    label: "definite CB".into(),
                    reduction: ReductionMeasure::NegativePeakArea,
                    reduction_bound: Bound::ge(50.0),
                    duration: Some(Bound::le(30.0)),
                    requires_distal_amplitude: true,
                    scope: Scope {
                        nerves: mup.clone(),
                        ..Scope::default()
                    },
                },
                GradeRule {
                    grade: Grade::Probable,
                    label: "probable CB (long upper-limb segment)".into(),
                    reduction: ReductionMeasure::NegativePeakArea,
                    reduction_bound: Bound::ge(30.0),
                    duration: Some(Bound::le(30.0)),
                    requires_distal_amplitude: false,
                    scope: Scope {
                        long_upper_limb_segment: true,
                        ..Scope::default()
                    },
                },
                GradeRule {
                    grade: Grade::Probable,
                    label: "probable CB (with duration increase)".into(),
                    reduction: ReductionMeasure::NegativePeakArea,
                    reduction_bound: Bound::ge(50.0),
                    duration: Some(Bound::gt(30.0)),
                    requires_distal_amplitude: false,
                    scope: Scope {
                        nerves: mup,
                        ..Scope::default()
                    },
                },
            ],
            duration_change: DurationChange::Increase,
            dispersion: Some(Bound::gt(30.0)),
            distal_amplitude: Some(DistalAmplitudeRule {
                absolute_mv: Some(Bound::gt(1.0)),
                fraction_of_lln: Some(Bound::gt(0.2)),
            }),
            long_segments: vec![
                // clinical.md §2: "wrist–elbow, elbow–axilla". For the ulnar nerve the
                // elbow level starts below the elbow, so wrist–below elbow counts.
                LongSegment {
                    distal_at_or_below: "wrist".into(),
                    proximal_at_or_above: "below_elbow".into(),
                },
                LongSegment {
                    distal_at_or_below: "above_elbow".into(),
                    proximal_at_or_above: "axilla".into(),
                },
            ],
            distal_duration_limits: vec![],
            notes: strs(&[
                "The distal amplitude requirement (> 1 mV and > 20 % of LLN) applies to definite CB only, as clinical.md §2 tabulates it.",
                "Probable CB with duration increase > 30 % is 'as for definite' in nerves (median, ulnar, peroneal) without the distal amplitude requirement.",
            ]),
        }
    }

    /// AAN 1991 research criteria for CIDP, partial conduction block (`clinical.md` §2).
    pub fn aan_1991_cidp() -> CriteriaSet {
        let segs = vec![
            NamedSegment {
                nerve: "median".into(),
                distal: "wrist".into(),
                proximal: "elbow".into(),
            },
            NamedSegment {
                nerve: "ulnar".into(),
                distal: "wrist".into(),
                proximal: "below_elbow".into(),
            },
            NamedSegment {
                nerve: "peroneal".into(),
                distal: "ankle".into(),
                proximal: "below_fibular_head".into(),
            },
        ];
        CriteriaSet {
            name: "aan-1991-cidp".into(),
            version: "1".into(),
            title: "AAN 1991 CIDP (partial block)".into(),
            citation: "AAN ad hoc subcommittee, Neurology 1991;41:617–618 (clinical.md §2)".into(),
            for_mmn: false,
            rules: vec![
                GradeRule {
                    grade: Grade::Definite,
                    label: "partial conduction block".into(),
                    reduction: ReductionMeasure::AreaOrPeakToPeak,
                    reduction_bound: Bound::gt(20.0),
                    duration: Some(Bound::lt(15.0)),
                    requires_distal_amplitude: false,
                    scope: Scope {
                        segments: segs.clone(),
                        ..Scope::default()
                    },
                },
                GradeRule {
                    grade: Grade::Probable,
                    label: "temporal dispersion / possible conduction block".into(),
                    reduction: ReductionMeasure::AreaOrPeakToPeak,
                    reduction_bound: Bound::gt(20.0),
                    duration: Some(Bound::gt(15.0)),
                    requires_distal_amplitude: false,
                    scope: Scope {
                        segments: segs,
                        ..Scope::default()
                    },
                },
            ],
            duration_change: DurationChange::Absolute,
            dispersion: Some(Bound::gt(15.0)),
            distal_amplitude: None,
            long_segments: vec![],
            distal_duration_limits: vec![],
            notes: strs(&[
                "'Partial conduction block' is reported as definite, 'temporal dispersion / possible block' as probable.",
                "Only median wrist–elbow, ulnar wrist–below elbow and peroneal ankle–below fibular head are graded; other segments are not_assessable under this set.",
                "A duration change of exactly 15 % meets neither '< 15 %' nor '> 15 %' as written.",
            ]),
        }
    }

    /// EFNS/PNS 2010 CIDP guideline, motor conduction block (`clinical.md` §2).
    pub fn efns_pns_2010_cidp() -> CriteriaSet {
        let limits = [
            ("median", 6.6),
            ("ulnar", 6.7),
            ("peroneal", 7.6),
            ("tibial", 8.8),
        ];
        CriteriaSet {
            name: "efns-pns-2010-cidp".into(),
            version: "1".into(),
            title: "EFNS/PNS 2010 CIDP".into(),
            citation: "Van den Bergh et al., J Peripher Nerv Syst 2010;15:1–9 (clinical.md §2)"
                .into(),
            for_mmn: false,
            rules: vec![
                GradeRule {
                    grade: Grade::Definite,
                    label: "partial motor CB".into(),
                    reduction: ReductionMeasure::NegativePeakAmplitude,
                    reduction_bound: Bound::ge(50.0),
                    duration: None,
                    requires_distal_amplitude: true,
                    scope: Scope::default(),
                },
                GradeRule {
                    grade: Grade::Probable,
                    label: "probable partial motor CB".into(),
                    reduction: ReductionMeasure::NegativePeakAmplitude,
                    reduction_bound: Bound::ge(30.0),
                    duration: None,
                    requires_distal_amplitude: true,
                    scope: Scope {
                        exclude_nerves: strs(&["tibial"]),
                        ..Scope::default()
                    },
                },
            ],
            duration_change: DurationChange::Increase,
            dispersion: Some(Bound::gt(30.0)),
            distal_amplitude: Some(DistalAmplitudeRule {
                absolute_mv: None,
                fraction_of_lln: Some(Bound::ge(0.2)),
            }),
            long_segments: vec![],
            distal_duration_limits: limits
                .iter()
                .map(|(n, v)| DistalDurationLimit {
                    nerve: (*n).into(),
                    abnormal_at_or_above_ms: *v,
                })
                .collect(),
            notes: strs(&[
                "The CB rules bound no duration change; temporal dispersion (> 30 % duration increase) is a separate demyelinating criterion and is named, not folded into the grade.",
                "The distal ≥ 20 % of LLN requirement is applied to probable CB as to definite (the guideline states it for both).",
            ]),
        }
    }

    /// Whether a segment is a long upper-limb segment in this set's sense (`None` when a
    /// site's level is unknown).
    pub fn is_long_segment(&self, nerve: &str, distal: &str, proximal: &str) -> Option<bool> {
        if nerve_limb(nerve) != Some(Limb::Upper) {
            return Some(false);
        }
        let (dl, d) = site_level(distal)?;
        let (pl, p) = site_level(proximal)?;
        if dl != Limb::Upper || pl != Limb::Upper {
            return Some(false);
        }
        Some(self.long_segments.iter().any(|l| {
            match (
                site_level(&l.distal_at_or_below),
                site_level(&l.proximal_at_or_above),
            ) {
                (Some((_, a)), Some((_, b))) => d <= a && p >= b,
                _ => false,
            }
        }))
    }

    fn scope_check(&self, rule: &GradeRule, g: &GradeInput<'_>) -> Result<(), String> {
        let s = &rule.scope;
        if !s.nerves.is_empty() && !s.nerves.iter().any(|n| n == g.nerve) {
            return Err(format!(
                "applies to {} only, not {}",
                s.nerves.join("/"),
                g.nerve
            ));
        }
        if s.exclude_nerves.iter().any(|n| n == g.nerve) {
            return Err(format!("excludes the {} nerve", g.nerve));
        }
        if s.long_upper_limb_segment {
            match self.is_long_segment(g.nerve, g.distal_site, g.proximal_site) {
                Some(true) => {}
                Some(false) => {
                    let longs: Vec<String> = self
                        .long_segments
                        .iter()
                        .map(|l| format!("{}–{}", l.distal_at_or_below, l.proximal_at_or_above))
                        .collect();
                    return Err(format!(
                        "needs a long upper-limb segment ({}), {}–{} is not one",
                        longs.join(", "),
                        g.distal_site,
                        g.proximal_site
                    ));
                }
                None => {
                    return Err(format!(
                        "needs a long upper-limb segment, and the anatomical level of {} or {} is unknown",
                        g.distal_site, g.proximal_site
                    ))
                }
            }
        }
        if !s.segments.is_empty()
            && !s.segments.iter().any(|x| {
                x.nerve == g.nerve && x.distal == g.distal_site && x.proximal == g.proximal_site
            })
        {
            let list: Vec<String> = s
                .segments
                .iter()
                .map(|x| format!("{} {}–{}", x.nerve, x.distal, x.proximal))
                .collect();
            return Err(format!("applies only to {}", list.join(", ")));
        }
        Ok(())
    }

    fn reduction(&self, m: ReductionMeasure, g: &GradeInput<'_>) -> Option<f64> {
        match m {
            ReductionMeasure::NegativePeakArea => g.area_reduction_pct,
            ReductionMeasure::NegativePeakAmplitude => g.amplitude_reduction_pct,
            ReductionMeasure::AreaOrPeakToPeak => {
                match (g.area_reduction_pct, g.peak_to_peak_reduction_pct) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                }
            }
        }
    }

    /// The duration change the set's rules test.
    pub fn duration_change(&self, increase_pct: Option<f64>) -> Option<f64> {
        increase_pct.map(|d| match self.duration_change {
            DurationChange::Increase => d,
            DurationChange::Absolute => d.abs(),
        })
    }

    /// Checks the distal-amplitude requirement and explains it.
    pub fn distal_amplitude_check(&self, g: &GradeInput<'_>) -> (Option<bool>, String) {
        let Some(rule) = &self.distal_amplitude else {
            return (
                None,
                format!("{}: no distal amplitude requirement", self.title),
            );
        };
        let Some(a) = g.distal_amplitude_mv else {
            return (
                Some(false),
                format!(
                    "{} distal amplitude requirement: distal negative-peak amplitude missing",
                    self.title
                ),
            );
        };
        let mut ok = true;
        let mut parts = vec![];
        if let Some(b) = rule.absolute_mv {
            let h = b.holds(a);
            ok &= h;
            parts.push(format!(
                "{a:.2} mV {} {} mV ({})",
                b.symbol(),
                b.value,
                met(h)
            ));
        }
        if let Some(b) = rule.fraction_of_lln {
            match g.lln_amplitude_mv {
                Some(lln) => {
                    let h = b.holds(a / lln);
                    ok &= h;
                    parts.push(format!(
                        "{a:.2} mV {} {:.0} % of LLN {lln} mV = {:.2} mV ({})",
                        b.symbol(),
                        b.value * 100.0,
                        b.value * lln,
                        met(h)
                    ));
                }
                None => {
                    ok = false;
                    parts.push(format!(
                        "{:.0} % of LLN: no normal value for {} (failed: cannot check)",
                        b.value * 100.0,
                        g.nerve
                    ));
                }
            }
        }
        (
            Some(ok),
            format!(
                "{} distal amplitude requirement: {} → {}",
                self.title,
                parts.join(" and "),
                if ok { "met" } else { "not met" }
            ),
        )
    }

    /// Grades one segment. Every rule considered leaves a reason naming the rule, the
    /// numbers and the condition that held or failed.
    pub fn grade(&self, g: &GradeInput<'_>) -> GradeOutcome {
        let mut reasons = vec![];
        let dur = self.duration_change(g.duration_increase_pct);
        let long_segment = self
            .is_long_segment(g.nerve, g.distal_site, g.proximal_site)
            .unwrap_or(false);
        let dispersion = match (self.dispersion, dur) {
            (Some(b), Some(d)) => b.holds(d),
            _ => false,
        };
        let (distal_ok, distal_reason) = self.distal_amplitude_check(g);
        let mut any_scope = false;
        // A rule whose known conditions all hold but which lacks a measure cannot decide.
        let mut undecided = false;
        let mut grade = None;
        let mut distal_explained = false;
        for rule in &self.rules {
            let head = format!("{} v{} {}", self.title, self.version, rule.label);
            if let Err(why) = self.scope_check(rule, g) {
                reasons.push(format!("{head}: does not apply ({why})"));
                continue;
            }
            any_scope = true;
            let mut conds = vec![];
            let mut ok = true;
            let mut missing = false;
            match self.reduction(rule.reduction, g) {
                Some(r) => {
                    let h = rule.reduction_bound.holds(r);
                    ok &= h;
                    conds.push(format!(
                        "{} {r:.1} % {} {} % ({})",
                        rule.reduction.describe(),
                        rule.reduction_bound.symbol(),
                        rule.reduction_bound.value,
                        met(h)
                    ));
                }
                None => {
                    missing = true;
                    conds.push(format!(
                        "{} missing (cannot check)",
                        rule.reduction.describe()
                    ));
                }
            }
            if let Some(b) = rule.duration {
                let what = match self.duration_change {
                    DurationChange::Increase => "duration increase",
                    DurationChange::Absolute => "duration change",
                };
                match dur {
                    Some(d) => {
                        let h = b.holds(d);
                        ok &= h;
                        conds.push(format!(
                            "{what} {d:.1} % {} {} % ({})",
                            b.symbol(),
                            b.value,
                            met(h)
                        ));
                    }
                    None => {
                        missing = true;
                        conds.push(format!("{what} missing (cannot check)"));
                    }
                }
            }
            if rule.requires_distal_amplitude {
                let h = distal_ok.unwrap_or(true);
                ok &= h;
                conds.push(format!(
                    "distal amplitude requirement ({})",
                    if h { "met" } else { "failed" }
                ));
                if !distal_explained {
                    reasons.push(distal_reason.clone());
                    distal_explained = true;
                }
            }
            reasons.push(format!(
                "{head}: {} → {}",
                conds.join("; "),
                if ok && !missing {
                    format!("{}", rule.grade)
                } else if ok {
                    "undecided".to_string()
                } else {
                    "not met".to_string()
                }
            ));
            undecided |= ok && missing;
            if ok && !missing {
                grade = Some(rule.grade);
                break;
            }
        }
        if !distal_explained && self.distal_amplitude.is_none() {
            reasons.push(distal_reason);
        }
        if let (Some(b), Some(d)) = (self.dispersion, dur) {
            if b.holds(d) {
                reasons.push(format!(
                    "{}: temporal dispersion: duration {} {d:.1} % {} {} %",
                    self.title,
                    match self.duration_change {
                        DurationChange::Increase => "increase",
                        DurationChange::Absolute => "change",
                    },
                    b.symbol(),
                    b.value
                ));
            }
        }
        let grade = match grade {
            Some(g) => g,
            None if !any_scope => {
                reasons.push(format!(
                    "{}: no rule of this set covers {} {}–{} → not_assessable",
                    self.title, g.nerve, g.distal_site, g.proximal_site
                ));
                Grade::NotAssessable
            }
            None if undecided => {
                reasons.push(format!(
                    "{}: a measure a rule needs is missing, so the segment cannot be graded → not_assessable",
                    self.title
                ));
                Grade::NotAssessable
            }
            None => Grade::NoBlock,
        };
        GradeOutcome {
            grade,
            reasons,
            dispersion,
            distal_amplitude_ok: distal_ok,
            long_segment,
        }
    }
}

impl Default for CriteriaSet {
    fn default() -> Self {
        Self::efns_pns_2010_mmn()
    }
}

fn met(h: bool) -> &'static str {
    if h {
        "met"
    } else {
        "failed"
    }
}
