//! The study protocols that ship with `ncs` (`ncs protocols` lists them; `--protocol NAME`
//! picks one), kept as TOML files in the crate's `protocols/` folder.

use crate::normals::NormalValues;
use crate::study::{Study, StudyError};

/// A protocol shipped with `ncs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shipped {
    /// Short name used on the command line (`mmn-arm`).
    pub key: &'static str,
    /// The TOML text.
    pub text: &'static str,
}

/// Every shipped protocol.
pub const SHIPPED: &[Shipped] = &[
    Shipped {
        key: "mmn-arm",
        text: include_str!("../protocols/mmn-arm.toml"),
    },
    Shipped {
        key: "mmn-leg",
        text: include_str!("../protocols/mmn-leg.toml"),
    },
];

/// The shipped protocol called `key`, parsed and validated.
pub fn shipped(key: &str, normals: &NormalValues) -> Option<Result<Study, StudyError>> {
    SHIPPED
        .iter()
        .find(|s| s.key == key)
        .map(|s| Study::from_toml_str(s.text, normals))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_protocol_is_valid() {
        let normals = NormalValues::default_adult();
        for s in SHIPPED {
            let study = shipped(s.key, &normals)
                .expect("listed")
                .unwrap_or_else(|e| panic!("{}: {e}", s.key));
            assert!(!study.nerves.is_empty(), "{}", s.key);
        }
        assert!(shipped("nope", &normals).is_none());
    }

    #[test]
    fn a_study_written_back_as_toml_reads_the_same() {
        let normals = NormalValues::default_adult();
        for s in SHIPPED {
            let mut study = shipped(s.key, &normals).expect("listed").expect("valid");
            study.nerves[0].sites[0].distance_mm = 72.5;
            let text = study.to_toml().expect("serialises");
            let back = Study::from_toml_str(&text, &normals).expect("valid again");
            assert_eq!(back, study, "{text}");
        }
    }
}
