//! Live results equal offline results on the same recorded session: the simulated study is
//! acquired through the threaded pipeline and recorded; the processor is then run offline over
//! the file, and the file is replayed through the pipeline. All three give identical
//! measurements.

use ncs_runtime::recorder::{session_meta, LATENCY_TEXT, RESPONSES_TABLE};
use ncs_runtime::{
    run, CollectMeasurements, NoAnalysis, Overflow, Pace, PipelineConfig, ProcessorConfig,
    Recorder, SessionSource, SimSource, StageLatency,
};

use crate::common::*;

#[test]
fn live_equals_offline_equals_replay() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("study.nwb");
    let source = SimSource::new(&short_scenario(), Pace::Max).unwrap();
    let info = ncs_runtime::Source::info(&source).clone();
    let meta = session_meta(&info, "live-offline", "2024-05-01T09:30:00Z");
    let writer = ncs_io::SessionWriter::create(&path, &meta).unwrap();
    let config = PipelineConfig {
        overflow: Overflow::Wait,
        block_frames: 100,
        ..PipelineConfig::default()
    };
    let live = run(
        source,
        config.clone(),
        NoAnalysis,
        CollectMeasurements::default(),
        Some(Recorder::new(writer).with_default_measurements()),
        no_stop(),
    )
    .unwrap();
    let live_m = live.output.measurements;
    assert!(live.summary.gaps.is_empty());
    assert!(live_m.len() > 10);
    assert!(live_m.iter().filter(|m| m.response.present).count() > 5);

    // Offline: the file read whole, marks from its stimuli table, other block sizes.
    let sess = ncs_io::Session::open(&path, None).unwrap();
    let n = sess.info().n_samples;
    assert_eq!(n, live.summary.frames);
    let data: Vec<f32> = sess
        .read_frames_vec(0, n as usize)
        .unwrap()
        .into_iter()
        .map(|x| x as f32)
        .collect();
    let table = sess.stimuli().unwrap().unwrap();
    let fs = sess.info().sample_rate_hz;
    let recorded = Recorded {
        info: info.clone(),
        tags: table
            .rows
            .iter()
            .map(|r| ncs_runtime::StimulusTag {
                nerve: r.nerve.clone(),
                side: r.side.clone(),
                site: r.site.clone(),
                modality: r.modality.map(|m| match m {
                    ncs_io::Modality::Motor => ncs_block::Modality::Motor,
                    ncs_io::Modality::Sensory => ncs_block::Modality::Sensory,
                }),
                distance_mm: r.distance_mm,
                channel: r.channel,
                intensity_ma: r.intensity_ma,
            })
            .collect(),
        data,
        marks: table
            .rows
            .iter()
            .enumerate()
            .map(|(k, r)| {
                ncs_runtime::StimulusMark::new((r.time_s * fs).round() as u64, Some(k as u32))
            })
            .collect(),
    };
    let cfg = ProcessorConfig::default();
    for block in [4096, 333] {
        let off = offline(&cfg, &recorded, block, &[]);
        assert_eq!(off, live_m, "offline (blocks of {block}) differs from live");
    }

    // Replay through the same pipeline.
    let replay = run(
        SessionSource::open(&path, None, Pace::Max).unwrap(),
        config,
        NoAnalysis,
        CollectMeasurements::default(),
        None,
        no_stop(),
    )
    .unwrap();
    assert_eq!(replay.output.measurements, live_m);

    // The session holds the measurement rows and the latency histogram summary.
    let rows = sess.table(RESPONSES_TABLE).unwrap().unwrap();
    assert_eq!(rows.n_rows(), live_m.len());
    let texts = sess.texts().unwrap();
    let lat: Vec<StageLatency> = serde_json::from_str(&texts[LATENCY_TEXT]).unwrap();
    let m = lat.iter().find(|s| s.stage == "sweep→measurement").unwrap();
    assert_eq!(m.count, live.summary.processor.measured);
    assert!(m.p50_us.unwrap() <= m.p99_us.unwrap() && m.p99_us.unwrap() <= m.max_us.unwrap());
}
