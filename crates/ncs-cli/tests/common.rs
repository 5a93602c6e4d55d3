use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The shared recordings (`../shared/data` beside the workspace).
pub fn shared_data() -> PathBuf {
    root().join("../shared/data")
}

/// The Python with the test clients (h5py, pynwb, nwbinspector).
pub fn python() -> PathBuf {
    let p = std::env::var_os("NCS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/python"));
    assert!(
        p.exists(),
        "the Python test clients are missing ({}): run scripts/test.sh, which installs them into .venv",
        p.display()
    );
    p
}

/// Runs `ncs` with `args` from the workspace root.
pub fn ncs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ncs"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("ncs runs")
}

/// Runs `ncs analyze FILE --format json EXTRA...` and parses the report; panics with stderr on
/// failure.
pub fn analyze_json(file: &Path, extra: &[&str]) -> serde_json::Value {
    let f = file.to_str().unwrap();
    let mut args = vec!["analyze", f, "--format", "json"];
    args.extend_from_slice(extra);
    let out = ncs(&args);
    assert!(
        out.status.success(),
        "ncs analyze {f} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("analyze prints one JSON object")
}

/// Writes the test sessions of `make_sessions.py` into `dir`.
pub fn make_sessions(dir: &Path) {
    let script = root().join("crates/ncs-cli/tests/make_sessions.py");
    let out = Command::new(python())
        .arg(script)
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "make_sessions.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Numbers equal to a relative 1e-6 (1e-9 absolute), everything else exactly.
pub fn assert_json_close(got: &serde_json::Value, want: &serde_json::Value, path: &str) {
    use serde_json::Value::*;
    match (got, want) {
        (Number(a), Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!((a - b).abs() <= 1e-9 + 1e-6 * b.abs(), "{path}: {a} != {b}");
        }
        (Array(a), Array(b)) => {
            assert_eq!(a.len(), b.len(), "{path}: lengths differ");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert_json_close(x, y, &format!("{path}[{i}]"));
            }
        }
        (Object(a), Object(b)) => {
            let ka: Vec<_> = a.keys().collect();
            let kb: Vec<_> = b.keys().collect();
            assert_eq!(ka, kb, "{path}: keys differ");
            for (k, v) in a {
                assert_json_close(v, &b[k], &format!("{path}.{k}"));
            }
        }
        _ => assert_eq!(got, want, "{path}"),
    }
}
