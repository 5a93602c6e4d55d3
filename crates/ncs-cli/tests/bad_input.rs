//! Bad input: one clear error naming the object and the rule, a non-zero exit, no panic and
//! nothing on stdout.

use crate::common::*;
use std::path::Path;

fn fails(args: &[&str], expect: &[&str]) {
    let out = ncs(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert!(
        out.stdout.is_empty(),
        "{args:?} printed a result: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    for e in expect {
        assert!(err.contains(e), "{args:?}: `{e}` not in: {err}");
    }
}

fn sessions() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    make_sessions(dir.path());
    dir
}

fn p(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_string()
}

#[test]
fn missing_file() {
    fails(&["analyze", "/nonexistent/x.nwb"], &["/nonexistent/x.nwb"]);
}

#[test]
fn not_hdf5() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("notes.nwb");
    std::fs::write(&f, "this is a text file, not HDF5\n").unwrap();
    fails(&["analyze", f.to_str().unwrap()], &["notes.nwb", "HDF5"]);
}

#[test]
fn truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(root().join("fixtures/median-worked-example.nwb")).unwrap();
    let f = dir.path().join("cut.nwb");
    std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
    fails(&["analyze", f.to_str().unwrap()], &["cut.nwb"]);
}

#[test]
fn bad_sessions_each_fail_with_their_reason() {
    let dir = sessions();
    let d = dir.path();
    fails(
        &["analyze", &p(d, "no_acquisition.nwb")],
        &["no_acquisition.nwb", "acquisition"],
    );
    fails(
        &["analyze", &p(d, "wrong_dims.nwb")],
        &["/acquisition/EMG/data", "shape"],
    );
    fails(
        &["analyze", &p(d, "nan.nwb")],
        &["/acquisition/EMG/data", "finite", "1234"],
    );
    fails(
        &["analyze", &p(d, "stim_outside.nwb")],
        &["stimuli", "row 1", "102"],
    );
    fails(&["analyze", &p(d, "bad_channel.nwb")], &["channel", "5"]);
}

#[test]
fn channel_out_of_range_on_the_command_line() {
    fails(
        &[
            "analyze",
            "fixtures/median-worked-example.nwb",
            "--trigger-channel",
            "7",
        ],
        &["channel 7", "1 channel"],
    );
}

#[test]
fn unknown_criteria_name() {
    fails(
        &[
            "analyze",
            "fixtures/median-worked-example.nwb",
            "--criteria",
            "nonsense",
        ],
        &["nonsense", "efns-pns-2010-mmn"],
    );
}
