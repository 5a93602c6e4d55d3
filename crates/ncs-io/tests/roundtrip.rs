use ncs_io::{ColumnData, Gap, SampleStorage, Session, SessionWriter, Value};

use crate::common::{meta, signal, stim};

#[test]
fn f32_session_reads_back_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rt.nwb");
    let m = meta(3);
    let x = signal(10_000, 3);
    let mut w = SessionWriter::create(&path, &m).expect("create");
    for block in x.chunks(3 * 123) {
        w.append_frames(block).expect("append");
    }
    w.append_stimulus(&stim(1.0, "wrist", 1, Some(70.0)))
        .expect("stim");
    w.append_stimulus(&stim(2.0, "elbow", 2, None))
        .expect("stim");
    w.append_gap(&Gap {
        first_sample: 500,
        sample_count: 20,
        reason: "overrun".into(),
    })
    .expect("gap");
    w.append_row(
        "responses",
        &[
            Value::I64(3),
            Value::F64(4.5),
            Value::Bool(true),
            Value::Str("wrist".into()),
        ],
    )
    .expect("row");
    w.set_text("protocol", "[study]\nname = \"mmn\"\n")
        .expect("text");
    assert_eq!(w.finish().expect("finish"), 10_000);

    let s = Session::open(&path, None).expect("open");
    let info = s.info();
    assert_eq!((info.channels, info.n_samples), (3, 10_000));
    assert_eq!(info.sample_rate_hz, 2000.0);
    assert_eq!(info.neurodata_type, "ElectricalSeries");
    assert_eq!(info.unit, "volts");
    assert!((info.duration_s - 5.0).abs() < 1e-12);
    let mut out = vec![0.0; 10_000 * 3];
    s.read_frames(0, 10_000, &mut out).expect("read");
    for (a, b) in out.iter().zip(&x) {
        assert_eq!(*a, f64::from(*b));
    }
    let mut ch = vec![0.0; 50];
    s.read_channel(2, 9950, 50, &mut ch).expect("channel");
    for (k, v) in ch.iter().enumerate() {
        assert_eq!(*v, f64::from(x[(9950 + k) * 3 + 2]));
    }
    let st = s.stimuli().expect("stimuli").expect("table present");
    assert_eq!(
        st.rows,
        vec![
            stim(1.0, "wrist", 1, Some(70.0)),
            stim(2.0, "elbow", 2, None)
        ]
    );
    assert_eq!(
        s.gaps().expect("gaps"),
        vec![Gap {
            first_sample: 500,
            sample_count: 20,
            reason: "overrun".into()
        }]
    );
    let texts = s.texts().expect("texts");
    assert_eq!(texts["protocol"], "[study]\nname = \"mmn\"\n");
    assert_eq!(
        s.ncs_version().expect("version").as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    let t = s.table("responses").expect("table").expect("present");
    assert_eq!(t.n_rows(), 1);
    assert_eq!(
        t.column("accepted").map(|c| &c.data),
        Some(&ColumnData::Bool(vec![true]))
    );
    assert_eq!(
        t.column("site").map(|c| &c.data),
        Some(&ColumnData::Str(vec!["wrist".into()]))
    );
    assert_eq!(
        t.column("amplitude_mv").map(|c| c.description.as_str()),
        Some("peak-to-peak amplitude, mV")
    );
    let mut names = s.table_names();
    names.sort();
    assert_eq!(names, vec!["data_loss", "ncs_text", "responses"]);
}

#[test]
fn i16_storage_quantises_with_conversion() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("i16.nwb");
    let mut m = meta(1);
    m.storage = SampleStorage::I16 { conversion: 1e-6 };
    let x: Vec<f32> = vec![0.0, 1.2e-5, -3.3e-5, 1.0];
    let mut w = SessionWriter::create(&path, &m).expect("create");
    w.append_frames(&x).expect("append");
    w.finish().expect("finish");
    let s = Session::open(&path, None).expect("open");
    assert_eq!(s.info().dtype, "int16");
    // Nothing was stimulated, lost or tabulated: the finished file holds no empty tables
    // (nwbinspector's checks fail on zero-length columns), and reads as "no stimuli, no loss".
    assert!(s.stimuli().expect("stimuli").is_none());
    assert_eq!(s.gaps().expect("gaps"), vec![]);
    assert_eq!(s.table_names(), vec!["ncs_text"]);
    let v = s.read_frames_vec(0, 4).expect("read");
    let want = [0.0, 12e-6, -33e-6, 32767e-6];
    for (a, b) in v.iter().zip(want) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
}

#[test]
fn table_rows_are_checked_against_the_spec() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = SessionWriter::create(dir.path().join("t.nwb"), &meta(1)).expect("create");
    let e = w
        .append_row("responses", &[Value::I64(1)])
        .expect_err("short row");
    assert!(
        e.to_string().contains("one value per column (4), got 1"),
        "{e}"
    );
    let e = w
        .append_row(
            "responses",
            &[
                Value::F64(1.0),
                Value::F64(1.0),
                Value::Bool(true),
                Value::Str("x".into()),
            ],
        )
        .expect_err("wrong type");
    assert!(e.to_string().contains("sweep"), "{e}");
    let e = w.append_row("nope", &[]).expect_err("unknown table");
    assert!(e.to_string().contains("nope"), "{e}");
    let e = w.append_frames(&[f32::NAN]).expect_err("nan");
    assert!(e.to_string().contains("finite"), "{e}");
}

#[test]
fn bad_metadata_is_rejected_with_the_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("m.nwb");
    let mut m = meta(1);
    m.sample_rate_hz = 0.0;
    let e = SessionWriter::create(&p, &m).expect_err("rate 0");
    assert_eq!(
        e.to_string(),
        "session metadata: sample_rate_hz must be finite and > 0, got 0"
    );
    let mut m = meta(1);
    m.start_time = "2024-05-01T09:30:00".into();
    let e = SessionWriter::create(&p, &m).expect_err("no offset");
    assert!(e.to_string().contains("UTC offset"), "{e}");
    let mut m = meta(1);
    m.channel_names.clear();
    assert!(SessionWriter::create(&p, &m).is_err());
}
