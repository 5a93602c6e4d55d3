use ncs_io::Session;

use crate::common::workspace;

fn data(name: &str) -> std::path::PathBuf {
    let p = workspace().join("../shared/data").join(name);
    assert!(
        p.exists(),
        "real recording {} missing (shared/data next to the workspace)",
        p.display()
    );
    p
}

#[test]
fn motometrics_files_have_5khz_60s_and_60_stimuli() {
    for k in 1..=3 {
        let s = Session::open(data(&format!("motometrics_biceps_{k}.nwb")), None).expect("open");
        let i = s.info();
        assert_eq!(
            (i.sample_rate_hz, i.n_samples, i.channels),
            (5000.0, 300_000, 1)
        );
        assert_eq!((i.unit.as_str(), i.dtype), ("volts", "float32"));
        assert!((i.duration_s - 60.0).abs() < 1e-9);
        let st = s.stimuli().expect("stimuli").expect("table");
        assert_eq!(st.rows.len(), 60);
        // One stimulus per 1 s sweep, about 253.6 ms into it.
        for (j, r) in st.rows.iter().enumerate() {
            assert!(
                (r.time_s - j as f64 - 0.2536).abs() < 0.01,
                "row {j}: {}",
                r.time_s
            );
        }
        let v = s.read_frames_vec(0, 300_000).expect("read all");
        assert!(v.iter().any(|x| *x != 0.0));
    }
}

#[test]
fn emgdb_files_are_int16_counts_at_4khz_without_stimuli() {
    // Lengths of the PhysioNet records (emgdb 1.0.0).
    for (name, n) in [
        ("healthy", 50_860u64),
        ("myopathy", 110_337),
        ("neuropathy", 147_858),
    ] {
        let s = Session::open(data(&format!("emgdb_{name}.nwb")), None).expect("open");
        let i = s.info();
        assert_eq!(
            (i.sample_rate_hz, i.dtype, i.unit.as_str()),
            (4000.0, "int16", "volts")
        );
        assert_eq!(i.n_samples, n, "{name}");
        assert!(
            (i.duration_s - n as f64 / 4000.0).abs() < 1e-12,
            "{name}: {}",
            i.duration_s
        );
        assert_eq!(s.stimuli().expect("stimuli"), None);
        let v = s.read_frames_vec(0, i.n_samples as usize).expect("read");
        let peak = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        // 1e-7 V per count: all values are in the millivolt range.
        assert!(peak > 1e-4 && peak < 4e-3, "{name}: peak {peak}");
        if name == "neuropathy" {
            assert!(
                (peak - 3.28e-3).abs() < 0.05e-3,
                "neuropathy clips at ±3.28 mV, got {peak}"
            );
        }
    }
}
