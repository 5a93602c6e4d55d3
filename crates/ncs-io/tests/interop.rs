use ncs_io::{Gap, Modality, NwbError, Session, SessionWriter, Value};

use crate::common::{expected, fixtures, meta, run_py, signal, stim};

#[test]
fn ncs_file_opens_in_pynwb_validates_and_passes_nwbinspector() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ncs.nwb");
    let m = meta(2);
    let x = signal(6000, 2);
    let mut w = SessionWriter::create(&path, &m).expect("create");
    w.append_frames(&x).expect("append");
    w.append_stimulus(&stim(0.5, "wrist", 0, Some(70.0)))
        .expect("stim");
    w.append_stimulus(&stim(1.5, "below elbow", 1, None))
        .expect("stim");
    w.append_gap(&Gap {
        first_sample: 100,
        sample_count: 7,
        reason: "usb stall".into(),
    })
    .expect("gap");
    for i in 0..3 {
        w.append_row(
            "responses",
            &[
                Value::I64(i),
                Value::F64(1.5 * i as f64),
                Value::Bool(i != 1),
                Value::Str(format!("s{i}")),
            ],
        )
        .expect("row");
    }
    w.set_text("protocol", "{\"nerves\": [\"median\"]}")
        .expect("text");
    w.set_text("pipeline", "[filter]\nhigh_pass_hz = 2.0\n")
        .expect("text");
    w.finish().expect("finish");

    let bin = dir.path().join("expected.bin");
    let bytes: Vec<u8> = x.iter().flat_map(|v| f64::from(*v).to_le_bytes()).collect();
    std::fs::write(&bin, bytes).expect("write expected");
    let expect = serde_json::json!({
        "series": "EMG",
        "rate": 2000.0,
        "shape": [6000, 2],
        "expected_bin": bin,
        "stimuli": [
            {"start_time": 0.5, "nerve": "median", "side": "right", "site": "wrist", "modality": "motor",
             "distance_mm": 70.0, "channel": 0, "intensity_ma": 25.0},
            {"start_time": 1.5, "site": "below elbow", "distance_mm": f64::NAN, "channel": 1},
        ],
        "tables": {
            "responses": {"sweep": [0, 1, 2], "amplitude_mv": [0.0, 1.5, 3.0],
                          "accepted": [true, false, true], "site": ["s0", "s1", "s2"]},
            "data_loss": {"first_sample": [100], "sample_count": [7], "reason": ["usb stall"]},
            "ncs_text": {"key": ["ncs_version", "protocol", "pipeline"]},
        },
    });
    // serde_json writes NaN as null; the checker reads null as NaN.
    let json = expect.to_string().replace("null", "NaN");
    let jp = dir.path().join("expect.json");
    std::fs::write(&jp, json).expect("write json");
    let out = run_py(
        "check_ncs_file.py",
        &[path.to_str().expect("utf-8"), jp.to_str().expect("utf-8")],
    );
    assert!(out.starts_with("OK"), "{out}");
}

fn replay(name: &str, series: Option<&str>) -> Session {
    let s = Session::open(fixtures().join(format!("{name}.nwb")), series).expect("open fixture");
    let want = expected(name);
    let n = s.info().n_samples as usize;
    assert_eq!(n * s.info().channels, want.len(), "{name}: sample count");
    let got = s.read_frames_vec(0, n).expect("read");
    assert_eq!(got, want, "{name}: values must be identical to numpy's");
    s
}

#[test]
fn pynwb_timeseries_f64_1d_with_starting_time() {
    let s = replay("ts_f64_1d", None);
    let i = s.info();
    assert_eq!(
        (
            i.neurodata_type.as_str(),
            i.channels,
            i.sample_rate_hz,
            i.starting_time
        ),
        ("TimeSeries", 1, 1000.0, 0.5)
    );
    assert!(!i.from_timestamps);
    assert_eq!(s.stimuli().expect("stimuli"), None);
}

#[test]
fn pynwb_electricalseries_int16_with_conversion_and_stimuli() {
    let s = replay("es_i16_2d", None);
    let i = s.info();
    assert_eq!(
        (i.neurodata_type.as_str(), i.channels, i.dtype),
        ("ElectricalSeries", 2, "int16")
    );
    let st = s.stimuli().expect("stimuli").expect("table");
    assert_eq!(st.rows.len(), 6);
    assert!(
        st.assumptions.iter().all(|a| !a.starts_with("no `")),
        "{:?}",
        st.assumptions
    );
    let r1 = &st.rows[1];
    assert!((r1.time_s - 2.5 * 2.0 / 7.0).abs() < 1e-12);
    assert_eq!(r1.site.as_deref(), Some("below elbow"));
    assert_eq!(
        (r1.modality, r1.channel, r1.distance_mm, r1.intensity_ma),
        (Some(Modality::Motor), Some(1), Some(70.0), Some(11.0))
    );
    assert_eq!(
        st.rows[0].distance_mm, None,
        "NaN distance reads as unknown"
    );
}

