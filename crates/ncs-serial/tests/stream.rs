//! A clean 30-s stream: every sample, bit-exact, in order.

use ncs_runtime::Source;

use crate::common::*;

#[test]
fn clean_30_s_8_channels_20_khz_is_bit_exact() {
    let cfg = amp_config(FRAMES_30S);
    let amp = start(cfg.clone());
    let mut host = open_host(&amp.path, FRAMES_30S);
    assert_eq!(host.info().channels, 8);
    assert_eq!(host.info().sample_rate_hz, 20_000.0);
    assert_eq!(host.device().samples_per_frame, 20);
    let rec = record(&mut host, FRAMES_30S);
    let summary = amp.finish();
    assert!(summary.faults.is_empty());

    assert_contiguous(&rec, FRAMES_30S);
    assert!(rec.lost.is_empty(), "lost {:?}", rec.lost);
    let (want, stims) = expected(FRAMES_30S, &cfg);
    let mismatches = rec
        .data
        .iter()
        .zip(&want)
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    assert_eq!(mismatches, 0, "every sample must arrive bit-exact");
    let marks: Vec<u64> = rec.marks.iter().map(|m| m.sample_index).collect();
    assert_eq!(marks, stims, "every stimulus marked at its sample");
    assert!(stims.len() >= 20, "the 30 s hold stimuli");

    let s = host.stats();
    assert_eq!(s.samples_delivered, FRAMES_30S);
    assert_eq!(s.data_frames, FRAMES_30S / 20);
    assert_eq!(
        (
            s.crc_failures,
            s.resyncs,
            s.sequence_gaps,
            s.lost_samples,
            s.reconnects
        ),
        (0, 0, 0, 0, 0)
    );
    assert_eq!(host.live_stats().snapshot(), s);
}

#[test]
fn configure_channels_and_fire_stimulus() {
    let mut cfg = amp_config(u64::MAX);
    cfg.max_frames = None;
    cfg.exit_at_end = false;
    let amp = start(cfg);
    let mut hc = host_config(&amp.path, 4_000);
    hc.channels = Some(3);
    let mut host = ncs_serial::SerialSource::open(hc).expect("opens");
    assert_eq!(host.info().channels, 3);
    host.fire_stimulus(200, 0).expect("command sent");
    let rec = record(&mut host, 4_000);
    amp.finish();
    assert_contiguous(&rec, 4_000);
    let (_, stims) = expected(4_000, &amp_config(4_000));
    assert_eq!(
        rec.marks.len(),
        stims.len() + 1,
        "the fired stimulus comes back as one more mark"
    );

    // A rate the device does not offer is refused with the value.
    let amp = start(amp_config(1000));
    let mut hc = host_config(&amp.path, 1000);
    hc.sample_rate_hz = Some(12_345);
    let err = ncs_serial::SerialSource::open(hc).expect_err("refused");
    assert!(err.to_string().contains("12345"), "{err}");
    amp.finish();
}
