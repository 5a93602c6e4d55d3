use std::path::Path;

use hdf5::File;
use ncs_io::{NwbError, Session, SessionWriter};

use crate::common::{meta, signal, stim};

/// A minimal NWB root that pynwb would recognise as NWBFile.
fn nwb_root(p: &Path) -> File {
    let f = File::create(p).expect("create");
    let ty = |name: &str, v: &str| {
        let v: hdf5::types::VarLenUnicode = v.parse().expect("string");
        f.new_attr::<hdf5::types::VarLenUnicode>()
            .create(name)
            .expect("attr")
            .write_scalar(&v)
            .expect("write");
    };
    ty("namespace", "core");
    ty("neurodata_type", "NWBFile");
    f
}

fn series(f: &File, name: &str) -> hdf5::Group {
    let acq = if f.link_exists("acquisition") {
        f.group("acquisition")
    } else {
        f.create_group("acquisition")
    };
    let g = acq
        .expect("acquisition")
        .create_group(name)
        .expect("series");
    let st = g.new_dataset::<f64>().create("starting_time").expect("st");
    st.write_scalar(&0.0).expect("t0");
    st.new_attr::<f64>()
        .create("rate")
        .expect("rate")
        .write_scalar(&1000.0)
        .expect("rate");
    g
}

fn written(dir: &Path, frames: &[f32]) -> std::path::PathBuf {
    let p = dir.join("w.nwb");
    let mut w = SessionWriter::create(&p, &meta(2)).expect("create");
    w.append_frames(frames).expect("append");
    w.finish().expect("finish");
    p
}

#[test]
fn missing_file() {
    let e = Session::open("/nonexistent/x.nwb", None).expect_err("missing");
    assert!(matches!(e, NwbError::NotFound { .. }), "{e:?}");
    assert_eq!(e.to_string(), "file /nonexistent/x.nwb does not exist");
}

#[test]
fn not_hdf5() {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().join("text.nwb");
    std::fs::write(&p, "not an hdf5 file at all, just text ........").expect("write");
    let e = Session::open(&p, None).expect_err("not hdf5");
    assert!(matches!(e, NwbError::NotHdf5 { .. }), "{e:?}");
    assert!(
        e.to_string().contains("text.nwb is not an HDF5 file"),
        "{e}"
    );
}