#[test]
fn pynwb_electricalseries_f32_channel_conversion_and_offset() {
    let s = replay("es_f32_cc", None);
    assert_eq!(s.info().channels, 3);
    let mut c = vec![0.0; 4000];
    s.read_channel(1, 0, 4000, &mut c).expect("channel");
    let want = expected("es_f32_cc");
    assert!(c.iter().enumerate().all(|(k, v)| *v == want[k * 3 + 1]));
}

#[test]
fn pynwb_timestamps_give_rate_and_start_and_series_need_a_name() {
    let p = fixtures().join("ts_i32_timestamps.nwb");
    match Session::open(&p, None) {
        Err(NwbError::AmbiguousSeries { names, .. }) => assert_eq!(names, vec!["EMG", "Other"]),
        other => panic!("expected AmbiguousSeries, got {other:?}"),
    }
    let s = replay("ts_i32_timestamps", Some("EMG"));
    let i = s.info();
    assert!(i.from_timestamps);
    assert!(
        (i.sample_rate_hz - 5000.0).abs() < 1e-6,
        "{}",
        i.sample_rate_hz
    );
    assert_eq!(i.starting_time, 2.0);
    assert_eq!(s.series_names(), vec!["EMG", "Other"]);
}

#[test]
fn irregular_timestamps_name_the_first_bad_index() {
    match Session::open(fixtures().join("ts_irregular.nwb"), None) {
        Err(e @ NwbError::IrregularTimestamps { index: 37, .. }) => {
            assert!(e.to_string().contains("timestamps must be regular"), "{e}")
        }
        other => panic!("expected IrregularTimestamps at 37, got {other:?}"),
    }
}

#[test]
fn rounded_and_float32_timestamps_are_regular_and_give_the_true_rate() {
    // 44.1 kHz timestamps rounded to 1 µs: single differences are 22 or 23 µs (±2.5 %).
    let s = Session::open(fixtures().join("ts_rounded_us.nwb"), None).expect("rounded");
    let rate = s.info().sample_rate_hz;
    assert!((rate / 44_100.0 - 1.0).abs() < 1e-4, "{rate}");
    assert!((s.info().starting_time - 7.0).abs() < 1e-6);
    let s = Session::open(fixtures().join("ts_float32.nwb"), None).expect("float32");
    let rate = s.info().sample_rate_hz;
    assert!((rate / 10_000.0 - 1.0).abs() < 1e-4, "{rate}");
}

#[test]
fn millivolt_data_are_read_as_volts_and_said_so() {
    // Read values identical to numpy's `x * 1e-3`.
    let s = replay("unit_mv", None);
    let note = s.info().unit_assumption().expect("a note on the unit");
    assert!(note.contains("\"mV\"") && note.contains("1e-3"), "{note}");
    assert_eq!(ncs_io::volts_per_unit("µV"), Some(1e-6));
    assert_eq!(ncs_io::volts_per_unit("counts"), None);
}

#[test]
fn stimuli_from_another_tool_with_odd_types_and_missing_columns() {
    let s = Session::open(fixtures().join("odd_stimuli.nwb"), None).expect("open");
    let st = s.stimuli().expect("stimuli").expect("table");
    assert_eq!(st.rows.len(), 3);
    let nerves: Vec<_> = st.rows.iter().map(|r| r.nerve.as_deref()).collect();
    assert_eq!(nerves, vec![Some("median"), Some("median"), Some("ulnar")]);
    let sites: Vec<_> = st.rows.iter().map(|r| r.site.as_deref()).collect();
    assert_eq!(sites, vec![Some("wrist"), Some("elbow"), None]);
    let d: Vec<_> = st.rows.iter().map(|r| r.distance_mm).collect();
    assert_eq!(d, vec![Some(70.0), None, Some(250.5)]);
    let c: Vec<_> = st.rows.iter().map(|r| r.channel).collect();
    assert_eq!(c, vec![Some(0), None, Some(0)]);
    let ma: Vec<_> = st.rows.iter().map(|r| r.intensity_ma).collect();
    assert_eq!(ma, vec![Some(5.0), Some(10.0), Some(20.0)]);
    assert!(st
        .rows
        .iter()
        .all(|r| r.side.is_none() && r.modality.is_none()));
    assert!(
        st.assumptions
            .contains(&"no `modality` column: motor assumed".to_string()),
        "{:?}",
        st.assumptions
    );
    assert!(
        st.assumptions
            .contains(&"no `side` column: side unknown".to_string()),
        "{:?}",
        st.assumptions
    );
    assert!(
        st.assumptions
            .iter()
            .any(|a| a.contains("1 of 3 rows have no `channel`")),
        "{:?}",
        st.assumptions
    );
}
