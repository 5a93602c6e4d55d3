//! Canonical names for nerves, sides and stimulation sites.
//!
//! Other tools (acquisition software, NWB files, free-text protocols) name the same site
//! "Below Elbow", "below_elbow", "below-elbow" or "BE". Everything in this crate compares
//! canonical names only, so this module is the single place where spelling is forgiven.
//!
//! Canonical form: lower case, trimmed, apostrophes and dots dropped, runs of spaces,
//! hyphens and underscores collapsed into one underscore; then the alias tables below map
//! the result to one canonical name. A name that is not in a table keeps its canonical form
//! (a lab may use its own site names; such a site simply has no known anatomical level).

/// Which limb a nerve or a site belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limb {
    /// Arm.
    Upper,
    /// Leg.
    Lower,
}

/// Lower-cases and normalises separators: `" Below-Elbow "` → `"below_elbow"`.
pub fn normalise(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending_sep = false;
    for c in raw.trim().chars() {
        if c == '\'' || c == '’' || c == '.' {
            continue;
        }
        if c.is_whitespace() || c == '-' || c == '_' {
            pending_sep = true;
            continue;
        }
        if pending_sep && !out.is_empty() {
            out.push('_');
        }
        pending_sep = false;
        out.extend(c.to_lowercase());
    }
    out
}

/// (canonical name, limb, level along the limb, aliases).
///
/// The level orders sites from distal (small) to proximal (large) within a limb; it is used
/// only to decide whether a segment spans an entrapment site or a "long segment" named by a
/// criteria set, never to compute distances. Sites at the same level are alternatives
/// (e.g. "above fibular head" and "popliteal fossa" both lie just above the fibular head).
const SITES: &[(&str, Limb, i32, &[&str])] = &[
    (
        "digit",
        Limb::Upper,
        -1,
        &[
            "finger",
            "digit_2",
            "digit_5",
            "index_finger",
            "little_finger",
            "d2",
            "d5",
        ],
    ),
    ("palm", Limb::Upper, 0, &["mid_palm", "hand"]),
    ("wrist", Limb::Upper, 1, &["wr", "w"]),
    (
        "below_elbow",
        Limb::Upper,
        2,
        &["be", "below_the_elbow", "bel_elbow"],
    ),
    (
        "elbow",
        Limb::Upper,
        3,
        &[
            "elb",
            "e",
            "antecubital",
            "antecubital_fossa",
            "cubital_fossa",
        ],
    ),
    ("above_elbow", Limb::Upper, 4, &["ae", "above_the_elbow"]),
    (
        "upper_arm",
        Limb::Upper,
        5,
        &["arm", "mid_arm", "mid_upper_arm", "upperarm"],
    ),
    ("axilla", Limb::Upper, 6, &["ax", "axillary", "axila"]),
    (
        "erb",
        Limb::Upper,
        7,
        &[
            "erbs",
            "erbs_point",
            "erb_point",
            "supraclavicular",
            "supraclavicular_fossa",
        ],
    ),
    (
        "root",
        Limb::Upper,
        8,
        &[
            "cervical_root",
            "nerve_root",
            "c8_root",
            "c7_root",
            "root_stimulation",
        ],
    ),
    ("ankle", Limb::Lower, 1, &["ank", "a"]),
    ("calf", Limb::Lower, 2, &["mid_calf", "lower_leg"]),
    (
        "below_fibular_head",
        Limb::Lower,
        2,
        &[
            "bfh",
            "fibular_head",
            "fibula_head",
            "fib_head",
            "below_fibula_head",
            "below_fibular_neck",
            "fibular_neck",
            "below_knee",
        ],
    ),
    (
        "above_fibular_head",
        Limb::Lower,
        3,
        &["afh", "above_fibula_head"],
    ),
    (
        "popliteal_fossa",
        Limb::Lower,
        3,
        &[
            "pf",
            "popliteal",
            "pop_fossa",
            "knee",
            "lateral_popliteal_fossa",
        ],
    ),
];

