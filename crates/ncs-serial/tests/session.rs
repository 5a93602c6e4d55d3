//! Unplugging mid-recording leaves a valid session with the gap recorded.

use ncs_io::{Gap, Session, SessionMeta, SessionWriter};
use ncs_runtime::{ReadOutcome, Source};
use ncs_virtual_amp::FaultPlan;

use crate::common::*;

#[test]
fn unplugged_mid_recording_leaves_a_valid_session_with_the_gap() {
    let dir = tempfile::tempdir().expect("temp dir");
    let total = 60_000;
    let mut cfg = amp_config(total);
    cfg.speed = 4.0;
    cfg.link = Some(dir.path().join("amp"));
    cfg.faults = FaultPlan {
        disconnects: vec![20_000],
        down_ms: 300,
        ..FaultPlan::default()
    };
    let amp = start(cfg);
    let mut host = open_host(&amp.path, total);
    let info = host.info().clone();
    let names: Vec<String> = info.channel_names.clone();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let file = dir.path().join("session.nwb");
    let meta = SessionMeta::new(
        "serial-unplug",
        "recorded from the virtual amplifier",
        "2024-05-01T09:30:00+00:00",
        info.sample_rate_hz,
        &names,
    );
    let mut w = SessionWriter::create(&file, &meta).expect("session");
    let mut block = vec![0f32; 1024 * info.channels];
    let mut marks = Vec::new();
    let mut gaps = Vec::new();
    loop {
        marks.clear();
        match host.read(&mut block, &mut marks).expect("reads") {
            ReadOutcome::End => break,
            ReadOutcome::Frames { frames, .. } => w
                .append_frames(&block[..frames * info.channels])
                .expect("append"),
            ReadOutcome::Lost {
                first_sample,
                count,
            } => {
                // The session keeps its clock: the lost stretch is stored as zeros and listed.
                let gap = Gap {
                    first_sample,
                    sample_count: count,
                    reason: "serial device disconnected".into(),
                };
                w.append_gap(&gap).expect("gap");
                w.append_frames(&vec![0.0; count as usize * info.channels])
                    .expect("zeros");
                gaps.push(gap);
            }
        }
    }
    let stats = serde_json::to_string(&host.stats()).expect("stats as JSON");
    w.set_text("serial_stats", &stats).expect("stats text");
    let frames = w.finish().expect("finish");
    let faults = amp.finish().faults;

    assert_eq!(frames, total);
    assert_eq!(gaps.len(), 1);
    let lost = faults[0].lost().expect("a disconnect loses samples");
    assert_eq!((gaps[0].first_sample, gaps[0].sample_count), lost);

    let s = Session::open(&file, None).expect("the session is valid");
    assert_eq!(s.info().n_samples, total);
    assert_eq!(s.gaps().expect("gaps"), gaps);
    let texts = s.texts().expect("texts");
    assert!(
        texts["serial_stats"].contains("\"reconnects\":1"),
        "{texts:?}"
    );
}

#[test]
fn a_device_that_never_comes_back_fails_the_source_after_the_deadline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfg = amp_config(100_000);
    cfg.link = Some(dir.path().join("amp"));
    cfg.faults.unplug_at = Some(10_000);
    let amp = start(cfg);
    let mut hc = host_config(&amp.path, 100_000);
    hc.give_up_after = std::time::Duration::from_millis(300);
    let mut host = ncs_serial::SerialSource::open(hc).expect("opens");
    let mut block = vec![0f32; 1024 * 8];
    let mut marks = Vec::new();
    let mut got = 0u64;
    let err = loop {
        match host.read(&mut block, &mut marks) {
            Ok(ReadOutcome::Frames { frames, .. }) => got += frames as u64,
            Ok(o) => panic!("unexpected {o:?}"),
            Err(e) => break e,
        }
    };
    amp.finish();
    assert_eq!(got, 10_000, "everything before the unplug arrived");
    assert!(err.to_string().contains("device gone"), "{err}");
}
