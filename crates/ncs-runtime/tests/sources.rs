//! Sources and the pipeline's handling of what they report.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ncs_cmap::Flag;
use ncs_runtime::recorder::session_meta;
use ncs_runtime::{
    run, CollectMeasurements, GapReason, NoAnalysis, Overflow, Pace, PipelineConfig, PipelineError,
    ProcessorConfig, Recorder, SimSource, Source, StimulusMark,
};

use crate::common::*;

#[test]
fn sim_source_marks_every_stimulus_with_its_tag() {
    let sc = short_scenario();
    let study = ncs_sim::StudySource::new(&sc).unwrap();
    let rec = read_all(SimSource::new(&sc, Pace::Max).unwrap());
    assert_eq!(rec.frames(), study.total_frames());
    assert_eq!(rec.marks.len(), study.stimuli().len());
    for (m, s) in rec.marks.iter().zip(study.stimuli()) {
        assert_eq!(m.sample_index, s.sample_index);
        let t = &rec.tags[m.tag.unwrap() as usize];
        assert_eq!(t.site.as_deref(), Some(s.site.as_str()));
        assert_eq!(t.intensity_ma, Some(s.intensity_ma));
    }
}

#[test]
fn paced_source_keeps_to_the_clock() {
    let rec = short_study();
    // 0.25 s of signal at 5× pace: 50 ms.
    let frames = (0.25 * rec.info.sample_rate_hz) as usize;
    let part = Recorded {
        data: rec.data[..frames].to_vec(),
        marks: vec![],
        ..rec
    };
    let mut src = part.memory().paced(Pace::RealTime { speed: 5.0 });
    let mut buf = vec![0.0; 256];
    let mut marks = Vec::with_capacity(4);
    let t0 = Instant::now();
    while src.read(&mut buf, &mut marks).unwrap() != ncs_runtime::ReadOutcome::End {}
    let dt = t0.elapsed();
    assert!(dt >= Duration::from_millis(45), "{dt:?}");
    assert!(dt < Duration::from_millis(500), "{dt:?}");
}

#[test]
fn pace_parses_max_and_factors_and_refuses_the_rest() {
    assert_eq!(Pace::parse("max").unwrap(), Pace::Max);
    assert_eq!(Pace::parse("4").unwrap(), Pace::RealTime { speed: 4.0 });
    for bad in ["0", "-1", "fast", "nan"] {
        let e = Pace::parse(bad).unwrap_err();
        assert!(e.contains("speed must be"), "{e}");
    }
}

#[test]
fn memory_source_repeats_marks_with_the_data() {
    let rec = short_study();
    let rec2 = read_all(rec.memory().repeat(3));
    assert_eq!(rec2.frames(), 3 * rec.frames());
    assert_eq!(rec2.marks.len(), 3 * rec.marks.len());
    let k = rec.marks.len();
    assert_eq!(
        rec2.marks[2 * k].sample_index,
        rec.marks[0].sample_index + 2 * rec.frames()
    );
}

#[test]
fn device_loss_is_a_gap_and_its_stimuli_are_flagged() {
    let _g = serial();
    let rec = short_study();
    // Lose 0.3 s around the third stimulus.
    let s3 = rec.marks[2].sample_index;
    let lost = (s3 - 1000, 6000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("loss.nwb");
    let meta = session_meta(&rec.info, "loss", "2024-05-01T09:30:00Z");
    let writer = ncs_io::SessionWriter::create(&path, &meta).unwrap();
    let done = run(
        rec.memory().with_source_loss(vec![lost]),
        PipelineConfig {
            overflow: Overflow::Wait,
            ..PipelineConfig::default()
        },
        NoAnalysis,
        CollectMeasurements::default(),
        Some(Recorder::new(writer)),
        no_stop(),
    )
    .unwrap();
    let s = &done.summary;
    assert_eq!(s.gaps.len(), 1);
    assert_eq!(
        (s.gaps[0].first_sample, s.gaps[0].count, s.gaps[0].reason),
        (lost.0, lost.1, GapReason::SourceLoss)
    );
    let m = &done.output.measurements;
    assert_eq!(
        m.len(),
        rec.marks.len(),
        "stimuli in the gap are reported, not lost"
    );
    let third = m.iter().find(|m| m.sample_index == s3).unwrap();
    assert!(third.response.flags.contains(Flag::DataGap));
    // Everything else matches the processor told about the same gap offline.
    let off = offline(&ProcessorConfig::default(), &rec, 4096, &[lost]);
    assert_eq!(m, &off);
    // A replay of the session reports the recorded gap lost again and gives the same results.
    let replay = run(
        ncs_runtime::SessionSource::open(&path, None, Pace::Max).unwrap(),
        PipelineConfig {
            overflow: Overflow::Wait,
            ..PipelineConfig::default()
        },
        NoAnalysis,
        CollectMeasurements::default(),
        None,
        no_stop(),
    )
    .unwrap();
    assert_eq!(
        replay.summary.gaps,
        s.gaps
            .iter()
            .map(|g| ncs_runtime::GapRecord {
                reason: GapReason::SourceLoss,
                ..*g
            })
            .collect::<Vec<_>>()
    );
    assert_eq!(&replay.output.measurements, m);
}

#[test]
fn stop_flag_ends_a_real_time_run_and_closes_the_file() {
    let _g = serial();
    let sc = ncs_sim::scenario("mmn").unwrap();
    let source = SimSource::new(&sc, Pace::REAL_TIME).unwrap();
    let info = source.info().clone();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stopped.nwb");
    let meta = session_meta(&info, "stop", "2024-05-01T09:30:00Z");
    let writer = ncs_io::SessionWriter::create(&path, &meta).unwrap();
    let stop = no_stop();
    let s2 = stop.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        s2.store(true, Ordering::SeqCst);
    });
    let t0 = Instant::now();
    let done = run(
        source,
        PipelineConfig::default(),
        NoAnalysis,
        CollectMeasurements::default(),
        Some(Recorder::new(writer)),
        stop,
    )
    .unwrap();
    t.join().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(3));
    let s = &done.summary;
    assert!(s.stopped);
    assert!(s.stream_s > 0.2 && s.stream_s < 1.5, "{} s", s.stream_s);
    let r = s.recorder.as_ref().unwrap();
    assert!(r.error.is_none(), "{:?}", r.error);
    let sess = ncs_io::Session::open(&path, None).unwrap();
    assert_eq!(sess.info().n_samples, s.frames);
    assert!(sess.texts().unwrap().contains_key("latency"));
}

#[test]
fn bad_settings_are_refused_with_the_rule() {
    let rec = short_study();
    let e = run(
        rec.memory(),
        PipelineConfig {
            block_frames: 0,
            ..PipelineConfig::default()
        },
        NoAnalysis,
        ncs_runtime::NoOutput,
        None,
        no_stop(),
    )
    .unwrap_err();
    assert!(matches!(
        e,
        PipelineError::Setting {
            name: "block_frames",
            ..
        }
    ));
    assert!(e.to_string().contains("must be > 0, got 0"), "{e}");
    let e = run(
        rec.memory(),
        PipelineConfig {
            ring_frames: 10,
            ..PipelineConfig::default()
        },
        NoAnalysis,
        ncs_runtime::NoOutput,
        None,
        no_stop(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("ring_frames"), "{e}");
    let _ = StimulusMark::new(0, None);
}
