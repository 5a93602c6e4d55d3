use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use ncs_io::Session;

use crate::common::run_py;

const CH: usize = 2;

/// Value the probe writes at frame `i`, channel `c`.
fn probe_value(i: u64, c: usize) -> f64 {
    f64::from((((i as usize) * CH + c) % 1000) as f32 * 1e-6)
}

fn start_probe(path: &std::path::Path, per_flush: usize) -> (Child, BufReader<ChildStdout>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ncs-io-record-probe"))
        .arg(path)
        .arg(CH.to_string())
        .arg(per_flush.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("probe starts");
    let out = BufReader::new(child.stdout.take().expect("stdout piped"));
    (child, out)
}

/// Reads the next `flushed N` line.
fn next_flush(out: &mut BufReader<ChildStdout>) -> u64 {
    let mut line = String::new();
    out.read_line(&mut line).expect("probe output");
    line.trim()
        .strip_prefix("flushed ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bad probe line {line:?}"))
}

fn check_values(s: &Session, n: u64) {
    let v = s.read_frames_vec(0, n as usize).expect("read");
    for i in 0..n {
        for c in 0..CH {
            assert_eq!(
                v[i as usize * CH + c],
                probe_value(i, c),
                "frame {i} channel {c}"
            );
        }
    }
}

#[test]
fn sigkilled_recorder_leaves_a_file_with_everything_flushed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("killed.nwb");
    let (mut child, mut out) = start_probe(&path, 700);
    let mut last = 0;
    for _ in 0..6 {
        last = next_flush(&mut out);
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    assert_eq!(last, 6 * 700);

    let s = Session::open(&path, None).expect("killed file opens in our reader");
    let n = s.info().n_samples;
    assert!(n >= last, "file holds {n} frames, {last} were flushed");
    check_values(&s, last);
    // The killed SWMR writer leaves the superblock's "open for write" flag: h5py opens the
    // file with swmr=True (or after `h5clear -s`).
    let h5 = run_py(
        "h5py_read.py",
        &[
            path.to_str().expect("utf-8"),
            "/acquisition/EMG/data",
            "--swmr",
        ],
    );
    assert!(h5.starts_with(&format!("[{n}, {CH}]")), "h5py sees {h5}");
}

#[test]
fn swmr_readers_see_the_file_grow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("live.nwb");
    let (mut child, mut out) = start_probe(&path, 300);
    let first = next_flush(&mut out);
    let mut s = Session::open_swmr(&path, None).expect("SWMR open while recording");
    let n0 = s.info().n_samples;
    assert!(n0 >= first);
    let h5_before = run_py(
        "h5py_read.py",
        &[
            path.to_str().expect("utf-8"),
            "/acquisition/EMG/data",
            "--swmr",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut n = n0;
    while n < n0 + 1500 {
        assert!(Instant::now() < deadline, "reader stuck at {n} frames");
        let reported = next_flush(&mut out);
        n = s.refresh().expect("refresh");
        assert!(
            n + 300 >= reported.min(n0 + 1500),
            "refresh sees {n}, writer flushed {reported}"
        );
    }
    check_values(&s, n);
    let h5_after = run_py(
        "h5py_read.py",
        &[
            path.to_str().expect("utf-8"),
            "/acquisition/EMG/data",
            "--swmr",
        ],
    );
    child.kill().expect("stop probe");
    child.wait().expect("reaped");
    let frames = |s: &str| -> u64 {
        s.trim_start_matches('[')
            .split(',')
            .next()
            .and_then(|x| x.trim().parse().ok())
            .expect("shape")
    };
    assert!(
        frames(&h5_after) > frames(&h5_before),
        "h5py (swmr) saw {h5_before} then {h5_after}"
    );
}