/// (canonical nerve, limb, aliases).
const NERVES: &[(&str, Limb, &[&str])] = &[
    (
        "median",
        Limb::Upper,
        &["median_nerve", "n_medianus", "medianus"],
    ),
    (
        "ulnar",
        Limb::Upper,
        &["ulnar_nerve", "n_ulnaris", "ulnaris"],
    ),
    (
        "radial",
        Limb::Upper,
        &["radial_nerve", "n_radialis", "radialis"],
    ),
    (
        "peroneal",
        Limb::Lower,
        &[
            "fibular",
            "common_peroneal",
            "common_fibular",
            "deep_peroneal",
            "deep_fibular",
            "peroneal_nerve",
            "fibular_nerve",
            "n_peroneus",
            "peroneus",
        ],
    ),
    (
        "tibial",
        Limb::Lower,
        &["posterior_tibial", "tibial_nerve", "n_tibialis", "tibialis"],
    ),
    ("sural", Limb::Lower, &["sural_nerve", "n_suralis"]),
    (
        "superficial_peroneal",
        Limb::Lower,
        &["superficial_fibular", "superficial_peroneal_nerve"],
    ),
];

/// The canonical site name for a free-text site name (`"BE"` → `"below_elbow"`).
pub fn canonical_site(raw: &str) -> String {
    let n = normalise(raw);
    for (name, _, _, aliases) in SITES {
        if n == *name || aliases.contains(&n.as_str()) {
            return (*name).to_string();
        }
    }
    n
}

/// The canonical nerve name for a free-text nerve name (`"Common Fibular"` → `"peroneal"`).
pub fn canonical_nerve(raw: &str) -> String {
    let n = normalise(raw);
    for (name, _, aliases) in NERVES {
        if n == *name || aliases.contains(&n.as_str()) {
            return (*name).to_string();
        }
    }
    n
}

/// The canonical side (`"R"`, `"Rt"`, `"right"` → `"right"`); unknown text keeps its
/// normalised form.
pub fn canonical_side(raw: &str) -> String {
    let n = normalise(raw);
    match n.as_str() {
        "r" | "rt" | "right" | "dx" | "dexter" => "right".to_string(),
        "l" | "lt" | "left" | "sin" | "sinister" => "left".to_string(),
        _ => n,
    }
}

/// The limb and the distal→proximal level of a canonical site, if the site is known.
pub fn site_level(canonical: &str) -> Option<(Limb, i32)> {
    SITES
        .iter()
        .find(|(name, ..)| *name == canonical)
        .map(|(_, limb, level, _)| (*limb, *level))
}

/// The limb of a canonical nerve, if the nerve is known.
pub fn nerve_limb(canonical: &str) -> Option<Limb> {
    NERVES
        .iter()
        .find(|(name, ..)| *name == canonical)
        .map(|(_, limb, _)| *limb)
}

/// Every canonical site name, distal first within each limb.
pub fn known_sites() -> impl Iterator<Item = &'static str> {
    SITES.iter().map(|(n, ..)| *n)
}

/// Every canonical nerve name.
pub fn known_nerves() -> impl Iterator<Item = &'static str> {
    NERVES.iter().map(|(n, ..)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases() {
        assert_eq!(canonical_site(" Below-Elbow "), "below_elbow");
        assert_eq!(canonical_site("BE"), "below_elbow");
        assert_eq!(canonical_site("Erb's point"), "erb");
        assert_eq!(canonical_site("Fibula head"), "below_fibular_head");
        assert_eq!(canonical_site("knee"), "popliteal_fossa");
        assert_eq!(canonical_site("Upper  arm"), "upper_arm");
        assert_eq!(canonical_site("my site"), "my_site");
        assert_eq!(canonical_nerve("Common Peroneal"), "peroneal");
        assert_eq!(canonical_nerve("fibular"), "peroneal");
        assert_eq!(canonical_side("Rt"), "right");
    }
}
