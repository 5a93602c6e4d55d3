//! Windows cut short: by the next stimulus, by a previous one reaching into the baseline, and
//! by the end of the record.

use crate::common::*;
use ncs_cmap::Flag;
use ncs_runtime::{ProcessorConfig, SourceInfo, StimulusMark};

const FS: f64 = 20_000.0;

/// A 5 mV negative-first biphasic response with its negative peak 6 ms after the stimulus
/// (volts), and the first sample at which it is 2 % of its peak below baseline (ms).
fn response(t_ms: f64) -> f64 {
    let w = 1.5;
    let x = (t_ms - 6.0 - 3.0 * w) / w;
    if t_ms < 0.0 {
        0.0
    } else {
        5e-3 * 1.6487 * x * (-0.5 * x * x).exp()
    }
}

fn true_onset_ms() -> f64 {
    (0..2000)
        .map(|i| i as f64 / FS * 1e3)
        .find(|&t| response(t) <= -0.02 * 5e-3)
        .unwrap()
}

/// Stimuli at these times (s) in a record of `seconds`, each evoking the response, with 10 µV
/// of deterministic noise.
fn record(stimuli: &[f64], seconds: f64) -> Recorded {
    let n = (seconds * FS) as usize;
    let mut data = noise_10uv(n, 0x9E37_79B9_7F4A_7C15u64);
    for &s in stimuli {
        let k = (s * FS).round() as usize;
        for (i, d) in data.iter_mut().enumerate().skip(k) {
            let t = (i - k) as f64 / FS * 1e3;
            if t > 60.0 {
                break;
            }
            *d += response(t) as f32;
        }
    }
    Recorded {
        info: SourceInfo {
            sample_rate_hz: FS,
            channels: 1,
            channel_names: vec!["ch0".into()],
            starting_time_s: 0.0,
            description: "cut-short windows".into(),
        },
        tags: vec![],
        data,
        marks: stimuli
            .iter()
            .map(|&s| StimulusMark {
                sample_index: (s * FS).round() as u64,
                tag: None,
                intensity_ua: None,
            })
            .collect(),
    }
}

#[test]
fn windows_end_at_the_next_stimulus_and_at_the_end_of_the_record() {
    // A pair 40 ms apart (the second's artefact-free response lies inside the first's 100 ms
    // window), a lone stimulus, one 45 ms before the end and one 5 ms before it.
    let stimuli = [0.2, 0.24, 0.6, 0.955, 0.995];
    let rec = record(&stimuli, 1.0);
    let out = offline(&ProcessorConfig::default(), &rec, 512, &[]);
    assert_eq!(out.len(), stimuli.len());
    let onset = true_onset_ms();
    let flags = |k: usize| out[k].response.flags;

    // The first of the pair: measured on its first 39.5 ms, as if alone.
    let first = &out[0].response;
    assert!(first.present && flags(0).contains(Flag::WindowTruncated));
    let on = first.measures.onset_latency_ms.unwrap();
    assert!((on - onset).abs() < 0.1, "onset {on} vs {onset}");
    let amp = first.measures.negative_peak_amplitude_mv.unwrap();
    assert!((amp / 5.0 - 1.0).abs() < 0.02, "amplitude {amp}");
    assert_eq!(out[0].window_end_sample, (0.24 * FS) as u64 - 10);

    // The second: its baseline starts after the first stimulus, and it is flagged.
    assert!(flags(1).contains(Flag::WindowTruncated));
    assert!(!flags(1).contains(Flag::DataGap));

    // The lone stimulus: a whole window.
    assert!(out[2].response.present);
    assert!(!flags(2).contains(Flag::WindowTruncated), "{:?}", flags(2));
    let lone = out[2].response.measures;

    // 45 ms before the end: measured on what there is, the same as a whole window.
    let late = &out[3].response;
    assert!(late.present && flags(3).contains(Flag::WindowTruncated));
    for (a, b) in [
        (late.measures.onset_latency_ms, lone.onset_latency_ms),
        (
            late.measures.negative_peak_area_mv_ms,
            lone.negative_peak_area_mv_ms,
        ),
    ] {
        assert!(
            (a.unwrap() - b.unwrap()).abs() < 0.05 * b.unwrap().abs(),
            "{a:?} vs {b:?}"
        );
    }

    // 5 ms before the end: too little to measure, and said so (no data was lost).
    assert!(!out[4].response.present);
    assert_eq!(
        flags(4).iter().collect::<Vec<_>>(),
        vec![Flag::WindowTruncated]
    );
}