#[test]
fn truncated_file() {
    let d = tempfile::tempdir().expect("tempdir");
    let p = written(d.path(), &signal(5000, 2));
    let bytes = std::fs::read(&p).expect("read");
    let cut = d.path().join("cut.nwb");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).expect("write");
    let e = Session::open(&cut, None).expect_err("truncated");
    assert!(
        matches!(e, NwbError::Truncated { .. } | NwbError::Hdf5 { .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("cut.nwb"), "{e}");
}

#[test]
fn no_acquisition_series() {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().join("empty.nwb");
    let f = nwb_root(&p);
    f.create_group("acquisition").expect("acq");
    drop(f);
    let e = Session::open(&p, None).expect_err("no series");
    assert!(matches!(e, NwbError::NoAcquisition { .. }), "{e:?}");
}

#[test]
fn wrong_dimensions() {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().join("3d.nwb");
    let f = nwb_root(&p);
    let g = series(&f, "EMG");
    g.new_dataset::<f32>()
        .shape((4, 2, 2))
        .create("data")
        .expect("data");
    drop(f);
    match Session::open(&p, None) {
        Err(e @ NwbError::WrongDimensions { .. }) => {
            assert!(e.to_string().contains("/acquisition/EMG/data: data must be shaped (samples) or (samples, channels), got shape [4, 2, 2]"), "{e}")
        }
        other => panic!("expected WrongDimensions, got {other:?}"),
    }
}

#[test]
fn channel_index_out_of_range() {
    let d = tempfile::tempdir().expect("tempdir");
    let p = written(d.path(), &signal(100, 2));
    let s = Session::open(&p, None).expect("open");
    let e = s
        .read_channel(2, 0, 10, &mut [0.0; 10])
        .expect_err("channel 2 of 2");
    assert!(
        e.to_string().contains("channel index must be < 2, got 2"),
        "{e}"
    );
}

#[test]
fn frame_range_out_of_bounds() {
    let d = tempfile::tempdir().expect("tempdir");
    let p = written(d.path(), &signal(100, 2));
    let s = Session::open(&p, None).expect("open");
    let e = s
        .read_frames(90, 20, &mut [0.0; 40])
        .expect_err("past the end");
    assert!(
        e.to_string()
            .contains("frames 90..110 out of range: the series has 100 samples"),
        "{e}"
    );
    let e = s
        .read_frames(0, 20, &mut [0.0; 39])
        .expect_err("short buffer");
    assert!(
        matches!(
            e,
            NwbError::BufferTooSmall {
                needed: 40,
                got: 39
            }
        ),
        "{e:?}"
    );
}

#[test]
fn nan_and_inf_samples_are_reported_with_their_index() {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().join("nan.nwb");
    let f = nwb_root(&p);
    let g = series(&f, "EMG");
    let mut v = vec![0.0f64; 3000];
    v[2 * 1234 + 1] = f64::NAN;
    v[2 * 1400] = f64::INFINITY;
    g.new_dataset_builder()
        .with_data(
            ndarray::Array2::from_shape_vec((1500, 2), v)
                .expect("shape")
                .view(),
        )
        .create("data")
        .expect("data");
    drop(f);
    let s = Session::open(&p, None).expect("open");
    match s.read_frames_vec(1000, 500) {
        Err(NwbError::NonFinite {
            sample: 1234,
            channel: 1,
            value,
            ..
        }) => assert!(value.is_nan()),
        other => panic!("expected NonFinite at 1234/1, got {other:?}"),
    }
    match s.read_frames_vec(1300, 200) {
        Err(
            e @ NwbError::NonFinite {
                sample: 1400,
                channel: 0,
                ..
            },
        ) => {
            assert!(
                e.to_string()
                    .contains("samples must be finite, sample 1400 channel 0 is inf"),
                "{e}"
            )
        }
        other => panic!("expected NonFinite at 1400/0, got {other:?}"),
    }
    assert!(s.read_frames_vec(0, 1000).is_ok());
}

#[test]
fn stimuli_outside_the_recording() {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().join("late.nwb");
    let mut w = SessionWriter::create(&p, &meta(2)).expect("create");
    w.append_frames(&signal(2000, 2)).expect("append"); // 1 s at 2 kHz
    w.append_stimulus(&stim(0.5, "wrist", 0, None))
        .expect("stim");
    w.append_stimulus(&stim(3.0, "elbow", 0, None))
        .expect("stim");
    w.finish().expect("finish");
    let s = Session::open(&p, None).expect("open");
    match s.stimuli() {
        Err(e @ NwbError::StimulusOutsideRecording { row: 1, .. }) => assert!(
            e.to_string().contains("/intervals/stimuli row 1: stimulus time must lie within the recording [0, 1] s, got 3 s"),
            "{e}"
        ),
        other => panic!("expected StimulusOutsideRecording, got {other:?}"),
    }
}

#[test]
fn stimulus_channel_beyond_the_data() {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().join("ch.nwb");
    let f = nwb_root(&p);
    let g = series(&f, "EMG");
    g.new_dataset_builder()
        .with_data(&[0.0f32; 100][..])
        .create("data")
        .expect("data");
    let st = f
        .create_group("intervals")
        .and_then(|i| i.create_group("stimuli"))
        .expect("stimuli");
    st.new_dataset_builder()
        .with_data(&[0.01f64, 0.02][..])
        .create("start_time")
        .expect("t");
    st.new_dataset_builder()
        .with_data(&[0i64, 3][..])
        .create("channel")
        .expect("ch");
    drop(f);
    let s = Session::open(&p, None).expect("open");
    match s.stimuli() {
        Err(
            e @ NwbError::ChannelOutOfRange {
                channel: 3,
                channels: 1,
                ..
            },
        ) => {
            assert!(
                e.to_string().contains("/intervals/stimuli/channel row 1"),
                "{e}"
            )
        }
        other => panic!("expected ChannelOutOfRange, got {other:?}"),
    }
}

#[test]
fn unknown_series_name_lists_the_available_ones() {
    let d = tempfile::tempdir().expect("tempdir");
    let p = written(d.path(), &signal(10, 2));
    let e = Session::open(&p, Some("ECG")).expect_err("unknown");
    assert!(
        e.to_string()
            .contains("no acquisition series named \"ECG\"; the file has: EMG"),
        "{e}"
    );
}

#[test]
fn missing_timing_and_bad_rate() {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().join("t.nwb");
    let f = nwb_root(&p);
    let g = f
        .create_group("acquisition")
        .and_then(|a| a.create_group("EMG"))
        .expect("series");
    g.new_dataset_builder()
        .with_data(&[0.0f32; 10][..])
        .create("data")
        .expect("data");
    drop(f);
    assert!(matches!(
        Session::open(&p, None),
        Err(NwbError::MissingTiming { .. })
    ));
    let f = File::open_rw(&p).expect("reopen");
    let st = f
        .group("acquisition/EMG")
        .and_then(|g| g.new_dataset::<f64>().create("starting_time"))
        .expect("st");
    st.new_attr::<f64>()
        .create("rate")
        .and_then(|a| a.write_scalar(&-5.0))
        .expect("rate");
    drop(f);
    let e = Session::open(&p, None).expect_err("bad rate");
    assert!(
        e.to_string()
            .contains("sample rate must be finite and > 0, got -5"),
        "{e}"
    );
}

#[test]
fn unsupported_sample_type() {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().join("u8.nwb");
    let f = nwb_root(&p);
    let g = series(&f, "EMG");
    g.new_dataset_builder()
        .with_data(&[1u8; 10][..])
        .create("data")
        .expect("data");
    drop(f);
    let e = Session::open(&p, None).expect_err("u8");
    assert!(matches!(e, NwbError::UnsupportedDtype { .. }), "{e:?}");
}
