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
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{args:?}: one error line expected: {err}");
    assert!(lines[0].starts_with("error: "), "{args:?}: {err}");
    for e in expect {
        assert!(err.contains(e), "{args:?}: `{e}` not in: {err}");
    }
}

/// The bad sessions of `make_sessions.py`, written once for all the tests of this module
/// (the Python clients take seconds to start).
fn sessions() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        make_sessions(dir.path());
        dir
    })
    .path()
}

fn p(dir: &Path, name: &str) -> String {
    dir.join(name).to_str().unwrap().to_string()
}

#[test]
fn missing_file() {
    fails(
        &["analyze", "/nonexistent/x.nwb"],
        &["/nonexistent/x.nwb", "does not exist"],
    );
}

#[test]
fn not_hdf5() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("notes.nwb");
    std::fs::write(&f, "this is a text file, not HDF5\n").unwrap();
    fails(
        &["analyze", f.to_str().unwrap()],
        &["notes.nwb", "not an HDF5 file"],
    );
}

#[test]
fn truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(root().join("fixtures/median-worked-example.nwb")).unwrap();
    let f = dir.path().join("cut.nwb");
    std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
    fails(&["analyze", f.to_str().unwrap()], &["cut.nwb", "truncated"]);
}

#[test]
fn no_acquisition_series() {
    fails(
        &["analyze", &p(sessions(), "no_acquisition.nwb")],
        &[
            "no_acquisition.nwb",
            "no acquisition series",
            "TimeSeries or ElectricalSeries",
        ],
    );
}

#[test]
fn wrong_dimensions() {
    fails(
        &["analyze", &p(sessions(), "wrong_dims.nwb")],
        &[
            "/acquisition/EMG/data",
            "(samples, channels)",
            "[100, 2, 2]",
        ],
    );
}

#[test]
fn nan_samples() {
    fails(
        &["analyze", &p(sessions(), "nan.nwb")],
        &["/acquisition/EMG/data", "finite", "sample 1234", "NaN"],
    );
}

#[test]
fn inf_samples() {
    fails(
        &["analyze", &p(sessions(), "inf.nwb")],
        &[
            "/acquisition/EMG/data",
            "finite",
            "sample 4321",
            "channel 1",
            "-inf",
        ],
    );
}

#[test]
fn stimulus_outside_the_recording() {
    fails(
        &["analyze", &p(sessions(), "stim_outside.nwb")],
        &["/intervals/stimuli", "row 1", "within the recording", "102"],
    );
}

#[test]
fn stimulus_channel_out_of_range() {
    fails(
        &["analyze", &p(sessions(), "bad_channel.nwb")],
        &["/intervals/stimuli/channel", "row 0", "< 2", "got 5"],
    );
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
