//! Shared helpers: Python location, pynwb fixtures, test sessions.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ncs_io::{ColumnSpec, ColumnType, Modality, SessionMeta, Stimulus, TableSpec};

/// Workspace root (two levels above this crate).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

/// The Python with pynwb, nwbinspector and h5py: `$NCS_PYTHON` or `<workspace>/.venv/bin/python`.
pub fn python() -> PathBuf {
    let p = std::env::var_os("NCS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/python"));
    assert!(
        p.exists(),
        "Python test clients not found at {} — run the test command in crates/ncs-io/README.md \
         (python3 -m venv .venv && .venv/bin/pip install -r requirements-test.txt) or set NCS_PYTHON",
        p.display()
    );
    p
}

/// Runs a script from this tests directory; panics with its output unless it succeeds.
pub fn run_py(script: &str, args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(script);
    let out = Command::new(python())
        .arg(&script)
        .args(args)
        .output()
        .expect("python starts");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{} failed:\n{text}", script.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Directory of the pynwb-written fixtures, made once per test run.
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ncs-io-pynwb-fixtures");
        let _ = std::fs::remove_dir_all(&d);
        run_py("make_pynwb_fixtures.py", &[d.to_str().expect("utf-8 path")]);
        d
    })
}

/// Expected volts written by the fixture script.
pub fn expected(name: &str) -> Vec<f64> {
    let b =
        std::fs::read(fixtures().join(format!("{name}.expected.bin"))).expect("expected values");
    b.chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect()
}

/// Metadata of a small test session with one extra table.
pub fn meta(channels: usize) -> SessionMeta {
    let names: Vec<String> = (0..channels).map(|c| format!("ch{c}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut m = SessionMeta::new(
        "test-1",
        "test session",
        "2024-05-01T09:30:00+02:00",
        2000.0,
        &refs,
    );
    m.subject.age = Some("P45Y".into());
    m.subject.subject_id = "p01".into();
    m.tables = vec![TableSpec::new(
        "responses",
        "one row per detected response",
        vec![
            ColumnSpec::new("sweep", "sweep index", ColumnType::I64),
            ColumnSpec::new(
                "amplitude_mv",
                "peak-to-peak amplitude, mV",
                ColumnType::F64,
            ),
            ColumnSpec::new("accepted", "kept for grading", ColumnType::Bool),
            ColumnSpec::new("site", "stimulation site", ColumnType::Str),
        ],
    )];
    m
}

/// A stimulus row used across tests.
pub fn stim(t: f64, site: &str, channel: usize, distance: Option<f64>) -> Stimulus {
    Stimulus {
        time_s: t,
        nerve: Some("median".into()),
        side: Some("right".into()),
        site: Some(site.into()),
        modality: Some(Modality::Motor),
        distance_mm: distance,
        channel: Some(channel),
        intensity_ma: Some(25.0),
    }
}

/// Deterministic test signal, interleaved.
pub fn signal(frames: usize, channels: usize) -> Vec<f32> {
    (0..frames * channels)
        .map(|i| ((i as f32 * 0.37).sin() * 2e-3) + (i % channels) as f32 * 1e-4)
        .collect()
}
