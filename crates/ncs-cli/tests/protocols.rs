//! `ncs protocols`: the shipped study protocols, listed and printed.

use crate::common::*;

#[test]
fn shipped_protocols_are_listed_and_print_as_valid_toml() {
    let out = ncs(&["protocols"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "mmn-arm",
        "right median motor",
        "right ulnar motor",
        "right radial motor",
        "mmn-leg",
        "right peroneal motor",
        "right tibial motor",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    for key in ["mmn-arm", "mmn-leg"] {
        let out = ncs(&["protocols", key]);
        assert!(out.status.success());
        let toml = String::from_utf8(out.stdout).unwrap();
        let study =
            ncs_block::Study::from_toml_str(&toml, &ncs_block::NormalValues::default_adult())
                .unwrap_or_else(|e| panic!("{key}: {e}"));
        assert!(study.nerves.iter().all(|n| !n.sites.is_empty()));
    }
    // The arm protocol searches every nerve up to Erb's point.
    let out = ncs(&["protocols", "mmn-arm"]);
    let arm = ncs_block::Study::from_toml_str(
        &String::from_utf8(out.stdout).unwrap(),
        &ncs_block::NormalValues::default_adult(),
    )
    .unwrap();
    for nerve in ["median", "ulnar", "radial"] {
        let n = arm
            .nerves
            .iter()
            .find(|n| {
                n.name == nerve && n.side == "right" && n.modality == ncs_block::Modality::Motor
            })
            .unwrap();
        assert_eq!(n.sites.last().unwrap().name, "erb", "{nerve}");
    }
    let out = ncs(&["protocols", "nope"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("no shipped protocol \"nope\"; there are: mmn-arm, mmn-leg"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}
