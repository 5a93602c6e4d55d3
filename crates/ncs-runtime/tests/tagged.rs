//! What a stimulus's description (its tag: a recorded session's stimuli table) changes in how
//! its sweep is measured: the intensity that a sensory average belongs to, and the earliest
//! onset its stimulation distance allows.

use crate::common::*;
use ncs_block::Modality;
use ncs_runtime::{
    Processor, ProcessorConfig, ProcessorError, SourceInfo, StimulusMark, StimulusTag,
};

const FS: f64 = 20_000.0;

/// One channel of 10 µV deterministic noise, `seconds` long, with `add(k, t_ms)` (volts)
/// after stimulus `k`.
fn record(
    stimuli: &[(f64, u32)],
    seconds: f64,
    tags: Vec<StimulusTag>,
    add: impl Fn(usize, f64) -> f64,
) -> Recorded {
    let n = (seconds * FS) as usize;
    let mut data = noise_10uv(n, 0x2545_F491_4F6C_DD1Du64);
    for (j, &(s, _)) in stimuli.iter().enumerate() {
        let k = (s * FS).round() as usize;
        for (i, d) in data
            .iter_mut()
            .enumerate()
            .skip(k)
            .take((0.06 * FS) as usize)
        {
            *d += add(j, (i - k) as f64 / FS * 1e3) as f32;
        }
    }
    Recorded {
        info: SourceInfo {
            sample_rate_hz: FS,
            channels: 1,
            channel_names: vec!["ch0".into()],
            starting_time_s: 0.0,
            description: "tagged stimuli".into(),
        },
        tags,
        data,
        marks: stimuli
            .iter()
            .map(|&(s, tag)| StimulusMark {
                sample_index: (s * FS).round() as u64,
                tag: Some(tag),
                intensity_ua: None,
            })
            .collect(),
    }
}

fn tag(modality: Modality, distance_mm: Option<f64>, intensity_ma: f64) -> StimulusTag {
    StimulusTag {
        nerve: Some("median".into()),
        side: Some("right".into()),
        site: Some("wrist".into()),
        modality: Some(modality),
        distance_mm,
        channel: Some(0),
        intensity_ma: Some(intensity_ma),
    }
}

/// A Gaussian deflection (negative in volts: the response's direction) of `mv` peaking at
/// `at` ms, σ `w` ms.
fn bump(t: f64, mv: f64, at: f64, w: f64) -> f64 {
    -mv * 1e-3 * (-0.5 * ((t - at) / w).powi(2)).exp()
}

#[test]
fn a_sensory_average_restarts_when_the_tagged_intensity_changes() {
    // Marks without an intensity (a recorded session's), the intensity in their tags: three
    // sweeps at 5 mA evoking 100 µV, then three at 10 mA evoking 200 µV, of the same site.
    let tags = vec![
        tag(Modality::Sensory, Some(140.0), 5.0),
        tag(Modality::Sensory, Some(140.0), 10.0),
    ];
    let stimuli: Vec<(f64, u32)> = (0..6).map(|k| (0.1 + 0.2 * k as f64, k / 3)).collect();
    let uv = |k: usize| if k < 3 { 100.0 } else { 200.0 };
    let rec = record(&stimuli, 1.4, tags, |k, t| bump(t, uv(k) * 1e-3, 3.0, 0.3));
    let out = offline(&ProcessorConfig::default(), &rec, 512, &[]);
    let counts: Vec<usize> = out.iter().map(|m| m.averaged_sweeps).collect();
    assert_eq!(counts, [1, 2, 3, 1, 2, 3]);
    // Each average holds its own intensity's sweeps only: a 10 mA average diluted by the 5 mA
    // sweeps would measure 125–150 µV.
    for (k, m) in out.iter().enumerate() {
        let a = m.response.measures.negative_peak_amplitude_mv.unwrap() * 1e3;
        assert!((a / uv(k) - 1.0).abs() < 0.12, "sweep {k}: {a} µV");
    }
}

#[test]
fn no_response_is_searched_for_before_the_distance_could_be_conducted() {
    // A tall remnant at 1.5 ms (what only the stimulus artefact could leave there) and the
    // CMAP at 6 ms. 300 mm from the recording electrode, nothing earlier than 2.5 ms (120 m/s)
    // is searched: the CMAP is measured. Without a distance, the remnant is taken.
    let signal = |t: f64| bump(t, 8.0, 1.5, 0.15) + bump(t, 5.0, 6.0, 1.0);
    let onset_of = |distance: Option<f64>| {
        let rec = record(
            &[(0.1, 0)],
            0.3,
            vec![tag(Modality::Motor, distance, 30.0)],
            |_, t| signal(t),
        );
        let out = offline(&ProcessorConfig::default(), &rec, 512, &[]);
        assert!(out[0].response.present, "{out:?}");
        out[0].response.measures.onset_latency_ms.unwrap()
    };
    let with = onset_of(Some(300.0));
    assert!(with > 3.0 && with < 6.0, "onset {with} ms");
    let without = onset_of(None);
    assert!(without < 1.5, "onset {without} ms");
}

#[test]
fn the_fastest_conduction_must_be_a_positive_velocity() {
    let info = SourceInfo {
        sample_rate_hz: FS,
        channels: 1,
        channel_names: vec!["ch0".into()],
        starting_time_s: 0.0,
        description: "settings".into(),
    };
    for v in [0.0, -1.0, f64::NAN] {
        let cfg = ProcessorConfig {
            max_velocity_m_s: Some(v),
            ..ProcessorConfig::default()
        };
        let e = Processor::new(cfg, &info, vec![]).err();
        assert!(
            matches!(e, Some(ProcessorError::Zero("max_velocity_m_s"))),
            "{v}: {e:?}"
        );
    }
}
